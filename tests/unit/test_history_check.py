"""The Nagios-style check of the last run: codes 0/1/2/3, status line, perfdata."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from octoprobe.history.check import CRITICAL, OK, UNKNOWN, WARNING, check, nagios_unit, perfdata
from octoprobe.history.store import HistoryStore
from octoprobe.report.model import Environment, Gate, RunResult, TestResult

FINISHED = datetime(2026, 1, 24, 1, 30, tzinfo=timezone.utc)
SOON = FINISHED + timedelta(hours=2)
# label=value[UOM];warn;crit;min;max, trailing empty fields left out
PERF_ITEM = re.compile(r"^[A-Za-z0-9_.-]+=-?[0-9.]+(s|B|%|c)?(;[-0-9.:~]*){0,4}$")


def make_run(run_id: str = "20260124-0100-abcd", *, failed_tests: int = 0, failed_gates: int = 0,
             cloud: str = "lab1", all_skipped: bool = False) -> RunResult:
    tests = [TestResult(f"t.py::test_{i}", "skipped" if all_skipped else "passed") for i in range(5)]
    tests += [TestResult(f"t.py::test_fail_{i}", "failed", reason="boom") for i in range(failed_tests)]
    gates = [Gate("boot_ssh_p95", "boot.ssh", "p95", 40.0, "<=", 12.3, failed_gates < 1, unit="s"),
             Gate("fio clat p99", "fio.vm.x.clat_p99", "p99", 20.0, "<=", 2.5, failed_gates < 2, unit="ms"),
             Gate("seqwrite_bw", "fio.rbd.seqwrite-4m.bw", "median", 1e8, ">=", 2.5e8, failed_gates < 3,
                  unit="B/s"),
             Gate("cpu", "net.cpu_sender", "max", 90.0, "<=", 45.0, failed_gates < 4, unit="%"),
             Gate("not measured", "x", "p95", 1.0, "<=", None, True)]
    if all_skipped:
        gates = []
    return RunResult(run_id, "2026-01-24T01:00:00+00:00", FINISHED.isoformat(), Environment(cloud=cloud),
                     tests, gates)


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore(tmp_path / "history.sqlite")


def test_ok(store: HistoryStore) -> None:
    store.record(make_run(), None, "lab1", 0)
    result = check(store, now=SOON)
    assert result.code == OK and result.status == "OK"
    text, perf = result.line.split(" | ")
    assert text == "OCTOPROBE OK - run 20260124-0100-abcd passed 5 tests, 5 gates"
    items = perf.split(" ")
    assert items == ["boot_ssh_p95=12.3s;;40", "fio_clat_p99=0.0025s;;0.02", "seqwrite_bw=250000000;;100000000:",
                     "cpu=45%;;90;0;100"]
    assert all(PERF_ITEM.match(item) for item in items)
    assert "\n" not in result.line


def test_critical_names_up_to_three(store: HistoryStore) -> None:
    store.record(make_run(failed_tests=2, failed_gates=2), None, "lab1", 1)
    result = check(store, now=SOON)
    assert result.code == CRITICAL
    text = result.line.split(" | ")[0]
    assert text.startswith("OCTOPROBE CRITICAL - run 20260124-0100-abcd failed: gate boot_ssh_p95, "
                           "gate fio clat p99, test t.py::test_fail_0 and 1 more")
    assert "(2 of 7 tests, 2 of 5 gates failed)" in text


def test_critical_even_when_stale(store: HistoryStore) -> None:
    store.record(make_run(failed_tests=1), None, "lab1", 1)
    result = check(store, now=FINISHED + timedelta(hours=50))
    assert result.code == CRITICAL
    assert "50.0 h old" in result.line


def test_warning_when_too_old(store: HistoryStore) -> None:
    store.record(make_run(), None, "lab1", 0)
    result = check(store, max_age_hours=36, now=FINISHED + timedelta(hours=40))
    assert result.code == WARNING
    assert result.line.startswith("OCTOPROBE WARNING - the last run, 20260124-0100-abcd, is 40.0 h old (max 36 h) |")


def test_warning_when_it_could_not_run(store: HistoryStore) -> None:
    store.record(make_run(), "/r/x", "lab1", 2)
    result = check(store, now=SOON)
    assert result.code == WARNING
    assert "could not run" in result.line and "/r/x" in result.line


def test_warning_when_nothing_was_tested(store: HistoryStore) -> None:
    store.record(make_run(all_skipped=True), None, "lab1", 0)
    result = check(store, now=SOON)
    assert result.code == WARNING
    assert result.line == "OCTOPROBE WARNING - run 20260124-0100-abcd tested nothing (all 5 tests skipped)"


def test_unknown_without_history(store: HistoryStore) -> None:
    result = check(store, now=SOON)
    assert result.code == UNKNOWN
    assert result.line.startswith("OCTOPROBE UNKNOWN - no run recorded in the history ")


def test_unknown_when_unreadable(store: HistoryStore) -> None:
    store.record(make_run(), None, "lab1", 0)
    store.path.write_bytes(b"garbage" * 1000)
    result = check(store, now=SOON)
    assert result.code == UNKNOWN
    assert str(store.path) in result.line


def test_newest_run_of_the_cloud(store: HistoryStore) -> None:
    store.record(make_run("old", cloud="lab1"), None, "lab1", 0)
    newer = make_run("new", cloud="lab2", failed_tests=1)
    newer.started = "2026-01-24T01:10:00+00:00"
    store.record(newer, None, "lab2", 1)
    assert check(store, now=SOON).code == CRITICAL
    assert check(store, cloud="lab1", now=SOON).code == OK
    assert "of cloud lab3" in check(store, cloud="lab3", now=SOON).line


def test_pipe_in_a_name_does_not_start_perfdata(store: HistoryStore) -> None:
    run = make_run(failed_tests=1)
    run.tests[-1].nodeid = "t.py::test_x[a|b]"
    store.record(run, None, "lab1", 1)
    assert check(store, now=SOON).line.count("|") == 1


def test_units() -> None:
    assert nagios_unit("s") == ("s", 1.0)
    assert nagios_unit("ms") == ("s", 1e-3)
    assert nagios_unit("%") == ("%", 1.0)
    assert nagios_unit("B/s") == ("", 1.0)
    assert nagios_unit("IOPS") == ("", 1.0)
    assert nagios_unit("ratio") == ("", 1.0)


def test_perfdata_of_a_min_gate() -> None:
    run = RunResult("r", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
                    gates=[Gate("eff", "net.efficiency", "median", 0.8, ">=", 0.93, True, unit="ratio")])
    assert perfdata(run) == "eff=0.93;;0.8:"
