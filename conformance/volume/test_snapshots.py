"""volumes-v3-snapshot-create-delete: a snapshot's life (create, show,
list with filters, update, delete), its metadata, a volume made from it,
and how creating fails; and that a volume with snapshots cannot be deleted
(volumes-v3-create-delete).

The module snapshots its shared volume twice (run-tagged, deleted when the
module ends); tests that delete or change a snapshot's name make their own."""

from __future__ import annotations

import urllib.parse
import uuid

import pytest

from .cinder import check_error, check_status, json_body

SNAPSHOT = "volumes-v3-snapshot-create-delete"
CREATE = "volumes-v3-create-delete"


@pytest.fixture(scope="module")
def snapshots(cinder, volume, module_resources) -> list[dict]:
    """Two available snapshots of the shared volume (created at once, then waited for)."""
    created = [cinder.create_snapshot(module_resources, volume["id"], wait=False) for _ in range(2)]
    return [cinder.wait_snapshot(s["id"], "available").value for s in created]


@pytest.fixture
def snapshot(snapshots) -> dict:
    """The snapshot whose metadata the metadata tests change (each restores what it needs)."""
    return snapshots[0]


def _q(**params: object) -> str:
    return urllib.parse.urlencode(params)


# ---------------------------------------------------------------- life


@pytest.mark.capability(SNAPSHOT, "2a8abbe4-d871-46db-b049-c41f5af8216e")
def test_snapshot_create_get_list_update_delete(cinder, volume, resources, schemas):
    """POST /snapshots: 202, ``creating`` (or available), of the volume,
    its size, the name and metadata given; it becomes ``available``; GET
    shows it (100 % progress, the caller's project); both lists have it;
    PUT changes name and description (200); DELETE: 202, then GET is 404
    and the lists no longer have it."""
    body = cinder.snapshot_body(volume["id"], description="octoprobe snapshot")
    resp = cinder.post_snapshot(resources, body)
    check_status(resp, 202)
    created = schemas.validate("volume/snapshot", json_body(resp))["snapshot"]
    assert created["status"] in ("creating", "available"), f"a new snapshot is {created['status']!r}"
    assert (created["volume_id"], created["size"], created["name"], created["description"]) == (
        volume["id"], volume["size"], body["name"], body["description"]), f"the new snapshot is {created}"
    assert created["metadata"] == body["metadata"], f"the new snapshot's metadata are {created['metadata']}"
    shown = cinder.wait_snapshot(created["id"], "available").value
    for key in ("id", "name", "description", "volume_id", "size", "metadata", "created_at"):
        assert shown[key] == created[key], f"GET shows {key} {shown[key]!r}; the creation said {created[key]!r}"
    progress = shown.get("os-extended-snapshot-attributes:progress")
    assert progress in (None, "100%"), f"an available snapshot's progress is {progress!r}"
    project = shown.get("os-extended-snapshot-attributes:project_id")
    assert project in (None, cinder.project_id), f"the snapshot belongs to project {project}"
    assert created["id"] in {s["id"] for s in cinder.list_snapshots()}, "GET /snapshots lacks the snapshot"
    assert created["id"] in {s["id"] for s in cinder.list_snapshots(detail=True)}, "GET /snapshots/detail lacks it"

    name = cinder.run.name("snap")
    resp = cinder.request("PUT", f"/snapshots/{created['id']}",
                          json={"snapshot": {"name": name, "description": "octoprobe renamed"}})
    check_status(resp, 200)
    updated = schemas.validate("volume/snapshot", json_body(resp))["snapshot"]
    assert (updated["name"], updated["description"]) == (name, "octoprobe renamed"), f"PUT answered {updated}"
    shown = cinder.show_snapshot(created["id"])
    assert (shown["name"], shown["description"]) == (name, "octoprobe renamed"), f"GET after PUT shows {shown}"

    resp = cinder.request("DELETE", f"/snapshots/{created['id']}")
    check_status(resp, 202)
    assert not resp.content, f"DELETE /snapshots/{{id}} answered 202 with a body: {resp.text[:200]}"
    cinder.wait_snapshot_gone(created["id"], validate=True)
    check_error(schemas, cinder.request("GET", f"/snapshots/{created['id']}"), 404)
    assert created["id"] not in {s["id"] for s in cinder.list_snapshots()}, "a deleted snapshot is still listed"


@pytest.mark.capability(SNAPSHOT, "677863d1-3142-456d-b6ac-9924f667a7f4")
def test_volume_from_snapshot(cinder, snapshots, resources):
    """POST /volumes with a snapshot_id and a size above the snapshot's:
    the volume becomes available, names the snapshot, has the size asked
    (RBD clones are thin: 2 GiB costs what 1 GiB does)."""
    snap = snapshots[1]
    made = cinder.create_volume(resources, snapshot_id=snap["id"], size=snap["size"] + 1)
    assert made["snapshot_id"] == snap["id"], f"a volume made from snapshot {snap['id']} says {made['snapshot_id']}"
    assert made["size"] == snap["size"] + 1, f"the volume asked {snap['size'] + 1} GiB is {made['size']} GiB"
    assert made["source_volid"] is None, f"a volume from a snapshot has source_volid {made['source_volid']}"


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(SNAPSHOT, "59f41f43-aebf-48a9-ab5d-d76340fab32b")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(SNAPSHOT, "220a1022-1fcd-4a74-a7bd-6b859156cda2")),
])
def test_snapshots_list_with_params(cinder, volume, snapshots, detail):
    """GET /snapshots[/detail] filtered by name, status, name and status,
    and volume id: exactly the snapshots that match."""
    first, second = snapshots
    ids = {s["id"] for s in snapshots}

    def listed(**params: object) -> list[dict]:
        return cinder.list_snapshots(_q(**params), detail=detail)

    assert [s["id"] for s in listed(name=first["name"])] == [first["id"]], f"?name={first['name']}"
    by_status = listed(status="available")
    assert ids <= {s["id"] for s in by_status}, "?status=available lacks the available snapshots"
    assert all(s["status"] == "available" for s in by_status), f"?status=available lists {by_status}"
    assert [s["id"] for s in listed(name=second["name"], status="available")] == [second["id"]], "?name&status"
    assert listed(name=second["name"], status="error") == [], "?name=<an available snapshot>&status=error lists it"
    by_volume = listed(volume_id=volume["id"])
    assert ids <= {s["id"] for s in by_volume}, f"?volume_id={volume['id']} lacks the volume's snapshots"
    assert all(s["volume_id"] == volume["id"] for s in by_volume), f"?volume_id lists others: {by_volume}"
    assert listed(name=cinder.run.name("none")) == [], "a name no snapshot has lists snapshots"


# ---------------------------------------------------------------- metadata


@pytest.mark.capability(SNAPSHOT, "a2f20f99-e363-4584-be97-bc33afb1a56c")
def test_crud_snapshot_metadata(cinder, snapshot, schemas):
    """POST /snapshots/{id}/metadata adds items (200, all items); GET lists
    them; DELETE .../metadata/{key} removes one (200); the others stay."""
    path = f"/snapshots/{snapshot['id']}/metadata"
    resp = cinder.request("POST", path, json={"metadata": {"key1": "value1", "key2": "value2", "key3": "value3"}})
    check_status(resp, 200)
    added = schemas.validate("volume/metadata", json_body(resp))["metadata"]
    assert {"key1": "value1", "key2": "value2", "key3": "value3"}.items() <= added.items(), f"POST answered {added}"
    assert added.get("octoprobe-run") == cinder.run.run_id, "POST metadata dropped the items already there"
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert listed == added, f"GET lists {listed}; POST answered {added}"
    resp = cinder.request("DELETE", f"{path}/key1")
    check_status(resp, 200)
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert "key1" not in listed and listed.get("key2") == "value2", f"after deleting key1 the metadata are {listed}"
    check_error(schemas, cinder.request("DELETE", f"{path}/key1"), 404)
    check_error(schemas, cinder.request("GET", f"{path}/key1"), 404)
    check_status(cinder.request("PUT", path, json={"metadata": cinder.run.metadata}), 200)


@pytest.mark.capability(SNAPSHOT, "bd2363bc-de92-48a4-bc98-28943c6e4be1")
def test_update_snapshot_metadata(cinder, snapshot, schemas):
    """PUT /snapshots/{id}/metadata replaces all items (200, the new items);
    GET lists exactly them."""
    path = f"/snapshots/{snapshot['id']}/metadata"
    check_status(cinder.request("POST", path, json={"metadata": {"old": "1"}}), 200)
    new = {**cinder.run.metadata, "key1": "value1_update", "key4": "value4"}
    resp = cinder.request("PUT", path, json={"metadata": new})
    check_status(resp, 200)
    assert schemas.validate("volume/metadata", json_body(resp))["metadata"] == new, "PUT answered other items"
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert listed == new, f"after PUT {new} the metadata are {listed}"
    assert cinder.show_snapshot(snapshot["id"])["metadata"] == new, "GET /snapshots/{id} shows other metadata"


@pytest.mark.capability(SNAPSHOT, "e8ff85c5-8f97-477f-806a-3ac364a949ed")
def test_update_show_snapshot_metadata_item(cinder, snapshot, schemas):
    """PUT /snapshots/{id}/metadata/{key} sets one item (200, ``meta``); GET
    .../metadata/{key} shows it; the other items stay."""
    path = f"/snapshots/{snapshot['id']}/metadata"
    resp = cinder.request("PUT", f"{path}/key3", json={"meta": {"key3": "value3_update"}})
    check_status(resp, 200)
    assert schemas.validate("volume/meta", json_body(resp))["meta"] == {"key3": "value3_update"}, resp.text
    shown = cinder.get(f"{path}/key3", "volume/meta")["meta"]
    assert shown == {"key3": "value3_update"}, f"GET .../metadata/key3 shows {shown}"
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert listed.get("octoprobe-run") == cinder.run.run_id and listed.get("key3") == "value3_update", listed
    resp = cinder.request("PUT", f"{path}/key3", json={"meta": {"other": "x"}})
    check_error(schemas, resp, 400)


# ---------------------------------------------------------------- refusals


@pytest.mark.capability(SNAPSHOT, "e3e466af-70ab-4f4b-a967-ab04e3532ea7")
def test_create_snapshot_with_nonexistent_volume_id(cinder, resources, schemas):
    """POST /snapshots of a volume that does not exist: 404 with Cinder's error body."""
    check_error(schemas, cinder.post_snapshot(resources, cinder.snapshot_body(str(uuid.uuid4()))), 404)


@pytest.mark.capability(SNAPSHOT, "bb9da53e-d335-4309-9c15-7e76fd5e4d6d")
def test_create_snapshot_without_passing_volume_id(cinder, resources, schemas):
    """POST /snapshots without a volume_id: 404 with Cinder's error body."""
    body = {k: v for k, v in cinder.snapshot_body("x").items() if k != "volume_id"}
    check_error(schemas, cinder.post_snapshot(resources, body), 404)


@pytest.mark.capability(SNAPSHOT, "0c36f6ae-4604-4017-b0a9-34fdc63096f9")
def test_create_volume_with_nonexistent_snapshot_id(cinder, resources, schemas):
    """POST /volumes from a snapshot that does not exist: 404 with Cinder's error body."""
    body = cinder.volume_body(snapshot_id=str(uuid.uuid4()))
    check_error(schemas, cinder.post_volume(resources, body), 404)


@pytest.mark.capability(SNAPSHOT, "e702457a-45a4-45e9-8ebf-00d7fc28800a")
def test_get_and_delete_nonexistent_snapshot(cinder, schemas):
    """GET and DELETE /snapshots/{an id that does not exist}: 404 with Cinder's error body."""
    check_error(schemas, cinder.request("GET", f"/snapshots/{uuid.uuid4()}"), 404)
    check_error(schemas, cinder.request("DELETE", f"/snapshots/{uuid.uuid4()}"), 404)


@pytest.mark.capability(CREATE, "ffffbd52-06ed-4350-8da5-4304857ac453")
def test_delete_volume_with_snapshots_is_400(cinder, volume, snapshots, schemas):
    """DELETE /volumes/{id} of a volume that has snapshots (no cascade):
    400 ``badRequest`` with Cinder's error body; the volume and its
    snapshots stay available."""
    check_error(schemas, cinder.request("DELETE", f"/volumes/{volume['id']}"), 400)
    assert cinder.show_volume(volume["id"])["status"] == "available", "a refused delete changed the volume"
    for snap in snapshots:
        assert cinder.show_snapshot(snap["id"])["status"] == "available", "a refused delete changed a snapshot"
