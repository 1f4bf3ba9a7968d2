"""compute-list-api-versions: the version documents of the Compute API."""

from __future__ import annotations

import re

import pytest

from octoprobe.schemas import APIVersion

from .nova import check_error, check_status, json_body

CAPABILITY = "compute-list-api-versions"


def _root(nova) -> str:
    endpoint = nova.conn.endpoint_for("compute")
    return re.sub(r"/v[0-9.]+(/[0-9a-f]{32})?/?$", "", endpoint.rstrip("/"))


@pytest.mark.capability(CAPABILITY, "6c0a0990-43b6-4529-9b61-5fd8daf7c55c")
def test_list_api_versions(nova, schemas):
    """GET on the unversioned root (200 or 300): the versions, v2.0 first,
    and v2.1 with a microversion range starting at 2.1."""
    resp = nova.conn.session.get(_root(nova) + "/", raise_exc=False, headers={"Accept": "application/json"},
                                 redirect=False)
    check_status(resp, 200, 300)
    versions = schemas.validate("compute/versions", json_body(resp))["versions"]
    ids = [v["id"] for v in versions]
    assert ids[0] == "v2.0", f"the first version listed is {ids[0]!r}, not v2.0 (versions: {ids})"
    v21 = [v for v in versions if v["id"] == "v2.1"]
    assert v21, f"GET {_root(nova)}/ does not list v2.1: {ids}"
    assert v21[0]["min_version"] == "2.1", f"v2.1's min_version is {v21[0]['min_version']!r}, not 2.1"
    assert APIVersion.parse(v21[0]["version"]) >= APIVersion.parse("2.1"), f"v2.1's version is {v21[0]['version']!r}"
    assert v21[0]["status"].upper() == "CURRENT", f"v2.1 is {v21[0]['status']!r}, not CURRENT"


@pytest.mark.capability(CAPABILITY, "221bbf8d-b4be-46ca-ad32-7531aed76312")
def test_v21_version_document(nova, schemas):
    """GET /v2.1/: the v2.1 document, its self link, and a range the same as
    the root's; the version of a response is announced in its header."""
    resp = nova.request("GET", "/", microversion=None)
    check_status(resp, 200)
    doc = schemas.validate("compute/version", json_body(resp))["version"]
    assert doc["id"] == "v2.1", f"GET /v2.1/ describes {doc['id']!r}"
    assert any(link["rel"] == "self" for link in doc["links"]), "the v2.1 document has no self link"
    low, high = APIVersion.parse(doc["min_version"]), APIVersion.parse(doc["version"])
    assert low <= high, f"min_version {low} is above version {high}"
    resp = nova.request("GET", "/flavors", microversion=str(high))
    check_status(resp, 200)
    announced = resp.headers.get("OpenStack-API-Version") or ""
    legacy = resp.headers.get("X-OpenStack-Nova-API-Version") or ""
    assert announced == f"compute {high}" or legacy == str(high), (
        f"a request for microversion {high} is answered with OpenStack-API-Version {announced!r} / "
        f"X-OpenStack-Nova-API-Version {legacy!r}")


@pytest.mark.capability(CAPABILITY, "feb34193-cfd7-4898-a81d-6178fb6a717c")
def test_unsupported_microversion_is_406(nova, schemas):
    """A request for a microversion above the cloud's maximum: 406 with Nova's error body."""
    _, high = nova.advertised()
    too_high = f"{high.major}.{high.minor + 1000}"
    check_error(schemas, nova.request("GET", "/flavors", microversion=too_high), 406)
