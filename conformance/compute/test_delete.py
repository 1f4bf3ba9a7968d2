"""compute-servers-delete: deleting an ACTIVE server, and what a deleted
server is afterwards (not shown, not listed, not rebuildable); deleting
ids that name nothing.

The module boots one server and deletes it (in the fixture, recording what
the server went through); the tests judge that deletion."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

import pytest

from octoprobe.waiters import GONE

from .nova import ACTION_TIMEOUT, check_error, check_status, task_state

DELETE = "compute-servers-delete"
LIST = "compute-servers-list"
REBUILD = "compute-servers-rebuild"


@dataclass
class Deleted:
    id: str
    name: str
    response: object
    states: list  # the states GET showed from the DELETE until 404, in order


@pytest.fixture(scope="module")
def deleted(nova, image, flavor, module_resources):
    boot = nova.boot(module_resources, image["id"], flavor["id"])
    resp = nova.request("DELETE", f"/servers/{boot.id}")
    states: list = []

    def fetch():
        value = nova.fetcher(boot.id, validate=False)()
        state = task_state(value)
        if not states or states[-1] != state:
            states.append(state)
        return value

    if resp.status_code == 204:
        nova.waiter.wait(f"server {boot.id} deleted", fetch, ready={GONE, "DELETED"}, failed=(),
                         timeout=ACTION_TIMEOUT, interval=0.1, state=task_state)
    return Deleted(boot.id, boot.name, resp, states)


@pytest.mark.capability(DELETE, "925fdfb4-5b13-47ea-ac8a-c36ae6fddb05")
def test_delete_active_server(nova, deleted, schemas):
    """DELETE /servers/{id} of an ACTIVE server: 204 without a body; the
    server goes away without passing through ERROR (a client waiting for the
    deletion takes ERROR as a failed deletion); then GET is 404."""
    check_status(deleted.response, 204)
    assert not deleted.response.content, "DELETE /servers/{id} answered 204 with a body"
    errors = [s for s in deleted.states if s.split("/")[0] == "ERROR"]
    assert not errors, (
        f"server {deleted.id} went through ERROR while being deleted (states seen: {' -> '.join(deleted.states)})")
    check_error(schemas, nova.request("GET", f"/servers/{deleted.id}"), 404)


@pytest.mark.capability(LIST, "24a26f1a-1ddc-4eea-b0d7-a90cc874ad8f")
def test_list_servers_with_a_deleted_server(nova, deleted):
    """A deleted server is not in GET /servers."""
    assert deleted.id not in {s["id"] for s in nova.list_ours()}, "GET /servers lists a deleted server"


@pytest.mark.capability(LIST, "93055106-2d34-46fe-af68-d9ddbf7ee570")
def test_list_servers_detail_server_is_deleted(nova, deleted):
    """A deleted server is not in GET /servers/detail."""
    listed = {s["id"] for s in nova.list_ours(detail=True)}
    assert deleted.id not in listed, "GET /servers/detail lists a deleted server"


@pytest.mark.capability(REBUILD, "98fa0458-1485-440f-873b-fe7f0d714930")
def test_rebuild_deleted_server(nova, deleted, image, schemas):
    """Rebuilding a deleted server: 404 with Nova's error body."""
    check_error(schemas, nova.action(deleted.id, {"rebuild": {"imageRef": image["id"]}}), 404)


@pytest.mark.capability(DELETE, "b415204f-0600-4f3e-bed6-67ccada4ba91")
def test_delete_deleted_server_is_404(nova, deleted, schemas):
    """Deleting a server a second time: 404 with Nova's error body."""
    check_error(schemas, nova.request("DELETE", f"/servers/{deleted.id}"), 404)


@pytest.mark.capability(DELETE, "f4d7279b-5fd2-4bf2-9ba4-ae35df0d18c5")
def test_delete_server_pass_id_exceeding_length_limit(nova, schemas):
    """DELETE /servers/{an id longer than any server id}: 404."""
    check_error(schemas, nova.request("DELETE", f"/servers/{sys.maxsize + 1}"), 404)


@pytest.mark.capability(DELETE, "75f79124-277c-45e6-a373-a1d6803f4cc4")
def test_delete_server_pass_negative_id(nova, schemas):
    """DELETE /servers/-1: 404."""
    check_error(schemas, nova.request("DELETE", "/servers/-1"), 404)


@pytest.mark.capability(DELETE, "8000ce81-017e-454e-a12c-2c6c9b356c29")
def test_delete_non_existent_server(nova, schemas):
    """DELETE /servers/{a UUID that names no server}: 404."""
    check_error(schemas, nova.request("DELETE", f"/servers/{uuid.uuid4()}"), 404)
