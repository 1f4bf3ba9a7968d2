"""The networking a fresh cloud starts with, as on a typical OpenStack cloud:

* an external network ``public`` (flat, shared, in the machine's namespace)
  with the topology's external IPv4 and IPv6 subnets;
* per project: a ``default`` security group with Neutron's default rules
  (all egress; ingress from members of the same group), and a ``private``
  network with an IPv4 subnet (DHCP) and an IPv6 subnet (SLAAC), attached
  to a router ``router1`` whose gateway is on ``public``.

So ``openstack server create`` without ``--network`` finds one network.
Idempotent: what exists (by name and project) is kept.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

EXTERNAL_NAME = "public"
PRIVATE_NAME = "private"
ROUTER_NAME = "router1"
DEFAULT_GROUP = "default"
PRIVATE_V4 = "10.0.0.0/24"


def project_ipv6(topology: Any, index: int) -> ipaddress.IPv6Network:
    """The k-th project's routed IPv6 /64: inside the underlay's /48, at
    ``:1xx:`` — distinct per cloud, never the underlay or external /64."""
    base = ipaddress.IPv6Network((int(topology.underlay.ipv6.network_address) & ~((1 << 80) - 1), 48))
    return ipaddress.IPv6Network((int(base.network_address) + ((0x100 + index) << 64), 64))


def ensure_external(plane: Any, topology: Any) -> Any:
    for net in plane.list_networks():
        if net.external and net.name == EXTERNAL_NAME:
            return net
    ext = topology.external
    net = plane.create_network(EXTERNAL_NAME, external=True, shared=True)
    plane.create_subnet(net.id, str(ext.ipv4), name="public-v4", enable_dhcp=False)
    plane.create_subnet(net.id, str(ext.ipv6), name="public-v6", enable_dhcp=False, ip_version=6,
                        ipv6_address_mode=None, ipv6_ra_mode=None)
    return net


def ensure_default_group(plane: Any, project_id: str) -> Any:
    for group in plane.list_security_groups():
        if group.project_id == project_id and group.name == DEFAULT_GROUP:
            return group
    group = plane.create_security_group(DEFAULT_GROUP, project_id=project_id,
                                        description="Default security group")
    for ethertype in ("IPv4", "IPv6"):
        plane.create_security_group_rule(group.id, "ingress", ethertype=ethertype, remote_group_id=group.id,
                                         project_id=project_id)
    return group


def ensure_project_network(plane: Any, topology: Any, project_id: str, index: int, external_id: str) -> Any:
    nets = [n for n in plane.list_networks() if n.project_id == project_id and n.name == PRIVATE_NAME]
    if nets:
        return nets[0]
    net = plane.create_network(PRIVATE_NAME, project_id=project_id)
    v4 = plane.create_subnet(net.id, PRIVATE_V4, name="private-v4", project_id=project_id,
                             dns_nameservers=[])
    v6 = plane.create_subnet(net.id, str(project_ipv6(topology, index)), name="private-v6",
                             project_id=project_id, ip_version=6, ipv6_address_mode="slaac",
                             ipv6_ra_mode="slaac")
    router = plane.create_router(ROUTER_NAME, project_id=project_id, external_network_id=external_id)
    plane.add_router_interface(router.id, subnet_id=v4.id)
    plane.add_router_interface(router.id, subnet_id=v6.id)
    return net


def provision_networking(plane: Any, topology: Any, project_ids: list[str],
                         progress: Callable[[str], None] = lambda m: None) -> dict[str, str]:
    """Returns project id → its private network's id."""
    ext = ensure_external(plane, topology)
    result = {}
    for index, project_id in enumerate(project_ids):
        ensure_default_group(plane, project_id)
        result[project_id] = ensure_project_network(plane, topology, project_id, index, ext.id).id
    progress(f"api: external network {ext.name} and {len(result)} project network(s) ready")
    return result
