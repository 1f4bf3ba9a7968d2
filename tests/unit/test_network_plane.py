"""The network library's operations against a fake kernel: validation, IPAM,
clear errors that change nothing, persistence, rollback. No root needed."""

from __future__ import annotations

import ipaddress

import pytest

from octoprobe.reference_impl.network import NetworkPlane
from octoprobe.reference_impl.network import errors as E
from octoprobe.reference_impl.network.dataplane import DataPlane
from octoprobe.reference_impl.network.ipam import eui64_address
from octoprobe.reference_impl.topology import parse_topology
from octoprobe.shell import CommandError, Result

TOPOLOGY = """
underlay: {ipv4: 198.18.22.0/24, ipv6: "fd6f:6374:6f22::/64", mtu: 1500}
ceph: {pool_size: 1, pool_min_size: 1}
racks:
  - name: ra
    hosts:
      - {name: ca, roles: [compute, storage], osds: {count: 1, size: 2GiB}}
  - name: rb
    hosts:
      - {name: cb, roles: [compute]}
"""


class FakeRunner:
    """Answers every query with "nothing there" and records every command."""

    def __init__(self):
        self.commands: list[list[str]] = []
        self.inputs: list[str] = []
        self.fail_on: str | None = None

    def run(self, argv, *, timeout, check=True, input=None, env=None):
        argv = list(argv)
        self.commands.append(argv)
        self.inputs.append(input or "")
        text = " ".join(argv) + " " + (input or "")
        if self.fail_on and self.fail_on in text:
            raise CommandError(argv, "exit status 1: injected failure")
        out = ""
        if "-j" in argv and argv[-2:] != ["netns", "list"]:
            out = "[]"
        return Result(tuple(argv), 0, out, "")


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(DataPlane, "start_dnsmasq", lambda self, ns, directory: 4242)
    monkeypatch.setattr(DataPlane, "stop_dnsmasq", lambda self, directory: None)
    monkeypatch.setattr(DataPlane, "dnsmasq_pid", lambda self, directory: None)
    monkeypatch.setattr(DataPlane, "ensure_br_netfilter", lambda self: None)
    return FakeRunner()


@pytest.fixture
def plane(tmp_path, fake) -> NetworkPlane:
    return NetworkPlane(parse_topology(TOPOLOGY), "octu", tmp_path, runner=fake)


def saved(plane: NetworkPlane) -> str:
    path = plane.paths.state
    return path.read_text() if path.exists() else ""


def refused(plane, exc, call, *args, match=None, **kw):
    """The call raises ``exc`` and neither the state nor the kernel changed."""
    before = saved(plane)
    commands = len(plane.kernel.runner.commands)
    with pytest.raises(exc, match=match) as info:
        call(*args, **kw)
    assert saved(plane) == before
    writes = [c for c in plane.kernel.runner.commands[commands:] if "-j" not in c]
    assert writes == [], writes
    return info.value


@pytest.fixture
def net(plane):
    network = plane.create_network("n1", project_id="p1")
    v4 = plane.create_subnet(network.id, "10.0.0.0/24", dns_nameservers=["192.0.2.53"])
    v6 = plane.create_subnet(network.id, "fd6f:6374:6f23::/64")
    return network, v4, v6


# -- networks ------------------------------------------------------------------------
def test_networks_get_vnis_the_overlay_mtu_and_survive_a_new_process(plane, tmp_path, fake):
    a = plane.create_network("a")
    b = plane.create_network("b", segmentation_id=5000)
    assert (a.segmentation_id, a.mtu) == (1000, 1450)
    assert b.segmentation_id == 5000
    again = NetworkPlane(parse_topology(TOPOLOGY), "octu", tmp_path, runner=fake)
    assert {n.id for n in again.list_networks()} == {a.id, b.id}
    assert again.get_network(b.id).segmentation_id == 5000


def test_a_vni_in_use_is_refused(plane):
    plane.create_network("a", segmentation_id=77)
    error = refused(plane, E.VniInUse, plane.create_network, "b", segmentation_id=77, match="77")
    assert (error.status, error.neutron_type) == (409, "TunnelIdInUse")


def test_mtu_above_the_overlay_is_refused(plane):
    refused(plane, E.InvalidInput, plane.create_network, "a", mtu=1500, match="at most 1450")
    assert plane.create_network("b", mtu=1400).mtu == 1400


def test_unknown_ids_are_not_found(plane):
    with pytest.raises(E.NetworkNotFound) as info:
        plane.get_network("nope")
    assert info.value.status == 404 and "network nope could not be found" in str(info.value)
    for call, exc in ((plane.delete_port, E.PortNotFound), (plane.delete_router, E.RouterNotFound),
                      (plane.delete_subnet, E.SubnetNotFound), (plane.delete_floating_ip, E.FloatingIPNotFound),
                      (plane.delete_security_group, E.SecurityGroupNotFound)):
        with pytest.raises(exc):
            call("nope")


# -- subnets and the DHCP port ---------------------------------------------------------------
def test_subnet_defaults_and_the_dhcp_port(plane, net):
    network, v4, v6 = net
    assert (v4.gateway_ip, v4.allocation_pools[0].start, v4.allocation_pools[0].end) == \
        ("10.0.0.1", "10.0.0.2", "10.0.0.254")
    assert (v6.gateway_ip, v6.ipv6_address_mode, v6.ipv6_ra_mode) == ("fd6f:6374:6f23::1", "slaac", "slaac")
    dhcp = plane.state().dhcp_port(network.id)
    assert dhcp.fixed_ips[0].ip_address == "10.0.0.2"
    assert dhcp.fixed_ips[1].ip_address == str(eui64_address(v6.cidr, dhcp.mac_address))


@pytest.mark.parametrize("cidr, kw, exc, why", [
    ("10.0.0.5/24", {}, E.InvalidInput, "host bits"),
    ("fd00:1::/56", {}, E.InvalidInput, "must be a /64"),
    ("fd00:1::/64", {"ipv6_address_mode": "dhcpv6-stateful"}, E.UnsupportedFeature, "SLAAC"),
    ("10.1.0.0/24", {"gateway_ip": "10.2.0.1"}, E.InvalidIpForSubnet, "not in"),
    ("10.1.0.0/24", {"dns_nameservers": ["not-an-ip"]}, E.InvalidInput, "DNS nameserver"),
    ("10.1.0.0/24", {"host_routes": [{"destination": "fd00::/64", "nexthop": "10.1.0.9"}]},
     E.InvalidInput, "not IPv4"),
    ("10.1.0.0/24", {"allocation_pools": [{"start": "10.1.0.1", "end": "10.1.0.9"}]}, E.InvalidInput, "gateway"),
    ("10.0.0.128/25", {}, E.SubnetOverlap, "overlaps"),
])
def test_bad_subnets_are_refused(plane, net, cidr, kw, exc, why):
    refused(plane, exc, plane.create_subnet, net[0].id, cidr, match=why, **kw)


# -- ports and IPAM -------------------------------------------------------------------------
def test_ports_get_distinct_addresses_and_a_slaac_address_from_their_mac(plane, net):
    network, v4, v6 = net
    ports = [plane.create_port(network.id) for _ in range(3)]
    v4s = [p.fixed_ips[0].ip_address for p in ports]
    assert v4s == ["10.0.0.3", "10.0.0.4", "10.0.0.5"]
    for port in ports:
        assert port.fixed_ips[1].ip_address == str(eui64_address(v6.cidr, port.mac_address))
        assert port.mac_address.startswith("fa:16:3e:")
    assert len({p.mac_address for p in ports}) == 3
    fixed = plane.create_port(network.id, fixed_ips=[{"ip_address": "10.0.0.200"}])
    assert [f.ip_address for f in fixed.fixed_ips][0] == "10.0.0.200"
    plane.delete_port(ports[0].id)
    assert plane.create_port(network.id).fixed_ips[0].ip_address == "10.0.0.3"  # freed, reused


@pytest.mark.parametrize("fixed_ips, exc, why", [
    ([{"ip_address": "10.9.0.5"}], E.InvalidIpForSubnet, "not in any subnet"),
    ([{"ip_address": "10.0.0.255"}], E.InvalidIpForSubnet, "broadcast"),
    ([{"ip_address": "10.0.0.2"}], E.IpAddressInUse, "already allocated"),  # the DHCP port's
    ([{"ip_address": "10.0.0.1"}], E.IpAddressInUse, "gateway"),
    ([{"ip_address": "fd6f:6374:6f23::99"}], E.InvalidInput, "computed from its MAC"),
    ([{"subnet_id": "nope"}], E.SubnetNotFound, "nope"),
    ("10.0.0.9", E.InvalidInput, "must be a list"),
])
def test_bad_fixed_ips_are_refused(plane, net, fixed_ips, exc, why):
    refused(plane, exc, plane.create_port, net[0].id, fixed_ips=fixed_ips, match=why)


def test_a_taken_address_and_mac_are_refused(plane, net):
    port = plane.create_port(net[0].id, mac_address="fa:16:3e:01:02:03", fixed_ips=[{"ip_address": "10.0.0.50"}])
    error = refused(plane, E.IpAddressInUse, plane.create_port, net[0].id, fixed_ips=[{"ip_address": "10.0.0.50"}])
    assert error.neutron_type == "IpAddressInUse"
    refused(plane, E.MacAddressInUse, plane.create_port, net[0].id, mac_address="FA:16:3E:01:02:03")
    # updating a port to its own address is not a conflict
    assert plane.update_port(port.id, fixed_ips=[{"ip_address": "10.0.0.50"}]).fixed_ips[0].ip_address == "10.0.0.50"


def test_an_exhausted_subnet(plane):
    network = plane.create_network("small")
    plane.create_subnet(network.id, "10.5.0.0/29")  # .1 gateway, .2 DHCP, .3-.6 for ports
    for _ in range(4):
        plane.create_port(network.id)
    refused(plane, E.IpAddressGenerationFailure, plane.create_port, network.id)


def test_ports_bind_only_to_compute_hosts(plane, net):
    refused(plane, E.HostNotFound, plane.create_port, net[0].id, binding_host="ctl", match="not a compute host")
    refused(plane, E.InvalidInput, plane.create_port, net[0].id, binding_host="ca", binding_kind="vm")
    assert plane.create_port(net[0].id, binding_host="ca").binding_kind == "tap"


def test_network_with_ports_cannot_be_deleted(plane, net):
    port = plane.create_port(net[0].id)
    refused(plane, E.NetworkInUse, plane.delete_network, net[0].id, match=port.id)
    refused(plane, E.SubnetInUse, plane.delete_subnet, net[1].id, match=port.id)
    plane.delete_port(port.id)
    plane.delete_network(net[0].id)
    state = plane.state()
    assert not state.networks and not state.subnets and not state.ports


def test_deleting_an_ipv6_subnet_removes_the_slaac_addresses(plane, net):
    port = plane.create_port(net[0].id)
    plane.delete_subnet(net[2].id)
    assert [f.ip_address for f in plane.get_port(port.id).fixed_ips] == [port.fixed_ips[0].ip_address]


# -- routers -------------------------------------------------------------------------------
def test_overlapping_subnets_on_one_router_are_refused(plane, net):
    other = plane.create_network("tenant-b", project_id="p2")
    same_range = plane.create_subnet(other.id, "10.0.0.0/24")  # fine on its own network
    router = plane.create_router("r")
    info = plane.add_router_interface(router.id, subnet_id=net[1].id)
    assert info.subnet_id == net[1].id and info.network_id == net[0].id
    error = refused(plane, E.SubnetOverlap, plane.add_router_interface, router.id, subnet_id=same_range.id,
                    match="overlaps CIDR 10.0.0.0/24")
    assert error.status == 400
    refused(plane, E.RouterInterfaceInUse, plane.add_router_interface, router.id, subnet_id=net[1].id)
    # the v6 subnet of the same network shares the router's leg on it
    plane.add_router_interface(router.id, subnet_id=net[2].id)
    legs = plane.state().router_interfaces(router.id)
    assert len(legs) == 1
    assert [f.ip_address for f in legs[0].fixed_ips] == ["10.0.0.1", "fd6f:6374:6f23::1"]
    refused(plane, E.RouterInUse, plane.delete_router, router.id)
    refused(plane, E.SubnetInUse, plane.delete_subnet, net[1].id, match="router interface")
    plane.remove_router_interface(router.id, subnet_id=net[1].id)
    plane.remove_router_interface(router.id, subnet_id=net[2].id)
    plane.delete_router(router.id)
    assert not plane.state().routers


def test_floating_ips_need_a_router_between_port_and_external_network(plane, net):
    ext = plane.create_network("ext", external=True)
    assert ext.segmentation_id is None and ext.mtu == 1500
    plane.create_subnet(ext.id, "203.0.113.0/24", enable_dhcp=False)
    port = plane.create_port(net[0].id)
    refused(plane, E.ExternalGatewayNotFound, plane.create_floating_ip, ext.id, port_id=port.id,
            match="not reachable")
    router = plane.create_router("r", external_network_id=ext.id)
    gw = plane.get_port(router.gateway_port_id)
    assert gw.fixed_ips[0].ip_address == "203.0.113.2"
    plane.add_router_interface(router.id, subnet_id=net[1].id)
    fip = plane.create_floating_ip(ext.id, port_id=port.id)
    assert (fip.floating_ip_address, fip.fixed_ip_address, fip.router_id) == \
        ("203.0.113.3", port.fixed_ips[0].ip_address, router.id)
    refused(plane, E.IpAddressInUse, plane.create_floating_ip, ext.id, floating_ip_address="203.0.113.3")
    refused(plane, E.FloatingIpInUse, plane.create_floating_ip, ext.id, port_id=port.id)
    refused(plane, E.RouterInterfaceInUse, plane.remove_router_interface, router.id, subnet_id=net[1].id)
    refused(plane, E.NetworkInUse, plane.delete_network, ext.id)
    plane.delete_port(port.id)  # disassociates
    assert plane.get_floating_ip(fip.id).port_id is None


def test_external_networks_are_not_for_vms(plane):
    ext = plane.create_network("ext", external=True)
    refused(plane, E.UnsupportedFeature, plane.create_port, ext.id)
    refused(plane, E.InvalidInput, plane.create_network, "x", external=True, segmentation_id=9)


# -- security groups ------------------------------------------------------------------------
def test_new_groups_allow_all_egress(plane):
    group = plane.create_security_group("g")
    rules = plane.list_security_group_rules(group.id)
    assert sorted((r.direction, r.ethertype, r.protocol) for r in rules) == \
        [("egress", "IPv4", None), ("egress", "IPv6", None)]


@pytest.mark.parametrize("kw, why", [
    ({"direction": "sideways"}, "direction"),
    ({"ethertype": "IPX"}, "ethertype"),
    ({"protocol": "gre-ish"}, "protocol"),
    ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80}, "greater than"),
    ({"protocol": "tcp", "port_range_min": 0}, "1..65535"),
    ({"protocol": "tcp", "port_range_max": 80}, "needs port_range_min"),
    ({"protocol": None, "port_range_min": 80}, "need protocol"),
    ({"protocol": "icmp", "port_range_min": 300}, "ICMP type"),
    ({"protocol": "ipv6-icmp", "ethertype": "IPv4"}, "IPv6"),
    ({"remote_ip_prefix": "fd00::/64"}, "does not match ethertype"),
    ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"}, "not both"),
])
def test_bad_rules_are_refused(plane, kw, why):
    group = plane.create_security_group("g")
    args = {"direction": "ingress", **kw}
    direction = args.pop("direction")
    refused(plane, E.InvalidInput, plane.create_security_group_rule, group.id, direction, match=why, **args)


def test_rules_are_normalised_and_duplicates_refused(plane):
    group = plane.create_security_group("g")
    r = plane.create_security_group_rule(group.id, "ingress", protocol="TCP", port_range_min=22,
                                         remote_ip_prefix="10.0.0.7/8")
    assert (r.protocol, r.port_range_max, r.remote_ip_prefix) == ("tcp", 22, "10.0.0.0/8")
    refused(plane, E.SecurityGroupRuleExists, plane.create_security_group_rule, group.id, "ingress",
            protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="10.0.0.0/8")
    refused(plane, E.SecurityGroupNotFound, plane.create_security_group_rule, group.id, "ingress",
            remote_group_id="nope")


def test_duplicates_are_found_whatever_the_spelling(plane):
    # Neutron compares protocol numbers, and takes 0.0.0.0/0 / ::/0 for "anywhere" (no prefix)
    group = plane.create_security_group("g")
    plane.create_security_group_rule(group.id, "ingress", protocol="udp", port_range_min=53)
    refused(plane, E.SecurityGroupRuleExists, plane.create_security_group_rule, group.id, "ingress",
            protocol="17", port_range_min=53, port_range_max=53)
    # a new group's default egress rules have no prefix
    refused(plane, E.SecurityGroupRuleExists, plane.create_security_group_rule, group.id, "egress",
            ethertype="IPv6", remote_ip_prefix="::/0")
    rule = plane.create_security_group_rule(group.id, "ingress", protocol="6", port_range_min=53)
    assert rule.protocol == "6", "the protocol is kept as written"


def test_groups_in_use_cannot_be_deleted_and_remote_references_go_with_them(plane, net):
    a, b = plane.create_security_group("a"), plane.create_security_group("b")
    plane.create_security_group_rule(a.id, "ingress", remote_group_id=b.id)
    port = plane.create_port(net[0].id, security_groups=[b.id])
    refused(plane, E.SecurityGroupInUse, plane.delete_security_group, b.id, match=port.id)
    refused(plane, E.InvalidInput, plane.update_port, port.id, port_security_enabled=False,
            match="security groups")
    plane.update_port(port.id, security_groups=[], port_security_enabled=False)
    plane.delete_security_group(b.id)
    assert all(r.remote_group_id != b.id for r in plane.list_security_group_rules())


# -- the kernel failing ---------------------------------------------------------------------
def test_a_kernel_failure_rolls_back_and_saves_nothing(plane, fake, net):
    before = saved(plane)
    fake.fail_on = "tuntap add"
    with pytest.raises(E.DataPlaneError, match="nothing was changed.*injected failure") as info:
        plane.create_port(net[0].id, binding_host="ca")
    assert info.value.status == 500
    assert saved(plane) == before
    fake.fail_on = None
    assert plane.create_port(net[0].id, binding_host="ca").binding_host == "ca"


def test_every_error_class_has_an_http_status_and_a_neutron_type():
    classes = [c for c in vars(E).values() if isinstance(c, type) and issubclass(c, E.NetworkError)]
    assert len(classes) > 30
    for cls in classes:
        assert cls.status in (400, 404, 409, 500), cls
        assert cls.neutron_type, cls


def test_commands_have_the_expected_shape(plane, fake, net):
    """A port bound to a compute host makes a tap on that host's tenant bridge
    and a VXLAN to the network host; the security-group tables are replaced."""
    fake.commands.clear()
    port = plane.create_port(net[0].id, binding_host="cb")
    batches = [c for c in fake.commands if c[:3] == ["ip", "-n", "octu-cb"]]
    assert batches, fake.commands
    text = "\n".join(fake.inputs)
    assert "vx-1000 type vxlan id 1000 local 198.18.22.4" in text
    assert f"tuntap add dev tap{port.id.replace('-', '')[:11]} mode tap" in text
    assert "fdb append 00:00:00:00:00:00 dev vx-1000 dst 198.18.22.2 self permanent" in text
    nft = [c for c in fake.commands if c[-3:] == ["nft", "-f", "-"]]
    assert nft and nft[0][:4] == ["ip", "netns", "exec", "octu-cb"]
    assert ipaddress.ip_address(port.fixed_ips[0].ip_address) in ipaddress.ip_network("10.0.0.0/24")


def test_port_ids_must_give_distinct_device_names(plane, net):
    plane.create_port(net[0].id, port_id="port-000000001")
    refused(plane, E.Conflict, plane.create_port, net[0].id, port_id="port-000000002", match="device name")
    assert plane.tap_name("port-000000001") == "tapport0000000"
