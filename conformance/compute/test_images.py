"""compute-images-create: createImage makes a Glance image of a server.

The snapshots are taken of the shared server (a snapshot does not change
it); each image carries the run's tag as a property (``octoprobe-run``, from
the createImage metadata) and a name with the run's prefix, and is deleted
through Glance after its test."""

from __future__ import annotations

import uuid

import pytest

from .nova import check_error, check_status, json_body

CREATE = "compute-images-create"


def _create_image(nova, resources, server_id: str, name: str, *, microversion: str = "2.1", **metadata):
    resp = nova.action(server_id, {"createImage": {"name": name, "metadata": {**nova.run.metadata, **metadata}}},
                       microversion=microversion)
    check_status(resp, 202)
    if microversion == "2.1":
        location = resp.headers.get("Location", "")
        assert location, f"createImage (2.1) answered without a Location header: {resp.headers}"
        image_id = location.rstrip("/").rsplit("/", 1)[-1]
    else:
        image_id = nova.schemas.validate("compute/image-id", json_body(resp))["image_id"]
    resources.add(f"image {image_id}", lambda: nova.delete_image_quietly(image_id))
    return resp, image_id


def _glance_image(nova, image_id: str) -> dict:
    resp = nova.conn.image.request(f"/images/{image_id}", "GET", raise_exc=False, skip_cache=True,
                                   headers={"Accept": "application/json"})
    check_status(resp, 200)
    return json_body(resp)


@pytest.mark.capability(CREATE, "3731d080-d4c5-4872-b41a-64d0d0021314")
def test_create_delete_image(nova, resources, server):
    """createImage of an ACTIVE server: 202 with a Location naming the new
    image; the image becomes active in Glance with the name, the metadata
    as properties and the caller's project as owner; the server stays
    ACTIVE; deleting the image (Glance) makes it 404."""
    name = nova.run.name("snap")
    resp, image_id = _create_image(nova, resources, server.id, name, purpose="conformance")
    assert "/images/" in resp.headers["Location"], f"Location {resp.headers['Location']!r} is not an image"
    active = nova.wait_image(image_id).value
    assert active["name"] == name, f"the snapshot is named {active['name']!r}, not {name!r}"
    assert active.get("purpose") == "conformance" and active.get("octoprobe-run") == nova.run.run_id, (
        "the createImage metadata are not the image's properties")
    assert active["owner"] == nova.project_id, f"the snapshot belongs to {active['owner']}, not the caller's project"
    nova.wait_status(server.id, "ACTIVE")
    nova.delete_image_quietly(image_id)
    resp = nova.conn.image.request(f"/images/{image_id}", "GET", raise_exc=False, skip_cache=True)
    assert resp.status_code == 404, f"a deleted snapshot is still shown: {resp.status_code}"


@pytest.mark.capability(CREATE, "3b7c6fe4-dfe7-477c-9243-b06359db51e6")
def test_create_image_specify_multibyte_character_image_name(nova, resources, server):
    """createImage with a name of multibyte characters: 202, and the image
    has exactly that name."""
    name = nova.run.name("snap") + "-\u1111\u3042\U0001f419"
    _, image_id = _create_image(nova, resources, server.id, name)
    assert _glance_image(nova, image_id)["name"] == name, "the multibyte image name was changed"
    nova.wait_image(image_id)
    nova.wait_status(server.id, "ACTIVE")


@pytest.mark.capability(CREATE, "164dc5db-6c6e-4699-8825-dda1d9441408")
def test_create_image_answers_image_id_from_2_45(nova, resources, server):
    """Microversion 2.45: createImage answers {"image_id"} (no Location), and
    that image exists."""
    version = nova.microversion("2.45")
    resp, image_id = _create_image(nova, resources, server.id, nova.run.name("snap"), microversion=version)
    assert "Location" not in resp.headers, "createImage at 2.45 still answers a Location header"
    nova.wait_image(image_id)
    nova.wait_status(server.id, "ACTIVE")


@pytest.mark.capability(CREATE, "94013528-f6d9-48c8-9447-d035f9758166")
def test_create_image_of_non_existent_server_is_404(nova, schemas):
    check_error(schemas, nova.action(str(uuid.uuid4()), {"createImage": {"name": nova.run.name("snap")}}), 404)


@pytest.mark.capability(CREATE, "390168fa-2c55-4b6c-9fc5-3858dd0a0f3f")
def test_create_image_without_name_is_400(nova, server, schemas):
    """createImage without a name: 400 with Nova's error body."""
    check_error(schemas, nova.action(server.id, {"createImage": {"metadata": nova.run.metadata}}), 400)
