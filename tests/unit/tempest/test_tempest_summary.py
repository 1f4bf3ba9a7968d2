"""Verdicts per required test: results, class set-up failures, tests that did not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoprobe.interop import Capability, Guideline, TempestTest, load_guideline
from octoprobe.tempest import summary
from octoprobe.tempest.results import TempestResult, parse_subunit
from octoprobe.tempest.testlist import select

SAMPLE = Path(__file__).parent / "data" / "tempest-sample.subunit"
MOD = "tempest.api.compute.servers.test_create_server"


def _uuid(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


def _guideline() -> Guideline:
    tests = {
        "compute-flavors-list": (TempestTest("tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON"
                                             ".test_list_flavors", "e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59"),),
        "compute-servers-list": (
            # a class whose set-up failed; the alias names a subclass whose set-up skipped
            TempestTest(f"{MOD}.ServersTestJSON.test_list_servers", _uuid(1),
                        aliases=(f"{MOD}.ServersTestManualDisk.test_list_servers",)),
            # only in the subclass: its skip applies
            TempestTest(f"{MOD}.ServersTestManualDisk.test_other", _uuid(2)),
        ),
        "compute-servers-invalid": (TempestTest("tempest.api.compute.servers.test_servers_negative"
                                                ".ServersNegativeTestJSON.test_invalid_ip_v6_address",
                                                "5226dd80-1e9c-4d8a-b5f9-b26ca4763fd0"),),
        "compute-servers-resize": (
            TempestTest("tempest.api.compute.servers.test_servers_negative.ServersNegativeTestJSON"
                        ".test_resize_server_with_null_flavor", "45436a7d-a388-4a35-a9d8-3adc5d0d940b",
                        flagged="resize is optional"),
            TempestTest("tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_gone",
                        _uuid(3), flagged="flagged"),
        ),
        "compute-keypairs-missing": (TempestTest("tempest.api.compute.keypairs.X.test_never_ran", _uuid(4)),),
    }
    caps = {name: Capability(name, "nova", "", False, "", ts) for name, ts in tests.items()}
    return Guideline("t", caps, {"os_powered_compute": {"required": tuple(caps)}})


def _rows():
    g = _guideline()
    return g, summary.verdicts(select(g), parse_subunit(SAMPLE.read_bytes()))


def test_verdicts_of_the_recorded_run():
    _, rows = _rows()
    by_name = {v.selected.test.name.rsplit(".", 1)[1]: v for v in rows}
    assert by_name["test_list_flavors"].status == "pass"
    assert by_name["test_list_flavors"].test_id.endswith(",smoke]")
    listed = by_name["test_list_servers"]
    assert listed.status == "fail"  # the guideline's own class failed: that wins over the alias's skip
    assert listed.reason.startswith("setUpClass failed:\n") and "os-interface" in listed.reason
    assert by_name["test_other"].status == "skip" and "DiskConfig" in by_name["test_other"].reason
    assert by_name["test_invalid_ip_v6_address"].status == "fail"
    assert by_name["test_resize_server_with_null_flavor"].status == "skip"
    assert by_name["test_never_ran"].status == summary.NOT_RUN and by_name["test_never_ran"].failed
    assert by_name["test_gone"].status == summary.NOT_RUN


def test_counts_and_required_failures_leave_flagged_tests_out():
    _, rows = _rows()
    assert summary.service_counts(rows) == {"compute": {"pass": 1, "fail": 2, "skip": 2, "not run": 2}}
    failing = [v.selected.test.name.rsplit(".", 1)[1] for v in summary.required_failures(rows)]
    assert failing == ["test_list_servers", "test_invalid_ip_v6_address", "test_never_ran"]  # not test_gone


def test_a_subclass_result_counts_only_when_the_guideline_class_did_not_run():
    g = _guideline()
    sel = select(g)
    sub = f"{MOD}.ServersTestManualDisk.test_list_servers[id-{_uuid(1)}]"
    own = f"{MOD}.ServersTestJSON.test_list_servers[id-{_uuid(1)}]"
    rows = summary.verdicts(sel, [TempestResult(sub, "fail", 1.0, "boom"), TempestResult(own, "pass", 1.0)])
    assert next(v for v in rows if v.selected.idempotent_id == _uuid(1)).status == "pass"
    rows = summary.verdicts(sel, [TempestResult(sub, "fail", 1.0, "boom")])
    assert next(v for v in rows if v.selected.idempotent_id == _uuid(1)).status == "fail"


def test_capability_coverage_and_rendering():
    g, rows = _rows()
    cov = {c.capability: c for c in summary.capability_coverage(rows, g, ["compute"])}
    assert cov["compute-flavors-list"].status == "passed"
    assert cov["compute-servers-list"].status == "failed"
    assert cov["compute-keypairs-missing"].status == "failed"
    text = summary.render_summary(rows)
    assert text.splitlines()[1].split() == ["compute", "1", "2", "2", "2"]
    assert "NOT RUN compute-keypairs-missing: tempest.api.compute.keypairs.X.test_never_ran" in text
    assert "(flagged: does not fail the run)" in text
    assert "skipped:" in text and "Resize not available." in text


def test_teardown_failures():
    results = [TempestResult("tearDownClass (tempest.api.x.T)", "fail", None, "SubnetInUse"),
               TempestResult("setUpClass (tempest.api.x.T)", "fail", None, "boom"),
               TempestResult("tearDownClass (tempest.api.x.U)", "skip", None, "")]
    assert summary.teardown_failures(results) == results[:1]


def test_not_run_says_whether_tempest_has_the_test():
    g = _guideline()
    listed = [f"tempest.api.compute.keypairs.X.test_never_ran[id-{_uuid(4)}]"]
    rows = {v.selected.test.name.rsplit(".", 1)[1]: v for v in summary.verdicts(select(g), [], listed)}
    assert rows["test_never_ran"].reason == "no result: the run was cut short or the test did not report"
    assert rows["test_gone"].reason == "this Tempest has no test with this idempotent id"
    assert all(v.status == summary.NOT_RUN for v in rows.values())


def test_a_failed_tear_down_does_not_turn_a_skipped_class_into_a_failure():
    g = _guideline()
    rows = summary.verdicts(select(g), [
        TempestResult(f"setUpClass ({MOD}.ServersTestManualDisk)", "skip", None, "DiskConfig extension not enabled."),
        TempestResult(f"tearDownClass ({MOD}.ServersTestManualDisk)", "fail", None, "cleanup failed"),
    ])
    other = next(v for v in rows if v.selected.test.name.endswith("test_other"))
    assert other.status == "skip" and "DiskConfig" in other.reason


def test_verdicts_listed_match_exact_ids_fixture_errors_and_not_run():
    from octoprobe.tempest import testlist
    from octoprobe.tempest.summary import verdicts_listed

    base = "tempest.api.compute.servers.test_a.ServersTest.test_x[id-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee]"
    sub = base.replace("ServersTest", "ServersSubTest")
    broken = "tempest.api.compute.servers.test_b.BrokenTest.test_y[id-bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee]"
    lost = "tempest.api.compute.servers.test_c.LostTest.test_z[id-cccccccc-bbbb-cccc-dddd-eeeeeeeeeeee]"
    selected = testlist.select_listed([base, sub, broken, lost])
    results = [TempestResult(base, "pass", 1.0), TempestResult(sub, "fail", 2.0, "boom"),
               TempestResult("setUpClass (tempest.api.compute.servers.test_b.BrokenTest)", "fail", 0.0, "no net")]
    rows = verdicts_listed(selected, results)
    assert [(v.status, v.duration) for v in rows[:2]] == [("pass", 1.0), ("fail", 2.0)]
    assert rows[2].status == "fail" and "setUpClass failed" in rows[2].reason and "no net" in rows[2].reason
    assert rows[3].status == "not run" and rows[3].failed
    with pytest.raises(ValueError, match="not selected from a listing"):
        verdicts_listed(select(load_guideline(), ["identity"])[:1], [])
