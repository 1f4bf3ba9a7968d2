"""compute-volume-attach: attach a Block Storage volume to a server
through the Compute API, list and show the attachment, detach it.

Kept apart: the reference cloud's volume attachment is being written. A
cloud without it FAILS these tests (they do not skip): the guideline
requires the capability. Each test creates its own run-tagged 1 GiB volume
(name prefix, ``octoprobe-run`` metadata) through the Block Storage v3 API
and deletes it after the test (detaching it first); the module boots one
server."""

from __future__ import annotations

from typing import Any

import pytest

from octoprobe.waiters import GONE

from .nova import ACTION_TIMEOUT, POLL, check_status, json_body

ATTACH = "compute-volume-attach"


class Volumes:
    """Block Storage v3 calls, for the volumes these tests attach."""

    def __init__(self, nova):
        self.nova = nova
        self.api = nova.conn.block_storage

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.api.request(path, method, raise_exc=False, headers={"Accept": "application/json"}, **kwargs)

    def create(self, resources) -> dict:
        body = {"volume": {"size": 1, "name": self.nova.run.name("vol"), "metadata": self.nova.run.metadata}}
        resp = self.request("POST", "/volumes", json=body)
        check_status(resp, 202)
        volume = json_body(resp)["volume"]
        resources.add(f"volume {volume['id']}", lambda: self.delete_quietly(volume["id"]))
        return self.wait(volume["id"], "available")

    def show(self, volume_id: str) -> dict | None:
        resp = self.request("GET", f"/volumes/{volume_id}")
        if resp.status_code == 404:
            return None
        check_status(resp, 200)
        return json_body(resp)["volume"]

    def wait(self, volume_id: str, status: str) -> dict:
        return self.nova.waiter.wait(f"volume {volume_id} {status}", lambda: self.show(volume_id), ready={status},
                                     failed={"error", "error_deleting", "error_detaching", "error_attaching", GONE},
                                     timeout=ACTION_TIMEOUT, interval=POLL).value

    def delete_quietly(self, volume_id: str) -> None:
        volume = self.show(volume_id)
        if volume is None:
            return
        for attachment in volume.get("attachments") or []:
            self.nova.request("DELETE", f"/servers/{attachment['server_id']}/os-volume_attachments/{volume_id}")
        if volume.get("attachments"):
            self.wait(volume_id, "available")
        resp = self.request("DELETE", f"/volumes/{volume_id}")
        if resp.status_code not in (202, 204, 404):
            raise RuntimeError(f"deleting a volume of the run failed: {resp.status_code} {resp.text[:200]}")
        self.nova.waiter.wait(f"volume {volume_id} deleted", lambda: self.show(volume_id), ready={GONE},
                              failed={"error_deleting"}, timeout=ACTION_TIMEOUT, interval=POLL)


@pytest.fixture(scope="module")
def volumes(nova) -> Volumes:
    return Volumes(nova)


@pytest.fixture(scope="module")
def host(nova, image, flavor, module_resources):
    return nova.boot(module_resources, image["id"], flavor["id"])


def _attach(nova, volumes, server_id: str, volume_id: str) -> dict:
    resp = nova.request("POST", f"/servers/{server_id}/os-volume_attachments",
                        json={"volumeAttachment": {"volumeId": volume_id}})
    check_status(resp, 200)
    attachment = nova.schemas.validate("compute/volume-attachment", json_body(resp))["volumeAttachment"]
    volumes.wait(volume_id, "in-use")
    return attachment


@pytest.mark.capability(ATTACH, "52e9045a-e90d-4c0d-9087-79d657faffff")
def test_attach_detach_volume(nova, volumes, host, resources):
    """POST /servers/{id}/os-volume_attachments: 200 with the attachment
    (volume, server); the volume becomes in-use and the server lists it;
    DELETE the attachment: 202, the volume is available again and the
    server no longer lists it."""
    volume = volumes.create(resources)
    attachment = _attach(nova, volumes, host.id, volume["id"])
    assert (attachment["volumeId"], attachment["serverId"]) == (volume["id"], host.id), f"POST answered {attachment}"
    attached = [v["id"] for v in nova.show(host.id).get("os-extended-volumes:volumes_attached", [])]
    assert volume["id"] in attached, f"the server lists attached volumes {attached}, without {volume['id']}"
    resp = nova.request("DELETE", f"/servers/{host.id}/os-volume_attachments/{volume['id']}")
    check_status(resp, 202)
    volumes.wait(volume["id"], "available")
    nova.wait_status(host.id, "ACTIVE")
    attached = [v["id"] for v in nova.show(host.id).get("os-extended-volumes:volumes_attached", [])]
    assert volume["id"] not in attached, "a detached volume is still listed by the server"


@pytest.mark.capability(ATTACH, "7fa563fe-f0f7-43eb-9e22-a1ece036b513")
def test_list_get_volume_attachments(nova, volumes, host, resources):
    """GET /servers/{id}/os-volume_attachments lists the attachment; GET
    .../{volume id} shows it; both name the volume and the server."""
    volume = volumes.create(resources)
    _attach(nova, volumes, host.id, volume["id"])
    listed = nova.get(f"/servers/{host.id}/os-volume_attachments", "compute/volume-attachments")["volumeAttachments"]
    mine = [a for a in listed if a["volumeId"] == volume["id"]]
    assert len(mine) == 1 and mine[0]["serverId"] == host.id, f"the attachments are {listed}"
    shown = nova.get(f"/servers/{host.id}/os-volume_attachments/{volume['id']}",
                     "compute/volume-attachment")["volumeAttachment"]
    assert (shown["volumeId"], shown["serverId"]) == (volume["id"], host.id), f"GET shows {shown}"
    check_status(nova.request("DELETE", f"/servers/{host.id}/os-volume_attachments/{volume['id']}"), 202)
    volumes.wait(volume["id"], "available")
