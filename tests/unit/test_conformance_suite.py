"""The conformance suite's wiring, without a cloud: every test carries a known
capability and a unique id; the suite's conftest selects by capability,
prints the coverage table and writes it into the results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openstack.config  # noqa: F401  (imported here: pytester drops modules first imported by an inner run)
import openstack.connection  # noqa: F401
import pytest

import octoprobe.plugin  # noqa: F401

pytest_plugins = ["pytester"]

REPO = Path(__file__).parents[2]
SUITE = REPO / "conformance"
PLUGIN_ARGS = (
    "-p",
    "no:octoprobe",
    "-p",
    "octoprobe.plugin",
    "-p",
    "no:cacheprovider",
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
)


def test_the_suite_collects_offline_with_capabilities_and_unique_ids(tmp_path):
    """`pytest --collect-only conformance/` needs no cloud; the suite's conftest
    refuses a test without a capability, an unknown capability or a reused id."""
    env = {"OS_CLIENT_CONFIG_FILE": str(tmp_path / "no-clouds.yaml"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(SUITE)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    collected = [line for line in proc.stdout.splitlines() if "::" in line]
    assert any("identity/test_tokens.py::test_create_token" in line for line in collected)
    assert len(collected) >= 25


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.delenv("OS_CLOUD", raising=False)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(pytester.path / "no-clouds.yaml"))
    pytester.makeconftest((SUITE / "conftest.py").read_text())
    return pytester


TESTS = """
import pytest

@pytest.mark.capability("identity-v3-tokens-create", "11111111-0000-4000-8000-000000000001")
def test_create():
    pass

@pytest.mark.capability("identity-v3-tokens-create", "11111111-0000-4000-8000-000000000002")
def test_create_negative():
    assert 401 == 404, "expected 401"

@pytest.mark.capability("identity-v3-catalog", "11111111-0000-4000-8000-000000000003")
def test_catalog():
    pytest.skip("needs an admin cloud")

@pytest.mark.capability("identity-v3-rbac", "11111111-0000-4000-8000-000000000004")
@pytest.mark.parametrize("x", [1, 2])
def test_rbac(x):
    pass
"""


def test_coverage_table_and_file(suite):
    suite.makepyfile(test_suite=TESTS)
    out = suite.path / "out" / "coverage.json"
    result = suite.runpytest(*PLUGIN_ARGS, "--coverage-file", str(out))
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    text = result.stdout.str()
    assert "octoprobe conformance coverage (interop 2020.06, os_powered_compute)" in text
    result.stdout.re_match_lines(
        [
            r"identity-v3-tokens-create +FAILED +1 +1 +0 +failed 11111111-0000-4000-8000-000000000002: "
            r"AssertionError: expected 401",
            r"identity-v3-catalog +skipped +0 +0 +1 +skipped 11111111-0000-4000-8000-000000000003: "
            r"needs an admin cloud",
            r"identity-v3-api-discovery +untested .*no test in this run",
            r"identity-v3-rbac \* +passed +2 +0 +0",
            r"7 capabilities: 1 passed, 1 failed, 1 skipped, 4 untested.*",
            r"not tested in this run: block-storage \(13 required capabilities\), compute \(30 .*",
        ],
        consecutive=False,
    )
    data = json.loads(out.read_text())
    assert data["guideline"] == "2020.06" and data["services"] == ["identity"]
    assert {c["capability"]: c["status"] for c in data["capabilities"]}["identity-v3-tokens-create"] == "failed"


def test_capability_selects_tests(suite):
    suite.makepyfile(test_suite=TESTS)
    result = suite.runpytest(*PLUGIN_ARGS, "--capability", "identity-v3-tokens-*", "--capability", "*-rbac")
    result.assert_outcomes(passed=3, failed=1, deselected=1)
    text = result.stdout.str()
    assert "identity-v3-catalog" not in text.split("coverage")[-1]
    assert "not tested in this run" not in text
    nothing = suite.runpytest(*PLUGIN_ARGS, "--capability", "compute-*")
    assert nothing.ret == pytest.ExitCode.USAGE_ERROR
    assert "--capability compute-* selects no test" in nothing.stderr.str()


def test_coverage_goes_into_the_report_dir(suite):
    suite.makepyfile(test_suite=TESTS)
    result = suite.runpytest(*PLUGIN_ARGS, "-p", "octoprobe.report.results", "--report-dir", "rep")
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    assert json.loads((suite.path / "rep" / "coverage.json").read_text())["totals"]["failed"] == 1
    summary = json.loads((suite.path / "rep" / "summary.json").read_text())
    assert {t["capability_id"] for t in summary["tests"]} >= {"11111111-0000-4000-8000-000000000001"}


@pytest.mark.parametrize(
    "source, message",
    [
        ("def test_x():\n    pass\n", "has no @pytest.mark.capability"),
        (
            "import pytest\n@pytest.mark.capability('identity-v3-teleport', 'a')\ndef test_x():\n    pass\n",
            "capability 'identity-v3-teleport' is neither in interop guideline 2020.06",
        ),
        (
            "import pytest\n"
            "@pytest.mark.capability('identity-v3-catalog', 'same')\ndef test_x():\n    pass\n"
            "@pytest.mark.capability('identity-v3-catalog', 'same')\ndef test_y():\n    pass\n",
            "test id same is used by test_suite.py::test_x and test_suite.py::test_y",
        ),
    ],
)
def test_malformed_suites_stop_before_running(suite, source, message):
    suite.makepyfile(test_suite=source)
    result = suite.runpytest(*PLUGIN_ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_unknown_guideline_component(suite):
    suite.makepyfile(test_suite=TESTS)
    result = suite.runpytest(*PLUGIN_ARGS, "--interop-component", "os_powered_dns")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no component 'os_powered_dns'" in result.stderr.str()
