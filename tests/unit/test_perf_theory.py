"""Theoretical bounds: the figures the perf suite compares measurements with."""

from __future__ import annotations

import pytest

from octoprobe.perf.theory import efficiency, max_tcp_goodput, storage_bound

GBIT = 1e9


def test_10gbe_1500_mtu_is_9_41_gbit():
    goodput = max_tcp_goodput(10 * GBIT)
    assert goodput == pytest.approx(10e9 * 1448 / 1538)
    assert round(goodput / GBIT, 2) == 9.41


def test_10gbe_vxlan_with_a_1450_tenant_mtu_is_9_09_gbit():
    goodput = max_tcp_goodput(10 * GBIT, mtu=1450, encapsulation="vxlan")
    assert goodput == pytest.approx(10e9 * 1398 / 1538)
    assert round(goodput / GBIT, 2) == 9.09


def test_jumbo_frames_and_options():
    assert max_tcp_goodput(10 * GBIT, mtu=9000) / GBIT == pytest.approx(10 * 8948 / 9038)
    assert max_tcp_goodput(10 * GBIT, tcp_timestamps=False) == pytest.approx(10e9 * 1460 / 1538)
    assert max_tcp_goodput(10 * GBIT, ipv6=True) == pytest.approx(10e9 * 1428 / 1538)
    # an IPv6 underlay costs 20 more bytes per VXLAN frame
    assert max_tcp_goodput(10 * GBIT, mtu=1430, encapsulation="vxlan", underlay_ipv6=True) == pytest.approx(
        10e9 * 1378 / 1538)


def test_goodput_scales_with_the_link():
    assert max_tcp_goodput(25 * GBIT) == pytest.approx(2.5 * max_tcp_goodput(10 * GBIT))


@pytest.mark.parametrize("kwargs", [{"link_bps": 0}, {"link_bps": 1e9, "encapsulation": "geneve"},
                                    {"link_bps": 1e9, "mtu": 40}])
def test_goodput_refuses_nonsense(kwargs):
    with pytest.raises(ValueError):
        max_tcp_goodput(**kwargs)


def test_storage_bound_divides_writes_by_replication():
    # 12 HDDs × 200 MB/s, size 3
    assert storage_bound(12, 200e6) == pytest.approx(800e6)
    assert storage_bound(12, 200e6, write=False) == pytest.approx(2400e6)
    assert storage_bound(12, 200e6, replication=2) == pytest.approx(1200e6)


def test_storage_bound_is_capped_by_the_nic_in_bits_per_second():
    # reads would give 2.4 GB/s, a 10 GbE NIC carries 1.25 GB/s
    assert storage_bound(12, 200e6, nic_bps=10e9, write=False) == pytest.approx(1.25e9)
    assert storage_bound(12, 200e6, nic_bps=10e9) == pytest.approx(800e6)  # disks bound writes


@pytest.mark.parametrize("args,kwargs", [((0, 1e8), {}), ((3, 0), {}), ((3, 1e8), {"replication": 0}),
                                         ((3, 1e8), {"nic_bps": 0})])
def test_storage_bound_refuses_nonsense(args, kwargs):
    with pytest.raises(ValueError):
        storage_bound(*args, **kwargs)


def test_efficiency():
    assert efficiency(8.5e9, max_tcp_goodput(10 * GBIT)) == pytest.approx(8.5 / 9.4148, rel=1e-4)
    assert efficiency(0, 1) == 0
    with pytest.raises(ValueError, match="positive"):
        efficiency(1, 0)
    with pytest.raises(ValueError):
        efficiency(-1, 1)
