"""Layer 2: a tenant network is a VXLAN segment across compute hosts; two
networks never see each other's frames, even with the same addresses."""

from __future__ import annotations

import ipaddress

import pytest

from octoprobe.reference_impl.network import eui64_address

from netlab import configure_all, sniff

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lan(netcloud):
    """Tenant A's network with VMs on compute hosts ca and cb; tenant B's
    network with the same IPv4 range and a VM on ca holding cb's VM's address."""
    plane = netcloud.plane
    group = plane.create_security_group("allow-icmp", project_id="tenant-a")
    for ethertype, proto in (("IPv4", "icmp"), ("IPv6", "ipv6-icmp")):
        plane.create_security_group_rule(group.id, "ingress", ethertype=ethertype, protocol=proto)
    net_a = plane.create_network("a-net", project_id="tenant-a")
    plane.create_subnet(net_a.id, "10.10.0.0/24", dns_nameservers=["192.0.2.53"],
                        host_routes=[{"destination": "172.16.0.0/16", "nexthop": "10.10.0.254"}])
    v6 = plane.create_subnet(net_a.id, "fd6f:6374:6f30::/64")
    vm1 = netcloud.endpoint(net_a.id, "ca", security_groups=[group.id])
    vm2 = netcloud.endpoint(net_a.id, "cb", security_groups=[group.id])
    net_b = plane.create_network("b-net", project_id="tenant-b")
    plane.create_subnet(net_b.id, "10.10.0.0/24")
    intruder = netcloud.endpoint(net_b.id, "ca", port_security_enabled=False,
                                 fixed_ips=[{"ip_address": vm2.ipv4}])
    configure_all(vm1, vm2, intruder)
    yield {"a": net_a, "b": net_b, "vm1": vm1, "vm2": vm2, "intruder": intruder, "v6": v6, "group": group}
    for ep in (vm1, vm2, intruder):
        plane.delete_port(ep.port_id)
    plane.delete_network(net_a.id)
    plane.delete_network(net_b.id)
    plane.delete_security_group(group.id)


def test_dhcp_hands_out_the_librarys_address_mtu_dns_and_routes(lan):
    vm1 = lan["vm1"]
    lease = vm1.lease()
    assert lease["ip"] == vm1.ipv4 and lease["mask"] == "24"
    assert lease["mtu"] == "1450"  # underlay 1500 - 50 bytes of VXLAN, option 26
    assert lease["dns"] == "192.0.2.53"
    assert lease["staticroutes"] == "172.16.0.0/16 10.10.0.254 0.0.0.0/0 10.10.0.1"
    assert vm1.mtu() == 1450
    routes = {r["dst"]: r.get("gateway") for r in vm1.routes(4)}
    assert routes["172.16.0.0/16"] == "10.10.0.254" and routes["default"] == "10.10.0.1"


def test_every_port_has_the_slaac_address_computed_from_its_mac(lan):
    for ep in (lan["vm1"], lan["vm2"]):
        expected = str(eui64_address(lan["v6"].cidr, ep.port.mac_address))
        assert ep.expected_ipv6() == [expected]
        assert expected in ep.addresses()


def test_two_vms_on_different_hosts_talk_through_the_vxlan_overlay(netcloud, lan):
    vni = lan["a"].segmentation_id
    before = {h: netcloud.vxlan_counters(h, vni) for h in ("ca", "cb")}
    assert lan["vm1"].ping(lan["vm2"].ipv4, count=5)
    assert lan["vm1"].ping(lan["vm2"].ipv6, count=5)
    assert lan["vm2"].ping(lan["vm1"].ipv6, count=5)
    after = {h: netcloud.vxlan_counters(h, vni) for h in ("ca", "cb")}
    for host in ("ca", "cb"):
        tx, rx = (a - b for a, b in zip(after[host], before[host]))
        assert tx >= 15 and rx >= 15, f"{host}: VXLAN tx {tx}, rx {rx}"


def test_the_overlay_mtu_holds_end_to_end(lan):
    vm1, vm2 = lan["vm1"], lan["vm2"]
    # 1450 - 20 (IPv4) - 8 (ICMP) = 1422 bytes of payload fit unfragmented, one more does not
    assert vm1.ping(vm2.ipv4, size=1422, dont_fragment=True)
    assert not vm1.ping(vm2.ipv4, size=1423, dont_fragment=True, timeout=1)


def test_only_participating_hosts_carry_the_segment(netcloud, lan):
    vni = lan["a"].segmentation_id
    ip = {h: str(netcloud.topology.address_of(h)[0].ip) for h in ("ctl", "ca", "cb", "cc")}
    assert f"vx-{vni}" in netcloud.host_links("ctl")  # the network host serves every network
    assert f"vx-{vni}" not in netcloud.host_links("cc")  # no port there
    fdb = netcloud.plane.kernel.fdb(netcloud.host_ns("ca"), f"vx-{vni}")
    # head-end replication to every other participant, and the remote port's MAC pinned to its host
    assert ("00:00:00:00:00:00", ip["ctl"]) in fdb and ("00:00:00:00:00:00", ip["cb"]) in fdb
    assert (lan["vm2"].port.mac_address, ip["cb"]) in fdb
    assert not any(dst == ip["cc"] for _, dst in fdb)
    # a port on cc brings the segment there, and takes it away again
    ep = netcloud.endpoint(lan["a"].id, "cc", security_groups=[lan["group"].id])
    try:
        assert f"vx-{vni}" in netcloud.host_links("cc")
        assert ("00:00:00:00:00:00", ip["cc"]) in netcloud.plane.kernel.fdb(netcloud.host_ns("ca"), f"vx-{vni}")
        ep.dhcp()
        assert ep.ping(lan["vm1"].ipv4)
    finally:
        netcloud.plane.delete_port(ep.port_id)
    assert f"vx-{vni}" not in netcloud.host_links("cc")
    assert not any(dst == ip["cc"] for _, dst in netcloud.plane.kernel.fdb(netcloud.host_ns("ca"), f"vx-{vni}"))


def test_another_tenants_network_with_the_same_range_is_isolated(netcloud, lan):
    vm1, vm2, intruder = lan["vm1"], lan["vm2"], lan["intruder"]
    assert intruder.ipv4 == vm2.ipv4  # overlapping addresses, on the same compute host as vm1
    assert lan["a"].segmentation_id != lan["b"].segmentation_id
    with sniff(vm1.netns, intruder.port.mac_address, vm2.port.mac_address) as counts:
        assert not intruder.ping(vm1.ipv4, count=3, timeout=0.5)  # ARP broadcasts and all
        assert not intruder.ping("10.10.0.255", count=2, timeout=0.5)
        intruder.run(["ping", "-6", "-c", "2", "-W", "0.5", "-I", "eth0", "ff02::1"], check=False)
        assert vm2.ping(vm1.ipv4, count=2)  # the control: vm1's capture works
    from_intruder, from_vm2 = counts
    assert from_vm2 > 0
    assert from_intruder == 0, f"{from_intruder} frames of tenant B reached tenant A's VM"
    # tenant B's VM has its own working network: it reaches its DHCP server
    assert intruder.lease()["ip"] == vm2.ipv4
    assert ipaddress.ip_address(intruder.ipv4) in ipaddress.ip_network("10.10.0.0/24")


def test_changing_a_ports_address_takes_effect(netcloud, lan):
    plane = netcloud.plane
    ep = netcloud.endpoint(lan["a"].id, "cc", security_groups=[lan["group"].id])
    try:
        first = ep.dhcp()
        assert first == ep.ipv4 and ep.ping(lan["vm1"].ipv4)
        plane.update_port(ep.port_id, fixed_ips=[{"ip_address": "10.10.0.77"}])
        assert ep.ipv4 == "10.10.0.77"
        assert ep.dhcp() == "10.10.0.77"  # the DHCP server knows at once (its old lease is forgotten)
        assert ep.ping(lan["vm1"].ipv4)
        # the old address is no longer the port's: anti-spoofing drops it
        ep.run(["ip", "addr", "add", f"{first}/24", "dev", "eth0"])
        assert ep.run(["ping", "-c", "1", "-W", "1", "-I", first, lan["vm1"].ipv4], check=False).returncode != 0
        # the freed address goes to the next port that asks
        assert plane.create_port(lan["a"].id).fixed_ips[0].ip_address == first
    finally:
        for port in plane.list_ports(lan["a"].id):
            if port.id == ep.port_id or (not port.is_network_owned and port.binding_host is None):
                plane.delete_port(port.id)
