"""The reference cloud's underlay: a small data centre made of Linux devices.

* every host is a network namespace with one interface, ``eth0``, carrying its
  IPv4 and IPv6 underlay addresses;
* every rack has a top-of-rack bridge; a host's link is a veth pair whose
  outer end is a port of its rack's bridge;
* the racks' bridges are joined to a spine bridge by one uplink each (a veth
  pair); the control host hangs off the spine directly;
* the machine itself has the first address of the underlay on the spine
  bridge, so it reaches every host, and stops reaching a rack whose uplink is
  down, like any other host outside that rack.

A host is cut off by :meth:`Underlay.set_host_link`, a rack by
:meth:`Underlay.set_rack_uplink`: one call each.

Kernel object names (15 characters at most) all start with the cloud's prefix:
``{p}-spine``, ``{p}-tor{i}``, ``{p}-up{i}`` / ``{p}-dn{i}`` (rack i's uplink,
spine side / rack side), ``{p}-h{j}`` (host j's link, outer end) and the
namespace ``{p}-{host}``.
"""

from __future__ import annotations

import json
import ipaddress
from dataclasses import dataclass
from typing import Callable, Iterable

from octoprobe.shell import CommandError, LocalRunner, Runner

IP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Names:
    """Kernel object names of one cloud, derived from its prefix."""

    prefix: str

    @property
    def spine(self) -> str:
        return f"{self.prefix}-spine"

    def netns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def host_link(self, host_index: int) -> str:
        return f"{self.prefix}-h{host_index}"

    def tor(self, rack_index: int) -> str:
        return f"{self.prefix}-tor{rack_index}"

    def uplink(self, rack_index: int) -> str:
        return f"{self.prefix}-up{rack_index}"

    def downlink(self, rack_index: int) -> str:
        return f"{self.prefix}-dn{rack_index}"

    def owns(self, name: str) -> bool:
        return name.startswith(f"{self.prefix}-")


@dataclass(frozen=True)
class LinkState:
    name: str
    operstate: str  # UP, DOWN, LOWERLAYERDOWN, UNKNOWN
    admin_up: bool
    master: str | None
    addresses: tuple[str, ...]


def parse_ip_link_json(doc: list[dict]) -> dict[str, LinkState]:
    """Parse ``ip -j addr show`` (or ``ip -j link show``) into link states."""
    links = {}
    for entry in doc:
        name = entry.get("ifname")
        if not name:
            continue
        addrs = tuple(
            f"{a['local']}/{a['prefixlen']}"
            for a in entry.get("addr_info", [])
            if "local" in a and "prefixlen" in a
        )
        links[name] = LinkState(
            name=name,
            operstate=entry.get("operstate", "UNKNOWN"),
            admin_up="UP" in entry.get("flags", []),
            master=entry.get("master"),
            addresses=addrs,
        )
    return links


def parse_netns_list_json(text: str) -> list[str]:
    """Parse ``ip -j netns list`` (empty output when there are none)."""
    text = text.strip()
    if not text:
        return []
    return [entry["name"] for entry in json.loads(text) if "name" in entry]


@dataclass(frozen=True)
class HostNetStatus:
    host: str
    rack: str | None
    netns: str
    netns_exists: bool
    link: str
    link_state: str  # "up", "down", "missing"
    ipv4: str
    ipv6: str


class UnderlayConflict(RuntimeError):
    pass


class Underlay:
    def __init__(
        self,
        topology,
        prefix: str,
        *,
        runner: Runner | None = None,
        progress: Callable[[str], None] = lambda msg: None,
    ):
        self.topology = topology
        self.names = Names(prefix)
        self.runner = runner or LocalRunner()
        self.progress = progress

    # -- helpers -----------------------------------------------------------
    def _ip(self, *args: str, netns: str | None = None, check: bool = True):
        argv = ["ip", *args] if netns is None else ["ip", "-n", netns, *args]
        return self.runner.run(argv, timeout=IP_TIMEOUT, check=check)

    def links(self, netns: str | None = None) -> dict[str, LinkState]:
        out = self._ip("-j", "addr", "show", netns=netns).stdout
        return parse_ip_link_json(json.loads(out or "[]"))

    def namespaces(self) -> list[str]:
        return parse_netns_list_json(self._ip("-j", "netns", "list").stdout)

    def host_index(self) -> dict[str, int]:
        return {h.name: i for i, h in enumerate(self.topology.hosts())}

    def rack_index(self) -> dict[str, int]:
        return {r.name: i + 1 for i, r in enumerate(self.topology.racks)}

    def netns(self, host: str) -> str:
        return self.names.netns(host)

    def runner_for(self, host: str) -> LocalRunner:
        """A runner whose commands run inside the host's namespace."""
        return LocalRunner(netns=self.netns(host))

    # -- checks ------------------------------------------------------------
    def check_conflicts(self) -> None:
        """Refuse to build over an address range some other interface uses."""
        v4 = self.topology.underlay.ipv4
        v6 = self.topology.underlay.ipv6
        for link in self.links().values():
            if self.names.owns(link.name):
                continue
            for addr in link.addresses:
                iface = ipaddress.ip_interface(addr)
                net = v4 if iface.version == 4 else v6
                if iface.ip in net or net.overlaps(iface.network):
                    raise UnderlayConflict(
                        f"the underlay {net} of topology {self.topology.path} overlaps "
                        f"{addr} on interface {link.name}; choose another underlay "
                        "range in the topology (underlay.ipv4 / underlay.ipv6)"
                    )

    # -- build -------------------------------------------------------------
    def up(self) -> None:
        self.check_conflicts()
        topo = self.topology
        mtu = str(topo.underlay.mtu)
        existing = self.links()
        machine_v4, machine_v6 = topo.machine_address()

        def bridge(name: str) -> None:
            if name not in existing:
                self._ip("link", "add", name, "type", "bridge")
            # no STP, no forwarding delay; bridged frames bypass the host's
            # iptables even where br_netfilter is loaded (e.g. Docker hosts)
            self._ip(
                "link", "set", name, "mtu", mtu, "type", "bridge", "stp_state", "0",
                "forward_delay", "0", "nf_call_iptables", "0", "nf_call_ip6tables", "0",
                "nf_call_arptables", "0",
            )
            self._ip("link", "set", name, "up")

        self.progress(f"underlay: spine {self.names.spine}, machine at {machine_v4.ip} / {machine_v6.ip}")
        bridge(self.names.spine)
        self._ip("addr", "replace", str(machine_v4), "dev", self.names.spine)
        self._ip("addr", "replace", str(machine_v6), "dev", self.names.spine, "nodad")

        rack_index = self.rack_index()
        for rack in topo.racks:
            i = rack_index[rack.name]
            tor, up, dn = self.names.tor(i), self.names.uplink(i), self.names.downlink(i)
            bridge(tor)
            if up not in existing or dn not in existing:
                self._ip("link", "del", up, check=False)
                self._ip("link", "add", up, "mtu", mtu, "type", "veth", "peer", "name", dn, "mtu", mtu)
            self._ip("link", "set", up, "master", self.names.spine, "up")
            self._ip("link", "set", dn, "master", tor, "up")

        namespaces = set(self.namespaces())
        for index, host in enumerate(topo.hosts()):
            ns = self.names.netns(host.name)
            link = self.names.host_link(index)
            port_of = self.names.spine if host.rack is None else self.names.tor(rack_index[host.rack])
            v4, v6 = topo.address_of(host.name)
            if ns not in namespaces:
                self._ip("netns", "add", ns)
            inner = self.links(ns)
            if link not in existing or "eth0" not in inner:
                self._ip("link", "del", link, check=False)
                self._ip("link", "del", "eth0", netns=ns, check=False)
                self._ip("link", "add", link, "mtu", mtu, "type", "veth", "peer", "name", "eth0",
                         "netns", ns, "mtu", mtu)
            self._ip("link", "set", link, "master", port_of, "up")
            self._ip("link", "set", "lo", "up", netns=ns)
            self._ip("link", "set", "eth0", "up", netns=ns)
            self._ip("addr", "replace", str(v4), "dev", "eth0", netns=ns)
            self._ip("addr", "replace", str(v6), "dev", "eth0", "nodad", netns=ns)
        self.progress(f"underlay: {len(topo.racks)} racks, {len(topo.hosts())} hosts up")

    # -- faults ------------------------------------------------------------
    def set_host_link(self, host: str, up: bool) -> None:
        """Cut a host off the underlay (``up=False``) or reconnect it."""
        index = self.host_index()[host]
        self._ip("link", "set", self.names.host_link(index), "up" if up else "down")

    def set_rack_uplink(self, rack: str, up: bool) -> None:
        """Cut a whole rack off the spine (``up=False``) or reconnect it."""
        index = self.rack_index()[rack]
        self._ip("link", "set", self.names.uplink(index), "up" if up else "down")

    def remove_host(self, host: str) -> None:
        """Remove one host's namespace and link (its processes must have been
        stopped). Used when a host that joined a running cloud leaves it."""
        index = self.host_index()[host]
        ns = self.names.netns(host)
        if ns in self.namespaces():
            self._ip("netns", "del", ns)
        self._ip("link", "del", self.names.host_link(index), check=False)

    def remove_rack(self, rack: str) -> None:
        """Remove one rack's top-of-rack bridge and uplink (its hosts must be gone)."""
        index = self.rack_index()[rack]
        for name in (self.names.uplink(index), self.names.tor(index)):
            self._ip("link", "del", name, check=False)

    # -- inspect -----------------------------------------------------------
    def status(self) -> list[HostNetStatus]:
        links = self.links()
        namespaces = set(self.namespaces())
        result = []
        for index, host in enumerate(self.topology.hosts()):
            ns = self.names.netns(host.name)
            name = self.names.host_link(index)
            link = links.get(name)
            if link is None or ns not in namespaces:
                state = "missing"
            else:
                state = "up" if link.admin_up else "down"
            v4, v6 = self.topology.address_of(host.name)
            result.append(HostNetStatus(host.name, host.rack, ns, ns in namespaces, name,
                                        state, str(v4.ip), str(v6.ip)))
        return result

    def rack_uplinks(self) -> dict[str, str]:
        links = self.links()
        result = {}
        for rack, i in self.rack_index().items():
            link = links.get(self.names.uplink(i))
            result[rack] = "missing" if link is None else ("up" if link.admin_up else "down")
        return result

    # -- tear down ---------------------------------------------------------
    def leftovers(self) -> tuple[list[str], list[str]]:
        """Our namespaces and root-namespace links that exist now, whatever the
        topology says (a previous topology or a crashed run may have made them)."""
        namespaces = [n for n in self.namespaces() if self.names.owns(n)]
        links = [n for n in self.links() if self.names.owns(n)]
        return namespaces, links

    def namespace_pids(self, namespaces: Iterable[str]) -> list[int]:
        pids = []
        for ns in namespaces:
            out = self._ip("netns", "pids", ns, check=False).stdout
            pids.extend(int(p) for p in out.split() if p.isdigit())
        return pids

    def down(self) -> None:
        """Remove every namespace and interface with our prefix. Processes in
        the namespaces must have been stopped first (see ``namespace_pids``)."""
        namespaces, links = self.leftovers()
        for ns in namespaces:
            self._ip("netns", "del", ns, check=False)
        # deleting one end of a veth deletes its peer; ignore what is gone already
        for name in sorted(links, key=lambda n: (not n.startswith(f"{self.names.prefix}-h"), n)):
            try:
                self._ip("link", "del", name)
            except CommandError as exc:
                if "Cannot find device" not in str(exc):
                    raise
        namespaces, links = self.leftovers()
        if namespaces or links:
            raise RuntimeError(f"could not remove {namespaces + links}")
        self.progress("underlay: removed")

