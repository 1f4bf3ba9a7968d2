"""Helpers of the network tests: Neutron v2.0 calls through the run's
keystoneauth sessions (so every call is traced), run-tagged resources that
are deleted after their test (or module), and the checks the tests share
(status, Neutron's error body, schema).

Calls go through the openstacksdk network proxy (a keystoneauth Adapter
whose endpoint is the catalog's network endpoint with ``/v2.0``) with
``raise_exc=False``: the tests judge status codes and bodies themselves.

Every resource the tests create carries the run's tag: a run-prefixed name
where the resource has a name, and the tag in its ``description`` (Neutron's
tag extension is optional, the description is not), so ``octoprobe cleanup``
finds what an interrupted run left.
"""

from __future__ import annotations

import ipaddress
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from octoprobe.resources import ResourceRegistry, RunTag
from octoprobe.schemas import Schemas

from ..identity.keystone import check_status, describe, json_body

__all__ = ["Neutron", "Kind", "KINDS", "check_error", "check_status", "describe", "json_body", "query"]

JSON = "application/json"


@dataclass(frozen=True)
class Kind:
    """One kind of Neutron resource: its body key, collection path and schemas."""

    key: str  # "security_group"
    collection: str  # "security-groups"
    named: bool = True  # has a ``name``

    @property
    def plural(self) -> str:
        return self.collection.replace("-", "_")

    @property
    def schema(self) -> str:
        return "network/" + self.key.replace("_", "-")

    @property
    def list_schema(self) -> str:
        return "network/" + self.collection

    @property
    def label(self) -> str:
        return self.key.replace("_", " ")


KINDS = {
    k.key: k
    for k in (
        Kind("network", "networks"),
        Kind("subnet", "subnets"),
        Kind("port", "ports"),
        Kind("router", "routers"),
        Kind("floatingip", "floatingips", named=False),
        Kind("security_group", "security-groups"),
        Kind("security_group_rule", "security-group-rules", named=False),
        Kind("subnetpool", "subnetpools"),
    )
}

def query(**params: Any) -> str:
    """A query string; list values repeat the key (``fields=id&fields=name``)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return urllib.parse.urlencode(pairs)


def check_error(schemas: Schemas, resp: Any, *statuses: int, types: Iterable[str] | None = None) -> dict[str, Any]:
    """The response has one of ``statuses`` and Neutron's JSON error body
    ``{"NeutronError": {"type": ..., "message": ..., "detail": ...}}``, its
    type one of ``types`` when given; returns the inner error."""
    check_status(resp, *statuses)
    error = schemas.validate("network/error", json_body(resp))["NeutronError"]
    if types is not None:
        allowed = set(types)
        assert error["type"] in allowed, (
            f"a {resp.status_code} error has type {error['type']!r}; Neutron says {' or '.join(sorted(allowed))}: "
            f"{describe(resp)}")
    return error


class Neutron:
    """Network operations as one connection's user."""

    def __init__(self, conn: Any, schemas: Schemas, run: RunTag):
        self.conn = conn
        self.api = conn.network
        self.schemas = schemas
        self.run = run

    @property
    def project_id(self) -> str:
        return self.conn.current_project_id

    # ---- requests

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """``method path`` on the network v2.0 endpoint (``path`` like ``/networks``)."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept", JSON)
        # skip_cache: a clouds.yaml may enable openstacksdk's GET cache; a test must reach the cloud
        return self.api.request(path, method, headers=headers, raise_exc=False, skip_cache=True, **kwargs)

    def get(self, path: str, schema: str, *, status: int = 200) -> dict[str, Any]:
        """GET ``path``: ``status`` and a body matching ``schema``."""
        resp = self.request("GET", path)
        check_status(resp, status)
        return self.schemas.validate(schema, json_body(resp))

    def root_request(self, path: str = "") -> Any:
        """GET on the network endpoint without ``/v2.0`` (the versions document)."""
        endpoint = self.api.get_endpoint().rstrip("/")
        base = endpoint[: -len("/v2.0")] if endpoint.endswith("/v2.0") else endpoint
        return self.conn.session.request(base + "/" + path, "GET", raise_exc=False,
                                         headers={"Accept": JSON})

    # ---- resources

    def tagged(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``body`` with the run's tag: a run-prefixed name (unless given) and the tag in the description."""
        k = KINDS[kind]
        out = dict(body)
        if k.named and "name" not in out:
            out["name"] = self.run.name(kind.replace("_", "-"))
        out["description"] = self.run.description(out.get("description") or "")
        return out

    def post(self, resources: ResourceRegistry | None, kind: str, body: Mapping[str, Any], *,
             tag: bool = True) -> Any:
        """POST {kind: body} (tagged unless ``tag`` is False); what is created is deleted after the test."""
        k = KINDS[kind]
        sent = self.tagged(kind, body) if tag else dict(body)
        resp = self.request("POST", f"/{k.collection}", json={kind: sent})
        if resp.status_code == 201 and resources is not None:
            created = (resp.json() or {}).get(kind) or {}
            if created.get("id"):
                self.track(resources, kind, created["id"])
        return resp

    def post_bulk(self, resources: ResourceRegistry, kind: str, bodies: list[Mapping[str, Any]]) -> Any:
        """POST {plural: [bodies]} (bulk create), each tagged; all deleted after the test."""
        k = KINDS[kind]
        resp = self.request("POST", f"/{k.collection}", json={k.plural: [self.tagged(kind, b) for b in bodies]})
        if resp.status_code == 201:
            for created in (resp.json() or {}).get(k.plural) or []:
                if created.get("id"):
                    self.track(resources, kind, created["id"])
        return resp

    def track(self, resources: ResourceRegistry, kind: str, ident: str) -> None:
        k = KINDS[kind]
        if kind == "router":
            resources.add(f"router {ident}", lambda: self.delete_router_quietly(ident))
        else:
            resources.add(f"{k.label} {ident}", lambda: self.delete_quietly(kind, ident))

    def create(self, resources: ResourceRegistry | None, kind: str, **body: Any) -> dict[str, Any]:
        """A new run-tagged resource (201 and schema checked), deleted after the test."""
        resp = self.post(resources, kind, body)
        check_status(resp, 201)
        return self.schemas.validate(KINDS[kind].schema, json_body(resp))[kind]

    def show(self, kind: str, ident: str, *, fields: Iterable[str] | None = None) -> dict[str, Any]:
        k = KINDS[kind]
        path = f"/{k.collection}/{ident}"
        if fields is not None:
            resp = self.request("GET", path + "?" + query(fields=list(fields)))
            check_status(resp, 200)
            return json_body(resp)[kind]
        return self.get(path, k.schema)[kind]

    def list(self, kind: str, **filters: Any) -> list[dict[str, Any]]:
        """GET /{collection}?filters (200, schema checked)."""
        k = KINDS[kind]
        qs = query(**filters)
        return self.get(f"/{k.collection}" + (f"?{qs}" if qs else ""), k.list_schema)[k.plural]

    def update(self, kind: str, ident: str, **body: Any) -> dict[str, Any]:
        """PUT {kind: body}: 200 and the schema."""
        k = KINDS[kind]
        resp = self.request("PUT", f"/{k.collection}/{ident}", json={kind: body})
        check_status(resp, 200)
        return self.schemas.validate(k.schema, json_body(resp))[kind]

    def delete(self, kind: str, ident: str) -> None:
        """DELETE: 204 with no body, and the resource is 404 afterwards."""
        k = KINDS[kind]
        resp = self.request("DELETE", f"/{k.collection}/{ident}")
        check_status(resp, 204)
        assert not resp.content, f"a 204 from DELETE has a body: {describe(resp)}"
        check_error(self.schemas, self.request("GET", f"/{k.collection}/{ident}"), 404)

    def delete_quietly(self, kind: str, ident: str) -> None:
        resp = self.request("DELETE", f"/{KINDS[kind].collection}/{ident}")
        if resp.status_code not in (204, 404):
            raise RuntimeError(f"deleting a {KINDS[kind].label} of the run failed: {describe(resp)}")

    def delete_router_quietly(self, router_id: str) -> None:
        """Detach the router's interfaces, then delete it (gone already is fine)."""
        resp = self.request("GET", "/ports?" + query(device_id=router_id))
        if resp.status_code == 200:
            for port in resp.json().get("ports") or []:
                if port.get("device_owner", "").startswith("network:router_interface"):
                    self.request("PUT", f"/routers/{router_id}/remove_router_interface", json={"port_id": port["id"]})
        self.delete_quietly("router", router_id)

    # ---- routers

    def interface(self, router_id: str, action: str, **body: Any) -> Any:
        """PUT /routers/{id}/{action}_router_interface with ``body``."""
        return self.request("PUT", f"/routers/{router_id}/{action}_router_interface", json=body)

    def add_interface(self, resources: ResourceRegistry, router_id: str, **body: Any) -> dict[str, Any]:
        """Add an interface (200 and schema); removed after the test."""
        resp = self.interface(router_id, "add", **body)
        check_status(resp, 200)
        info = self.schemas.validate("network/router-interface", json_body(resp))

        def remove() -> None:
            r = self.interface(router_id, "remove", port_id=info["port_id"])
            if r.status_code not in (200, 404):
                raise RuntimeError(f"removing a router interface of the run failed: {describe(r)}")

        resources.add(f"interface {info['port_id']} of router {router_id}", remove)
        return info

    # ---- helpers

    def external_networks(self) -> list[dict[str, Any]]:
        return self.list("network", **{"router:external": True})

    def free_cidr(self, version: int = 4, *, prefixlen: int | None = None, avoid: Iterable[str] = ()) -> str:
        """A CIDR no subnet the user sees overlaps (from 10.100.0.0/16 or fd00:6f63:7072::/48)."""
        taken = [ipaddress.ip_network(s["cidr"]) for s in self.list("subnet", ip_version=version)]
        taken += [ipaddress.ip_network(c) for c in avoid]
        if version == 4:
            space, length = ipaddress.ip_network("10.100.0.0/16"), prefixlen or 28
        else:
            space, length = ipaddress.ip_network("fd00:6f63:7072::/48"), prefixlen or 64
        candidates = list(space.subnets(new_prefix=length)) if length - space.prefixlen <= 12 else None
        for _ in range(200):
            if candidates is not None:
                net = candidates[secrets.randbelow(len(candidates))]
            else:
                offset = secrets.randbelow(2 ** (length - space.prefixlen)) << (space.max_prefixlen - length)
                net = ipaddress.ip_network((int(space.network_address) + offset, length))
            if not any(net.overlaps(t) for t in taken):
                return str(net)
        raise AssertionError(f"no free IPv{version} /{length} in {space}")
