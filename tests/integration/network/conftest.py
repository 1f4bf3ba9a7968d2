"""The tenant-network tests' cloud: an underlay (no Ceph) brought up once per
session with its own prefix and ranges (see netlab.py), and an external network.
Everything is removed at the end, whatever happened."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from netlab import EXT_V4, EXT_V6, PREFIX, TOPOLOGY, NetCloud, require_root
from octoprobe.reference_impl import processes
from octoprobe.reference_impl.network import NetworkPlane, leftovers, teardown_all
from octoprobe.reference_impl.network.dataplane import find_our_dnsmasq
from octoprobe.reference_impl.topology import parse_topology
from octoprobe.reference_impl.underlay import Underlay


def _cleanup(underlay: Underlay, state_dir: Path) -> None:
    teardown_all(PREFIX, state_dir=state_dir, purge=True)
    namespaces, _ = underlay.leftovers()
    pids = underlay.namespace_pids(namespaces)
    if pids:
        processes.stop(pids, timeout=5)
    underlay.down()


@pytest.fixture(scope="session")
def netcloud(tmp_path_factory) -> Iterator[NetCloud]:
    require_root()
    topology = parse_topology(TOPOLOGY, "network-test-topology.yaml")
    state_dir = tmp_path_factory.mktemp("netcloud")
    underlay = Underlay(topology, PREFIX)
    _cleanup(underlay, state_dir)  # whatever a killed run left
    try:
        underlay.up()
        yield NetCloud(topology, underlay, NetworkPlane(topology, PREFIX, state_dir), state_dir)
    finally:
        _cleanup(underlay, state_dir)
        assert leftovers(PREFIX) == []
        assert find_our_dnsmasq(state_dir / "network") == []


@pytest.fixture(scope="module")
def external(netcloud):
    """An external network: its bridge is in the machine's root namespace,
    where the machine has 203.0.113.1 and fd6f:6374:6f2e::1."""
    plane = netcloud.plane
    ext = plane.create_network("public", external=True)
    plane.create_subnet(ext.id, EXT_V4, enable_dhcp=False)
    plane.create_subnet(ext.id, EXT_V6, enable_dhcp=False)
    yield ext
    for fip in plane.list_floating_ips():
        plane.delete_floating_ip(fip.id)
    for router in plane.list_routers():
        if router.gateway_network_id == ext.id:
            plane.set_router_gateway(router.id, None)
    plane.delete_network(ext.id)


