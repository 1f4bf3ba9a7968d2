"""identity-v3-api-discovery: the version documents of the Identity API.

The first three mirror Tempest's TestApiDiscovery (same idempotent ids)."""

from __future__ import annotations

import re

import pytest

from .keystone import check_status, json_body

CAPABILITY = "identity-v3-api-discovery"
MEDIA_TYPE = ("application/json", "application/vnd.openstack.identity-v3+json")


def _v3(keystone, schemas) -> dict:
    resp = keystone.request("GET", "/")
    check_status(resp, 200)
    return schemas.validate("identity/version", json_body(resp))["version"]


@pytest.mark.capability(CAPABILITY, "b9232f5e-d9e5-4d97-b96c-28d3db4de1bd")
def test_api_version_resources(keystone, schemas):
    """GET /v3 describes the version: id, links (with self), media-types, status, updated."""
    version = _v3(keystone, schemas)
    for key in ("id", "links", "media-types", "status", "updated"):
        assert key in version, f"the v3 version document has no {key!r}: {sorted(version)}"
    assert version["id"].startswith("v3"), f"GET /v3 describes {version['id']!r}, not v3.x"
    rels = {link["rel"] for link in version["links"]}
    assert "self" in rels, f"the v3 version document has no 'self' link (rels: {sorted(rels)})"


@pytest.mark.capability(CAPABILITY, "657c1970-4722-4189-8831-7325f3bc4265")
def test_api_media_types(keystone, schemas):
    """The v3 document offers the identity-v3 JSON media type."""
    version = _v3(keystone, schemas)
    offered = [(m["base"], m["type"]) for m in version["media-types"]]
    assert MEDIA_TYPE in offered, f"media-types {offered} lack {MEDIA_TYPE}"


@pytest.mark.capability(CAPABILITY, "8879a470-abfb-47bb-bb8d-5a7fd279ad1e")
def test_api_version_statuses(keystone, schemas):
    """The v3 status is one of current, stable, experimental, supported, deprecated."""
    version = _v3(keystone, schemas)
    assert version["status"].lower() in ("current", "stable", "experimental", "supported", "deprecated")


@pytest.mark.capability(CAPABILITY, "4a51c2a8-f196-4308-9174-c3ad3f2d670a")
def test_version_discovery_without_a_token(conn, schemas):
    """The unversioned root lists v3 (300 Multiple Choices or 200), needs no
    token, and v3's self link leads to the same version document."""
    endpoint = conn.endpoint_for("identity")
    root = re.sub(r"/v[0-9.]+/?$", "", endpoint.rstrip("/"))
    resp = conn.session.get(root + "/", authenticated=False, raise_exc=False, headers={"Accept": "application/json"},
                            redirect=False)
    check_status(resp, 300, 200)
    versions = schemas.validate("identity/versions", json_body(resp))["versions"]["values"]
    v3 = [v for v in versions if v["id"].startswith("v3")]
    assert v3, f"version discovery at {root}/ lists no v3: {[v['id'] for v in versions]}"
    assert v3[0]["status"].lower() in ("current", "stable", "supported")
    self_link = next((link["href"] for link in v3[0]["links"] if link["rel"] == "self"), None)
    assert self_link, "v3 has no self link in version discovery"
    resp = conn.session.get(self_link, authenticated=False, raise_exc=False, headers={"Accept": "application/json"})
    check_status(resp, 200)
    doc = schemas.validate("identity/version", json_body(resp))["version"]
    assert doc["id"] == v3[0]["id"], f"{self_link} describes {doc['id']}, discovery said {v3[0]['id']}"
