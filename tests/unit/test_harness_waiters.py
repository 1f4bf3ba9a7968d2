"""octoprobe.waiters: deadlines, phases, failures, with a fake clock."""

from __future__ import annotations

import pytest

from octoprobe.waiters import GONE, Waiter, WaitFailed, WaitTimeout, fault_of, status_of


class FakeClock:
    def __init__(self, wall: float = 1_700_000_000.0):
        self.now = 100.0
        self.wall0 = wall
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall0 + self.now - 100.0

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def waiter(clock: FakeClock) -> Waiter:
    return Waiter(clock=clock.monotonic, sleep=clock.sleep, wall=clock.wall)


def sequence(*states):
    """A fetch returning one state per call, then repeating the last."""
    items = list(states)

    def fetch():
        return items.pop(0) if len(items) > 1 else items[0]

    return fetch


def server(status, fault=None):
    return {"status": status, "fault": fault}


def test_ready_records_phases():
    clock = FakeClock()
    fetch = sequence(server("BUILD"), server("BUILD"), server("BUILD"), server("ACTIVE"))
    result = waiter(clock).wait(
        "server vm1 ACTIVE", fetch, ready={"ACTIVE"}, failed={"ERROR"}, timeout=10, interval=0.25
    )
    assert result.state == "ACTIVE"
    assert result.polls == 4
    assert result.elapsed == pytest.approx(0.75)
    assert [(p.state, p.at) for p in result.phases] == [("BUILD", 0.0), ("ACTIVE", pytest.approx(0.75))]
    assert result.phase("ACTIVE") == pytest.approx(0.75)
    assert result.phase("ERROR") is None
    assert result.value == server("ACTIVE")
    assert result.started_at == 1_700_000_000.0
    assert clock.sleeps == [0.25, 0.25, 0.25]


def test_ready_at_once_does_not_sleep():
    clock = FakeClock()
    result = waiter(clock).wait("x", lambda: "available", ready={"available"}, timeout=1)
    assert result.polls == 1 and clock.sleeps == []


def test_failed_state_raises_with_fault_and_history():
    clock = FakeClock()
    fetch = sequence(server("BUILD"), server("ERROR", {"message": "No valid host was found.", "code": 500}))
    with pytest.raises(WaitFailed) as info:
        waiter(clock).wait("server vm1 ACTIVE", fetch, ready={"ACTIVE"}, failed={"ERROR"}, timeout=10, interval=0.5)
    err = info.value
    assert err.last_state == "ERROR"
    assert err.fault == "No valid host was found. (code 500)"
    assert err.elapsed == pytest.approx(0.5)
    message = str(err)
    assert "server vm1 ACTIVE: entered state ERROR after 0.50 s" in message
    assert "No valid host was found." in message
    assert "BUILD at 0.00 s, ERROR at 0.50 s" in message
    assert isinstance(err, AssertionError)


def test_timeout_honours_the_deadline_exactly():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        waiter(clock).wait(
            "volume v1 available", lambda: {"status": "creating"}, ready={"available"}, timeout=1.0, interval=0.3
        )
    err = info.value
    assert err.last_state == "creating"
    assert err.elapsed == pytest.approx(1.0)
    assert sum(clock.sleeps) == pytest.approx(1.0)
    assert clock.sleeps[-1] == pytest.approx(0.1)  # the last sleep is cut to the deadline
    assert "timed out (timeout 1 s) after 1.00 s; last state creating" in str(err)


def test_gone_on_exception_means_deleted():
    class NotFound(Exception):
        pass

    calls = {"n": 0}

    def fetch():
        calls["n"] += 1
        if calls["n"] >= 3:
            raise NotFound("gone")
        return {"status": "deleting"}

    clock = FakeClock()
    result = waiter(clock).wait("server deleted", fetch, ready={GONE}, timeout=5, interval=0.2, gone_on=(NotFound,))
    assert result.state == GONE
    assert [p.state for p in result.phases] == ["deleting", GONE]


def test_none_means_gone():
    clock = FakeClock()
    assert waiter(clock).wait("x", lambda: None, ready={GONE}, timeout=1).state == GONE


def test_retry_on_keeps_polling_and_reports_last_error():
    class Flaky(Exception):
        pass

    def fetch():
        raise Flaky("503 Service Unavailable")

    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        waiter(clock).wait("x", fetch, ready={"ok"}, timeout=1, interval=0.5, retry_on=(Flaky,))
    assert "last error: Flaky: 503 Service Unavailable" in str(info.value)


def test_other_exceptions_propagate():
    def fetch():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        waiter(FakeClock()).wait("x", fetch, ready={"ok"}, timeout=1)


def test_predicates_and_custom_state():
    clock = FakeClock()
    values = iter([1, 2, 3, 4])
    result = waiter(clock).wait(
        "counter",
        lambda: next(values),
        ready=lambda s: s == "3",
        timeout=5,
        interval=0.1,
        state=str,
        fault=lambda v: None,
    )
    assert result.value == 3


@pytest.mark.parametrize("kwargs", [dict(timeout=0), dict(timeout=1, interval=0), dict(timeout=1, interval=2)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        waiter(FakeClock()).wait("x", lambda: "a", ready={"a"}, **kwargs)


def test_single_string_is_refused():
    with pytest.raises(TypeError):
        waiter(FakeClock()).wait("x", lambda: "a", ready="ACTIVE", timeout=1)


def test_status_and_fault_helpers():
    class Obj:
        status = "ACTIVE"
        fault = "disk full"

    assert status_of(None) == GONE
    assert status_of("x") == "x"
    assert status_of(Obj()) == "ACTIVE"
    assert status_of({}) == "unknown"
    assert fault_of(Obj()) == "disk full"
    assert fault_of({"fault": {"message": "m"}}) == "m"
    assert fault_of({"fault": {}}) is None
    assert fault_of(None) is None
