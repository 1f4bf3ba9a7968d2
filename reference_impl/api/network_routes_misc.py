"""Neutron version discovery, extensions, quotas and subnet pools."""

from __future__ import annotations

from typing import Any

from . import errors as E
from . import network_schemas as S
from .db import iso, now
from .network_allocation import parse_prefixes
from .network_base import (V2, bad_request, check_attributes, check_owner, envelope, library_errors, list_reply,
                           not_found, owns, plane, route, show_reply, target_project)
from .network_quota import RESOURCES, usage
from .network_quota import check as check_quota
from .network_routes_l2 import check_common
from .network_store import DEFAULT_QUOTAS, store
from .routing import ApiRequest, Reply

UPDATED = "2026-11-24T00:00:00Z"

# (alias, name, description): only what the reference cloud implements
EXTENSIONS = (
    ("binding", "Port Binding", "binding:host_id, binding:vif_type (admin), binding:vnic_type normal"),
    ("external-net", "Neutron external network", "router:external networks (flat, in the machine's namespace)"),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "enable_snat of a router's gateway"),
    ("extraroute", "Neutron Extra Route", "a router's routes, programmed in its namespace"),
    ("extraroute-atomic", "Atomically add/remove extra routes", "add_extraroutes and remove_extraroutes"),
    ("net-mtu", "Network MTU", "the mtu of a network"),
    ("port-security", "Port Security", "port_security_enabled of a port"),
    ("project-id", "project_id field enabled", "project_id alongside tenant_id"),
    ("provider", "Provider Network", "provider:* attributes (admin): vxlan tenant networks, flat external ones"),
    ("quotas", "Quota management support", "quotas per project"),
    ("quota_details", "Quota details management support", "quotas/{project}/details"),
    ("router", "Neutron L3 Router", "routers, router interfaces and floating IPs"),
    ("security-group", "security-group", "security groups and their rules"),
    ("standard-attr-description", "standard-attr-description", "description of every resource"),
    ("standard-attr-revisions", "Resource revision numbers", "revision_number of every resource"),
    ("standard-attr-tag", "Tag support for resources with standard attribute", "tags of networks, subnets, "
     "ports, routers, floating IPs, security groups and subnet pools"),
    ("standard-attr-timestamp", "Resource timestamps", "created_at and updated_at of every resource"),
    ("subnet_allocation", "Subnet Allocation", "subnet pools and allocating subnets from them"),
    ("sorting", "Sorting support", "sort_key and sort_dir"),
    ("pagination", "Pagination support", "limit and marker"),
    ("fip-port-details", "Floating IP Port Details Extension", "port_details of a floating IP"),
    ("network_availability_zone", "Network Availability Zone", "availability zones of networks"),
    ("router_availability_zone", "Router Availability Zone", "availability zones of routers"),
    ("subnet-service-types", "Subnet service types", "service_types of a subnet (always empty)"),
)

RESOURCES_LISTED = ("network", "subnet", "port", "router", "floatingip", "security_group",
                    "security_group_rule", "subnetpool", "quota", "extension")


def _collection(name: str) -> str:
    return {"security_group": "security-groups", "security_group_rule": "security-group-rules",
            "quota": "quotas"}.get(name, name + "s")


# -- version discovery -----------------------------------------------------------------------
@route("GET", "/", public=True)
def versions(req: ApiRequest) -> dict:
    """The API versions: v2.0."""
    return {"versions": [{"id": "v2.0", "status": "CURRENT",
                          "links": [{"rel": "self", "href": f"{req.base_url}{V2}/"}]}]}


@route("GET", V2, public=True)
@route("GET", V2 + "/", public=True)
def version_v20(req: ApiRequest) -> dict:
    """The v2.0 resources."""
    return {"resources": [{"name": name, "collection": _collection(name),
                           "links": [{"rel": "self", "href": f"{req.base_url}{V2}/{_collection(name)}"}]}
                          for name in RESOURCES_LISTED]}


# -- extensions ------------------------------------------------------------------------------
def _extension(alias: str, name: str, description: str) -> dict:
    return {"alias": alias, "name": name, "description": description, "updated": UPDATED, "links": []}


@route("GET", V2 + "/extensions", policy="any")
def list_extensions(req: ApiRequest) -> dict:
    return {"extensions": [_extension(*e) for e in EXTENSIONS]}


@route("GET", V2 + "/extensions/{alias}", policy="any")
def show_extension(req: ApiRequest) -> dict:
    for ext in EXTENSIONS:
        if ext[0] == req.params["alias"]:
            return {"extension": _extension(*ext)}
    raise E.NotFound(f"Extension with alias {req.params['alias']} does not exist", kind="ExtensionNotFound")


# -- agents -------------------------------------------------------------------------------------
@route("GET", V2 + "/agents")
def list_agents(req: ApiRequest) -> dict:
    """The reference cloud has no Neutron agents (the network library does their work): an empty list."""
    return {"agents": []}


# -- quotas ------------------------------------------------------------------------------------
def _quota_project(req: ApiRequest) -> str:
    project = req.params["project_id"]
    if project != req.context.project_id and not req.context.is_admin:
        raise E.Forbidden("Policy does not allow reading another project's quotas: admin role required",
                          kind="PolicyNotAuthorized")
    return project


@route("GET", V2 + "/quotas")
def list_quotas(req: ApiRequest) -> dict:
    """Projects with quotas that differ from the defaults (admins: all; others: their own)."""
    neutron = store(req)
    projects = neutron.projects_with_quotas()
    if not req.context.is_admin:
        projects = [p for p in projects if p == req.context.project_id]
    return {"quotas": [{**neutron.quotas(p), "project_id": p, "tenant_id": p} for p in projects]}


@route("GET", V2 + "/quotas/{project_id}")
def show_quota(req: ApiRequest) -> dict:
    return {"quota": store(req).quotas(_quota_project(req))}


@route("GET", V2 + "/quotas/{project_id}/default")
def show_default_quota(req: ApiRequest) -> dict:
    _quota_project(req)
    return {"quota": dict(DEFAULT_QUOTAS)}


@route("GET", V2 + "/quotas/{project_id}/details.json")
@route("GET", V2 + "/quotas/{project_id}/details")
def show_quota_details(req: ApiRequest) -> dict:
    project = _quota_project(req)
    with library_errors():
        state = plane(req).state()
    used = usage(state, store(req), project)
    limits = store(req).quotas(project)
    return {"quota": {r: {"limit": limits[r], "used": used[r], "reserved": 0} for r in RESOURCES}}


@route("PUT", V2 + "/quotas/{project_id}", policy="admin", schema=S.QUOTA_UPDATE)
def update_quota(req: ApiRequest) -> dict:
    body = envelope(req, "quota")
    check_attributes(body, set(RESOURCES) | {"force", "check_limit"})
    limits = {}
    for name, value in body.items():
        if name in ("force", "check_limit"):
            continue
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise bad_request(f"Invalid input for {name}: {value!r} is not an integer >= -1")
        limits[name] = value
    neutron = store(req)
    neutron.set_quotas(req.params["project_id"], limits)
    return {"quota": neutron.quotas(req.params["project_id"])}


@route("DELETE", V2 + "/quotas/{project_id}", policy="admin")
def reset_quota(req: ApiRequest) -> None:
    store(req).reset_quotas(req.params["project_id"])


# -- subnet pools ------------------------------------------------------------------------------
POOL_CREATE = frozenset({"name", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "shared",
                         "is_default", "description", "tags", "tenant_id", "project_id", "address_scope_id",
                         "default_quota"})
POOL_UPDATE = frozenset({"name", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen",
                         "description", "is_default", "address_scope_id", "default_quota"})


def _int_attr(body: dict, name: str, default: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"Invalid input for {name}: {value!r} is not an integer")
    return value


def _pool_limits(pool: dict, body: dict) -> None:
    """Fill and check min/default/max prefix lengths and prefixes."""
    nets = parse_prefixes(body.get("prefixes", pool.get("prefixes")))
    version = nets[0].version
    if pool.get("ip_version") not in (None, version):
        raise bad_request("Invalid input for prefixes: a subnet pool's IP version cannot change")
    width = 32 if version == 4 else 128
    if "prefixes" in body and pool.get("prefixes"):
        old = parse_prefixes(pool["prefixes"])
        if not all(any(o.subnet_of(n) for n in nets) for o in old):
            raise E.BadRequest("Prefixes of a subnet pool can only grow", kind="IllegalSubnetPoolPrefixUpdate")
    low = _int_attr(body, "min_prefixlen", pool.get("min_prefixlen", 8 if version == 4 else 64))
    high = _int_attr(body, "max_prefixlen", pool.get("max_prefixlen", width))
    default = _int_attr(body, "default_prefixlen", pool.get("default_prefixlen", low))
    if not 0 <= low <= default <= high <= width:
        raise E.BadRequest(f"Illegal prefix bounds: min_prefixlen {low} <= default_prefixlen {default} <= "
                           f"max_prefixlen {high} <= {width}", kind="IllegalSubnetPoolPrefixBounds")
    pool.update({"prefixes": [str(n) for n in nets], "ip_version": version, "min_prefixlen": low,
                 "max_prefixlen": high, "default_prefixlen": default})


def _pool_doc(pool: dict) -> dict:
    return {**pool, "tenant_id": pool["project_id"], "created_at": iso(pool["created"]),
            "updated_at": iso(pool["updated"]), "revision_number": pool["revision"]}


def _pool_view(pool: dict) -> dict:
    doc = _pool_doc(pool)
    for key in ("created", "updated", "revision"):
        doc.pop(key, None)
    return doc


def _visible_pool(req: ApiRequest, ident: str) -> dict:
    pool = store(req).subnetpool(ident)
    if pool is None or not (owns(req, pool["project_id"]) or pool.get("shared")):
        raise not_found("subnetpool", ident)
    return pool


def _check_pool_body(req: ApiRequest, body: dict) -> None:
    check_common(body)
    if body.get("address_scope_id") is not None:
        raise bad_request("Address scopes are not supported by the reference cloud")
    if body.get("default_quota") is not None:
        raise bad_request("Subnet pool quotas are not supported by the reference cloud")
    if body.get("is_default"):
        raise bad_request("Default subnet pools are not supported by the reference cloud")
    if "shared" in body and not isinstance(body["shared"], bool):
        raise bad_request("Invalid input for shared: not a boolean")


@route("GET", V2 + "/subnetpools")
def list_subnetpools(req: ApiRequest) -> dict:
    pools = [p for p in store(req).subnetpools() if owns(req, p["project_id"]) or p.get("shared")]
    return list_reply(req, "subnetpools", [_pool_view(p) for p in pools])


@route("GET", V2 + "/subnetpools/{pool_id}")
def show_subnetpool(req: ApiRequest) -> dict:
    return show_reply(req, "subnetpool", _pool_view(_visible_pool(req, req.params["pool_id"])))


@route("POST", V2 + "/subnetpools", status=201, schema=S.POOL_CREATE)
def create_subnetpool(req: ApiRequest) -> Reply:
    body = envelope(req, "subnetpool")
    check_attributes(body, POOL_CREATE)
    _check_pool_body(req, body)
    if "prefixes" not in body:
        raise bad_request("Invalid input for prefixes: a list of CIDRs is required")
    if body.get("shared") and not req.context.is_admin:
        raise E.Forbidden("Policy does not allow creating a shared subnet pool: admin role required",
                          kind="PolicyNotAuthorized")
    project = target_project(req, body)
    stamp = now()
    pool: dict[str, Any] = {"id": None, "name": body.get("name", ""), "project_id": project,
                            "shared": bool(body.get("shared", False)), "is_default": False,
                            "description": body.get("description", ""), "tags": list(body.get("tags") or []),
                            "address_scope_id": None, "default_quota": None,
                            "created": stamp, "updated": stamp, "revision": 0}
    _pool_limits(pool, body)
    neutron = store(req)
    with library_errors():
        check_quota(plane(req).state(), neutron, project, "subnetpool")
    return Reply({"subnetpool": _pool_view(neutron.save_subnetpool(pool))}, status=201)


@route("PUT", V2 + "/subnetpools/{pool_id}", schema=S.POOL_UPDATE)
def update_subnetpool(req: ApiRequest) -> dict:
    body = envelope(req, "subnetpool")
    check_attributes(body, POOL_UPDATE)
    _check_pool_body(req, body)
    pool = _visible_pool(req, req.params["pool_id"])
    check_owner(req, "subnetpool", pool["id"], pool["project_id"])
    _pool_limits(pool, body)
    for name in ("name", "description"):
        if name in body:
            pool[name] = body[name]
    pool["updated"] = now()
    pool["revision"] = pool.get("revision", 0) + 1
    return {"subnetpool": _pool_view(store(req).save_subnetpool(pool))}


@route("DELETE", V2 + "/subnetpools/{pool_id}")
def delete_subnetpool(req: ApiRequest) -> None:
    pool = _visible_pool(req, req.params["pool_id"])
    check_owner(req, "subnetpool", pool["id"], pool["project_id"])
    neutron = store(req)
    with library_errors():
        state = plane(req).state()
    users = [s.id for s in state.subnets.values()
             if neutron.one("subnet", s.id).extra.get("subnetpool_id") == pool["id"]]
    if users:
        raise E.Conflict(f"Unable to delete subnet pool {pool['id']}: subnet(s) {', '.join(users[:5])} were "
                         "allocated from it", kind="SubnetPoolInUse")
    neutron.delete_subnetpool(pool["id"])
