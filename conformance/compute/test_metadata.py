"""compute-servers-metadata-*: a server's metadata — list, set (replace
all), update (merge), get, set and delete one item — and how these fail.

The module boots its own server. The run's tag is a metadata item
(``octoprobe-run``): every replacement keeps it, so the sweeper still finds
the server."""

from __future__ import annotations

import uuid

import pytest

from .nova import check_error, check_status, json_body

LIST = "compute-servers-metadata-list"
SET = "compute-servers-metadata-set"
UPDATE = "compute-servers-metadata-update"
GET = "compute-servers-metadata-get"
DELETE = "compute-servers-metadata-delete"


@pytest.fixture(scope="module")
def meta_server(nova, image, flavor, module_resources):
    return nova.boot(module_resources, image["id"], flavor["id"])


@pytest.fixture
def start(nova, meta_server, schemas):
    """Each test starts from metadata {run tag, key1: value1, key2: value2}."""
    metadata = {**nova.run.metadata, "key1": "value1", "key2": "value2"}
    resp = nova.request("PUT", f"/servers/{meta_server.id}/metadata", json={"metadata": metadata})
    check_status(resp, 200)
    return metadata


def _metadata(nova, server_id: str) -> dict:
    return nova.get(f"/servers/{server_id}/metadata", "compute/metadata")["metadata"]


@pytest.mark.capability(LIST, "479da087-92b3-4dcf-aeb3-fd293b2d14ce")
def test_list_server_metadata(nova, meta_server, start):
    """GET /servers/{id}/metadata: 200, every item; the server shows the same."""
    assert _metadata(nova, meta_server.id) == start, "GET .../metadata does not list the items set"
    assert nova.show(meta_server.id)["metadata"] == start, "GET /servers/{id} shows other metadata"


@pytest.mark.capability(SET, "211021f6-21de-4657-a68f-908878cfe251")
def test_set_server_metadata(nova, meta_server, start, schemas):
    """PUT /servers/{id}/metadata replaces all items: 200 with the new set;
    the old items are gone."""
    new = {**nova.run.metadata, "meta2": "data2", "meta3": "data3"}
    resp = nova.request("PUT", f"/servers/{meta_server.id}/metadata", json={"metadata": new})
    check_status(resp, 200)
    assert schemas.validate("compute/metadata", json_body(resp))["metadata"] == new, "PUT answered another set"
    assert _metadata(nova, meta_server.id) == new, "after PUT .../metadata the old items remain or new ones lack"


@pytest.mark.capability(SET, "58c02d4f-5c67-40be-8744-d3fa5982eb1c")
def test_set_server_metadata_item(nova, meta_server, start, schemas):
    """PUT /servers/{id}/metadata/{key} {"meta": {key: value}}: 200 with
    that item; the others stay."""
    resp = nova.request("PUT", f"/servers/{meta_server.id}/metadata/nova", json={"meta": {"nova": "alt"}})
    check_status(resp, 200)
    assert schemas.validate("compute/meta", json_body(resp))["meta"] == {"nova": "alt"}, "PUT answered another item"
    assert _metadata(nova, meta_server.id) == {**start, "nova": "alt"}, "setting one item changed the others"


@pytest.mark.capability(UPDATE, "344d981e-0c33-4997-8a5d-6c1d803e4134")
def test_update_server_metadata(nova, meta_server, start, schemas):
    """POST /servers/{id}/metadata merges: 200; given items are changed or
    added, the others stay."""
    change = {"key1": "alt1", "key3": "value3"}
    resp = nova.request("POST", f"/servers/{meta_server.id}/metadata", json={"metadata": change})
    check_status(resp, 200)
    schemas.validate("compute/metadata", json_body(resp))
    assert _metadata(nova, meta_server.id) == {**start, **change}, "POST .../metadata did not merge"


@pytest.mark.capability(GET, "3043c57d-7e0e-49a6-9a96-ad569c265e6a")
def test_get_server_metadata_item(nova, meta_server, start):
    """GET /servers/{id}/metadata/{key}: 200 with {"meta": {key: value}}."""
    meta = nova.get(f"/servers/{meta_server.id}/metadata/key2", "compute/meta")["meta"]
    assert meta == {"key2": "value2"}, f"GET .../metadata/key2 answered {meta}"


@pytest.mark.capability(DELETE, "127642d6-4c7b-4486-b7cd-07265a378658")
def test_delete_server_metadata_item(nova, meta_server, start, schemas):
    """DELETE /servers/{id}/metadata/{key}: 204; the item is gone (GET of it
    404), the others stay."""
    resp = nova.request("DELETE", f"/servers/{meta_server.id}/metadata/key1")
    check_status(resp, 204)
    expected = {k: v for k, v in start.items() if k != "key1"}
    assert _metadata(nova, meta_server.id) == expected, "deleting key1 left other metadata than the rest"
    check_error(schemas, nova.request("GET", f"/servers/{meta_server.id}/metadata/key1"), 404)


@pytest.mark.capability(GET, "93c9000d-c421-41d9-b625-355701b05f24")
def test_metadata_of_unknown_key_or_server_is_404(nova, meta_server, start, schemas):
    """An item the server does not have, or a server that does not exist: 404."""
    check_error(schemas, nova.request("GET", f"/servers/{meta_server.id}/metadata/octoprobe-absent"), 404)
    check_error(schemas, nova.request("DELETE", f"/servers/{meta_server.id}/metadata/octoprobe-absent"), 404)
    check_error(schemas, nova.request("GET", f"/servers/{uuid.uuid4()}/metadata"), 404)


@pytest.mark.capability(SET, "8423e2d5-b742-44d8-a76e-f0bb67cbb340")
def test_set_metadata_item_errors_are_400(nova, meta_server, start, schemas):
    """PUT .../metadata/{key} whose body names another key, or more than one
    item, or a value longer than 255: 400, nothing changed."""
    path = f"/servers/{meta_server.id}/metadata/key1"
    check_error(schemas, nova.request("PUT", path, json={"meta": {"other": "x"}}), 400)
    check_error(schemas, nova.request("PUT", path, json={"meta": {"key1": "x", "key2": "y"}}), 400)
    check_error(schemas, nova.request("PUT", path, json={"meta": {"key1": "v" * 256}}), 400)
    assert _metadata(nova, meta_server.id) == start, "a refused metadata request changed the metadata"
