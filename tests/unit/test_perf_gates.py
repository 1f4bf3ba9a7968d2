"""octoprobe.perf.gates: judging samples against a profile, readable reasons, baselines."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from octoprobe.perf.gates import format_value, judge, judge_gate, judge_tests, matches, samples_of
from octoprobe.perf.profiles import GateSpec, Profile, load_profile
from octoprobe.report.model import Gate, RunResult, TestResult
from octoprobe.samples import Sample

SSH = GateSpec("boot_to_ssh_p95", "boot.ssh", "p95", 40.0, "max", unit="s", where={"source": "image"})
BW = GateSpec("rbd_bw", "fio.rbd.seqwrite-4m.bw", "median", 20e6, "min", unit="B/s")


def boots(*seconds: float, source: str = "image", concurrency: int = 1) -> list[Sample]:
    return [
        Sample("boot.ssh", s, "s", {"source": source, "concurrency": concurrency, "repetition": i})
        for i, s in enumerate(seconds)
    ]


def bandwidth(*values: float) -> list[Sample]:
    return [Sample("fio.rbd.seqwrite-4m.bw", v, "B/s", {}) for v in values]


def profile(*gates: GateSpec, tolerance: float = 0.05) -> Profile:
    return Profile("test", tuple(gates), regression_tolerance=tolerance)


# ---------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (40, "s", "40 s"),
        (12.3456, "s", "12.35 s"),
        (0.0015, "s", "1.5 ms"),
        (45_678_912, "B/s", "45.68 MB/s"),
        (50e6, "bit/s", "50 Mbit/s"),
        (9.4e9, "bit/s", "9.4 Gbit/s"),
        (12345, "IOPS", "12345 IOPS"),
        (0.953, "", "0.953"),
        (0, "s", "0 s"),
    ],
)
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_matches_compares_values_as_text_too():
    assert matches({"source": "image", "concurrency": 1}, {"concurrency": "1"})
    assert matches({"concurrency": "1"}, {"concurrency": 1})
    assert not matches({"source": "volume"}, {"source": "image"})
    assert not matches({}, {"source": "image"})
    assert matches({"anything": 1}, {})


# ---------------------------------------------------------------- verdicts


def test_a_passing_max_gate():
    (gate,) = judge(profile(SSH), boots(10, 11, 12, 13, 14))
    assert isinstance(gate, Gate)
    assert gate.passed and gate.comparison == "<=" and gate.unit == "s"
    assert (gate.name, gate.metric, gate.statistic, gate.threshold) == ("boot_to_ssh_p95", "boot.ssh", "p95", 40.0)
    assert gate.measured == pytest.approx(13.8)  # rank 3.8 of 10..14
    assert gate.reason == "boot.ssh p95 (source=image) = 13.8 s, must be ≤ 40 s (n=5)"


def test_a_failing_max_gate():
    (gate,) = judge(profile(SSH), boots(30, 35, 50, 60))
    assert not gate.passed
    assert gate.measured == pytest.approx(58.5)
    assert gate.reason == "boot.ssh p95 (source=image) = 58.5 s, must be ≤ 40 s (n=4): FAILED"


def test_min_gates_compare_the_other_way():
    (ok,) = judge(profile(BW), bandwidth(25e6, 30e6, 28e6))
    assert ok.passed and ok.comparison == ">=" and ok.measured == 28e6
    assert ok.reason == "fio.rbd.seqwrite-4m.bw median = 28 MB/s, must be ≥ 20 MB/s (n=3)"
    (slow,) = judge(profile(BW), bandwidth(5e6, 6e6))
    assert not slow.passed and slow.reason.endswith("must be ≥ 20 MB/s (n=2): FAILED")


def test_the_threshold_itself_passes():
    assert judge(profile(SSH), boots(40))[0].passed
    assert judge(profile(BW), bandwidth(20e6))[0].passed


def test_an_impossible_threshold_fails_and_says_why():
    impossible = GateSpec("ssh_instantly", "boot.ssh", "median", 0.0, "max", unit="s")
    (gate,) = judge(profile(impossible), boots(4.2, 5.0, 6.1))
    assert not gate.passed
    assert gate.measured == pytest.approx(5.0) and gate.threshold == 0.0
    for part in ("boot.ssh", "median", "5 s", "≤ 0 s", "FAILED"):
        assert part in gate.reason


def test_no_samples_fails_a_required_gate():
    (gate,) = judge(profile(SSH), bandwidth(1e9))
    assert not gate.passed and gate.measured is None
    assert gate.reason == "no samples of metric boot.ssh with source=image; p95 must be ≤ 40 s: FAILED"


def test_no_samples_of_an_optional_gate_is_not_judged():
    optional = GateSpec("underlay", "net.underlay.efficiency", "median", 0.9, "min", required=False)
    (gate,) = judge(profile(optional), [])
    assert gate.passed and gate.measured is None
    assert gate.reason.startswith("not measured: no samples of metric net.underlay.efficiency")


def test_where_selects_the_samples():
    samples = boots(10, 11, 12) + boots(90, 95, 99, source="volume")
    (gate,) = judge(profile(SSH), samples)
    assert gate.passed and gate.measured == pytest.approx(11.9)
    everything = GateSpec("all", "boot.ssh", "max", 40.0, "max", unit="s")
    (gate,) = judge(profile(everything), samples)
    assert not gate.passed and gate.measured == 99
    single = GateSpec("single", "boot.ssh", "max", 40.0, "max", where={"concurrency": "1"})
    (gate,) = judge(profile(single), boots(10) + boots(80, concurrency=8))
    assert gate.passed and gate.measured == 10


def test_sample_dicts_are_accepted():
    (gate,) = judge(profile(SSH), [s.to_dict() for s in boots(10, 20)])
    assert gate.passed and gate.measured == pytest.approx(19.5)


def test_a_unit_mismatch_fails_instead_of_comparing_apples_with_oranges():
    mib = [Sample("fio.rbd.seqwrite-4m.bw", 30.0, "MiB/s", {})]
    (gate,) = judge(profile(BW), mib)
    assert not gate.passed and "in MiB/s, the gate's threshold in B/s" in gate.reason


def test_a_gate_without_a_unit_takes_the_samples_unit():
    bare = GateSpec("ssh", "boot.ssh", "median", 40.0, "max")
    (gate,) = judge(profile(bare), boots(12))
    assert gate.unit == "s" and gate.reason == "boot.ssh median = 12 s, must be ≤ 40 s (n=1)"


def test_gates_come_in_the_profile_order():
    gates = judge(profile(BW, SSH), boots(10) + bandwidth(30e6))
    assert [g.name for g in gates] == ["rbd_bw", "boot_to_ssh_p95"]


# ---------------------------------------------------------------- baseline


def test_a_regression_beyond_the_tolerance_fails_a_passing_gate():
    (gate,) = judge(profile(SSH), boots(11.2), baseline=boots(10.0))
    assert not gate.passed and gate.measured == pytest.approx(11.2)
    assert gate.reason == (
        "boot.ssh p95 (source=image) = 11.2 s, must be ≤ 40 s (n=1); "
        "regressed 12 % against the baseline (10 s → 11.2 s), tolerance 5 %: FAILED"
    )


def test_a_min_gate_regresses_downwards():
    (gate,) = judge(profile(BW), bandwidth(80e6), baseline=bandwidth(100e6))
    assert not gate.passed
    assert "regressed 20 % against the baseline (100 MB/s → 80 MB/s), tolerance 5 %: FAILED" in gate.reason
    (gate,) = judge(profile(BW), bandwidth(120e6), baseline=bandwidth(100e6))
    assert gate.passed and gate.reason.endswith("; 20 % better than the baseline (100 MB/s → 120 MB/s)")


def test_a_change_within_the_tolerance_passes():
    (gate,) = judge(profile(SSH), boots(10.3), baseline=boots(10.0))
    assert gate.passed and "3 % worse than the baseline (10 s → 10.3 s), within the tolerance 5 %" in gate.reason


def test_a_regression_just_over_the_tolerance_is_not_rounded_to_it():
    (gate,) = judge(profile(SSH), boots(10.54), baseline=boots(10.0))
    assert not gate.passed and "regressed 5.4 % against the baseline (10 s → 10.54 s), tolerance 5 %" in gate.reason


def test_an_unchanged_statistic_passes():
    (gate,) = judge(profile(SSH), boots(10.0), baseline=boots(10.0))
    assert gate.passed and gate.reason.endswith("; the same as the baseline (10 s)")


def test_an_improvement_passes():
    (gate,) = judge(profile(SSH), boots(8.0), baseline=boots(10.0))
    assert gate.passed and gate.reason.endswith("; 20 % better than the baseline (10 s → 8 s)")


def test_the_profile_tolerance_is_used():
    (gate,) = judge(profile(SSH, tolerance=0.25), boots(12.0), baseline=boots(10.0))
    assert gate.passed and "within the tolerance 25 %" in gate.reason


def test_a_failing_threshold_and_a_regression_are_both_told():
    (gate,) = judge(profile(SSH), boots(60), baseline=boots(30))
    assert not gate.passed
    assert gate.reason.startswith("boot.ssh p95 (source=image) = 60 s, must be ≤ 40 s (n=1): FAILED; regressed 100 %")


def test_a_baseline_without_the_metric_is_said():
    (gate,) = judge(profile(SSH), boots(10), baseline=bandwidth(1e6))
    assert gate.passed and gate.reason.endswith("; no baseline samples to compare with")


def test_a_baseline_in_another_unit_is_not_compared():
    mib = [Sample("fio.rbd.seqwrite-4m.bw", 900.0, "MiB/s", {})]
    (gate,) = judge(profile(BW), bandwidth(30e6), baseline=mib)
    assert gate.passed and gate.reason.endswith("; the baseline's samples are in MiB/s, not B/s: not compared")


def test_a_baseline_of_zero():
    zero = GateSpec("errors", "io.errors", "max", 5, "max")
    errors = lambda v: [Sample("io.errors", v, "", {})]  # noqa: E731
    (gate,) = judge(profile(zero), errors(1), baseline=errors(0))
    assert not gate.passed and "regressed against the baseline (0 → 1)" in gate.reason
    (gate,) = judge(profile(zero), errors(0), baseline=errors(0))
    assert gate.passed


# ---------------------------------------------------------------- from test results


def result(*tests: TestResult) -> RunResult:
    return RunResult("run-1", "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z", tests=list(tests))


def test_samples_of_test_results_skips_malformed_ones():
    test = TestResult(
        "perf/test_boot.py::test_boot",
        "passed",
        samples=[
            Sample("boot.ssh", 12.0, "s", {"source": "image"}).to_dict(),
            {"metric": "boot.ssh", "value": "fast", "unit": "s"},
            {"metric": "", "value": 1.0, "unit": "s"},
            {"value": 1.0},
            {"metric": "boot.ssh", "value": True, "unit": "s"},
        ],
    )
    assert samples_of([test]) == [Sample("boot.ssh", 12.0, "s", {"source": "image"})]


def test_judge_tests_against_a_baseline_run():
    now = [
        TestResult("t::boot", "passed", samples=[s.to_dict() for s in boots(11, 12)]),
        TestResult("t::fio", "passed", samples=[s.to_dict() for s in bandwidth(50e6)]),
    ]
    before = result(TestResult("t::fio", "passed", samples=[s.to_dict() for s in bandwidth(100e6)]))
    ssh, bw = judge_tests(profile(SSH, BW), now, before)
    assert ssh.passed and ssh.reason.endswith("no baseline samples to compare with")
    assert not bw.passed and "regressed 50 %" in bw.reason
    assert [g.passed for g in judge_tests(profile(SSH, BW), now)] == [True, True]


def test_judge_gate_on_its_own():
    gate = judge_gate(SSH, boots(1, 2, 3))
    assert gate.passed and gate.measured == pytest.approx(2.9)


# ---------------------------------------------------------------- shipped profiles


def reference_run_samples() -> list[Sample]:
    """Numbers like those the reference cloud gives on a 2-core TCG machine."""
    out = boots(7.1, 8.4, 9.0, 7.7, 8.1)
    out += [Sample("boot.active", v, "s", {"source": "image", "concurrency": 1}) for v in (1.8, 2.2, 2.0)]
    out += [Sample("fio.rbd.seqwrite-4m.bw_vs_rbd_bench", v, "", {}) for v in (0.98, 1.01, 0.99)]
    out += [Sample("fio.rbd.seqwrite-4m.bw", v, "B/s", {}) for v in (61e6, 58e6, 64e6)]
    out += [Sample("fio.vm.randwrite-4k.iops", v, "IOPS", {}) for v in (210, 190, 250)]
    out += [Sample("net.cross_host.goodput", v, "bit/s", {}) for v in (420e6, 380e6, 610e6)]
    return out


def test_the_reference_profile_passes_on_reference_like_numbers():
    gates = judge(load_profile("reference"), reference_run_samples())
    assert all(g.passed for g in gates), [g.reason for g in gates if not g.passed]
    assert all(g.measured is not None for g in gates)  # every reference gate is measured there


def test_the_dreamcompute_profile_judges_what_it_gets():
    gates = {g.name: g for g in judge(load_profile("dreamcompute"), reference_run_samples())}
    assert gates["boot_to_ssh_p95"].passed
    assert not gates["net_cross_host_efficiency"].passed  # required, not measured here
    underlay = gates["net_underlay_efficiency"]
    assert underlay.passed and underlay.reason.startswith("not measured")


def test_a_profile_file_with_an_impossible_threshold_fails(tmp_path: Path):
    path = tmp_path / "impossible.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            profile: impossible
            gates:
              - name: goodput_beyond_light
                metric: net.cross_host.goodput
                statistic: median
                min: 1.0e15
                unit: bit/s
            """
        )
    )
    (gate,) = judge(load_profile(path), reference_run_samples())
    assert not gate.passed
    assert gate.reason == "net.cross_host.goodput median = 420 Mbit/s, must be ≥ 1000 Tbit/s (n=3): FAILED"
