"""A Tempest run as octoprobe's RunResult: outcomes, tests that did not run,
flagged tests, capabilities, redaction and the report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octoprobe.interop import Capability, Guideline, TempestTest, coverage
from octoprobe.report.merge import merge_results
from octoprobe.report.model import RunResult
from octoprobe.report.writers import write_report
from octoprobe.tempest import report, summary
from octoprobe.tempest.results import TempestResult, parse_subunit
from octoprobe.tempest.testlist import select

SAMPLE = Path(__file__).parent / "data" / "tempest-sample.subunit"
SERVERS = "tempest.api.compute.servers.test_create_server"
NEGATIVE = "tempest.api.compute.servers.test_servers_negative.ServersNegativeTestJSON"
PASSWORD = "Adm1n-Very-Secret"


def _uuid(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-00000000000{n % 10}"


def _guideline() -> Guideline:
    tests = {
        "compute-flavors-list": (TempestTest("tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON"
                                             ".test_list_flavors", "e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59"),),
        "compute-servers-list": (TempestTest(f"{SERVERS}.ServersTestJSON.test_list_servers", _uuid(1)),
                                 TempestTest(f"{SERVERS}.ServersTestManualDisk.test_other", _uuid(2))),
        "compute-servers-invalid": (TempestTest(f"{NEGATIVE}.test_invalid_ip_v6_address",
                                                "5226dd80-1e9c-4d8a-b5f9-b26ca4763fd0"),),
        "compute-servers-resize": (
            TempestTest(f"{NEGATIVE}.test_resize_server_with_null_flavor", "45436a7d-a388-4a35-a9d8-3adc5d0d940b",
                        flagged="resize is optional"),
            TempestTest("tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_gone",
                        _uuid(3), flagged="removed from Tempest"),
        ),
        "compute-keypairs-missing": (TempestTest("tempest.api.compute.keypairs.X.test_never_ran", _uuid(4)),),
    }
    caps = {name: Capability(name, "nova", "", False, "", ts) for name, ts in tests.items()}
    return Guideline("t", caps, {"os_powered_compute": {"required": tuple(caps)}})


def _result(rows, **kw) -> RunResult:
    return report.to_run_result(rows, run_id="ci1234", started="2026-11-24T10:00:00+00:00",
                                finished="2026-11-24T10:04:00+00:00", cloud="lab",
                                versions={"tempest": "47.0.0", "stestr": "4.2.1"}, **kw)


@pytest.fixture
def recorded() -> RunResult:
    g = _guideline()
    return _result(summary.verdicts(select(g), parse_subunit(SAMPLE.read_bytes())))


def _by_name(result: RunResult):
    return {t.nodeid.rsplit(".", 1)[1]: t for t in result.tests}


def test_every_selected_test_is_one_test_named_without_attributes(recorded):
    assert len(recorded.tests) == 7
    flavors = recorded.tests[0]
    assert flavors.nodeid == "tempest/tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_list_flavors"
    assert flavors.outcome == "passed" and flavors.duration == pytest.approx(0.022137)
    assert flavors.capability == "compute-flavors-list"
    assert flavors.capability_id == "e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59"
    assert not any("[" in t.nodeid for t in recorded.tests)
    assert recorded.environment.cloud == "lab" and recorded.environment.versions["tempest"] == "47.0.0"
    assert recorded.run_id == "ci1234" and recorded.started.startswith("2026-11-24T10:00")


def test_outcomes_of_the_recorded_run(recorded):
    t = _by_name(recorded)
    failed = t["test_invalid_ip_v6_address"]
    assert failed.outcome == "failed" and failed.when == "call"
    assert "\n" not in failed.reason and failed.reason  # one line ...
    assert failed.reason.startswith("testtools.matchers._impl.MismatchError: ") and len(failed.reason) <= 200
    assert failed.longrepr.startswith("Traceback") and failed.reason.rstrip(".") in failed.longrepr
    assert "'adminPass': '<redacted>'" in failed.longrepr  # the server's password, in the recorded stream
    setup = t["test_list_servers"]  # its class's setUpClass failed
    assert setup.outcome == "failed" and setup.when == "setup" and "os-interface" in setup.longrepr
    skipped = t["test_other"]  # its class's setUpClass skipped
    assert skipped.outcome == "skipped" and skipped.reason == "DiskConfig extension not enabled."
    assert skipped.when == "setup" and skipped.longrepr == ""
    assert t["test_resize_server_with_null_flavor"].outcome == "skipped"
    assert t["test_resize_server_with_null_flavor"].reason == "Resize not available."
    assert recorded.verdict == "FAIL"
    assert [x.nodeid.rsplit(".", 1)[1] for x in recorded.failing_tests] == [
        "test_list_servers", "test_invalid_ip_v6_address", "test_never_ran"]


def test_a_required_test_that_did_not_run_fails_a_flagged_one_is_skipped(recorded):
    t = _by_name(recorded)
    missing = t["test_never_ran"]
    assert missing.outcome == "failed" and missing.reason.startswith("did not run: ")
    assert missing.duration == 0.0 and missing.capability == "compute-keypairs-missing"
    gone = t["test_gone"]
    assert gone.outcome == "skipped" and not gone.failing
    assert gone.reason.startswith("flagged by the guideline (removed from Tempest); did not run: ")


def test_a_flagged_failure_is_an_expected_failure_and_the_run_passes():
    g = _guideline()
    sel = [s for s in select(g) if s.test.flagged]
    tid = f"{NEGATIVE}.test_resize_server_with_null_flavor[id-45436a7d-a388-4a35-a9d8-3adc5d0d940b,negative]"
    rows = summary.verdicts(sel, [TempestResult(tid, "fail", 2.5, "Traceback...\nValueError: resize broke")],
                            listed=[tid])
    result = _result(rows)
    resize, gone = result.tests
    assert resize.outcome == "xfail" and resize.duration == 2.5
    assert resize.reason == "flagged by the guideline (resize is optional); failed: ValueError: resize broke"
    assert "resize broke" in resize.longrepr
    assert gone.outcome == "skipped" and "this Tempest has no test with this idempotent id" in gone.reason
    assert summary.required_failures(rows) == [] and result.verdict == "PASS"


def test_the_capabilities_are_the_guidelines(recorded):
    assert list(recorded.by_capability()) == sorted(_guideline().capabilities)
    rows = {r.capability: r.status for r in coverage(recorded.tests, _guideline())}
    assert rows == {"compute-flavors-list": "passed", "compute-servers-list": "failed",
                    "compute-servers-invalid": "failed", "compute-servers-resize": "skipped",
                    "compute-keypairs-missing": "failed"}


def test_the_node_id_is_the_guidelines_name_when_tempest_ran_an_alias():
    old = "tempest.api.identity.v3.test_old.TokensTest.test_create"
    new = "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token"
    cap = Capability("identity-v3-tokens-create", "keystone", "", False, "",
                     (TempestTest(old, _uuid(5), aliases=(new,)),))
    g = Guideline("t", {cap.name: cap}, {"os_powered_compute": {"required": (cap.name,)}})
    rows = summary.verdicts(select(g), [TempestResult(f"{new}[id-{_uuid(5)},smoke]", "pass", 0.3)])
    (test,) = _result(rows).tests
    assert test.nodeid == f"tempest/{old}" and test.outcome == "passed" and test.capability_id == _uuid(5)


def test_passwords_in_tracebacks_are_redacted(tmp_path):
    g = _guideline()
    tid = f"{NEGATIVE}.test_invalid_ip_v6_address[id-5226dd80-1e9c-4d8a-b5f9-b26ca4763fd0,negative]"
    tb = ("Traceback (most recent call last):\n"
          f"  body: {{\"auth\": {{\"password\": \"other-pw-123\"}}, \"note\": \"{PASSWORD}\"}}\n"
          f"tempest.lib.exceptions.BadRequest: Bad request | Details: sent {PASSWORD}")
    rows = summary.verdicts(select(g), [TempestResult(tid, "fail", 1.0, tb)])
    result = _result(rows, secrets=[PASSWORD], extra={"tempest leftovers": f"user x ({PASSWORD})"})
    test = _by_name(result)["test_invalid_ip_v6_address"]
    assert test.reason.startswith("tempest.lib.exceptions.BadRequest: Bad request")
    for text in (test.reason, test.longrepr, json.dumps(result.environment.extra)):
        assert PASSWORD not in text and "other-pw-123" not in text
    assert "<redacted>" in test.longrepr
    write_report(result, tmp_path)
    for name in ("summary.json", "junit.xml", "summary.md", "report.html"):
        text = (tmp_path / name).read_text()
        assert PASSWORD not in text and "other-pw-123" not in text, name


def test_the_report_files_and_summary_json_round_trip(recorded, tmp_path):
    written = write_report(recorded, tmp_path / "tempest")
    assert sorted(p.name for p in written) == ["junit.xml", "report.html", "summary.json", "summary.md"]
    back = RunResult.from_json((tmp_path / "tempest" / "summary.json").read_text())
    assert back == recorded.redacted()
    assert [(t.nodeid, t.outcome, t.capability, t.capability_id) for t in back.tests] == \
        [(t.nodeid, t.outcome, t.capability, t.capability_id) for t in recorded.tests]
    assert back.verdict == "FAIL" and back.counts()["failed"] == 3
    junit = (tmp_path / "tempest" / "junit.xml").read_text()
    assert 'name="capability" value="compute-flavors-list"' in junit
    assert "test_list_flavors" in (tmp_path / "tempest" / "report.html").read_text()


def test_merged_like_a_suite_its_node_ids_keep_one_prefix(recorded):
    merged = merge_results("ci1234", {"tempest": recorded}, started=recorded.started, finished=recorded.finished)
    assert [t.nodeid for t in merged.tests] == [t.nodeid for t in recorded.tests]
    assert merged.environment.versions["stestr"] == "4.2.1"


def test_an_unknown_status_is_refused():
    (s,) = select(_guideline(), include_flagged=False)[:1]
    with pytest.raises(ValueError):
        report.to_test_result(summary.Verdict(s, "exists"))


def test_times_and_versions():
    assert report.iso_time(0) == "1970-01-01T00:00:00+00:00"
    assert report.iso_time().endswith("+00:00")
    versions = report.tool_versions(("tempest", "stestr", "no-such-package-octoprobe"))
    assert set(versions) == {"tempest", "stestr"}
