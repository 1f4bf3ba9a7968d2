"""Tenant isolation of servers and keypairs: another project's user cannot
see the shared server — not shown, not listed — nor change it: update,
delete, actions, metadata, snapshots are 404 (its existence is not
disclosed), and the server is unchanged afterwards. Needs --alt-cloud; the
admin's view needs --admin-cloud."""

from __future__ import annotations

import pytest

from octoprobe.schemas import APIVersion

from .nova import check_error, check_status

GET = "compute-servers-get"
LIST = "compute-servers-list"
UPDATE = "compute-servers-update"
DELETE = "compute-servers-delete"
STOP = "compute-servers-stop"
REBOOT = "compute-servers-reboot"
REBUILD = "compute-servers-rebuild"
LOCK = "compute-servers-lock"
META_LIST = "compute-servers-metadata-list"
META_SET = "compute-servers-metadata-set"
ACTIONS = "compute-instance-actions-list"
IMAGES = "compute-images-create"
KEYPAIRS = "compute-keypairs-create"


@pytest.mark.needs_alt
@pytest.mark.capability(GET, "2f2cc6e1-8848-467a-a3b1-6557d67aae2c")
def test_another_tenants_server_is_404(nova, alt_nova, server, schemas):
    """GET /servers/{id} of another project's server: 404 with Nova's error body."""
    check_error(schemas, alt_nova.request("GET", f"/servers/{server.id}"), 404)


@pytest.mark.needs_alt
@pytest.mark.capability(LIST, "97736c0b-98a0-44ec-8083-b1c360b56bef")
def test_another_tenants_server_is_not_listed(alt_nova, server):
    """The other project's lists (brief, detailed, filtered by the server's
    name) lack the server; its detailed list holds only its own servers."""
    assert server.id not in {s["id"] for s in alt_nova.list()}, "GET /servers shows another project's server"
    detail = alt_nova.list(detail=True)
    assert server.id not in {s["id"] for s in detail}, "GET /servers/detail shows another project's server"
    strangers = [s["id"] for s in detail if s["tenant_id"] != alt_nova.project_id]
    assert not strangers, f"GET /servers/detail shows servers of other projects: {strangers}"
    assert alt_nova.list(f"name={server.name}") == [], "a name filter finds another project's server"


@pytest.mark.needs_alt
@pytest.mark.capability(LIST, "31a0c954-3168-42ec-81a9-42aacbbe1a3f")
def test_all_tenants_as_a_user_shows_no_other_project(alt_nova, server, schemas):
    """all_tenants=1 from a user without admin rights: 403 with Nova's error
    body, or (older policies) a list of the user's own servers only."""
    resp = alt_nova.request("GET", "/servers/detail?all_tenants=1")
    if resp.status_code == 403:
        check_error(schemas, resp, 403)
        return
    check_status(resp, 200)
    servers = schemas.validate("compute/servers-detail", resp.json())["servers"]
    assert server.id not in {s["id"] for s in servers}, "all_tenants=1 shows a user another project's server"


# what another project tries, as (capability, id, method, path suffix, body)
ATTEMPTS = [
    (UPDATE, "999748a5-2d06-4bcb-bcc1-beb49f6a9003", "PUT", "", {"server": {"name": "stolen"}}),
    (DELETE, "496d3e83-d881-42f4-8ba2-1ee01e463c67", "DELETE", "", None),
    (STOP, "19a92513-2605-417a-bc77-b5b4a0022485", "POST", "/action", {"os-stop": None}),
    (REBOOT, "c2b86390-8ebd-441b-867e-27717c930d20", "POST", "/action", {"reboot": {"type": "HARD"}}),
    (REBUILD, "4621ba9f-58f4-4ed9-987d-8f065730203c", "POST", "/action", {"rebuild": {"imageRef": "IMAGE"}}),
    (LOCK, "5fdb41c6-a47e-4809-9387-ada629f2b063", "POST", "/action", {"lock": None}),
    (META_LIST, "6095edeb-fbc1-43db-a77b-5d27a70d5aed", "GET", "/metadata", None),
    (META_SET, "07978604-215f-4e8e-9918-9114654956fd", "PUT", "/metadata", {"metadata": {"stolen": "yes"}}),
    (ACTIONS, "8568c4e0-c1b5-4be1-83b7-462a9de95db6", "GET", "/os-instance-actions", None),
    (IMAGES, "8d1a8153-bd17-43b8-8141-d2e69168c2ea", "POST", "/action", {"createImage": {"name": "stolen"}}),
]


def _attempt_params():
    for capability, test_id, method, suffix, body in ATTEMPTS:
        yield pytest.param(method, suffix, body, id=f"{capability}-{method}{suffix or ''}".replace("/", "-"),
                           marks=[pytest.mark.needs_alt, pytest.mark.capability(capability, test_id)])


@pytest.mark.parametrize("method, suffix, body", list(_attempt_params()))
def test_another_tenant_cannot_touch_the_server(nova, alt_nova, server, image, schemas, method, suffix, body):
    """Another project's user acting on the server: 404 with Nova's error
    body; the owner sees the server unchanged (ACTIVE, same name, metadata,
    unlocked)."""
    if body and "rebuild" in body:
        body = {"rebuild": {"imageRef": image["id"]}}
    if body and "createImage" in body:
        body = {"createImage": {"name": alt_nova.run.name("stolen"), "metadata": alt_nova.run.metadata}}
    resp = alt_nova.request(method, f"/servers/{server.id}{suffix}", json=body)
    check_error(schemas, resp, 404)
    shown = nova.show(server.id)
    assert (shown["status"], shown["name"], shown["metadata"]) == ("ACTIVE", server.name, server.server["metadata"]), (
        f"after another project's {method} {suffix or '/servers/{id}'} the server is {shown['status']} "
        f"{shown['name']!r} {shown['metadata']}")
    advertised = nova.advertised()
    if suffix == "/action" and "lock" in body and advertised and advertised[1] >= APIVersion(2, 9):
        locked = nova.show(server.id, microversion="2.9").get("locked")
        assert locked is False, f"after another project's lock the server shows locked {locked!r}"


@pytest.mark.needs_alt
@pytest.mark.capability(KEYPAIRS, "88cb369a-6c44-43fd-8718-da29bdcb3c69")
def test_another_users_keypair_is_404(alt_nova, server_keypair, schemas):
    """GET and DELETE /os-keypairs/{name} of another user's keypair: 404; it is not in their list."""
    check_error(schemas, alt_nova.request("GET", f"/os-keypairs/{server_keypair['name']}"), 404)
    check_error(schemas, alt_nova.request("DELETE", f"/os-keypairs/{server_keypair['name']}"), 404)
    listed = {k["keypair"]["name"] for k in alt_nova.get("/os-keypairs", "compute/keypairs")["keypairs"]}
    assert server_keypair["name"] not in listed, "another user's keypair is listed"


@pytest.mark.needs_admin
@pytest.mark.capability(LIST, "cc98dbd0-468e-4b55-9b36-6ae9f5f48209")
def test_admin_lists_every_project_with_all_tenants(nova, admin_nova, server):
    """An admin's GET /servers/detail?all_tenants=1 includes the user's server, with its project."""
    servers = admin_nova.list(f"all_tenants=1&name={server.name}", detail=True)
    found = [s for s in servers if s["id"] == server.id]
    assert found, "all_tenants=1 as admin does not list the user's server"
    assert found[0]["tenant_id"] == nova.project_id, f"the admin sees it in project {found[0]['tenant_id']}"
