"""images-v2-list: GET /v2/images filtered by container_format, disk_format,
size, size_min/size_max, status and visibility, and paginated by limit.

Each test creates its own small images (run-tagged, deleted after it) and
lists with the run's tag too, so other images of the cloud do not matter;
every returned image must match the filter, the matching images of the test
must be there and the others must not."""

from __future__ import annotations

import pytest

from .glance import MIB, payload

LIST = "images-v2-list"


def _check_filter(glance, query: str, match: set[str], other: set[str], predicate) -> None:
    images = glance.list_ours(query)
    ids = {i["id"] for i in images}
    wrong = [(i["id"], {k: i.get(k) for k in ("status", "disk_format", "container_format", "size", "visibility")})
             for i in images if not predicate(i)]
    assert not wrong, f"GET /v2/images?{query} returns images that do not match: {wrong}"
    assert match <= ids, f"GET /v2/images?{query} lacks matching images {sorted(match - ids)}"
    assert not (other & ids), f"GET /v2/images?{query} returns non-matching images {sorted(other & ids)}"


@pytest.mark.capability(LIST, "9959ca1d-1aa7-4b7a-a1ea-0fff0499b37e")
def test_list_images_param_container_format(glance, resources):
    bare = glance.create(resources, container_format="bare")["id"]
    ovf = glance.create(resources, container_format="ovf")["id"]
    _check_filter(glance, "container_format=ovf", {ovf}, {bare}, lambda i: i["container_format"] == "ovf")


@pytest.mark.capability(LIST, "4a4735a7-f22f-49b6-b0d9-66e1ef7453eb")
def test_list_images_param_disk_format(glance, resources):
    raw = glance.create(resources, disk_format="raw")["id"]
    qcow2 = glance.create(resources, disk_format="qcow2")["id"]
    _check_filter(glance, "disk_format=qcow2", {qcow2}, {raw}, lambda i: i["disk_format"] == "qcow2")


@pytest.mark.capability(LIST, "e914a891-3cc8-4b40-ad32-e0a39ffbddbb")
def test_list_images_param_limit(glance, resources):
    """?limit=1 returns one image and a next link that leads to the others
    (the test's three images carry a tag of their own: other tests of the run
    may create images meanwhile, e.g. on other xdist workers)."""
    own = glance.run.name("paging")
    ids = {glance.create(resources, tags=[own])["id"] for _ in range(3)}
    resp = glance.request("GET", f"/images?tag={own}&limit=1")
    assert resp.status_code == 200, f"GET /v2/images?limit=1 -> {resp.status_code}"
    page = glance.schemas.validate("image/images", resp.json())
    assert len(page["images"]) == 1, f"?limit=1 returned {len(page['images'])} images"
    assert page.get("next"), "?limit=1 with 3 images has no next link"
    listed = [i["id"] for i in glance.list(f"tag={own}&limit=1")]
    assert sorted(listed) == sorted(ids), f"paging with limit=1 lists {listed}, the run has {sorted(ids)}"


@pytest.mark.capability(LIST, "cf1b9a48-8340-480e-af7b-fe7e17690876")
def test_list_images_param_size(glance, resources):
    small = glance.create_active(resources, payload(MIB))
    large = glance.create_active(resources, payload(2 * MIB))
    size = small["size"]
    _check_filter(glance, f"size_min={size}&size_max={size}", {small["id"]}, {large["id"]},
                  lambda i: i["size"] == size)


@pytest.mark.capability(LIST, "4ad8c157-971a-4ba8-aa84-ed61154b1e7f")
def test_list_images_param_min_max_size(glance, resources):
    small = glance.create_active(resources, payload(MIB))
    large = glance.create_active(resources, payload(3 * MIB))
    lo = 2 * MIB
    _check_filter(glance, f"size_min={lo}", {large["id"]}, {small["id"]}, lambda i: (i["size"] or 0) >= lo)
    _check_filter(glance, f"size_max={lo}", {small["id"]}, {large["id"]},
                  lambda i: i["size"] is not None and i["size"] <= lo)


@pytest.mark.capability(LIST, "7fc9e369-0f58-4d05-9aa5-0969e2d59d15")
def test_list_images_param_status(glance, resources):
    active = glance.create_active(resources, payload(MIB))["id"]
    queued = glance.create(resources)["id"]
    _check_filter(glance, "status=active", {active}, {queued}, lambda i: i["status"] == "active")
    _check_filter(glance, "status=queued", {queued}, {active}, lambda i: i["status"] == "queued")


@pytest.mark.capability(LIST, "7a95bb92-d99e-4b12-9718-7bc6ab73e6d2")
def test_list_images_param_visibility(glance, resources):
    private = glance.create(resources, visibility="private")["id"]
    shared = glance.create(resources, visibility="shared")["id"]
    _check_filter(glance, "visibility=private", {private}, {shared}, lambda i: i["visibility"] == "private")
    _check_filter(glance, "visibility=shared", {shared}, {private}, lambda i: i["visibility"] == "shared")
