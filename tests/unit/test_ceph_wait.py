"""wait_for_clean with an injected clock, replaying `ceph status` outputs
recorded every 2 s while a real Ceph 16.2.15 cluster recovered."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from octoprobe.ceph import CephWaitTimeout, parse, wait_for_clean
from octoprobe.ceph.model import ClusterStatus
from octoprobe.shell import CommandError

DATA = Path(__file__).parent / "data" / "ceph"


def status(name: str) -> ClusterStatus:
    return parse.parse_status(json.loads((DATA / name).read_text()))


def series(folder: str) -> list[ClusterStatus]:
    return [status(f"{folder}/{p.name}") for p in sorted((DATA / folder).glob("*.json"))]


class FakeTime:
    """A clock that only moves when someone sleeps (or a poll takes time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class Replay:
    """Returns the given statuses one per poll, then the last one forever.
    An exception in the list is raised at its poll instead."""

    def __init__(self, items, time: FakeTime | None = None, poll_cost: float = 0.0):
        self.items = list(items)
        self.polls = 0
        self.time = time
        self.poll_cost = poll_cost

    def __call__(self) -> ClusterStatus:
        item = self.items[min(self.polls, len(self.items) - 1)]
        self.polls += 1
        if self.time is not None:
            self.time.now += self.poll_cost
        if isinstance(item, Exception):
            raise item
        return item


@pytest.fixture
def t():
    return FakeTime()


def run(source, t: FakeTime, **kw):
    kw.setdefault("poll_interval", 2.0)
    return wait_for_clean(source, clock=t.clock, sleep=t.sleep, **kw)


def test_returns_at_once_when_clean(t):
    result = run(Replay([status("status_healthy.json")]), t, no_progress_timeout=5)
    assert result.polls == 1 and result.elapsed == 0.0 and t.sleeps == []
    assert result.status.clean
    assert result.timeline[0].active_clean == 17


def test_waits_through_recovery_until_clean(t):
    statuses = series("recovery_back_in")
    first_clean = next(i for i, s in enumerate(statuses) if s.clean)
    result = run(Replay(statuses), t, no_progress_timeout=5)
    assert result.polls == first_clean + 1
    assert result.elapsed == pytest.approx(2.0 * first_clean)
    assert result.status.pgs.all_active_clean and result.status.objects.clean
    misplaced = [p.misplaced for p in result.timeline]
    assert misplaced[0] == 45 and misplaced[-1] == 0
    assert any(p.inactive == 3 for p in result.timeline)  # the "peering" poll
    assert [p.elapsed for p in result.timeline] == [2.0 * i for i in range(result.polls)]


def test_stalled_recovery_times_out_with_last_state(t):
    # osd.2 out in a 3-rack cluster: the size-2 pool heals, the size-3 pool
    # cannot (55 objects stay degraded)
    statuses = series("recovery_out")
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay(statuses), t, no_progress_timeout=10)
    e = err.value
    assert e.reason == "no_progress"
    assert e.since_progress == pytest.approx(10.0)
    # the second-last recording still shows a recovery rate: progress there
    assert e.elapsed == pytest.approx(2.0 * (len(statuses) - 2) + 10.0)
    assert e.last_status.objects.degraded == 55
    msg = str(e)
    assert "no recovery progress for 10 s" in msg
    assert "8 active+undersized+degraded" in msg
    assert "degraded 55/345" in msg
    assert "8/17 active+clean" in msg
    assert f"not clean after {e.elapsed:.0f} s" in msg
    assert "PG_DEGRADED" in msg
    degraded = [p.degraded for p in e.timeline]
    assert degraded[0] == 135 and degraded[-1] == 55
    assert e.timeline[-1].progress is False
    # poll 2 only re-labels PGs (recovery_wait), the last recording shows the
    # stall: neither is progress; every other recording improves on something
    flags = [p.progress for p in e.timeline[: len(statuses)]]
    assert flags == [True, False] + [True] * (len(statuses) - 3) + [False]


def test_keeps_waiting_while_progress_continues(t):
    # the recovery series spans 18 s; a 5 s no-progress limit never trips
    # while degraded falls or recovery reports a rate
    statuses = series("recovery_out")
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay(statuses), t, no_progress_timeout=5)
    assert err.value.elapsed > 5 * 2


def test_rate_alone_counts_as_progress(t):
    recovering = status("status_recovering.json")
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay([recovering]), t, no_progress_timeout=5, max_duration=30)
    assert err.value.reason == "max_duration"
    assert "max_duration 30 s" in str(err.value)
    assert err.value.elapsed == pytest.approx(30.0)


def test_flapping_counters_are_not_progress(t):
    # degraded 130 → 200 → 130 → 200 …: nothing beats the first poll
    flap = [status("status_degraded.json"), status("status_inactive.json")] * 20
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay(flap), t, no_progress_timeout=6)
    assert err.value.reason == "no_progress"
    assert err.value.elapsed == pytest.approx(6.0)


def test_remapped_with_health_ok_is_not_clean(t):
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay([status("status_remapped_stuck.json")]), t, no_progress_timeout=4)
    assert "misplaced 56/408" in str(err.value)
    assert "9 active+clean+remapped" in str(err.value)


def test_unfound_objects_block_clean(t):
    healthy = status("status_healthy.json")
    unfound = dataclasses.replace(
        healthy, objects=dataclasses.replace(healthy.objects, unfound=1)
    )
    with pytest.raises(CephWaitTimeout, match="unfound 1"):
        run(Replay([unfound]), t, no_progress_timeout=3)


def test_sleep_never_overshoots_deadline(t):
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay([status("status_degraded.json")]), t, no_progress_timeout=3,
            poll_interval=5)
    assert t.sleeps == [3.0]
    assert err.value.elapsed == pytest.approx(3.0)


def test_slow_polls_count_towards_the_deadline(t):
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay([status("status_degraded.json")], time=t, poll_cost=4.0), t,
            no_progress_timeout=10, poll_interval=1)
    assert err.value.elapsed >= 10
    assert len(err.value.timeline) == 3  # at 4, 9 and 14 s after start


def test_command_errors_are_polls_without_progress(t):
    boom = CommandError(["ceph", "status"], "timed out after 30 s")
    source = Replay([boom, boom, status("status_degraded.json"), boom,
                     status("status_healthy.json")])
    seen = []
    result = run(source, t, no_progress_timeout=30, on_poll=lambda p, s: seen.append((p, s)))
    assert result.polls == 5
    assert [p.error is not None for p in result.timeline] == [True, True, False, True, False]
    assert result.timeline[0].pgs_total == 0
    assert result.timeline[3].degraded == 130  # last good numbers kept
    assert seen[0][1] is None and seen[2][1] is not None
    assert [p for p, _ in seen] == list(result.timeline)


def test_errors_only_time_out_with_the_error(t):
    boom = CommandError(["ceph", "status"], "timed out after 30 s")
    with pytest.raises(CephWaitTimeout) as err:
        run(Replay([boom]), t, no_progress_timeout=4)
    assert err.value.last_status is None
    assert "no successful `ceph status`" in str(err.value)
    assert "timed out after 30 s" in str(err.value)


def test_accepts_a_client_object(t):
    class Client:
        def status(self):
            return status("status_healthy.json")

    assert run(Client(), t, no_progress_timeout=1).polls == 1
    with pytest.raises(TypeError):
        run(42, t, no_progress_timeout=1)


def test_timeline_is_json_ready(t):
    result = run(Replay(series("recovery_back_in")), t, no_progress_timeout=5)
    rows = result.timeline_dicts()
    text = json.dumps(rows)
    assert json.loads(text)[0]["pg_states"]["active+clean"] == 8
    assert set(rows[0]) >= {"elapsed", "degraded", "misplaced", "active_clean", "inactive",
                            "recovering_bytes_per_sec", "osds_up"}


@pytest.mark.parametrize(
    "kw", [{"no_progress_timeout": 0}, {"no_progress_timeout": 1, "poll_interval": -1},
           {"no_progress_timeout": 1, "max_duration": 0}],
)
def test_bad_arguments(t, kw):
    with pytest.raises(ValueError):
        wait_for_clean(lambda: None, clock=t.clock, sleep=t.sleep, **kw)
