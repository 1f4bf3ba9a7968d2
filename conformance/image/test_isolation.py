"""Tenant isolation of images: a private image of another project is
invisible — not shown, not listed, not changeable (404, not 403: its
existence is not disclosed). Needs --alt-cloud."""

from __future__ import annotations

import pytest

from .glance import check_error

GET = "images-v2-get"
LIST = "images-v2-list"
UPDATE = "images-v2-update"


@pytest.fixture
def their_private_image(alt_glance, resources):
    """A private, run-tagged image of the second tenant (deleted after the test)."""
    return alt_glance.create(resources, visibility="private")


@pytest.mark.needs_alt
@pytest.mark.capability(GET, "f6d4fcc8-e84b-4afd-9e82-b51b0c55bbb4")
def test_another_tenants_private_image_is_404(glance, their_private_image, schemas):
    """GET, PATCH, DELETE of another tenant's private image: 404 with an error body."""
    image_id = their_private_image["id"]
    check_error(schemas, glance.request("GET", f"/images/{image_id}"), 404)
    check_error(schemas, glance.patch(image_id, [{"op": "replace", "path": "/name", "value": "stolen"}]), 404)
    check_error(schemas, glance.request("DELETE", f"/images/{image_id}"), 404)


@pytest.mark.needs_alt
@pytest.mark.capability(LIST, "fcc1545c-6dea-402b-8472-38ae001bf436")
@pytest.mark.parametrize("query", ["", "visibility=private", "visibility=all", "tag=RUNTAG"],
                         ids=["default", "private", "all", "run-tag"])
def test_another_tenants_private_image_is_not_listed(glance, alt_glance, their_private_image, query):
    """The private image of the second tenant is in its own list and in
    none of ours; every image we list is ours or not private."""
    query = query.replace("RUNTAG", glance.run.tag.replace("=", "%3D"))
    assert their_private_image["id"] in {i["id"] for i in alt_glance.list_ours()}, "the owner does not see it"
    images = glance.list(query)
    assert their_private_image["id"] not in {i["id"] for i in images}, (
        f"GET /v2/images?{query} shows another tenant's private image {their_private_image['id']}")
    leaked = [i["id"] for i in images if i["visibility"] == "private" and i["owner"] != glance.project_id]
    assert not leaked, f"GET /v2/images?{query} shows private images of other projects: {leaked}"
