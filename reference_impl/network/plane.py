"""The network library's public face: Neutron-shaped operations on the data plane.

Every operation

1. takes the state lock (operations of all processes are serialised),
2. reads the desired state from disk,
3. validates the request against it; a bad request raises a
   :mod:`~.errors` exception and changes nothing,
4. computes the new desired state, converges the kernel to it (only the parts
   the operation touched), and
5. saves the new state. If converging fails, the old state is converged again
   and :class:`~.errors.DataPlaneError` is raised: nothing half-made remains.

Objects are returned as copies (dataclasses from :mod:`~.model`); change them
through the operations only.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from octoprobe.shell import Runner

from ..topology import Topology
from . import errors as E
from . import ipam
from .dataplane import DataPlane, Scope
from .kernel import Kernel
from .model import (
    BINDING_KINDS,
    BINDING_TAP,
    EGRESS,
    INGRESS,
    IPV4,
    IPV6,
    OWNER_DHCP,
    OWNER_ROUTER_GATEWAY,
    OWNER_ROUTER_INTERFACE,
    AllocationPool,
    FixedIP,
    FloatingIP,
    HostRoute,
    Network,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    State,
    Subnet,
    free_index,
)
from .names import NetNames, NetPaths
from .store import StateStore

if TYPE_CHECKING:
    from .endpoint import TestEndpoint


class _Sentinel:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


UNSET: Any = _Sentinel("UNSET")  # "leave as it is" in updates
AUTO: Any = _Sentinel("AUTO")  # "choose for me" (a subnet's gateway: its first address)

PROTOCOLS = ("tcp", "udp", "icmp", "ipv6-icmp", "icmpv6", "sctp")
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "6", "17", "132")
ICMP_PROTOCOLS = ("icmp", "ipv6-icmp", "icmpv6", "1", "58")
MAX_PORT_INDEX = 0xFFFF
MAX_ROUTER_ROUTES = 30  # Neutron's default max_routes


@dataclass(frozen=True)
class RouterInterfaceInfo:
    """What Neutron answers to add/remove_router_interface."""

    id: str  # the router
    port_id: str
    subnet_id: str
    subnet_ids: tuple[str, ...]
    network_id: str
    project_id: str


def _new_id(given: str | None) -> str:
    if given is None:
        return str(uuid.uuid4())
    if not isinstance(given, str) or not given or len(given) > 64:
        raise E.InvalidInput(f"invalid id {given!r}")
    return given


def _copy(obj):
    import copy

    return copy.deepcopy(obj)


class NetworkPlane:
    """Tenant networks of one reference cloud.

    ``state_dir`` is the cloud's state directory (the library uses its
    ``network/`` subdirectory); ``prefix`` the cloud's kernel-name prefix;
    the topology's control host is the network host.
    """

    def __init__(
        self,
        topology: Topology,
        prefix: str,
        state_dir: str | Path,
        *,
        runner: Runner | None = None,
        progress: Callable[[str], None] = lambda msg: None,
        vni_range: tuple[int, int] = ipam.DEFAULT_VNI_RANGE,
    ):
        self.topology = topology
        self.prefix = prefix
        self.paths = NetPaths.under(Path(state_dir))
        self.store = StateStore(self.paths.state, self.paths.lock)
        self.kernel = Kernel(runner)
        self.dataplane = DataPlane(topology, prefix, self.paths, self.kernel, progress)
        self.names = NetNames(prefix)
        self.progress = progress
        self.vni_range = vni_range
        self.overlay_mtu = ipam.overlay_mtu(topology.underlay.mtu)

    # ------------------------------------------------------------------ plumbing
    def _commit(self, old: State, new: State, scope: Scope) -> None:
        try:
            self.dataplane.sync(old, new, scope)
        except Exception as exc:
            try:
                self.dataplane.sync(new, old, scope)
            except Exception as rollback_exc:  # report both
                raise E.DataPlaneError(
                    f"applying the change failed ({exc}); re-applying the previous state failed too "
                    f"({rollback_exc}); `octoprobe cloud up` (NetworkPlane.restore) repairs it") from exc
            raise E.DataPlaneError(f"applying the change failed, nothing was changed: {exc}") from exc
        self.store.save(new)

    def state(self) -> State:
        """A snapshot of the desired state."""
        return self.store.load()

    def restore(self) -> None:
        """Rebuild the whole data plane from the saved state (after ``cloud up``,
        a crash, a reboot) and remove whatever of ours the state does not know."""
        with self.store.locked():
            self.dataplane.restore(self.store.load())

    def status(self) -> dict:
        """Counts of the desired objects and whether their processes run (for ``cloud status``)."""
        state = self.store.load()
        dp = self.dataplane
        dhcp = [n for n in state.networks if state.dhcp_port(n)]
        ra = [r for r in state.routers if dp.paths.conf(dp.paths.router_dir(r)).exists()]
        return {
            "networks": len(state.networks),
            "subnets": len(state.subnets),
            "ports": len(state.ports),
            "routers": len(state.routers),
            "floating_ips": len(state.floating_ips),
            "security_groups": len(state.security_groups),
            "dhcp_servers": {"expected": len(dhcp), "running": sum(
                dp.dnsmasq_pid(dp.paths.dhcp_dir(n)) is not None for n in dhcp)},
            "router_advertisers": {"expected": len(ra), "running": sum(
                dp.dnsmasq_pid(dp.paths.router_dir(r)) is not None for r in ra)},
        }

    # ------------------------------------------------------------------ lookups
    @staticmethod
    def _get(table: dict, key: str, exc: type[E.NotFound]):
        try:
            return table[key]
        except (KeyError, TypeError):
            raise exc(str(key)) from None

    def get_network(self, network_id: str) -> Network:
        return _copy(self._get(self.store.load().networks, network_id, E.NetworkNotFound))

    def list_networks(self) -> list[Network]:
        return list(self.store.load().networks.values())

    def get_subnet(self, subnet_id: str) -> Subnet:
        return _copy(self._get(self.store.load().subnets, subnet_id, E.SubnetNotFound))

    def list_subnets(self, network_id: str | None = None) -> list[Subnet]:
        return [s for s in self.store.load().subnets.values() if network_id in (None, s.network_id)]

    def get_port(self, port_id: str) -> Port:
        return _copy(self._get(self.store.load().ports, port_id, E.PortNotFound))

    def list_ports(self, network_id: str | None = None) -> list[Port]:
        return [p for p in self.store.load().ports.values() if network_id in (None, p.network_id)]

    def get_router(self, router_id: str) -> Router:
        return _copy(self._get(self.store.load().routers, router_id, E.RouterNotFound))

    def list_routers(self) -> list[Router]:
        return list(self.store.load().routers.values())

    def get_floating_ip(self, fip_id: str) -> FloatingIP:
        return _copy(self._get(self.store.load().floating_ips, fip_id, E.FloatingIPNotFound))

    def list_floating_ips(self) -> list[FloatingIP]:
        return list(self.store.load().floating_ips.values())

    def get_security_group(self, group_id: str) -> SecurityGroup:
        return _copy(self._get(self.store.load().security_groups, group_id, E.SecurityGroupNotFound))

    def list_security_groups(self) -> list[SecurityGroup]:
        return list(self.store.load().security_groups.values())

    def list_security_group_rules(self, group_id: str | None = None) -> list[SecurityGroupRule]:
        return [r for r in self.store.load().security_group_rules.values()
                if group_id in (None, r.security_group_id)]

    # ------------------------------------------------------------------ networks
    def create_network(
        self,
        name: str = "",
        *,
        project_id: str = "",
        segmentation_id: int | None = None,
        external: bool = False,
        mtu: int | None = None,
        shared: bool = False,
        network_id: str | None = None,
    ) -> Network:
        """A tenant network (a VXLAN segment; VNI = ``segmentation_id``, allocated
        when not given) or, with ``external=True``, a flat external network
        whose bridge is in the machine's root namespace."""
        with self.store.locked():
            old = self.store.load()
            new = old.copy()
            nid = _new_id(network_id)
            if nid in old.networks:
                raise E.Conflict(f"network {nid} already exists")
            if external:
                if segmentation_id is not None:
                    raise E.InvalidInput("an external network is flat: it has no segmentation id")
                vni, max_mtu = None, self.topology.underlay.mtu
            else:
                used = [n.segmentation_id for n in old.networks.values() if n.segmentation_id is not None]
                vni = ipam.allocate_vni(used, segmentation_id, self.vni_range)
                max_mtu = self.overlay_mtu
            if mtu is None:
                mtu = max_mtu
            elif isinstance(mtu, bool) or not isinstance(mtu, int) or not ipam.MIN_MTU_IPV4 <= mtu <= max_mtu:
                raise E.InvalidInput(f"mtu {mtu!r} is out of range: at most {max_mtu} (the underlay MTU "
                                     f"{self.topology.underlay.mtu}{' minus 50 bytes of VXLAN' if not external else ''})")
            net = Network(nid, str(name), str(project_id), vni, bool(external), mtu,
                          free_index(old.used_indexes(old.networks.values())), bool(shared))
            new.networks[nid] = net
            self._commit(old, new, Scope(externals={nid}) if external else Scope(networks={nid}))
            return _copy(net)

    def update_network(self, network_id: str, *, name: str = UNSET, shared: bool = UNSET) -> Network:
        """Rename a network or change whether other projects may use it
        (bookkeeping only: nothing in the kernel depends on either)."""
        with self.store.locked():
            old = self.store.load()
            new = old.copy()
            net = self._get(new.networks, network_id, E.NetworkNotFound)
            if name is not UNSET:
                net.name = str(name)
            if shared is not UNSET:
                net.shared = bool(shared)
            self.store.save(new)
            return _copy(net)

    def delete_network(self, network_id: str) -> None:
        with self.store.locked():
            old = self.store.load()
            net = self._get(old.networks, network_id, E.NetworkNotFound)
            users = [p for p in old.ports_of(network_id) if p.device_owner != OWNER_DHCP]
            if users:
                raise E.NetworkInUse(
                    f"network {network_id} has {len(users)} port(s) in use: "
                    + ", ".join(f"{p.id} ({p.device_owner or 'compute'})" for p in users[:5]))
            fips = [f for f in old.floating_ips.values() if f.floating_network_id == network_id]
            if fips:
                raise E.NetworkInUse(f"external network {network_id} has {len(fips)} floating IP(s)")
            new = old.copy()
            dhcp = new.dhcp_port(network_id)
            scope = Scope(networks={network_id}, externals={network_id} if net.external else set())
            if dhcp is not None:
                del new.ports[dhcp.id]
                scope.ports.add(dhcp.id)
            for subnet in new.subnets_of(network_id):
                del new.subnets[subnet.id]
            del new.networks[network_id]
            self._commit(old, new, scope)

    # ------------------------------------------------------------------ subnets
    def create_subnet(
        self,
        network_id: str,
        cidr: str,
        *,
        ip_version: int | None = None,
        name: str = "",
        project_id: str | None = None,
        gateway_ip: str | None = AUTO,
        enable_dhcp: bool = True,
        dns_nameservers: Sequence[str] = (),
        host_routes: Sequence[dict] = (),
        allocation_pools: Sequence[dict] | None = None,
        ipv6_address_mode: str | None = None,
        ipv6_ra_mode: str | None = None,
        subnet_id: str | None = None,
    ) -> Subnet:
        """An IPv4 subnet (DHCP) or an IPv6 /64 (SLAAC: router advertisements,
        addresses from MACs). ``gateway_ip=None`` means no gateway."""
        with self.store.locked():
            old = self.store.load()
            net = self._get(old.networks, network_id, E.NetworkNotFound)
            sid = _new_id(subnet_id)
            if sid in old.subnets:
                raise E.Conflict(f"subnet {sid} already exists")
            if ip_version not in (None, 4, 6):
                raise E.InvalidInput(f"ip_version must be 4 or 6, not {ip_version!r}")
            network = ipam.parse_cidr(cidr, ip_version)
            version = network.version
            if version == 6:
                for mode_name, mode in (("ipv6_address_mode", ipv6_address_mode), ("ipv6_ra_mode", ipv6_ra_mode)):
                    if mode not in (None, "slaac"):
                        raise E.UnsupportedFeature(
                            f"{mode_name} {mode!r} is not supported by the reference cloud: IPv6 subnets are SLAAC")
                if network.prefixlen != 64:
                    raise E.InvalidInput(f"IPv6 subnet {network} must be a /64: SLAAC addresses are "
                                         "formed from a /64 prefix and the port's MAC")
                if net.mtu < ipam.MIN_MTU_IPV6:
                    raise E.InvalidInput(f"network {network_id} has MTU {net.mtu}; IPv6 needs at least 1280")
            elif ipv6_address_mode is not None or ipv6_ra_mode is not None:
                raise E.InvalidInput("ipv6_address_mode and ipv6_ra_mode are for IPv6 subnets only")
            if gateway_ip is AUTO:
                gateway = ipam.first_host(network)
            elif gateway_ip is None:
                gateway = None
            else:
                gateway = ipam.parse_address(gateway_ip, "gateway_ip")
                ipam.check_host_address(network, gateway, "gateway_ip")
            if allocation_pools is None:
                pools = ipam.default_pools(network, gateway)
            else:
                pools = []
                for pool in allocation_pools:
                    if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
                        raise E.InvalidInput(f"allocation pool {pool!r} needs exactly 'start' and 'end'")
                    pools.append((ipam.parse_address(pool["start"], "pool start"),
                                  ipam.parse_address(pool["end"], "pool end")))
                ipam.check_pools(network, pools, gateway)
            dns = self._check_dns(dns_nameservers)
            routes = self._check_host_routes(host_routes, version)
            ipam.check_no_overlap(network, ((s.id, ipaddress.ip_network(s.cidr)) for s in old.subnets_of(network_id)),
                                  f"on network {network_id}")
            if net.external:
                self._check_external_subnet(old, network, gateway)
            subnet = Subnet(
                id=sid, name=str(name), project_id=net.project_id if project_id is None else str(project_id),
                network_id=network_id, ip_version=version, cidr=str(network),
                gateway_ip=str(gateway) if gateway is not None else None, enable_dhcp=bool(enable_dhcp),
                dns_nameservers=dns, host_routes=routes,
                allocation_pools=[AllocationPool(str(a), str(b)) for a, b in pools],
                ipv6_address_mode="slaac" if version == 6 else None,
                ipv6_ra_mode="slaac" if version == 6 else None,
            )
            new = old.copy()
            new.subnets[sid] = subnet
            scope = Scope(networks={network_id}, filters=True)
            if version == 6:
                # every port of the network gets its SLAAC address in the new prefix
                for port in new.ports_of(network_id):
                    if port.device_owner == OWNER_ROUTER_INTERFACE:
                        continue
                    port.fixed_ips.append(FixedIP(sid, str(ipam.eui64_address(network, port.mac_address))))
                    scope.ports.add(port.id)
            if not net.external and subnet.enable_dhcp:
                self._ensure_dhcp_port(new, net, subnet)
            if net.external:
                scope.externals.add(network_id)
                scope.routers |= {r.id for r in new.routers.values() if r.gateway_network_id == network_id}
            self._commit(old, new, scope)
            return _copy(subnet)

    def update_subnet(
        self,
        subnet_id: str,
        *,
        name: str = UNSET,
        gateway_ip: str | None = UNSET,
        enable_dhcp: bool = UNSET,
        dns_nameservers: Sequence[str] = UNSET,
        host_routes: Sequence[dict] = UNSET,
        allocation_pools: Sequence[dict] = UNSET,
    ) -> Subnet:
        """Change a subnet's name, gateway, DHCP, DNS servers, host routes or
        allocation pools. A gateway a router interface holds cannot move."""
        with self.store.locked():
            old = self.store.load()
            self._get(old.subnets, subnet_id, E.SubnetNotFound)
            new = old.copy()
            subnet = new.subnets[subnet_id]
            net = new.networks[subnet.network_id]
            network = ipaddress.ip_network(subnet.cidr)
            if name is not UNSET:
                subnet.name = str(name)
            gateway = ipaddress.ip_address(subnet.gateway_ip) if subnet.gateway_ip else None
            if gateway_ip is not UNSET:
                wanted = None if gateway_ip is None else ipam.parse_address(gateway_ip, "gateway_ip")
                if wanted != gateway:
                    if net.external:
                        raise E.UnsupportedFeature(f"the gateway of external subnet {subnet_id} is the machine's "
                                                   "address; it cannot be changed")
                    if self._gateway_taken(old, subnet, ""):
                        raise E.SubnetInUse(f"the gateway {subnet.gateway_ip} of subnet {subnet_id} is used by a "
                                            "router interface; remove it first")
                    if wanted is not None:
                        ipam.check_host_address(network, wanted, "gateway_ip")
                        if wanted in self._used(old, subnet) - ({gateway} if gateway else set()):
                            raise E.IpAddressInUse(f"IP address {wanted} is already allocated in subnet {subnet_id}")
                    gateway = wanted
                    subnet.gateway_ip = str(wanted) if wanted is not None else None
            if allocation_pools is not UNSET:
                pools = []
                for pool in allocation_pools or ():
                    if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
                        raise E.InvalidInput(f"allocation pool {pool!r} needs exactly 'start' and 'end'")
                    pools.append((ipam.parse_address(pool["start"], "pool start"),
                                  ipam.parse_address(pool["end"], "pool end")))
                ipam.check_pools(network, pools, gateway)
                subnet.allocation_pools = [AllocationPool(str(a), str(b)) for a, b in pools]
            elif gateway_ip is not UNSET:
                ipam.check_pools(network, self._pools(subnet), gateway)
            if dns_nameservers is not UNSET:
                subnet.dns_nameservers = self._check_dns(dns_nameservers or ())
            if host_routes is not UNSET:
                subnet.host_routes = self._check_host_routes(host_routes or (), subnet.ip_version)
            scope = Scope(networks={net.id}, filters=True)
            if enable_dhcp is not UNSET and bool(enable_dhcp) != subnet.enable_dhcp:
                subnet.enable_dhcp = bool(enable_dhcp)
                dhcp = new.dhcp_port(net.id)
                if subnet.enable_dhcp and not net.external:
                    self._ensure_dhcp_port(new, net, subnet)
                    scope.ports.add(new.dhcp_port(net.id).id)
                elif dhcp is not None:
                    scope.ports.add(dhcp.id)
                    if not any(s.enable_dhcp for s in new.subnets_of(net.id)):
                        del new.ports[dhcp.id]
                    elif subnet.ip_version == 4:
                        dhcp.fixed_ips = [f for f in dhcp.fixed_ips if f.subnet_id != subnet_id]
            if net.external:
                scope.externals.add(net.id)
            self._commit(old, new, scope)
            return _copy(subnet)

    def _check_dns(self, servers: Iterable[str]) -> list[str]:
        result = [str(ipam.parse_address(s, "DNS nameserver")) for s in servers]
        if len(result) > ipam.MAX_DNS_NAMESERVERS:
            raise E.InvalidInput(f"at most {ipam.MAX_DNS_NAMESERVERS} DNS nameservers per subnet")
        if len(set(result)) != len(result):
            raise E.InvalidInput(f"duplicate DNS nameserver in {result}")
        return result

    def _check_host_routes(self, routes: Iterable[dict], version: int) -> list[HostRoute]:
        result = []
        for route in routes:
            if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
                raise E.InvalidInput(f"host route {route!r} needs exactly 'destination' and 'nexthop'")
            try:
                dest = ipaddress.ip_network(str(route["destination"]), strict=True)
            except ValueError as exc:
                raise E.InvalidInput(f"invalid host route destination {route['destination']!r}: {exc}") from None
            hop = ipam.parse_address(route["nexthop"], "host route nexthop")
            if dest.version != version or hop.version != version:
                raise E.InvalidInput(f"host route {route} is not IPv{version} like its subnet")
            result.append(HostRoute(str(dest), str(hop)))
        if len(result) > ipam.MAX_HOST_ROUTES:
            raise E.InvalidInput(f"at most {ipam.MAX_HOST_ROUTES} host routes per subnet")
        return result

    def _check_external_subnet(self, state: State, network, gateway) -> None:
        if gateway is None:
            raise E.InvalidInput("an external subnet needs a gateway: the machine itself takes that address")
        for other in state.subnets.values():
            if state.networks[other.network_id].external and ipaddress.ip_network(other.cidr).overlaps(network):
                raise E.SubnetOverlap(f"external subnet {network} overlaps external subnet {other.cidr} "
                                      f"({other.id}); the machine routes to both")
        ours = self.names
        for name, addrs in self.kernel.addresses(None).items():
            if ours.is_our_root_link(name):
                continue
            for addr in addrs:
                iface = ipaddress.ip_interface(addr)
                if iface.version == network.version and (iface.ip in network or iface.network.overlaps(network)):
                    raise E.ExternalNetworkConflict(
                        f"external subnet {network} overlaps {addr} on the machine's interface {name}; "
                        "choose a range the machine does not use (e.g. 203.0.113.0/24 or 198.18.64.0/18)")

    def _ensure_dhcp_port(self, state: State, net: Network, subnet: Subnet) -> None:
        port = state.dhcp_port(net.id)
        if port is None:
            port = Port(
                id=str(uuid.uuid4()), name="", project_id=net.project_id, network_id=net.id,
                mac_address=ipam.random_mac(self._macs(state)), fixed_ips=[], device_owner=OWNER_DHCP,
                device_id=f"dhcp-{net.id}", security_groups=[], port_security_enabled=False,
                index=self._port_index(state),
            )
            for other in state.subnets_of(net.id):
                if other.ip_version == 6 and other.id != subnet.id:
                    port.fixed_ips.append(FixedIP(other.id, str(ipam.eui64_address(other.cidr, port.mac_address))))
            state.ports[port.id] = port
        if any(f.subnet_id == subnet.id for f in port.fixed_ips):
            return
        if subnet.ip_version == 4:
            address = ipam.allocate_address(self._pools(subnet), self._used(state, subnet), subnet.id)
        else:
            address = ipam.eui64_address(subnet.cidr, port.mac_address)
        port.fixed_ips.append(FixedIP(subnet.id, str(address)))

    def delete_subnet(self, subnet_id: str) -> None:
        with self.store.locked():
            old = self.store.load()
            subnet = self._get(old.subnets, subnet_id, E.SubnetNotFound)
            net = old.networks[subnet.network_id]
            blocking = []
            for port in old.ports_on_subnet(subnet_id):
                if port.device_owner == OWNER_DHCP:
                    continue
                if subnet.ip_version == 6 and port.device_owner != OWNER_ROUTER_INTERFACE:
                    continue  # an automatic SLAAC address: removed with the subnet
                blocking.append(port)
            if blocking:
                raise E.SubnetInUse(
                    f"subnet {subnet_id} has addresses in use by port(s) "
                    + ", ".join(f"{p.id} ({p.device_owner or 'compute'})" for p in blocking[:5])
                    + ("; remove the router interface first" if any(p.device_owner == OWNER_ROUTER_INTERFACE
                                                                   for p in blocking) else ""))
            network = ipaddress.ip_network(subnet.cidr)
            fips = [f for f in old.floating_ips.values() if ipaddress.ip_address(f.floating_ip_address) in network]
            if fips:
                raise E.SubnetInUse(f"subnet {subnet_id} has {len(fips)} floating IP(s)")
            new = old.copy()
            scope = Scope(networks={net.id}, filters=True)
            for port in new.ports_on_subnet(subnet_id):
                port.fixed_ips = [f for f in port.fixed_ips if f.subnet_id != subnet_id]
                scope.ports.add(port.id)
            dhcp = new.dhcp_port(net.id)
            if dhcp is not None and not any(s.enable_dhcp for s in new.subnets_of(net.id) if s.id != subnet_id):
                del new.ports[dhcp.id]
            del new.subnets[subnet_id]
            if net.external:
                scope.externals.add(net.id)
                scope.routers |= {r.id for r in new.routers.values() if r.gateway_network_id == net.id}
            self._commit(old, new, scope)

    # ------------------------------------------------------------------ IPAM helpers
    @staticmethod
    def _pools(subnet: Subnet):
        return [(ipaddress.ip_address(p.start), ipaddress.ip_address(p.end)) for p in subnet.allocation_pools]

    @staticmethod
    def _used(state: State, subnet: Subnet, *, exclude_port: str | None = None) -> set:
        used = set()
        for port in state.ports_on_subnet(subnet.id):
            if port.id == exclude_port:
                continue
            used |= {ipaddress.ip_address(f.ip_address) for f in port.fixed_ips if f.subnet_id == subnet.id}
        network = ipaddress.ip_network(subnet.cidr)
        for fip in state.floating_ips.values():
            address = ipaddress.ip_address(fip.floating_ip_address)
            if address in network:
                used.add(address)
        if subnet.gateway_ip:
            used.add(ipaddress.ip_address(subnet.gateway_ip))
        return used

    @staticmethod
    def _macs(state: State) -> set[str]:
        return {p.mac_address for p in state.ports.values()}

    @staticmethod
    def _port_index(state: State) -> int:
        try:
            return free_index(state.used_indexes(state.ports.values()), limit=MAX_PORT_INDEX)
        except OverflowError:
            raise E.LimitExceeded(f"the reference cloud supports at most {MAX_PORT_INDEX} ports") from None

    def _resolve_fixed_ips(self, state: State, net: Network, requested, mac: str, port_id: str) -> list[FixedIP]:
        subnets = state.subnets_of(net.id)
        result: list[FixedIP] = []
        taken: dict[str, set] = {}

        def used(subnet: Subnet) -> set:
            if subnet.id not in taken:
                taken[subnet.id] = self._used(state, subnet, exclude_port=port_id)
            return taken[subnet.id]

        if requested is None:
            v4 = [s for s in subnets if s.ip_version == 4]
            if v4:
                error = None
                for subnet in v4:
                    try:
                        address = ipam.allocate_address(self._pools(subnet), used(subnet), subnet.id)
                    except E.IpAddressGenerationFailure as exc:
                        error = exc
                        continue
                    result.append(FixedIP(subnet.id, str(address)))
                    break
                else:
                    raise error or E.IpAddressGenerationFailure(f"no free address on network {net.id}")
        else:
            if not isinstance(requested, (list, tuple)):
                raise E.InvalidInput("fixed_ips must be a list of {subnet_id, ip_address} objects")
            for item in requested:
                if not isinstance(item, dict) or not set(item) <= {"subnet_id", "ip_address"} or not item:
                    raise E.InvalidInput(f"invalid fixed_ips entry {item!r}: give subnet_id, ip_address or both")
                subnet = None
                if item.get("subnet_id") is not None:
                    subnet = state.subnets.get(item["subnet_id"])
                    if subnet is None:
                        raise E.SubnetNotFound(str(item["subnet_id"]))
                    if subnet.network_id != net.id:
                        raise E.InvalidInput(f"subnet {subnet.id} is not on network {net.id}")
                if item.get("ip_address") is not None:
                    address = ipam.parse_address(item["ip_address"], "fixed IP address")
                    if subnet is None:
                        subnet = next((s for s in subnets if address in ipaddress.ip_network(s.cidr)), None)
                        if subnet is None:
                            raise E.InvalidIpForSubnet(
                                f"IP address {address} is not in any subnet of network {net.id} "
                                f"({', '.join(s.cidr for s in subnets) or 'it has no subnets'})")
                    network = ipaddress.ip_network(subnet.cidr)
                    ipam.check_host_address(network, address, "IP address", subnet.id)
                    if subnet.ip_version == 6:
                        expected = ipam.eui64_address(network, mac)
                        if address != expected:
                            raise E.InvalidInput(
                                f"IPv6 address {address} cannot be assigned on SLAAC subnet {subnet.id}: "
                                f"a port's address there is computed from its MAC ({expected})")
                    if subnet.gateway_ip and address == ipaddress.ip_address(subnet.gateway_ip):
                        raise E.IpAddressInUse(f"IP address {address} is the gateway of subnet {subnet.id} "
                                               "(reserved for a router interface)")
                    if address in used(subnet):
                        raise E.IpAddressInUse(f"IP address {address} is already allocated in subnet {subnet.id}")
                elif subnet is None:
                    raise E.InvalidInput(f"invalid fixed_ips entry {item!r}")
                elif subnet.ip_version == 6:
                    address = ipam.eui64_address(subnet.cidr, mac)
                else:
                    address = ipam.allocate_address(self._pools(subnet), used(subnet), subnet.id)
                if any(f.ip_address == str(address) for f in result):
                    raise E.InvalidInput(f"IP address {address} is requested twice")
                if subnet.ip_version == 4 and any(f.subnet_id == subnet.id for f in result):
                    raise E.InvalidInput(f"a port takes one address per IPv4 subnet ({subnet.id} twice)")
                used(subnet).add(address)
                result.append(FixedIP(subnet.id, str(address)))
        # SLAAC: a port has an address in every IPv6 subnet of its network
        for subnet in subnets:
            if subnet.ip_version == 6 and not any(f.subnet_id == subnet.id for f in result):
                result.append(FixedIP(subnet.id, str(ipam.eui64_address(subnet.cidr, mac))))
        return result

    @staticmethod
    def _gateway_taken(state: State, subnet: Subnet, port_id: str) -> bool:
        return any(f.subnet_id == subnet.id and f.ip_address == subnet.gateway_ip
                   for p in state.ports.values() if p.id != port_id for f in p.fixed_ips)

    # ------------------------------------------------------------------ ports
    def create_port(
        self,
        network_id: str,
        *,
        name: str = "",
        project_id: str | None = None,
        mac_address: str | None = None,
        fixed_ips: Sequence[dict] | None = None,
        security_groups: Sequence[str] | None = None,
        port_security_enabled: bool = True,
        device_owner: str = "",
        device_id: str = "",
        binding_host: str | None = None,
        binding_kind: str = BINDING_TAP,
        port_id: str | None = None,
    ) -> Port:
        """A VM port. ``fixed_ips``: ``[{"subnet_id": ..., "ip_address": ...}]``
        (either key may be left out); by default one IPv4 address from the first
        IPv4 subnet with room, plus the SLAAC address of every IPv6 subnet.
        With ``binding_host`` (a compute host) the port's device is made there:
        a tap for QEMU (``binding_kind="tap"``) or a test endpoint namespace
        (``"endpoint"``, see :meth:`attach_test_endpoint`)."""
        with self.store.locked():
            old = self.store.load()
            net = self._get(old.networks, network_id, E.NetworkNotFound)
            if net.external:
                raise E.UnsupportedFeature(f"network {network_id} is external: the reference cloud attaches "
                                           "VMs to tenant networks only (use a floating IP)")
            pid = _new_id(port_id)
            if pid in old.ports:
                raise E.Conflict(f"port {pid} already exists")
            tap = self.names.tap(pid)
            clash = next((p for p in old.ports.values() if self.names.tap(p.id) == tap), None)
            if clash is not None:
                raise E.Conflict(f"port id {pid} would share the device name {tap} with port {clash.id}; "
                                 "port ids must differ in their first 11 characters (UUIDs do)")
            if device_owner.startswith("network:"):
                raise E.InvalidInput(f"device_owner {device_owner!r} is reserved for the network service")
            mac = ipam.normalize_mac(mac_address) if mac_address is not None else ipam.random_mac(self._macs(old))
            if any(p.mac_address == mac for p in old.ports_of(network_id)):
                raise E.MacAddressInUse(f"MAC address {mac} is already in use on network {network_id}")
            groups = self._check_groups(old, security_groups, port_security_enabled)
            host, kind = self._check_binding(binding_host, binding_kind)
            port = Port(
                id=pid, name=str(name), project_id=net.project_id if project_id is None else str(project_id),
                network_id=network_id, mac_address=mac,
                fixed_ips=self._resolve_fixed_ips(old, net, fixed_ips, mac, pid),
                device_owner=str(device_owner), device_id=str(device_id), security_groups=groups,
                port_security_enabled=bool(port_security_enabled), index=self._port_index(old),
                binding_host=host, binding_kind=kind,
            )
            new = old.copy()
            new.ports[pid] = port
            self._commit(old, new, Scope(networks={network_id}, ports={pid}, filters=True))
            return _copy(port)

    def _check_groups(self, state: State, groups, port_security_enabled: bool) -> list[str]:
        if groups is None:
            return []
        if isinstance(groups, str) or not isinstance(groups, (list, tuple)):
            raise E.InvalidInput("security_groups must be a list of security group ids")
        result = []
        for gid in groups:
            self._get(state.security_groups, gid, E.SecurityGroupNotFound)
            if gid not in result:
                result.append(gid)
        if result and not port_security_enabled:
            raise E.InvalidInput("a port without port security cannot have security groups")
        return result

    def _check_binding(self, host, kind) -> tuple[str | None, str | None]:
        if host is None:
            return None, None
        if host not in {h.name for h in self.topology.compute_hosts()}:
            raise E.HostNotFound(str(host), f"{host!r} is not a compute host of the topology "
                                            f"({', '.join(h.name for h in self.topology.compute_hosts())})")
        if kind not in BINDING_KINDS:
            raise E.InvalidInput(f"binding kind {kind!r} is not one of {', '.join(BINDING_KINDS)}")
        return host, kind

    def update_port(
        self,
        port_id: str,
        *,
        name: str = UNSET,
        fixed_ips: Sequence[dict] = UNSET,
        security_groups: Sequence[str] = UNSET,
        port_security_enabled: bool = UNSET,
        binding_host: str | None = UNSET,
        binding_kind: str = UNSET,
        device_id: str = UNSET,
    ) -> Port:
        """Change a port's name, addresses, security groups, port security or
        binding (moving it to another compute host, or unbinding it with None)."""
        with self.store.locked():
            old = self.store.load()
            current = self._get(old.ports, port_id, E.PortNotFound)
            new = old.copy()
            port = new.ports[port_id]
            net = new.networks[port.network_id]
            scope = Scope(networks={port.network_id}, ports={port_id}, filters=True)
            if name is not UNSET:
                port.name = str(name)
            if device_id is not UNSET:
                port.device_id = str(device_id)
            if fixed_ips is not UNSET:
                if current.is_network_owned:
                    raise E.InvalidInput(f"port {port_id} belongs to the network service "
                                         f"({current.device_owner}); its addresses are managed by it")
                port.fixed_ips = self._resolve_fixed_ips(old, net, fixed_ips, port.mac_address, port_id)
                kept = {f.ip_address for f in port.fixed_ips}
                for fip in old.floating_ips.values():
                    if fip.port_id == port_id and fip.fixed_ip_address not in kept:
                        raise E.FloatingIpInUse(f"floating IP {fip.floating_ip_address} maps to "
                                                f"{fip.fixed_ip_address}; disassociate it first")
            pse = port.port_security_enabled if port_security_enabled is UNSET else bool(port_security_enabled)
            groups = port.security_groups if security_groups is UNSET else security_groups
            if security_groups is not UNSET or port_security_enabled is not UNSET:
                if port_security_enabled is False and security_groups is UNSET and port.security_groups:
                    raise E.InvalidInput("a port without port security cannot have security groups; "
                                         "remove them in the same request (security_groups=[])")
                port.security_groups = self._check_groups(old, groups, pse)
                port.port_security_enabled = pse
            if binding_host is not UNSET or binding_kind is not UNSET:
                if current.is_network_owned:
                    raise E.InvalidInput(f"port {port_id} belongs to the network service; it cannot be bound")
                host = port.binding_host if binding_host is UNSET else binding_host
                kind = (port.binding_kind or BINDING_TAP) if binding_kind is UNSET else binding_kind
                port.binding_host, port.binding_kind = self._check_binding(host, kind)
            self._commit(old, new, scope)
            return _copy(port)

    def delete_port(self, port_id: str) -> None:
        with self.store.locked():
            old = self.store.load()
            port = self._get(old.ports, port_id, E.PortNotFound)
            if port.is_network_owned:
                raise E.Conflict(f"port {port_id} belongs to the network service ({port.device_owner}); "
                                 "remove the router interface or subnet instead")
            new = old.copy()
            scope = Scope(networks={port.network_id}, ports={port_id}, filters=True)
            for fip in new.floating_ips.values():
                if fip.port_id == port_id:
                    scope.routers.add(fip.router_id)
                    scope.externals.add(fip.floating_network_id)
                    fip.port_id = fip.fixed_ip_address = fip.router_id = None
            del new.ports[port_id]
            self._commit(old, new, scope)

    def tap_name(self, port_id: str) -> str:
        """The tap device of a port bound with ``binding_kind="tap"``, in its
        compute host's namespace: what QEMU opens (``-netdev tap,ifname=…,script=no``)."""
        return self.names.tap(port_id)

    # ------------------------------------------------------------------ test endpoints
    def attach_test_endpoint(self, port_id: str, host: str) -> "TestEndpoint":
        """Bind a port to ``host`` as a test endpoint: a namespace standing in
        for a VM, its ``eth0`` (with the port's MAC) a veth into the host's
        tenant bridge, filtered like a tap. Configure it with
        :meth:`TestEndpoint.dhcp` and :meth:`TestEndpoint.wait_for_slaac`."""
        from .endpoint import TestEndpoint

        self.update_port(port_id, binding_host=host, binding_kind="endpoint")
        return TestEndpoint(self, port_id)

    # ------------------------------------------------------------------ routers
    def create_router(
        self,
        name: str = "",
        *,
        project_id: str = "",
        external_network_id: str | None = None,
        enable_snat: bool = True,
        router_id: str | None = None,
    ) -> Router:
        with self.store.locked():
            old = self.store.load()
            rid = _new_id(router_id)
            if rid in old.routers:
                raise E.Conflict(f"router {rid} already exists")
            new = old.copy()
            router = Router(rid, str(name), str(project_id), free_index(old.used_indexes(old.routers.values())),
                            enable_snat=bool(enable_snat))
            new.routers[rid] = router
            scope = Scope(routers={rid})
            if external_network_id is not None:
                self._set_gateway(new, router, external_network_id, scope)
            self._commit(old, new, scope)
            return _copy(router)

    def update_router(self, router_id: str, *, name: str = UNSET, routes: Sequence[dict] = UNSET) -> Router:
        """Rename a router or replace its extra routes (``[{"destination",
        "nexthop"}]``; each nexthop must be on one of the router's subnets)."""
        with self.store.locked():
            old = self.store.load()
            new = old.copy()
            router = self._get(new.routers, router_id, E.RouterNotFound)
            if name is not UNSET:
                router.name = str(name)
            if routes is UNSET:
                self.store.save(new)
                return _copy(router)
            router.routes = self._check_router_routes(new, router_id, routes)
            self._commit(old, new, Scope(routers={router_id}))
            return _copy(router)

    def _check_router_routes(self, state: State, router_id: str, routes) -> list[HostRoute]:
        if isinstance(routes, (str, dict)) or not isinstance(routes, (list, tuple)):
            raise E.InvalidInput("routes must be a list of {destination, nexthop} objects")
        if len(routes) > MAX_ROUTER_ROUTES:
            raise E.InvalidInput(f"at most {MAX_ROUTER_ROUTES} extra routes per router")
        connected = [ipaddress.ip_network(state.subnets[f.subnet_id].cidr)
                     for p in state.router_interfaces(router_id) for f in p.fixed_ips if f.subnet_id in state.subnets]
        result: list[HostRoute] = []
        for route in routes:
            if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
                raise E.InvalidInput(f"route {route!r} needs exactly 'destination' and 'nexthop'")
            try:
                dest = ipaddress.ip_network(str(route["destination"]), strict=False)
            except ValueError as exc:
                raise E.InvalidInput(f"invalid route destination {route['destination']!r}: {exc}") from None
            hop = ipam.parse_address(route["nexthop"], "route nexthop")
            if dest.prefixlen == 0:
                raise E.InvalidInput(f"route {route}: the default route is the router's gateway; "
                                     "extra routes must be more specific")
            if dest.version != hop.version:
                raise E.InvalidInput(f"route {route}: destination and nexthop are of different IP versions")
            if not any(hop.version == n.version and hop in n for n in connected):
                raise E.InvalidInput(f"the nexthop {hop} is not on a subnet of router {router_id}")
            if any(hop == ipaddress.ip_address(f.ip_address)
                   for p in state.router_interfaces(router_id) for f in p.fixed_ips):
                raise E.InvalidInput(f"the nexthop {hop} is the router's own address")
            entry = HostRoute(str(dest), str(hop))
            if entry not in result:
                result.append(entry)
        return result

    def set_router_gateway(self, router_id: str, external_network_id: str | None, *,
                           enable_snat: bool = True) -> Router:
        """Set (or with None, clear) the router's gateway on an external network."""
        with self.store.locked():
            old = self.store.load()
            self._get(old.routers, router_id, E.RouterNotFound)
            new = old.copy()
            router = new.routers[router_id]
            scope = Scope(routers={router_id})
            if router.gateway_network_id is not None and external_network_id != router.gateway_network_id:
                fips = [f for f in new.floating_ips.values() if f.router_id == router_id]
                if fips:
                    raise E.RouterInUse(f"router {router_id}'s gateway is used by floating IP(s) "
                                        + ", ".join(f.floating_ip_address for f in fips))
                scope.externals.add(router.gateway_network_id)
                del new.ports[router.gateway_port_id]
                router.gateway_network_id = router.gateway_port_id = None
            router.enable_snat = bool(enable_snat)
            if external_network_id is not None and router.gateway_network_id is None:
                self._set_gateway(new, router, external_network_id, scope)
            self._commit(old, new, scope)
            return _copy(router)

    def _set_gateway(self, state: State, router: Router, network_id: str, scope: Scope) -> None:
        net = self._get(state.networks, network_id, E.NetworkNotFound)
        if not net.external:
            raise E.InvalidInput(f"network {network_id} is not external; a router's gateway must be")
        subnets = state.subnets_of(network_id)
        if not any(s.ip_version == 4 for s in subnets):
            raise E.InvalidInput(f"external network {network_id} has no IPv4 subnet for the router's gateway")
        mac = ipam.random_mac(self._macs(state))
        pid = str(uuid.uuid4())
        fixed, have_v4 = [], False
        for subnet in subnets:
            if subnet.ip_version == 4:
                if have_v4:
                    continue
                have_v4 = True
                address = ipam.allocate_address(self._pools(subnet), self._used(state, subnet), subnet.id)
            else:
                address = ipam.eui64_address(subnet.cidr, mac)
            fixed.append(FixedIP(subnet.id, str(address)))
        state.ports[pid] = Port(pid, "", router.project_id, network_id, mac, fixed, OWNER_ROUTER_GATEWAY,
                                router.id, [], False, self._port_index(state))
        router.gateway_network_id, router.gateway_port_id = network_id, pid
        scope.externals.add(network_id)

    def add_router_interface(self, router_id: str, *, subnet_id: str | None = None,
                             port_id: str | None = None) -> RouterInterfaceInfo:
        """Attach a subnet (the router takes its gateway address) or an unbound
        port (the router takes its addresses) to the router."""
        with self.store.locked():
            old = self.store.load()
            self._get(old.routers, router_id, E.RouterNotFound)
            if (subnet_id is None) == (port_id is None):
                raise E.InvalidInput("give exactly one of subnet_id and port_id")
            new = old.copy()
            router = new.routers[router_id]
            attached = {f.subnet_id for p in new.router_interfaces(router_id) for f in p.fixed_ips}
            if subnet_id is not None:
                subnet = self._get(new.subnets, subnet_id, E.SubnetNotFound)
                candidates = [subnet]
            else:
                leg = self._get(new.ports, port_id, E.PortNotFound)
                if leg.device_owner or leg.binding_host:
                    raise E.Conflict(f"port {port_id} is in use ({leg.device_owner or 'bound to ' + leg.binding_host})")
                if not leg.fixed_ips:
                    raise E.InvalidInput(f"port {port_id} has no fixed IP addresses")
                candidates = [new.subnets[f.subnet_id] for f in leg.fixed_ips]
            for subnet in candidates:
                net = new.networks[subnet.network_id]
                if net.external:
                    raise E.InvalidInput(f"subnet {subnet.id} is on an external network; use set_router_gateway")
                if subnet.id in attached:
                    raise E.RouterInterfaceInUse(f"router {router_id} already has an interface on subnet {subnet.id}")
                ipam.check_no_overlap(
                    ipaddress.ip_network(subnet.cidr),
                    ((s, ipaddress.ip_network(new.subnets[s].cidr)) for s in attached),
                    f"already attached to router {router_id}")
            if subnet_id is not None:
                subnet = candidates[0]
                if not subnet.gateway_ip:
                    raise E.InvalidInput(f"subnet {subnet_id} has no gateway_ip for the router to take")
                if self._gateway_taken(new, subnet, ""):
                    raise E.IpAddressInUse(f"the gateway {subnet.gateway_ip} of subnet {subnet_id} is "
                                           "already used by another port")
                leg = next((p for p in new.router_interfaces(router_id) if p.network_id == subnet.network_id), None)
                if leg is None:
                    mac = ipam.random_mac(self._macs(new))
                    leg = Port(str(uuid.uuid4()), "", router.project_id, subnet.network_id, mac, [],
                               OWNER_ROUTER_INTERFACE, router_id, [], False, self._port_index(new))
                    new.ports[leg.id] = leg
                leg.fixed_ips.append(FixedIP(subnet.id, subnet.gateway_ip))
            else:
                leg.device_owner, leg.device_id = OWNER_ROUTER_INTERFACE, router_id
                leg.security_groups, leg.port_security_enabled = [], False
            scope = Scope(networks={leg.network_id}, routers={router_id}, ports={leg.id}, filters=True)
            if router.gateway_network_id:
                scope.externals.add(router.gateway_network_id)
            self._commit(old, new, scope)
            first = candidates[0]
            return RouterInterfaceInfo(router_id, leg.id, first.id, tuple(s.id for s in candidates),
                                       leg.network_id, router.project_id)

    def remove_router_interface(self, router_id: str, *, subnet_id: str | None = None,
                                port_id: str | None = None) -> RouterInterfaceInfo:
        with self.store.locked():
            old = self.store.load()
            self._get(old.routers, router_id, E.RouterNotFound)
            if (subnet_id is None) == (port_id is None):
                raise E.InvalidInput("give exactly one of subnet_id and port_id")
            new = old.copy()
            legs = new.router_interfaces(router_id)
            if port_id is not None:
                leg = next((p for p in legs if p.id == port_id), None)
                if leg is None:
                    raise E.RouterInterfaceNotFound(port_id, f"router {router_id} has no interface port {port_id}")
                removed = [f.subnet_id for f in leg.fixed_ips]
            else:
                leg = next((p for p in legs if any(f.subnet_id == subnet_id for f in p.fixed_ips)), None)
                if leg is None:
                    raise E.RouterInterfaceNotFound(
                        str(subnet_id), f"router {router_id} has no interface on subnet {subnet_id}")
                removed = [subnet_id]
            for fip in new.floating_ips.values():
                if fip.router_id == router_id and fip.fixed_ip_address:
                    fixed_subnets = {f.subnet_id for p in new.ports.values() if p.id == fip.port_id
                                     for f in p.fixed_ips if f.ip_address == fip.fixed_ip_address}
                    if fixed_subnets & set(removed):
                        raise E.RouterInterfaceInUse(
                            f"floating IP {fip.floating_ip_address} reaches {fip.fixed_ip_address} through this "
                            "interface; disassociate it first")
            gone = [ipaddress.ip_network(new.subnets[s].cidr) for s in removed if s in new.subnets]
            used = [r for r in new.routers[router_id].routes
                    if any(ipaddress.ip_address(r.nexthop) in n for n in gone
                           if n.version == ipaddress.ip_address(r.nexthop).version)]
            if used:
                listed = ", ".join(f"{r.destination} via {r.nexthop}" for r in used)
                raise E.RouterInterfaceInUseByRoute(
                    f"router {router_id}'s extra route(s) {listed} go through this interface; remove them first")
            leg.fixed_ips = [f for f in leg.fixed_ips if f.subnet_id not in removed]
            if not leg.fixed_ips or port_id is not None:
                del new.ports[leg.id]
            router = new.routers[router_id]
            scope = Scope(networks={leg.network_id}, routers={router_id}, ports={leg.id}, filters=True)
            if router.gateway_network_id:
                scope.externals.add(router.gateway_network_id)
            self._commit(old, new, scope)
            return RouterInterfaceInfo(router_id, leg.id, removed[0], tuple(removed), leg.network_id,
                                       router.project_id)

    def delete_router(self, router_id: str) -> None:
        with self.store.locked():
            old = self.store.load()
            router = self._get(old.routers, router_id, E.RouterNotFound)
            legs = old.router_interfaces(router_id)
            if legs:
                raise E.RouterInUse(f"router {router_id} still has {len(legs)} interface(s); remove them first")
            new = old.copy()
            scope = Scope(routers={router_id})
            if router.gateway_port_id:
                del new.ports[router.gateway_port_id]
                scope.externals.add(router.gateway_network_id)
            del new.routers[router_id]
            self._commit(old, new, scope)

    # ------------------------------------------------------------------ floating IPs
    def create_floating_ip(
        self,
        floating_network_id: str,
        *,
        project_id: str = "",
        floating_ip_address: str | None = None,
        port_id: str | None = None,
        fixed_ip_address: str | None = None,
        floating_ip_id: str | None = None,
    ) -> FloatingIP:
        with self.store.locked():
            old = self.store.load()
            net = self._get(old.networks, floating_network_id, E.NetworkNotFound)
            if not net.external:
                raise E.InvalidInput(f"network {floating_network_id} is not external")
            fid = _new_id(floating_ip_id)
            if fid in old.floating_ips:
                raise E.Conflict(f"floating IP {fid} already exists")
            v4 = [s for s in old.subnets_of(floating_network_id) if s.ip_version == 4]
            if not v4:
                raise E.InvalidInput(f"external network {floating_network_id} has no IPv4 subnet")
            if floating_ip_address is not None:
                address = ipam.parse_address(floating_ip_address, "floating IP address")
                subnet = next((s for s in v4 if address in ipaddress.ip_network(s.cidr)), None)
                if subnet is None:
                    raise E.InvalidIpForSubnet(f"{address} is not in any subnet of external network "
                                               f"{floating_network_id}")
                ipam.check_host_address(ipaddress.ip_network(subnet.cidr), address, "floating IP address")
                if address in self._used(old, subnet):
                    raise E.IpAddressInUse(f"IP address {address} is already allocated in subnet {subnet.id}")
            else:
                error = None
                for subnet in v4:
                    try:
                        address = ipam.allocate_address(self._pools(subnet), self._used(old, subnet), subnet.id)
                        break
                    except E.IpAddressGenerationFailure as exc:
                        error = exc
                else:
                    raise error
            new = old.copy()
            fip = FloatingIP(fid, str(project_id), floating_network_id, str(address))
            new.floating_ips[fid] = fip
            scope = Scope(externals={floating_network_id})
            if port_id is not None:
                self._associate(new, fip, port_id, fixed_ip_address)
                scope.routers.add(fip.router_id)
            self._commit(old, new, scope)
            return _copy(fip)

    def _associate(self, state: State, fip: FloatingIP, port_id: str, fixed_ip_address: str | None) -> None:
        port = self._get(state.ports, port_id, E.PortNotFound)
        if port.is_network_owned:
            raise E.InvalidInput(f"port {port_id} belongs to the network service ({port.device_owner})")
        v4 = [f for f in port.fixed_ips if ":" not in f.ip_address]
        if fixed_ip_address is not None:
            fixed = next((f for f in v4 if f.ip_address == str(ipam.parse_address(fixed_ip_address))), None)
            if fixed is None:
                raise E.InvalidInput(f"port {port_id} has no IPv4 address {fixed_ip_address}")
        elif not v4:
            raise E.InvalidInput(f"port {port_id} has no IPv4 address for a floating IP")
        else:
            fixed = v4[0]
        router = next((r for r in sorted(state.routers.values(), key=lambda r: r.index)
                       if r.gateway_network_id == fip.floating_network_id
                       and any(f.subnet_id == fixed.subnet_id for p in state.router_interfaces(r.id)
                               for f in p.fixed_ips)), None)
        if router is None:
            raise E.ExternalGatewayNotFound(
                fip.floating_network_id,
                f"external network {fip.floating_network_id} is not reachable from subnet {fixed.subnet_id}: "
                f"no router with a gateway on it has an interface on that subnet")
        for other in state.floating_ips.values():
            if other.id != fip.id and other.port_id == port_id and other.fixed_ip_address == fixed.ip_address:
                raise E.FloatingIpInUse(f"{fixed.ip_address} of port {port_id} already has floating IP "
                                        f"{other.floating_ip_address}")
        fip.port_id, fip.fixed_ip_address, fip.router_id = port_id, fixed.ip_address, router.id

    def update_floating_ip(self, floating_ip_id: str, *, port_id: str | None,
                           fixed_ip_address: str | None = None) -> FloatingIP:
        """Associate with a port (its fixed IPv4 address) or, with None, disassociate."""
        with self.store.locked():
            old = self.store.load()
            self._get(old.floating_ips, floating_ip_id, E.FloatingIPNotFound)
            new = old.copy()
            fip = new.floating_ips[floating_ip_id]
            scope = Scope(externals={fip.floating_network_id})
            if fip.router_id:
                scope.routers.add(fip.router_id)
            fip.port_id = fip.fixed_ip_address = fip.router_id = None
            if port_id is not None:
                self._associate(new, fip, port_id, fixed_ip_address)
                scope.routers.add(fip.router_id)
            self._commit(old, new, scope)
            return _copy(fip)

    def delete_floating_ip(self, floating_ip_id: str) -> None:
        with self.store.locked():
            old = self.store.load()
            fip = self._get(old.floating_ips, floating_ip_id, E.FloatingIPNotFound)
            new = old.copy()
            del new.floating_ips[floating_ip_id]
            scope = Scope(externals={fip.floating_network_id}, routers={fip.router_id} if fip.router_id else set())
            self._commit(old, new, scope)

    # ------------------------------------------------------------------ security groups
    def create_security_group(self, name: str = "", *, project_id: str = "", description: str = "",
                              default_egress: bool = True, group_id: str | None = None) -> SecurityGroup:
        """A security group; like Neutron's, it starts with two rules allowing all
        egress (IPv4 and IPv6), so ingress is denied and egress allowed by default."""
        with self.store.locked():
            old = self.store.load()
            gid = _new_id(group_id)
            if gid in old.security_groups:
                raise E.Conflict(f"security group {gid} already exists")
            new = old.copy()
            group = SecurityGroup(gid, str(name), str(project_id), str(description))
            new.security_groups[gid] = group
            if default_egress:
                for ethertype in (IPV4, IPV6):
                    rid = str(uuid.uuid4())
                    new.security_group_rules[rid] = SecurityGroupRule(rid, gid, str(project_id), EGRESS, ethertype)
            self._commit(old, new, Scope())
            return _copy(group)

    def update_security_group(self, group_id: str, *, name: str = UNSET, description: str = UNSET) -> SecurityGroup:
        """Rename a security group or change its description (bookkeeping only)."""
        with self.store.locked():
            old = self.store.load()
            new = old.copy()
            group = self._get(new.security_groups, group_id, E.SecurityGroupNotFound)
            if name is not UNSET:
                group.name = str(name)
            if description is not UNSET:
                group.description = str(description)
            self.store.save(new)
            return _copy(group)

    def delete_security_group(self, group_id: str) -> None:
        """Refused while a port uses the group; rules of other groups that name it
        as remote group are deleted with it (as Neutron does)."""
        with self.store.locked():
            old = self.store.load()
            self._get(old.security_groups, group_id, E.SecurityGroupNotFound)
            users = old.ports_in_group(group_id)
            if users:
                raise E.SecurityGroupInUse(f"security group {group_id} is in use by port(s) "
                                           + ", ".join(p.id for p in users[:5]))
            new = old.copy()
            for rule in list(new.security_group_rules.values()):
                if rule.security_group_id == group_id or rule.remote_group_id == group_id:
                    del new.security_group_rules[rule.id]
            del new.security_groups[group_id]
            self._commit(old, new, Scope(filters=True))

    def create_security_group_rule(
        self,
        security_group_id: str,
        direction: str,
        *,
        ethertype: str = IPV4,
        protocol: str | int | None = None,
        port_range_min: int | None = None,
        port_range_max: int | None = None,
        remote_ip_prefix: str | None = None,
        remote_group_id: str | None = None,
        project_id: str | None = None,
        rule_id: str | None = None,
    ) -> SecurityGroupRule:
        """Takes effect on every port of the group at once (one atomic nft
        transaction per compute host; nothing restarts)."""
        with self.store.locked():
            old = self.store.load()
            group = self._get(old.security_groups, security_group_id, E.SecurityGroupNotFound)
            rid = _new_id(rule_id)
            if rid in old.security_group_rules:
                raise E.Conflict(f"security group rule {rid} already exists")
            rule = self._check_rule(old, SecurityGroupRule(
                rid, security_group_id, group.project_id if project_id is None else str(project_id),
                direction, ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix, remote_group_id))
            for other in old.rules_of(security_group_id):
                if other.key() == rule.key():
                    raise E.SecurityGroupRuleExists(f"security group rule already exists: rule {other.id}")
            new = old.copy()
            new.security_group_rules[rid] = rule
            self._commit(old, new, Scope(filters=True))
            return _copy(rule)

    def _check_rule(self, state: State, rule: SecurityGroupRule) -> SecurityGroupRule:
        if rule.direction not in (INGRESS, EGRESS):
            raise E.InvalidInput(f"direction {rule.direction!r} is not 'ingress' or 'egress'")
        if rule.ethertype not in (IPV4, IPV6):
            raise E.InvalidInput(f"ethertype {rule.ethertype!r} is not 'IPv4' or 'IPv6'")
        proto = rule.protocol
        if proto in (None, "", "any"):
            proto = None
        elif isinstance(proto, bool):
            raise E.InvalidInput(f"invalid protocol {proto!r}")
        elif isinstance(proto, int) or (isinstance(proto, str) and proto.isdigit()):
            number = int(proto)
            if not 0 <= number <= 255:
                raise E.InvalidInput(f"protocol number {number} is not in 0..255")
            proto = str(number)
        elif isinstance(proto, str) and proto.lower() in PROTOCOLS:
            proto = proto.lower()
            if proto == "icmpv6":
                proto = "ipv6-icmp"
        else:
            raise E.InvalidInput(f"protocol {rule.protocol!r} is not one of {', '.join(PROTOCOLS)}, "
                                 "a number or 'any'")
        if proto in ("ipv6-icmp", "58") and rule.ethertype == IPV4:
            raise E.InvalidInput(f"protocol {proto} is for ethertype IPv6")
        low, high = rule.port_range_min, rule.port_range_max
        for value, what in ((low, "port_range_min"), (high, "port_range_max")):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise E.InvalidInput(f"{what} {value!r} is not an integer")
        if proto in PORT_PROTOCOLS:
            if low is None and high is not None:
                raise E.InvalidInput("port_range_max needs port_range_min")
            if low is not None:
                high = low if high is None else high
                if not (1 <= low <= 65535 and 1 <= high <= 65535):
                    raise E.InvalidInput(f"port range {low}-{high} is not within 1..65535")
                if low > high:
                    raise E.InvalidInput(f"port_range_min {low} is greater than port_range_max {high}")
        elif proto in ICMP_PROTOCOLS:
            if low is None and high is not None:
                raise E.InvalidInput("an ICMP code (port_range_max) needs an ICMP type (port_range_min)")
            for value, what in ((low, "ICMP type"), (high, "ICMP code")):
                if value is not None and not 0 <= value <= 255:
                    raise E.InvalidInput(f"{what} {value} is not in 0..255")
        elif low is not None or high is not None:
            raise E.InvalidInput("port ranges need protocol tcp, udp, sctp or icmp")
        prefix = rule.remote_ip_prefix
        if prefix is not None and rule.remote_group_id is not None:
            raise E.InvalidInput("give remote_ip_prefix or remote_group_id, not both")
        if prefix is not None:
            try:
                network = ipaddress.ip_network(str(prefix), strict=False)
            except ValueError as exc:
                raise E.InvalidInput(f"invalid remote_ip_prefix {prefix!r}: {exc}") from None
            if (network.version == 4) != (rule.ethertype == IPV4):
                raise E.InvalidInput(f"remote_ip_prefix {prefix} does not match ethertype {rule.ethertype}")
            prefix = str(network)
        if rule.remote_group_id is not None:
            self._get(state.security_groups, rule.remote_group_id, E.SecurityGroupNotFound)
        return SecurityGroupRule(rule.id, rule.security_group_id, rule.project_id, rule.direction, rule.ethertype,
                                 proto, low, high, prefix, rule.remote_group_id)

    def delete_security_group_rule(self, rule_id: str) -> None:
        with self.store.locked():
            old = self.store.load()
            self._get(old.security_group_rules, rule_id, E.SecurityGroupRuleNotFound)
            new = old.copy()
            del new.security_group_rules[rule_id]
            self._commit(old, new, Scope(filters=True))
