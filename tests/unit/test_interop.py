"""octoprobe.interop: loading the interop guideline, and coverage by capability."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from octoprobe.interop import (
    EXTRA_CAPABILITIES,
    FAILED,
    PASSED,
    SKIPPED,
    UNTESTED,
    GuidelineError,
    coverage,
    coverage_to_dict,
    load_guideline,
    render_table,
    service_of,
)
from octoprobe.report.model import TestResult

IDENTITY = [
    "identity-v3-api-discovery",
    "identity-v3-catalog",
    "identity-v3-list-projects",
    "identity-v3-tokens-create",
    "identity-v3-tokens-delete",
    "identity-v3-tokens-validate",
]


@pytest.fixture(scope="module")
def guideline():
    return load_guideline()


def raw_guideline() -> dict:
    return json.loads(resources.files("octoprobe").joinpath("data", "interop-2020.06.json").read_text())


# ---------------------------------------------------------------- loading


def test_bundled_guideline_lists_required_capabilities_per_component(guideline):
    assert guideline.id == "2020.06"
    assert set(guideline.components) == {"os_powered_compute", "os_powered_storage"}
    compute = guideline.required("os_powered_compute")
    assert len(compute) == 60
    assert [c.name for c in guideline.required(service="identity")] == IDENTITY
    counts = {service: len(caps) for service, caps in guideline.required_by_service().items()}
    assert counts == {"compute": 30, "identity": 6, "image": 5, "network": 6, "block-storage": 13}
    storage = [c.name for c in guideline.required("os_powered_storage", service="identity")]
    assert storage == ["identity-v3-tokens-create", "identity-v3-tokens-delete"]


def test_capabilities_carry_tempest_tests_and_ids(guideline):
    create = guideline.capability("identity-v3-tokens-create")
    assert create.project == "keystone" and create.service == "identity" and not create.admin
    assert create.tests[0].name == "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token"
    assert create.test_ids() == ["6f8e4436-fc96-4282-8122-e41df57197a9"]  # without Tempest's "id-"
    # 2020.06 misspells "description" for this one
    assert guideline.capability("identity-v3-tokens-delete").description.startswith("Delete (revoke)")
    flagged = guideline.capability("identity-v3-list-projects").tests[0]
    assert flagged.flagged and "two user credentials" in flagged.flagged
    discovery = guideline.capability("identity-v3-api-discovery").tests[0]
    assert discovery.aliases == ("tempest.api.identity.v3.TestApiDiscovery.test_api_version_resources",)
    cap, test = guideline.by_idempotent_id()["a9512ac3-3909-48a4-b395-11f438e16260"]
    assert cap.name == "identity-v3-tokens-validate" and test.name.endswith("test_validate_token")


def test_unknown_names_say_what_exists(guideline):
    with pytest.raises(GuidelineError, match="no component 'os_powered_dns'.*os_powered_compute"):
        guideline.required("os_powered_dns")
    with pytest.raises(GuidelineError, match="no capability 'identity-v9'"):
        guideline.capability("identity-v9")
    with pytest.raises(GuidelineError, match="no bundled interop guideline '1999.01'"):
        load_guideline("1999.01")
    with pytest.raises(GuidelineError, match="cannot read interop guideline"):
        load_guideline("/nonexistent/guideline.json")


def test_guideline_from_a_file(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(raw_guideline()))
    assert load_guideline(path).required(service="identity")[0].name == "identity-v3-api-discovery"
    assert load_guideline(str(path)).source == str(path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["metadata"].update(schema="1.6"), r"metadata.schema must be '2.0'"),
        (lambda d: d.pop("capabilities"), r"needs 'capabilities' and 'components'"),
        (
            lambda d: d["components"]["os_powered_compute"]["capabilities"]["required"].append("compute-teleport"),
            r"components.os_powered_compute.capabilities.required names unknown capabilities: compute-teleport",
        ),
        (
            lambda d: d["capabilities"]["identity-v3-catalog"]["tests"][
                "tempest.api.identity.v3.test_catalog.IdentityCatalogTest.test_catalog_standardization"
            ].pop("idempotent_id"),
            r"capabilities.identity-v3-catalog.tests.*idempotent_id must be a non-empty string",
        ),
        (lambda d: d["capabilities"]["identity-v3-catalog"].pop("tests"), r"identity-v3-catalog: needs a 'tests'"),
    ],
)
def test_malformed_guidelines_are_refused_with_the_key(tmp_path, mutate, message):
    data = copy.deepcopy(raw_guideline())
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(GuidelineError, match=message):
        load_guideline(path)


def test_invalid_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{")
    with pytest.raises(GuidelineError, match="invalid JSON"):
        load_guideline(path)


def test_service_of(guideline):
    assert service_of("identity-v3-catalog", guideline) == "identity"
    assert service_of("volumes-v3-clone", guideline) == "block-storage"
    assert service_of("images-v2-list") == "image"
    assert all(service_of(name) == {"identity": "identity", "dreamcompute": "network"}[name.split("-", 1)[0]]
               for name in EXTRA_CAPABILITIES)
    assert service_of("dreamcompute-floating-ip-reach") == "network"


# ---------------------------------------------------------------- coverage


def result(capability, outcome, reason="", test_id=None, nodeid="t.py::x"):
    return {"capability": capability, "outcome": outcome, "reason": reason, "capability_id": test_id, "nodeid": nodeid}


def by_name(rows):
    return {r.capability: r for r in rows}


def test_coverage_statuses(guideline):
    rows = by_name(
        coverage(
            [
                result("identity-v3-tokens-create", "passed"),
                result("identity-v3-tokens-create", "failed", "AssertionError: expected 401", "id-1"),
                result("identity-v3-catalog", "passed"),
                result("identity-v3-catalog", "skipped", "needs an admin cloud", "id-2"),
                result("identity-v3-list-projects", "skipped", "needs a second tenant", "id-3"),
                result("identity-v3-tokens-delete", "error", "teardown failed", None, "t.py::y"),
                result("identity-v3-tokens-validate", "xfail", "known bug"),
                result("identity-v3-tokens-validate", "xpass", "known bug"),
                result(None, "failed", "no capability: ignored"),
            ],
            guideline,
            services=["identity"],
        )
    )
    assert set(rows) == set(IDENTITY)  # only identity's required ones, plus what tests carried
    create = rows["identity-v3-tokens-create"]
    assert (create.status, create.passed, create.failed, create.skipped) == (FAILED, 1, 1, 0)
    assert create.reasons == ["failed id-1: AssertionError: expected 401"]
    catalog = rows["identity-v3-catalog"]
    assert catalog.status == PASSED and catalog.reasons == ["skipped id-2: needs an admin cloud"]
    assert rows["identity-v3-list-projects"].status == SKIPPED
    assert rows["identity-v3-tokens-delete"].status == FAILED
    assert rows["identity-v3-tokens-delete"].reasons == ["error t.py::y: teardown failed"]
    validate = rows["identity-v3-tokens-validate"]
    assert (validate.status, validate.passed, validate.skipped) == (PASSED, 1, 1)
    assert rows["identity-v3-api-discovery"].status == UNTESTED
    assert all(r.required and r.in_guideline and r.service == "identity" for r in rows.values())


def test_coverage_order_extras_and_scope(guideline):
    rows = coverage(
        [
            result("identity-v3-rbac", "passed"),
            result("identity-v3-catalog", "failed", "boom"),
            result("compute-flavors-list", "passed"),
        ],
        guideline,
    )
    names = [r.capability for r in rows]
    assert len(rows) == 61  # every required capability of os_powered_compute, plus the extra one
    assert names.index("compute-flavors-list") < names.index("identity-v3-catalog")  # by service first
    identity = [r for r in rows if r.service == "identity"]
    assert identity[0].capability == "identity-v3-catalog"  # failed first
    assert identity[-1].capability == "identity-v3-rbac"  # passed last
    extra = by_name(rows)["identity-v3-rbac"]
    assert not extra.in_guideline and not extra.required
    only_compute = coverage([result("compute-flavors-list", "passed")], guideline, services={"compute"})
    assert {r.service for r in only_compute} == {"compute"} and len(only_compute) == 30


def test_coverage_without_a_guideline_and_from_test_results():
    tests = [
        TestResult(nodeid="a", outcome="passed", capability="identity-v3-catalog", capability_id="x"),
        TestResult(nodeid="b", outcome="skipped", reason="no", capability="identity-v3-catalog", capability_id="y"),
        TestResult(nodeid="c", outcome="passed"),
    ]
    (row,) = coverage(tests)
    assert (row.capability, row.status, row.passed, row.skipped, row.in_guideline) == (
        "identity-v3-catalog",
        PASSED,
        1,
        1,
        False,
    )
    assert row.reasons == ["skipped y: no"]


def test_coverage_reasons_are_redacted_and_outcomes_checked(guideline):
    (row,) = coverage([result("identity-v3-catalog", "failed", "bad auth: password=hunter2\n  more")], guideline,
                      services=())
    assert "hunter2" not in row.reasons[0] and "\n" not in row.reasons[0]
    with pytest.raises(ValueError, match="unknown test outcome 'weird'"):
        coverage([result("identity-v3-catalog", "weird")], guideline)


def test_render_table_and_json(guideline):
    rows = coverage(
        [
            result("identity-v3-catalog", "passed"),
            result("identity-v3-tokens-create", "failed", "x" * 300, "id-1"),
            result("identity-v3-list-projects", "skipped", "needs a second tenant", "id-2"),
            result("identity-v3-list-projects", "skipped", "needs an admin cloud", "id-3"),
            result("identity-v3-rbac", "passed"),
        ],
        guideline,
        services=["identity"],
    )
    table = render_table(rows)
    lines = table.splitlines()
    assert lines[0].split() == ["capability", "status", "pass", "fail", "skip", "reason"]
    row = next(line for line in lines if line.startswith("identity-v3-tokens-create"))
    assert row.split()[1:5] == ["FAILED", "0", "1", "0"] and row.endswith("...")
    assert any(line.strip() == "skipped id-3: needs an admin cloud" for line in lines)  # continuation line
    assert any(line.startswith("identity-v3-tokens-delete") and "untested" in line and "no test in this run" in line
               for line in lines)
    assert any(line.startswith("identity-v3-rbac *") for line in lines)
    assert lines[-1].startswith("7 capabilities: 2 passed, 1 failed, 1 skipped, 3 untested")
    assert "not in the interop guideline" in lines[-1]
    assert render_table([]).startswith("no capabilities")

    data = coverage_to_dict(rows, guideline)
    assert data["guideline"] == "2020.06" and data["component"] == "os_powered_compute"
    assert data["totals"] == {"passed": 2, "failed": 1, "skipped": 1, "untested": 3}
    assert data["capabilities"][0]["capability"] == "identity-v3-tokens-create"
    assert json.loads(json.dumps(data)) == data
