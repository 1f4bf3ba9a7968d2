"""Server actions: compute-servers-stop (stop/start), -reboot, -lock,
-rebuild, and compute-instance-actions-list/-get (the record of them).

The module boots one server and runs the actions on it in order (each test
leaves it ACTIVE); the instance-action tests come last and find the actions
the earlier tests took."""

from __future__ import annotations

import secrets
import uuid

import pytest

from .nova import check_error, check_status, json_body

STOP = "compute-servers-stop"
REBOOT = "compute-servers-reboot"
LOCK = "compute-servers-lock"
REBUILD = "compute-servers-rebuild"
ACTIONS_LIST = "compute-instance-actions-list"
ACTIONS_GET = "compute-instance-actions-get"


@pytest.fixture(scope="module")
def actor(nova, image, flavor, module_resources):
    return nova.boot(module_resources, image["id"], flavor["id"])


@pytest.fixture(scope="module")
def request_ids():
    """action name -> the request id of the call that took it (for the instance-action tests)."""
    return {}


def _request_id(resp) -> str | None:
    return resp.headers.get("x-openstack-request-id") or resp.headers.get("x-compute-request-id")


# ---------------------------------------------------------------- stop / start


@pytest.mark.capability(STOP, "af8eafd4-38a7-4a4b-bdbc-75145a580560")
def test_stop_start_server(nova, actor, request_ids, schemas):
    """os-stop: 202 without a body, then SHUTOFF (power state shut down when
    shown), and a second os-stop is 409; os-start: 202, then ACTIVE
    (running). Stopping is a clean shutdown: the test first lets the guest
    finish booting (its console goes quiet), else the cloud would wait its
    shutdown timeout (60 s in Nova) for a guest that ignores the request."""
    nova.wait_console_quiet(actor.id)
    resp = nova.action(actor.id, {"os-stop": None})
    check_status(resp, 202)
    assert not resp.content, f"os-stop answered 202 with a body: {resp.text[:200]}"
    request_ids["stop"] = _request_id(resp)
    stopped = nova.wait_status(actor.id, "SHUTOFF").value
    power = stopped.get("OS-EXT-STS:power_state", 4)
    assert power == 4, f"a SHUTOFF server has power state {power}, not 4 (shut down)"
    check_error(schemas, nova.action(actor.id, {"os-stop": None}), 409)
    resp = nova.action(actor.id, {"os-start": None})
    check_status(resp, 202)
    request_ids["start"] = _request_id(resp)
    started = nova.wait_status(actor.id, "ACTIVE").value
    power = started.get("OS-EXT-STS:power_state", 1)
    assert power == 1, f"an ACTIVE server has power state {power}, not 1 (running)"


@pytest.mark.capability(STOP, "6a8b9135-37bf-442a-89e4-3a6123f93f19")
def test_start_active_server_is_409(nova, actor, schemas):
    """os-start of an ACTIVE server: 409 with Nova's error body; it stays ACTIVE."""
    check_error(schemas, nova.action(actor.id, {"os-start": None}), 409)
    assert nova.show(actor.id)["status"] == "ACTIVE"


@pytest.mark.capability(STOP, "a31460a9-49e1-42aa-82ee-06e0bb7c2d03")
def test_stop_non_existent_server(nova, schemas):
    check_error(schemas, nova.action(str(uuid.uuid4()), {"os-stop": None}), 404)


# ---------------------------------------------------------------- reboot


@pytest.mark.capability(REBOOT, "2cb1baf6-ac8d-4429-bf0d-ba8a0ba53e32")
def test_reboot_server_hard(nova, actor, request_ids):
    """reboot HARD: 202 without a body, then ACTIVE again."""
    resp = nova.action(actor.id, {"reboot": {"type": "HARD"}})
    check_status(resp, 202)
    assert not resp.content, f"reboot answered 202 with a body: {resp.text[:200]}"
    request_ids["reboot"] = _request_id(resp)
    result = nova.wait_status(actor.id, "ACTIVE")
    assert result.value["status"] == "ACTIVE"


@pytest.mark.capability(REBOOT, "31c19a24-40b8-47ef-a220-467032fa4d34")
def test_reboot_with_invalid_type_is_400(nova, actor, schemas):
    """reboot with a type other than HARD or SOFT: 400."""
    check_error(schemas, nova.action(actor.id, {"reboot": {"type": "GENTLE"}}), 400)


@pytest.mark.capability(REBOOT, "d4c023a0-9c55-4747-9dd5-413b820143c7")
def test_reboot_non_existent_server(nova, schemas):
    check_error(schemas, nova.action(str(uuid.uuid4()), {"reboot": {"type": "SOFT"}}), 404)


# ---------------------------------------------------------------- lock


@pytest.mark.capability(LOCK, "80a8094c-211e-440a-ab88-9e59d556c7ee")
def test_lock_unlock_server(nova, actor, schemas, resources):
    """lock: 202; the locked server refuses os-stop and reboot to its
    (non-admin) owner with 409 and stays ACTIVE; unlock: 202; then the
    owner's reboot is accepted (202) and the server comes back ACTIVE."""
    resp = nova.action(actor.id, {"lock": None})
    check_status(resp, 202)
    resources.add(f"unlock server {actor.id}", lambda: nova.action(actor.id, {"unlock": None}))
    check_error(schemas, nova.action(actor.id, {"os-stop": None}), 409)
    check_error(schemas, nova.action(actor.id, {"reboot": {"type": "HARD"}}), 409)
    assert nova.show(actor.id)["status"] == "ACTIVE", "a refused action changed the locked server"
    check_status(nova.action(actor.id, {"unlock": None}), 202)
    nova.act_and_wait(actor.id, {"reboot": {"type": "HARD"}}, "ACTIVE")


@pytest.mark.capability(LOCK, "12e62355-33d6-4464-b3c6-301ea6fe9ff9")
def test_locked_shows_in_server(nova, actor, resources):
    """Microversion 2.9: the server shows locked true while locked, false after unlock."""
    version = nova.microversion("2.9")
    check_status(nova.action(actor.id, {"lock": None}), 202)
    resources.add(f"unlock server {actor.id}", lambda: nova.action(actor.id, {"unlock": None}))
    assert nova.show(actor.id, microversion=version).get("locked") is True, "a locked server shows locked != true"
    check_status(nova.action(actor.id, {"unlock": None}), 202)
    assert nova.show(actor.id, microversion=version).get("locked") is False, "an unlocked server shows locked != false"


# ---------------------------------------------------------------- rebuild


@pytest.mark.capability(REBUILD, "aaa6cdf3-55a7-461a-add9-1c8596b9a07c")
def test_rebuild_server(nova, actor, image, schemas, request_ids):
    """rebuild with an image, a new name, metadata and a password: 202 with
    the server (new name, the password); then ACTIVE with the image, name
    and metadata given, the same id and addresses."""
    before = nova.show(actor.id)
    name = nova.run.name("rebuilt")
    metadata = {**nova.run.metadata, "rebuild": "yes"}
    password = "Op-" + secrets.token_urlsafe(12)
    resp = nova.action(actor.id, {"rebuild": {"imageRef": image["id"], "name": name, "metadata": metadata,
                                              "adminPass": password}})
    check_status(resp, 202)
    request_ids["rebuild"] = _request_id(resp)
    answered = schemas.validate("compute/server", json_body(resp))["server"]
    assert (answered["id"], answered["name"]) == (actor.id, name), (
        f"rebuild answered {answered['id']} {answered['name']!r}")
    assert answered.get("adminPass") == password, "rebuild does not answer the adminPass given"
    after = nova.wait_status(actor.id, "ACTIVE").value
    assert after["image"]["id"] == image["id"], f"the rebuilt server's image is {after['image']}"
    assert (after["name"], after["metadata"]) == (name, metadata), f"rebuilt: {after['name']!r} {after['metadata']}"
    assert after["addresses"] == before["addresses"], "a rebuild changed the server's addresses"


@pytest.mark.capability(REBUILD, "d86141a7-906e-4731-b187-d64a2ea61422")
def test_rebuild_non_existent_server(nova, image, schemas):
    check_error(schemas, nova.action(str(uuid.uuid4()), {"rebuild": {"imageRef": image["id"]}}), 404)


@pytest.mark.capability(REBUILD, "7da85e58-f129-4c7f-ba81-47c543567037")
def test_rebuild_with_unknown_image_is_400(nova, actor, schemas):
    """rebuild with an image that does not exist: 400, the server stays ACTIVE."""
    check_error(schemas, nova.action(actor.id, {"rebuild": {"imageRef": str(uuid.uuid4())}}), 400)
    assert nova.show(actor.id)["status"] == "ACTIVE", "a refused rebuild changed the server"


# ---------------------------------------------------------------- instance actions


@pytest.mark.capability(ACTIONS_LIST, "77ca5cc5-9990-45e0-ab98-1de8fead201a")
def test_list_instance_actions(nova, actor, request_ids):
    """GET /servers/{id}/os-instance-actions: 200, the create and the
    actions the earlier tests took (stop, start, reboot, rebuild), each once
    by request id, all of this server and the caller's project."""
    actions = nova.get(f"/servers/{actor.id}/os-instance-actions", "compute/instance-actions")["instanceActions"]
    names = [a["action"] for a in actions]
    expected = {"create"} | {k for k, v in request_ids.items() if v}
    assert expected <= set(names), f"the instance actions are {names}; expected at least {sorted(expected)}"
    ids = [a["request_id"] for a in actions]
    assert len(ids) == len(set(ids)), f"an instance action is listed twice: {ids}"
    for a in actions:
        assert a["instance_uuid"] == actor.id, f"an action of server {a['instance_uuid']} is listed"
        assert a["project_id"] == nova.project_id, f"an action of project {a['project_id']} is listed"
    for name, rid in request_ids.items():
        if rid:
            assert rid in ids, f"the {name} request {rid} is not among the instance actions' request ids {ids}"


@pytest.mark.capability(ACTIONS_GET, "aacc71ca-1d70-4aa5-bbf6-0ff71470e43c")
def test_get_instance_action(nova, actor, request_ids):
    """GET /servers/{id}/os-instance-actions/{request id} of the reboot (or
    create): 200, that action with its request id, server, user and project."""
    listed = nova.get(f"/servers/{actor.id}/os-instance-actions", "compute/instance-actions")["instanceActions"]
    wanted = request_ids.get("reboot") or next(a["request_id"] for a in listed if a["action"] == "create")
    action = nova.get(f"/servers/{actor.id}/os-instance-actions/{wanted}", "compute/instance-action")["instanceAction"]
    assert (action["request_id"], action["instance_uuid"]) == (wanted, actor.id), f"GET returned {action}"
    assert action["action"] == ("reboot" if request_ids.get("reboot") else "create"), f"GET returned {action['action']}"
    assert (action["user_id"], action["project_id"]) == (nova.user_id, nova.project_id), (
        f"the action is by user {action['user_id']} of project {action['project_id']}")


@pytest.mark.capability(ACTIONS_GET, "f54502ff-b056-46ea-8e0a-69f2a29e7c0a")
def test_get_instance_action_unknown_is_404(nova, actor, schemas):
    """An unknown request id, or a server that does not exist: 404 with Nova's error body."""
    check_error(schemas, nova.request("GET", f"/servers/{actor.id}/os-instance-actions/req-{uuid.uuid4()}"), 404)
    check_error(schemas, nova.request("GET", f"/servers/{uuid.uuid4()}/os-instance-actions"), 404)
