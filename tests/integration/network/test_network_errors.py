"""Bad input gets a clear error and changes nothing: not the saved state, not
one namespace, device, nftables rule or process."""

from __future__ import annotations

import pytest

from netlab import PREFIX
from octoprobe.reference_impl.network import NetworkPlane, leftovers
from octoprobe.reference_impl.network import errors as E
from octoprobe.reference_impl.network.dataplane import find_our_dnsmasq
from octoprobe.shell import CommandError, LocalRunner

pytestmark = pytest.mark.integration


def snapshot(netcloud) -> tuple:
    plane = netcloud.plane
    rulesets = {h: netcloud.run(["nft", "list", "ruleset"], ns=netcloud.host_ns(h)) for h in ("ca", "cb", "cc")}
    addresses = plane.kernel.addresses(None)
    ours = {k: v for k, v in addresses.items() if plane.names.is_our_root_link(k)}
    state = plane.paths.state.read_text() if plane.paths.state.exists() else ""
    return (leftovers(PREFIX), rulesets, ours, sorted(p.pid for p in find_our_dnsmasq(plane.paths.root)), state)


@pytest.fixture(scope="module")
def setup(netcloud, external):
    plane = netcloud.plane
    router = plane.create_router("r", project_id="t", external_network_id=external.id)
    net = plane.create_network("net", project_id="t", segmentation_id=4242)
    subnet = plane.create_subnet(net.id, "10.40.0.0/24")
    plane.add_router_interface(router.id, subnet_id=subnet.id)
    other = plane.create_network("other-tenant", project_id="u")
    same_range = plane.create_subnet(other.id, "10.40.0.0/24")
    port = plane.create_port(net.id, binding_host="ca", binding_kind="endpoint")
    yield {"router": router, "net": net, "subnet": subnet, "other": other, "same_range": same_range, "port": port}
    plane.delete_port(port.id)
    plane.remove_router_interface(router.id, subnet_id=subnet.id)
    plane.delete_router(router.id)
    plane.delete_network(net.id)
    plane.delete_network(other.id)


def refused(netcloud, exc, call, *args, match=None, **kw):
    before = snapshot(netcloud)
    with pytest.raises(exc, match=match) as info:
        call(*args, **kw)
    assert snapshot(netcloud) == before
    return info.value


def test_overlapping_subnets_on_one_router(netcloud, setup):
    error = refused(netcloud, E.SubnetOverlap, netcloud.plane.add_router_interface, setup["router"].id,
                    subnet_id=setup["same_range"].id, match="overlaps CIDR 10.40.0.0/24")
    assert error.status == 400


def test_an_address_outside_the_subnet(netcloud, setup):
    error = refused(netcloud, E.InvalidIpForSubnet, netcloud.plane.create_port, setup["net"].id,
                    fixed_ips=[{"subnet_id": setup["subnet"].id, "ip_address": "10.41.0.5"}],
                    match="10.41.0.5 is not in subnet")
    assert error.status == 400


def test_an_address_already_taken(netcloud, setup):
    taken = setup["port"].fixed_ips[0].ip_address
    error = refused(netcloud, E.IpAddressInUse, netcloud.plane.create_port, setup["net"].id,
                    fixed_ips=[{"ip_address": taken}], match=f"{taken} is already allocated")
    assert error.status == 409
    refused(netcloud, E.IpAddressInUse, netcloud.plane.update_port, setup["port"].id,
            fixed_ips=[{"ip_address": "10.40.0.2"}])  # the DHCP server's


def test_a_vni_already_in_use(netcloud, setup):
    error = refused(netcloud, E.VniInUse, netcloud.plane.create_network, "again", segmentation_id=4242,
                    match="4242 is already used")
    assert error.neutron_type == "TunnelIdInUse"


def test_deleting_a_network_that_still_has_ports(netcloud, setup):
    error = refused(netcloud, E.NetworkInUse, netcloud.plane.delete_network, setup["net"].id,
                    match=setup["port"].id)
    assert error.status == 409
    refused(netcloud, E.RouterInUse, netcloud.plane.delete_router, setup["router"].id)


def test_an_external_range_the_machine_already_uses(netcloud, setup):
    underlay = str(netcloud.topology.underlay.ipv4)
    ext = netcloud.plane.create_network("bad-ext", external=True)
    try:
        refused(netcloud, E.ExternalNetworkConflict, netcloud.plane.create_subnet, ext.id, underlay,
                match="overlaps")
    finally:
        netcloud.plane.delete_network(ext.id)


class FailingRunner(LocalRunner):
    """The real kernel, except that loading a router's NAT table fails."""

    def run(self, argv, *, timeout, check=True, input=None, env=None):
        if argv[-3:] == ["nft", "-f", "-"] and input and "table ip nat {" in input:
            raise CommandError(argv, "exit status 1: injected failure")
        return super().run(argv, timeout=timeout, check=check, input=input, env=env)


def test_a_failure_halfway_is_rolled_back(netcloud, setup, external):
    """Another process (another NetworkPlane on the same state) whose kernel
    fails in the middle of building a router: the namespace, its veths and its
    gateway port are gone again, the state is unchanged."""
    broken = NetworkPlane(netcloud.topology, PREFIX, netcloud.state_dir, runner=FailingRunner())
    error = refused(netcloud, E.DataPlaneError, broken.create_router, "doomed", external_network_id=external.id,
                    match="nothing was changed.*injected failure")
    assert error.status == 500
