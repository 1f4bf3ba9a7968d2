"""compute-servers-create (a second server with a taken name) and
compute-servers-create-multiple (min_count/max_count): each test boots its
own run-tagged servers and deletes them after it."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from .nova import BUILD_TIMEOUT, check_error, check_status, json_body

CREATE = "compute-servers-create"
MULTIPLE = "compute-servers-create-multiple"


@pytest.mark.capability(CREATE, "8fea6be7-065e-47cf-89b8-496e6f96c699")
def test_create_with_existing_server_name(nova, resources, server, image, flavor):
    """Names need not be unique: a second server named like the shared one
    is created (its own id) and both are listed under that name."""
    twin = nova.boot(resources, image["id"], flavor["id"], name=server.name)
    assert twin.id != server.id, "the second server got the first one's id"
    assert twin.server["name"] == server.name, f"the second server is named {twin.server['name']!r}"
    named = {s["id"] for s in nova.list(f"name=^{urllib.parse.quote(re.escape(server.name))}$")}
    assert {server.id, twin.id} <= named, f"GET /servers?name={server.name} lists {sorted(named)}"


def _boot_many(nova, resources, image, flavor, **extra):
    body = nova.server_body(image["id"], flavor["id"], min_count=2, max_count=2, **extra)
    pattern = f"name=^{urllib.parse.quote(re.escape(body['name']))}"

    def delete_all():
        errors = []
        for s in nova.list(pattern):
            try:
                nova.delete_and_wait(s["id"])
            except Exception as exc:  # delete the others all the same
                errors.append(f"{s['id']}: {exc}")
        if errors:
            raise RuntimeError("; ".join(errors))

    resources.add(f"servers named {body['name']}*", delete_all)
    resp = nova.post_server(resources, body)
    check_status(resp, 202)
    return body, resp, pattern


@pytest.mark.capability(MULTIPLE, "61e03386-89c3-449c-9bb1-a06f423fd9d1")
def test_multiple_create(nova, resources, image, flavor, schemas):
    """POST /servers with min_count=max_count=2: 202 with one server, and
    two servers (named after the request's name) become ACTIVE."""
    body, resp, pattern = _boot_many(nova, resources, image, flavor)
    first = schemas.validate("compute/server-created", json_body(resp))["server"]
    servers = nova.list(pattern)
    assert len(servers) == 2, f"min_count=2 created {len(servers)} servers: {[s['name'] for s in servers]}"
    assert first["id"] in {s["id"] for s in servers}, "the server of the 202 is not among those created"
    for s in servers:
        assert s["name"].startswith(body["name"]), f"a server of the request is named {s['name']!r}"
        nova.wait_status(s["id"], "ACTIVE", timeout=BUILD_TIMEOUT)


@pytest.mark.capability(MULTIPLE, "6741d288-2381-4331-827d-d3e2c2084349")
def test_multiple_create_with_reservation_id(nova, resources, image, flavor, schemas):
    """With return_reservation_id: 202 with a reservation id, and listing
    by that reservation id finds the two servers."""
    body, resp, pattern = _boot_many(nova, resources, image, flavor, return_reservation_id=True)
    reservation = schemas.validate("compute/reservation", json_body(resp))["reservation_id"]
    reserved = {s["id"] for s in nova.list(f"reservation_id={urllib.parse.quote(reservation)}")}
    created = {s["id"] for s in nova.list(pattern)}
    assert len(created) == 2, f"min_count=2 created {len(created)} servers"
    assert reserved == created, f"?reservation_id={reservation} lists {sorted(reserved)}; created: {sorted(created)}"
    for server_id in created:
        nova.wait_status(server_id, "ACTIVE", timeout=BUILD_TIMEOUT)


@pytest.mark.capability(MULTIPLE, "2593f3d8-3fd4-4bef-9d81-9e0969a4f30c")
def test_multiple_create_min_count_above_max_count_is_400(nova, resources, image, flavor, schemas):
    """min_count above max_count: 400 with Nova's error body, and nothing created."""
    body = nova.server_body(image["id"], flavor["id"], min_count=3, max_count=2)
    check_error(schemas, nova.post_server(resources, body), 400)
    assert nova.list(f"name=^{urllib.parse.quote(re.escape(body['name']))}") == [], "a refused request created servers"
