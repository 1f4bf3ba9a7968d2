"""The reference cloud's topology: racks, hosts, their roles, and the address plan.

A topology file (YAML; the shipped default is ``topologies/default.yaml``)
names a control host and racks of hosts. Every host becomes a network
namespace with an address on one shared underlay; storage hosts run Ceph OSDs,
compute hosts run VMs, the control host runs the Ceph monitor and manager (and
later the API). The CRUSH map mirrors the file: root -> rack -> host -> osd,
with the rack as failure domain.

This module only parses and validates; it has no side effects. Every refusal
is a :class:`~octoprobe.config_yaml.ConfigError` naming the file, the line and
the key. The model is a tree of frozen dataclasses; the address plan and the
OSD layout derived from it are deterministic (file order).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv4Network, IPv6Interface, IPv6Network
from pathlib import Path
from typing import NamedTuple

from octoprobe.config_yaml import (
    ConfigError,
    Node,
    as_int,
    as_list,
    as_str,
    check_keys,
    format_size,
    get_int,
    get_mapping,
    load_file,
    load_text,
    parse_size,
)

__all__ = [
    "ROLE_STORAGE",
    "ROLE_COMPUTE",
    "ROLE_CONTROL",
    "RACK_HOST_ROLES",
    "NAME_PATTERN",
    "MIN_OSD_SIZE",
    "DEFAULT_OSD_SIZE",
    "Underlay",
    "CephSettings",
    "Host",
    "Rack",
    "OsdSlot",
    "Topology",
    "load_topology",
    "parse_topology",
    "default_topology_path",
]

GiB = 1024**3

ROLE_STORAGE = "storage"
ROLE_COMPUTE = "compute"
ROLE_CONTROL = "control"  # only the control host has it; not allowed in racks
RACK_HOST_ROLES = frozenset({ROLE_STORAGE, ROLE_COMPUTE})

# Host and rack names become parts of namespace, interface and Ceph names;
# Linux interface names are at most 15 characters.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,14}")

# BlueStore on a file smaller than this is not usable (its own metadata and
# the RocksDB reserve eat most of it).
MIN_OSD_SIZE = 2 * GiB
DEFAULT_OSD_SIZE = 8 * GiB
DEFAULT_OSD_COUNT = 1

DEFAULT_IPV4 = IPv4Network("198.18.0.0/24")  # RFC 2544 benchmarking range
DEFAULT_IPV6 = IPv6Network("fd6f:6374:6f00::/64")  # ULA
DEFAULT_MTU = 1500
MTU_MIN = 1280  # the IPv6 minimum link MTU
MTU_MAX = 9000  # jumbo frames

DEFAULT_CONTROL_NAME = "ctl"
DEFAULT_POOL_SIZE = 3
DEFAULT_PG_NUM = 32
DEFAULT_DOWN_OUT_INTERVAL = 10


@dataclass(frozen=True)
class Underlay:
    """The shared network every host namespace is attached to."""

    ipv4: IPv4Network = DEFAULT_IPV4
    ipv6: IPv6Network = DEFAULT_IPV6
    mtu: int = DEFAULT_MTU


BENCHMARK_V4 = IPv4Network("198.18.0.0/16")
BENCHMARK_V4_NEXT = IPv4Network("198.19.0.0/16")


def default_external(underlay: Underlay) -> tuple[IPv4Network, IPv6Network]:
    """The external (provider) network's subnets when the topology names none,
    derived from the underlay so that two clouds with distinct underlays get
    distinct external networks: an underlay in 198.18.0.0/16 maps to the same
    place in 198.19.0.0/16 (a /24), any other to the /24 after it; IPv6 takes
    the /64 after the underlay's prefix."""
    v4 = underlay.ipv4
    if v4.subnet_of(BENCHMARK_V4):
        base = int(BENCHMARK_V4_NEXT.network_address) + (int(v4.network_address) - int(BENCHMARK_V4.network_address))
    else:
        base = int(v4.broadcast_address) + 1
    ext4 = IPv4Network((base & ~0xFF & 0xFFFFFFFF, 24))
    ext6 = IPv6Network((int(underlay.ipv6.broadcast_address) + 1, 64), strict=False)
    return ext4, ext6


@dataclass(frozen=True)
class External:
    """The flat external network: its bridge is in the machine's namespace,
    the machine takes its first address, routers' gateways and floating IPs
    take the others."""

    ipv4: IPv4Network
    ipv6: IPv6Network


@dataclass(frozen=True)
class CephSettings:
    """Pool and recovery settings of the reference cloud's Ceph cluster."""

    pool_size: int = DEFAULT_POOL_SIZE
    pool_min_size: int = 2
    pg_num: int = DEFAULT_PG_NUM  # per pool, a power of two
    down_out_interval: int = DEFAULT_DOWN_OUT_INTERVAL  # seconds; mon_osd_down_out_interval


@dataclass(frozen=True)
class Host:
    """One host (a network namespace). ``rack`` is None for the control host.

    ``index`` is the host's position in :meth:`Topology.hosts` (the control
    host is 0); the address plan is derived from it.
    """

    name: str
    rack: str | None
    roles: frozenset[str]
    osd_count: int = 0
    osd_size_bytes: int = 0
    index: int = 0

    @property
    def is_control(self) -> bool:
        return ROLE_CONTROL in self.roles

    @property
    def is_storage(self) -> bool:
        return ROLE_STORAGE in self.roles

    @property
    def is_compute(self) -> bool:
        return ROLE_COMPUTE in self.roles


@dataclass(frozen=True)
class Rack:
    name: str
    hosts: tuple[Host, ...]


class OsdSlot(NamedTuple):
    """One OSD of the cluster: its id, and the host and rack that hold it."""

    osd: int
    host: str
    rack: str


@dataclass(frozen=True)
class Topology:
    path: str
    underlay: Underlay
    ceph: CephSettings
    control: Host
    racks: tuple[Rack, ...]
    external_networks: External | None = None  # None: derived from the underlay

    @property
    def external(self) -> External:
        if self.external_networks is not None:
            return self.external_networks
        return External(*default_external(self.underlay))

    def __post_init__(self) -> None:
        # Guard hand-built topologies: the address plan relies on these.
        names = [h.name for h in self.hosts()]
        if len(set(names)) != len(names):
            raise ValueError(f"host names are not unique: {names}")
        for position, host in enumerate(self.hosts()):
            if host.index != position:
                raise ValueError(f"host {host.name!r} has index {host.index}, expected {position}")

    def hosts(self) -> tuple[Host, ...]:
        """All hosts: the control host first, then the racks' hosts in file order."""
        return (self.control, *(host for rack in self.racks for host in rack.hosts))

    def storage_hosts(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts() if h.is_storage)

    def compute_hosts(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts() if h.is_compute)

    def host(self, name: str) -> Host:
        for host in self.hosts():
            if host.name == name:
                return host
        raise KeyError(f"no host named {name!r} in topology {self.path}")

    def rack(self, name: str) -> Rack:
        for rack in self.racks:
            if rack.name == name:
                return rack
        raise KeyError(f"no rack named {name!r} in topology {self.path}")

    def osd_count(self) -> int:
        return sum(h.osd_count for h in self.hosts())

    def osd_layout(self) -> list[OsdSlot]:
        """Every OSD in a stable order (hosts() order, then OSD number within the host).

        The position in this list is the OSD id; the CRUSH map is built from it.
        """
        layout: list[OsdSlot] = []
        for host in self.storage_hosts():
            assert host.rack is not None
            for _ in range(host.osd_count):
                layout.append(OsdSlot(len(layout), host.name, host.rack))
        return layout

    def machine_address(self) -> tuple[IPv4Interface, IPv6Interface]:
        """The machine's own underlay addresses: the first host address of each subnet."""
        return self._address(1)

    def address_of(self, host_name: str) -> tuple[IPv4Interface, IPv6Interface]:
        """A host's underlay addresses: the control host gets the 2nd host address
        of each subnet, the other hosts follow in :meth:`hosts` order."""
        return self._address(self.host(host_name).index + 2)

    def _address(self, offset: int) -> tuple[IPv4Interface, IPv6Interface]:
        v4, v6 = self.underlay.ipv4, self.underlay.ipv6
        return (
            IPv4Interface((v4.network_address + offset, v4.prefixlen)),
            IPv6Interface((v6.network_address + offset, v6.prefixlen)),
        )


# ---------------------------------------------------------------- entry points


def default_topology_path() -> Path:
    """The topology shipped with octoprobe: 4 racks of 2 storage hosts and 1 compute host."""
    return Path(__file__).parent / "topologies" / "default.yaml"


def load_topology(path: str | os.PathLike[str]) -> Topology:
    """Read, parse and validate a topology file."""
    return _parse(load_file(path))


def parse_topology(text: str, path: str | os.PathLike[str] = "<string>") -> Topology:
    """Parse and validate topology YAML text; ``path`` is used in error messages."""
    return _parse(load_text(text, path))


# ---------------------------------------------------------------- parsing


def _parse(root: Node) -> Topology:
    top = check_keys(root, allowed=("underlay", "ceph", "control", "external"), required=("racks",))
    underlay_node = get_mapping(root, "underlay")
    underlay = _parse_underlay(underlay_node)
    ceph = _parse_ceph(get_mapping(root, "ceph"))

    # Every name with the node that gave it, to find clashes in file order.
    names: list[tuple[str, str, Node]] = []

    control_node = get_mapping(root, "control")
    control_name = DEFAULT_CONTROL_NAME
    if control_node is not None:
        fields = check_keys(control_node, allowed=("name",))
        if "name" in fields:
            control_name = _name(fields["name"])
            names.append((control_name, "host", fields["name"]))
    control = Host(control_name, None, frozenset({ROLE_CONTROL}), index=0)

    racks_node = top["racks"]
    rack_items = as_list(racks_node)
    if not rack_items:
        raise racks_node.error("at least one rack is needed", at_key=True)

    racks: list[Rack] = []
    index = 1
    for rack_item in rack_items:
        fields = check_keys(rack_item, required=("name", "hosts"))
        rack_name = _name(fields["name"])
        names.append((rack_name, "rack", fields["name"]))
        host_items = as_list(fields["hosts"])
        if not host_items:
            raise fields["hosts"].error("a rack needs at least one host")
        hosts = []
        for host_item in host_items:
            host, name_node = _parse_host(host_item, rack_name, index)
            names.append((host.name, "host", name_node))
            hosts.append(host)
            index += 1
        racks.append(Rack(rack_name, tuple(hosts)))

    _check_unique_names(names)

    storage_racks = sum(1 for rack in racks if any(h.is_storage for h in rack.hosts))
    if storage_racks < ceph.pool_size:
        raise racks_node.error(
            f"{storage_racks} rack{'s' if storage_racks != 1 else ''} with storage hosts, but "
            f"ceph.pool_size is {ceph.pool_size}: the failure domain is the rack, so every replica "
            f"needs a rack with storage hosts of its own",
            at_key=True,
        )

    _check_subnets(underlay, underlay_node, racks_node, host_count=index)
    external = _parse_external(get_mapping(root, "external"), underlay)

    return Topology(
        path=root.path,
        underlay=underlay,
        ceph=ceph,
        control=control,
        racks=tuple(racks),
        external_networks=external,
    )


def _name(node: Node) -> str:
    name = as_str(node)
    if not NAME_PATTERN.fullmatch(name):
        raise node.error(
            f"invalid name {name!r}: a name starts with a lowercase letter, has only lowercase "
            "letters, digits and '-', and at most 15 characters (names become parts of "
            "network namespace, interface and Ceph names)"
        )
    return name


def _check_unique_names(names: list[tuple[str, str, Node]]) -> None:
    # Rack and host names must not clash either: both become CRUSH buckets,
    # which share one namespace. The second occurrence in the file is reported.
    first: dict[str, tuple[str, Node]] = {}
    for name, kind, node in sorted(names, key=lambda entry: entry[2].line):
        if name in first:
            first_kind, first_node = first[name]
            if kind == first_kind:
                raise node.error(f"duplicate {kind} name {name!r} (first used on line {first_node.line})")
            raise node.error(
                f"{kind} name {name!r} is already used by a {first_kind} on line {first_node.line} "
                "(rack and host names share one namespace in the CRUSH map)"
            )
        first[name] = (kind, node)


def _parse_host(node: Node, rack: str, index: int) -> tuple[Host, Node]:
    fields = check_keys(node, allowed=("osds",), required=("name", "roles"))
    name = _name(fields["name"])

    roles_node = fields["roles"]
    role_items = as_list(roles_node)
    if not role_items:
        raise roles_node.error(f"a host needs at least one role: {', '.join(sorted(RACK_HOST_ROLES))}")
    roles: set[str] = set()
    for item in role_items:
        role = as_str(item)
        if role not in RACK_HOST_ROLES:
            hint = " (the control host is declared in the top-level 'control' block)" if role == ROLE_CONTROL else ""
            raise item.error(f"unknown role {role!r}; allowed roles: {', '.join(sorted(RACK_HOST_ROLES))}{hint}")
        if role in roles:
            raise item.error(f"role {role!r} is listed twice")
        roles.add(role)

    osd_count, osd_size = 0, 0
    if ROLE_STORAGE in roles:
        if "osds" not in fields:
            raise ConfigError(
                "a storage host needs an 'osds' block, e.g. osds: {count: 1, size: 8GiB}",
                path=node.path,
                line=node.line,
                key=node.child_key("osds"),
            )
        # An empty block (`osds:` or `osds: {}`) means one OSD of the default size.
        osds_node = get_mapping(node, "osds")
        osds = check_keys(osds_node, allowed=("count", "size")) if osds_node is not None else {}
        osd_count = as_int(osds["count"], min=1) if "count" in osds else DEFAULT_OSD_COUNT
        osd_size = _osd_size(osds["size"]) if "size" in osds else DEFAULT_OSD_SIZE
    elif "osds" in fields:
        raise fields["osds"].error(
            f"only storage hosts have OSDs; this host's roles are: {', '.join(sorted(roles))}", at_key=True
        )

    host = Host(name, rack, frozenset(roles), osd_count, osd_size, index)
    return host, fields["name"]


def _osd_size(node: Node) -> int:
    value = node.value
    if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, (int, str)):
        raise node.error("expected a size such as 8GiB, 512MiB, or a number of bytes")
    try:
        size = parse_size(value)
    except ValueError as exc:
        raise node.error(str(exc)) from None
    if size < MIN_OSD_SIZE:
        raise node.error(
            f"OSD size {format_size(size)} is below the minimum of {format_size(MIN_OSD_SIZE)} "
            "(BlueStore on a smaller file is not usable)"
        )
    return size


def _parse_underlay(node: Node | None) -> Underlay:
    if node is None:
        return Underlay()
    fields = check_keys(node, allowed=("ipv4", "ipv6", "mtu"))
    ipv4 = _network(fields["ipv4"], 4) if "ipv4" in fields else DEFAULT_IPV4
    ipv6 = _network(fields["ipv6"], 6) if "ipv6" in fields else DEFAULT_IPV6
    mtu = get_int(node, "mtu", DEFAULT_MTU, min=MTU_MIN, max=MTU_MAX)
    return Underlay(ipv4, ipv6, mtu)  # type: ignore[arg-type]


def _parse_external(node: Node | None, underlay: Underlay) -> External:
    ext4, ext6 = default_external(underlay)
    if node is None:
        return External(ext4, ext6)
    fields = check_keys(node, allowed=("ipv4", "ipv6"))
    if "ipv4" in fields:
        ext4 = _network(fields["ipv4"], 4)  # type: ignore[assignment]
        if ext4.num_addresses < 8:
            raise fields["ipv4"].error(f"the external network {ext4} is too small: use a /29 or larger")
        if ext4.overlaps(underlay.ipv4):
            raise fields["ipv4"].error(f"the external network {ext4} overlaps the underlay {underlay.ipv4}")
    if "ipv6" in fields:
        ext6 = _network(fields["ipv6"], 6)  # type: ignore[assignment]
        if ext6.prefixlen != 64:
            raise fields["ipv6"].error(f"the external IPv6 network must be a /64 (SLAAC), got {ext6}")
        if ext6.overlaps(underlay.ipv6):
            raise fields["ipv6"].error(f"the external network {ext6} overlaps the underlay {underlay.ipv6}")
    return External(ext4, ext6)


def _network(node: Node, version: int) -> IPv4Network | IPv6Network:
    example = DEFAULT_IPV4 if version == 4 else DEFAULT_IPV6
    text = as_str(node)
    if "/" not in text:
        raise node.error(f"expected a network in CIDR form like {example}, got {text!r} (no prefix length)")
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise node.error(f"invalid network {text!r}: {exc}") from None
    if network.version != version:
        raise node.error(f"expected an IPv{version} network like {example}, got the IPv{network.version} network {text!r}")
    return network


def _parse_ceph(node: Node | None) -> CephSettings:
    if node is None:
        return CephSettings()
    fields = check_keys(node, allowed=("pool_size", "pool_min_size", "pg_num", "down_out_interval"))
    pool_size = get_int(node, "pool_size", DEFAULT_POOL_SIZE, min=1)
    # Absent: Ceph's own rule, size - size // 2 (2 for the default size 3).
    pool_min_size = get_int(node, "pool_min_size", pool_size - pool_size // 2, min=1)
    if pool_min_size > pool_size:
        raise fields["pool_min_size"].error(
            f"pool_min_size ({pool_min_size}) must not exceed pool_size ({pool_size})"
        )
    pg_num = get_int(node, "pg_num", DEFAULT_PG_NUM, min=1)
    if pg_num & (pg_num - 1):
        raise fields["pg_num"].error(f"must be a power of two (e.g. 32 or 64), got {pg_num}")
    down_out_interval = get_int(node, "down_out_interval", DEFAULT_DOWN_OUT_INTERVAL, min=0)
    return CephSettings(pool_size, pool_min_size, pg_num, down_out_interval)


def _check_subnets(underlay: Underlay, underlay_node: Node | None, racks_node: Node, host_count: int) -> None:
    needed = host_count + 1  # the machine itself, then every host
    fields = underlay_node.value if underlay_node is not None else {}
    for version, network in ((4, underlay.ipv4), (6, underlay.ipv6)):
        # Offsets 1..needed are used; IPv4 also loses its broadcast address.
        room = network.num_addresses - (2 if version == 4 else 1)
        if room >= needed:
            continue
        message = (
            f"the underlay subnet {network} has room for {max(room, 0)} host addresses, but the "
            f"topology needs {needed}: one for the machine itself and one for each of its {host_count} hosts"
        )
        node = fields.get(f"ipv{version}")
        if node is None:
            raise racks_node.error(f"{message}; set underlay.ipv{version} to a larger subnet", at_key=True)
        raise node.error(message)
