"""Deleting removes everything that was made; ``cloud down`` (teardown_all)
removes all of it at once; ``cloud up`` (restore) rebuilds it from the saved
state, in a new process."""

from __future__ import annotations

import pytest

from netlab import EXT_V4, EXT_V6, MACHINE_V4, PREFIX, configure_all, delete_everything
from octoprobe.reference_impl.network import NetworkPlane, TestEndpoint, leftovers, teardown_all
from octoprobe.reference_impl.network.dataplane import find_our_dnsmasq

pytestmark = pytest.mark.integration


def build(netcloud):
    plane = netcloud.plane
    external = plane.create_network("public", external=True)
    plane.create_subnet(external.id, EXT_V4, enable_dhcp=False)
    plane.create_subnet(external.id, EXT_V6, enable_dhcp=False)
    group = plane.create_security_group("g", project_id="t")
    plane.create_security_group_rule(group.id, "ingress", protocol="icmp")
    plane.create_security_group_rule(group.id, "ingress", ethertype="IPv6", protocol="ipv6-icmp")
    router = plane.create_router("r", project_id="t", external_network_id=external.id)
    endpoints = []
    for i, host in ((1, "ca"), (2, "cb")):
        net = plane.create_network(f"n{i}", project_id="t")
        v4 = plane.create_subnet(net.id, f"10.5{i}.0.0/24")
        v6 = plane.create_subnet(net.id, f"fd6f:6374:6f3{i + 4}::/64")
        plane.add_router_interface(router.id, subnet_id=v4.id)
        plane.add_router_interface(router.id, subnet_id=v6.id)
        endpoints.append(netcloud.endpoint(net.id, host, security_groups=[group.id]))
        plane.create_port(net.id, binding_host="cc", security_groups=[group.id])  # a tap for a VM
    fip = plane.create_floating_ip(external.id, port_id=endpoints[0].port_id)
    configure_all(*endpoints)
    return endpoints, fip


def nothing_of_ours(netcloud) -> None:
    assert leftovers(PREFIX) == []
    assert find_our_dnsmasq(netcloud.plane.paths.root) == []


def test_down_removes_everything_and_up_restores_it(netcloud):
    endpoints, fip = build(netcloud)
    made = leftovers(PREFIX)
    kinds = {item.split()[0] for item in made}
    assert kinds == {"netns", "link", "nft"}
    assert any("/vx-" in i for i in made) and any("/tap" in i for i in made) and any("qrouter" in i for i in made)
    assert len(find_our_dnsmasq(netcloud.plane.paths.root)) == 3  # two DHCP servers, one router's RAs
    status = netcloud.plane.status()
    assert status["dhcp_servers"] == {"expected": 2, "running": 2}
    assert status["router_advertisers"] == {"expected": 1, "running": 1}
    before = netcloud.plane.state().to_dict()

    # `octoprobe cloud down`, as far as the network is concerned
    removed = teardown_all(PREFIX, state_dir=netcloud.state_dir)
    assert removed["processes"] == 3 and removed["namespaces"] >= 5
    assert leftovers(PREFIX) == []
    assert not any(ep.netns in netcloud.plane.kernel.namespaces() for ep in endpoints)

    # `octoprobe cloud up`, in a new process: the same desired state, rebuilt
    again = NetworkPlane(netcloud.topology, PREFIX, netcloud.state_dir)
    again.restore()
    assert again.state().to_dict() == before
    assert sorted(leftovers(PREFIX)) == sorted(made)
    assert again.status()["dhcp_servers"] == {"expected": 2, "running": 2}
    eps = [TestEndpoint(again, ep.port_id) for ep in endpoints]
    configure_all(*eps)
    assert eps[0].ping(eps[1].ipv4) and eps[0].ping(eps[1].ipv6)
    assert eps[1].ping(MACHINE_V4)
    assert netcloud.plane.kernel.run(["ping", "-c", "1", "-W", "2", fip.floating_ip_address]).returncode == 0
    again.restore()  # idempotent
    assert sorted(leftovers(PREFIX)) == sorted(made)


def test_deleting_everything_leaves_nothing(netcloud):
    if not netcloud.plane.state().ports:
        build(netcloud)
    assert leftovers(PREFIX)
    delete_everything(netcloud.plane)
    nothing_of_ours(netcloud)
    state = netcloud.plane.state()
    assert not (state.networks or state.ports or state.routers or state.floating_ips or state.subnets
                or state.security_groups)
