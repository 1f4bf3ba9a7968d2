"""The perf suite, run as a user runs it (``octoprobe run perf --profile
reference``), against the reference cloud with short durations: it must
produce every sample the issue lists, the ``reference`` profile's gates must
pass, and a profile with an impossible threshold must fail, naming metric,
statistic, threshold and measured value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from octoprobe.perf.gates import judge_tests
from octoprobe.perf.profiles import load_profile
from octoprobe.report.model import RunResult

ROOT = Path(__file__).resolve().parents[3]
SHORT = ("--perf-repetitions 3 --perf-concurrency 2 --perf-duration 4 --perf-ramp 1 --perf-streams 2 "
         "--perf-fio-size 128M")
#: what the perf suite must measure on the reference cloud (its hardware inventory aside)
EXPECTED = [f"boot.{p}" for p in ("accepted", "active", "ping", "ssh", "userdata")] + [
    f"fio.{where}.{w}.{q}" for where in ("rbd", "vm")
    for w in ("randread-4k", "randwrite-4k", "seqread-4m", "seqwrite-4m")
    for q in ("bw", "iops", "clat_p50", "clat_p99", "clat_p99_9")] + [
    "fio.rbd.seqwrite-4m.bw_vs_rbd_bench", "rbd_bench.seqwrite-4m.bw",
    "net.cross_host.goodput", "net.cross_host.efficiency", "net.same_host.goodput", "net.floating_ip.goodput"]


def test_perf_suite_measures_everything_and_the_reference_gates_pass(api_cloud, tmp_path, terminal_summary):
    report = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "octoprobe.cli", "run", "perf", "--cloud", "octoprobe",
         "--profile", "reference", "--report-dir", str(report), "--no-history", f"--pytest-args={SHORT}"],
        cwd=ROOT, env=api_cloud.env, capture_output=True, text=True, timeout=1500)
    print(proc.stdout[-6000:], proc.stderr[-3000:])
    result = RunResult.from_json((report / "summary.json").read_text())
    measured = result.samples_by_metric()
    missing = [m for m in EXPECTED if m not in measured]
    assert not missing, f"the perf suite measured no {missing}"
    skipped = [(t.nodeid, t.reason) for t in result.tests if t.outcome == "skipped"]
    assert [n for n, _ in skipped] == ["perf/test_network.py::test_iperf3_underlay"], skipped
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert result.gates and all(g.passed for g in result.gates), [g.reason for g in result.gates]
    boot = sorted(s["value"] for _, s in measured["boot.ssh"])
    terminal_summary.append(f"perf suite: boot→SSH {boot[len(boot) // 2]:.1f} s median of {len(boot)}")
    terminal_summary.extend(f"  gate {g.name}: {g.reason}" for g in result.gates)
    assert result.environment.hardware, "no hardware inventory in the run's environment"
    versions = result.environment.versions
    assert versions.get("compute API", "").startswith("v2.1 (microversions 2.1–") and "fio" in versions, versions
    assert list((report / "allure-results").glob("*-result.json")), "no allure results"

    # no secret of clouds.yaml (the passwords of its three entries) anywhere in the report directory
    clouds = yaml.safe_load(api_cloud.clouds_yaml.read_text())["clouds"]
    secrets = {c["auth"]["password"] for c in clouds.values()}
    assert len(secrets) == 3 and all(len(s) >= 12 for s in secrets)
    files = [f for f in report.rglob("*") if f.is_file()]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        leaked = [s for s in secrets if s.encode() in data]
        assert not leaked, f"{path} contains a secret of clouds.yaml"

    impossible = tmp_path / "impossible.yaml"
    impossible.write_text("profile: impossible\ngates:\n  - name: instant_boot\n    metric: boot.ssh\n"
                          "    statistic: p95\n    max: 0.001\n    unit: s\n")
    gates = judge_tests(load_profile(str(impossible)), result.tests)
    assert [g.passed for g in gates] == [False]
    reason = gates[0].reason
    assert "boot.ssh" in reason and "p95" in reason and "1 ms" in reason and "FAILED" in reason, reason
