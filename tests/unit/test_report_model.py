"""octoprobe.report.model: verdicts, counts, grouping, JSON round-trip, redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octoprobe.redact import REDACTED
from octoprobe.report.model import FAIL, NO_TESTS, PASS, Environment, Gate, RunResult, TestResult

DATA = Path(__file__).parent / "data" / "report" / "run_result.json"


def _run(tests=(), gates=()) -> RunResult:
    return RunResult("r1", "2026-01-01T00:00:00+00:00", "2026-01-01T00:10:00+00:00", Environment(cloud="lab"),
                     list(tests), list(gates))


def _gate(passed: bool) -> Gate:
    return Gate("boot_time", "boot.active", "p95", 30.0, "<=", 20.0 if passed else 40.0, passed, "", "s")


def test_sample_run_round_trips_through_json() -> None:
    text = DATA.read_text()
    result = RunResult.from_json(text)
    assert RunResult.from_json(result.to_json()) == result
    assert json.loads(result.to_json()) == json.loads(text)


def test_hand_built_run_round_trips() -> None:
    run = _run([TestResult("t.py::a", "passed", 1.5, capability="c", capability_id="c.1", gates=["g"],
                           samples=[{"metric": "m", "value": 1.0, "unit": "s", "metadata": {"rep": 1}}])],
               [_gate(True)])
    data = json.loads(run.to_json())
    assert data["verdict"] == PASS and data["counts"]["passed"] == 1 and data["schema_version"] == 1
    assert RunResult.from_json(run.to_json()) == run


@pytest.mark.parametrize(
    "tests, gates, verdict",
    [
        ([TestResult("a", "passed")], [], PASS),
        ([TestResult("a", "passed"), TestResult("b", "xfail"), TestResult("c", "skipped")], [_gate(True)], PASS),
        ([TestResult("a", "passed")], [_gate(False)], FAIL),
        ([TestResult("a", "failed")], [_gate(True)], FAIL),
        ([TestResult("a", "error", when="teardown")], [], FAIL),
        ([], [], NO_TESTS),
        ([TestResult("a", "skipped")], [], NO_TESTS),
    ],
)
def test_verdict(tests, gates, verdict) -> None:
    assert _run(tests, gates).verdict == verdict


def test_counts_failing_and_grouping() -> None:
    result = RunResult.from_json(DATA.read_text())
    counts = result.counts()
    assert counts["total"] == 9 and counts["passed"] == 5 and counts["failed"] == 1 and counts["error"] == 1
    assert [g.name for g in result.failing_gates] == ["boot_time"]
    assert {t.outcome for t in result.failing_tests} == {"failed", "error"}
    assert list(result.samples_by_metric()) == ["boot.active", "fio.randread.iops", "iperf3.<tcp>"]
    groups = result.by_capability()
    assert list(groups) == sorted(groups) and len(groups["(none)"]) == 5


def test_unknown_outcome_and_schema_version_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        TestResult("a", "exploded")
    data = json.loads(_run().to_json())
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="schema version"):
        RunResult.from_dict(data)


def test_redacted_copy_hides_secrets_and_leaves_the_original() -> None:
    run = _run([TestResult("a", "failed", reason="password=hunter2", longrepr="X-Auth-Token: gAAAAAsecretsecretsecretsecret",
                           samples=[{"metric": "m", "value": 1, "unit": "s", "metadata": {"api_token": "tok123"}}])])
    run.environment.extra["os_password"] = "pw-in-env"
    safe = run.redacted()
    text = safe.to_json()
    for secret in ("hunter2", "gAAAAAsecret", "tok123", "pw-in-env"):
        assert secret not in text
    assert REDACTED in safe.tests[0].reason
    assert run.tests[0].reason == "password=hunter2"  # the original is untouched
    assert safe.tests[0].samples[0]["value"] == 1
