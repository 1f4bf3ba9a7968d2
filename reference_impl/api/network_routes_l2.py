"""Neutron networks, subnets and ports over the network library."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..network import errors as NE
from . import errors as E
from . import network_schemas as S
from . import network_views as V
from .network_base import (V2, admin_only, bad_request, check_attributes, check_owner, default_group, envelope,
                           library_errors, list_reply, not_found, owns, plane, route, show_reply, target_project)
from .network_allocation import allocate_cidr, check_in_pool
from .network_quota import check as check_quota
from .network_store import store
from .routing import ApiRequest, Reply

# -- visibility ----------------------------------------------------------------------------------


def network_visible(req: ApiRequest, net: Any) -> bool:
    return owns(req, net.project_id) or net.shared or net.external


def subnet_visible(req: ApiRequest, sub: Any, state: Any) -> bool:
    net = state.networks.get(sub.network_id)
    return owns(req, sub.project_id) or (net is not None and network_visible(req, net))


def port_visible(req: ApiRequest, port: Any, state: Any) -> bool:
    if owns(req, port.project_id):
        return True
    net = state.networks.get(port.network_id)
    return net is not None and owns(req, net.project_id)


def get_or_404(state_table: dict, ident: str, kind: str) -> Any:
    item = state_table.get(ident)
    if item is None:
        raise not_found(kind, ident)
    return item


def visible_network(req: ApiRequest, state: Any, ident: str) -> Any:
    net = get_or_404(state.networks, ident, "network")
    if not network_visible(req, net):
        raise not_found("network", ident)
    return net


def _bulk(req: ApiRequest, key: str) -> tuple[list[dict], bool]:
    body = req.body
    if isinstance(body, dict) and isinstance(body.get(key + "s"), list) and key not in body:
        items = body[key + "s"]
        if not items or not all(isinstance(i, dict) for i in items):
            raise bad_request(f"'{key}s' must be a non-empty list of objects")
        return items, True
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise bad_request(f"Resource body required: a JSON object with a '{key}' object")
    return [body[key]], False


def _bulk_reply(key: str, docs: list[dict], bulk: bool) -> Reply:
    return Reply({key + "s": docs} if bulk else {key: docs[0]}, status=201)


def _typed(body: dict, name: str, kinds: tuple, what: str) -> None:
    if name in body and not isinstance(body[name], kinds):
        raise bad_request(f"Invalid input for {name}: {body[name]!r} is not {what}")
    if name in body and isinstance(body[name], bool) and bool not in kinds:
        raise bad_request(f"Invalid input for {name}: {body[name]!r} is not {what}")


def check_common(body: dict) -> None:
    for name in ("name", "description"):
        _typed(body, name, (str,), "a string")
        if isinstance(body.get(name), str) and len(body[name]) > 255:
            raise bad_request(f"Invalid input for {name}: longer than 255 characters")
    for name in ("admin_state_up", "shared", "router:external", "port_security_enabled", "enable_dhcp"):
        _typed(body, name, (bool,), "a boolean")
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 255 for t in tags):
            raise bad_request("Invalid input for tags: a list of strings of 1 to 255 characters")


# -- networks ------------------------------------------------------------------------------------
NETWORK_CREATE = frozenset({"name", "admin_state_up", "shared", "router:external", "mtu", "description", "tags",
                            "tenant_id", "project_id", "provider:network_type", "provider:physical_network",
                            "provider:segmentation_id", "port_security_enabled", "availability_zone_hints",
                            "is_default"})
NETWORK_UPDATE = frozenset({"name", "admin_state_up", "shared", "description", "port_security_enabled", "mtu",
                            "router:external", "is_default"})


def _network_docs(req: ApiRequest, state: Any, nets: list) -> list[dict]:
    attrs = store(req).attrs("network", [n.id for n in nets])
    admin = req.context.is_admin
    return [V.network(n, state, attrs[n.id], admin=admin) for n in nets]


@route("GET", V2 + "/networks")
def list_networks(req: ApiRequest) -> dict:
    """Networks the caller sees."""
    with library_errors():
        state = plane(req).state()
    nets = [n for n in state.networks.values() if network_visible(req, n)]
    return list_reply(req, "networks", _network_docs(req, state, nets))


@route("GET", V2 + "/networks/{network_id}")
def show_network(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    net = visible_network(req, state, req.params["network_id"])
    return show_reply(req, "network", _network_docs(req, state, [net])[0])


def _create_network(req: ApiRequest, body: dict) -> dict:
    check_attributes(body, NETWORK_CREATE)
    check_common(body)
    admin_only(req, body, ("provider:network_type", "provider:physical_network", "provider:segmentation_id"))
    project = target_project(req, body)
    external = bool(body.get("router:external", False))
    if external and not req.context.is_admin:
        raise E.Forbidden("Policy does not allow creating an external network: admin role required",
                          kind="PolicyNotAuthorized")
    net_type = body.get("provider:network_type")
    if net_type not in (None, "flat" if external else "vxlan"):
        raise bad_request(f"Invalid input for provider:network_type: the reference cloud makes "
                          f"{'flat external' if external else 'vxlan'} networks, not {net_type!r}")
    segment = body.get("provider:segmentation_id")
    if segment is not None and (isinstance(segment, bool) or not isinstance(segment, int)):
        raise bad_request(f"Invalid input for provider:segmentation_id: {segment!r} is not an integer")
    mtu = body.get("mtu")
    if mtu is not None and (isinstance(mtu, bool) or not isinstance(mtu, int)):
        raise bad_request(f"Invalid input for mtu: {mtu!r} is not an integer")
    if body.get("port_security_enabled") is False:
        raise bad_request("The reference cloud does not make networks without port security "
                          "(disable it per port instead)")
    p = plane(req)
    with library_errors():
        check_quota(p.state(), store(req), project, "network")
        net = p.create_network(body.get("name", ""), project_id=project, segmentation_id=segment,
                               external=external, mtu=mtu, shared=bool(body.get("shared", False)))
    store(req).create("network", net.id, description=body.get("description", ""), tags=body.get("tags"),
                      extra={"admin_state_up": body.get("admin_state_up", True)})
    with library_errors():
        state = p.state()
    return _network_docs(req, state, [state.networks[net.id]])[0]


@route("POST", V2 + "/networks", schema=S.NETWORK_CREATE)
def create_network(req: ApiRequest) -> Reply:
    """Create one network or (``networks``: [...]) several."""
    items, bulk = _bulk(req, "network")
    return _bulk_reply("network", [_create_network(req, b) for b in items], bulk)


@route("PUT", V2 + "/networks/{network_id}", schema=S.NETWORK_UPDATE)
def update_network(req: ApiRequest) -> dict:
    body = envelope(req, "network")
    check_attributes(body, NETWORK_UPDATE)
    check_common(body)
    p = plane(req)
    with library_errors():
        state = p.state()
    net = visible_network(req, state, req.params["network_id"])
    check_owner(req, "network", net.id, net.project_id)
    if "shared" in body and body["shared"] != net.shared and not req.context.is_admin:
        admin_only(req, body, ("shared",))
    for name, current in (("mtu", net.mtu), ("router:external", net.external)):
        if name in body and body[name] != current:
            raise bad_request(f"{name} of network {net.id} cannot be changed in the reference cloud")
    if body.get("port_security_enabled") is False:
        raise bad_request("The reference cloud does not make networks without port security")
    with library_errors():
        kwargs = {k: body[k] for k in ("name", "shared") if k in body}
        if kwargs:
            p.update_network(net.id, **kwargs)
    extra = {"admin_state_up": body["admin_state_up"]} if "admin_state_up" in body else None
    store(req).touch("network", net.id, description=body.get("description"), extra=extra)
    with library_errors():
        state = p.state()
    return show_reply(req, "network", _network_docs(req, state, [state.networks[net.id]])[0])


@route("DELETE", V2 + "/networks/{network_id}")
def delete_network(req: ApiRequest) -> None:
    p = plane(req)
    with library_errors():
        state = p.state()
    net = visible_network(req, state, req.params["network_id"])
    check_owner(req, "network", net.id, net.project_id)
    subnets = [s.id for s in state.subnets_of(net.id)]
    fips = [f for f in state.floating_ips.values() if f.floating_network_id == net.id]
    if any(f.port_id for f in fips):
        raise E.Conflict(f"Unable to complete operation on network {net.id}: floating IP(s) of it are associated "
                         "with ports", kind="NetworkInUse")
    with library_errors():
        for fip in fips:  # as in Neutron, unassociated floating IPs go with their network
            p.delete_floating_ip(fip.id)
        p.delete_network(net.id)
    for ident in [net.id, *subnets, *(f.id for f in fips)]:
        store(req).forget(ident)


# -- subnets --------------------------------------------------------------------------------------
SUBNET_CREATE = frozenset({"name", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp",
                           "dns_nameservers", "host_routes", "allocation_pools", "ipv6_address_mode",
                           "ipv6_ra_mode", "subnetpool_id", "prefixlen", "description", "tags", "tenant_id",
                           "project_id", "service_types", "use_default_subnetpool", "segment_id"})
SUBNET_UPDATE = frozenset({"name", "gateway_ip", "enable_dhcp", "dns_nameservers", "host_routes",
                           "allocation_pools", "description", "service_types"})


def _subnet_docs(req: ApiRequest, subs: list) -> list[dict]:
    attrs = store(req).attrs("subnet", [s.id for s in subs])
    return [V.subnet(s, attrs[s.id]) for s in subs]


def visible_subnet(req: ApiRequest, state: Any, ident: str) -> Any:
    sub = get_or_404(state.subnets, ident, "subnet")
    if not subnet_visible(req, sub, state):
        raise not_found("subnet", ident)
    return sub


@route("GET", V2 + "/subnets")
def list_subnets(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    subs = [s for s in state.subnets.values() if subnet_visible(req, s, state)]
    return list_reply(req, "subnets", _subnet_docs(req, subs))


@route("GET", V2 + "/subnets/{subnet_id}")
def show_subnet(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    sub = visible_subnet(req, state, req.params["subnet_id"])
    return show_reply(req, "subnet", _subnet_docs(req, [sub])[0])


def _list_of(body: dict, name: str, item_kind: type) -> list:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(i, item_kind) for i in value):
        raise bad_request(f"Invalid input for {name}: {value!r} is not a list of "
                          f"{'objects' if item_kind is dict else 'strings'}")
    return value


def _create_subnet(req: ApiRequest, body: dict) -> dict:
    check_attributes(body, SUBNET_CREATE)
    check_common(body)
    if not isinstance(body.get("network_id"), str):
        raise bad_request("Invalid input for network_id: a network id is required")
    version = body.get("ip_version", 4)
    if version not in (4, 6) or isinstance(version, bool):
        raise bad_request(f"Invalid input for ip_version: {version!r} is not 4 or 6")
    if body.get("service_types"):
        raise bad_request("service_types are not supported by the reference cloud")
    if body.get("use_default_subnetpool"):
        raise bad_request("The reference cloud has no default subnet pool: give cidr or subnetpool_id")
    if body.get("segment_id") is not None:
        raise bad_request("Segments are not supported by the reference cloud")
    p = plane(req)
    neutron = store(req)
    with library_errors():
        state = p.state()
    net = visible_network(req, state, body["network_id"])
    check_owner(req, "network", net.id, net.project_id)
    project = target_project(req, body)
    cidr = body.get("cidr")
    pool_id = body.get("subnetpool_id")
    if pool_id is not None:
        pool = neutron.subnetpool(pool_id) if isinstance(pool_id, str) else None
        if pool is None or not (owns(req, pool["project_id"]) or pool.get("shared")):
            raise not_found("subnetpool", pool_id)
        if pool["ip_version"] != version:
            raise bad_request(f"Subnet pool {pool_id} is IPv{pool['ip_version']}; the subnet is IPv{version}")
        taken = [ipaddress.ip_network(s.cidr) for s in state.subnets.values()]
        if cidr is None:
            cidr = allocate_cidr(pool, body.get("prefixlen"), taken)
        else:
            check_in_pool(pool, cidr)
    elif "prefixlen" in body:
        raise bad_request("prefixlen is for allocating from a subnet pool: give subnetpool_id too")
    if cidr is None:
        raise bad_request("Invalid input for cidr: a cidr (or a subnetpool_id) is required")
    if not isinstance(cidr, str):
        raise bad_request(f"Invalid input for cidr: {cidr!r} is not a string")
    try:
        parsed = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise bad_request(f"Invalid input for cidr: '{cidr}' is not a valid IP subnet") from None
    if parsed.version != version:
        raise bad_request(f"Invalid input for operation: cidr {cidr} does not match ip_version {version}")
    if str(parsed) != cidr and cidr.split("/")[0] != str(parsed.network_address):
        raise bad_request(f"Invalid input for cidr: '{cidr}' is not a network address ({parsed})")
    for name in ("ipv6_address_mode", "ipv6_ra_mode"):
        if body.get(name) is not None and version == 4:
            raise bad_request(f"Invalid input for operation: {name} is for IPv6 subnets")
    kwargs: dict[str, Any] = {
        "ip_version": version, "name": body.get("name", ""), "project_id": project,
        "enable_dhcp": body.get("enable_dhcp", True),
        "dns_nameservers": _list_of(body, "dns_nameservers", str),
        "host_routes": _list_of(body, "host_routes", dict),
        "ipv6_address_mode": body.get("ipv6_address_mode"), "ipv6_ra_mode": body.get("ipv6_ra_mode"),
    }
    if "gateway_ip" in body:
        kwargs["gateway_ip"] = body["gateway_ip"]
    if body.get("allocation_pools") is not None:
        kwargs["allocation_pools"] = _list_of(body, "allocation_pools", dict)
    with library_errors():
        check_quota(state, neutron, project, "subnet")
        try:
            sub = p.create_subnet(net.id, str(parsed), **kwargs)
        except NE.SubnetOverlap as exc:  # Neutron's words: clients look for them to try the next CIDR
            raise E.BadRequest(f"Invalid input for operation: Requested subnet with cidr: {parsed} for network: "
                               f"{net.id} overlaps with another subnet ({exc}).", kind="InvalidInput") from exc
    neutron.create("subnet", sub.id, description=body.get("description", ""), tags=body.get("tags"),
                   extra={"subnetpool_id": pool_id} if pool_id else None)
    neutron.touch("network", net.id)
    return _subnet_docs(req, [sub])[0]


@route("POST", V2 + "/subnets", schema=S.SUBNET_CREATE)
def create_subnet(req: ApiRequest) -> Reply:
    """Create a subnet (from a cidr, or allocated from a subnet pool)."""
    items, bulk = _bulk(req, "subnet")
    return _bulk_reply("subnet", [_create_subnet(req, b) for b in items], bulk)


@route("PUT", V2 + "/subnets/{subnet_id}", schema=S.SUBNET_UPDATE)
def update_subnet(req: ApiRequest) -> dict:
    body = envelope(req, "subnet")
    check_attributes(body, SUBNET_UPDATE)
    check_common(body)
    if body.get("service_types"):
        raise bad_request("service_types are not supported by the reference cloud")
    p = plane(req)
    with library_errors():
        state = p.state()
    sub = visible_subnet(req, state, req.params["subnet_id"])
    check_owner(req, "subnet", sub.id, sub.project_id)
    kwargs: dict[str, Any] = {}
    for name in ("name", "gateway_ip", "enable_dhcp"):
        if name in body:
            kwargs[name] = body[name]
    for name, kind in (("dns_nameservers", str), ("host_routes", dict), ("allocation_pools", dict)):
        if name in body:
            kwargs[name] = _list_of(body, name, kind)
    with library_errors():
        if kwargs:
            sub = p.update_subnet(sub.id, **kwargs)
    store(req).touch("subnet", sub.id, description=body.get("description"))
    return show_reply(req, "subnet", _subnet_docs(req, [sub])[0])


@route("DELETE", V2 + "/subnets/{subnet_id}")
def delete_subnet(req: ApiRequest) -> None:
    p = plane(req)
    with library_errors():
        state = p.state()
    sub = visible_subnet(req, state, req.params["subnet_id"])
    check_owner(req, "subnet", sub.id, sub.project_id)
    with library_errors():
        p.delete_subnet(sub.id)
    store(req).forget(sub.id)


# -- ports ---------------------------------------------------------------------------------------
PORT_CREATE = frozenset({"name", "network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id",
                         "device_owner", "security_groups", "port_security_enabled", "description", "tags",
                         "tenant_id", "project_id", "binding:host_id", "binding:vnic_type", "binding:profile",
                         "allowed_address_pairs", "extra_dhcp_opts"})
PORT_UPDATE = frozenset({"name", "admin_state_up", "fixed_ips", "device_id", "device_owner", "security_groups",
                         "port_security_enabled", "description", "binding:host_id", "binding:vnic_type",
                         "binding:profile", "allowed_address_pairs", "extra_dhcp_opts", "mac_address"})


def port_docs(req: ApiRequest, ports: list) -> list[dict]:
    attrs = store(req).attrs("port", [p.id for p in ports])
    admin = req.context.is_admin
    return [V.port(p, attrs[p.id], admin=admin) for p in ports]


def visible_port(req: ApiRequest, state: Any, ident: str) -> Any:
    port = get_or_404(state.ports, ident, "port")
    if not port_visible(req, port, state):
        raise not_found("port", ident)
    return port


@route("GET", V2 + "/ports")
def list_ports(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    ports = [p for p in state.ports.values() if port_visible(req, p, state)]
    return list_reply(req, "ports", port_docs(req, ports))


@route("GET", V2 + "/ports/{port_id}")
def show_port(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    return show_reply(req, "port", port_docs(req, [visible_port(req, state, req.params["port_id"])])[0])


def _check_port_extras(req: ApiRequest, body: dict) -> None:
    admin_only(req, body, ("binding:host_id", "binding:profile"))
    if body.get("binding:vnic_type", "normal") != "normal":
        raise bad_request("Invalid input for binding:vnic_type: the reference cloud has 'normal' ports only")
    if body.get("binding:profile") not in (None, {}):
        raise bad_request("binding:profile is not supported by the reference cloud")
    if body.get("allowed_address_pairs") not in (None, []):
        raise bad_request("allowed_address_pairs are not supported by the reference cloud")
    if body.get("extra_dhcp_opts") not in (None, []):
        raise bad_request("extra_dhcp_opts are not supported by the reference cloud")
    for name in ("device_id", "device_owner", "mac_address", "binding:host_id"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise bad_request(f"Invalid input for {name}: {body[name]!r} is not a string")
    if "fixed_ips" in body and not isinstance(body["fixed_ips"], list):
        raise bad_request(f"Invalid input for fixed_ips: {body['fixed_ips']!r} is not a list")
    if "security_groups" in body and body["security_groups"] is not None and (
            not isinstance(body["security_groups"], list)
            or not all(isinstance(g, str) for g in body["security_groups"])):
        raise bad_request("Invalid input for security_groups: a list of security group ids")


def _check_groups(req: ApiRequest, state: Any, groups: list[str]) -> None:
    for gid in groups:
        group = state.security_groups.get(gid)
        if group is None or not owns(req, group.project_id):
            raise not_found("security_group", gid)


def _create_port(req: ApiRequest, body: dict) -> dict:
    check_attributes(body, PORT_CREATE)
    check_common(body)
    _check_port_extras(req, body)
    if not isinstance(body.get("network_id"), str):
        raise bad_request("Invalid input for network_id: a network id is required")
    p = plane(req)
    neutron = store(req)
    with library_errors():
        state = p.state()
    net = visible_network(req, state, body["network_id"])
    project = target_project(req, body)
    if not net.shared and not owns(req, net.project_id) and project == req.context.project_id:
        check_owner(req, "network", net.id, net.project_id)
    pse = body.get("port_security_enabled", True)
    groups = body.get("security_groups")
    owner = body.get("device_owner") or ""
    if groups is None and pse and not owner.startswith("network:"):
        groups = [default_group(req, project).id]
        with library_errors():
            state = p.state()
    elif groups:
        _check_groups(req, state, groups)
    host = body.get("binding:host_id") or None
    with library_errors():
        check_quota(state, neutron, project, "port")
        port = p.create_port(net.id, name=body.get("name", ""), project_id=project,
                             mac_address=body.get("mac_address"), fixed_ips=body.get("fixed_ips"),
                             security_groups=groups if pse else None, port_security_enabled=pse,
                             device_owner=owner, device_id=body.get("device_id") or "",
                             binding_host=host)
    neutron.create("port", port.id, description=body.get("description", ""), tags=body.get("tags"),
                   extra={"admin_state_up": body.get("admin_state_up", True)})
    return port_docs(req, [port])[0]


@route("POST", V2 + "/ports", schema=S.PORT_CREATE)
def create_port(req: ApiRequest) -> Reply:
    """Create one port or (``ports``: [...]) several."""
    items, bulk = _bulk(req, "port")
    return _bulk_reply("port", [_create_port(req, b) for b in items], bulk)


@route("PUT", V2 + "/ports/{port_id}", schema=S.PORT_UPDATE)
def update_port(req: ApiRequest) -> dict:
    body = envelope(req, "port")
    check_attributes(body, PORT_UPDATE)
    check_common(body)
    _check_port_extras(req, body)
    p = plane(req)
    with library_errors():
        state = p.state()
    port = visible_port(req, state, req.params["port_id"])
    check_owner(req, "port", port.id, port.project_id)
    for name, current in (("device_owner", port.device_owner), ("mac_address", port.mac_address)):
        if name in body and (body[name] or "") != current:
            raise bad_request(f"{name} of port {port.id} cannot be changed in the reference cloud")
    kwargs: dict[str, Any] = {}
    for name in ("name", "fixed_ips", "port_security_enabled", "device_id"):
        if name in body:
            kwargs[name] = body[name] if body[name] is not None or name == "fixed_ips" else ""
    if "security_groups" in body:
        groups = body["security_groups"] or []
        _check_groups(req, state, groups)
        kwargs["security_groups"] = groups
    if "binding:host_id" in body:
        kwargs["binding_host"] = body["binding:host_id"] or None
    with library_errors():
        if kwargs:
            port = p.update_port(port.id, **kwargs)
    extra = {"admin_state_up": body["admin_state_up"]} if "admin_state_up" in body else None
    store(req).touch("port", port.id, description=body.get("description"), extra=extra)
    return show_reply(req, "port", port_docs(req, [port])[0])


@route("DELETE", V2 + "/ports/{port_id}")
def delete_port(req: ApiRequest) -> None:
    p = plane(req)
    with library_errors():
        state = p.state()
    port = visible_port(req, state, req.params["port_id"])
    check_owner(req, "port", port.id, port.project_id)
    if port.device_owner.startswith("compute:") and port.binding_host:
        raise E.Conflict(f"Port {port.id} is attached to server {port.device_id}: detach it through the "
                         "compute API", kind="PortInUse")
    with library_errors():
        p.delete_port(port.id)
    store(req).forget(port.id)

