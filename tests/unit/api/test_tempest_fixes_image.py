"""Glance behaviours Tempest's required image tests rely on, found by running
them against the reference cloud (``octoprobe tempest --service image``)."""

from __future__ import annotations

import pytest

from test_image import PATCH, _error, glance  # noqa: F401  (the fixture)

DRAFT10 = {"Content-Type": "application/openstack-images-v2.0-json-patch"}


def test_v2_0_json_patch_is_accepted_in_its_draft10_form(glance):
    # Tempest's images client sends the v2.0 media type with {"<op>": "<path>", "value": v}
    img = glance.create(name="before", extra="1")
    r = glance.patch(img["id"], [
        {"replace": "/name", "value": "after"},
        {"add": "/new_prop", "value": "v"},
        {"remove": "/extra"},
    ], **DRAFT10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "after" and body["new_prop"] == "v" and "extra" not in body
    assert glance.show(img["id"]).json() == body


@pytest.mark.parametrize("ops,needle", [
    ([{"op": "replace", "path": "/name", "value": "x"}], "exactly one"),  # the v2.1 form under v2.0
    ([{"add": "/a", "replace": "/b", "value": "x"}], "exactly one"),
    ([{"replace": "/name", "value": "x", "path": "/y"}], "Unknown"),
    ([{"add": "/name"}], "value"),
])
def test_v2_0_json_patch_refusals(glance, ops, needle):
    img = glance.create(name="p")
    r = glance.patch(img["id"], ops, **DRAFT10)
    assert r.status_code == 400, r.text
    assert needle in _error(r)
    assert glance.show(img["id"]).json() == img


def test_v2_1_json_patch_still_takes_the_rfc6902_form(glance):
    img = glance.create(name="p")
    r = glance.patch(img["id"], [{"replace": "/name", "value": "x"}])  # draft-10 form under v2.1: refused
    assert r.status_code == 400
    assert PATCH["Content-Type"].endswith("v2.1-json-patch")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_empty_image_id_is_404_not_the_list(glance, method):
    glance.create(name="exists")
    r = glance.client.request(method, "/image/v2/images/", headers=glance.demo.h)
    assert r.status_code == 404, r.text
    _error(r)
    assert [i["name"] for i in glance.list()] == ["exists"]  # nothing deleted, the list is intact


def test_list_filters_on_size_and_the_other_integer_columns_exactly(glance):
    # Tempest lists with ?size=<an image's size>; it is a column filter, not a property one
    small, big = glance.create(name="small", min_ram=64), glance.create(name="big", min_disk=2)
    glance.upload(small["id"], b"x" * 10)
    glance.upload(big["id"], b"y" * 20)
    assert [i["name"] for i in glance.list(size=10)] == ["small"]
    assert [i["name"] for i in glance.list(size=20)] == ["big"]
    assert glance.list(size=15) == []
    assert [i["name"] for i in glance.list(min_ram=64)] == ["small"]
    assert [i["name"] for i in glance.list(min_disk=2)] == ["big"]
    checksum = glance.show(small["id"]).json()["checksum"]
    assert [i["name"] for i in glance.list(checksum=checksum)] == ["small"]
    r = glance.client.get("/image/v2/images", params={"size": "ten"}, headers=glance.demo.h)
    assert r.status_code == 400 and "size" in _error(r)
