"""volumes-v3-list: GET /volumes and /volumes/detail, filtered by name,
status, availability zone and metadata (each alone and combined), sorted,
and paged with limit/marker; filters that match nothing give empty lists.

The module creates three run-tagged 1 GiB volumes (at once, then waits for
them), each with a metadata item of the module's own besides the run's."""

from __future__ import annotations

import json
import secrets
import urllib.parse

import pytest

from .cinder import check_status, json_body

LIST = "volumes-v3-list"


def _q(**params: object) -> str:
    return urllib.parse.urlencode(params)


def _meta(mapping: dict) -> str:
    return json.dumps(mapping, separators=(",", ":"))


@pytest.fixture(scope="module")
def listed(cinder, module_resources) -> dict:
    """Three available volumes; ``mark`` is the metadata item they share."""
    mark = {"octoprobe-list": secrets.token_hex(4)}
    created = []
    for _ in range(3):
        resp = cinder.post_volume(module_resources, cinder.volume_body(metadata=mark))
        check_status(resp, 202)
        created.append(json_body(resp)["volume"])
    volumes = [cinder.wait_volume(v["id"], "available").value for v in created]
    return {"volumes": volumes, "ids": {v["id"] for v in volumes}, "mark": mark}


def _ids(items: list) -> set:
    return {v["id"] for v in items}


@pytest.mark.capability(LIST, "0b6ddd39-b948-471f-8038-4787978747c4")
def test_volume_list(cinder, listed):
    """GET /volumes: 200, id/name/links entries, the caller's volumes among
    them, none twice."""
    items = cinder.list_volumes()
    ids = [v["id"] for v in items]
    assert len(ids) == len(set(ids)), "GET /volumes lists a volume twice"
    assert listed["ids"] <= set(ids), f"GET /volumes lacks the caller's volumes {sorted(listed['ids'] - set(ids))}"


@pytest.mark.capability(LIST, "adcbb5a7-5ad8-4b61-bd10-5380e111a877")
def test_volume_list_with_details(cinder, listed):
    """GET /volumes/detail: 200, full volumes, the caller's as created, only the caller's project."""
    items = cinder.list_volumes(detail=True)
    mine = {v["id"]: v for v in items if v["id"] in listed["ids"]}
    assert set(mine) == listed["ids"], f"GET /volumes/detail lacks {sorted(listed['ids'] - set(mine))}"
    for volume in listed["volumes"]:
        got = mine[volume["id"]]
        assert (got["name"], got["size"], got["metadata"]) == (volume["name"], 1, volume["metadata"]), got
    strangers = [v["id"] for v in items if v.get("os-vol-tenant-attr:tenant_id", cinder.project_id)
                 != cinder.project_id]
    assert not strangers, f"GET /volumes/detail lists other projects' volumes: {strangers}"


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "a28e8da4-0b56-472f-87a8-0f4d3f819c02")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "2de3a6d4-12aa-403b-a8f2-fdeb42a89623")),
])
def test_volume_list_by_name(cinder, listed, detail):
    """?name=<one volume's name>: exactly that volume."""
    volume = listed["volumes"][0]
    items = cinder.list_volumes(_q(name=volume["name"]), detail=detail)
    assert [v["id"] for v in items] == [volume["id"]], f"?name={volume['name']} lists {[v['name'] for v in items]}"


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "777c87c1-2fc4-4883-8b8e-5c0b951d1ec8")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "856ab8ca-6009-4c37-b691-be1065528ad4")),
])
def test_volume_list_param_name_and_status(cinder, listed, detail):
    """?name=<name>&status=available: that volume; with another status: nothing."""
    volume = listed["volumes"][1]
    items = cinder.list_volumes(_q(name=volume["name"], status="available"), detail=detail)
    assert [v["id"] for v in items] == [volume["id"]], f"?name&status=available lists {items}"
    assert cinder.list_volumes(_q(name=volume["name"], status="error"), detail=detail) == [], (
        "?name=<an available volume>&status=error lists it")


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "b5ebea1b-0603-40a0-bb41-15fcd0a53214")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "1ca92d3c-4a8e-4b43-93f5-e4c7fb3b291d")),
])
def test_volume_list_with_param_metadata(cinder, listed, detail):
    """?metadata={k: v}: exactly the volumes carrying that item."""
    items = cinder.list_volumes("metadata=" + urllib.parse.quote(_meta(listed["mark"])), detail=detail)
    assert _ids(items) == listed["ids"], f"?metadata={listed['mark']} lists {sorted(_ids(items))}"
    if detail:
        wrong = [v["id"] for v in items if not listed["mark"].items() <= v["metadata"].items()]
        assert not wrong, f"?metadata lists volumes without the item: {wrong}"


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "c0cfa863-3020-40d7-b587-e35f597d5d87")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "e1b80d13-94f0-4ba2-a40e-386af29f8db1")),
])
def test_volumes_list_by_availability_zone(cinder, listed, detail):
    """?availability_zone=<the volumes' zone>: the caller's volumes, all in that zone."""
    zone = listed["volumes"][0]["availability_zone"]
    items = cinder.list_volumes(_q(availability_zone=zone), detail=detail)
    assert listed["ids"] <= _ids(items), f"?availability_zone={zone} lacks {sorted(listed['ids'] - _ids(items))}"
    if detail:
        wrong = [v["id"] for v in items if v["availability_zone"] != zone]
        assert not wrong, f"?availability_zone={zone} lists volumes of other zones: {wrong}"


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "39654e13-734c-4dab-95ce-7613bf8407ce")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "2943f712-71ec-482a-bf49-d5ca06216b9f")),
])
def test_volumes_list_by_status(cinder, listed, detail):
    """?status=available: the caller's available volumes, and only available ones."""
    items = cinder.list_volumes(_q(status="available"), detail=detail)
    assert listed["ids"] <= _ids(items), f"?status=available lacks {sorted(listed['ids'] - _ids(items))}"
    if detail:
        wrong = [(v["id"], v["status"]) for v in items if v["status"] != "available"]
        assert not wrong, f"?status=available lists volumes in other states: {wrong}"


@pytest.mark.capability(LIST, "2a7064eb-b9c3-429b-b888-33928fc5edd3")
def test_volume_list_details_with_multiple_params(cinder, listed):
    """Filters combined with a sort: ?metadata&status=available&availability_zone
    &sort_key=id&sort_dir=asc (and desc): the three volumes, in id order."""
    zone = listed["volumes"][0]["availability_zone"]
    base = "metadata=" + urllib.parse.quote(_meta(listed["mark"])) + "&" + _q(status="available",
                                                                             availability_zone=zone)
    for direction in ("asc", "desc"):
        items = cinder.list_volumes(base + f"&sort_key=id&sort_dir={direction}", detail=True)
        ids = [v["id"] for v in items]
        assert set(ids) == listed["ids"], f"the combined filters list {ids}"
        assert ids == sorted(ids, reverse=direction == "desc"), f"sort_key=id&sort_dir={direction} lists {ids}"


def _pages(cinder, query: str, detail: bool) -> list[list[dict]]:
    path = "/volumes/detail" if detail else "/volumes"
    schema = "volume/volumes-detail" if detail else "volume/volumes"
    url, pages = f"{path}?{query}", []
    for _ in range(10):
        page = cinder.get(url, schema)
        pages.append(page["volumes"])
        nxt = next((link["href"] for link in page.get("volumes_links") or [] if link["rel"] == "next"), None)
        if not nxt:
            return pages
        assert "?" in nxt, f"the next link {nxt} has no query"
        url = path + "?" + nxt.split("?", 1)[1]
    raise AssertionError(f"GET {path}?{query} has more than 10 pages of one volume for 3 volumes")


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "af55e775-8e4b-4feb-8719-215c43b0238c")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "e9138a2c-f67b-4796-8efa-635c196d01de")),
])
def test_volume_list_pagination(cinder, listed, detail):
    """?limit=1 over the three volumes (filtered by their metadata):
    pages of at most one volume joined by next links (marker); together
    the three volumes, each once."""
    query = "metadata=" + urllib.parse.quote(_meta(listed["mark"])) + "&limit=1&sort_key=id&sort_dir=asc"
    pages = _pages(cinder, query, detail)
    assert all(len(p) <= 1 for p in pages), f"limit=1 pages hold {[len(p) for p in pages]} volumes"
    ids = [v["id"] for p in pages for v in p]
    assert len(ids) == len(set(ids)), f"paging lists a volume twice: {ids}"
    assert set(ids) == listed["ids"], f"paging lists {ids}; the volumes are {sorted(listed['ids'])}"
    assert ids == sorted(ids), f"paging loses the sort order: {ids}"


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "143b279b-7522-466b-81be-34a87d564a7c")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "ba94b27b-be3f-496c-a00e-0283b373fa75")),
])
def test_list_volumes_with_invalid_status(cinder, listed, detail):
    """?status=null (no such status): 200 and an empty list."""
    assert cinder.list_volumes(_q(status="null"), detail=detail) == [], "?status=null lists volumes"


@pytest.mark.parametrize("detail", [
    pytest.param(False, id="brief", marks=pytest.mark.capability(LIST, "0f4aa809-8c7b-418f-8fb3-84c7a5dfc52f")),
    pytest.param(True, id="detail", marks=pytest.mark.capability(LIST, "9ca17820-a0e7-4cbd-a7fa-f4468735e359")),
])
def test_list_volumes_with_nonexistent_name(cinder, listed, detail):
    """?name=<a name no volume has>: 200 and an empty list."""
    assert cinder.list_volumes(_q(name=cinder.run.name("none")), detail=detail) == [], "a new name lists volumes"
