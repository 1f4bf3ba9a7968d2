"""Comparing two runs: tests, metric medians with their good direction, gates."""

from __future__ import annotations

import math

import pytest

from octoprobe.history.compare import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    UNKNOWN,
    compare,
    direction,
    metric_medians,
    render_comparison,
)
from octoprobe.report.model import Environment, Gate, RunResult, TestResult


def sample(metric: str, value: float, unit: str, **metadata: object) -> dict:
    return {"metric": metric, "value": value, "unit": unit, "metadata": metadata}


def make_run(run_id: str, *, boot: list[float], iops: float, outcomes: dict[str, str] | None = None,
             gates: dict[str, bool] | None = None, extra: list[dict] | None = None) -> RunResult:
    samples = [sample("boot.ssh", v, "s", rep=i) for i, v in enumerate(boot)]
    samples += [sample("fio.vm.randwrite-4k.iops", iops, "IOPS"), *(extra or [])]
    outcomes = outcomes if outcomes is not None else {"t::a": "passed", "t::b": "passed", "t::c": "skipped"}
    tests = [TestResult("perf/test_boot.py::test_boot", "passed", samples=samples)]
    tests += [TestResult(n, o, reason=f"{n} {o}") for n, o in outcomes.items()]
    return RunResult(run_id, "2026-01-01T00:00:00+00:00", "2026-01-01T01:00:00+00:00", Environment(cloud="lab"),
                     tests, [Gate(n, "boot.ssh", "p95", 40.0, "<=", 1.0, p, reason=f"{n} reason")
                             for n, p in (gates or {}).items()])


def test_direction() -> None:
    assert direction("boot.ssh", "s") == LOWER_IS_BETTER
    assert direction("fio.rbd.seqwrite-4m.clat_p99", "s") == LOWER_IS_BETTER
    assert direction("api.latency", "") == LOWER_IS_BETTER
    assert direction("net.cross_host.retransmits", "count") == LOWER_IS_BETTER
    assert direction("x", "ms") == LOWER_IS_BETTER
    assert direction("fio.vm.randwrite-4k.bw", "B/s") == HIGHER_IS_BETTER
    assert direction("net.cross_host.goodput", "bit/s") == HIGHER_IS_BETTER
    assert direction("fio.vm.randwrite-4k.iops", "IOPS") == HIGHER_IS_BETTER
    assert direction("net.underlay.efficiency", "ratio") == HIGHER_IS_BETTER
    assert direction("fio.x.bw", "MiB/s") == HIGHER_IS_BETTER
    assert direction("net.cross_host.cpu_sender", "%") == UNKNOWN


def test_medians_grouped_by_metric_and_unit() -> None:
    run = make_run("r", boot=[5.0, 9.0, 6.0], iops=100.0, extra=[sample("boot.ssh", 7000.0, "ms")])
    medians = metric_medians(run)
    assert medians[("boot.ssh", "s")] == 6.0
    assert medians[("boot.ssh", "ms")] == 7000.0


def test_injected_regression_is_detected() -> None:
    base = make_run("base", boot=[5.0, 5.0, 5.0], iops=1000.0)
    now = make_run("now", boot=[8.0, 8.0, 8.0], iops=1000.0)
    c = compare(now, base)
    (boot,) = c.regressed
    assert (boot.metric, boot.baseline, boot.current) == ("boot.ssh", 5.0, 8.0)
    assert boot.relative == pytest.approx(0.6)
    assert [m.metric for m in c.of("unchanged")] == ["fio.vm.randwrite-4k.iops"]
    assert c.worse
    text = render_comparison(c)
    assert "regressed metrics (1):" in text and "boot.ssh: 5 s -> 8 s (+60.0%)" in text
    assert text.rstrip().splitlines()[-1].startswith("WORSE")


def test_improvement_is_not_worse() -> None:
    base = make_run("base", boot=[8.0], iops=1000.0)
    now = make_run("now", boot=[5.0], iops=1500.0)
    c = compare(now, base)
    assert sorted(m.metric for m in c.improved) == ["boot.ssh", "fio.vm.randwrite-4k.iops"]
    assert not c.regressed and not c.worse
    assert "improved metrics (2):" in render_comparison(c)


def test_throughput_drop_is_a_regression() -> None:
    c = compare(make_run("now", boot=[5.0], iops=500.0), make_run("base", boot=[5.0], iops=1000.0))
    assert [m.metric for m in c.regressed] == ["fio.vm.randwrite-4k.iops"]


def test_within_tolerance_is_unchanged() -> None:
    base, now = make_run("b", boot=[5.0], iops=1000.0), make_run("n", boot=[5.2], iops=980.0)
    assert not compare(now, base).regressed
    assert [m.metric for m in compare(now, base, tolerance=0.01).regressed] == ["boot.ssh", "fio.vm.randwrite-4k.iops"]
    with pytest.raises(ValueError):
        compare(now, base, tolerance=-1)


def test_unknown_direction_is_changed_not_regressed() -> None:
    base = make_run("b", boot=[5.0], iops=1.0, extra=[sample("net.x.cpu_sender", 10.0, "%")])
    now = make_run("n", boot=[5.0], iops=1.0, extra=[sample("net.x.cpu_sender", 50.0, "%")])
    c = compare(now, base)
    assert [m.metric for m in c.of("changed")] == ["net.x.cpu_sender"]
    assert not c.worse


def test_zero_baseline() -> None:
    base = make_run("b", boot=[0.0], iops=1.0)
    now = make_run("n", boot=[1.0], iops=1.0)
    (boot,) = compare(now, base).regressed
    assert math.isinf(boot.relative)
    assert "(new)" in render_comparison(compare(now, base))


def test_tests_newly_failing_fixed_new_and_removed() -> None:
    base = make_run("b", boot=[5.0], iops=1.0, outcomes={"t::a": "passed", "t::b": "skipped", "t::c": "failed",
                                                         "t::gone": "passed"})
    now = make_run("n", boot=[5.0], iops=1.0, outcomes={"t::a": "failed", "t::b": "error", "t::c": "passed",
                                                        "t::new": "failed", "t::new2": "passed"})
    c = compare(now, base)
    assert [(t.nodeid, t.before, t.after) for t in c.newly_failing] == [
        ("t::a", "passed", "failed"), ("t::b", "skipped", "error"), ("t::new", None, "failed")]
    assert [(t.nodeid, t.before, t.after) for t in c.fixed] == [("t::c", "failed", "passed")]
    assert [t.nodeid for t in c.new_tests] == ["t::new", "t::new2"]
    assert [(t.nodeid, t.before) for t in c.removed_tests] == [("t::gone", "passed")]
    assert c.worse
    text = render_comparison(c)
    assert "newly failing tests (3):" in text and "t::a: passed -> failed (t::a failed)" in text
    assert "fixed tests (1):" in text and "removed tests (1):" in text


def test_still_failing_is_not_new() -> None:
    base = make_run("b", boot=[5.0], iops=1.0, outcomes={"t::a": "failed"})
    now = make_run("n", boot=[5.0], iops=1.0, outcomes={"t::a": "failed"})
    assert not compare(now, base).newly_failing
    assert not compare(now, base).worse


def test_gates_newly_failing_and_fixed() -> None:
    base = make_run("b", boot=[5.0], iops=1.0, gates={"g1": True, "g2": False, "g3": False})
    now = make_run("n", boot=[5.0], iops=1.0, gates={"g1": False, "g2": True, "g3": False, "g4": False})
    c = compare(now, base)
    assert [g.name for g in c.gates_newly_failing] == ["g1", "g4"]
    assert [g.name for g in c.gates_fixed] == ["g2"]
    assert c.worse
    assert "newly failing gates (2):" in render_comparison(c)


def test_metrics_only_in_one_run() -> None:
    base = make_run("b", boot=[5.0], iops=1.0, extra=[sample("old.metric", 1.0, "s")])
    now = make_run("n", boot=[5.0], iops=1.0, extra=[sample("new.metric", 1.0, "")])
    c = compare(now, base)
    assert c.new_metrics == [("new.metric", "")]
    assert c.missing_metrics == [("old.metric", "s")]
    assert not c.worse
