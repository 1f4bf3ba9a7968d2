"""The SQLite history store: recording, replacing, queries, errors."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from octoprobe.history import record_run
from octoprobe.history.store import (
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    RunNotFound,
    default_history_path,
)
from octoprobe.report.model import Environment, Gate, RunResult, TestResult


def make_run(run_id: str, day: int, boot: list[float], *, cloud: str | None = "lab1", failed: bool = False,
             gate_passed: bool = True) -> RunResult:
    samples = [{"metric": "boot.ssh", "value": v, "unit": "s", "metadata": {"server": f"s{i}", "path": "local"}}
               for i, v in enumerate(boot)]
    samples.append({"metric": "fio.vm.randwrite-4k.iops", "value": 1000.0 + day, "unit": "IOPS",
                    "metadata": {"workload": "randwrite-4k"}})
    return RunResult(
        run_id=run_id,
        started=f"2026-01-{day:02d}T01:00:00+00:00",
        finished=f"2026-01-{day:02d}T01:30:00+00:00",
        environment=Environment(cloud=cloud),
        tests=[
            TestResult("perf/test_boot.py::test_boot", "passed", 40.0, samples=samples, capability=None),
            TestResult("conformance/test_a.py::test_a", "failed" if failed else "passed", 1.0,
                       capability="compute-servers-create", reason="boom" if failed else ""),
        ],
        gates=[Gate("boot_ssh_p95", "boot.ssh", "p95", 40.0, "<=", max(boot), gate_passed, unit="s")],
    )


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    return HistoryStore(tmp_path / "state" / "history.sqlite")


def test_default_path_from_environment(tmp_path: Path) -> None:
    assert default_history_path({"OCTOPROBE_HISTORY": str(tmp_path / "h.db")}) == tmp_path / "h.db"
    assert default_history_path({}) == Path.home() / ".local/state/octoprobe/history.sqlite"


def test_schema_is_created_with_its_version(store: HistoryStore) -> None:
    assert store.path.is_file()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    HistoryStore(store.path)  # opening again does not add a second version row
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)


def test_record_and_get_round_trip(store: HistoryStore) -> None:
    run = make_run("20260101-0100-aaaa", 1, [5.0, 6.0])
    store.record(run, "/reports/a", "lab1", 0)
    got = store.get("20260101-0100-aaaa")
    assert got.to_dict() == run.redacted().to_dict()
    (record,) = store.runs()
    assert (record.run_id, record.verdict, record.exit_code, record.cloud, record.report_dir) == (
        "20260101-0100-aaaa", "PASS", 0, "lab1", "/reports/a")
    assert (record.tests_total, record.tests_failed, record.gates_total, record.failed_gates) == (2, 0, 1, ())


def test_rows_per_test_gate_and_sample(store: HistoryStore) -> None:
    store.record(make_run("r1", 1, [5.0, 6.0], failed=True, gate_passed=False), None, None, 1)
    with sqlite3.connect(store.path) as conn:
        tests = conn.execute("SELECT nodeid, outcome, duration, capability FROM tests ORDER BY nodeid").fetchall()
        gates = conn.execute("SELECT name, measured, passed FROM gates").fetchall()
        samples = conn.execute("SELECT metric, value, unit, metadata, nodeid FROM samples ORDER BY rowid").fetchall()
    assert tests[0] == ("conformance/test_a.py::test_a", "failed", 1.0, "compute-servers-create")
    assert gates == [("boot_ssh_p95", 6.0, 0)]
    assert samples[0] == ("boot.ssh", 5.0, "s", '{"path": "local", "server": "s0"}', "perf/test_boot.py::test_boot")
    assert store.runs()[0].failed_gates == ("boot_ssh_p95",)


def test_recording_twice_replaces(store: HistoryStore) -> None:
    store.record(make_run("r1", 1, [5.0, 6.0]), None, "lab1", 0)
    store.record(make_run("r1", 1, [7.0]), None, "lab1", 1)
    assert [r.exit_code for r in store.runs()] == [1]
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM samples WHERE metric = 'boot.ssh'").fetchone() == (1,)


def test_cloud_fills_the_environment(store: HistoryStore) -> None:
    store.record(make_run("r1", 1, [5.0], cloud=None), None, "given", 0)
    assert store.get("r1").environment.cloud == "given"
    assert store.runs()[0].cloud == "given"


def test_secrets_are_redacted(store: HistoryStore) -> None:
    run = make_run("r1", 1, [5.0])
    run.tests[1].reason = "password=hunter2secret"
    store.record(run, None, None, 0)
    with sqlite3.connect(store.path) as conn:
        (summary,) = conn.execute("SELECT summary FROM runs").fetchone()
    assert "hunter2secret" not in summary


def test_runs_newest_first_limit_and_cloud(store: HistoryStore) -> None:
    store.record(make_run("r2", 2, [5.0]), None, "lab1", 0)
    store.record(make_run("r1", 1, [5.0]), None, "lab1", 0)
    store.record(make_run("r3", 3, [5.0], cloud="lab2"), None, "lab2", 0)
    assert [r.run_id for r in store.runs()] == ["r3", "r2", "r1"]
    assert [r.run_id for r in store.runs(limit=2)] == ["r3", "r2"]
    assert [r.run_id for r in store.runs(cloud="lab1")] == ["r2", "r1"]
    assert store.latest().run_id == "r3"
    assert store.latest(cloud="lab1").run_id == "r2"
    assert store.latest(cloud="nope") is None


def test_previous_is_on_the_same_cloud(store: HistoryStore) -> None:
    store.record(make_run("a1", 1, [5.0]), None, "lab1", 0)
    store.record(make_run("b2", 2, [5.0], cloud="lab2"), None, "lab2", 0)
    store.record(make_run("a3", 3, [5.0]), None, "lab1", 0)
    assert store.previous("a3").run_id == "a1"
    assert store.previous("a1") is None
    assert store.previous("b2") is None


def test_prefix_lookup_and_errors(store: HistoryStore) -> None:
    store.record(make_run("20260101-0100-aaaa", 1, [5.0]), None, None, 0)
    store.record(make_run("20260102-0100-bbbb", 2, [5.0]), None, None, 0)
    assert store.get("20260102").run_id == "20260102-0100-bbbb"
    with pytest.raises(RunNotFound, match="ambiguous.*20260102-0100-bbbb.*20260101-0100-aaaa"):
        store.get("2026")
    with pytest.raises(RunNotFound, match="no run 'zzz'.*latest are 20260102-0100-bbbb"):
        store.get("zzz")
    with pytest.raises(LookupError):  # what octoprobe.perf.judging catches
        store.get("zzz")


def test_metric_series(store: HistoryStore) -> None:
    store.record(make_run("r1", 1, [5.0, 6.0]), None, "lab1", 0)
    store.record(make_run("r2", 2, [8.0]), None, "lab1", 0)
    store.record(make_run("r3", 3, [9.0], cloud="lab2"), None, "lab2", 0)
    series = store.metric_series("boot.ssh", limit=10, cloud="lab1")
    assert [(p.run_id, p.values, p.unit) for p in series] == [("r1", (5.0, 6.0), "s"), ("r2", (8.0,), "s")]
    assert series[0].started == "2026-01-01T01:00:00+00:00"
    assert [p.run_id for p in store.metric_series("boot.ssh", limit=2)] == ["r2", "r3"]
    assert store.metric_series("boot.ssh", 10, where={"server": "s1"})[0].values == (6.0,)
    assert store.metric_series("boot.ssh", 10, where={"path": "remote"}) == []
    assert store.metric_series("nope", 10) == []
    assert store.metrics("r1") == ["boot.ssh", "fio.vm.randwrite-4k.iops"]


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "history.sqlite"
    bad.write_bytes(b"this is not sqlite" * 200)
    with pytest.raises(HistoryError, match=f"{bad}.*not a readable octoprobe history"):
        HistoryStore(bad)


def test_newer_schema_is_refused(store: HistoryStore) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(HistoryError, match="schema version 99"):
        HistoryStore(store.path)


def test_read_only_open_does_not_create(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no history at"):
        HistoryStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


def test_record_run_for_the_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = record_run(make_run("r1", 1, [5.0]), tmp_path / "report", "lab1", 0, history_path=tmp_path / "h.sqlite")
    assert path == tmp_path / "h.sqlite"
    assert HistoryStore(path).runs()[0].report_dir == str(tmp_path / "report")
    monkeypatch.setenv("OCTOPROBE_HISTORY", str(tmp_path / "env.sqlite"))
    assert record_run(make_run("r2", 2, [5.0]), None, None, None) == tmp_path / "env.sqlite"
    assert HistoryStore(tmp_path / "env.sqlite").get("r2").run_id == "r2"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write a read-only file")
def test_a_read_only_store_can_be_read(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    HistoryStore(path).record(make_run("r1", 1, [5.0]), None, "lab1", 0)
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        assert HistoryStore(path, create=False).get("r1").run_id == "r1"
    finally:
        tmp_path.chmod(0o755)
        path.chmod(0o644)
