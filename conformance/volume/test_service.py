"""volumes-list-api-versions, volumes-v3-availability-zones and
volumes-v3-extensions: what the Block Storage API says about itself."""

from __future__ import annotations

import pytest

from octoprobe.schemas import APIVersion

from .cinder import MICROVERSION, check_error, check_status, json_body

VERSIONS = "volumes-list-api-versions"
ZONES = "volumes-v3-availability-zones"
EXTENSIONS = "volumes-v3-extensions"


def _v3(versions: list) -> dict:
    v3 = [v for v in versions if v["id"] in ("v3.0", "v3")]
    assert v3, f"the versions listed are {[v['id'] for v in versions]}, without v3.0"
    return v3[0]


@pytest.mark.capability(VERSIONS, "77838fc4-b49b-4c64-9533-166762517369")
def test_list_versions(cinder, schemas):
    """GET on the unversioned root: 300 (Cinder; 200 tolerated) with the
    versions; v3.0 is CURRENT, its microversion range includes 3.0, and it
    links to itself."""
    resp = cinder.conn.session.get(cinder.root() + "/", raise_exc=False, headers={"Accept": "application/json"},
                                   redirect=False)
    check_status(resp, 300, 200)
    versions = schemas.validate("volume/versions", json_body(resp))["versions"]
    ids = [v["id"] for v in versions]
    assert len(ids) == len(set(ids)), f"a version is listed twice: {ids}"
    v3 = _v3(versions)
    assert v3["status"] == "CURRENT", f"v3.0 is {v3['status']!r}, not CURRENT"
    low, high = APIVersion.parse(v3["min_version"]), APIVersion.parse(v3["version"])
    assert low <= APIVersion.parse(MICROVERSION) <= high, f"v3.0's range {low} to {high} lacks {MICROVERSION}"
    assert any(link["rel"] == "self" for link in v3["links"]), "v3.0 has no self link"


@pytest.mark.capability(VERSIONS, "e7069711-bf73-49a5-8a14-c56004c2454b")
def test_v3_version_document_and_header(cinder, schemas):
    """GET /v3/: the v3.0 document (200), with the root's range; a request
    at 3.0 is answered with ``OpenStack-API-Version: volume 3.0``."""
    resp = cinder.conn.session.get(cinder.root() + "/v3/", raise_exc=False, headers={"Accept": "application/json"})
    check_status(resp, 200)
    v3 = _v3(schemas.validate("volume/versions", json_body(resp))["versions"])
    assert APIVersion.parse(v3["min_version"]) <= APIVersion.parse(MICROVERSION), f"v3's range is {v3}"
    resp = cinder.request("GET", "/volumes?limit=1")
    check_status(resp, 200)
    announced = resp.headers.get("OpenStack-API-Version") or ""
    assert announced.lower() == f"volume {MICROVERSION}", (
        f"a request for volume {MICROVERSION} is answered with OpenStack-API-Version {announced!r}")


@pytest.mark.capability(VERSIONS, "872ad23b-5192-4c3d-a122-f9943650499e")
def test_unsupported_microversion_is_406(cinder, schemas):
    """A microversion far above any Cinder's maximum: 406 with an error body."""
    check_error(schemas, cinder.request("GET", "/volumes", microversion="3.1000"), 406)


@pytest.mark.capability(ZONES, "01f1ae88-eba9-4c6b-a011-6f7ace06b725")
def test_get_availability_zone_list(cinder, volume, schemas):
    """GET /os-availability-zone: 200, at least one zone, named once each;
    the zone the shared volume was put in is listed and available."""
    zones = cinder.get("/os-availability-zone", "volume/availability-zones")["availabilityZoneInfo"]
    names = [z["zoneName"] for z in zones]
    assert names, "GET /os-availability-zone lists no zone"
    assert len(names) == len(set(names)), f"a zone is listed twice: {names}"
    mine = [z for z in zones if z["zoneName"] == volume["availability_zone"]]
    assert mine, f"the shared volume's zone {volume['availability_zone']!r} is not among {names}"
    assert mine[0]["zoneState"]["available"] is True, f"zone {volume['availability_zone']} is not available"


@pytest.mark.capability(EXTENSIONS, "94607eb0-43a5-47ca-82aa-736b41bd2e2c")
def test_list_extensions(cinder, schemas):
    """GET /extensions: 200, every extension with alias, name, description,
    links and updated; aliases unique; the ones a 3.0 client relies on
    (availability zones, volume actions, tenant attribute) listed."""
    extensions = cinder.get("/extensions", "volume/extensions")["extensions"]
    aliases = [e["alias"] for e in extensions]
    assert len(aliases) == len(set(aliases)), f"an extension is listed twice: {aliases}"
    missing = {"os-availability-zone", "os-volume-actions", "os-vol-tenant-attr"} - set(aliases)
    assert not missing, f"GET /extensions lacks {sorted(missing)} (lists {aliases})"
