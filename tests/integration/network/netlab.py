"""Helpers of the tenant-network tests: the test topology, TCP servers and
clients inside namespaces, a frame counter.

The tests use a small underlay (see conftest.py), brought up once per session.

No Ceph: three compute hosts in three racks and the control (network) host,
with the prefix ``octn`` and the underlay 198.18.20.0/24 / fd6f:6374:6f20::/64,
so it runs beside any other cloud on the machine. External networks use
TEST-NET-3 (203.0.113.0/24) and fd6f:6374:6f2e::/64; tenant IPv6 subnets
fd6f:6374:6f3X::/64. Everything is removed at the end, whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from octoprobe.reference_impl.network import NetworkPlane, TestEndpoint
from octoprobe.reference_impl.topology import Topology
from octoprobe.reference_impl.underlay import Underlay

PREFIX = "octn"
TOPOLOGY = """
underlay: {ipv4: 198.18.20.0/24, ipv6: "fd6f:6374:6f20::/64", mtu: 1500}
ceph: {pool_size: 1, pool_min_size: 1}
control: {name: ctl}
racks:
  - name: ra
    hosts:
      - {name: ca, roles: [compute, storage], osds: {count: 1, size: 2GiB}}
  - name: rb
    hosts:
      - {name: cb, roles: [compute]}
  - name: rc
    hosts:
      - {name: cc, roles: [compute]}
"""
EXT_V4 = "203.0.113.0/24"  # TEST-NET-3
EXT_V6 = "fd6f:6374:6f2e::/64"
MACHINE_V4 = "203.0.113.1"
MACHINE_V6 = "fd6f:6374:6f2e::1"
REQUIRED = ("ip", "bridge", "nft", "dnsmasq", "busybox", "ping", "sysctl")

# A TCP server for one namespace: answers every connection with the peer's
# address, so a test sees what source address (after NAT) arrived.
SERVER = r"""
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print("ready", flush=True)
while True:
    c, peer = s.accept()
    try:
        c.sendall(peer[0].encode() + b"\n")
        data = c.recv(100)
        if data:
            c.sendall(data)
    finally:
        c.close()
"""

CLIENT = r"""
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print(s.makefile().readline().strip())
except OSError as exc:
    print("FAILED", type(exc).__name__)
"""

# Counts frames on eth0 from each given MAC until its stdin closes.
SNIFFER = r"""
import select, socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
macs = [bytes.fromhex(m.replace(":", "")) for m in sys.argv[1:]]
counts = [0] * len(macs)
print("ready", flush=True)
while True:
    readable, _, _ = select.select([s, sys.stdin], [], [], 1.0)
    if sys.stdin in readable:
        break
    if s in readable:
        frame = s.recv(65535)
        for i, mac in enumerate(macs):
            if frame[6:12] == mac:
                counts[i] += 1
print(" ".join(map(str, counts)), flush=True)
"""


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("network integration tests need root: they create namespaces, bridges, VXLAN devices, "
                    "nftables tables and run dnsmasq (run `make test` as root)")
    missing = [p for p in REQUIRED if shutil.which(p) is None]
    if missing:
        pytest.fail(f"programs missing: {', '.join(missing)} (Debian: iproute2 nftables dnsmasq-base busybox "
                    "iputils-ping procps)")


@dataclass
class NetCloud:
    topology: Topology
    underlay: Underlay
    plane: NetworkPlane
    state_dir: Path

    def run(self, argv, ns: str | None = None, timeout: float = 10.0, check: bool = True) -> str:
        return self.plane.kernel.exec(ns, argv, timeout=timeout, check=check).stdout

    def host_ns(self, host: str) -> str:
        return self.underlay.netns(host)

    def endpoint(self, network_id: str, host: str, **port_kw) -> TestEndpoint:
        port = self.plane.create_port(network_id, binding_host=host, binding_kind="endpoint", **port_kw)
        return TestEndpoint(self.plane, port.id)

    def vxlan_counters(self, host: str, vni: int) -> tuple[int, int]:
        """(tx packets, rx packets) of a host's VXLAN device."""
        out = self.run(["ip", "-s", "-j", "link", "show", "dev", f"vx-{vni}"], ns=self.host_ns(host))
        stats = json.loads(out)[0]["stats64"]
        return stats["tx"]["packets"], stats["rx"]["packets"]

    def host_links(self, host: str) -> set[str]:
        return set(self.plane.kernel.links(self.host_ns(host)))


def configure_all(*endpoints: TestEndpoint, timeout: float = 20.0) -> None:
    """DHCP every endpoint, then wait for all their SLAAC addresses (the
    kernels' timers run side by side)."""
    for ep in endpoints:
        if ep.expected_ipv4():
            ep.dhcp()
    for ep in endpoints:
        if ep.expected_ipv6():
            ep.wait_for_slaac(timeout=timeout)


def delete_everything(plane: NetworkPlane) -> None:
    """Delete every object of the plane through its API, in dependency order."""
    state = plane.state()
    for fip in state.floating_ips.values():
        plane.delete_floating_ip(fip.id)
    for port in state.ports.values():
        if not port.is_network_owned:
            plane.delete_port(port.id)
    for router in state.routers.values():
        for leg in plane.state().router_interfaces(router.id):
            plane.remove_router_interface(router.id, port_id=leg.id)
        plane.delete_router(router.id)
    for network in state.networks.values():
        plane.delete_network(network.id)
    for group in state.security_groups.values():
        plane.delete_security_group(group.id)


class Server:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@contextmanager
def tcp_server(ns: str | None, address: str, port: int) -> Iterator[Server]:
    """A TCP server in namespace ``ns`` (None: the machine itself)."""
    argv = [sys.executable, "-c", SERVER, address, str(port)]
    if ns:
        argv = ["ip", "netns", "exec", ns, *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Server(proc)
    try:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise AssertionError(f"server in {ns} did not start: {line} {proc.stderr.read()}")
        yield server
    finally:
        server.stop()


def tcp_connect(ns: str | None, address: str, port: int, timeout: float = 3.0) -> str | None:
    """Connect from namespace ``ns`` (None: the machine); the server's answer
    (the source address it saw), or None if the connection failed."""
    if ns is None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            try:
                s.connect((address, port))
                return s.makefile().readline().strip()
            except OSError:
                return None
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, address, str(port), str(timeout)],
                         capture_output=True, text=True, timeout=timeout + 10).stdout.strip()
    return None if out.startswith("FAILED") or not out else out


@contextmanager
def sniff(ns: str, *macs: str) -> Iterator[list[int]]:
    """Count frames arriving on eth0 in ``ns`` from each MAC while the block runs."""
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SNIFFER, *macs],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    counts: list[int] = []
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        yield counts
        out, _ = proc.communicate(input="", timeout=15)
        counts.extend(int(x) for x in out.split())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
