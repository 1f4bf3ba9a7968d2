"""The network library's update operations the Neutron API needs (subnet,
router, security group, network sharing), on a fake kernel: what changes,
and what is refused without changing anything."""

from __future__ import annotations

import pytest

from octoprobe.reference_impl.network import errors as NE


@pytest.fixture
def subnet(neutron_plane):
    net = neutron_plane.create_network("n", project_id="p")
    return neutron_plane.create_subnet(net.id, "10.5.0.0/24", allocation_pools=[{"start": "10.5.0.10",
                                                                                  "end": "10.5.0.20"}])


def test_update_subnet_changes_what_is_given(neutron_plane, subnet):
    changed = neutron_plane.update_subnet(subnet.id, name="s", gateway_ip="10.5.0.2", dns_nameservers=["192.0.2.1"],
                                          host_routes=[{"destination": "10.6.0.0/16", "nexthop": "10.5.0.3"}])
    assert (changed.name, changed.gateway_ip, changed.dns_nameservers) == ("s", "10.5.0.2", ["192.0.2.1"])
    assert neutron_plane.get_subnet(subnet.id).host_routes[0].nexthop == "10.5.0.3"
    assert neutron_plane.update_subnet(subnet.id, gateway_ip=None).gateway_ip is None


def test_dhcp_toggles_the_dhcp_port(neutron_plane, subnet):
    state = neutron_plane.state()
    assert state.dhcp_port(subnet.network_id) is not None
    neutron_plane.update_subnet(subnet.id, enable_dhcp=False)
    assert neutron_plane.state().dhcp_port(subnet.network_id) is None
    neutron_plane.update_subnet(subnet.id, enable_dhcp=True)
    port = neutron_plane.state().dhcp_port(subnet.network_id)
    assert port is not None and [f.subnet_id for f in port.fixed_ips] == [subnet.id]


@pytest.mark.parametrize("kwargs, error", [
    ({"gateway_ip": "10.5.0.15"}, NE.InvalidInput),  # inside the allocation pool
    ({"gateway_ip": "10.9.0.1"}, NE.InvalidIpForSubnet),
    ({"allocation_pools": [{"start": "10.5.0.30", "end": "10.5.0.20"}]}, NE.InvalidInput),
    ({"dns_nameservers": ["not-an-ip"]}, NE.InvalidInput),
])
def test_bad_subnet_updates_change_nothing(neutron_plane, subnet, kwargs, error):
    before = neutron_plane.get_subnet(subnet.id)
    with pytest.raises(NE.NetworkError) as info:
        neutron_plane.update_subnet(subnet.id, **kwargs)
    assert isinstance(info.value, (error, NE.BadRequest)) and info.value.status == 400
    assert neutron_plane.get_subnet(subnet.id) == before


def test_rename_router_group_and_share_network(neutron_plane, subnet):
    router = neutron_plane.create_router("r", project_id="p")
    assert neutron_plane.update_router(router.id, name="r2").name == "r2"
    group = neutron_plane.create_security_group("g", project_id="p")
    renamed = neutron_plane.update_security_group(group.id, name="h", description="d")
    assert (renamed.name, renamed.description) == ("h", "d")
    assert neutron_plane.update_network(subnet.network_id, shared=True).shared is True
    with pytest.raises(NE.RouterNotFound):
        neutron_plane.update_router("nope", name="x")


def test_extra_routes_need_a_connected_nexthop_and_survive_a_reload(neutron_plane, subnet):
    router = neutron_plane.create_router("r", project_id="p")
    with pytest.raises(NE.InvalidInput, match="not on a subnet"):
        neutron_plane.update_router(router.id, routes=[{"destination": "10.8.0.0/16", "nexthop": "10.5.0.9"}])
    neutron_plane.add_router_interface(router.id, subnet_id=subnet.id)
    with pytest.raises(NE.InvalidInput, match="router's own address"):
        neutron_plane.update_router(router.id, routes=[{"destination": "10.8.0.0/16", "nexthop": "10.5.0.1"}])
    with pytest.raises(NE.InvalidInput, match="default route"):
        neutron_plane.update_router(router.id, routes=[{"destination": "0.0.0.0/0", "nexthop": "10.5.0.9"}])
    neutron_plane.update_router(router.id, routes=[{"destination": "10.8.0.7/16", "nexthop": "10.5.0.9"}])
    reloaded = neutron_plane.state().routers[router.id]  # read back from the saved JSON
    assert [(r.destination, r.nexthop) for r in reloaded.routes] == [("10.8.0.0/16", "10.5.0.9")]
    with pytest.raises(NE.RouterInterfaceInUseByRoute):
        neutron_plane.remove_router_interface(router.id, subnet_id=subnet.id)
    neutron_plane.update_router(router.id, routes=[])
    neutron_plane.remove_router_interface(router.id, subnet_id=subnet.id)
