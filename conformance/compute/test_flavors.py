"""compute-flavors-list: GET /flavors, /flavors/detail and /flavors/{id}."""

from __future__ import annotations

import uuid

import pytest

from .nova import check_error

CAPABILITY = "compute-flavors-list"


@pytest.mark.capability(CAPABILITY, "e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59")
def test_list_flavors(nova, flavor):
    """GET /flavors: 200, each flavor's id, name and links; the flavor
    servers boot with is there with its name."""
    flavors = nova.get("/flavors", "compute/flavors")["flavors"]
    ids = [f["id"] for f in flavors]
    assert len(ids) == len(set(ids)), f"GET /flavors lists a flavor twice: {ids}"
    listed = {f["id"]: f for f in flavors}
    assert flavor["id"] in listed, f"GET /flavors lacks flavor {flavor['id']} ({flavor['name']}) that detail lists"
    assert listed[flavor["id"]]["name"] == flavor["name"], (
        "GET /flavors and /flavors/detail name the flavor differently")


@pytest.mark.capability(CAPABILITY, "6e85fde4-b3cd-4137-ab72-ed5f418e8c24")
def test_list_flavors_with_detail(nova):
    """GET /flavors/detail: the same flavors as GET /flavors, each with its
    ram, disk and vcpus, and GET /flavors/{id} agrees with the list."""
    brief = {f["id"] for f in nova.get("/flavors", "compute/flavors")["flavors"]}
    detailed = nova.get("/flavors/detail", "compute/flavors-detail")["flavors"]
    assert {f["id"] for f in detailed} == brief, "GET /flavors and GET /flavors/detail list different flavors"
    assert detailed, "the cloud lists no flavor"
    for flavor in detailed[:3]:
        shown = nova.get(f"/flavors/{flavor['id']}", "compute/flavor")["flavor"]
        for key in ("id", "name", "ram", "disk", "vcpus"):
            assert shown[key] == flavor[key], (
                f"GET /flavors/{flavor['id']} says {key} {shown[key]!r}, the detailed list {flavor[key]!r}")


@pytest.mark.capability(CAPABILITY, "a0fdcfd2-6f80-4962-a31b-5a2cad20bfb3")
def test_list_flavors_paginated(nova):
    """GET /flavors/detail?limit=1: one flavor and a next link whose marker
    continues after it; following the links lists every flavor once."""
    everything = [f["id"] for f in nova.get("/flavors/detail", "compute/flavors-detail")["flavors"]]
    if len(everything) < 2:
        pytest.skip("the cloud has fewer than two flavors: nothing to page through")
    page = nova.get("/flavors/detail?limit=1", "compute/flavors-detail")
    assert len(page["flavors"]) == 1, f"?limit=1 returned {len(page['flavors'])} flavors"
    seen = [page["flavors"][0]["id"]]
    for _ in range(len(everything) + 1):
        nxt = next((link["href"] for link in page.get("flavors_links") or [] if link["rel"] == "next"), None)
        if not nxt:
            break
        page = nova.get("/flavors/detail?" + nxt.split("?", 1)[1], "compute/flavors-detail")
        seen.extend(f["id"] for f in page["flavors"])
    assert sorted(seen) == sorted(everything), f"paging with limit=1 lists {seen}; the full list is {everything}"


@pytest.mark.capability(CAPABILITY, "ddcd2ef4-80a0-47f9-9e17-80188a0407b8")
def test_get_non_existent_flavor(nova, schemas):
    """GET /flavors/{an id that does not exist}: 404 with Nova's error body."""
    check_error(schemas, nova.request("GET", f"/flavors/{uuid.uuid4()}"), 404)
