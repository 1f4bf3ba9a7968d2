"""Security groups, enforced with nftables on the compute hosts at each port:
default deny ingress, allow egress, stateful, IPv4 and IPv6 alike, changed on
every port at once without restarting anything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from netlab import configure_all, tcp_connect, tcp_server

pytestmark = pytest.mark.integration

PORT = 8000


@pytest.fixture(scope="module")
def lab(netcloud):
    plane = netcloud.plane
    base = plane.create_security_group("base", project_id="t")  # egress only, like a new Neutron group
    other = plane.create_security_group("other", project_id="t")
    net = plane.create_network("sg-net", project_id="t")
    plane.create_subnet(net.id, "10.30.0.0/24")
    plane.create_subnet(net.id, "fd6f:6374:6f3a::/64")
    a = netcloud.endpoint(net.id, "ca", security_groups=[base.id])
    b = netcloud.endpoint(net.id, "cb", security_groups=[base.id])
    c = netcloud.endpoint(net.id, "ca", security_groups=[other.id])  # same host as a
    configure_all(a, b, c)
    yield {"base": base, "other": other, "net": net, "a": a, "b": b, "c": c}
    for ep in (a, b, c):
        plane.delete_port(ep.port_id)
    plane.delete_network(net.id)
    plane.delete_security_group(base.id)
    plane.delete_security_group(other.id)


def addr(ep, family: int) -> str:
    return ep.ipv4 if family == 4 else ep.ipv6


def any_addr(family: int) -> str:
    return "0.0.0.0" if family == 4 else "::"


@pytest.mark.parametrize("family", [4, 6])
def test_a_tcp_port_opens_with_a_rule_and_closes_when_it_goes(netcloud, lab, family):
    plane, a, b, c = netcloud.plane, lab["a"], lab["b"], lab["c"]
    ethertype = f"IPv{family}"
    with tcp_server(b.netns, any_addr(family), PORT), tcp_server(a.netns, any_addr(family), PORT):
        # default deny ingress: across hosts (a -> b) and on one host (c -> a)
        assert tcp_connect(a.netns, addr(b, family), PORT, timeout=1) is None
        assert tcp_connect(c.netns, addr(a, family), PORT, timeout=1) is None
        rule = plane.create_security_group_rule(lab["base"].id, "ingress", ethertype=ethertype, protocol="tcp",
                                                port_range_min=PORT, port_range_max=PORT)
        assert tcp_connect(a.netns, addr(b, family), PORT) == addr(a, family)
        assert tcp_connect(c.netns, addr(a, family), PORT) == addr(c, family)
        # the other family is not opened by this rule
        other = 6 if family == 4 else 4
        with tcp_server(b.netns, any_addr(other), PORT + 1):
            assert tcp_connect(a.netns, addr(b, other), PORT + 1, timeout=1) is None
        plane.delete_security_group_rule(rule.id)
        assert tcp_connect(a.netns, addr(b, family), PORT, timeout=1) is None
        assert tcp_connect(c.netns, addr(a, family), PORT, timeout=1) is None


def test_egress_is_allowed_by_default_and_replies_come_back(netcloud, lab):
    plane, a, b = netcloud.plane, lab["a"], lab["b"]
    rule = plane.create_security_group_rule(lab["base"].id, "ingress", protocol="tcp", port_range_min=PORT)
    try:
        with tcp_server(b.netns, "0.0.0.0", PORT), tcp_server(a.netns, "0.0.0.0", PORT):
            # c's group "other" has nothing but its default egress rules: c gets out,
            # the reply reaches it although c allows no ingress at all (stateful)
            assert tcp_connect(lab["c"].netns, b.ipv4, PORT) == lab["c"].ipv4
            # without its egress rules, c gets nowhere
            egress = [r for r in plane.list_security_group_rules(lab["other"].id) if r.ethertype == "IPv4"]
            for r in egress:
                plane.delete_security_group_rule(r.id)
            assert tcp_connect(lab["c"].netns, b.ipv4, PORT, timeout=1) is None
            plane.create_security_group_rule(lab["other"].id, "egress")
            assert tcp_connect(lab["c"].netns, b.ipv4, PORT) == lab["c"].ipv4
    finally:
        plane.delete_security_group_rule(rule.id)


def test_remote_group_rules_admit_members_only(netcloud, lab):
    plane, a, b, c = netcloud.plane, lab["a"], lab["b"], lab["c"]
    rule = plane.create_security_group_rule(lab["base"].id, "ingress", ethertype="IPv6", protocol="tcp",
                                            port_range_min=PORT, remote_group_id=lab["base"].id)
    try:
        with tcp_server(b.netns, "::", PORT):
            assert tcp_connect(a.netns, b.ipv6, PORT) == a.ipv6  # a is in "base"
            assert tcp_connect(c.netns, b.ipv6, PORT, timeout=1) is None  # c is not
            plane.update_port(c.port_id, security_groups=[lab["other"].id, lab["base"].id])
            assert tcp_connect(c.netns, b.ipv6, PORT) == c.ipv6  # now it is
            plane.update_port(c.port_id, security_groups=[lab["other"].id])
            assert tcp_connect(c.netns, b.ipv6, PORT, timeout=1) is None
    finally:
        plane.delete_security_group_rule(rule.id)


def test_a_rule_change_touches_every_port_and_restarts_nothing(netcloud, lab):
    plane, a, b = netcloud.plane, lab["a"], lab["b"]
    dnsmasq = plane.dataplane.dnsmasq_pid(plane.paths.dhcp_dir(lab["net"].id))
    rule = plane.create_security_group_rule(lab["base"].id, "ingress", protocol="tcp", port_range_min=PORT)
    try:
        with tcp_server(b.netns, "0.0.0.0", PORT), tcp_server(a.netns, "0.0.0.0", PORT):
            # an established connection from a to b ...
            client = subprocess.Popen(
                ["ip", "netns", "exec", a.netns, sys.executable, "-c", CLIENT_HOLD, b.ipv4, str(PORT)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                assert client.stdout.readline().strip() == a.ipv4
                # ... while a rule of the group changes on both hosts (atomically) ...
                extra = plane.create_security_group_rule(lab["base"].id, "ingress", protocol="udp",
                                                         port_range_min=53)
                assert tcp_connect(b.netns, a.ipv4, PORT) == b.ipv4  # the new state is in force on ca too
                plane.delete_security_group_rule(extra.id)
                # ... keeps working
                client.stdin.write("still there\n")
                client.stdin.flush()
                assert client.stdout.readline().strip() == "still there"
            finally:
                client.kill()
                client.wait()
    finally:
        plane.delete_security_group_rule(rule.id)
    assert plane.dataplane.dnsmasq_pid(plane.paths.dhcp_dir(lab["net"].id)) == dnsmasq


def test_a_port_cannot_spoof_another_address(netcloud, lab):
    a, b, plane = lab["a"], lab["b"], netcloud.plane
    rule = plane.create_security_group_rule(lab["base"].id, "ingress", protocol="icmp")
    try:
        assert a.ping(b.ipv4)
        a.run(["ip", "addr", "add", "10.30.0.199/24", "dev", "eth0"])
        try:
            assert not a.run(["ping", "-c", "1", "-W", "1", "-I", "10.30.0.199", b.ipv4], check=False).returncode == 0
        finally:
            a.run(["ip", "addr", "del", "10.30.0.199/24", "dev", "eth0"])
    finally:
        plane.delete_security_group_rule(rule.id)


# keeps one connection open: prints the server's greeting, then echoes stdin lines through it
CLIENT_HOLD = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
f = s.makefile("rw")
print(f.readline().strip(), flush=True)
line = sys.stdin.readline()
s.sendall(line.encode())
print(s.recv(100).decode().strip(), flush=True)
"""
