"""Neutron routers (with ``routes``: extraroute, programmed into the
router's namespace by the network library) and floating IPs."""

from __future__ import annotations

from typing import Any

from ..network.plane import MAX_ROUTER_ROUTES as MAX_ROUTES
from . import errors as E
from . import network_schemas as S
from . import network_views as V
from .network_base import (V2, bad_request, check_attributes, check_owner, envelope, library_errors, list_reply,
                           not_found, owns, plane, route, show_reply, target_project)
from .network_quota import check as check_quota
from .network_routes_l2 import check_common, get_or_404, visible_network, visible_port, visible_subnet
from .network_store import store
from .routing import ApiRequest, Reply

ROUTER_CREATE = frozenset({"name", "admin_state_up", "external_gateway_info", "description", "tags", "tenant_id",
                           "project_id", "distributed", "ha", "availability_zone_hints"})
ROUTER_UPDATE = frozenset({"name", "admin_state_up", "external_gateway_info", "description", "routes",
                           "distributed", "ha"})


def _router_docs(req: ApiRequest, state: Any, routers: list) -> list[dict]:
    attrs = store(req).attrs("router", [r.id for r in routers])
    return [V.router(r, state, attrs[r.id]) for r in routers]


def visible_router(req: ApiRequest, state: Any, ident: str) -> Any:
    router = get_or_404(state.routers, ident, "router")
    if not owns(req, router.project_id):
        raise not_found("router", ident)
    return router


def _gateway(body: dict) -> tuple[bool, str | None, bool]:
    """(given, network id or None, enable_snat) of ``external_gateway_info``."""
    if "external_gateway_info" not in body:
        return False, None, True
    info = body["external_gateway_info"]
    if info is None or info == {}:
        return True, None, True
    if not isinstance(info, dict):
        raise bad_request("Invalid input for external_gateway_info: an object or null")
    unknown = set(info) - {"network_id", "enable_snat", "external_fixed_ips"}
    if unknown:
        raise bad_request(f"Invalid input for external_gateway_info: unknown key(s) {', '.join(sorted(unknown))}")
    net_id = info.get("network_id")
    if not isinstance(net_id, str):
        raise bad_request("Invalid input for external_gateway_info: network_id is required")
    snat = info.get("enable_snat", True)
    if not isinstance(snat, bool):
        raise bad_request("Invalid input for enable_snat: not a boolean")
    fixed = info.get("external_fixed_ips") or []
    if not isinstance(fixed, list) or any(not isinstance(f, dict) or "ip_address" in f for f in fixed):
        raise bad_request("external_fixed_ips with an ip_address are not supported by the reference cloud: "
                          "the gateway takes the first free address")
    return True, net_id, snat


def _check_flags(body: dict) -> None:
    for name in ("distributed", "ha"):
        if body.get(name) not in (None, False):
            raise bad_request(f"{name} routers are not supported by the reference cloud")


def _routes_of(body: Any) -> list:
    """``routes`` of a request: a list (``null`` clears them, as in Neutron)."""
    if body is None:
        return []
    if not isinstance(body, list) or len(body) > MAX_ROUTES:
        raise bad_request(f"Invalid input for routes: a list of at most {MAX_ROUTES} routes")
    return body


@route("GET", V2 + "/routers")
def list_routers(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    routers = [r for r in state.routers.values() if owns(req, r.project_id)]
    return list_reply(req, "routers", _router_docs(req, state, routers))


@route("GET", V2 + "/routers/{router_id}")
def show_router(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    router = visible_router(req, state, req.params["router_id"])
    return show_reply(req, "router", _router_docs(req, state, [router])[0])


@route("POST", V2 + "/routers", status=201, schema=S.ROUTER_CREATE)
def create_router(req: ApiRequest) -> Reply:
    body = envelope(req, "router")
    check_attributes(body, ROUTER_CREATE)
    check_common(body)
    _check_flags(body)
    project = target_project(req, body)
    given, net_id, snat = _gateway(body)
    p = plane(req)
    with library_errors():
        state = p.state()
    if net_id is not None:
        visible_network(req, state, net_id)
    with library_errors():
        check_quota(state, store(req), project, "router")
        router = p.create_router(body.get("name", ""), project_id=project, external_network_id=net_id,
                                 enable_snat=snat)
    store(req).create("router", router.id, description=body.get("description", ""), tags=body.get("tags"),
                      extra={"admin_state_up": body.get("admin_state_up", True)})
    with library_errors():
        state = p.state()
    return Reply({"router": _router_docs(req, state, [state.routers[router.id]])[0]}, status=201)


@route("PUT", V2 + "/routers/{router_id}", schema=S.ROUTER_UPDATE)
def update_router(req: ApiRequest) -> dict:
    body = envelope(req, "router")
    check_attributes(body, ROUTER_UPDATE)
    check_common(body)
    _check_flags(body)
    p = plane(req)
    with library_errors():
        state = p.state()
    router = visible_router(req, state, req.params["router_id"])
    check_owner(req, "router", router.id, router.project_id)
    given, net_id, snat = _gateway(body)
    routes = _routes_of(body["routes"]) if "routes" in body else None
    if net_id is not None:
        visible_network(req, state, net_id)
    with library_errors():
        if "name" in body or routes is not None:
            p.update_router(router.id, **({"name": body["name"]} if "name" in body else {}),
                            **({"routes": routes} if routes is not None else {}))
        if given and (net_id != router.gateway_network_id or snat != router.enable_snat):
            p.set_router_gateway(router.id, net_id, enable_snat=snat)
    extra: dict[str, Any] = {}
    if "admin_state_up" in body:
        extra["admin_state_up"] = body["admin_state_up"]
    store(req).touch("router", router.id, description=body.get("description"), extra=extra)
    with library_errors():
        state = p.state()
    return show_reply(req, "router", _router_docs(req, state, [state.routers[router.id]])[0])


@route("DELETE", V2 + "/routers/{router_id}")
def delete_router(req: ApiRequest) -> None:
    p = plane(req)
    with library_errors():
        state = p.state()
    router = visible_router(req, state, req.params["router_id"])
    check_owner(req, "router", router.id, router.project_id)
    with library_errors():
        p.delete_router(router.id)
    store(req).forget(router.id)


def _interface_body(req: ApiRequest) -> tuple[str | None, str | None]:
    body = req.body
    if not isinstance(body, dict):
        raise bad_request("Resource body required: an object with subnet_id or port_id")
    unknown = set(body) - {"subnet_id", "port_id"}
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
    subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
    for name, value in (("subnet_id", subnet_id), ("port_id", port_id)):
        if value is not None and not isinstance(value, str):
            raise bad_request(f"Invalid input for {name}: {value!r} is not a string")
    if (subnet_id is None) == (port_id is None):
        raise bad_request("Bad router request: give exactly one of subnet_id and port_id")
    return subnet_id, port_id


def _interface_reply(info: Any) -> dict:
    return {"id": info.id, "tenant_id": info.project_id, "project_id": info.project_id, "port_id": info.port_id,
            "subnet_id": info.subnet_id, "subnet_ids": list(info.subnet_ids), "network_id": info.network_id}


def _interface(req: ApiRequest, add: bool) -> dict:
    subnet_id, port_id = _interface_body(req)
    p = plane(req)
    with library_errors():
        state = p.state()
    router = visible_router(req, state, req.params["router_id"])
    check_owner(req, "router", router.id, router.project_id)
    if subnet_id is not None:
        sub = visible_subnet(req, state, subnet_id)
        if add:
            check_owner(req, "subnet", sub.id, sub.project_id)
    elif add:
        port = visible_port(req, state, port_id)
        check_owner(req, "port", port.id, port.project_id)
    with library_errors():
        if add:
            info = p.add_router_interface(router.id, subnet_id=subnet_id, port_id=port_id)
        else:
            info = p.remove_router_interface(router.id, subnet_id=subnet_id, port_id=port_id)
    if add:
        store(req).touch("port", info.port_id)
    store(req).touch("router", router.id)
    return _interface_reply(info)


@route("PUT", V2 + "/routers/{router_id}/add_router_interface", schema=S.INTERFACE)
def add_router_interface(req: ApiRequest) -> dict:
    return _interface(req, True)


@route("PUT", V2 + "/routers/{router_id}/remove_router_interface", schema=S.INTERFACE)
def remove_router_interface(req: ApiRequest) -> dict:
    return _interface(req, False)


@route("PUT", V2 + "/routers/{router_id}/add_extraroutes", schema=S.EXTRAROUTES)
@route("PUT", V2 + "/routers/{router_id}/remove_extraroutes", schema=S.EXTRAROUTES)
def change_extraroutes(req: ApiRequest) -> dict:
    """extraroute-atomic: add or remove routes without replacing the list."""
    body = envelope(req, "router")
    check_attributes(body, {"routes"})
    p = plane(req)
    with library_errors():
        state = p.state()
    router = visible_router(req, state, req.params["router_id"])
    check_owner(req, "router", router.id, router.project_id)
    current = [{"destination": r.destination, "nexthop": r.nexthop} for r in router.routes]
    given = _routes_of(body.get("routes"))
    if req.path.endswith("/add_extraroutes"):
        routes = current + [r for r in given if r not in current]
    else:
        routes = [r for r in current if r not in given]
    with library_errors():
        p.update_router(router.id, routes=routes)
        state = p.state()
    store(req).touch("router", router.id)
    return {"router": _router_docs(req, state, [state.routers[router.id]])[0]}


# -- floating IPs --------------------------------------------------------------------------------
FIP_CREATE = frozenset({"floating_network_id", "port_id", "fixed_ip_address", "floating_ip_address",
                        "subnet_id", "description", "tags", "tenant_id", "project_id", "dns_name",
                        "dns_domain"})
FIP_UPDATE = frozenset({"port_id", "fixed_ip_address", "description"})


def _fip_docs(req: ApiRequest, state: Any, fips: list) -> list[dict]:
    attrs = store(req).attrs("floatingip", [f.id for f in fips])
    return [V.floating_ip(f, state, attrs[f.id]) for f in fips]


def visible_fip(req: ApiRequest, state: Any, ident: str) -> Any:
    fip = get_or_404(state.floating_ips, ident, "floatingip")
    if not owns(req, fip.project_id):
        raise not_found("floatingip", ident)
    return fip


def _port_for_fip(req: ApiRequest, state: Any, port_id: Any) -> None:
    if port_id is None:
        return
    if not isinstance(port_id, str):
        raise bad_request(f"Invalid input for port_id: {port_id!r} is not a string")
    port = visible_port(req, state, port_id)
    check_owner(req, "port", port.id, port.project_id)


@route("GET", V2 + "/floatingips")
def list_floating_ips(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    fips = [f for f in state.floating_ips.values() if owns(req, f.project_id)]
    return list_reply(req, "floatingips", _fip_docs(req, state, fips))


@route("GET", V2 + "/floatingips/{fip_id}")
def show_floating_ip(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    fip = visible_fip(req, state, req.params["fip_id"])
    return show_reply(req, "floatingip", _fip_docs(req, state, [fip])[0])


@route("POST", V2 + "/floatingips", status=201, schema=S.FIP_CREATE)
def create_floating_ip(req: ApiRequest) -> Reply:
    body = envelope(req, "floatingip")
    check_attributes(body, FIP_CREATE)
    check_common(body)
    if body.get("dns_name") or body.get("dns_domain"):
        raise bad_request("DNS names of floating IPs are not supported by the reference cloud")
    net_id = body.get("floating_network_id")
    if not isinstance(net_id, str):
        raise bad_request("Invalid input for floating_network_id: a network id is required")
    for name in ("fixed_ip_address", "floating_ip_address", "subnet_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise bad_request(f"Invalid input for {name}: {body[name]!r} is not a string")
    project = target_project(req, body)
    p = plane(req)
    with library_errors():
        state = p.state()
    net = visible_network(req, state, net_id)
    if not net.external:
        raise E.BadRequest(f"Bad floatingip request: network {net_id} is not a valid external network",
                           kind="BadRequest")
    subnet_id = body.get("subnet_id")
    if subnet_id is not None:
        sub = state.subnets.get(subnet_id)
        if sub is None or sub.network_id != net_id:
            raise not_found("subnet", subnet_id)
    _port_for_fip(req, state, body.get("port_id"))
    with library_errors():
        check_quota(state, store(req), project, "floatingip")
        fip = p.create_floating_ip(net_id, project_id=project, floating_ip_address=body.get("floating_ip_address"),
                                   port_id=body.get("port_id"), fixed_ip_address=body.get("fixed_ip_address"))
    store(req).create("floatingip", fip.id, description=body.get("description", ""), tags=body.get("tags"))
    with library_errors():
        state = p.state()
    return Reply({"floatingip": _fip_docs(req, state, [state.floating_ips[fip.id]])[0]}, status=201)


@route("PUT", V2 + "/floatingips/{fip_id}", schema=S.FIP_UPDATE)
def update_floating_ip(req: ApiRequest) -> dict:
    """Associate (``port_id``) or disassociate (``port_id: null``)."""
    body = envelope(req, "floatingip")
    check_attributes(body, FIP_UPDATE)
    check_common(body)
    p = plane(req)
    with library_errors():
        state = p.state()
    fip = visible_fip(req, state, req.params["fip_id"])
    check_owner(req, "floatingip", fip.id, fip.project_id)
    if "port_id" in body:
        _port_for_fip(req, state, body["port_id"])
        fixed = body.get("fixed_ip_address")
        if fixed is not None and not isinstance(fixed, str):
            raise bad_request(f"Invalid input for fixed_ip_address: {fixed!r} is not a string")
        with library_errors():
            p.update_floating_ip(fip.id, port_id=body["port_id"], fixed_ip_address=fixed)
    store(req).touch("floatingip", fip.id, description=body.get("description"))
    with library_errors():
        state = p.state()
    return show_reply(req, "floatingip", _fip_docs(req, state, [state.floating_ips[fip.id]])[0])


@route("DELETE", V2 + "/floatingips/{fip_id}")
def delete_floating_ip(req: ApiRequest) -> None:
    p = plane(req)
    with library_errors():
        state = p.state()
    fip = visible_fip(req, state, req.params["fip_id"])
    check_owner(req, "floatingip", fip.id, fip.project_id)
    with library_errors():
        p.delete_floating_ip(fip.id)
    store(req).forget(fip.id)
