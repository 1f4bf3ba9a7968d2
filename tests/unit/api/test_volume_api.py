"""Cinder v3 of the reference cloud's API over the real block library on an
in-memory RBD (fake_rbd.py) and a fake compute store (images only)."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest

from fake_rbd import FakeRbd
from octoprobe.reference_impl.api import image as glance
from octoprobe.reference_impl.compute import errors as CE
from octoprobe.reference_impl.compute.model import Image

V = "/volume/v3"
GiB = 1024 ** 3
IMAGE_ID = "0f3e4c1a-8a9b-4d0c-9e6f-2b1a3c4d5e6f"


class FakeCompute:
    """What the Cinder API asks of the compute library: its RBD client and images."""

    def __init__(self):
        self.rbd = FakeRbd()
        self.rbd.create("images", "guest", 100 << 20)
        self.rbd.snap_create("images", "guest", "snap")
        self.rbd.snap_protect("images", "guest", "snap")
        self.images = {IMAGE_ID: Image(IMAGE_ID, "octoprobe-guest", "images", "guest", "snap", 100 << 20,
                                       "/boot/k", "/boot/i", min_disk_gb=1, source="guest-build x")}

    def get_image(self, image_id):
        if image_id not in self.images:
            raise CE.ImageNotFound(f"image {image_id} does not exist")
        return self.images[image_id]

    def list_images(self):
        return list(self.images.values())

    def register_rbd_image(self, name, pool, rbd_name, *, kernel_from, image_id=None, min_ram_mb=64):
        base = self.get_image(kernel_from)
        image = Image(image_id or str(uuid.uuid4()), name, pool, rbd_name, "snap", self.rbd.info(pool, rbd_name).size,
                      base.kernel, base.initrd, min_disk_gb=1)
        self.images[image.id] = image
        return image

    def delete_image(self, image_id):
        self.images.pop(image_id, None)


class Cinder:
    def __init__(self, api, compute):
        self.api = api
        self.compute = compute

    def call(self, method, path, account=None, *, project=False, **kw):
        account = account or self.api.member
        prefix = f"{V}/{account.project_id}" if project else V
        headers = {**account.headers, **kw.pop("headers", {})}
        return self.api.client.request(method, prefix + path, headers=headers, **kw)

    def create(self, account=None, **volume):
        r = self.call("POST", "/volumes", account, json={"volume": {"size": 1, **volume}})
        assert r.status_code == 202, r.text
        return r.json()["volume"]

    def show(self, vid, account=None):
        r = self.call("GET", f"/volumes/{vid}", account)
        return r.json()["volume"] if r.status_code == 200 else r.status_code

    def wait(self, vid, wanted, account=None, kind="volumes"):
        deadline = time.monotonic() + 10
        while True:
            r = self.call("GET", f"/{kind}/{vid}", account)
            doc = r.json()[kind[:-1]] if r.status_code == 200 else r.status_code
            status = doc["status"] if isinstance(doc, dict) else doc
            if status == wanted:
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"{kind} {vid} is {status}, not {wanted}")
            time.sleep(0.02)

    def action(self, vid, name, args=None, account=None):
        return self.call("POST", f"/volumes/{vid}/action", account, json={name: args})


@pytest.fixture
def cinder(api_factory):
    compute = FakeCompute()
    api = api_factory(cloud_factory=lambda: SimpleNamespace(compute=lambda: compute))
    glance.register_existing_image(api.backend, compute.images[IMAGE_ID], name="octoprobe-guest",
                                   owner_project_id=api.admin.project_id)
    yield Cinder(api, compute)
    runtime = getattr(api.backend, "_cinder_runtime", None)
    if runtime is not None:
        runtime.pool.shutdown(wait=True)


# -- discovery ---------------------------------------------------------------------------------------
def test_versions_and_microversions(cinder):
    r = cinder.api.client.get("/volume/")
    assert r.status_code == 300
    (doc,) = r.json()["versions"]
    assert doc["id"] == "v3.0" and doc["min_version"] == "3.0"
    assert cinder.api.client.get("/volume/v3/").status_code == 200
    r = cinder.call("GET", "/volumes", headers={"OpenStack-API-Version": "volume 3.0"})
    assert r.status_code == 200 and r.headers["OpenStack-API-Version"] == "volume 3.0"
    headers = {**cinder.api.member.headers, "OpenStack-API-Version": "volume 3.999"}
    assert cinder.api.client.get(f"{V}/volumes", headers=headers).status_code == 406
    headers["OpenStack-API-Version"] = "volume x"
    assert cinder.api.client.get(f"{V}/volumes", headers=headers).status_code == 400


def test_project_id_in_url_must_be_the_callers(cinder):
    vol = cinder.create(name="p")
    assert cinder.call("GET", f"/volumes/{vol['id']}", project=True).status_code == 200
    other = cinder.api.admin.project_id
    r = cinder.api.client.get(f"{V}/{other}/volumes", headers=cinder.api.member.headers)
    assert r.status_code == 400


# -- volumes -----------------------------------------------------------------------------------------
def test_create_show_update_delete(cinder):
    vol = cinder.create(name="v1", description="d", metadata={"a": "b"})
    assert vol["status"] == "creating" and vol["size"] == 1 and vol["bootable"] == "false"
    assert vol["volume_type"] == "__DEFAULT__" and vol["availability_zone"] == "nova"
    shown = cinder.wait(vol["id"], "available")
    assert shown["metadata"] == {"a": "b"} and shown["attachments"] == []
    assert "os-vol-host-attr:host" not in shown
    assert cinder.compute.rbd.images[("volumes", f"volume-{vol['id']}")].size == GiB
    r = cinder.call("PUT", f"/volumes/{vol['id']}", json={"volume": {"name": "v2", "description": None}})
    assert r.status_code == 200 and r.json()["volume"]["name"] == "v2"
    assert r.json()["volume"]["description"] is None
    assert cinder.call("DELETE", f"/volumes/{vol['id']}").status_code == 202
    cinder.wait(vol["id"], 404)
    assert ("volumes", f"volume-{vol['id']}") not in cinder.compute.rbd.images


@pytest.mark.parametrize("body, status", [
    ({"size": 0}, 400), ({"size": -1}, 400), ({"size": "#$%"}, 400), ({"name": "no size"}, 400),
    ({"size": 1, "volume_type": str(uuid.uuid4())}, 404), ({"size": 1, "snapshot_id": str(uuid.uuid4())}, 404),
    ({"size": 1, "source_volid": str(uuid.uuid4())}, 404), ({"size": 1, "imageRef": str(uuid.uuid4())}, 400),
    ({"size": 1, "availability_zone": "mars"}, 400), ({"size": 1, "metadata": {"k": 1}}, 400),
])
def test_create_errors(cinder, body, status):
    r = cinder.call("POST", "/volumes", json={"volume": body})
    assert r.status_code == status, r.text
    assert set(r.json()) == {"badRequest" if status == 400 else "itemNotFound"}


def test_missing_ids_are_404(cinder):
    for method in ("GET", "PUT", "DELETE"):
        assert cinder.call(method, "/volumes/", json={"volume": {}}).status_code == 404
        assert cinder.call(method, "/volumes/#$%", json={"volume": {}}).status_code == 404
    assert cinder.action(str(uuid.uuid4()), "os-extend", {"new_size": 2}).status_code == 404


def test_from_image_is_bootable_with_image_metadata(cinder):
    vol = cinder.create(imageRef=IMAGE_ID, size=None)
    shown = cinder.wait(vol["id"], "available")
    assert shown["bootable"] == "true" and shown["size"] == 1
    assert shown["volume_image_metadata"]["image_id"] == IMAGE_ID
    img = cinder.compute.rbd.images[("volumes", f"volume-{vol['id']}")]
    assert img.parent == ("images", "guest", "snap")


def test_snapshot_clone_and_source_volume(cinder):
    vol = cinder.create(size=2)
    cinder.wait(vol["id"], "available")
    r = cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": vol["id"], "name": "s1",
                                                             "metadata": {"x": "y"}}})
    assert r.status_code == 202, r.text
    snap = r.json()["snapshot"]
    cinder.wait(snap["id"], "available", kind="snapshots")
    small = cinder.call("POST", "/volumes", json={"volume": {"size": 1, "snapshot_id": snap["id"]}})
    assert small.status_code == 400
    from_snap = cinder.create(size=None, snapshot_id=snap["id"])
    assert from_snap["size"] == 2 and from_snap["snapshot_id"] == snap["id"]
    cinder.wait(from_snap["id"], "available")
    clone = cinder.create(size=3, source_volid=vol["id"])
    assert cinder.wait(clone["id"], "available")["size"] == 3
    # a volume with snapshots is not deleted; the snapshot's clone survives the snapshot
    assert cinder.call("DELETE", f"/volumes/{vol['id']}").status_code == 400
    assert cinder.call("DELETE", f"/snapshots/{snap['id']}").status_code == 202
    cinder.wait(snap["id"], 404, kind="snapshots")
    assert cinder.compute.rbd.images[("volumes", f"volume-{from_snap['id']}")].parent is None
    assert cinder.call("DELETE", f"/volumes/{vol['id']}").status_code == 202
    cinder.wait(vol["id"], 404)


def test_delete_cascade_removes_snapshots(cinder):
    vol = cinder.create()
    cinder.wait(vol["id"], "available")
    snap = cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": vol["id"]}}).json()["snapshot"]
    cinder.wait(snap["id"], "available", kind="snapshots")
    assert cinder.call("DELETE", f"/volumes/{vol['id']}?cascade=true").status_code == 202
    cinder.wait(vol["id"], 404)
    cinder.wait(snap["id"], 404, kind="snapshots")


def test_list_filters_sort_and_pages(cinder):
    ids = []
    for i in range(3):
        vol = cinder.create(name=f"lv{i}", metadata={"n": str(i)})
        cinder.wait(vol["id"], "available")
        ids.append(vol["id"])
    listed = cinder.call("GET", "/volumes").json()["volumes"]
    assert [v["id"] for v in listed] == ids[::-1] and set(listed[0]) == {"id", "name", "links"}
    assert [v["name"] for v in cinder.call("GET", "/volumes/detail?name=lv1").json()["volumes"]] == ["lv1"]
    assert cinder.call("GET", "/volumes?status=nonsense").json()["volumes"] == []
    by_meta = cinder.call("GET", "/volumes/detail", params={"metadata": "{'n': '2'}"}).json()["volumes"]
    assert [v["id"] for v in by_meta] == [ids[2]]
    asc = cinder.call("GET", "/volumes/detail?sort_key=name&sort_dir=asc").json()["volumes"]
    assert [v["name"] for v in asc] == ["lv0", "lv1", "lv2"]
    assert cinder.call("GET", "/volumes?sort_key=bogus").status_code == 400
    seen, url = [], f"{V}/volumes?limit=1"
    while url:
        body = cinder.api.client.get(url, headers=cinder.api.member.headers).json()
        seen += [v["id"] for v in body["volumes"]]
        url = next((link["href"] for link in body.get("volumes_links", []) if link["rel"] == "next"), None)
        url = url.replace("http://testserver", "") if url else None
    assert seen == ids[::-1]


def test_isolation_and_readers(cinder):
    vol = cinder.create()
    cinder.wait(vol["id"], "available")
    other = cinder.api.account("alt")
    assert cinder.call("GET", f"/volumes/{vol['id']}", other).status_code == 404
    assert cinder.call("GET", "/volumes", other).json()["volumes"] == []
    admin = cinder.api.admin
    assert cinder.call("GET", "/volumes", admin).json()["volumes"] == []
    everyone = cinder.call("GET", "/volumes/detail?all_tenants=1", admin).json()["volumes"]
    assert [v["id"] for v in everyone] == [vol["id"]] and everyone[0]["os-vol-host-attr:host"]
    reader = cinder.api.account("peek", "reader", project="demo")
    assert cinder.call("GET", f"/volumes/{vol['id']}", reader).status_code == 200
    assert cinder.call("DELETE", f"/volumes/{vol['id']}", reader).status_code == 403
    assert cinder.call("POST", "/volumes", reader, json={"volume": {"size": 1}}).status_code == 403


def test_metadata_crud(cinder):
    vid = cinder.create(metadata={"a": "1"})["id"]
    base = f"/volumes/{vid}/metadata"
    assert cinder.call("POST", base, json={"metadata": {"b": "2"}}).json()["metadata"] == {"a": "1", "b": "2"}
    assert cinder.call("PUT", base, json={"metadata": {"c": "3"}}).json()["metadata"] == {"c": "3"}
    assert cinder.call("GET", f"{base}/c").json() == {"meta": {"c": "3"}}
    assert cinder.call("PUT", f"{base}/c", json={"meta": {"c": "4"}}).json() == {"meta": {"c": "4"}}
    assert cinder.call("PUT", f"{base}/c", json={"meta": {"d": "4"}}).status_code == 400
    assert cinder.call("DELETE", f"{base}/c").status_code == 200
    assert cinder.call("GET", f"{base}/c").status_code == 404
    assert cinder.call("GET", base).json() == {"metadata": {}}


# -- actions -----------------------------------------------------------------------------------------
def test_extend_bootable_readonly(cinder):
    vid = cinder.create()["id"]
    cinder.wait(vid, "available")
    assert cinder.action(vid, "os-extend", {"new_size": 1}).status_code == 400
    assert cinder.action(vid, "os-extend", {"new_size": "x"}).status_code == 400
    assert cinder.action(vid, "os-extend", {"new_size": None}).status_code == 400
    assert cinder.action(vid, "os-extend", {"new_size": 3}).status_code == 202
    assert cinder.wait(vid, "available")["size"] == 3 or cinder.show(vid)["size"] == 3
    assert cinder.compute.rbd.images[("volumes", f"volume-{vid}")].size == 3 * GiB
    for flag in (True, False):
        assert cinder.action(vid, "os-set_bootable", {"bootable": flag}).status_code == 200
        assert cinder.show(vid)["bootable"] == str(flag).lower()
        assert cinder.action(vid, "os-update_readonly_flag", {"readonly": flag}).status_code == 202
        assert cinder.show(vid)["metadata"]["readonly"] == str(flag)


def test_attachment_bookkeeping(cinder):
    vid = cinder.create()["id"]
    cinder.wait(vid, "available")
    assert cinder.action(vid, "os-reserve").status_code == 202
    assert cinder.show(vid)["status"] == "attaching"
    assert cinder.action(vid, "os-reserve").status_code == 400
    assert cinder.action(vid, "os-unreserve").status_code == 202
    server = str(uuid.uuid4())
    assert cinder.action(vid, "os-attach", {"instance_uuid": server, "mountpoint": "/dev/vdb"}).status_code == 202
    shown = cinder.show(vid)
    assert shown["status"] == "in-use"
    (att,) = shown["attachments"]
    assert att["server_id"] == server and att["device"] == "/dev/vdb" and att["id"] == vid
    assert cinder.call("DELETE", f"/volumes/{vid}").status_code == 400
    assert cinder.action(vid, "os-begin_detaching").status_code == 202
    assert cinder.show(vid)["status"] == "detaching"
    assert cinder.action(vid, "os-roll_detaching").status_code == 202
    assert cinder.show(vid)["status"] == "in-use"
    snap = cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": vid}})
    assert snap.status_code == 400
    snap = cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": vid, "force": True}})
    assert snap.status_code == 202
    assert cinder.action(vid, "os-detach", {}).status_code == 202
    assert cinder.show(vid)["status"] == "available" and cinder.show(vid)["attachments"] == []


def test_upload_to_image(cinder):
    vid = cinder.create(imageRef=IMAGE_ID)["id"]
    cinder.wait(vid, "available")
    r = cinder.action(vid, "os-volume_upload_image", {"image_name": "from-vol", "disk_format": "raw"})
    assert r.status_code == 202, r.text
    image_id = r.json()["os-volume_upload_image"]["image_id"]
    assert cinder.show(vid)["status"] == "available"
    shown = cinder.api.client.get(f"/image/v2/images/{image_id}", headers=cinder.api.member.headers).json()
    assert shown["status"] == "active" and shown["name"] == "from-vol" and shown["disk_format"] == "raw"
    assert cinder.compute.rbd.images[("images", image_id)].snaps == {"snap": True}
    assert cinder.compute.images[image_id].kernel == "/boot/k"
    bad = cinder.action(vid, "os-volume_upload_image", {"image_name": "q", "disk_format": "vmdk"})
    assert bad.status_code == 400


def test_upload_to_qcow2_image_is_converted_and_not_bootable(cinder):
    from octoprobe.reference_impl.api.volume_store import runtime
    from test_block_volumes import FakeQemuImg
    qemu = FakeQemuImg()
    runtime(cinder.api.backend).blocks().runner = qemu
    vid = cinder.create()["id"]
    cinder.wait(vid, "available")
    r = cinder.action(vid, "os-volume_upload_image", {"image_name": "q", "disk_format": "qcow2"})
    assert r.status_code == 202, r.text
    image_id = r.json()["os-volume_upload_image"]["image_id"]
    shown = cinder.api.client.get(f"/image/v2/images/{image_id}", headers=cinder.api.member.headers).json()
    assert shown["status"] == "active" and shown["disk_format"] == "qcow2"
    assert image_id not in cinder.compute.images  # not bootable
    assert qemu.argvs[0][5] == "qcow2"


def test_snapshot_list_update_metadata(cinder):
    vid = cinder.create()["id"]
    cinder.wait(vid, "available")
    assert cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": None}}).status_code == 404
    sid = cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": vid, "name": "s"}}).json()["snapshot"]["id"]
    cinder.wait(sid, "available", kind="snapshots")
    detail = cinder.call("GET", f"/snapshots/detail?volume_id={vid}").json()["snapshots"]
    assert detail[0]["os-extended-snapshot-attributes:progress"] == "100%"
    assert cinder.call("GET", "/snapshots?name=nope").json()["snapshots"] == []
    assert cinder.call("GET", "/snapshots?limit=x").status_code == 400
    assert cinder.call("GET", "/snapshots?sort_key=invalid").status_code == 400
    r = cinder.call("PUT", f"/snapshots/{sid}", json={"snapshot": {"name": "s2"}})
    assert r.json()["snapshot"]["name"] == "s2"
    base = f"/snapshots/{sid}/metadata"
    assert cinder.call("PUT", base, json={"metadata": {"k": "v"}}).json() == {"metadata": {"k": "v"}}
    assert cinder.call("PUT", f"{base}/k", json={"meta": {"k": "w"}}).json() == {"meta": {"k": "w"}}
    assert cinder.call("DELETE", f"{base}/k").status_code == 200
    assert cinder.call("GET", base).json() == {"metadata": {}}


# -- small resources ---------------------------------------------------------------------------------
def test_zones_types_extensions_quotas(cinder):
    assert cinder.call("GET", "/os-availability-zone").json()["availabilityZoneInfo"][0]["zoneName"] == "nova"
    types = cinder.call("GET", "/types").json()["volume_types"]
    assert [t["name"] for t in types][0] == "__DEFAULT__"
    default = cinder.call("GET", "/types/default").json()["volume_type"]
    assert cinder.call("GET", f"/types/{default['id']}").json()["volume_type"]["name"] == "__DEFAULT__"
    assert cinder.call("GET", f"/types/{uuid.uuid4()}").status_code == 404
    assert cinder.call("GET", "/extensions").json()["extensions"]
    project = cinder.api.member.project_id
    quota = cinder.call("GET", f"/os-quota-sets/{project}?usage=true").json()["quota_set"]
    assert quota["volumes"] == {"limit": 10, "in_use": 0, "reserved": 0}
    admin = cinder.api.admin
    r = cinder.call("PUT", f"/os-quota-sets/{project}", admin, json={"quota_set": {"volumes": 1}})
    assert r.status_code == 200 and r.json()["quota_set"]["volumes"] == 1
    assert cinder.call("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 5}}).status_code == 403
    cinder.create()
    r = cinder.call("POST", "/volumes", json={"volume": {"size": 1}})
    assert r.status_code == 413 and "overLimit" in r.json()
    limits = cinder.call("GET", "/limits").json()["limits"]["absolute"]
    assert limits["maxTotalVolumes"] == 1 and limits["totalVolumesUsed"] == 1
    assert cinder.call("DELETE", f"/os-quota-sets/{project}", admin).status_code == 200
    assert cinder.call("GET", f"/os-quota-sets/{project}").json()["quota_set"]["volumes"] == 10


def test_a_new_api_process_finishes_or_settles_what_the_last_one_left(cinder):
    from octoprobe.reference_impl.api.volume_store import runtime
    backend = cinder.api.backend
    gone, grown, made = (cinder.create(name=n)["id"] for n in ("gone", "grown", "made"))
    for vid in (gone, grown, made):
        cinder.wait(vid, "available")
    sid = cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": grown}}).json()["snapshot"]["id"]
    cinder.wait(sid, "available", kind="snapshots")
    old = runtime(backend)
    old.pool.shutdown(wait=True)
    old.store.update_volume(gone, status="deleting")
    old.store.update_volume(grown, status="extending")
    old.store.update_volume(made, status="creating")
    old.store.update_snapshot(sid, status="deleting")
    del backend._cinder_runtime  # what a restarted API process starts with
    cinder.wait(gone, 404)
    cinder.wait(sid, 404, kind="snapshots")
    assert cinder.show(grown)["status"] == "available"
    assert cinder.show(made)["status"] == "error"
    assert cinder.call("DELETE", f"/volumes/{made}").status_code == 202
    cinder.wait(made, 404)
    assert ("volumes", f"volume-{gone}") not in cinder.compute.rbd.images
