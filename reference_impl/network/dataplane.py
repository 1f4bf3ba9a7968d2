"""Making the kernel look like the desired state.

Every function here converges: it reads what exists, changes only what
differs, and can run any number of times (after a crash, after ``cloud
down``/``up``, to roll back a failed change). Which parts to converge is given
by a :class:`Scope`; :meth:`DataPlane.restore` converges everything and
removes whatever of ours the state does not know.

Where things live (see ``names.py`` for the names):

* every tenant network has a bridge and a VXLAN device (VNI = segmentation
  id, UDP 4789, no learning) on the network host and on each compute host
  with a port on it; the VXLAN device's forwarding table has an all-zeros
  entry per other participating host (head-end replication of broadcast and
  unknown unicast) and one entry per remote port MAC (like Neutron's l2
  population), so known unicast goes straight to the right host;
* a network's DHCP server is dnsmasq in its own namespace, on a veth into
  the network host's bridge;
* a router is a namespace with a veth per attached network into the network
  host's bridges, and a gateway veth into the external network's bridge in
  the root namespace, where the machine itself has the external subnet's
  gateway address (it is "the internet" of the reference cloud);
* security groups are nftables tables on each compute host (``render.py``).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from octoprobe.shell import CommandError

from .. import processes
from ..topology import Topology
from . import ipam
from .kernel import Kernel, Link
from .model import (
    BINDING_ENDPOINT,
    BINDING_TAP,
    OWNER_DHCP,
    OWNER_ROUTER_INTERFACE,
    Network,
    Port,
    State,
)
from .names import NetNames, NetPaths
from .render import (
    DhcpHost,
    FloatingMapping,
    GroupMembers,
    PortFilter,
    RouterLeg,
    RouterNat,
    render_dhcp_conf,
    render_dhcp_hosts,
    render_host_filter,
    render_router_nat,
    render_router_ra_conf,
)

VXLAN_PORT = 4789
ZERO_MAC = "00:00:00:00:00:00"
DNSMASQ_START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


@dataclass
class Scope:
    """What an operation changed, hence what to converge."""

    networks: set[str] = field(default_factory=set)  # tenant fabric + DHCP
    ports: set[str] = field(default_factory=set)  # VM devices (taps, endpoints)
    routers: set[str] = field(default_factory=set)
    externals: set[str] = field(default_factory=set)  # external bridges, routes to tenant IPv6
    filters: bool = False  # security-group tables on compute hosts

    def __or__(self, other: "Scope") -> "Scope":
        return Scope(self.networks | other.networks, self.ports | other.ports, self.routers | other.routers,
                     self.externals | other.externals, self.filters or other.filters)


def port_host(port: Port, network_host: str) -> str | None:
    """Where a port's frames enter the overlay."""
    if port.device_owner in (OWNER_DHCP, OWNER_ROUTER_INTERFACE):
        return network_host
    return port.binding_host if port.binding_kind else None


def subnet_prefixlen(state: State, subnet_id: str) -> int:
    return ipaddress.ip_network(state.subnets[subnet_id].cidr).prefixlen


class DataPlane:
    def __init__(self, topology: Topology, prefix: str, paths: NetPaths, kernel: Kernel,
                 progress: Callable[[str], None] = lambda m: None):
        self.topology = topology
        self.prefix = prefix
        self.names = NetNames(prefix)
        self.paths = paths
        self.kernel = kernel
        self.progress = progress
        self.network_host = topology.control.name
        self.compute_hosts = [h.name for h in topology.compute_hosts()]
        self._links: dict[str | None, dict[str, Link]] = {}
        self._br_netfilter = False

    # -- helpers ------------------------------------------------------------------
    def host_ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def underlay_ip(self, host: str) -> str:
        return str(self.topology.address_of(host)[0].ip)

    def fabric_hosts(self) -> list[str]:
        return [self.network_host, *self.compute_hosts]

    def links(self, ns: str | None, *, refresh: bool = False) -> dict[str, Link]:
        if refresh or ns not in self._links:
            self._links[ns] = self.kernel.links(ns)
        return self._links[ns]

    def forget(self, ns: str | None) -> None:
        self._links.pop(ns, None)

    def participants(self, state: State, network_id: str) -> dict[str, list[Port]]:
        """host -> ports on the network there; the network host always takes part."""
        hosts: dict[str, list[Port]] = {self.network_host: []}
        for port in state.ports_of(network_id):
            host = port_host(port, self.network_host)
            if host is not None:
                hosts.setdefault(host, []).append(port)
        return hosts

    # -- the entry points -----------------------------------------------------------
    def sync(self, old: State, new: State, scope: Scope, *, scan_all: bool = False) -> None:
        self._links.clear()
        try:
            for nid in sorted(scope.externals):
                if nid in new.networks:
                    self.ensure_external(new, new.networks[nid])
            for nid in sorted(scope.networks):
                net = new.networks.get(nid)
                if net is not None and not net.external:
                    self.ensure_fabric(new, net)
            for nid in sorted(scope.networks):
                self.sync_dhcp(new, nid)
            for rid in sorted(scope.routers):
                self.sync_router(old, new, rid)
            for pid in sorted(scope.ports):
                self.sync_port_device(old, new, pid, scan_all=scan_all)
            if scope.filters:
                self.sync_filters(old, new, hosts=self.compute_hosts if scan_all else None)
            for nid in sorted(scope.networks):
                self.prune_fabric(old, new, nid)
            for nid in sorted(scope.externals):
                self.sync_external_routes_or_remove(old, new, nid)
        finally:
            self._links.clear()

    def restore(self, state: State) -> None:
        """Converge everything, and remove what of ours the state does not know."""
        self.progress(f"network: restoring {len(state.networks)} networks, {len(state.routers)} routers, "
                      f"{len(state.ports)} ports")
        self.sweep(state)
        everything = Scope(
            networks={n.id for n in state.networks.values() if not n.external},
            ports=set(state.ports),
            routers=set(state.routers),
            externals={n.id for n in state.networks.values() if n.external},
            filters=True,
        )
        self.sync(state, state, everything, scan_all=True)

    # -- tenant fabric (bridge + VXLAN per network per host) --------------------------
    def ensure_fabric(self, state: State, net: Network) -> None:
        hosts = self.participants(state, net.id)
        vni = net.segmentation_id
        assert vni is not None
        br, vx = self.names.bridge(vni), self.names.vxlan(vni)
        for host, _ports in hosts.items():
            ns = self.host_ns(host)
            links = self.links(ns)
            filtered = 1 if host != self.network_host else 0
            local = self.underlay_ip(host)
            cmds, new_bridge, fresh_vx = [], False, False
            if br not in links:
                cmds += [f"link add {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0 "
                         f"nf_call_iptables {filtered} nf_call_ip6tables {filtered} nf_call_arptables 0",
                         f"link set {br} addrgenmode none"]
                new_bridge = True
            cmds.append(f"link set {br} mtu {net.mtu} up")
            existing = links.get(vx)
            if existing is not None and (existing.vni != vni or existing.local != local):
                cmds.append(f"link del {vx}")
                existing = None
            if existing is None:
                cmds += [f"link add {vx} type vxlan id {vni} local {local} dstport {VXLAN_PORT} nolearning dev eth0",
                         f"link set {vx} addrgenmode none"]
                fresh_vx = True
            cmds.append(f"link set {vx} mtu {net.mtu} master {br} up")
            self.kernel.ip_batch(ns, cmds)
            if new_bridge:
                # the bridge is not a host on the tenant network: no IPv6 on it
                self.kernel.sysctl(ns, {f"net.ipv6.conf.{br}.disable_ipv6": 1})
            if new_bridge or fresh_vx:
                self.forget(ns)
            desired = set()
            for other, ports in hosts.items():
                if other == host:
                    continue
                dst = self.underlay_ip(other)
                desired.add((ZERO_MAC, dst))
                desired.update((p.mac_address, dst) for p in ports)
            current = set() if fresh_vx else self.kernel.fdb(ns, vx)
            fdb = [f"fdb del {mac} dev {vx} dst {dst} self" for mac, dst in sorted(current - desired)]
            fdb += [f"fdb append {mac} dev {vx} dst {dst} self permanent" for mac, dst in sorted(desired - current)]
            self.kernel.bridge_batch(ns, fdb)

    def prune_fabric(self, old: State, new: State, network_id: str) -> None:
        """Remove a network's bridge and VXLAN device from hosts that no longer need them."""
        net = new.networks.get(network_id) or old.networks.get(network_id)
        if net is None or net.external or net.segmentation_id is None:
            return
        keep = set(self.participants(new, network_id)) if network_id in new.networks else set()
        br, vx = self.names.bridge(net.segmentation_id), self.names.vxlan(net.segmentation_id)
        for host in self.fabric_hosts():
            if host in keep:
                continue
            ns = self.host_ns(host)
            links = self.links(ns)
            doomed = [n for n in (vx, br) if n in links]
            if doomed:
                self.kernel.ip_batch(ns, [f"link del {n}" for n in doomed])
                self.forget(ns)

    # -- VM ports: taps and test endpoints ------------------------------------------
    def sync_port_device(self, old: State, new: State, port_id: str, *, scan_all: bool = False) -> None:
        port = new.ports.get(port_id)
        before = old.ports.get(port_id)
        tap = self.names.tap(port_id)
        want_host = port.binding_host if port and port.binding_kind else None
        want_kind = port.binding_kind if want_host else None
        candidates = set(self.compute_hosts) if scan_all else {
            h for h in (want_host, before.binding_host if before else None) if h}
        ep_ns = self.names.endpoint_ns(port_id)
        for host in sorted(candidates):
            ns = self.host_ns(host)
            link = self.links(ns).get(tap)
            if link is None:
                continue
            wrong_kind = (link.kind == "veth") != (want_kind == BINDING_ENDPOINT)
            if host != want_host or wrong_kind:
                self.kernel.del_link(ns, tap)
                self.forget(ns)
        if want_kind != BINDING_ENDPOINT and ep_ns in self.kernel.namespaces():
            self.remove_namespace(ep_ns)
            (self.paths.root / "endpoints" / f"{port_id}.lease").unlink(missing_ok=True)
        if port is None or want_host is None:
            return
        net = new.networks[port.network_id]
        assert net.segmentation_id is not None
        br = self.names.bridge(net.segmentation_id)
        ns = self.host_ns(want_host)
        links = self.links(ns)
        cmds = []
        if want_kind == BINDING_TAP:
            if tap not in links:
                # the VM's NIC has the port's MAC; the tap gets the same MAC with
                # fe as first byte so the bridge never picks it as its own
                cmds += [f"tuntap add dev {tap} mode tap",
                         f"link set {tap} address fe{port.mac_address[2:]} addrgenmode none"]
            cmds.append(f"link set {tap} mtu {net.mtu} master {br} up")
            self.kernel.ip_batch(ns, cmds)
        else:
            if ep_ns not in self.kernel.namespaces():
                self.kernel.add_netns(ep_ns)
            if tap not in links:
                self.kernel.ip_batch(ep_ns, ["link del eth0"], force=True)
                cmds += [f"link add {tap} mtu {net.mtu} type veth peer name eth0 netns {ep_ns} "
                         f"address {port.mac_address} mtu {net.mtu}",
                         f"link set {tap} addrgenmode none"]
            cmds.append(f"link set {tap} mtu {net.mtu} master {br} up")
            self.kernel.ip_batch(ns, cmds)
            self.kernel.ip_batch(ep_ns, [f"link set eth0 address {port.mac_address} mtu {net.mtu} up"])
        self.forget(ns)

    # -- security groups --------------------------------------------------------------
    def host_filter_script(self, state: State, host: str) -> str:
        filters, zones, used_groups = [], {}, set()
        for port in sorted(state.ports.values(), key=lambda p: p.index):
            if port.binding_host != host or not port.binding_kind or port.is_network_owned:
                continue
            net = state.networks[port.network_id]
            if net.segmentation_id is not None:
                zones[self.names.bridge(net.segmentation_id)] = net.index
            if not port.port_security_enabled:
                continue
            v4 = tuple(f.ip_address for f in port.fixed_ips if ":" not in f.ip_address)
            v6 = tuple([str(ipam.link_local_address(port.mac_address))]
                       + [f.ip_address for f in port.fixed_ips if ":" in f.ip_address])
            filters.append(PortFilter(port.index, self.names.tap(port.id), port.mac_address, v4, v6,
                                      tuple(port.security_groups)))
            used_groups.update(port.security_groups)
        rules = {g: state.rules_of(g) for g in sorted(used_groups) if g in state.security_groups}
        members = {}
        for gid in {r.remote_group_id for rs in rules.values() for r in rs if r.remote_group_id}:
            v4, v6 = [], []
            for p in state.ports_in_group(gid):
                for f in p.fixed_ips:
                    (v6 if ":" in f.ip_address else v4).append(f.ip_address)
            members[gid] = GroupMembers(tuple(v4), tuple(v6))
        return render_host_filter(filters, rules, members, zones)

    def ensure_br_netfilter(self) -> None:
        """Security groups filter bridged traffic in the inet hooks, which only
        br_netfilter feeds: without it every rule would silently not apply."""
        probe = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
        if self._br_netfilter or probe.exists():
            self._br_netfilter = True
            return
        self.kernel.run(["modprobe", "br_netfilter"], check=False)
        if not probe.exists():
            raise CommandError(["modprobe", "br_netfilter"],
                               "the kernel has no br_netfilter (CONFIG_BRIDGE_NETFILTER): security groups "
                               "cannot filter bridged traffic")
        self._br_netfilter = True

    def sync_filters(self, old: State, new: State, *, hosts: Iterable[str] | None = None) -> None:
        self.ensure_br_netfilter()
        if hosts is None:
            hosts = {p.binding_host for s in (old, new) for p in s.ports.values()
                     if p.binding_host and p.binding_kind}
        for host in sorted(hosts):
            self.kernel.nft(self.host_ns(host), self.host_filter_script(new, host))

    # -- DHCP -------------------------------------------------------------------------
    def sync_dhcp(self, state: State, network_id: str) -> None:
        net = state.networks.get(network_id)
        port = state.dhcp_port(network_id) if net is not None else None
        ns = self.names.dhcp_ns(network_id)
        directory = self.paths.dhcp_dir(network_id)
        if port is None:
            self.stop_dnsmasq(directory)
            if ns in self.kernel.namespaces():
                self.remove_namespace(ns)
            shutil.rmtree(directory, ignore_errors=True)
            return
        assert net is not None and net.segmentation_id is not None
        inner = self.names.dhcp_inner(port.id)
        self._ensure_leg(
            ns, inner, self.host_ns(self.network_host), self.names.dhcp_outer(port.id),
            self.names.bridge(net.segmentation_id), port.mac_address, net.mtu,
            sysctls={f"net.ipv6.conf.{inner}.accept_ra": 0},
        )
        self._sync_addresses(ns, {inner: {f"{f.ip_address}/{subnet_prefixlen(state, f.subnet_id)}"
                                          for f in port.fixed_ips}})
        directory.mkdir(parents=True, exist_ok=True)
        conf_path, pid_path = self.paths.conf(directory), self.paths.pid(directory)
        hosts_path, lease_path = directory / "hosts", directory / "leases"
        conf = render_dhcp_conf(
            network_id=network_id, interface=inner, subnets=state.subnets_of(network_id), mtu=net.mtu,
            hosts_file=str(hosts_path), lease_file=str(lease_path), pid_file=str(pid_path),
            log_file=str(directory / "dnsmasq.log"),
        )
        dhcp_subnets = {s.id for s in state.subnets_of(network_id) if s.enable_dhcp and s.ip_version == 4}
        hosts = [DhcpHost(p.mac_address, f.ip_address) for p in state.ports_of(network_id)
                 if not p.is_network_owned for f in p.fixed_ips if f.subnet_id in dhcp_subnets]
        hosts_text = render_dhcp_hosts(hosts)
        old_conf = _read(conf_path)
        old_hosts = _read(hosts_path)
        running = self.dnsmasq_pid(directory)
        removed = bool(set((old_hosts or "").splitlines()) - set(hosts_text.splitlines()))
        if old_hosts != hosts_text:
            _write(hosts_path, hosts_text)
        if running is None or old_conf != conf or removed:
            # A restart forgets leases, so an address taken from a deleted port is
            # given to its new owner at once (every lease here is static anyway).
            _write(conf_path, conf)
            self.stop_dnsmasq(directory)
            lease_path.write_text("")
            self.start_dnsmasq(ns, directory)
        elif old_hosts != hosts_text:
            os.kill(running, signal.SIGHUP)  # re-reads dhcp-hostsfile

    # -- routers ---------------------------------------------------------------------
    def sync_router(self, old: State, new: State, router_id: str) -> None:
        router = new.routers.get(router_id)
        ns = self.names.router_ns(router_id)
        directory = self.paths.router_dir(router_id)
        if router is None:
            self.stop_dnsmasq(directory)
            if ns in self.kernel.namespaces():
                self.remove_namespace(ns)  # its veths (and their peers) go with it
            before = old.routers.get(router_id)
            if before is not None:
                self.kernel.del_link(None, self.names.router_gateway_outer(before.index))
            shutil.rmtree(directory, ignore_errors=True)
            return
        if ns not in self.kernel.namespaces():
            self.kernel.add_netns(ns)
            self.kernel.sysctl(ns, {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1,
                                    "net.ipv6.conf.default.accept_ra": 0})
            self.forget(ns)
        legs = new.router_interfaces(router_id)
        ctl = self.host_ns(self.network_host)
        addresses: dict[str, set[str]] = {}
        wanted = set()
        ra_legs = []
        for leg in legs:
            net = new.networks[leg.network_id]
            assert net.segmentation_id is not None
            qr = self.names.router_leg(leg.id)
            wanted.add(qr)
            self._ensure_leg(ns, qr, ctl, self.names.router_leg_outer(leg.id),
                             self.names.bridge(net.segmentation_id), leg.mac_address, net.mtu)
            addresses[qr] = {f"{f.ip_address}/{subnet_prefixlen(new, f.subnet_id)}" for f in leg.fixed_ips}
            v6 = tuple(new.subnets[f.subnet_id] for f in leg.fixed_ips if new.subnets[f.subnet_id].ip_version == 6)
            if v6:
                ra_legs.append(RouterLeg(qr, net.mtu, v6))
        gateway_device, gateway_ip = None, None
        gw = new.ports.get(router.gateway_port_id) if router.gateway_port_id else None
        routes = []
        if gw is not None:
            ext = new.networks[gw.network_id]
            gateway_device = self.names.router_gateway(gw.id)
            wanted.add(gateway_device)
            self._ensure_leg(ns, gateway_device, None, self.names.router_gateway_outer(router.index),
                             self.names.external_bridge(ext.index), gw.mac_address, ext.mtu)
            addresses[gateway_device] = {f"{f.ip_address}/{subnet_prefixlen(new, f.subnet_id)}"
                                         for f in gw.fixed_ips}
            for f in gw.fixed_ips:
                subnet = new.subnets[f.subnet_id]
                if subnet.ip_version == 4 and gateway_ip is None:
                    gateway_ip = f.ip_address
                if subnet.gateway_ip:
                    routes.append((subnet.ip_version, subnet.gateway_ip))
            for fip in new.floating_ips.values():
                if fip.router_id == router_id and fip.port_id:
                    addresses[gateway_device].add(f"{fip.floating_ip_address}/32")
        links = self.links(ns, refresh=True)
        stale = [n for n in links if n.startswith(("qr-", "qg-")) and n not in wanted]
        self.kernel.ip_batch(ns, [f"link del {n}" for n in stale])
        self._sync_addresses(ns, addresses)
        defaults = {}
        for version, via in routes:
            defaults.setdefault(version, via)
        route_cmds = []
        for version, anywhere in ((4, "0.0.0.0/0"), (6, "::/0")):
            if version in defaults:
                route_cmds.append(f"route replace {anywhere} via {defaults[version]} dev {gateway_device}")
            else:
                route_cmds.append(f"route del {anywhere}")
        self.kernel.ip_batch(ns, route_cmds, force=True)
        self._sync_extra_routes(ns, router, legs, new)
        floating = tuple(FloatingMapping(f.floating_ip_address, f.fixed_ip_address)
                         for f in new.floating_ips.values()
                         if f.router_id == router_id and f.port_id and f.fixed_ip_address)
        internal = tuple(sorted({new.subnets[f.subnet_id].cidr for leg in legs for f in leg.fixed_ips
                                 if new.subnets[f.subnet_id].ip_version == 4}))
        self.kernel.nft(ns, render_router_nat(RouterNat(gateway_device, gateway_ip, internal, floating,
                                                        router.enable_snat)))
        self._sync_router_ra(ns, router_id, directory, ra_legs)

    def _sync_extra_routes(self, ns: str, router, legs, state: State) -> None:
        """The router's extra routes, each on the leg whose subnet holds its
        nexthop, as ``proto static`` routes (which tells them from the
        kernel's connected ones); stale ones go."""
        desired: dict[str, set[tuple[str, str]]] = {}
        for route in router.routes:
            hop = ipaddress.ip_address(route.nexthop)
            for leg in legs:
                if any(hop in ipaddress.ip_network(state.subnets[f.subnet_id].cidr) for f in leg.fixed_ips
                       if f.subnet_id in state.subnets):
                    desired.setdefault(self.names.router_leg(leg.id), set()).add(
                        (str(ipaddress.ip_network(route.destination)), str(hop)))
                    break
        cmds = []
        for leg in legs:
            device = self.names.router_leg(leg.id)
            want = desired.get(device, set())
            current = {(str(ipaddress.ip_network(dst)), via) for version in (4, 6)
                       for dst, via in self.kernel.routes(ns, version, device) if via}
            cmds += [f"route del {dst} via {via} dev {device}" for dst, via in sorted(current - want)]
            cmds += [f"route replace {dst} via {via} dev {device} proto static" for dst, via in sorted(want - current)]
        self.kernel.ip_batch(ns, cmds, force=True)

    def _sync_router_ra(self, ns: str, router_id: str, directory: Path, legs: list[RouterLeg]) -> None:
        conf_path = self.paths.conf(directory)
        if not legs:
            self.stop_dnsmasq(directory)
            conf_path.unlink(missing_ok=True)
            return
        directory.mkdir(parents=True, exist_ok=True)
        conf = render_router_ra_conf(router_id=router_id, legs=legs, pid_file=str(self.paths.pid(directory)),
                                     log_file=str(directory / "dnsmasq.log"))
        if _read(conf_path) != conf or self.dnsmasq_pid(directory) is None:
            _write(conf_path, conf)
            self.stop_dnsmasq(directory)
            self.start_dnsmasq(ns, directory)

    # -- external networks -------------------------------------------------------------
    def ensure_external(self, state: State, net: Network) -> None:
        br = self.names.external_bridge(net.index)
        links = self.links(None)
        cmds = []
        if br not in links:
            cmds.append(f"link add {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0 "
                        "nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0")
        cmds.append(f"link set {br} mtu {net.mtu} up")
        self.kernel.ip_batch(None, cmds)
        if br not in links:
            self.forget(None)
        want = set()
        for subnet in state.subnets_of(net.id):
            if subnet.gateway_ip:
                want.add(f"{subnet.gateway_ip}/{ipaddress.ip_network(subnet.cidr).prefixlen}")
        self._sync_addresses(None, {br: want})

    def sync_external_routes_or_remove(self, old: State, new: State, network_id: str) -> None:
        net = new.networks.get(network_id)
        if net is None:
            before = old.networks.get(network_id)
            if before is not None and before.external:
                self.kernel.del_link(None, self.names.external_bridge(before.index))
            return
        br = self.names.external_bridge(net.index)
        # The machine routes each router's tenant IPv6 prefixes to the router's
        # external address (IPv6 is routed, not NATed). IPv4 needs no routes: SNAT.
        desired = set()
        for router in new.routers.values():
            if router.gateway_network_id != network_id or not router.gateway_port_id:
                continue
            gw = new.ports.get(router.gateway_port_id)
            via = next((f.ip_address for f in gw.fixed_ips if ":" in f.ip_address), None) if gw else None
            if via is None:
                continue
            for leg in new.router_interfaces(router.id):
                for f in leg.fixed_ips:
                    subnet = new.subnets[f.subnet_id]
                    if subnet.ip_version == 6:
                        desired.add((subnet.cidr, via))
        current = self.kernel.routes(None, 6, br)
        cmds = [f"route del {dst} via {via} dev {br}" for dst, via in sorted(current - desired)]
        cmds += [f"route replace {dst} via {via} dev {br} proto static" for dst, via in sorted(desired - current)]
        self.kernel.ip_batch(None, cmds)
        # forget neighbours of floating IPs that moved or went away
        self.kernel.ip(None, "neigh", "flush", "dev", br, check=False)

    # -- shared pieces ----------------------------------------------------------------
    def _ensure_leg(self, ns: str, inner: str, outer_ns: str | None, outer: str, bridge: str, mac: str,
                    mtu: int, *, sysctls: dict | None = None) -> None:
        """A veth from namespace ``ns`` (``inner``, with ``mac``) to ``bridge`` in ``outer_ns``."""
        if ns not in self.kernel.namespaces():
            self.kernel.add_netns(ns)
            self.forget(ns)
        created = False
        if inner not in self.links(ns):
            self.kernel.del_link(outer_ns, outer)  # a stale half
            self.kernel.ip_batch(outer_ns, [
                f"link add {outer} mtu {mtu} type veth peer name {inner} netns {ns} address {mac} mtu {mtu}",
                f"link set {outer} addrgenmode none",
            ])
            created = True
            self.forget(ns)
            self.forget(outer_ns)
        self.kernel.ip_batch(outer_ns, [f"link set {outer} mtu {mtu} master {bridge} up"])
        if created and sysctls:
            self.kernel.sysctl(ns, sysctls)
        self.kernel.ip_batch(ns, [f"link set {inner} address {mac} mtu {mtu} up"])

    def _sync_addresses(self, ns: str | None, wanted: dict[str, set[str]]) -> None:
        current = self.kernel.addresses(ns)
        cmds = []
        for dev, want in wanted.items():
            have = current.get(dev, set())
            for addr in sorted(have - want):
                cmds.append(f"addr del {addr} dev {dev}")
            for addr in sorted(want - have):
                cmds.append(f"addr add {addr} dev {dev}" + (" nodad" if ":" in addr else ""))
        self.kernel.ip_batch(ns, cmds)

    def remove_namespace(self, ns: str) -> None:
        pids = [int(p) for p in self.kernel.run(["ip", "netns", "pids", ns], check=False).stdout.split()
                if p.isdigit()]
        if pids:
            processes.stop(pids, timeout=STOP_TIMEOUT)
        self.kernel.del_netns(ns)
        self.forget(ns)

    # -- dnsmasq ------------------------------------------------------------------------
    def dnsmasq_pid(self, directory: Path) -> int | None:
        return processes.live_pid(self.paths.pid(directory), str(self.paths.conf(directory)))

    def start_dnsmasq(self, ns: str, directory: Path) -> int:
        conf = self.paths.conf(directory)
        self.kernel.exec(ns, ["dnsmasq", "-C", str(conf)], timeout=DNSMASQ_START_TIMEOUT)
        deadline = time.monotonic() + DNSMASQ_START_TIMEOUT
        while True:
            pid = self.dnsmasq_pid(directory)
            if pid is not None:
                return pid
            if time.monotonic() > deadline:
                raise CommandError(["dnsmasq", "-C", str(conf)],
                                   f"did not write its pid file; see {directory / 'dnsmasq.log'}")
            time.sleep(0.02)

    def stop_dnsmasq(self, directory: Path) -> None:
        marker = str(self.paths.conf(directory))
        pids = [p.pid for p in processes.find_processes(marker)]
        if pids:
            processes.stop(pids, timeout=STOP_TIMEOUT)
        self.paths.pid(directory).unlink(missing_ok=True)

    # -- sweeping what the state does not know ------------------------------------------
    def sweep(self, state: State) -> None:
        namespaces = self.kernel.namespaces()
        wanted_ns = {self.names.dhcp_ns(n) for n in state.networks if state.dhcp_port(n)}
        wanted_ns |= {self.names.router_ns(r) for r in state.routers}
        wanted_ns |= {self.names.endpoint_ns(p.id) for p in state.ports.values()
                      if p.binding_kind == BINDING_ENDPOINT and p.binding_host}
        for ns in sorted(namespaces):
            if self.names.is_our_extra_ns(ns) and ns not in wanted_ns:
                self.remove_namespace(ns)
        self._stop_stray_dnsmasq(state)
        wanted_root = {self.names.external_bridge(n.index) for n in state.networks.values() if n.external}
        wanted_root |= {self.names.router_gateway_outer(r.index) for r in state.routers.values()
                        if r.gateway_port_id}
        for name in sorted(self.links(None, refresh=True)):
            if self.names.is_our_root_link(name) and name not in wanted_root:
                self.kernel.del_link(None, name)
        self.forget(None)
        for host in self.fabric_hosts():
            ns = self.host_ns(host)
            if ns not in namespaces:
                continue
            wanted = set()
            for net in state.networks.values():
                if net.segmentation_id is not None and host in self.participants(state, net.id):
                    wanted |= {self.names.bridge(net.segmentation_id), self.names.vxlan(net.segmentation_id)}
            for port in state.ports.values():
                if port.binding_host == host and port.binding_kind:
                    wanted.add(self.names.tap(port.id))
                if host == self.network_host and port.device_owner == OWNER_DHCP:
                    wanted.add(self.names.dhcp_outer(port.id))
                if host == self.network_host and port.device_owner == OWNER_ROUTER_INTERFACE:
                    wanted.add(self.names.router_leg_outer(port.id))
            doomed = [n for n in self.links(ns, refresh=True) if NetNames.is_our_host_link(n) and n not in wanted]
            if doomed:
                self.kernel.ip_batch(ns, [f"link del {n}" for n in doomed], force=True)
            self.forget(ns)

    def _stop_stray_dnsmasq(self, state: State) -> None:
        wanted = {str(self.paths.conf(self.paths.dhcp_dir(n))) for n in state.networks if state.dhcp_port(n)}
        wanted |= {str(self.paths.conf(self.paths.router_dir(r))) for r in state.routers}
        strays = [p.pid for p in find_our_dnsmasq(self.paths.root) if not set(p.argv) & wanted]
        if strays:
            processes.stop(strays, timeout=STOP_TIMEOUT)


def find_our_dnsmasq(root: Path) -> list[processes.Process]:
    """dnsmasq processes whose config lives under ``root`` (our state directory)."""
    prefix = str(root).rstrip("/") + "/"
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        argv = processes.cmdline(int(entry.name))
        if argv and os.path.basename(argv[0]) == "dnsmasq" and any(a.startswith(prefix) for a in argv[1:]):
            found.append(processes.Process(int(entry.name), argv))
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
