"""images-v2-update: JSON-patch updates and tags, and how they fail.

Every image a test creates carries the run's tag and is deleted after it."""

from __future__ import annotations

import uuid

import pytest

from .glance import check_error, check_status, json_body

UPDATE = "images-v2-update"
DELETE = "images-v2-delete"


@pytest.mark.capability(UPDATE, "f66891a7-a35c-41a8-b590-a065c2a1caa6")
def test_update_image(glance, resources, schemas):
    """PATCH /v2/images/{id} (replace name, add a property, remove it):
    200 with the updated image, and GET shows the change."""
    image = glance.create(resources)
    new_name = glance.run.name("renamed")
    resp = glance.patch(image["id"], [{"op": "replace", "path": "/name", "value": new_name},
                                      {"op": "add", "path": "/octoprobe_color", "value": "blue"}])
    check_status(resp, 200)
    patched = schemas.validate("image/image", json_body(resp))
    assert (patched["name"], patched.get("octoprobe_color")) == (new_name, "blue"), f"PATCH returned {patched}"
    shown = glance.show(image["id"])
    assert (shown["name"], shown.get("octoprobe_color")) == (new_name, "blue"), "GET does not show the update"
    check_status(glance.patch(image["id"], [{"op": "remove", "path": "/octoprobe_color"}]), 200)
    assert "octoprobe_color" not in glance.show(image["id"]), "a removed property is still shown"


@pytest.mark.capability(UPDATE, "10407036-6059-4f95-a2cd-cbbbee7ed329")
def test_update_delete_tags_for_image(glance, resources):
    """PUT /v2/images/{id}/tags/{tag}: 204, the tag shows; DELETE: 204, it is gone."""
    image = glance.create(resources)
    tag = "octoprobe-t-" + uuid.uuid4().hex[:8]
    resp = glance.request("PUT", f"/images/{image['id']}/tags/{tag}")
    check_status(resp, 204)
    assert tag in glance.show(image["id"])["tags"], "an added tag is not shown"
    check_status(glance.request("DELETE", f"/images/{image['id']}/tags/{tag}"), 204)
    tags = glance.show(image["id"])["tags"]
    assert tag not in tags, "a deleted tag is still shown"
    assert glance.run.tag in tags, "deleting one tag removed another"


@pytest.mark.capability(UPDATE, "8cd30f82-6f9a-4c6e-8034-c1b51fba43d9")
def test_update_tags_for_non_existing_image(glance, schemas):
    """Tagging an image that does not exist: 404 with an error body."""
    check_error(schemas, glance.request("PUT", f"/images/{uuid.uuid4()}/tags/octoprobe-x"), 404)


@pytest.mark.capability(DELETE, "39c023a2-325a-433a-9eea-649bf1414b19")
def test_delete_non_existing_tag(glance, resources, schemas):
    """Deleting a tag the image does not have: 404 with an error body."""
    image = glance.create(resources)
    check_error(schemas, glance.request("DELETE", f"/images/{image['id']}/tags/octoprobe-absent"), 404)


@pytest.mark.capability(UPDATE, "53e874b9-57cd-4720-af38-82a651a22c08")
@pytest.mark.parametrize(
    "ops",
    [
        {"op": "replace", "path": "/name", "value": "x"},
        [{"op": "frobnicate", "path": "/name", "value": "x"}],
        [{"op": "replace", "path": "name", "value": "x"}],
        [{"op": "replace", "path": "/name"}],
    ],
    ids=["not-a-list", "unknown-op", "path-not-a-pointer", "replace-without-value"],
)
def test_bad_json_patch_is_400(glance, resources, schemas, ops):
    """A malformed JSON patch: 400 with an error body, and the image is unchanged."""
    image = glance.create(resources)
    check_error(schemas, glance.patch(image["id"], ops), 400)
    assert glance.show(image["id"])["name"] == image["name"], "a refused patch changed the image"


@pytest.mark.capability(UPDATE, "afe7f7b9-c5c4-47d1-b7b2-b1d45e94caa2")
def test_patch_read_only_attribute_is_403(glance, resources, schemas):
    """Patching a read-only attribute (status): 403 with an error body."""
    image = glance.create(resources)
    check_error(schemas, glance.patch(image["id"], [{"op": "replace", "path": "/status", "value": "active"}]), 403)
    assert glance.show(image["id"])["status"] == "queued", "a refused patch changed the status"


@pytest.mark.capability(UPDATE, "b4e70888-9ab5-4ef2-b36d-93b4448189c8")
def test_patch_with_wrong_media_type_is_415(glance, resources, schemas):
    """A patch sent as plain application/json (not Glance's JSON-patch media type): 415."""
    image = glance.create(resources)
    check_error(schemas, glance.patch(image["id"], [{"op": "replace", "path": "/name", "value": "x"}],
                                      content_type="application/json"), 415)
