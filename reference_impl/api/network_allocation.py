"""Subnet pools: checking a pool's prefixes and picking a free CIDR from it
(pure functions; the pools themselves are API records in SQLite)."""

from __future__ import annotations

import ipaddress
from typing import Any, Iterable

from . import errors as E

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_CANDIDATES = 1 << 16  # how many blocks a search looks at before giving up


def parse_prefixes(prefixes: Any) -> list[IPNet]:
    """A pool's ``prefixes``: a non-empty list of CIDRs of one IP version,
    collapsed (overlapping prefixes merge, as Neutron does)."""
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    if not isinstance(prefixes, list) or not prefixes or not all(isinstance(p, str) for p in prefixes):
        raise E.BadRequest("Invalid input for prefixes: a non-empty list of CIDRs", kind="HTTPBadRequest")
    nets = []
    for text in prefixes:
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise E.BadRequest(f"Invalid input for prefixes: '{text}' is not a valid IP subnet",
                               kind="HTTPBadRequest") from None
    if len({n.version for n in nets}) != 1:
        raise E.BadRequest("Invalid input for prefixes: IPv4 and IPv6 prefixes cannot share a subnet pool",
                           kind="IllegalSubnetPoolIpVersionAssociation")
    return list(ipaddress.collapse_addresses(nets))


def prefix_bounds(pool: dict) -> tuple[int, int, int]:
    """(min, default, max) prefix length of a pool."""
    return pool["min_prefixlen"], pool["default_prefixlen"], pool["max_prefixlen"]


def check_in_pool(pool: dict, cidr: str) -> None:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise E.BadRequest(f"Invalid input for cidr: '{cidr}' is not a valid IP subnet",
                           kind="HTTPBadRequest") from None
    low, _, high = prefix_bounds(pool)
    if not low <= net.prefixlen <= high:
        raise E.BadRequest(f"Prefix length {net.prefixlen} is outside {low}..{high} of subnet pool {pool['id']}",
                           kind="IllegalSubnetPoolPrefixLength")
    if not any(net.version == p.version and net.subnet_of(p) for p in parse_prefixes(pool["prefixes"])):
        raise E.BadRequest(f"Cidr {cidr} is not within the prefixes of subnet pool {pool['id']}",
                           kind="CidrNotInSubnetPool")


def allocate_cidr(pool: dict, prefixlen: Any, taken: Iterable[IPNet]) -> str:
    """The first block of ``prefixlen`` (default: the pool's) inside the
    pool's prefixes that overlaps nothing in ``taken``."""
    low, default, high = prefix_bounds(pool)
    if prefixlen is None:
        prefixlen = default
    if isinstance(prefixlen, str) and prefixlen.isdigit():
        prefixlen = int(prefixlen)
    if isinstance(prefixlen, bool) or not isinstance(prefixlen, int):
        raise E.BadRequest(f"Invalid input for prefixlen: {prefixlen!r} is not an integer", kind="HTTPBadRequest")
    if not low <= prefixlen <= high:
        raise E.BadRequest(f"Prefix length {prefixlen} is outside {low}..{high} of subnet pool {pool['id']}",
                           kind="IllegalSubnetPoolPrefixLength")
    used = [t for t in taken]
    for prefix in parse_prefixes(pool["prefixes"]):
        if prefixlen < prefix.prefixlen:
            continue
        for count, block in enumerate(prefix.subnets(new_prefix=prefixlen)):
            if count >= MAX_CANDIDATES:
                break
            if not any(block.version == t.version and block.overlaps(t) for t in used):
                return str(block)
    raise E.Conflict(f"Unable to allocate a /{prefixlen} from subnet pool {pool['id']}: no free prefix",
                     kind="SubnetAllocationError")
