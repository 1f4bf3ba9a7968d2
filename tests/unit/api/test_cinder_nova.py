"""Nova's side of block storage: volume attachments, boot from volume and
what a server delete does to its volumes — the real Nova and Cinder routes
over a fake compute library (test_compute_api.FakeCompute, plus RBD in
memory and the attach/detach/boot-from-volume calls)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from fake_rbd import FakeRbd
from octoprobe.reference_impl.api import image as glance
from octoprobe.reference_impl.compute import errors as CE
from test_compute_api import IMAGE_ID, FakeCompute, Nova, wait_for
from test_volume_api import Cinder


class VolumeCompute(FakeCompute):
    def __init__(self):
        super().__init__()
        self.rbd = FakeRbd()
        self.rbd.create("images", "g", 200 << 20)
        self.rbd.snap_create("images", "g", "snap")
        self.rbd.snap_protect("images", "g", "snap")
        self.fail_attach: Exception | None = None

    def list_images(self):
        return list(self.images.values())

    def create_server(self, name, image_id, flavor_id, *, root_volume=None, **kw):
        view = super().create_server(name, image_id, flavor_id, **kw)
        if root_volume is not None:
            if not self.rbd.exists(root_volume.pool, root_volume.rbd_name):
                del self.servers[kw["server_id"]]
                raise CE.VolumeNotFound("no such RBD image")
            self.servers[kw["server_id"]].update(disk=f"{root_volume.pool}/{root_volume.rbd_name}",
                                                 root_volume_id=root_volume.volume_id)
            self.calls.append(("boot-from-volume", root_volume.volume_id, image_id))
        return self.get_server(view.id)

    def attach_volume(self, server_id, rbd_name, *, pool="volumes", volume_id=None):
        self._get(server_id)
        if self.fail_attach is not None:
            exc, self.fail_attach = self.fail_attach, None
            raise exc
        self.calls.append(("attach", server_id, volume_id))
        self.servers[server_id]["volumes"].append({"volume_id": volume_id, "pool": pool, "rbd_name": rbd_name})

    def detach_volume(self, server_id, volume_id, *, timeout=60.0):
        server = self._get(server_id)
        if not any(v["volume_id"] == volume_id for v in server["volumes"]):
            raise CE.VolumeNotFound("not attached")
        self.calls.append(("detach", server_id, volume_id))
        server["volumes"] = [v for v in server["volumes"] if v["volume_id"] != volume_id]


@pytest.fixture
def clouds(api_factory):
    compute = VolumeCompute()
    api = api_factory(cloud_factory=lambda: SimpleNamespace(compute=lambda: compute))
    glance.register_existing_image(api.backend, compute.images[IMAGE_ID], name="octoprobe-guest",
                                   owner_project_id=api.admin.project_id)
    nova, cinder = Nova(api, compute), Cinder(api, compute)
    yield nova, cinder
    for name in ("_nova_runtime", "_cinder_runtime"):
        runtime = getattr(api.backend, name, None)
        if runtime is not None:
            runtime.pool.shutdown(wait=True)


def _volume(cinder, **kw):
    vid = cinder.create(**kw)["id"]
    cinder.wait(vid, "available")
    return vid


def test_attach_show_list_detach(clouds):
    nova, cinder = clouds
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    vid = _volume(cinder)
    r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 200, r.text
    assert r.json()["volumeAttachment"] == {"id": vid, "serverId": sid, "volumeId": vid, "device": "/dev/vdc"}
    shown = cinder.show(vid)
    assert shown["status"] == "in-use"
    (att,) = shown["attachments"]
    assert att["server_id"] == sid and att["device"] == "/dev/vdc" and att["host_name"] == "r1-c1"
    assert ("attach", sid, vid) in nova.compute.calls
    listed = nova.call("GET", f"/servers/{sid}/os-volume_attachments").json()["volumeAttachments"]
    assert [a["volumeId"] for a in listed] == [vid]
    server = nova.call("GET", f"/servers/{sid}", version="2.3").json()["server"]
    assert server["os-extended-volumes:volumes_attached"] == [{"id": vid, "delete_on_termination": False}]
    again = nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vid}})
    assert again.status_code == 400
    second = _volume(cinder)
    r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": second}})
    assert r.json()["volumeAttachment"]["device"] == "/dev/vdd"
    assert nova.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}").status_code == 202
    wait_for(lambda: cinder.show(vid)["status"] == "available")
    assert cinder.show(vid)["attachments"] == []
    assert ("detach", sid, vid) in nova.compute.calls
    assert nova.call("GET", f"/servers/{sid}/os-volume_attachments/{vid}").status_code == 404
    assert nova.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vid}").status_code == 404


def test_attach_refusals(clouds):
    nova, cinder = clouds
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    missing = str(uuid.uuid4())
    r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": missing}})
    assert r.status_code == 404
    other = nova.api.account("alt")
    foreign = cinder.create(other)["id"]
    cinder.wait(foreign, "available", other)
    r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": foreign}})
    assert r.status_code == 404
    vid = _volume(cinder)
    nova.compute.fail_attach = CE.HypervisorError("QMP said no")
    r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vid}})
    assert r.status_code == 500 and "QMP said no" in r.text
    assert cinder.show(vid)["status"] == "available"
    assert nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {}}).status_code == 400


def test_server_delete_releases_and_deletes_on_termination(clouds):
    nova, cinder = clouds
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    keep, drop = _volume(cinder), _volume(cinder)
    for vid, dot in ((keep, False), (drop, True)):
        r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", version="2.79",
                      json={"volumeAttachment": {"volumeId": vid, "delete_on_termination": dot}})
        assert r.status_code == 200, r.text
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 204
    wait_for(lambda: nova.status(sid) == 404)
    assert cinder.wait(keep, "available")["attachments"] == []
    cinder.wait(drop, 404)


def test_boot_from_new_volume(clouds):
    nova, cinder = clouds
    bdm = [{"uuid": IMAGE_ID, "source_type": "image", "destination_type": "volume", "boot_index": 0,
            "volume_size": 2, "delete_on_termination": True}]
    sid = nova.boot(imageRef="", block_device_mapping_v2=bdm)
    server = nova.wait_status(sid, "ACTIVE")
    assert server["image"] == ""
    (attached,) = server["os-extended-volumes:volumes_attached"]
    vol = cinder.show(attached["id"])
    assert vol["status"] == "in-use" and vol["size"] == 2 and vol["bootable"] == "true"
    assert vol["attachments"][0]["device"] == "/dev/vda" and vol["attachments"][0]["host_name"] == "r1-c1"
    assert ("boot-from-volume", vol["id"], IMAGE_ID) in nova.compute.calls
    r = nova.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vol['id']}")
    assert r.status_code == 400  # the root volume stays
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 204
    cinder.wait(vol["id"], 404)


def test_boot_from_existing_volume(clouds):
    nova, cinder = clouds
    blank = _volume(cinder)
    bdm = [{"uuid": blank, "source_type": "volume", "destination_type": "volume", "boot_index": 0}]
    r = nova.call("POST", "/servers", json={"server": {"name": "b", "flavorRef": "1", "networks": [
        {"uuid": nova.net.id}], "block_device_mapping_v2": bdm}})
    assert r.status_code == 400 and "not bootable" in r.text
    vid = _volume(cinder, imageRef=IMAGE_ID)
    bdm[0]["uuid"] = vid
    r = nova.call("POST", "/servers", json={"server": {"name": "b", "flavorRef": "1", "networks": [
        {"uuid": nova.net.id}], "block_device_mapping_v2": bdm}})
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    nova.wait_status(sid, "ACTIVE")
    assert cinder.show(vid)["status"] == "in-use"
    r = nova.call("POST", "/servers", json={"server": {"name": "c", "flavorRef": "1", "networks": [
        {"uuid": nova.net.id}], "block_device_mapping_v2": bdm}})
    assert r.status_code == 400  # in use by the first server
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 204
    assert cinder.wait(vid, "available")["attachments"] == []


def test_failed_boot_from_volume_releases_the_volume(clouds):
    nova, cinder = clouds
    vid = _volume(cinder, imageRef=IMAGE_ID)
    nova.compute.fail_next = CE.HypervisorError("QEMU did not start")
    bdm = [{"uuid": vid, "source_type": "volume", "destination_type": "volume", "boot_index": 0}]
    sid = nova.boot(imageRef="", block_device_mapping_v2=bdm)
    nova.wait_status(sid, "ERROR")
    assert cinder.wait(vid, "available")["attachments"] == []


def test_attachment_microversions_and_update(clouds):
    nova, cinder = clouds
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    vid = _volume(cinder)
    r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", version="2.89",
                  json={"volumeAttachment": {"volumeId": vid, "delete_on_termination": True}})
    doc = r.json()["volumeAttachment"]
    assert "id" not in doc and doc["attachment_id"] and doc["tag"] is None and doc["delete_on_termination"] is True
    path = f"/servers/{sid}/os-volume_attachments/{vid}"
    body = {"volumeAttachment": {"volumeId": vid, "delete_on_termination": False}}
    assert nova.call("PUT", path, version="2.84", json=body).status_code == 400
    assert nova.call("PUT", path, version="2.85", json=body).status_code == 202
    assert nova.call("GET", path, version="2.85").json()["volumeAttachment"]["delete_on_termination"] is False
    swap = {"volumeAttachment": {"volumeId": str(uuid.uuid4())}}
    assert nova.call("PUT", path, version="2.85", json=swap).status_code == 400
    reader = nova.api.account("peek", "reader", project="demo")
    assert nova.call("DELETE", path, reader).status_code == 403
    assert nova.call("GET", path, reader).status_code == 200
