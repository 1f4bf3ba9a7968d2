"""Address management, EUI-64, MACs, VNIs and the overlay MTU: pure functions."""

from __future__ import annotations

import ipaddress
import random

import pytest

from octoprobe.reference_impl.network import errors as E
from octoprobe.reference_impl.network import ipam
from octoprobe.reference_impl.network.model import free_index

A = ipaddress.ip_address
N = ipaddress.ip_network


# -- MTU -------------------------------------------------------------------------
@pytest.mark.parametrize("underlay, overlay", [(1500, 1450), (9000, 8950), (1280, 1230)])
def test_overlay_mtu_is_underlay_minus_vxlan_overhead(underlay, overlay):
    assert ipam.overlay_mtu(underlay) == overlay


def test_overlay_mtu_over_an_ipv6_underlay_loses_70_bytes():
    assert ipam.overlay_mtu(1500, underlay_ipv6=True) == 1430


# -- EUI-64 ----------------------------------------------------------------------
def test_eui64_matches_what_the_kernel_formed():
    # recorded from Linux 6.18: an endpoint with MAC fa:16:3e:00:00:02 given an
    # RA for fd6f:6374:6f21::/64 formed fd6f:6374:6f21:0:f816:3eff:fe00:2
    assert ipam.eui64_address("fd6f:6374:6f21::/64", "fa:16:3e:00:00:02") == A("fd6f:6374:6f21:0:f816:3eff:fe00:2")
    assert ipam.link_local_address("fa:16:3e:00:00:0d") == A("fe80::f816:3eff:fe00:d")


def test_eui64_flips_the_universal_local_bit_both_ways():
    # RFC 4291 appendix A: a universal MAC (bit clear) gets the bit set ...
    assert ipam.eui64_address("2001:db8::/64", "52:54:00:12:34:56") == A("2001:db8::5054:ff:fe12:3456")
    # ... and a locally administered one (bit set) gets it cleared
    assert ipam.eui64_address("2001:db8::/64", "02:00:00:00:00:01") == A("2001:db8::ff:fe00:1")


def test_eui64_needs_a_64_prefix():
    with pytest.raises(E.InvalidInput, match="/64"):
        ipam.eui64_address("2001:db8::/56", "52:54:00:12:34:56")


# -- MACs ------------------------------------------------------------------------
def test_normalize_mac_accepts_common_spellings():
    assert ipam.normalize_mac("FA-16-3E-0A-0B-0C") == "fa:16:3e:0a:0b:0c"


@pytest.mark.parametrize("mac, why", [
    ("01:00:5e:00:00:01", "unicast"),
    ("00:00:00:00:00:00", "00:00:00:00:00:00"),
    ("fa:16:3e:0a:0b", "six"),
    ("zz:16:3e:0a:0b:0c", "six"),
    (42, "invalid MAC"),
])
def test_normalize_mac_refuses_what_a_port_cannot_have(mac, why):
    with pytest.raises(E.InvalidInput, match=why):
        ipam.normalize_mac(mac)


def test_random_mac_has_neutrons_prefix_and_avoids_taken_ones():
    first = ipam.random_mac([], random.Random(7))
    assert first.startswith("fa:16:3e:")
    assert ipam.random_mac([first], random.Random(7)) != first


# -- CIDRs, gateways, pools ---------------------------------------------------------
def test_parse_cidr_names_the_network_when_host_bits_are_set():
    with pytest.raises(E.InvalidInput, match=r"host bits are set \(did you mean 10.0.0.0/24\?\)"):
        ipam.parse_cidr("10.0.0.5/24")


@pytest.mark.parametrize("text, version, why", [
    ("10.0.0.0", None, "expected a network"),
    ("10.0.0.0/31", None, "too small"),
    ("10.0.0.0/24", 6, "not an IPv6 network"),
    ("banana/24", None, "invalid CIDR"),
    (None, None, "invalid CIDR"),
])
def test_parse_cidr_refusals(text, version, why):
    with pytest.raises(E.InvalidInput, match=why):
        ipam.parse_cidr(text, version)


def test_default_pools_leave_out_network_broadcast_and_gateway():
    net = N("10.0.0.0/24")
    assert ipam.default_pools(net, A("10.0.0.1")) == [(A("10.0.0.2"), A("10.0.0.254"))]
    assert ipam.default_pools(net, A("10.0.0.100")) == [(A("10.0.0.1"), A("10.0.0.99")),
                                                        (A("10.0.0.101"), A("10.0.0.254"))]
    assert ipam.default_pools(net, None) == [(A("10.0.0.1"), A("10.0.0.254"))]


@pytest.mark.parametrize("pools, why", [
    ([("10.0.0.2", "10.0.0.50"), ("10.0.0.40", "10.0.0.60")], "overlap"),
    ([("10.0.0.1", "10.0.0.9")], "contains the gateway"),
    ([("10.0.0.20", "10.0.0.10")], "start is after the end"),
    ([("10.0.0.2", "10.0.1.5")], "not in"),
    ([("10.0.0.2", "10.0.0.255")], "broadcast"),
])
def test_check_pools_refusals(pools, why):
    with pytest.raises(E.BadRequest, match=why):
        ipam.check_pools(N("10.0.0.0/24"), [(A(a), A(b)) for a, b in pools], A("10.0.0.1"))


@pytest.mark.parametrize("address, exc, why", [
    ("10.0.1.5", E.InvalidIpForSubnet, "is not in"),
    ("10.0.0.0", E.InvalidIpForSubnet, "network address"),
    ("10.0.0.255", E.InvalidIpForSubnet, "broadcast address"),
    ("fd00::5", E.InvalidIpForSubnet, "is not in"),
])
def test_check_host_address(address, exc, why):
    with pytest.raises(exc, match=why):
        ipam.check_host_address(N("10.0.0.0/24"), A(address), "IP address", "s1")


def test_allocation_takes_the_lowest_free_address_and_never_a_used_one():
    pools = [(A("10.0.0.2"), A("10.0.0.4"))]
    assert ipam.allocate_address(pools, set()) == A("10.0.0.2")
    assert ipam.allocate_address(pools, {A("10.0.0.2")}) == A("10.0.0.3")
    with pytest.raises(E.IpAddressGenerationFailure, match="no more IP addresses available on subnet s1"):
        ipam.allocate_address(pools, {A("10.0.0.2"), A("10.0.0.3"), A("10.0.0.4")}, "s1")


def test_overlap_is_reported_with_both_subnets():
    with pytest.raises(E.SubnetOverlap, match="10.0.0.128/25 overlaps CIDR 10.0.0.0/24 of subnet s1"):
        ipam.check_no_overlap(N("10.0.0.128/25"), [("s1", N("10.0.0.0/24"))], "on router r")
    ipam.check_no_overlap(N("10.0.1.0/24"), [("s1", N("10.0.0.0/24")), ("s2", N("fd00::/64"))], "x")


# -- VNIs --------------------------------------------------------------------------
def test_vni_allocation_takes_the_lowest_free_one_in_the_range():
    assert ipam.allocate_vni([], None, (1000, 1005)) == 1000
    assert ipam.allocate_vni([1000, 1001, 1003], None, (1000, 1005)) == 1002


def test_a_requested_vni_may_be_outside_the_range_but_not_taken():
    assert ipam.allocate_vni([1000], 42, (1000, 1005)) == 42
    with pytest.raises(E.VniInUse, match="VNI\\) 42 is already used"):
        ipam.allocate_vni([42], 42)


@pytest.mark.parametrize("vni", [0, 2**24, -1, "7", True, 1.5])
def test_invalid_vnis_are_refused(vni):
    with pytest.raises(E.InvalidInput, match="VXLAN VNI"):
        ipam.allocate_vni([], vni)


def test_no_free_vni():
    with pytest.raises(E.NoFreeVni):
        ipam.allocate_vni([1, 2], None, (1, 2))


def test_free_index():
    assert free_index(set()) == 1
    assert free_index({1, 2, 4}) == 3
    with pytest.raises(OverflowError):
        free_index({1, 2}, limit=2)
