"""octoprobe.report.results: the collector run through pytester on a tiny
test file, as a plugin object and as a ``-p`` plugin module with --report-dir."""

from __future__ import annotations

import json
from pathlib import Path

import openstack.config  # noqa: F401  (imported here: pytester drops modules first imported by an inner run)
import openstack.connection  # noqa: F401
import pytest

import octoprobe.plugin  # noqa: F401
import octoprobe.report.results  # noqa: F401
from octoprobe.report.model import RunResult
from octoprobe.report.results import ResultCollector

pytest_plugins = ["pytester"]

CLOUDS = Path(__file__).parent / "data" / "harness" / "clouds.yaml"

BASE_ARGS = ("-p", "no:octoprobe", "-p", "octoprobe.plugin", "-p", "no:cacheprovider", "--run-id", "reptest1")
PW = "hunter2-Planted"
TOKEN = "gAAAAABplantedtokenplantedtoken0123456789"

TESTS = f'''
import pytest

PW = "{PW}"
TOKEN = "{TOKEN}"

@pytest.mark.capability("compute-servers-create", "compute.servers.create")
def test_pass(samples):
    for rep, value in enumerate([1.5, 2.5, 3.0]):
        samples.add("boot.active", value, "s", repetition=rep + 1)

@pytest.mark.capability("compute-servers-delete", "compute.servers.delete")
@pytest.mark.gate("boot_time")
def test_fail():
    assert 1 + 1 == 3, "arithmetic is broken"

def test_skip():
    pytest.skip("no admin cloud here")

@pytest.mark.skip(reason="marked skip")
def test_marked_skip():
    pass

@pytest.mark.xfail(reason="known bug 42")
def test_xfail():
    assert False

@pytest.mark.xfail(reason="maybe fixed")
def test_xpass():
    pass

@pytest.mark.xfail(reason="must fail", strict=True)
def test_strict_xpass():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

def test_setup_error(broken):
    pass

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown exploded")

def test_teardown_error(bad_teardown):
    pass

def test_secret():
    raise RuntimeError("POST /v3/auth/tokens: password=%s X-Auth-Token: %s" % (PW, TOKEN))
'''


@pytest.fixture
def run_tests(pytester: pytest.Pytester):
    pytester.makepyfile(test_tiny=TESTS)

    def run(*args: str) -> tuple[pytest.RunResult, ResultCollector]:
        collector = ResultCollector()
        outcome = pytester.runpytest(*BASE_ARGS, *args, plugins=[collector])
        return outcome, collector

    return run


def test_collector_records_every_outcome(run_tests) -> None:
    outcome, collector = run_tests()
    result = collector.result
    assert isinstance(result, RunResult)
    tests = {t.nodeid.split("::")[-1]: t for t in result.tests}
    assert {name: t.outcome for name, t in tests.items()} == {
        "test_pass": "passed",
        "test_fail": "failed",
        "test_skip": "skipped",
        "test_marked_skip": "skipped",
        "test_xfail": "xfail",
        "test_xpass": "xpass",
        "test_strict_xpass": "failed",
        "test_setup_error": "error",
        "test_teardown_error": "error",
        "test_secret": "failed",
    }
    assert tests["test_fail"].reason.startswith("AssertionError: arithmetic is broken")
    assert "assert 1 + 1 == 3" in tests["test_fail"].longrepr
    assert tests["test_skip"].reason == "no admin cloud here" and tests["test_skip"].when == "call"
    assert tests["test_marked_skip"].reason == "marked skip" and tests["test_marked_skip"].when == "setup"
    assert tests["test_xfail"].reason == "known bug 42"
    assert tests["test_xpass"].reason == "maybe fixed"
    assert "XPASS(strict)" in tests["test_strict_xpass"].reason
    assert tests["test_setup_error"].when == "setup" and "fixture exploded" in tests["test_setup_error"].reason
    assert tests["test_teardown_error"].when == "teardown" and "teardown exploded" in tests["test_teardown_error"].reason
    assert all(t.duration >= 0 for t in result.tests)
    assert result.verdict == "FAIL" and result.counts()["total"] == 10


def test_collector_reads_the_octoprobe_plugin_properties(run_tests, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(CLOUDS))
    _, collector = run_tests("--cloud", "lab")
    result = collector.result
    tests = {t.nodeid.split("::")[-1]: t for t in result.tests}
    passed = tests["test_pass"]
    assert (passed.capability, passed.capability_id) == ("compute-servers-create", "compute.servers.create")
    assert [(s["metric"], s["value"], s["unit"], s["metadata"]["repetition"]) for s in passed.samples] == [
        ("boot.active", 1.5, "s", 1), ("boot.active", 2.5, "s", 2), ("boot.active", 3.0, "s", 3)]
    assert tests["test_fail"].gates == ["boot_time"] and tests["test_fail"].capability == "compute-servers-delete"
    assert tests["test_skip"].capability is None and tests["test_skip"].samples == []
    assert result.run_id == "reptest1"
    assert result.environment.cloud == "lab" and result.environment.versions["pytest"] == pytest.__version__
    assert list(result.samples_by_metric()) == ["boot.active"]
    assert RunResult.from_json(result.to_json()) == result


def test_gate_judge_and_environment_are_used(pytester: pytest.Pytester) -> None:
    from octoprobe.report.model import Environment, Gate

    def judge(tests):
        values = [s["value"] for t in tests for s in t.samples if s["metric"] == "boot.active"]
        worst = max(values)
        return [Gate("boot_time", "boot.active", "max", 2.0, "<=", worst, worst <= 2.0, f"max is {worst} s", "s")]

    pytester.makepyfile(test_tiny=TESTS)
    report_dir = pytester.path / "out"
    collector = ResultCollector(report_dir, run_id="given1", environment=Environment(versions={"ceph": "16.2.15"}),
                                gates=judge)
    pytester.runpytest(*BASE_ARGS, "-k", "test_pass", plugins=[collector])
    result = collector.result
    assert result.run_id == "given1" and result.environment.versions["ceph"] == "16.2.15"
    assert [(g.name, g.measured, g.passed) for g in result.gates] == [("boot_time", 3.0, False)]
    assert result.verdict == "FAIL" and [t.outcome for t in result.tests] == ["passed"]
    assert sorted(p.name for p in collector.written) == ["junit.xml", "report.html", "summary.json", "summary.md"]
    assert "max is 3.0 s" in (report_dir / "summary.md").read_text()


def test_plugin_module_writes_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tiny=TESTS)
    report_dir = pytester.path / "report"
    outcome = pytester.runpytest(*BASE_ARGS, "-p", "octoprobe.report.results", "--report-dir", str(report_dir))
    outcome.stdout.fnmatch_lines(["octoprobe: report (FAIL) in *report"])
    names = sorted(p.name for p in report_dir.iterdir())
    assert names == ["junit.xml", "report.html", "summary.json", "summary.md"]
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["counts"]["total"] == 10 and summary["verdict"] == "FAIL"
    # The planted secrets are in the failure text pytest produced, and nowhere in the report.
    secret_test = next(t for t in summary["tests"] if t["nodeid"].endswith("test_secret"))
    assert "RuntimeError: POST" in secret_test["longrepr"] and "<redacted>" in secret_test["longrepr"]
    for path in report_dir.rglob("*"):
        text = path.read_text(encoding="utf-8")
        assert PW not in text and TOKEN not in text, path.name


def test_plugin_module_without_report_dir_writes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_ok():\n    pass\n")
    before = set(pytester.path.rglob("*"))
    outcome = pytester.runpytest(*BASE_ARGS, "-p", "octoprobe.report.results")
    outcome.assert_outcomes(passed=1)
    assert {p for p in pytester.path.rglob("*") if "__pycache__" not in p.parts} == {
        p for p in before if "__pycache__" not in p.parts}


def test_collection_error_is_an_error_result(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bad="def test_a(:\n    pass\n", test_ok="def test_ok():\n    pass\n")
    collector = ResultCollector()
    pytester.runpytest(*BASE_ARGS, plugins=[collector])
    result = collector.result
    assert [(t.nodeid, t.outcome, t.when) for t in result.tests] == [("test_bad.py", "error", "setup")]
    assert result.tests[0].reason == "SyntaxError: invalid syntax" and result.verdict == "FAIL"


def test_clouds_yaml_password_in_an_auth_body_is_not_reported(pytester: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    password = yaml.safe_load(CLOUDS.read_text())["clouds"]["lab"]["auth"]["password"]
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(CLOUDS))
    pytester.makepyfile(test_auth=f'''
import json, yaml

def test_auth():
    auth = yaml.safe_load(open({str(CLOUDS)!r}))["clouds"]["lab"]["auth"]
    body = {{"auth": {{"identity": {{"methods": ["password"], "password": {{"user": {{
        "name": auth["username"], "password": auth["password"]}}}}}}}}}}
    raise RuntimeError("keystone refused " + json.dumps(body))
''')
    report_dir = pytester.path / "report"
    collector = ResultCollector(report_dir)
    pytester.runpytest(*BASE_ARGS, "--cloud", "lab", plugins=[collector])
    assert password in collector.result.tests[0].longrepr  # pytest's own text has it ...
    for path in report_dir.rglob("*"):
        assert password not in path.read_text(encoding="utf-8"), path.name  # ... the report does not


def test_collector_works_without_the_octoprobe_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_ok():\n    pass\n")
    collector = ResultCollector(run_id="plain1")
    pytester.runpytest("-p", "no:octoprobe", "-p", "no:cacheprovider", plugins=[collector])
    result = collector.result
    assert result.run_id == "plain1" and result.environment.cloud is None
    assert [(t.outcome, t.capability, t.samples) for t in result.tests] == [("passed", None, [])]
    assert result.verdict == "PASS"
