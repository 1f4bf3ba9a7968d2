"""Tenant isolation of volumes and snapshots: another project's user cannot
see the shared volume or its snapshot — not shown, not listed — nor change
them: update, delete, metadata, actions, snapshotting and cloning are 404
(their existence is not disclosed), and they are unchanged afterwards.
Needs --alt-cloud; the admin's view needs --admin-cloud."""

from __future__ import annotations

import pytest

from .cinder import check_error, check_status

GET = "volumes-v3-get"
LIST = "volumes-v3-list"
CREATE = "volumes-v3-create-delete"
UPDATE = "volumes-v3-update"
METADATA = "volumes-v3-metadata"
READONLY = "volumes-v3-readonly"
UPLOAD = "volumes-v3-upload"
SNAPSHOT = "volumes-v3-snapshot-create-delete"
CLONE = "volumes-v3-clone"


@pytest.fixture(scope="module")
def snapshot(cinder, volume, module_resources) -> dict:
    return cinder.create_snapshot(module_resources, volume["id"])


@pytest.mark.needs_alt
@pytest.mark.capability(GET, "c17463b9-cf4e-4fb0-b320-6487d5ce9c8a")
def test_another_tenants_volume_and_snapshot_are_404(alt_cinder, volume, snapshot, schemas):
    """GET /volumes/{id} and /snapshots/{id} of another project's: 404 with Cinder's error body."""
    check_error(schemas, alt_cinder.request("GET", f"/volumes/{volume['id']}"), 404)
    check_error(schemas, alt_cinder.request("GET", f"/snapshots/{snapshot['id']}"), 404)


@pytest.mark.needs_alt
@pytest.mark.capability(LIST, "e5ec24a5-9553-403c-974b-dc13f2173b06")
def test_another_tenants_volume_is_not_listed(alt_cinder, volume, snapshot):
    """The other project's lists (brief, detailed, filtered by the volume's
    name; snapshots) lack them; its detailed list holds only its own
    volumes, and all_tenants from a user changes nothing."""
    assert volume["id"] not in {v["id"] for v in alt_cinder.list_volumes()}, "GET /volumes shows another's volume"
    detail = alt_cinder.list_volumes(detail=True)
    assert volume["id"] not in {v["id"] for v in detail}, "GET /volumes/detail shows another project's volume"
    strangers = [v["id"] for v in detail if v.get("os-vol-tenant-attr:tenant_id", alt_cinder.project_id)
                 != alt_cinder.project_id]
    assert not strangers, f"GET /volumes/detail shows volumes of other projects: {strangers}"
    assert alt_cinder.list_volumes(f"name={volume['name']}") == [], "a name filter finds another project's volume"
    assert volume["id"] not in {v["id"] for v in alt_cinder.list_volumes("all_tenants=1", detail=True)}, (
        "all_tenants=1 shows a user another project's volume")
    assert snapshot["id"] not in {s["id"] for s in alt_cinder.list_snapshots(detail=True)}, (
        "GET /snapshots/detail shows another project's snapshot")


# what another project tries, as (capability, id, method, path, body); VOL and SNAP are replaced by the ids
ATTEMPTS = [
    (UPDATE, "20038271-278e-4aec-8dd7-ada3466749b9", "PUT", "/volumes/VOL", {"volume": {"name": "stolen"}}),
    (CREATE, "5cf942a4-aa9a-47bc-bd8e-aaa44a86a1f3", "DELETE", "/volumes/VOL", None),
    (METADATA, "49fc8c0b-4640-40b2-9ce5-b7d8792a7254", "GET", "/volumes/VOL/metadata", None),
    (METADATA, "a60e7bc1-4c92-460d-8f65-790bfb1f8336", "POST", "/volumes/VOL/metadata", {"metadata": {"stolen": "yes"}}),
    (READONLY, "594aa2fe-cb95-4cb7-bd93-890ee62a3ef6", "POST", "/volumes/VOL/action", {"os-update_readonly_flag": {"readonly": True}}),
    (UPLOAD, "cf00692c-20ff-4231-8577-efcf626a1e72", "POST", "/volumes/VOL/action", {"os-volume_upload_image": {"image_name": "stolen"}}),
    (SNAPSHOT, "b898c406-2187-4de8-96dd-2b1cf14b1d36", "POST", "/snapshots", {"snapshot": {"volume_id": "VOL", "name": "stolen"}}),
    (SNAPSHOT, "6d8d276f-78f4-491f-86e4-1aa6ca0cedd6", "DELETE", "/snapshots/SNAP", None),
    (SNAPSHOT, "ec75fafb-df17-4150-b886-9849cc173ff8", "PUT", "/snapshots/SNAP/metadata", {"metadata": {"stolen": "yes"}}),
    (CLONE, "87ed61cd-dd5c-40eb-b8f3-588e3e943e70", "POST", "/volumes", {"volume": {"size": 1, "source_volid": "VOL", "name": "stolen"}}),
]


def _attempt_params():
    for capability, test_id, method, path, body in ATTEMPTS:
        label = f"{capability}-{method}{path}".replace("/", "-")
        if body and "/action" in path:
            label += "-" + next(iter(body))
        yield pytest.param(method, path, body, id=label,
                           marks=[pytest.mark.needs_alt, pytest.mark.capability(capability, test_id)])


def _fill(value, volume_id: str, snapshot_id: str):
    if isinstance(value, dict):
        return {k: _fill(v, volume_id, snapshot_id) for k, v in value.items()}
    if isinstance(value, str):
        return value.replace("VOL", volume_id).replace("SNAP", snapshot_id)
    return value


@pytest.mark.parametrize("method, path, body", list(_attempt_params()))
def test_another_tenant_cannot_touch_the_volume(cinder, alt_cinder, volume, snapshot, resources, schemas,
                                                method, path, body):
    """Another project's user acting on the volume or its snapshot: 404 with
    Cinder's error body; the owner sees both unchanged."""
    path = _fill(path, volume["id"], snapshot["id"])
    body = _fill(body, volume["id"], snapshot["id"])
    if (method, path) == ("POST", "/volumes"):
        body["volume"].update(name=alt_cinder.run.name("stolen"), metadata=alt_cinder.run.metadata)
        resp = alt_cinder.post_volume(resources, body["volume"])
    elif (method, path) == ("POST", "/snapshots"):
        body["snapshot"].update(name=alt_cinder.run.name("stolen"), metadata=alt_cinder.run.metadata)
        resp = alt_cinder.post_snapshot(resources, body["snapshot"])
    else:
        resp = alt_cinder.request(method, path, json=body)
    check_error(schemas, resp, 404)
    shown = cinder.show_volume(volume["id"])
    assert (shown["status"], shown["name"], shown["metadata"]) == ("available", volume["name"], volume["metadata"]), (
        f"after another project's {method} {path} the volume is {shown['status']} {shown['name']!r} "
        f"{shown['metadata']}")
    snap = cinder.show_snapshot(snapshot["id"])
    assert (snap["status"], snap["metadata"]) == ("available", snapshot["metadata"]), (
        f"after another project's {method} {path} the snapshot is {snap['status']} {snap['metadata']}")


@pytest.mark.needs_admin
@pytest.mark.capability(LIST, "e4274de5-16be-462a-af88-bc38c65d2c48")
def test_admin_lists_every_project_with_all_tenants(cinder, admin_cinder, volume):
    """An admin's GET /volumes/detail?all_tenants=1 includes the user's
    volume, in the user's project; the admin's GET shows it too."""
    volumes = admin_cinder.list_volumes(f"all_tenants=1&name={volume['name']}", detail=True)
    found = [v for v in volumes if v["id"] == volume["id"]]
    assert found, "all_tenants=1 as admin does not list the user's volume"
    tenant = found[0].get("os-vol-tenant-attr:tenant_id")
    assert tenant == cinder.project_id, f"the admin sees it in project {tenant}"
    resp = admin_cinder.request("GET", f"/volumes/{volume['id']}")
    check_status(resp, 200)
