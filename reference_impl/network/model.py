"""The desired state of the tenant networks: plain dataclasses, JSON in and out.

The field names follow Neutron's where Neutron has one (``segmentation_id``,
``fixed_ips``, ``device_owner``, ``remote_ip_prefix`` ...), so an API layer
maps them one to one. ``index`` fields are small integers the library
allocates for kernel names, conntrack zones and packet marks.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable

OWNER_DHCP = "network:dhcp"
OWNER_ROUTER_INTERFACE = "network:router_interface"
OWNER_ROUTER_GATEWAY = "network:router_gateway"
OWNER_FLOATING_IP = "network:floatingip"
NETWORK_OWNERS = (OWNER_DHCP, OWNER_ROUTER_INTERFACE, OWNER_ROUTER_GATEWAY, OWNER_FLOATING_IP)

BINDING_TAP = "tap"  # a tap device for a QEMU VM
BINDING_ENDPOINT = "endpoint"  # a namespace with a veth standing in for a VM (tests)
BINDING_KINDS = (BINDING_TAP, BINDING_ENDPOINT)

INGRESS, EGRESS = "ingress", "egress"
IPV4, IPV6 = "IPv4", "IPv6"


@dataclass
class Network:
    id: str
    name: str
    project_id: str
    segmentation_id: int | None  # the VXLAN VNI; None for an external (flat) network
    external: bool
    mtu: int
    index: int  # conntrack zone on compute hosts; bridge number of an external network
    shared: bool = False


@dataclass
class HostRoute:
    destination: str
    nexthop: str


@dataclass
class AllocationPool:
    start: str
    end: str


@dataclass
class Subnet:
    id: str
    name: str
    project_id: str
    network_id: str
    ip_version: int
    cidr: str
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: list[str] = field(default_factory=list)
    host_routes: list[HostRoute] = field(default_factory=list)
    allocation_pools: list[AllocationPool] = field(default_factory=list)
    # IPv6 only: the reference cloud does SLAAC (addresses computed from MACs)
    ipv6_address_mode: str | None = None
    ipv6_ra_mode: str | None = None


@dataclass
class FixedIP:
    subnet_id: str
    ip_address: str


@dataclass
class Port:
    id: str
    name: str
    project_id: str
    network_id: str
    mac_address: str
    fixed_ips: list[FixedIP]
    device_owner: str
    device_id: str
    security_groups: list[str]
    port_security_enabled: bool
    index: int  # packet mark of the port on its compute host
    binding_host: str | None = None
    binding_kind: str | None = None  # BINDING_TAP / BINDING_ENDPOINT when bound

    @property
    def is_network_owned(self) -> bool:
        return self.device_owner in NETWORK_OWNERS


@dataclass
class Router:
    id: str
    name: str
    project_id: str
    index: int
    gateway_network_id: str | None = None
    gateway_port_id: str | None = None
    enable_snat: bool = True
    # extra routes (Neutron's extraroute): each nexthop is on one of the router's subnets
    routes: list[HostRoute] = field(default_factory=list)


@dataclass
class FloatingIP:
    id: str
    project_id: str
    floating_network_id: str
    floating_ip_address: str
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None


@dataclass
class SecurityGroup:
    id: str
    name: str
    project_id: str
    description: str = ""


#: IP protocol numbers of the protocols a rule may name.
PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132}
#: A remote prefix that means "from / to anywhere", as no prefix does.
ANY_PREFIXES = ("0.0.0.0/0", "::/0")


@dataclass
class SecurityGroupRule:
    id: str
    security_group_id: str
    project_id: str
    direction: str  # ingress | egress
    ethertype: str  # IPv4 | IPv6
    protocol: str | None = None  # tcp, udp, icmp, ipv6-icmp, or a number as text; None = any
    port_range_min: int | None = None  # for icmp: the type
    port_range_max: int | None = None  # for icmp: the code
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None

    def key(self) -> tuple:
        """What makes two rules the same rule (Neutron refuses duplicates),
        whatever the spelling: a protocol by name or number (udp is 17), and
        "anywhere" as no prefix or as 0.0.0.0/0 / ::/0."""
        protocol = self.protocol
        if protocol is not None:
            protocol = str(PROTOCOL_NUMBERS.get(protocol, protocol))
        prefix = None if self.remote_ip_prefix in ANY_PREFIXES else self.remote_ip_prefix
        return (self.security_group_id, self.direction, self.ethertype, protocol,
                self.port_range_min, self.port_range_max, prefix, self.remote_group_id)


def _build(cls, data: dict[str, Any]):
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class State:
    """Everything the data plane should look like. Saved as one JSON document."""

    networks: dict[str, Network] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
    floating_ips: dict[str, FloatingIP] = field(default_factory=dict)
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    security_group_rules: dict[str, SecurityGroupRule] = field(default_factory=dict)

    FORMAT = 1

    # -- serialisation ---------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": self.FORMAT,
            "networks": [asdict(x) for x in self.networks.values()],
            "subnets": [asdict(x) for x in self.subnets.values()],
            "ports": [asdict(x) for x in self.ports.values()],
            "routers": [asdict(x) for x in self.routers.values()],
            "floating_ips": [asdict(x) for x in self.floating_ips.values()],
            "security_groups": [asdict(x) for x in self.security_groups.values()],
            "security_group_rules": [asdict(x) for x in self.security_group_rules.values()],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "State":
        if data.get("format") != cls.FORMAT:
            raise ValueError(f"unknown state format {data.get('format')!r} (expected {cls.FORMAT})")
        state = cls()
        for item in data.get("networks", []):
            state.networks[item["id"]] = _build(Network, item)
        for item in data.get("subnets", []):
            subnet = _build(Subnet, item)
            subnet.host_routes = [_build(HostRoute, r) for r in item.get("host_routes", [])]
            subnet.allocation_pools = [_build(AllocationPool, p) for p in item.get("allocation_pools", [])]
            state.subnets[subnet.id] = subnet
        for item in data.get("ports", []):
            port = _build(Port, item)
            port.fixed_ips = [_build(FixedIP, f) for f in item.get("fixed_ips", [])]
            state.ports[port.id] = port
        for item in data.get("routers", []):
            router = _build(Router, item)
            router.routes = [_build(HostRoute, r) for r in item.get("routes", [])]
            state.routers[router.id] = router
        for item in data.get("floating_ips", []):
            state.floating_ips[item["id"]] = _build(FloatingIP, item)
        for item in data.get("security_groups", []):
            state.security_groups[item["id"]] = _build(SecurityGroup, item)
        for item in data.get("security_group_rules", []):
            state.security_group_rules[item["id"]] = _build(SecurityGroupRule, item)
        return state

    def copy(self) -> "State":
        return copy.deepcopy(self)

    # -- queries ---------------------------------------------------------------
    def subnets_of(self, network_id: str) -> list[Subnet]:
        return [s for s in self.subnets.values() if s.network_id == network_id]

    def ports_of(self, network_id: str) -> list[Port]:
        return [p for p in self.ports.values() if p.network_id == network_id]

    def ports_on_subnet(self, subnet_id: str) -> list[Port]:
        return [p for p in self.ports.values() if any(f.subnet_id == subnet_id for f in p.fixed_ips)]

    def dhcp_port(self, network_id: str) -> Port | None:
        for port in self.ports_of(network_id):
            if port.device_owner == OWNER_DHCP:
                return port
        return None

    def router_interfaces(self, router_id: str) -> list[Port]:
        return sorted(
            (p for p in self.ports.values()
             if p.device_owner == OWNER_ROUTER_INTERFACE and p.device_id == router_id),
            key=lambda p: p.index,
        )

    def routers_of_subnet(self, subnet_id: str) -> list[Router]:
        """Routers with an interface on the subnet."""
        ids = {p.device_id for p in self.ports_on_subnet(subnet_id) if p.device_owner == OWNER_ROUTER_INTERFACE}
        return [self.routers[i] for i in sorted(ids) if i in self.routers]

    def rules_of(self, group_id: str) -> list[SecurityGroupRule]:
        return [r for r in self.security_group_rules.values() if r.security_group_id == group_id]

    def ports_in_group(self, group_id: str) -> list[Port]:
        return [p for p in self.ports.values() if group_id in p.security_groups]

    def used_indexes(self, items: Iterable) -> set[int]:
        return {item.index for item in items}


def free_index(used: set[int], *, start: int = 1, limit: int = 0xFFFF) -> int:
    """The smallest integer >= start that is not used (kernel names, marks, zones)."""
    index = start
    while index in used:
        index += 1
    if index > limit:
        raise OverflowError(f"no free index below {limit}")
    return index
