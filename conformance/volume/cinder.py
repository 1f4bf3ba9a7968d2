"""Helpers of the block-storage tests: Cinder v3 calls through the run's
keystoneauth sessions (so every call is traced), run-tagged volumes and
snapshots that are deleted (and waited for) after their test or module,
status polling with :mod:`octoprobe.waiters`, and the checks the tests
share (status, Cinder's error body, schema).

Calls go through the openstacksdk block-storage proxy (a keystoneauth
Adapter whose endpoint is the catalog's ``block-storage`` / ``volumev3``
endpoint, ``.../v3`` with or without the project id) with
``raise_exc=False``: the tests judge status codes and bodies themselves.
Every request asks for microversion 3.0 (``OpenStack-API-Version: volume
3.0``), the version the interop guideline's tests use.

Volumes are 1 GiB, named with the run's prefix and carry the run's
metadata (``octoprobe-run``); snapshots too.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Mapping

from octoprobe.resources import ResourceRegistry, RunTag
from octoprobe.schemas import Schemas
from octoprobe.waiters import GONE, Waiter, WaitResult

from ..faults import WSGI_FAULT_NAMES
from ..identity.keystone import check_status, describe, json_body

__all__ = [
    "Cinder",
    "check_status",
    "check_error",
    "describe",
    "json_body",
    "MICROVERSION",
    "TIMEOUT",
    "POLL",
    "FAULT_NAMES",
]

JSON = "application/json"
#: The microversion every request asks for (the guideline's tests run at 3.0).
MICROVERSION = "3.0"
VERSION_HEADER = "OpenStack-API-Version"
#: Seconds a volume or snapshot may take to be created or deleted (1 GiB on Ceph: seconds).
TIMEOUT = 120.0
POLL = 0.25

#: Cinder's fault names: the shared WSGI ones
FAULT_NAMES = WSGI_FAULT_NAMES
VOLUME_FAILED = {"error", "error_deleting", "error_restoring", "error_extending", GONE}
SNAPSHOT_FAILED = {"error", "error_deleting", GONE}


def check_error(schemas: Schemas, resp: Any, *statuses: int) -> dict[str, Any]:
    """The response has one of ``statuses`` and Cinder's JSON error body
    ``{"<faultName>": {"code": <status>, "message": ...}}``, the fault named
    as Cinder names it for that status; returns the inner error."""
    check_status(resp, *statuses)
    body = schemas.validate("volume/error", json_body(resp))
    (name, error), = body.items()
    assert error["code"] == resp.status_code, (
        f"the error body says code {error['code']}, the status is {resp.status_code}: {describe(resp)}")
    expected = FAULT_NAMES.get(resp.status_code)
    if expected is not None:
        assert name == expected, (
            f"a {resp.status_code} error is named {name!r}, Cinder names it {expected!r}: {describe(resp)}")
    return error


class Cinder:
    """Block-storage operations as one connection's user."""

    def __init__(self, conn: Any, schemas: Schemas, run: RunTag, *, waiter: Waiter | None = None):
        self.conn = conn
        self.api = conn.block_storage
        self.schemas = schemas
        self.run = run
        self.waiter = waiter or Waiter()

    @property
    def project_id(self) -> str:
        return self.conn.current_project_id

    @property
    def user_id(self) -> str:
        return self.conn.current_user_id

    # ---- requests

    def request(self, method: str, path: str, *, microversion: str | None = MICROVERSION, **kwargs: Any) -> Any:
        """``method path`` on the block-storage v3 endpoint (``path`` like ``/volumes``)."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept", JSON)
        if microversion is not None:
            headers[VERSION_HEADER] = f"volume {microversion}"
        # skip_cache: a clouds.yaml may enable openstacksdk's GET cache; a test must reach the cloud
        return self.api.request(path, method, headers=headers, raise_exc=False, skip_cache=True, **kwargs)

    def get(self, path: str, schema: str, *, status: int = 200, **kwargs: Any) -> dict[str, Any]:
        """GET ``path``: ``status`` and a body matching ``schema``."""
        resp = self.request("GET", path, **kwargs)
        check_status(resp, status)
        return self.schemas.validate(schema, json_body(resp))

    def endpoint(self) -> str:
        return str(self.conn.endpoint_for("block-storage") or self.conn.endpoint_for("volumev3"))

    def root(self) -> str:
        """The unversioned root of the endpoint (``.../volume`` for ``.../volume/v3[/project]``)."""
        return re.sub(r"/v[0-9.]+(/[0-9a-fA-F-]{32,36})?/?$", "", self.endpoint().rstrip("/"))

    # ---- volumes

    def volume_body(self, **attrs: Any) -> dict[str, Any]:
        """The ``volume`` of a POST /volumes: 1 GiB, a run-prefixed name, the run's metadata."""
        body: dict[str, Any] = {"size": 1, "name": self.run.name("vol"), **attrs}
        body["metadata"] = {**self.run.metadata, **(attrs.get("metadata") or {})}
        return body

    def post_volume(self, resources: ResourceRegistry, body: Mapping[str, Any]) -> Any:
        """POST /volumes {"volume": body}; a created volume is deleted (and waited for) after the test."""
        resp = self.request("POST", "/volumes", json={"volume": dict(body)})
        if 200 <= resp.status_code < 300:  # (202 is right; whatever a wrong 2xx made is deleted all the same)
            created = _json_or_empty(resp).get("volume") or {}
            if created.get("id"):
                resources.add(f"volume {created['id']}", lambda: self.delete_volume_and_wait(created["id"]))
        return resp

    def create_volume(self, resources: ResourceRegistry, *, wait: bool = True, **attrs: Any) -> dict[str, Any]:
        """A new run-tagged volume (202, schema checked), ``available`` unless
        ``wait`` is False (then the 202's volume); deleted after the test."""
        resp = self.post_volume(resources, self.volume_body(**attrs))
        check_status(resp, 202)
        created = self.schemas.validate("volume/volume", json_body(resp))["volume"]
        if not wait:
            return created
        return self.wait_volume(created["id"], "available").value

    def show_volume(self, volume_id: str) -> dict[str, Any]:
        return self.get(f"/volumes/{volume_id}", "volume/volume")["volume"]

    def volume_fetcher(self, volume_id: str, *, validate: bool = True) -> Callable[[], dict[str, Any] | None]:
        def fetch() -> dict[str, Any] | None:
            resp = self.request("GET", f"/volumes/{volume_id}")
            if resp.status_code == 404:
                return None
            check_status(resp, 200)
            body = json_body(resp)
            return (self.schemas.validate("volume/volume", body) if validate else body)["volume"]
        return fetch

    def wait_volume(self, volume_id: str, status: str, *, timeout: float = TIMEOUT) -> WaitResult:
        """Poll the volume until its status is ``status``; fail at once on an error status."""
        return self.waiter.wait(f"volume {volume_id} {status}", self.volume_fetcher(volume_id), ready={status},
                                failed=VOLUME_FAILED - {status}, timeout=timeout, interval=POLL,
                                fault=_error_of)

    def wait_volume_gone(self, volume_id: str, *, timeout: float = TIMEOUT, validate: bool = False) -> WaitResult:
        return self.waiter.wait(f"volume {volume_id} deleted", self.volume_fetcher(volume_id, validate=validate),
                                ready={GONE}, failed={"error_deleting"}, timeout=timeout, interval=POLL,
                                fault=_error_of)

    def delete_volume_and_wait(self, volume_id: str) -> None:
        """Delete a volume of the run (with its snapshots: ``cascade``) and wait
        until it is gone; gone already is fine. A volume still being created
        is waited for first."""
        resp = self.request("DELETE", f"/volumes/{volume_id}?cascade=true")
        if resp.status_code == 400:  # busy (creating, uploading ...): let it settle, retry once
            try:
                self.waiter.wait(f"volume {volume_id} settled", self.volume_fetcher(volume_id, validate=False),
                                 ready=lambda s: s in ("available", "error", "in-use", GONE), timeout=TIMEOUT,
                                 interval=POLL)
            except AssertionError:
                pass
            resp = self.request("DELETE", f"/volumes/{volume_id}?cascade=true")
        if resp.status_code not in (202, 204, 404):
            raise RuntimeError(f"deleting a volume of the run failed: {describe(resp)}")
        self.wait_volume_gone(volume_id)

    def list_volumes(self, query: str = "", *, detail: bool = False, pages: bool = True) -> list[dict[str, Any]]:
        """GET /volumes[/detail]?query (200, schema checked), following
        ``volumes_links`` next links unless ``pages`` is False."""
        return self._list("volumes", query, detail=detail, pages=pages)

    def list_ours(self, query: str = "", **kwargs: Any) -> list[dict[str, Any]]:
        """The run's volumes in a list (by the run's metadata filter)."""
        tag = "metadata=" + _quote_dict(self.run.metadata)
        return self.list_volumes(tag + (f"&{query}" if query else ""), **kwargs)

    def _list(self, kind: str, query: str, *, detail: bool, pages: bool) -> list[dict[str, Any]]:
        path = f"/{kind}/detail" if detail else f"/{kind}"
        schema = f"volume/{kind}-detail" if detail else f"volume/{kind}"
        url = path + (f"?{query}" if query else "")
        items: list[dict[str, Any]] = []
        for _ in range(100):
            page = self.get(url, schema)
            items.extend(page[kind])
            nxt = next((link["href"] for link in page.get(f"{kind}_links") or [] if link["rel"] == "next"), None)
            if not nxt or not pages:
                return items
            url = path + "?" + nxt.split("?", 1)[1] if "?" in nxt else nxt
        raise AssertionError(f"GET {path}?{query} has more than 100 pages")

    def action(self, volume_id: str, body: Mapping[str, Any]) -> Any:
        """POST /volumes/{id}/action with ``body`` (e.g. ``{"os-update_readonly_flag": {...}}``)."""
        return self.request("POST", f"/volumes/{volume_id}/action", json=dict(body))

    # ---- snapshots

    def snapshot_body(self, volume_id: str, **attrs: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"volume_id": volume_id, "name": self.run.name("snap"), **attrs}
        body["metadata"] = {**self.run.metadata, **(attrs.get("metadata") or {})}
        return body

    def post_snapshot(self, resources: ResourceRegistry, body: Mapping[str, Any]) -> Any:
        resp = self.request("POST", "/snapshots", json={"snapshot": dict(body)})
        if 200 <= resp.status_code < 300:
            created = _json_or_empty(resp).get("snapshot") or {}
            if created.get("id"):
                resources.add(f"snapshot {created['id']}", lambda: self.delete_snapshot_and_wait(created["id"]))
        return resp

    def create_snapshot(self, resources: ResourceRegistry, volume_id: str, *, wait: bool = True,
                        **attrs: Any) -> dict[str, Any]:
        """A new run-tagged snapshot of ``volume_id`` (202, schema checked),
        ``available`` unless ``wait`` is False; deleted after the test."""
        resp = self.post_snapshot(resources, self.snapshot_body(volume_id, **attrs))
        check_status(resp, 202)
        created = self.schemas.validate("volume/snapshot", json_body(resp))["snapshot"]
        if not wait:
            return created
        return self.wait_snapshot(created["id"], "available").value

    def show_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        return self.get(f"/snapshots/{snapshot_id}", "volume/snapshot")["snapshot"]

    def snapshot_fetcher(self, snapshot_id: str, *, validate: bool = True) -> Callable[[], dict[str, Any] | None]:
        def fetch() -> dict[str, Any] | None:
            resp = self.request("GET", f"/snapshots/{snapshot_id}")
            if resp.status_code == 404:
                return None
            check_status(resp, 200)
            body = json_body(resp)
            return (self.schemas.validate("volume/snapshot", body) if validate else body)["snapshot"]
        return fetch

    def wait_snapshot(self, snapshot_id: str, status: str, *, timeout: float = TIMEOUT) -> WaitResult:
        return self.waiter.wait(f"snapshot {snapshot_id} {status}", self.snapshot_fetcher(snapshot_id),
                                ready={status}, failed=SNAPSHOT_FAILED - {status}, timeout=timeout, interval=POLL)

    def wait_snapshot_gone(self, snapshot_id: str, *, timeout: float = TIMEOUT, validate: bool = False) -> WaitResult:
        return self.waiter.wait(f"snapshot {snapshot_id} deleted",
                                self.snapshot_fetcher(snapshot_id, validate=validate), ready={GONE},
                                failed={"error_deleting"}, timeout=timeout, interval=POLL)

    def delete_snapshot_and_wait(self, snapshot_id: str) -> None:
        """Delete a snapshot of the run and wait until it is gone; gone already is fine."""
        resp = self.request("DELETE", f"/snapshots/{snapshot_id}")
        if resp.status_code == 400:  # still creating: let it settle, retry once
            try:
                self.wait_snapshot(snapshot_id, "available")
            except AssertionError:
                pass
            resp = self.request("DELETE", f"/snapshots/{snapshot_id}")
        if resp.status_code not in (202, 204, 404):
            raise RuntimeError(f"deleting a snapshot of the run failed: {describe(resp)}")
        self.wait_snapshot_gone(snapshot_id)

    def list_snapshots(self, query: str = "", *, detail: bool = False, pages: bool = True) -> list[dict[str, Any]]:
        return self._list("snapshots", query, detail=detail, pages=pages)

    # ---- images made from volumes

    def image_request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.conn.image.request(path, method, raise_exc=False, skip_cache=True,
                                       headers={"Accept": JSON, **(kwargs.pop("headers", None) or {})}, **kwargs)

    def delete_image_quietly(self, image_id: str) -> None:
        """Delete an image of the run (waiting for an upload in progress to end); gone already is fine."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            resp = self.image_request("DELETE", f"/images/{image_id}")
            if resp.status_code in (204, 404):
                return
            if resp.status_code != 409 or time.monotonic() > deadline:  # 409: still being uploaded
                raise RuntimeError(f"deleting an image of the run failed: {describe(resp)}")
            time.sleep(1)

    def wait_image(self, image_id: str, status: str = "active", *, timeout: float = TIMEOUT) -> WaitResult:
        def fetch() -> dict[str, Any] | None:
            resp = self.image_request("GET", f"/images/{image_id}")
            if resp.status_code == 404:
                return None
            check_status(resp, 200)
            return json_body(resp)

        return self.waiter.wait(f"image {image_id} {status}", fetch, ready={status},
                                failed={"killed", "deleted", "deactivated", GONE}, timeout=timeout, interval=POLL)


def _json_or_empty(resp: Any) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_of(volume: Any) -> str | None:
    """A volume carries no fault; what it says in its status is all there is."""
    return None


def _quote_dict(mapping: Mapping[str, str]) -> str:
    """A dict-valued list filter as Cinder reads it (a JSON object, URL-quoted)."""
    import json
    import urllib.parse
    return urllib.parse.quote(json.dumps(dict(mapping), separators=(",", ":")))
