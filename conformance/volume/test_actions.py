"""Volumes made from an image (volumes-v3-copy-image-to-volume) and from a
volume (volumes-v3-clone), and the volume actions the guideline requires:
the bootable flag (os-set_bootable), the read-only flag
(os-update_readonly_flag, volumes-v3-readonly) and upload to an image
(os-volume_upload_image, volumes-v3-upload).

The module uploads one small raw image (1 MiB, run-tagged) through the
Image API to copy into a volume, and creates one volume the action tests
act on (each restores the flag it sets); the image a volume is uploaded
to is deleted after its test."""

from __future__ import annotations

import urllib.parse
import uuid

import pytest

from ..image.glance import MIB, Glance, payload
from .cinder import check_error, check_status, json_body

COPY_IMAGE = "volumes-v3-copy-image-to-volume"
CLONE = "volumes-v3-clone"
READONLY = "volumes-v3-readonly"
UPLOAD = "volumes-v3-upload"


@pytest.fixture(scope="module")
def source_image(conn, schemas, run, module_resources) -> dict:
    """A 1 MiB raw image, active, deleted when the module ends."""
    glance = Glance(conn, schemas, run)
    return glance.create_active(module_resources, payload(MIB, run.run_id), disk_format="raw")


@pytest.fixture(scope="module")
def acted(cinder, module_resources) -> dict:
    """The volume the action tests act on (each restores what it changes)."""
    return cinder.create_volume(module_resources, description="octoprobe volume actions")


def _rename_and_delete(cinder, schemas, volume: dict) -> None:
    """What Tempest's create-get-update-delete does after the create: PUT a
    new name and description (200, kept), DELETE (202), then 404."""
    name = cinder.run.name("vol")
    resp = cinder.request("PUT", f"/volumes/{volume['id']}", json={"volume": {"name": name, "description": "upd"}})
    check_status(resp, 200)
    updated = schemas.validate("volume/volume", json_body(resp))["volume"]
    assert (updated["name"], updated["description"]) == (name, "upd"), f"PUT answered {updated}"
    check_status(cinder.request("DELETE", f"/volumes/{volume['id']}"), 202)
    cinder.wait_volume_gone(volume["id"])
    check_error(schemas, cinder.request("GET", f"/volumes/{volume['id']}"), 404)


# ---------------------------------------------------------------- from an image, from a volume


@pytest.mark.capability(COPY_IMAGE, "54a01030-c7fc-447c-86ee-c1182beae638")
def test_volume_create_get_update_delete_from_image(cinder, source_image, resources, schemas):
    """POST /volumes with an imageRef: 202; the volume becomes available,
    bootable, 1 GiB, with the image's metadata (``volume_image_metadata``
    naming the image and its formats); then renamed and deleted."""
    created = cinder.create_volume(resources, wait=False, imageRef=source_image["id"])
    volume = cinder.wait_volume(created["id"], "available").value
    assert volume["bootable"] == "true", f"a volume made from an image is bootable {volume['bootable']!r}"
    assert volume["size"] == 1, f"a volume asked 1 GiB of a 1 MiB image is {volume['size']} GiB"
    meta = volume.get("volume_image_metadata")
    assert meta, f"a volume made from an image has no volume_image_metadata: {sorted(volume)}"
    assert meta.get("image_id") == source_image["id"], f"volume_image_metadata names image {meta.get('image_id')}"
    assert (meta.get("disk_format"), meta.get("container_format")) == ("raw", "bare"), f"it says {meta}"
    _rename_and_delete(cinder, schemas, volume)


@pytest.mark.capability(COPY_IMAGE, "2bcfdc87-2ed7-4c08-a5fe-ada058f0a80d")
def test_create_volume_from_nonexistent_image_is_400(cinder, resources, schemas):
    """POST /volumes with an imageRef no image has: 400 ``badRequest`` with
    Cinder's error body (Cinder: "Invalid image identifier")."""
    check_error(schemas, cinder.post_volume(resources, cinder.volume_body(imageRef=str(uuid.uuid4()))), 400)


@pytest.mark.capability(CLONE, "3f591b4a-7dc6-444c-bd51-77469506b3a1")
def test_volume_create_get_update_delete_as_clone(cinder, volume, resources, schemas):
    """POST /volumes with a source_volid (the shared volume): the clone
    becomes available, names its source, has its size; the source is
    unchanged; then the clone is renamed and deleted."""
    clone = cinder.create_volume(resources, source_volid=volume["id"])
    assert clone["source_volid"] == volume["id"], f"the clone's source_volid is {clone['source_volid']}"
    assert clone["size"] == volume["size"] and clone["snapshot_id"] is None, f"the clone is {clone}"
    assert clone["id"] != volume["id"], "the clone has its source's id"
    assert cinder.show_volume(volume["id"])["status"] == "available", "cloning changed the source volume"
    _rename_and_delete(cinder, schemas, clone)


# ---------------------------------------------------------------- actions


@pytest.mark.capability(COPY_IMAGE, "63e21b4c-0a0c-41f6-bfc3-7c2816815599")
def test_volume_bootable(cinder, acted):
    """os-set_bootable true, then false: 200 each; the volume shows
    bootable "true", then "false"."""
    for flag in (True, False):
        check_status(cinder.action(acted["id"], {"os-set_bootable": {"bootable": flag}}), 200)
        shown = cinder.show_volume(acted["id"])["bootable"]
        assert shown == str(flag).lower(), f"after os-set_bootable {flag} the volume says bootable {shown!r}"


@pytest.mark.capability(READONLY, "fff74e1e-5bd3-4b33-9ea9-24c103bc3f59")
def test_volume_readonly_update(cinder, acted):
    """os-update_readonly_flag true, then false: 202 each; the volume's
    metadata say readonly "True", then "False"."""
    for flag, shown in ((True, "True"), (False, "False")):
        check_status(cinder.action(acted["id"], {"os-update_readonly_flag": {"readonly": flag}}), 202)
        metadata = cinder.show_volume(acted["id"])["metadata"]
        assert metadata.get("readonly") == shown, (
            f"after os-update_readonly_flag {flag} the volume's metadata are {metadata} (readonly {shown!r} expected)")


@pytest.mark.capability(READONLY, "15aa4ea2-aaf0-458b-9b56-186485e95a84")
def test_readonly_flag_refusals(cinder, acted, schemas):
    """os-update_readonly_flag without ``readonly``, and on a volume that
    does not exist: 400 and 404 with Cinder's error body."""
    check_error(schemas, cinder.action(acted["id"], {"os-update_readonly_flag": {}}), 400)
    check_error(schemas, cinder.action(str(uuid.uuid4()), {"os-update_readonly_flag": {"readonly": True}}), 404)


def _uploaded_image_id(resp) -> str | None:
    """The id of the image an upload made, from any 2xx answer that names one."""
    if not 200 <= resp.status_code < 300:
        return None
    try:
        image_id = (resp.json().get("os-volume_upload_image") or {}).get("image_id")
    except (ValueError, AttributeError):
        return None
    return image_id if isinstance(image_id, str) and image_id else None


def _images_named(cinder, name: str) -> list[str]:
    resp = cinder.image_request("GET", f"/images?name={urllib.parse.quote(name)}")
    return [i["id"] for i in resp.json().get("images", [])] if resp.status_code == 200 else []


@pytest.mark.capability(UPLOAD, "d8f1ca95-3d5b-44a3-b8ca-909691c9532d")
def test_volume_upload(cinder, acted, resources, schemas):
    """os-volume_upload_image: 202 with the upload (the volume, the new
    image's id, name and formats); the image appears in the Image API,
    becomes active, private to the caller's project, with the name and
    formats asked and the volume's size; the volume is available again.
    The image is deleted after the test."""
    name = cinder.run.name("upload")
    resp = cinder.action(acted["id"], {"os-volume_upload_image": {
        "image_name": name, "disk_format": "raw", "container_format": "bare", "force": False}})
    # the image is deleted after the test whatever the checks below say (found by its name if the
    # answer does not name it), and tagged with the run's tag (best effort), so that a sweep finds it
    named = _uploaded_image_id(resp)
    for image_id in [named] if named else _images_named(cinder, name):
        resources.add(f"image {image_id}", lambda image_id=image_id: cinder.delete_image_quietly(image_id))
        cinder.image_request("PUT", f"/images/{image_id}/tags/{urllib.parse.quote(cinder.run.tag, safe='')}")
    check_status(resp, 202)
    upload = schemas.validate("volume/upload-image", json_body(resp))["os-volume_upload_image"]
    assert upload["id"] == acted["id"], f"the upload names volume {upload['id']}, not {acted['id']}"
    assert (upload["image_name"], upload["disk_format"], upload["container_format"]) == (name, "raw", "bare"), (
        f"the upload says {upload}")
    image = cinder.wait_image(upload["image_id"], "active").value
    assert (image["name"], image["disk_format"], image["container_format"]) == (name, "raw", "bare"), (
        f"the uploaded image is {image}")
    assert image["owner"] == cinder.project_id, f"the uploaded image belongs to {image['owner']}"
    assert image["visibility"] in ("private", "shared"), f"the uploaded image is {image['visibility']}"
    if image.get("size") is not None:
        assert image["size"] == acted["size"] * 1024 ** 3, f"a 1 GiB volume uploaded to {image['size']} bytes"
    cinder.wait_volume(acted["id"], "available")


@pytest.mark.capability(UPLOAD, "686e47bc-4509-44e8-a0e3-a75d152b6501")
def test_upload_of_nonexistent_volume_is_404(cinder, schemas):
    """os-volume_upload_image of a volume that does not exist: 404 with Cinder's error body."""
    resp = cinder.action(str(uuid.uuid4()), {"os-volume_upload_image": {"image_name": cinder.run.name("upload")}})
    check_error(schemas, resp, 404)
