"""The chaos suite's wiring (chaos/conftest.py) without a cloud: it runs as a
user runs it (``pytest chaos/``, in a subprocess) and every scenario skips
with a reason that says what is missing — never passes, never errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIO_TESTS = 10  # 8 scenarios + VM continuity (test_vm.py: disk, node)
EXAMPLE_INVENTORY = REPO / "octoprobe" / "examples" / "inventory.example.yaml"


def run_suite(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "chaos/", "-p", "no:cacheprovider", "-q", "-rs", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_options_are_documented():
    out = run_suite("--help").stdout
    for option in ("--reference-state-dir", "--reference-prefix", "--lab-state-dir", "--chaos-dry-run", "--chaos-data",
                   "--chaos-max-failure-domains", "--chaos-results", "--chaos-seed"):
        assert option in out, option


def test_without_a_reference_cloud_every_scenario_skips_saying_what_is_missing(tmp_path):
    proc = run_suite("--reference-state-dir", str(tmp_path / "nothing-here"), "--reference-prefix", "octz")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{SCENARIO_TESTS} skipped" in proc.stdout, proc.stdout
    if os.geteuid() == 0:
        assert f"no reference cloud in {tmp_path / 'nothing-here'}: run `octoprobe cloud up`" in proc.stdout
    else:
        assert "the chaos suite needs root" in proc.stdout


def test_a_dry_run_without_a_cloud_skips_too(tmp_path):
    proc = run_suite("--chaos-dry-run", "--reference-state-dir", str(tmp_path / "none"), "--reference-prefix", "octz")
    assert proc.returncode == 0 and f"{SCENARIO_TESTS} skipped" in proc.stdout, proc.stdout


def test_against_a_lab_the_scenarios_are_destructive_and_an_unreachable_lab_skips():
    env = {"OCTOPROBE_BMC_PASSWORD": "x", "OCTOPROBE_IPMI_PASSWORD": "x"}
    proc = run_suite("--inventory", str(EXAMPLE_INVENTORY), env=env)
    assert proc.returncode == 0 and f"{SCENARIO_TESTS} skipped" in proc.stdout, proc.stdout + proc.stderr
    assert "give --allow-destructive to run it" in proc.stdout
    allowed = run_suite("--inventory", str(EXAMPLE_INVENTORY), "--allow-destructive", env=env)
    assert f"{SCENARIO_TESTS} skipped" in allowed.stdout, allowed.stdout
    assert "cannot reach the lab's admin node ctl-1 over SSH" in allowed.stdout, allowed.stdout


def test_bad_options_stop_the_run_before_any_test(tmp_path):
    proc = run_suite("--chaos-data", "lots", "--reference-state-dir", str(tmp_path))
    assert proc.returncode == 4 and "--chaos-data / --chaos-object-size" in proc.stderr, proc.stderr
    proc = run_suite("--chaos-data", "1MiB", "--chaos-object-size", "4MiB")
    assert proc.returncode == 4 and "at least one --chaos-object-size" in proc.stderr, proc.stderr
    proc = run_suite("--chaos-max-failure-domains", "0")
    assert proc.returncode == 4 and "at least 1" in proc.stderr, proc.stderr
