"""The conformance suite, run as a user runs it, against the reference
cloud's API: it must pass, and print its coverage table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_conformance_suite_passes_against_the_reference_cloud(api_cloud, tmp_path):
    coverage = tmp_path / "coverage.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider",
         "--cloud", "octoprobe", "--admin-cloud", "octoprobe-admin", "--alt-cloud", "octoprobe-alt",
         "--coverage-file", str(coverage)],
        cwd=ROOT, env=api_cloud.env, capture_output=True, text=True, timeout=900)
    print(proc.stdout[-5000:], proc.stderr[-2000:])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "capability" in proc.stdout and "identity-v3-tokens-create" in proc.stdout
    data = json.loads(coverage.read_text())
    text = json.dumps(data)
    assert "identity-v3-tokens-create" in text and "FAILED" not in proc.stdout.split("capability", 1)[1]
