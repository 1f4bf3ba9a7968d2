"""Address management: pure functions, no state of their own.

* IPv4 subnets hand out addresses from their allocation pools (by default every
  host address but the gateway's), lowest free first; a port may ask for a
  fixed address instead.
* IPv6 subnets are SLAAC: a port's address is its subnet's /64 prefix plus
  the modified EUI-64 interface identifier of its MAC (RFC 4291 appendix A),
  exactly what a guest's kernel computes from a router advertisement.
* The overlay MTU is the underlay's minus the VXLAN encapsulation.
"""

from __future__ import annotations

import ipaddress
import random
import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Iterable, Sequence

from .errors import (
    InvalidInput,
    InvalidIpForSubnet,
    IpAddressGenerationFailure,
    NoFreeVni,
    SubnetOverlap,
    VniInUse,
)

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# VXLAN adds an outer Ethernet (14), IP (20 for IPv4, 40 for IPv6), UDP (8)
# and VXLAN (8) header; the inner frame's own Ethernet header is not part of
# the MTU. 50 bytes for an IPv4 underlay, 70 for IPv6.
VXLAN_OVERHEAD_IPV4 = 50
VXLAN_OVERHEAD_IPV6 = 70
VNI_MIN, VNI_MAX = 1, 2**24 - 1
DEFAULT_VNI_RANGE = (1000, 65535)  # where VNIs are allocated when none is asked for
MIN_MTU_IPV4 = 68
MIN_MTU_IPV6 = 1280
NEUTRON_MAC_BASE = (0xFA, 0x16, 0x3E)  # Neutron's default base_mac, locally administered
MAX_DNS_NAMESERVERS = 5
MAX_HOST_ROUTES = 20

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


# -- MTU ------------------------------------------------------------------------------
def overlay_mtu(underlay_mtu: int, *, underlay_ipv6: bool = False) -> int:
    """The MTU a VXLAN overlay leaves on an underlay link of ``underlay_mtu``."""
    return underlay_mtu - (VXLAN_OVERHEAD_IPV6 if underlay_ipv6 else VXLAN_OVERHEAD_IPV4)


# -- VNIs -----------------------------------------------------------------------------
def check_vni(vni: object) -> int:
    if isinstance(vni, bool) or not isinstance(vni, int) or not VNI_MIN <= vni <= VNI_MAX:
        raise InvalidInput(f"segmentation id {vni!r} is not a VXLAN VNI: an integer from {VNI_MIN} to {VNI_MAX}")
    return vni


def allocate_vni(used: Iterable[int], requested: int | None = None,
                 vni_range: tuple[int, int] = DEFAULT_VNI_RANGE) -> int:
    """``requested`` if it is free (VniInUse if not), else the lowest free VNI of the range."""
    taken = set(used)
    if requested is not None:
        check_vni(requested)
        if requested in taken:
            raise VniInUse(f"segmentation id (VNI) {requested} is already used by another network")
        return requested
    low, high = vni_range
    for vni in range(low, high + 1):
        if vni not in taken:
            return vni
    raise NoFreeVni(f"every VNI from {low} to {high} is in use")


# -- MACs -----------------------------------------------------------------------------
def normalize_mac(mac: object) -> str:
    if not isinstance(mac, str):
        raise InvalidInput(f"invalid MAC address {mac!r}")
    text = mac.strip().lower().replace("-", ":")
    if not _MAC_RE.match(text):
        raise InvalidInput(f"invalid MAC address {mac!r}: expected six colon-separated hex bytes")
    first = int(text[:2], 16)
    if first & 1:
        raise InvalidInput(f"invalid MAC address {mac!r}: a port needs a unicast address (the first byte is odd)")
    if text == "00:00:00:00:00:00":
        raise InvalidInput("invalid MAC address 00:00:00:00:00:00")
    return text


def random_mac(taken: Iterable[str], rng: random.Random | None = None) -> str:
    """A MAC with Neutron's fa:16:3e prefix that is not in ``taken``."""
    rng = rng or random.SystemRandom()
    used = set(taken)
    for _ in range(1000):
        tail = [rng.randrange(256) for _ in range(3)]
        mac = ":".join(f"{b:02x}" for b in (*NEUTRON_MAC_BASE, *tail))
        if mac not in used:
            return mac
    raise IpAddressGenerationFailure("could not find a free MAC address")


# -- EUI-64 ---------------------------------------------------------------------------
def eui64_interface_id(mac: str) -> int:
    """The modified EUI-64 interface identifier of a MAC (RFC 4291, appendix A):
    ff:fe inserted in the middle, the universal/local bit flipped."""
    octets = [int(b, 16) for b in normalize_mac(mac).split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return int.from_bytes(bytes(eui), "big")


def eui64_address(prefix: str | IPv6Network, mac: str) -> IPv6Address:
    """The SLAAC address a host with ``mac`` forms in a /64 ``prefix``."""
    network = ipaddress.IPv6Network(prefix) if isinstance(prefix, str) else prefix
    if network.prefixlen != 64:
        raise InvalidInput(f"SLAAC needs a /64 prefix, not {network}")
    return IPv6Address(int(network.network_address) | eui64_interface_id(mac))


def link_local_address(mac: str) -> IPv6Address:
    return eui64_address(IPv6Network("fe80::/64"), mac)


# -- subnets --------------------------------------------------------------------------
def parse_cidr(text: object, ip_version: int | None = None) -> IPNetwork:
    if not isinstance(text, str) or "/" not in text:
        raise InvalidInput(f"invalid CIDR {text!r}: expected a network such as 10.0.0.0/24 or fd00:1::/64")
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise InvalidInput(f"invalid CIDR {text!r}: {exc}") from None
        raise InvalidInput(f"invalid CIDR {text!r}: host bits are set (did you mean {loose}?)") from None
    if ip_version is not None and network.version != ip_version:
        raise InvalidInput(f"CIDR {text} is not an IPv{ip_version} network")
    if network.version == 4 and network.prefixlen > 30:
        raise InvalidInput(f"CIDR {text} is too small: an IPv4 subnet needs a prefix of /30 or shorter")
    if network.version == 6 and network.prefixlen > 126:
        raise InvalidInput(f"CIDR {text} is too small: an IPv6 subnet needs a prefix of /126 or shorter")
    return network


def parse_address(text: object, what: str = "IP address") -> IPAddress:
    if not isinstance(text, str):
        raise InvalidInput(f"invalid {what} {text!r}")
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise InvalidInput(f"invalid {what} {text!r}") from None


def first_host(network: IPNetwork) -> IPAddress:
    return network.network_address + 1


def last_host(network: IPNetwork) -> IPAddress:
    """The last address a port may have (IPv4 loses its broadcast address)."""
    return network.broadcast_address - 1 if network.version == 4 else network.broadcast_address


def check_host_address(network: IPNetwork, address: IPAddress, what: str, subnet_id: str = "") -> None:
    """``address`` is a usable host address of ``network``."""
    where = f"subnet {subnet_id} ({network})" if subnet_id else str(network)
    if address.version != network.version or address not in network:
        raise InvalidIpForSubnet(f"{what} {address} is not in {where}")
    if address == network.network_address:
        raise InvalidIpForSubnet(f"{what} {address} is the network address of {where}")
    if network.version == 4 and address == network.broadcast_address:
        raise InvalidIpForSubnet(f"{what} {address} is the broadcast address of {where}")


def default_pools(network: IPNetwork, gateway: IPAddress | None) -> list[tuple[IPAddress, IPAddress]]:
    """Every host address but the gateway's, as inclusive ranges."""
    return subtract_address((first_host(network), last_host(network)), gateway)


def subtract_address(pool: tuple[IPAddress, IPAddress], address: IPAddress | None) -> list[tuple[IPAddress, IPAddress]]:
    start, end = pool
    if address is None or not start <= address <= end:
        return [pool]
    result = []
    if start < address:
        result.append((start, address - 1))
    if address < end:
        result.append((address + 1, end))
    return result


def check_pools(network: IPNetwork, pools: Sequence[tuple[IPAddress, IPAddress]],
                gateway: IPAddress | None) -> None:
    ordered = sorted(pools)
    for start, end in ordered:
        for address in (start, end):
            check_host_address(network, address, "allocation pool address")
        if start > end:
            raise InvalidInput(f"allocation pool {start}-{end}: the start is after the end")
        if gateway is not None and start <= gateway <= end:
            raise InvalidInput(f"allocation pool {start}-{end} contains the gateway {gateway}")
    for (s1, e1), (s2, e2) in zip(ordered, ordered[1:]):
        if s2 <= e1:
            raise InvalidInput(f"allocation pools {s1}-{e1} and {s2}-{e2} overlap")


def check_no_overlap(cidr: IPNetwork, others: Iterable[tuple[str, IPNetwork]], where: str) -> None:
    """Raise SubnetOverlap if ``cidr`` overlaps any (id, network) of ``others``."""
    for other_id, other in others:
        if other.version == cidr.version and other.overlaps(cidr):
            raise SubnetOverlap(f"CIDR {cidr} overlaps CIDR {other} of subnet {other_id} {where}")


def allocate_address(pools: Sequence[tuple[IPAddress, IPAddress]], used: set[IPAddress],
                     subnet_id: str = "") -> IPAddress:
    """The lowest address of the pools that is not in ``used``."""
    for start, end in sorted(pools):
        address = start
        while address <= end:
            if address not in used:
                return address
            address += 1
    raise IpAddressGenerationFailure(f"no more IP addresses available on subnet {subnet_id}".rstrip())


def in_pools(pools: Sequence[tuple[IPAddress, IPAddress]], address: IPAddress) -> bool:
    return any(start <= address <= end for start, end in pools)
