"""compute-servers-update: PUT /servers/{id} changes a server's name and
access addresses, and refuses bad names. The module boots its own server."""

from __future__ import annotations

import uuid

import pytest

from .nova import check_error, check_status, json_body

UPDATE = "compute-servers-update"


@pytest.fixture(scope="module")
def mutable(nova, image, flavor, module_resources):
    return nova.boot(module_resources, image["id"], flavor["id"])


def _put(nova, server_id: str, **attrs):
    return nova.request("PUT", f"/servers/{server_id}", json={"server": attrs})


@pytest.mark.capability(UPDATE, "5e6ccff8-349d-4852-a8b3-055df7988dd2")
def test_update_server_name(nova, mutable, schemas):
    """PUT /servers/{id} with a new name: 200 with the server renamed; GET
    and the list show the new name."""
    new_name = nova.run.name("renamed")
    resp = _put(nova, mutable.id, name=new_name)
    check_status(resp, 200)
    updated = schemas.validate("compute/server", json_body(resp))["server"]
    assert (updated["id"], updated["name"]) == (mutable.id, new_name), (
        f"PUT answered {updated['id']} {updated['name']!r}")
    assert nova.show(mutable.id)["name"] == new_name, "GET does not show the new name"
    listed = {s["id"]: s["name"] for s in nova.list_ours()}
    assert listed.get(mutable.id) == new_name, f"the list names the server {listed.get(mutable.id)!r}"
    nova.wait_status(mutable.id, "ACTIVE")


@pytest.mark.capability(UPDATE, "89b90870-bc13-4b73-96af-f9d4f2b70077")
def test_update_access_server_address(nova, mutable, schemas):
    """PUT /servers/{id} with accessIPv4 and accessIPv6: 200, and GET shows them."""
    resp = _put(nova, mutable.id, accessIPv4="1.1.1.1", accessIPv6="::babe:202:202")
    check_status(resp, 200)
    updated = schemas.validate("compute/server", json_body(resp))["server"]
    assert (updated["accessIPv4"], updated["accessIPv6"]) == ("1.1.1.1", "::babe:202:202"), (
        f"PUT answered accessIPv4 {updated['accessIPv4']!r}, accessIPv6 {updated['accessIPv6']!r}")
    shown = nova.show(mutable.id)
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("1.1.1.1", "::babe:202:202"), "GET does not show them"


@pytest.mark.capability(UPDATE, "aa8eed43-e2cb-4ebf-930b-da14f6a21d81")
def test_update_name_of_non_existent_server(nova, schemas):
    """PUT /servers/{a UUID that names no server}: 404 with Nova's error body."""
    check_error(schemas, _put(nova, str(uuid.uuid4()), name=nova.run.name("ghost")), 404)


@pytest.mark.capability(UPDATE, "5c8e244c-dada-4590-9944-749c455b431f")
def test_update_server_name_length_exceeds_256(nova, mutable, schemas):
    """A name of 256 characters: 400, and the name is unchanged."""
    before = nova.show(mutable.id)["name"]
    check_error(schemas, _put(nova, mutable.id, name=nova.run.prefix + "a" * (256 - len(nova.run.prefix))), 400)
    assert nova.show(mutable.id)["name"] == before, "a refused update renamed the server"


@pytest.mark.capability(UPDATE, "38204696-17c6-44da-9590-40f87fb5a899")
def test_update_server_set_empty_name(nova, mutable, schemas):
    """An empty name: 400, and the name is unchanged."""
    before = nova.show(mutable.id)["name"]
    check_error(schemas, _put(nova, mutable.id, name=""), 400)
    assert nova.show(mutable.id)["name"] == before, "a refused update renamed the server"


@pytest.mark.capability(UPDATE, "d6c824dd-7da6-4516-89c0-2dcad8968e9f")
def test_update_invalid_access_address_is_400(nova, mutable, schemas):
    """An accessIPv4 that is not an IPv4 address: 400, nothing changed."""
    before = nova.show(mutable.id)
    check_error(schemas, _put(nova, mutable.id, accessIPv4="not-an-address"), 400)
    assert nova.show(mutable.id)["accessIPv4"] == before["accessIPv4"], "a refused update changed accessIPv4"
