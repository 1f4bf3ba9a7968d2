"""Neutron security groups and their rules.

Every project has a ``default`` group (all egress, ingress from members of
the group): made by ``cloud up`` for the projects it knows and, for any
other, the first time the project lists, shows or uses groups.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from . import errors as E
from . import network_schemas as S
from . import network_views as V
from . import provision
from .network_base import (V2, bad_request, check_attributes, check_owner, default_group, envelope, library_errors,
                           list_reply, not_found, owns, plane, route, show_reply, target_project)
from .network_quota import check as check_quota
from .network_routes_l2 import check_common, get_or_404
from .network_store import store
from .routing import ApiRequest, Reply

GROUP_CREATE = frozenset({"name", "description", "tenant_id", "project_id", "tags", "stateful"})
GROUP_UPDATE = frozenset({"name", "description", "stateful"})
RULE_CREATE = frozenset({"security_group_id", "direction", "ethertype", "protocol", "port_range_min",
                         "port_range_max", "remote_ip_prefix", "remote_group_id", "description", "tenant_id",
                         "project_id", "remote_address_group_id"})
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136")
ICMP_PROTOCOLS = ("icmp", "ipv6-icmp", "icmpv6", "1", "58")


def _ensure_default(req: ApiRequest, project_id: str | None = None) -> None:
    default_group(req, project_id or req.context.project_id)


def _rule_docs(req: ApiRequest, rules: list) -> list[dict]:
    attrs = store(req).attrs("security_group_rule", [r.id for r in rules])
    return [V.security_group_rule(r, attrs[r.id]) for r in rules]


def _group_docs(req: ApiRequest, state: Any, groups: list) -> list[dict]:
    attrs = store(req).attrs("security_group", [g.id for g in groups])
    rules = list(state.security_group_rules.values())
    rule_docs = {d["id"]: d for d in _rule_docs(req, rules)}
    return [V.security_group(g, [rule_docs[r.id] for r in rules if r.security_group_id == g.id], attrs[g.id])
            for g in groups]


def visible_group(req: ApiRequest, state: Any, ident: str) -> Any:
    group = get_or_404(state.security_groups, ident, "security_group")
    if not owns(req, group.project_id):
        raise not_found("security_group", ident)
    return group


@route("GET", V2 + "/security-groups")
def list_security_groups(req: ApiRequest) -> dict:
    _ensure_default(req)
    with library_errors():
        state = plane(req).state()
    groups = [g for g in state.security_groups.values() if owns(req, g.project_id)]
    return list_reply(req, "security_groups", _group_docs(req, state, groups))


@route("GET", V2 + "/security-groups/{group_id}")
def show_security_group(req: ApiRequest) -> dict:
    _ensure_default(req)
    with library_errors():
        state = plane(req).state()
    group = visible_group(req, state, req.params["group_id"])
    return show_reply(req, "security_group", _group_docs(req, state, [group])[0])


@route("POST", V2 + "/security-groups", status=201, schema=S.GROUP_CREATE)
def create_security_group(req: ApiRequest) -> Reply:
    body = envelope(req, "security_group")
    check_attributes(body, GROUP_CREATE)
    check_common(body)
    if body.get("stateful") is False:
        raise bad_request("Stateless security groups are not supported by the reference cloud")
    project = target_project(req, body)
    _ensure_default(req, project)
    name = body.get("name", "")
    if name == provision.DEFAULT_GROUP:
        raise E.Conflict("Default security group already exists.", kind="SecurityGroupDefaultAlreadyExists")
    p = plane(req)
    with library_errors():
        check_quota(p.state(), store(req), project, "security_group")
        group = p.create_security_group(name, project_id=project, description=body.get("description", ""))
    store(req).create("security_group", group.id, tags=body.get("tags"))
    with library_errors():
        state = p.state()
    return Reply({"security_group": _group_docs(req, state, [state.security_groups[group.id]])[0]}, status=201)


@route("PUT", V2 + "/security-groups/{group_id}", schema=S.GROUP_UPDATE)
def update_security_group(req: ApiRequest) -> dict:
    body = envelope(req, "security_group")
    check_attributes(body, GROUP_UPDATE)
    check_common(body)
    if body.get("stateful") is False:
        raise bad_request("Stateless security groups are not supported by the reference cloud")
    p = plane(req)
    with library_errors():
        state = p.state()
    group = visible_group(req, state, req.params["group_id"])
    check_owner(req, "security_group", group.id, group.project_id)
    if "name" in body and body["name"] != group.name:
        if group.name == provision.DEFAULT_GROUP:
            raise E.Conflict("The default security group cannot be renamed.",
                             kind="SecurityGroupCannotUpdateDefault")
        if body["name"] == provision.DEFAULT_GROUP:
            raise E.Conflict("Default security group already exists.",
                             kind="SecurityGroupDefaultAlreadyExists")
    with library_errors():
        kwargs = {k: body[k] for k in ("name", "description") if k in body}
        if kwargs:
            p.update_security_group(group.id, **kwargs)
        state = p.state()
    store(req).touch("security_group", group.id)
    return show_reply(req, "security_group", _group_docs(req, state, [state.security_groups[group.id]])[0])


@route("DELETE", V2 + "/security-groups/{group_id}")
def delete_security_group(req: ApiRequest) -> None:
    p = plane(req)
    with library_errors():
        state = p.state()
    group = visible_group(req, state, req.params["group_id"])
    check_owner(req, "security_group", group.id, group.project_id)
    if group.name == provision.DEFAULT_GROUP and not req.context.is_admin:
        raise E.Conflict("Insufficient rights for removing default security group.",
                         kind="SecurityGroupCannotRemoveDefault")
    rules = [r.id for r in state.rules_of(group.id)]
    with library_errors():
        p.delete_security_group(group.id)
    for ident in [group.id, *rules]:
        store(req).forget(ident)


# -- rules -----------------------------------------------------------------------------------
def _port_value(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"Invalid value for {name}: {value!r} is not an integer")
    return value


def check_rule_ports(protocol: Any, low: Any, high: Any) -> tuple[int | None, int | None]:
    """Neutron's port-range rules and messages (tcp/udp ports, ICMP type/code)."""
    low = _port_value(low, "port_range_min")
    high = _port_value(high, "port_range_max")
    proto = str(protocol).lower() if protocol is not None else None
    if proto in PORT_PROTOCOLS:
        for value in (low, high):
            if value is not None and not 1 <= value <= 65535:
                raise E.BadRequest(f"Invalid value for port {value}", kind="SecurityGroupInvalidPortValue")
        if high is not None and (low is None or low > high):
            raise E.BadRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max",
                               kind="SecurityGroupInvalidPortRange")
        if low is not None and high is None:
            high = low
    elif proto in ICMP_PROTOCOLS:
        if low is not None and not 0 <= low <= 255:
            raise E.BadRequest(f"Invalid value for ICMP type (port-range-min): {low}",
                               kind="SecurityGroupInvalidIcmpValue")
        if high is not None and not 0 <= high <= 255:
            raise E.BadRequest(f"Invalid value for ICMP code (port-range-max): {high}",
                               kind="SecurityGroupInvalidIcmpValue")
        if high is not None and low is None:
            raise E.BadRequest(f"ICMP code (port-range-max) {high} is provided but ICMP type (port-range-min) "
                               "is missing.", kind="SecurityGroupMissingIcmpType")
    elif low is not None or high is not None:
        raise E.BadRequest("Port ranges need protocol tcp, udp, sctp or icmp", kind="SecurityGroupInvalidPortRange")
    return low, high


def check_prefix_version(prefix: str | None, ethertype: str) -> None:
    """A remote prefix of the other IP version is a 400 (Neutron's words)."""
    if prefix is None:
        return
    try:
        network = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise E.BadRequest(f"Invalid input for remote_ip_prefix: '{prefix}' is not a valid IP prefix",
                           kind="HTTPBadRequest") from None
    if f"IPv{network.version}" != ethertype:
        raise E.BadRequest(f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
                           kind="SecurityGroupRuleParameterConflict")


def visible_rule(req: ApiRequest, state: Any, ident: str) -> Any:
    rule = get_or_404(state.security_group_rules, ident, "security_group_rule")
    if not owns(req, rule.project_id):
        raise not_found("security_group_rule", ident)
    return rule


@route("GET", V2 + "/security-group-rules")
def list_rules(req: ApiRequest) -> dict:
    _ensure_default(req)
    with library_errors():
        state = plane(req).state()
    rules = [r for r in state.security_group_rules.values() if owns(req, r.project_id)]
    return list_reply(req, "security_group_rules", _rule_docs(req, rules))


@route("GET", V2 + "/security-group-rules/{rule_id}")
def show_rule(req: ApiRequest) -> dict:
    with library_errors():
        state = plane(req).state()
    rule = visible_rule(req, state, req.params["rule_id"])
    return show_reply(req, "security_group_rule", _rule_docs(req, [rule])[0])


@route("POST", V2 + "/security-group-rules", status=201, schema=S.RULE_CREATE)
def create_rule(req: ApiRequest) -> Reply:
    body = envelope(req, "security_group_rule")
    check_attributes(body, RULE_CREATE)
    check_common(body)
    if body.get("remote_address_group_id") is not None:
        raise bad_request("Address groups are not supported by the reference cloud")
    for name in ("security_group_id", "direction"):
        if not isinstance(body.get(name), str):
            raise bad_request(f"Invalid input for {name}: a string is required")
    if body["direction"] not in ("ingress", "egress"):
        raise bad_request(f"Invalid input for direction: {body['direction']!r} is not ingress or egress")
    ethertype = body.get("ethertype", "IPv4")
    if ethertype not in ("IPv4", "IPv6"):
        raise bad_request(f"Invalid input for ethertype: {ethertype!r} is not IPv4 or IPv6")
    protocol = body.get("protocol")
    if protocol is not None and not isinstance(protocol, (str, int)) or isinstance(protocol, bool):
        raise bad_request(f"Invalid input for protocol: {protocol!r}")
    for name in ("remote_ip_prefix", "remote_group_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise bad_request(f"Invalid input for {name}: {body[name]!r} is not a string")
    low, high = check_rule_ports(protocol, body.get("port_range_min"), body.get("port_range_max"))
    check_prefix_version(body.get("remote_ip_prefix"), ethertype)
    p = plane(req)
    with library_errors():
        state = p.state()
    group = visible_group(req, state, body["security_group_id"])
    check_owner(req, "security_group", group.id, group.project_id)
    remote = body.get("remote_group_id")
    if remote is not None:
        visible_group(req, state, remote)
    with library_errors():
        check_quota(state, store(req), group.project_id, "security_group_rule")
        rule = p.create_security_group_rule(group.id, body["direction"], ethertype=ethertype, protocol=protocol,
                                            port_range_min=low, port_range_max=high,
                                            remote_ip_prefix=body.get("remote_ip_prefix"), remote_group_id=remote,
                                            project_id=group.project_id)
    store(req).create("security_group_rule", rule.id, description=body.get("description", ""))
    store(req).touch("security_group", group.id)
    return Reply({"security_group_rule": _rule_docs(req, [rule])[0]}, status=201)


@route("DELETE", V2 + "/security-group-rules/{rule_id}")
def delete_rule(req: ApiRequest) -> None:
    p = plane(req)
    with library_errors():
        state = p.state()
    rule = visible_rule(req, state, req.params["rule_id"])
    check_owner(req, "security_group_rule", rule.id, rule.project_id)
    with library_errors():
        p.delete_security_group_rule(rule.id)
    store(req).forget(rule.id)
    if rule.security_group_id in state.security_groups:
        store(req).touch("security_group", rule.security_group_id)
