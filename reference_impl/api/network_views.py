"""Neutron's JSON for the network library's objects: pure functions of the
object, the library's state (for what one object says about another: a
network's subnets, a group's rules), its standard attributes and whether
the caller is an admin."""

from __future__ import annotations

from typing import Any

from .db import iso
from .network_store import Attrs

EXTERNAL_VNIC = "normal"


def standard(attrs: Attrs) -> dict:
    return {"description": attrs.description, "tags": list(attrs.tags), "created_at": iso(attrs.created_at),
            "updated_at": iso(attrs.updated_at), "revision_number": attrs.revision}


def owner(project_id: str) -> dict:
    return {"project_id": project_id, "tenant_id": project_id}


def network(net: Any, state: Any, attrs: Attrs, *, admin: bool) -> dict:
    doc = {
        "id": net.id, "name": net.name, **owner(net.project_id),
        "admin_state_up": attrs.extra.get("admin_state_up", True), "status": "ACTIVE",
        "subnets": sorted(s.id for s in state.subnets_of(net.id)),
        "shared": bool(net.shared), "router:external": bool(net.external), "mtu": net.mtu,
        "port_security_enabled": attrs.extra.get("port_security_enabled", True),
        "availability_zone_hints": [], "availability_zones": ["nova"],
        "ipv4_address_scope": None, "ipv6_address_scope": None, "l2_adjacency": True,
        "is_default": bool(net.external), **standard(attrs),
    }
    if admin:
        doc.update({
            "provider:network_type": "flat" if net.external else "vxlan",
            "provider:physical_network": "public" if net.external else None,
            "provider:segmentation_id": net.segmentation_id,
        })
    return doc


def subnet(sub: Any, attrs: Attrs) -> dict:
    return {
        "id": sub.id, "name": sub.name, **owner(sub.project_id), "network_id": sub.network_id,
        "ip_version": sub.ip_version, "cidr": sub.cidr, "gateway_ip": sub.gateway_ip,
        "enable_dhcp": sub.enable_dhcp, "dns_nameservers": list(sub.dns_nameservers),
        "host_routes": [{"destination": r.destination, "nexthop": r.nexthop} for r in sub.host_routes],
        "allocation_pools": [{"start": p.start, "end": p.end} for p in sub.allocation_pools],
        "ipv6_address_mode": sub.ipv6_address_mode, "ipv6_ra_mode": sub.ipv6_ra_mode,
        "subnetpool_id": attrs.extra.get("subnetpool_id"), "service_types": [],
        **standard(attrs),
    }


def port_status(port: Any) -> str:
    if port.is_network_owned or port.binding_host:
        return "ACTIVE"
    return "DOWN"


def port(p: Any, attrs: Attrs, *, admin: bool) -> dict:
    doc = {
        "id": p.id, "name": p.name, **owner(p.project_id), "network_id": p.network_id,
        "mac_address": p.mac_address, "admin_state_up": attrs.extra.get("admin_state_up", True),
        "status": port_status(p), "device_id": p.device_id, "device_owner": p.device_owner,
        "fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address} for f in p.fixed_ips],
        "security_groups": list(p.security_groups), "port_security_enabled": p.port_security_enabled,
        "allowed_address_pairs": [], "extra_dhcp_opts": [], "binding:vnic_type": EXTERNAL_VNIC,
        **standard(attrs),
    }
    if admin:
        bound = p.binding_host is not None
        doc.update({
            "binding:host_id": p.binding_host or "",
            "binding:vif_type": ("tap" if p.binding_kind == "tap" else "other") if bound
            else ("unbound" if not p.is_network_owned else "ovs"),
            "binding:vif_details": {"port_filter": True} if bound else {},
            "binding:profile": {},
        })
    return doc


def router(r: Any, state: Any, attrs: Attrs) -> dict:
    gateway = None
    if r.gateway_network_id:
        leg = state.ports.get(r.gateway_port_id)
        gateway = {
            "network_id": r.gateway_network_id, "enable_snat": r.enable_snat,
            "external_fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                                   for f in (leg.fixed_ips if leg else [])],
        }
    return {
        "id": r.id, "name": r.name, **owner(r.project_id), "status": "ACTIVE",
        "admin_state_up": attrs.extra.get("admin_state_up", True), "external_gateway_info": gateway,
        "routes": [{"destination": x.destination, "nexthop": x.nexthop} for x in r.routes],
        "availability_zone_hints": [],
        "availability_zones": ["nova"], **standard(attrs),
    }


def floating_ip(f: Any, state: Any, attrs: Attrs) -> dict:
    port_details = None
    if f.port_id and f.port_id in state.ports:
        p = state.ports[f.port_id]
        port_details = {"name": p.name, "network_id": p.network_id, "mac_address": p.mac_address,
                        "admin_state_up": True, "status": port_status(p), "device_id": p.device_id,
                        "device_owner": p.device_owner}
    return {
        "id": f.id, **owner(f.project_id), "floating_network_id": f.floating_network_id,
        "floating_ip_address": f.floating_ip_address, "port_id": f.port_id,
        "fixed_ip_address": f.fixed_ip_address, "router_id": f.router_id,
        "status": "ACTIVE" if f.port_id else "DOWN", "port_details": port_details,
        **standard(attrs),
    }


def security_group_rule(rule: Any, attrs: Attrs) -> dict:
    return {
        "id": rule.id, **owner(rule.project_id), "security_group_id": rule.security_group_id,
        "direction": rule.direction, "ethertype": rule.ethertype, "protocol": rule.protocol,
        "port_range_min": rule.port_range_min, "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix, "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None, "normalized_cidr": rule.remote_ip_prefix,
        **standard(attrs),
    }


def security_group(group: Any, rules: list[dict], attrs: Attrs) -> dict:
    return {
        "id": group.id, "name": group.name, **owner(group.project_id), "description": group.description,
        "security_group_rules": rules, "stateful": True, "shared": False,
        **{k: v for k, v in standard(attrs).items() if k != "description"},
    }
