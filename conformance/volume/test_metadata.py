"""volumes-v3-metadata: a volume's metadata — added, listed, replaced, one
item set, shown and deleted — and the 404s of items and volumes that do
not exist. The module creates one volume whose metadata the tests change
(each keeps the run's item)."""

from __future__ import annotations

import uuid

import pytest

from .cinder import check_error, check_status, json_body

METADATA = "volumes-v3-metadata"


@pytest.mark.capability(METADATA, "6f5b125b-f664-44bf-910f-751591fe5769")
def test_crud_volume_metadata(cinder, volume, schemas):
    """POST /volumes/{id}/metadata adds items (200, every item); GET lists
    them and the volume shows them; PUT replaces them all (200); DELETE
    .../metadata/{key} removes one (200), the others stay; a deleted item
    is 404 with Cinder's error body."""
    path = f"/volumes/{volume['id']}/metadata"
    added = {"key1": "value1", "key2": "value2", "key3": "value3"}
    resp = cinder.request("POST", path, json={"metadata": added})
    check_status(resp, 200)
    body = schemas.validate("volume/metadata", json_body(resp))["metadata"]
    assert added.items() <= body.items(), f"POST answered {body}"
    assert body.get("octoprobe-run") == cinder.run.run_id, "POST metadata dropped the items already there"
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert added.items() <= listed.items() and listed.get("octoprobe-purpose") == "shared", f"GET lists {listed}"
    assert cinder.show_volume(volume["id"])["metadata"] == listed, "GET /volumes/{id} shows other metadata"

    replaced = {**cinder.run.metadata, "key1": "value1_update", "key4": "value4"}
    resp = cinder.request("PUT", path, json={"metadata": replaced})
    check_status(resp, 200)
    assert schemas.validate("volume/metadata", json_body(resp))["metadata"] == replaced, resp.text
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert listed == replaced, f"after PUT {replaced} the metadata are {listed}"

    resp = cinder.request("DELETE", f"{path}/key1")
    check_status(resp, 200)
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert listed == {**cinder.run.metadata, "key4": "value4"}, f"after deleting key1 the metadata are {listed}"
    check_error(schemas, cinder.request("GET", f"{path}/key1"), 404)
    check_error(schemas, cinder.request("DELETE", f"{path}/key1"), 404)


@pytest.mark.capability(METADATA, "862261c5-8df4-475a-8c21-946e50e36a20")
def test_update_show_volume_metadata_item(cinder, volume, schemas):
    """PUT /volumes/{id}/metadata/{key} sets one item (200, ``meta``): a new
    one, then a changed one; GET .../metadata/{key} shows it; the other
    items stay. A body naming another key than the URL: 400."""
    path = f"/volumes/{volume['id']}/metadata"
    before = cinder.get(path, "volume/metadata")["metadata"]
    for value in ("value3", "value3_update"):
        resp = cinder.request("PUT", f"{path}/key3", json={"meta": {"key3": value}})
        check_status(resp, 200)
        assert schemas.validate("volume/meta", json_body(resp))["meta"] == {"key3": value}, resp.text
        shown = cinder.get(f"{path}/key3", "volume/meta")["meta"]
        assert shown == {"key3": value}, f"GET .../metadata/key3 shows {shown} after setting {value!r}"
    listed = cinder.get(path, "volume/metadata")["metadata"]
    assert listed == {**before, "key3": "value3_update"}, f"setting key3 changed the others: {before} -> {listed}"
    check_error(schemas, cinder.request("PUT", f"{path}/key3", json={"meta": {"other": "x"}}), 400)


@pytest.mark.capability(METADATA, "cf906f89-edd4-4482-bbd4-a67b8a25155e")
def test_metadata_of_nonexistent_volume_is_404(cinder, schemas):
    """GET and POST /volumes/{an id that does not exist}/metadata: 404 with Cinder's error body."""
    path = f"/volumes/{uuid.uuid4()}/metadata"
    check_error(schemas, cinder.request("GET", path), 404)
    check_error(schemas, cinder.request("POST", path, json={"metadata": {"k": "v"}}), 404)


@pytest.mark.capability(METADATA, "5bb7218e-685b-40aa-afcd-a74539b54bc1")
def test_metadata_values_must_be_strings(cinder, volume, schemas):
    """POST /volumes/{id}/metadata with a value that is not a string: 400
    with Cinder's error body; the metadata are unchanged."""
    path = f"/volumes/{volume['id']}/metadata"
    before = cinder.get(path, "volume/metadata")["metadata"]
    check_error(schemas, cinder.request("POST", path, json={"metadata": {"count": {"nested": 1}}}), 400)
    assert cinder.get(path, "volume/metadata")["metadata"] == before, "a refused POST changed the metadata"
