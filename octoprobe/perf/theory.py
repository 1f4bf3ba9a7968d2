"""Theoretical bounds a measurement is compared with (pure arithmetic).

Units: link and NIC speeds in **bit/s** (as they are quoted: 10 GbE = 10e9),
disk and storage throughput in **bytes/s**.
"""

from __future__ import annotations

__all__ = ["ETHERNET_FRAMING", "max_tcp_goodput", "storage_bound", "efficiency"]

#: Bytes a frame costs on the wire beyond its MTU-sized payload: preamble + SFD
#: 8, MAC header 14, FCS 4, inter-frame gap 12.
ETHERNET_FRAMING = 8 + 14 + 4 + 12
ETHERNET_HEADER = 14
IPV4_HEADER = 20
IPV6_HEADER = 40
TCP_HEADER = 20
TCP_TIMESTAMPS = 12  # the option as Linux sends it: 10 bytes + 2 NOP of padding
UDP_HEADER = 8
VXLAN_HEADER = 8


def max_tcp_goodput(
    link_bps: float,
    mtu: int = 1500,
    encapsulation: str | None = None,
    ipv6: bool = False,
    tcp_timestamps: bool = True,
    underlay_ipv6: bool = False,
) -> float:
    """Best-case TCP goodput in bit/s of one full-sized segment after another.

    Without encapsulation ``mtu`` is the link's IP MTU::

        payload = mtu - ip(20 | 40) - tcp(20) - timestamps(12)
        wire    = mtu + 38                      # preamble+SFD, header, FCS, gap
        goodput = link_bps * payload / wire

    10 GbE, MTU 1500: 10e9 × 1448 / 1538 = 9.415 Gbit/s.

    With ``encapsulation="vxlan"`` ``mtu`` is the *tenant* MTU (e.g. 1450); each
    tenant packet travels with its inner Ethernet header (14, no FCS) inside
    outer IP (20 | 40 with ``underlay_ipv6``) + UDP 8 + VXLAN 8, and the outer
    frame pays the 38 bytes of Ethernet framing::

        wire    = mtu + 14 + 20 + 8 + 8 + 38    # 1450 → 1538
        goodput = link_bps * (mtu - 52) / wire  # 10e9 × 1398 / 1538 = 9.090 Gbit/s

    ``ipv6`` is the (inner) IP version the TCP connection uses.
    """
    if link_bps <= 0:
        raise ValueError(f"link speed must be positive, got {link_bps}")
    payload = mtu - (IPV6_HEADER if ipv6 else IPV4_HEADER) - TCP_HEADER - (TCP_TIMESTAMPS if tcp_timestamps else 0)
    if encapsulation is None:
        wire = mtu + ETHERNET_FRAMING
    elif encapsulation == "vxlan":
        outer_ip = IPV6_HEADER if underlay_ipv6 else IPV4_HEADER
        wire = mtu + ETHERNET_HEADER + outer_ip + UDP_HEADER + VXLAN_HEADER + ETHERNET_FRAMING
    else:
        raise ValueError(f"unknown encapsulation {encapsulation!r} (known: None, 'vxlan')")
    if payload <= 0:
        raise ValueError(f"MTU {mtu} leaves no room for TCP payload")
    return link_bps * payload / wire


def storage_bound(
    disks: int,
    per_disk_bps: float,
    replication: int = 3,
    nic_bps: float | None = None,
    write: bool = True,
) -> float:
    """Upper bound in bytes/s of what clients can stream into (or out of) a
    replicated cluster.

    Model: all ``disks`` together deliver ``disks × per_disk_bps`` (bytes/s).
    A client write lands on ``replication`` disks, so writes get that ÷
    ``replication``; a read is served by one replica, so reads get all of it.
    Either is capped by the clients' network, ``nic_bps`` in **bit/s** (÷ 8),
    when given (pass :func:`max_tcp_goodput` for a tighter cap). Ignored: the
    journal/WAL double write, replication traffic on the cluster network, and
    CPU; a measurement above this bound means the model, or caching, is wrong.
    """
    if disks < 1 or per_disk_bps <= 0:
        raise ValueError(f"need at least one disk with positive throughput, got {disks} × {per_disk_bps}")
    if replication < 1:
        raise ValueError(f"replication must be at least 1, got {replication}")
    bound = disks * per_disk_bps
    if write:
        bound /= replication
    if nic_bps is not None:
        if nic_bps <= 0:
            raise ValueError(f"NIC bandwidth must be positive, got {nic_bps}")
        bound = min(bound, nic_bps / 8)
    return bound


def efficiency(measured: float, bound: float) -> float:
    """``measured / bound`` (1.0 = the theoretical bound was reached)."""
    if bound <= 0:
        raise ValueError(f"a bound must be positive, got {bound}")
    if measured < 0:
        raise ValueError(f"a measurement cannot be negative, got {measured}")
    return measured / bound
