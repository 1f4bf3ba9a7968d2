"""volumes-v3-create-delete, volumes-v3-get and volumes-v3-update: a
volume's life, and how creating, getting, updating and deleting fail.

Every volume a test creates is 1 GiB, carries the run's name prefix and
metadata, and is deleted (and waited for) after its test or module."""

from __future__ import annotations

import uuid

import pytest

from .cinder import check_error, check_status, json_body

CREATE = "volumes-v3-create-delete"
GET = "volumes-v3-get"
UPDATE = "volumes-v3-update"
SNAPSHOT = "volumes-v3-snapshot-create-delete"

#: The fields of a volume at microversion 3.0 that show and the create's 202 agree on.
SAME = ("id", "name", "description", "size", "availability_zone", "volume_type", "snapshot_id", "source_volid",
        "bootable", "metadata", "user_id", "created_at", "encrypted", "multiattach")


def _self_link(volume: dict) -> str:
    return next((link["href"] for link in volume["links"] if link["rel"] == "self"), "")


# ---------------------------------------------------------------- create, get, update, delete


@pytest.mark.capability(CREATE, "27fb0e9f-fb64-41dd-8bdb-1ffa762f0d51")
def test_volume_create_get_update_delete(cinder, resources, schemas):
    """POST /volumes: 202, ``creating``, the name, description, size and
    metadata given; it becomes ``available``; GET shows it as created, in
    the caller's project; PUT changes name and description (200); DELETE:
    202 without a body, then GET is 404."""
    body = cinder.volume_body(description="octoprobe create-get-update-delete", metadata={"octoprobe-k": "v"})
    resp = cinder.post_volume(resources, body)
    check_status(resp, 202)
    created = schemas.validate("volume/volume", json_body(resp))["volume"]
    assert created["status"] in ("creating", "available"), f"a new volume is {created['status']!r}"
    assert (created["name"], created["description"], created["size"]) == (body["name"], body["description"], 1), (
        f"the new volume does not have the name, description and size given: {created}")
    assert created["metadata"] == body["metadata"], f"the new volume's metadata are {created['metadata']}"
    assert created["attachments"] == [] and created["bootable"] == "false", f"a new empty volume: {created}"
    assert _self_link(created).rstrip("/").endswith(f"/volumes/{created['id']}"), f"links {created['links']}"
    shown = cinder.wait_volume(created["id"], "available").value
    for key in SAME:
        assert shown[key] == created[key], f"GET shows {key} {shown[key]!r}; the creation said {created[key]!r}"
    assert shown["user_id"] == cinder.user_id, f"the volume's user_id is {shown['user_id']}, not the caller's"
    tenant = shown.get("os-vol-tenant-attr:tenant_id")
    assert tenant in (None, cinder.project_id), f"the volume belongs to project {tenant}, not the caller's"

    new_name, new_description = cinder.run.name("vol"), "octoprobe updated"
    resp = cinder.request("PUT", f"/volumes/{created['id']}",
                          json={"volume": {"name": new_name, "description": new_description}})
    check_status(resp, 200)
    updated = schemas.validate("volume/volume", json_body(resp))["volume"]
    assert (updated["name"], updated["description"]) == (new_name, new_description), f"PUT answered {updated}"
    shown = cinder.show_volume(created["id"])
    assert (shown["name"], shown["description"]) == (new_name, new_description), f"GET after PUT shows {shown}"
    assert shown["metadata"] == body["metadata"], "changing the name changed the metadata"

    resp = cinder.request("DELETE", f"/volumes/{created['id']}")
    check_status(resp, 202)
    assert not resp.content, f"DELETE /volumes/{{id}} answered 202 with a body: {resp.text[:200]}"
    cinder.wait_volume_gone(created["id"], validate=True)
    check_error(schemas, cinder.request("GET", f"/volumes/{created['id']}"), 404)


# the volumes POST /volumes refuses, as (capability, id, body, status)
INVALID_CREATES = [
    ("invalid-size", "1ed83a8a-682d-4dfb-a30e-ee63ffd6c049", {"size": "#$%"}, 400),
    ("without-size", "9387686f-334f-4d31-a439-33494b9e2683", {"size": ""}, 400),
    ("negative-size", "8b472729-9eba-446e-a83b-916bdb34bef7", {"size": -1}, 400),
    ("zero-size", "41331caa-eaf4-4001-869d-bc18c1869360", {"size": 0}, 400),
    ("no-size-no-source", "bf1cf6ae-bbe1-46d2-9871-705a00350b23", {"size": None}, 400),
    ("nonexistent-volume-type", "10254ed8-3849-454e-862e-3ab8e6aa01d2", {"volume_type": "RANDOM"}, 404),
    ("nonexistent-source-volid", "47c73e08-4be8-45bb-bfdf-0c4e79b88344", {"source_volid": "RANDOM"}, 404),
]


@pytest.mark.parametrize(
    "attrs, status",
    [pytest.param(attrs, status, id=name, marks=pytest.mark.capability(CREATE, test_id))
     for name, test_id, attrs, status in INVALID_CREATES],
)
def test_create_volume_refused(cinder, resources, schemas, attrs, status):
    """POST /volumes with a size that is not a positive integer (400
    ``badRequest``), an unknown volume type or source volume (404
    ``itemNotFound``: Cinder's VolumeTypeNotFound, VolumeNotFound), with
    Cinder's error body; and no volume of that name is made."""
    attrs = {k: (str(uuid.uuid4()) if v == "RANDOM" else v) for k, v in attrs.items()}
    body = {k: v for k, v in cinder.volume_body(**attrs).items() if v is not None}
    check_error(schemas, cinder.post_volume(resources, body), status)
    assert body["name"] not in {v["name"] for v in cinder.list_ours()}, f"a refused {attrs} made a volume"


# ---------------------------------------------------------------- get


@pytest.mark.capability(GET, "f8c7c49c-1893-48f8-be9a-aef6277557be")
def test_get_volume(cinder, volume, schemas):
    """GET /volumes/{id} of the shared volume: 200, the volume as created,
    ``available``, 1 GiB, not attached, in the caller's project, with a self
    link to itself."""
    shown = cinder.show_volume(volume["id"])
    for key in SAME:
        assert shown[key] == volume[key], f"GET shows {key} {shown[key]!r}; before it was {volume[key]!r}"
    assert (shown["status"], shown["size"], shown["attachments"]) == ("available", 1, []), f"GET shows {shown}"
    assert shown["metadata"].get("octoprobe-purpose") == "shared", f"the metadata are {shown['metadata']}"
    assert shown.get("os-vol-tenant-attr:tenant_id") == cinder.project_id, (
        f"os-vol-tenant-attr:tenant_id is {shown.get('os-vol-tenant-attr:tenant_id')!r}, not the caller's project")
    assert _self_link(shown).rstrip("/").endswith(f"/volumes/{volume['id']}"), f"links {shown['links']}"


@pytest.mark.capability(GET, "f131c586-9448-44a4-a8b0-54ca838aa43e")
def test_volume_get_nonexistent_volume_id(cinder, schemas):
    """GET /volumes/{an id that does not exist}: 404 with Cinder's error body."""
    check_error(schemas, cinder.request("GET", f"/volumes/{uuid.uuid4()}"), 404)


@pytest.mark.capability(GET, "30799cfd-7ee4-446c-b66c-45b383ed211b")
def test_get_invalid_volume_id(cinder, schemas):
    """GET /volumes/{not an id at all}: 404 with Cinder's error body."""
    check_error(schemas, cinder.request("GET", "/volumes/%21%40%24%25%5E%2A%28%29"), 404)


@pytest.mark.capability(GET, "c6c3db06-29ad-4e91-beb0-2ab195fe49e3")
def test_get_volume_without_passing_volume_id(cinder, schemas):
    """GET /volumes/ (an empty id) shows no volume: 404 with Cinder's error
    body, or the volume list where a router folds the trailing slash."""
    resp = cinder.request("GET", "/volumes/")
    if resp.status_code == 200:
        body = schemas.validate("volume/volumes", json_body(resp))
        assert "volume" not in body, "GET /volumes/ returned a volume"
    else:
        check_error(schemas, resp, 404)


# ---------------------------------------------------------------- update


@pytest.mark.capability(UPDATE, "0bc573c3-13f4-40db-840f-3d99725dd70c")
def test_update_volume_name_and_description(cinder, resources, schemas):
    """PUT /volumes/{id} with a new name, then a new description alone:
    200 with the volume, each change kept and the rest unchanged (status,
    size, metadata)."""
    volume = cinder.create_volume(resources, description="before")
    name = cinder.run.name("vol")
    resp = cinder.request("PUT", f"/volumes/{volume['id']}", json={"volume": {"name": name}})
    check_status(resp, 200)
    updated = schemas.validate("volume/volume", json_body(resp))["volume"]
    assert (updated["id"], updated["name"], updated["description"]) == (volume["id"], name, "before"), (
        f"PUT {{name}} answered {updated}")
    resp = cinder.request("PUT", f"/volumes/{volume['id']}", json={"volume": {"description": "after"}})
    check_status(resp, 200)
    shown = cinder.show_volume(volume["id"])
    assert (shown["name"], shown["description"]) == (name, "after"), f"GET after two PUTs shows {shown}"
    for key in ("status", "size", "metadata", "volume_type", "availability_zone"):
        assert shown[key] == volume[key], f"renaming changed {key}: {volume[key]!r} -> {shown[key]!r}"


@pytest.mark.capability(UPDATE, "0186422c-999a-480e-a026-6a665744c30c")
def test_update_volume_with_nonexistent_volume_id(cinder, schemas):
    """PUT /volumes/{an id that does not exist}: 404 with Cinder's error body."""
    check_error(schemas, cinder.request("PUT", f"/volumes/{uuid.uuid4()}", json={"volume": {"name": "x"}}), 404)


@pytest.mark.capability(UPDATE, "e66e40d6-65e6-4e75-bdc7-636792fa152d")
def test_update_volume_with_invalid_volume_id(cinder, schemas):
    """PUT /volumes/{not an id at all}: 404 with Cinder's error body."""
    resp = cinder.request("PUT", "/volumes/%21%40%24%25%5E%2A%28%29", json={"volume": {"name": "x"}})
    check_error(schemas, resp, 404)


@pytest.mark.capability(UPDATE, "72aeca85-57a5-4c1f-9057-f320f9ea575b")
def test_update_volume_with_empty_volume_id(cinder, schemas):
    """PUT /volumes/ (an empty id): 404 (Cinder) or 405, with Cinder's error body."""
    check_error(schemas, cinder.request("PUT", "/volumes/", json={"volume": {"name": "x"}}), 404, 405)


# ---------------------------------------------------------------- delete
# The guideline lists Tempest's negative delete tests under volumes-v3-snapshot-create-delete.


@pytest.mark.capability(SNAPSHOT, "555efa6e-efcd-44ef-8a3b-4a7ca4837a29")
def test_volume_delete_nonexistent_volume_id(cinder, schemas):
    """DELETE /volumes/{an id that does not exist}: 404 with Cinder's error body."""
    check_error(schemas, cinder.request("DELETE", f"/volumes/{uuid.uuid4()}"), 404)


@pytest.mark.capability(SNAPSHOT, "1f035827-7c32-4019-9240-b4ec2dbd9dfd")
def test_delete_invalid_volume_id(cinder, schemas):
    """DELETE /volumes/{not an id at all}: 404 with Cinder's error body."""
    check_error(schemas, cinder.request("DELETE", "/volumes/%21%40%24%25%5E%2A%28%29"), 404)


@pytest.mark.capability(SNAPSHOT, "441a1550-5d44-4b30-af0f-a6d402f52026")
def test_delete_volume_without_passing_volume_id(cinder, schemas):
    """DELETE /volumes/ (an empty id): 404 (Cinder) or 405, with Cinder's error body."""
    check_error(schemas, cinder.request("DELETE", "/volumes/"), 404, 405)
