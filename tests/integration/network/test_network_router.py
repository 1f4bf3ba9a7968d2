"""Layer 3: a router between two tenant subnets (IPv4 and IPv6), SNAT to the
external network, IPv6 routed without NAT, floating IPs reachable from the machine."""

from __future__ import annotations

import pytest

from netlab import MACHINE_V4, MACHINE_V6, configure_all, tcp_connect, tcp_server

pytestmark = pytest.mark.integration

PORT = 7000


@pytest.fixture(scope="module")
def routed(netcloud, external):
    plane = netcloud.plane
    group = plane.create_security_group("web", project_id="t")
    for ethertype, proto in (("IPv4", "icmp"), ("IPv6", "ipv6-icmp")):
        plane.create_security_group_rule(group.id, "ingress", ethertype=ethertype, protocol=proto)
    for ethertype in ("IPv4", "IPv6"):
        plane.create_security_group_rule(group.id, "ingress", ethertype=ethertype, protocol="tcp",
                                         port_range_min=PORT, port_range_max=PORT)
    router = plane.create_router("r1", project_id="t", external_network_id=external.id)
    nets, subnets = [], []
    for i in (1, 2):
        net = plane.create_network(f"net{i}", project_id="t")
        v4 = plane.create_subnet(net.id, f"10.2{i}.0.0/24")
        v6 = plane.create_subnet(net.id, f"fd6f:6374:6f3{i}::/64")
        plane.add_router_interface(router.id, subnet_id=v4.id)
        plane.add_router_interface(router.id, subnet_id=v6.id)
        nets.append(net)
        subnets.append((v4, v6))
    vm1 = netcloud.endpoint(nets[0].id, "ca", security_groups=[group.id])
    vm2 = netcloud.endpoint(nets[1].id, "cb", security_groups=[group.id])
    configure_all(vm1, vm2)
    yield {"router": plane.get_router(router.id), "vm1": vm1, "vm2": vm2, "nets": nets, "subnets": subnets,
           "group": group}
    for ep in (vm1, vm2):
        plane.delete_port(ep.port_id)
    for v4, v6 in subnets:
        plane.remove_router_interface(router.id, subnet_id=v4.id)
        plane.remove_router_interface(router.id, subnet_id=v6.id)
    plane.delete_router(router.id)
    for net in nets:
        plane.delete_network(net.id)
    plane.delete_security_group(group.id)


def test_the_router_is_each_subnets_gateway(routed):
    vm1 = routed["vm1"]
    assert vm1.lease()["router"] == "10.21.0.1"
    v6_routes = {r["dst"]: r for r in vm1.routes(6)}
    assert v6_routes["default"]["protocol"] == "ra"  # from the router's advertisements
    assert v6_routes["default"]["gateway"].startswith("fe80::")


def test_a_vm_reaches_a_vm_on_another_subnet_over_ipv4_and_ipv6(routed):
    vm1, vm2 = routed["vm1"], routed["vm2"]
    assert vm1.ping(vm2.ipv4, count=3)
    assert vm2.ping(vm1.ipv4, count=3)
    assert vm1.ping(vm2.ipv6, count=3)
    assert vm2.ping(vm1.ipv6, count=3)
    # routed, not NATed: the far side sees the real source address, on both families
    with tcp_server(vm2.netns, "0.0.0.0", PORT):
        assert tcp_connect(vm1.netns, vm2.ipv4, PORT) == vm1.ipv4
    with tcp_server(vm2.netns, "::", PORT):
        assert tcp_connect(vm1.netns, vm2.ipv6, PORT) == vm1.ipv6


def test_a_vm_reaches_the_external_network_through_snat(netcloud, routed):
    vm1 = routed["vm1"]
    gateway = netcloud.plane.get_port(routed["router"].gateway_port_id)
    gateway_v4 = next(f.ip_address for f in gateway.fixed_ips if ":" not in f.ip_address)
    assert vm1.ping(MACHINE_V4, count=2)
    with tcp_server(None, MACHINE_V4, PORT + 1):
        assert tcp_connect(vm1.netns, MACHINE_V4, PORT + 1) == gateway_v4  # SNAT to the router's address


def test_ipv6_to_the_outside_is_routed_without_nat(netcloud, routed):
    vm1 = routed["vm1"]
    assert vm1.ping(MACHINE_V6, count=2)
    with tcp_server(None, MACHINE_V6, PORT + 2):
        assert tcp_connect(vm1.netns, MACHINE_V6, PORT + 2) == vm1.ipv6
    # and the machine reaches the tenant's IPv6 addresses directly
    with tcp_server(vm1.netns, "::", PORT):
        assert tcp_connect(None, vm1.ipv6, PORT) == MACHINE_V6


def test_a_floating_ip_makes_a_vm_reachable_from_the_machine(netcloud, external, routed):
    plane, vm2 = netcloud.plane, routed["vm2"]
    fip = plane.create_floating_ip(external.id, port_id=vm2.port_id)
    assert fip.fixed_ip_address == vm2.ipv4 and fip.router_id == routed["router"].id
    address = fip.floating_ip_address
    with tcp_server(vm2.netns, "0.0.0.0", PORT):
        assert tcp_connect(None, address, PORT) == MACHINE_V4  # DNAT in, the machine's own address seen
        # and the VM goes out as its floating IP, not the router's address
        with tcp_server(None, MACHINE_V4, PORT + 3):
            assert tcp_connect(vm2.netns, MACHINE_V4, PORT + 3) == address
        # another VM behind the same router reaches it through the floating IP too (hairpin)
        assert tcp_connect(routed["vm1"].netns, address, PORT) is not None
        # disassociated: the address stops answering; associated again: it answers
        plane.update_floating_ip(fip.id, port_id=None)
        assert tcp_connect(None, address, PORT, timeout=1) is None
        plane.update_floating_ip(fip.id, port_id=vm2.port_id)
        assert tcp_connect(None, address, PORT) == MACHINE_V4
    plane.delete_floating_ip(fip.id)
    assert netcloud.plane.kernel.run(["ping", "-c", "1", "-W", "1", address], check=False).returncode != 0


def test_the_router_lives_in_its_own_namespace_on_the_network_host(netcloud, routed):
    router = routed["router"]
    ns = netcloud.plane.names.router_ns(router.id)
    assert ns in netcloud.plane.kernel.namespaces()
    links = netcloud.plane.kernel.links(ns)
    assert sum(n.startswith("qr-") for n in links) == 2 and sum(n.startswith("qg-") for n in links) == 1
    ctl = netcloud.host_links("ctl")
    assert sum(n.startswith("rq-") for n in ctl) == 2  # its legs plug into the network host's bridges
