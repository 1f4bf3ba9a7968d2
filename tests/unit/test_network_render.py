"""dnsmasq and nftables text rendered from the desired state; parsers of
``ip``/``bridge`` JSON recorded from iproute2 6.1 on Linux 6.18."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from octoprobe.reference_impl.network import kernel, render
from octoprobe.reference_impl.network.dataplane import DataPlane
from octoprobe.reference_impl.network.kernel import Kernel
from octoprobe.reference_impl.network.model import HostRoute, SecurityGroupRule, State, Subnet
from octoprobe.reference_impl.network.names import NetNames, NetPaths
from octoprobe.reference_impl.topology import parse_topology

DATA = Path(__file__).parent / "data" / "network"
G1 = "11111111-2222-3333-4444-555555555555"
G2 = "66666666-7777-8888-9999-000000000000"

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


def load(name: str):
    return json.loads((DATA / name).read_text())


def subnet(sid: str, cidr: str, **kw) -> Subnet:
    version = 6 if ":" in cidr else 4
    defaults = dict(id=sid, name="", project_id="p", network_id="n", ip_version=version, cidr=cidr,
                    gateway_ip=None, enable_dhcp=True)
    defaults.update(kw)
    return Subnet(**defaults)


def rule(direction="ingress", ethertype="IPv4", protocol=None, lo=None, hi=None, prefix=None, group=None,
         rid="r1", sg=G1) -> SecurityGroupRule:
    return SecurityGroupRule(rid, sg, "p", direction, ethertype, protocol, lo, hi, prefix, group)


# -- dnsmasq -------------------------------------------------------------------------
def dhcp_conf(subnets):
    return render.render_dhcp_conf(network_id="n", interface="ns-abc", subnets=subnets, mtu=1450,
                                   hosts_file="/s/hosts", lease_file="/s/leases", pid_file="/s/pid",
                                   log_file="/s/log")


def test_dhcp_conf_hands_out_mtu_gateway_dns_and_host_routes():
    conf = dhcp_conf([subnet("aaaa-1", "10.0.0.0/24", gateway_ip="10.0.0.1", dns_nameservers=["192.0.2.53"],
                             host_routes=[HostRoute("172.16.0.0/16", "10.0.0.5")])])
    lines = conf.splitlines()
    assert "port=0" in lines and "interface=ns-abc" in lines and "dhcp-hostsfile=/s/hosts" in lines
    assert "dhcp-range=set:saaaa1,10.0.0.0,static,255.255.255.0,86400s" in lines
    assert "dhcp-option=tag:saaaa1,option:mtu,1450" in lines  # option 26
    assert "dhcp-option=tag:saaaa1,option:router,10.0.0.1" in lines
    assert "dhcp-option=tag:saaaa1,option:dns-server,192.0.2.53" in lines
    # option 121 replaces option 3 at the client: the default route is repeated
    assert "dhcp-option=tag:saaaa1,option:classless-static-route,172.16.0.0/16,10.0.0.5,0.0.0.0/0,10.0.0.1" in lines
    assert "enable-ra" not in lines


def test_dhcp_conf_without_gateway_or_dns_sends_neither():
    lines = dhcp_conf([subnet("b", "10.9.0.0/24")]).splitlines()
    assert not any("option:router" in line for line in lines)
    assert "dhcp-option=tag:sb,option:dns-server" in lines  # empty: not ourselves


def test_dhcp_conf_advertises_ipv6_prefixes_without_claiming_to_be_a_router():
    lines = dhcp_conf([subnet("c", "fd00:1::/64", dns_nameservers=["fd00:1::53"]),
                       subnet("d", "10.0.0.0/24", enable_dhcp=False)]).splitlines()
    assert "dhcp-range=set:sc,fd00:1::,ra-only,64" in lines
    assert "dhcp-option=tag:sc,option6:dns-server,[fd00:1::53]" in lines
    assert "enable-ra" in lines
    assert "ra-param=ns-abc,mtu:1450,30,0" in lines  # router lifetime 0
    assert not any("10.0.0.0" in line for line in lines)  # DHCP disabled there


def test_dhcp_hosts_are_sorted_by_address():
    text = render.render_dhcp_hosts([render.DhcpHost("fa:16:3e:00:00:0b", "10.0.0.10"),
                                     render.DhcpHost("fa:16:3e:00:00:0a", "10.0.0.9")])
    assert text == ("fa:16:3e:00:00:0a,10.0.0.9,host-10-0-0-9\n"
                    "fa:16:3e:00:00:0b,10.0.0.10,host-10-0-0-10\n")
    assert render.render_dhcp_hosts([]) == ""


def test_router_ra_conf_announces_the_router():
    conf = render.render_router_ra_conf(
        router_id="r", pid_file="/p", log_file="/l",
        legs=[render.RouterLeg("qr-1", 1450, (subnet("e", "fd00:2::/64"),))])
    lines = conf.splitlines()
    assert "interface=qr-1" in lines and "enable-ra" in lines
    assert "dhcp-range=set:se,fd00:2::,ra-only,64" in lines
    assert "ra-param=qr-1,mtu:1450,30,1800" in lines


# -- security-group rules ---------------------------------------------------------------
@pytest.mark.parametrize("r, text", [
    (rule(protocol="tcp", lo=22, hi=22), "meta nfproto ipv4 tcp dport 22 accept"),
    (rule(protocol="udp", lo=1000, hi=2000, prefix="10.0.0.0/8"),
     "meta nfproto ipv4 ip saddr 10.0.0.0/8 udp dport 1000-2000 accept"),
    (rule(direction="egress", protocol="tcp", lo=80, hi=80, prefix="192.0.2.0/24"),
     "meta nfproto ipv4 ip daddr 192.0.2.0/24 tcp dport 80 accept"),
    (rule(protocol="icmp", lo=8, hi=0), "meta nfproto ipv4 meta l4proto icmp icmp type 8 icmp code 0 accept"),
    (rule(ethertype="IPv6", protocol="ipv6-icmp"), "meta nfproto ipv6 meta l4proto ipv6-icmp accept"),
    (rule(ethertype="IPv6", protocol="icmp", lo=128), "meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 128 accept"),
    (rule(ethertype="IPv6", protocol="tcp", lo=22, hi=22, group=G2),
     "meta nfproto ipv6 ip6 saddr @m_66666666777788889999000000000000_6 tcp dport 22 accept"),
    (rule(direction="egress"), "meta nfproto ipv4 accept"),
    (rule(protocol="47"), "meta nfproto ipv4 meta l4proto 47 accept"),
    (rule(protocol="tcp"), "meta nfproto ipv4 meta l4proto 6 accept"),
])
def test_render_rule(r, text):
    assert render.render_rule(r) == text


def port_filter(index, device, groups=(G1,)):
    return render.PortFilter(index, device, f"fa:16:3e:00:00:{index:02x}", (f"10.0.0.{index + 10}",),
                             (f"fe80::f816:3eff:fe00:{index:x}", f"fd00::f816:3eff:fe00:{index:x}"), groups)


def test_host_filter_marks_ports_and_chains_them_to_their_groups():
    script = render.render_host_filter(
        [port_filter(7, "tapseven"), port_filter(3, "tapthree", groups=(G1, G2))],
        {G1: [rule(protocol="tcp", lo=22, hi=22, group=G2)], G2: [rule(direction="egress", sg=G2, rid="r2")]},
        {G2: render.GroupMembers(("10.0.0.13",), ())},
        {"br-1000": 4},
    )
    # the tables are replaced in one transaction
    assert script.splitlines()[:4] == ["table bridge sg_mark", "delete table bridge sg_mark",
                                       "table inet sg_filter", "delete table inet sg_filter"]
    assert '\t\tiifname vmap { "tapthree" : jump from_3, "tapseven" : jump from_7 }' in script
    assert '\t\toifname vmap { "tapthree" : jump to_3, "tapseven" : jump to_7 }' in script
    assert "\t\tmeta mark set 0x00070000" in script
    assert "\t\tmeta mark set meta mark & 0xffff0000 | 0x00000007" in script
    # layer-2 anti-spoofing
    assert "\t\tether saddr != fa:16:3e:00:00:07 drop" in script
    assert "\t\tether type arp arp saddr ip != { 10.0.0.17, 0.0.0.0 } drop" in script
    # conntrack zone per tenant bridge
    assert '\t\tiifname "br-1000" ct zone set 4' in script
    assert "meta mark & 0xffff0000 vmap { 0x00030000 : jump out_3, 0x00070000 : jump out_7 }" in script
    assert "meta mark & 0x0000ffff vmap { 0x00000003 : jump in_3, 0x00000007 : jump in_7 }" in script
    # layer-3 anti-spoofing, then state, then the groups, then drop
    out3 = script.split("\tchain out_3 {\n")[1].split("\t}")[0].splitlines()
    assert "\t\tmeta nfproto ipv4 ip saddr != { 10.0.0.13 } drop" in out3
    assert "\t\tmeta nfproto ipv6 ip6 saddr != { fe80::f816:3eff:fe00:3, fd00::f816:3eff:fe00:3, :: } drop" in out3
    assert out3[-3:] == [f"\t\tjump g_{G1.replace('-', '')}_out", f"\t\tjump g_{G2.replace('-', '')}_out",
                         "\t\tdrop"]
    in7 = script.split("\tchain in_7 {\n")[1].split("\t}")[0].splitlines()
    assert in7.index("\t\tct state established,related accept") < in7.index(f"\t\tjump g_{G1.replace('-', '')}_in")
    assert in7[-1] == "\t\tdrop"
    # the remote group's members
    assert "\t\telements = { 10.0.0.13 }" in script
    g1_in = script.split(f"\tchain g_{G1.replace('-', '')}_in {{\n")[1].split("\t}")[0]
    assert f"ip saddr @m_{G2.replace('-', '')}_4 tcp dport 22 accept" in g1_in


def test_host_filter_with_nothing_only_deletes():
    script = render.render_host_filter([], {}, {}, {})
    assert script == ("table bridge sg_mark\ndelete table bridge sg_mark\n"
                      "table inet sg_filter\ndelete table inet sg_filter\n")


def test_port_index_must_fit_the_mark():
    with pytest.raises(ValueError, match="16 bits"):
        render.render_host_filter([port_filter(0x10000 - 1 + 1, "tapx")], {}, {}, {})


def test_router_nat_maps_floating_ips_and_snats_the_rest():
    script = render.render_router_nat(render.RouterNat(
        "qg-1", "203.0.113.2", ("10.1.0.0/24", "10.2.0.0/24"),
        (render.FloatingMapping("203.0.113.9", "10.1.0.5"),)))
    assert "\t\tip daddr 203.0.113.9 dnat to 10.1.0.5" in script
    assert script.count("dnat to 10.1.0.5") == 2  # prerouting and output
    post = script.split("\tchain postrouting {\n")[1]
    assert post.index('oifname "qg-1" ip saddr 10.1.0.5 snat to 203.0.113.9') < \
        post.index('oifname "qg-1" ip saddr { 10.1.0.0/24, 10.2.0.0/24 } snat to 203.0.113.2')
    assert 'oifname != "qg-1" ip saddr { 10.1.0.0/24, 10.2.0.0/24 } ct status dnat masquerade' in post


def test_router_nat_without_snat_or_gateway():
    script = render.render_router_nat(render.RouterNat("qg-1", "203.0.113.2", ("10.1.0.0/24",), (), False))
    assert "snat to 203.0.113.2" not in script
    assert render.render_router_nat(render.RouterNat(None, None)) == "table ip nat\ndelete table ip nat\n"


def nft_check(script: str) -> None:
    """Let the kernel's nftables validate the script (a dry run in a throwaway namespace)."""
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"):
        pytest.skip("checking nft syntax needs root, nft and unshare")
    proc = subprocess.run(["unshare", "--net", "nft", "-c", "-f", "-"], input=script, text=True,
                          capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_rendered_scripts_are_valid_nftables():
    nft_check(render.render_host_filter(
        [port_filter(1, "tapone"), port_filter(2, "taptwo", groups=(G2,))],
        {G1: [rule(protocol="tcp", lo=22, hi=22, group=G2), rule(ethertype="IPv6", protocol="icmp", lo=128, rid="x")],
         G2: [rule(direction="egress", sg=G2, rid="r2"), rule(protocol="udp", lo=1, hi=9, prefix="1.2.3.0/24",
                                                              sg=G2, rid="r3")]},
        {G2: render.GroupMembers(("10.0.0.12",), ("fd00::1",))}, {"br-1000": 1, "br-1001": 2}))
    nft_check(render.render_router_nat(render.RouterNat(
        "qg-1", "203.0.113.2", ("10.1.0.0/24",), (render.FloatingMapping("203.0.113.9", "10.1.0.5"),))))


# -- from the saved state to a host's script -------------------------------------------
def test_host_filter_script_from_a_recorded_state():
    state = State.from_dict(load("state_two_networks_router.json"))
    plane = DataPlane(parse_topology(TOPOLOGY), "octm", NetPaths(Path("/nonexistent")), Kernel())
    vm_ports = [p for p in state.ports.values() if p.binding_kind == "endpoint"]
    assert len(vm_ports) == 2
    for port in vm_ports:
        script = plane.host_filter_script(state, port.binding_host)
        assert f'"{NetNames.tap(port.id)}" : jump from_{port.index}' in script
        assert f"ether saddr != {port.mac_address} drop" in script
        for fixed in port.fixed_ips:
            assert fixed.ip_address in script
        net = state.networks[port.network_id]
        assert f'iifname "br-{net.segmentation_id}" ct zone set {net.index}' in script


def test_state_round_trips_through_json():
    data = load("state_two_networks_router.json")
    state = State.from_dict(data)
    assert json.loads(json.dumps(state.to_dict(), sort_keys=True)) == json.loads(json.dumps(data, sort_keys=True))
    assert state.copy() is not state and state.copy().to_dict() == state.to_dict()
    with pytest.raises(ValueError, match="format"):
        State.from_dict({"format": 99})


# -- parsers of recorded iproute2 output ------------------------------------------------
def test_parse_links_of_the_network_host():
    links = kernel.parse_links(load("ip_link_ctl.json"))
    assert links["br-1000"].kind == "bridge" and links["br-1000"].mtu == 1450
    vx = links["vx-1000"]
    assert (vx.kind, vx.vni, vx.local, vx.master) == ("vxlan", 1000, "198.18.22.2", "br-1000")
    assert links["dh-3fc1e10edcb"].master == "br-1000" and links["dh-3fc1e10edcb"].kind == "veth"
    assert links["eth0"].mtu == 1500 and links["eth0"].vni is None


def test_parse_links_of_a_compute_host():
    links = kernel.parse_links(load("ip_link_compute.json"))
    assert set(links) == {"lo", "eth0", "br-1000", "vx-1000", "tapef502d41620"}
    assert links["vx-1000"].local == "198.18.22.3"


def test_parse_fdb_keeps_only_the_vxlan_entries():
    assert kernel.parse_fdb(load("bridge_fdb_vxlan.json")) == {
        ("00:00:00:00:00:00", "198.18.22.3"), ("fa:16:3e:ac:10:a3", "198.18.22.3")}


def test_parse_addresses_leaves_out_link_local():
    addrs = kernel.parse_addresses(load("ip_addr_router.json"))
    assert addrs["qr-00c5ec3041e"] == {"10.1.0.1/24", "fd6f:6374:6f31::1/64"}
    assert addrs["qg-3eb443f47b7"] == {"203.0.113.2/24", "203.0.113.3/32",
                                       "fd6f:6374:6f2e:0:f816:3eff:fe16:55c5/64"}


def test_parse_routes_and_namespaces():
    assert kernel.parse_routes(load("ip_route_external.json")) == {
        ("fd6f:6374:6f31::/64", "fd6f:6374:6f2e:0:f816:3eff:fe16:55c5"),
        ("fd6f:6374:6f32::/64", "fd6f:6374:6f2e:0:f816:3eff:fe16:55c5")}
    namespaces = kernel.parse_netns((DATA / "ip_netns_list.json").read_text())
    names = NetNames("octm")
    ours = sorted(n for n in namespaces if names.is_our_extra_ns(n))
    assert len(ours) == 5 and "octm-ctl" not in ours
    assert kernel.parse_netns("") == set()


def test_kernel_names_fit_in_15_characters():
    names = NetNames("abcde")
    uuid = "0123abcd-4567-89ab-cdef-0123456789ab"
    for name in (names.bridge(16777215), names.vxlan(16777215), names.tap(uuid), names.dhcp_inner(uuid),
                 names.dhcp_outer(uuid), names.router_leg(uuid), names.router_leg_outer(uuid),
                 names.router_gateway(uuid), names.router_gateway_outer(65535), names.external_bridge(65535)):
        assert len(name) <= 15, name
    assert names.is_our_root_link("abcde-ex3") and names.is_our_root_link("abcde-g12")
    assert not names.is_our_root_link("abcde-spine") and not names.is_our_root_link("abcde-h1")
    assert not names.is_our_root_link("abcde-gx")
