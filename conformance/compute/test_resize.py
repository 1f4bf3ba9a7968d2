"""compute-servers-resize: resize a server to another flavor, then confirm
or revert; resizing to a flavor that does not exist, or to none.

Kept apart from the other server actions: the guideline flags resize
("may be disabled by vendors") and the reference cloud does not implement
it yet. A cloud that lacks resize FAILS these tests (they do not skip): the
guideline requires the capability. They skip only when the cloud offers a
single flavor that fits the image (nothing to resize to).

The module boots its own server."""

from __future__ import annotations

import uuid

import pytest

from .nova import BUILD_TIMEOUT, check_error, check_status

RESIZE = "compute-servers-resize"


@pytest.fixture(scope="module")
def resizable(nova, image, flavors, module_resources):
    if len(flavors) < 2:
        pytest.skip("the cloud offers one flavor that fits the image: there is no other flavor to resize to")
    return nova.boot(module_resources, image["id"], flavors[0]["id"])


def _resize(nova, server_id: str, flavor_id: str) -> None:
    resp = nova.action(server_id, {"resize": {"flavorRef": flavor_id}})
    check_status(resp, 202)
    nova.wait_status(server_id, "VERIFY_RESIZE", timeout=BUILD_TIMEOUT)


@pytest.mark.capability(RESIZE, "1499262a-9328-4eda-9068-db1ac57498d2")
def test_resize_server_confirm(nova, resizable, flavors):
    """resize to the next flavor: 202, VERIFY_RESIZE; confirmResize: 204,
    then ACTIVE with the new flavor."""
    current = nova.show(resizable.id)["flavor"]["id"]
    target = next(f["id"] for f in flavors if f["id"] != current)
    _resize(nova, resizable.id, target)
    resp = nova.action(resizable.id, {"confirmResize": None})
    check_status(resp, 204)
    after = nova.wait_status(resizable.id, "ACTIVE").value
    assert after["flavor"]["id"] == target, f"after a confirmed resize to {target} the flavor is {after['flavor']}"


@pytest.mark.capability(RESIZE, "c03aab19-adb1-44f5-917d-c419577e9e68")
def test_resize_server_revert(nova, resizable, flavors):
    """resize: 202, VERIFY_RESIZE; revertResize: 202, then ACTIVE with the
    flavor it had before."""
    before = nova.show(resizable.id)["flavor"]["id"]
    target = next(f["id"] for f in flavors if f["id"] != before)
    _resize(nova, resizable.id, target)
    resp = nova.action(resizable.id, {"revertResize": None})
    check_status(resp, 202)
    after = nova.wait_status(resizable.id, "ACTIVE").value
    assert after["flavor"]["id"] == before, f"after a reverted resize the flavor is {after['flavor']}, not {before}"


@pytest.mark.capability(RESIZE, "ced1a1d7-2ab6-45c9-b90f-b27d87b30efd")
def test_resize_server_with_non_existent_flavor(nova, resizable, schemas):
    """resize to a flavor that does not exist: 400, the server stays ACTIVE."""
    check_error(schemas, nova.action(resizable.id, {"resize": {"flavorRef": str(uuid.uuid4())}}), 400)
    assert nova.show(resizable.id)["status"] == "ACTIVE", "a refused resize changed the server"


@pytest.mark.capability(RESIZE, "45436a7d-a388-4a35-a9d8-3adc5d0d940b")
def test_resize_server_with_null_flavor(nova, resizable, schemas):
    """resize to an empty flavorRef: 400, the server stays ACTIVE."""
    check_error(schemas, nova.action(resizable.id, {"resize": {"flavorRef": ""}}), 400)
    assert nova.show(resizable.id)["status"] == "ACTIVE", "a refused resize changed the server"
