"""Helpers of the image tests: Glance v2 calls through the run's keystoneauth
sessions (so every call is traced), run-tagged images that are deleted after
their test, and the checks the tests share (status, error body, schema).

Calls go through the openstacksdk image proxy (a keystoneauth Adapter whose
endpoint is the catalog's image endpoint, version v2) with
``raise_exc=False``: the tests judge status codes and bodies themselves.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from octoprobe.resources import ResourceRegistry, RunTag
from octoprobe.schemas import Schemas

from ..identity.keystone import check_status, describe, json_body

__all__ = ["Glance", "check_status", "check_error", "describe", "json_body", "MIB", "payload"]

JSON = "application/json"
PATCH = "application/openstack-images-v2.1-json-patch"
MIB = 1024 * 1024


def payload(size: int, seed: str = "octoprobe") -> bytes:
    """``size`` bytes of deterministic, non-zero data."""
    block = hashlib.sha512(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def check_error(schemas: Schemas, resp: Any, *statuses: int) -> dict[str, Any]:
    """The response has one of ``statuses`` and a Glance JSON error body
    (``{"error": {"code", "message"}}`` or WebOb's ``{"code": "404 Not
    Found", "message"}``) whose code is the status; returns the body."""
    check_status(resp, *statuses)
    body = schemas.validate("image/error", json_body(resp))
    code = body["error"]["code"] if "error" in body else int(str(body["code"]).split()[0])
    assert code == resp.status_code, f"the error body says {code}, the status is {resp.status_code}: {describe(resp)}"
    return body


class Glance:
    """Image operations as one connection's user."""

    def __init__(self, conn: Any, schemas: Schemas, run: RunTag):
        self.conn = conn
        self.api = conn.image
        self.schemas = schemas
        self.run = run

    @property
    def project_id(self) -> str:
        return self.conn.current_project_id

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """``method path`` on the image v2 endpoint (``path`` like ``/images``)."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept", JSON)
        # skip_cache: a clouds.yaml may enable openstacksdk's GET cache; a test must reach the cloud
        return self.api.request(path, method, headers=headers, raise_exc=False, skip_cache=True, **kwargs)

    # ---- images of the run

    def create(self, resources: ResourceRegistry, *, tags: Iterable[str] = (), **attrs: Any) -> dict[str, Any]:
        """POST /images for a new run-tagged image (201, schema checked),
        deleted after the test."""
        body = {"name": self.run.name("image"), "disk_format": "raw", "container_format": "bare", **attrs}
        body["tags"] = [self.run.tag, *tags]
        resp = self.request("POST", "/images", json=body)
        check_status(resp, 201)
        image = self.schemas.validate("image/image", json_body(resp))
        resources.add(f"image {image['id']}", lambda: self.delete_quietly(image["id"]))
        return image

    def upload(self, image_id: str, data: bytes) -> Any:
        return self.request("PUT", f"/images/{image_id}/file", data=data,
                            headers={"Content-Type": "application/octet-stream"})

    def create_active(self, resources: ResourceRegistry, data: bytes, **attrs: Any) -> dict[str, Any]:
        """A run-tagged image with ``data`` uploaded (204), shown active."""
        image = self.create(resources, **attrs)
        check_status(self.upload(image["id"], data), 204)
        shown = self.show(image["id"])
        assert shown["status"] == "active", f"image {image['id']} is {shown['status']!r} after its upload, not active"
        return shown

    def show(self, image_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/images/{image_id}")
        check_status(resp, 200)
        return self.schemas.validate("image/image", json_body(resp))

    def patch(self, image_id: str, ops: Any, content_type: str = PATCH) -> Any:
        return self.request("PATCH", f"/images/{image_id}", json=ops, headers={"Content-Type": content_type})

    def list(self, query: str = "") -> list[dict[str, Any]]:
        """GET /images?query (200, schema checked), following ``next`` links."""
        path = "/images" + (f"?{query}" if query else "")
        images: list[dict[str, Any]] = []
        for _ in range(100):
            resp = self.request("GET", path)
            check_status(resp, 200)
            page = self.schemas.validate("image/images", json_body(resp))
            images.extend(page["images"])
            nxt = page.get("next")
            if not nxt:
                return images
            path = nxt[len("/v2"):] if nxt.startswith("/v2/") else nxt
        raise AssertionError(f"GET /v2/images?{query} has more than 100 pages")

    def list_ours(self, query: str = "") -> list[dict[str, Any]]:
        """The run's images in GET /images?tag=<run tag>&query."""
        tag = f"tag={self.run.tag.replace('=', '%3D')}"
        return self.list(tag + (f"&{query}" if query else ""))

    def delete_quietly(self, image_id: str) -> None:
        """Delete an image of the run (unprotecting it first); gone already is fine."""
        resp = self.request("DELETE", f"/images/{image_id}")
        if resp.status_code == 403:
            self.patch(image_id, [{"op": "replace", "path": "/protected", "value": False}])
            resp = self.request("DELETE", f"/images/{image_id}")
        if resp.status_code not in (204, 404):
            raise RuntimeError(f"deleting an image of the run failed: {describe(resp)}")
