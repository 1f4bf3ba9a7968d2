"""networks-list-api-versions: the network endpoint's versions document
(GET / of the endpoint), the v2.0 API's resources (GET /v2.0/) and its
extensions (GET /v2.0/extensions[/{alias}])."""

from __future__ import annotations

import pytest

from .neutron import check_error, check_status, json_body

VERSIONS = "networks-list-api-versions"

#: The resources every Neutron v2.0 API has (the core API and the router and security group extensions).
CORE_RESOURCES = {"networks", "subnets", "ports"}


@pytest.mark.capability(VERSIONS, "cac8a836-c2e0-4304-b556-cd299c7281d1")
def test_api_version_resources(neutron, schemas):
    """GET / of the network endpoint: 200 with the versions, one of them
    CURRENT; v2.0 among them with a self link."""
    resp = neutron.root_request()
    check_status(resp, 200)
    versions = schemas.validate("network/versions", json_body(resp))["versions"]
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert current, f"no version is CURRENT: {versions}"
    by_id = {v["id"]: v for v in versions}
    assert "v2.0" in by_id, f"the versions document lacks v2.0: {sorted(by_id)}"
    rels = {link["rel"] for link in by_id["v2.0"]["links"]}
    assert "self" in rels, f"v2.0 has no self link: {by_id['v2.0']['links']}"


@pytest.mark.capability(VERSIONS, "2a2c989c-6fb0-48e8-9061-18a05bb6004b")
def test_v2_lists_its_resources(neutron, schemas):
    """GET /v2.0/: 200 with the API's resources; networks, subnets and ports
    among them, each with a self link."""
    resp = neutron.request("GET", "/")
    check_status(resp, 200)
    resources = schemas.validate("network/resources", json_body(resp))["resources"]
    collections = {r["collection"] for r in resources}
    assert CORE_RESOURCES <= collections, f"GET /v2.0/ lacks {sorted(CORE_RESOURCES - collections)}"
    for resource in resources:
        assert any(link["rel"] == "self" for link in resource["links"]), f"{resource['name']} has no self link"


@pytest.mark.capability(VERSIONS, "bd689dc2-dd7b-4a1d-8f82-74636ccdfbd0")
def test_list_and_show_extensions(neutron, schemas):
    """GET /v2.0/extensions: 200 with the extensions (aliases unique, the
    router and security-group ones included); each shown by its alias."""
    extensions = neutron.get("/extensions", "network/extensions")["extensions"]
    aliases = [e["alias"] for e in extensions]
    assert len(aliases) == len(set(aliases)), f"aliases repeat: {sorted(aliases)}"
    assert {"router", "security-group"} <= set(aliases), f"extensions lack router or security-group: {aliases}"
    for alias in ("router", "security-group"):
        shown = neutron.get(f"/extensions/{alias}", "network/extension")["extension"]
        listed = next(e for e in extensions if e["alias"] == alias)
        assert shown == listed, f"GET /extensions/{alias} shows {shown}; the list says {listed}"


@pytest.mark.capability(VERSIONS, "5b902253-0c87-43fa-a6e4-6130e6a15721")
def test_unknown_extension_is_404(neutron, schemas):
    """GET /v2.0/extensions/{unknown alias}: 404 with Neutron's error body."""
    check_error(schemas, neutron.request("GET", "/extensions/octoprobe-no-such-extension"), 404)
