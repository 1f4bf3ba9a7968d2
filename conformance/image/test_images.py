"""images-v2-index (create, upload, list), images-v2-get and
images-v2-delete: an image's life, and how getting and deleting fail.

Every image a test creates carries the run's tag and is deleted after it."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from .glance import MIB, check_error, check_status, json_body, payload

INDEX = "images-v2-index"
GET = "images-v2-get"
DELETE = "images-v2-delete"


def _visible_to(glance, image: dict) -> bool:
    """Whether the caller may see ``image`` in a default list: its own, a
    public one, or a shared one it is an accepted member of."""
    if image["owner"] == glance.project_id or image["visibility"] == "public":
        return True
    if image["visibility"] == "shared":
        resp = glance.request("GET", f"/images/{image['id']}/members/{glance.project_id}")
        return resp.status_code == 200 and json_body(resp).get("status") == "accepted"
    return False


# ---------------------------------------------------------------- index (CRUD)


@pytest.mark.capability(INDEX, "1e341d7a-90a9-494c-b143-2cdf2aeb6aee")
def test_list_no_params(glance, resources):
    """GET /v2/images without parameters: 200, every entry an image, the
    caller's new images among them, and only images the caller may see."""
    mine = {glance.create(resources)["id"], glance.create(resources, disk_format="qcow2")["id"]}
    images = glance.list()
    ids = [i["id"] for i in images]
    assert len(ids) == len(set(ids)), f"GET /v2/images lists an image twice: {sorted(ids)}"
    assert mine <= set(ids), f"GET /v2/images lacks the caller's images {sorted(mine - set(ids))}"
    strangers = [i["id"] for i in images if not _visible_to(glance, i)]
    assert not strangers, f"GET /v2/images lists images the caller may not see: {strangers}"


@pytest.mark.capability(INDEX, "91fd04c2-27e4-4914-9a2b-ef5db8d9d524")
def test_create_upload_download_image(glance, resources):
    """POST /v2/images: 201, queued, the attributes given, the run's tag, a
    Location; PUT .../file: 204, then active with size and checksums of
    the data; GET .../file returns the same bytes."""
    name = glance.run.name("image")
    resp = glance.request("POST", "/images", json={"name": name, "disk_format": "raw", "container_format": "bare",
                                                  "min_ram": 64, "tags": [glance.run.tag], "octoprobe_note": "x"})
    check_status(resp, 201)
    image = glance.schemas.validate("image/image", json_body(resp))
    resources.add(f"image {image['id']}", lambda: glance.delete_quietly(image["id"]))
    assert image["status"] == "queued", f"a new image is {image['status']!r}, not queued"
    assert (image["name"], image["disk_format"], image["container_format"], image["min_ram"]) == (
        name, "raw", "bare", 64), f"the new image does not have the attributes given: {image}"
    assert image["owner"] == glance.project_id, "the new image belongs to another project"
    assert glance.run.tag in image["tags"] and image.get("octoprobe_note") == "x"
    assert image["visibility"] in ("shared", "private"), f"a new image is {image['visibility']} by default"
    location = resp.headers.get("Location", "")
    assert location.rstrip("/").endswith(f"/images/{image['id']}"), f"Location {location!r} is not the new image"
    data = payload(2 * MIB, image["id"])
    check_status(glance.upload(image["id"], data), 204)
    shown = glance.show(image["id"])
    assert shown["status"] == "active", f"the image is {shown['status']!r} after its upload"
    assert shown["size"] == len(data), f"size {shown['size']} after uploading {len(data)} bytes"
    assert shown["checksum"] == hashlib.md5(data).hexdigest(), "checksum is not the MD5 of the data"
    if shown.get("os_hash_algo"):
        digest = hashlib.new(shown["os_hash_algo"], data).hexdigest()
        assert shown["os_hash_value"] == digest, f"os_hash_value is not the {shown['os_hash_algo']} of the data"
    resp = glance.request("GET", f"/images/{image['id']}/file", headers={"Accept": "application/octet-stream"})
    check_status(resp, 200)
    assert resp.content == data, f"the downloaded data differ from the upload ({len(resp.content)} bytes)"


@pytest.mark.capability(INDEX, "1c602a62-5902-4660-a961-b4da839790f5")
def test_upload_to_active_image_is_409(glance, resources, schemas):
    """A second upload to an active image: 409 with an error body; the data stay."""
    data = payload(MIB)
    image = glance.create_active(resources, data)
    check_error(schemas, glance.upload(image["id"], payload(MIB, "other")), 409)
    again = glance.show(image["id"])
    assert (again["status"], again["checksum"]) == ("active", image["checksum"]), "a refused upload changed the image"


# ---------------------------------------------------------------- get


@pytest.mark.capability(GET, "8c55dbbd-c82b-4bba-95b9-10df301a8f51")
def test_get_image(glance, resources):
    """GET /v2/images/{id}: 200, the image as created."""
    image = glance.create(resources, min_disk=1)
    shown = glance.show(image["id"])
    for key in ("id", "name", "owner", "disk_format", "container_format", "min_disk", "visibility", "created_at"):
        assert shown[key] == image[key], f"GET shows {key} {shown[key]!r}; the creation said {image[key]!r}"
    assert shown["self"].rstrip("/").endswith(f"/images/{image['id']}"), f"self {shown['self']!r}"


@pytest.mark.capability(GET, "622b925c-479f-4736-860d-adeaf13bc371")
def test_get_image_schema(glance, schemas):
    """GET /v2/schemas/image: the image schema, named image, with the core attributes."""
    resp = glance.request("GET", "/schemas/image")
    check_status(resp, 200)
    doc = schemas.validate("image/schema", json_body(resp))
    assert doc["name"] == "image", f"GET /v2/schemas/image is named {doc['name']!r}"
    missing = {"id", "name", "status", "visibility", "disk_format", "container_format", "tags"} - set(doc["properties"])
    assert not missing, f"the image schema lacks {sorted(missing)}"


@pytest.mark.capability(GET, "25c8d7b2-df21-460f-87ac-93130bcdc684")
def test_get_images_schema(glance, schemas):
    """GET /v2/schemas/images: the list schema, named images, with an images array."""
    resp = glance.request("GET", "/schemas/images")
    check_status(resp, 200)
    doc = schemas.validate("image/schema", json_body(resp))
    assert doc["name"] == "images", f"GET /v2/schemas/images is named {doc['name']!r}"
    assert "images" in doc["properties"], f"the images schema has no 'images' property: {sorted(doc['properties'])}"


@pytest.mark.capability(GET, "668743d5-08ad-4480-b2b8-15da34f81d9f")
def test_get_non_existent_image(glance, schemas):
    """GET /v2/images/{an id that does not exist}: 404 with an error body."""
    check_error(schemas, glance.request("GET", f"/images/{uuid.uuid4()}"), 404)


@pytest.mark.capability(GET, "ef45000d-0a72-4781-866d-4cb7bf2562ad")
def test_get_image_null_id(glance, schemas):
    """GET /v2/images/ (an empty id) shows no image: 404 with an error body
    (Glance), or the image list where a router folds the trailing slash."""
    resp = glance.request("GET", "/images/")
    if resp.status_code == 200:
        body = schemas.validate("image/images", json_body(resp))
        assert "images" in body, "GET /v2/images/ returned an image"
    else:
        check_error(schemas, resp, 404)


@pytest.mark.capability(GET, "e57fc127-7ba0-4693-92d7-1d8a05ebcba9")
def test_get_delete_deleted_image(glance, resources, schemas):
    """A deleted image is gone: GET and DELETE are 404 with an error body."""
    image = glance.create(resources)
    check_status(glance.request("DELETE", f"/images/{image['id']}"), 204)
    check_error(schemas, glance.request("GET", f"/images/{image['id']}"), 404)
    check_error(schemas, glance.request("DELETE", f"/images/{image['id']}"), 404)


# ---------------------------------------------------------------- delete


@pytest.mark.capability(DELETE, "f848bb94-1c6e-45a4-8726-39e3a5b23535")
def test_delete_image(glance, resources, schemas):
    """DELETE /v2/images/{id} of an active image: 204 without a body; then
    GET is 404 and the list no longer has it."""
    image = glance.create_active(resources, payload(MIB))
    resp = glance.request("DELETE", f"/images/{image['id']}")
    check_status(resp, 204)
    assert not resp.content, "DELETE /v2/images/{id} answered 204 with a body"
    check_error(schemas, glance.request("GET", f"/images/{image['id']}"), 404)
    assert image["id"] not in {i["id"] for i in glance.list_ours()}, "a deleted image is still listed"


@pytest.mark.capability(DELETE, "32248db1-ab88-4821-9604-c7c369f1f88c")
def test_delete_image_null_id(glance, schemas):
    """DELETE /v2/images/ (an empty id): 404 (Glance) or 405, with an error body."""
    check_error(schemas, glance.request("DELETE", "/images/"), 404, 405)


@pytest.mark.capability(DELETE, "6fe40f1c-57bd-4918-89cc-8500f850f3de")
def test_delete_non_existing_image(glance, schemas):
    """DELETE /v2/images/{an id that does not exist}: 404 with an error body."""
    check_error(schemas, glance.request("DELETE", f"/images/{uuid.uuid4()}"), 404)


@pytest.mark.capability(DELETE, "47cc37e0-344a-42a5-82a2-b678412736e4")
def test_delete_protected_image_is_403(glance, resources, schemas):
    """A protected image cannot be deleted: 403 with an error body, and it
    stays; unprotected, it can."""
    image = glance.create(resources, protected=True)
    assert image["protected"] is True, "an image created with protected=true is not protected"
    check_error(schemas, glance.request("DELETE", f"/images/{image['id']}"), 403)
    assert glance.show(image["id"])["protected"] is True, "a refused delete changed the image"
    check_status(glance.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}]), 200)
    check_status(glance.request("DELETE", f"/images/{image['id']}"), 204)
