"""networks-l2-CRUD, networks and subnets: create, show, list (with
filters and ``fields``), update and delete them; the subnet attributes
(gateway, allocation pools, DHCP, DNS servers, host routes); and what
Neutron refuses: unknown ids (404), an invalid CIDR or a gateway outside
the subnet (400), deleting a subnet or network still in use (409)."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from .neutron import check_error, check_status, json_body

L2 = "networks-l2-CRUD"


@pytest.mark.capability(L2, "0e269138-0da6-4efc-a46d-578161e7b221")
def test_create_update_delete_network_subnet(neutron, resources, schemas):
    """A network and its subnet are created (201, their attributes as
    asked), renamed (200), deleted (204) and then 404."""
    net = neutron.create(resources, "network")
    assert net["admin_state_up"] is True and net["subnets"] == [], f"a new network: {net}"
    assert net["project_id"] == neutron.project_id, f"the network belongs to {net['project_id']}"
    renamed = neutron.update("network", net["id"], name=neutron.run.name("network"))
    assert renamed["id"] == net["id"] and renamed["name"] != net["name"], f"after PUT: {renamed}"
    cidr = neutron.free_cidr(4)
    sub = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, cidr=cidr)
    assert (sub["network_id"], sub["cidr"], sub["ip_version"]) == (net["id"], cidr, 4), f"a new subnet: {sub}"
    assert sub["gateway_ip"] == str(next(ipaddress.ip_network(cidr).hosts())), (
        f"the default gateway of {cidr} is the first address; got {sub['gateway_ip']}")
    new_name = neutron.run.name("subnet")
    assert neutron.update("subnet", sub["id"], name=new_name)["name"] == new_name
    assert neutron.show("network", net["id"])["subnets"] == [sub["id"]]
    neutron.delete("subnet", sub["id"])
    neutron.delete("network", net["id"])


@pytest.mark.capability(L2, "2bf13842-c93f-4a69-83ed-717d2ec3b44e")
def test_show_network(neutron, network):
    """GET /networks/{id}: the network as created."""
    shown = neutron.show("network", network["id"])
    for key in ("id", "name", "admin_state_up", "shared", "project_id", "description"):
        assert shown[key] == network[key], f"{key}: shown {shown[key]!r}, created {network[key]!r}"


@pytest.mark.capability(L2, "867819bb-c4b6-45f7-acf9-90edcf70aa5e")
def test_show_network_fields(neutron, network):
    """GET /networks/{id}?fields=id&fields=name: exactly those fields."""
    shown = neutron.show("network", network["id"], fields=["id", "name"])
    assert shown == {"id": network["id"], "name": network["name"]}, f"fields=id,name shows {shown}"


@pytest.mark.capability(L2, "f7ffdeda-e200-4a7a-bcbe-05716e86bf43")
def test_list_networks(neutron, network):
    """GET /networks lists the module's network; filtered by its id or name, only it."""
    assert network["id"] in {n["id"] for n in neutron.list("network")}, "GET /networks lacks a network of the user"
    for key in ("id", "name"):
        found = neutron.list("network", **{key: network[key]})
        assert [n["id"] for n in found] == [network["id"]], f"?{key}= lists {[n['id'] for n in found]}"


@pytest.mark.capability(L2, "6ae6d24f-9194-4869-9c85-c313cb20e080")
def test_list_networks_fields(neutron, network):
    """GET /networks?fields=id&fields=name: every network with those two fields only."""
    resp = neutron.request("GET", "/networks?fields=id&fields=name")
    check_status(resp, 200)
    networks = json_body(resp)["networks"]
    assert networks and all(set(n) == {"id", "name"} for n in networks), f"fields=id,name lists {networks[:3]}"
    assert {"id": network["id"], "name": network["name"]} in networks


@pytest.mark.capability(L2, "bd635d81-6030-4dd1-b3b9-31ba0cfdf6cc")
def test_show_subnet(neutron, subnet):
    """GET /subnets/{id}: the subnet as created."""
    shown = neutron.show("subnet", subnet["id"])
    for key in ("id", "name", "network_id", "cidr", "ip_version", "gateway_ip", "allocation_pools", "enable_dhcp"):
        assert shown[key] == subnet[key], f"{key}: shown {shown[key]!r}, created {subnet[key]!r}"


@pytest.mark.capability(L2, "270fff0b-8bfc-411f-a184-1e8fd35286f0")
def test_show_subnet_fields(neutron, subnet):
    """GET /subnets/{id}?fields=id&fields=network_id: exactly those fields."""
    shown = neutron.show("subnet", subnet["id"], fields=["id", "network_id"])
    assert shown == {"id": subnet["id"], "network_id": subnet["network_id"]}, f"fields=id,network_id shows {shown}"


@pytest.mark.capability(L2, "db68ba48-f4ea-49e9-81d1-e367f6d0b20a")
def test_list_subnets(neutron, subnet):
    """GET /subnets lists the subnet; filtered by network_id and by cidr, only it."""
    assert subnet["id"] in {s["id"] for s in neutron.list("subnet")}
    for key in ("network_id", "cidr"):
        found = [s["id"] for s in neutron.list("subnet", **{key: subnet[key]}) if s["project_id"] == neutron.project_id]
        assert found == [subnet["id"]], f"?{key}={subnet[key]} lists {found}"


@pytest.mark.capability(L2, "842589e3-9663-46b0-85e4-7f01273b0412")
def test_list_subnets_fields(neutron, subnet):
    """GET /subnets?fields=id&fields=network_id: those fields only."""
    resp = neutron.request("GET", "/subnets?fields=id&fields=network_id")
    check_status(resp, 200)
    subnets = json_body(resp)["subnets"]
    assert subnets and all(set(s) == {"id", "network_id"} for s in subnets), f"lists {subnets[:3]}"
    assert {"id": subnet["id"], "network_id": subnet["network_id"]} in subnets


def _pool(cidr: str, first: int, last: int) -> dict[str, str]:
    net = ipaddress.ip_network(cidr)
    return {"start": str(net.network_address + first), "end": str(net.network_address + last)}


def _subnet_variants():
    """(Tempest id, name, attributes given a CIDR) of the subnet creations Tempest checks."""
    return [
        ("a4d9ec4c-0306-4111-a75c-db01a709030b", "all-attributes",
         lambda c: {"gateway_ip": _pool(c, 1, 1)["start"], "enable_dhcp": True,
                    "allocation_pools": [_pool(c, 4, 8)], "dns_nameservers": ["198.51.100.53", "198.51.100.54"],
                    "host_routes": [{"destination": "192.0.2.0/24", "nexthop": _pool(c, 2, 2)["start"]}]}),
        ("bec949c4-3147-4ba6-af5f-cd2306118404", "allocation-pools", lambda c: {"allocation_pools": [_pool(c, 3, 6)]}),
        ("94ce038d-ff0a-4a4c-a56b-09da3ca0b55d", "dhcp-enabled", lambda c: {"enable_dhcp": True}),
        ("9393b468-186d-496d-aa36-732348cd76e7", "gateway", lambda c: {"gateway_ip": _pool(c, 2, 2)["start"]}),
        ("8217a149-0c6c-4cfb-93db-0486f707d13f", "gateway-and-allocation-pools",
         lambda c: {"gateway_ip": _pool(c, 2, 2)["start"], "allocation_pools": [_pool(c, 5, 9)]}),
        ("d830de0a-be47-468f-8f02-1fd996118289", "host-routes-and-dns",
         lambda c: {"dns_nameservers": ["198.51.100.53"],
                    "host_routes": [{"destination": "203.0.113.0/24", "nexthop": _pool(c, 3, 3)["start"]}]}),
        ("d2d596e2-8e76-47a9-ac51-d4648009f4d3", "without-gateway", lambda c: {"gateway_ip": None}),
    ]


@pytest.mark.parametrize("attributes", [
    pytest.param(build, id=name, marks=pytest.mark.capability(L2, test_id))
    for test_id, name, build in _subnet_variants()
])
def test_create_delete_subnet_with_attributes(neutron, resources, network, attributes):
    """A subnet created with some attributes has them as given (shown too),
    and is deleted (204, then 404)."""
    cidr = neutron.free_cidr(4)
    given = attributes(cidr)
    sub = neutron.create(resources, "subnet", network_id=network["id"], ip_version=4, cidr=cidr, **given)
    shown = neutron.show("subnet", sub["id"])
    for key, value in given.items():
        got = sorted(shown[key], key=str) if isinstance(value, list) else shown[key]
        want = sorted(value, key=str) if isinstance(value, list) else value
        assert got == want, f"a subnet created with {key}={value!r} shows {shown[key]!r}"
    neutron.delete("subnet", sub["id"])


@pytest.mark.capability(L2, "3d3852eb-3009-49ec-97ac-5ce83b73010a")
def test_update_subnet_gw_dns_host_routes_dhcp(neutron, resources, network):
    """PUT /subnets/{id} changes the gateway, DNS servers, host routes and DHCP (200, then shown)."""
    cidr = neutron.free_cidr(4)
    sub = neutron.create(resources, "subnet", network_id=network["id"], ip_version=4, cidr=cidr, enable_dhcp=False,
                         allocation_pools=[_pool(cidr, 6, 12)])
    change = {"gateway_ip": _pool(cidr, 3, 3)["start"], "dns_nameservers": ["198.51.100.10"],
              "host_routes": [{"destination": "192.0.2.0/24", "nexthop": _pool(cidr, 4, 4)["start"]}],
              "enable_dhcp": True}
    updated = neutron.update("subnet", sub["id"], **change)
    shown = neutron.show("subnet", sub["id"])
    for key, value in change.items():
        assert updated[key] == value and shown[key] == value, (
            f"after PUT {key}={value!r} the reply says {updated[key]!r}, GET says {shown[key]!r}")


@pytest.mark.capability(L2, "f04f61a9-b7f3-4194-90b2-9bcf660d1bfe")
def test_delete_network_with_subnet(neutron, resources):
    """Deleting a network that has a subnet (and no port of the user's) deletes the subnet too."""
    net = neutron.create(resources, "network")
    sub = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, cidr=neutron.free_cidr(4))
    neutron.delete("network", net["id"])
    check_error(neutron.schemas, neutron.request("GET", f"/subnets/{sub['id']}"), 404, types={"SubnetNotFound"})


@pytest.mark.capability(L2, "aadc9ac9-03ba-4154-8395-2e9de16dd5e5")
def test_ipv6_subnet(neutron, resources, network):
    """An IPv6 SLAAC subnet: created with its modes, a gateway in it, pools within it."""
    cidr = neutron.free_cidr(6)
    sub = neutron.create(resources, "subnet", network_id=network["id"], ip_version=6, cidr=cidr,
                         ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    assert (sub["ip_version"], sub["ipv6_ra_mode"], sub["ipv6_address_mode"]) == (6, "slaac", "slaac"), sub
    net = ipaddress.ip_network(cidr)
    assert ipaddress.ip_address(sub["gateway_ip"]) in net, f"the gateway {sub['gateway_ip']} is outside {cidr}"
    for pool in sub["allocation_pools"]:
        assert ipaddress.ip_address(pool["start"]) in net and ipaddress.ip_address(pool["end"]) in net, pool


# ---- negative


@pytest.mark.parametrize("method, body", [
    pytest.param("GET", None, id="show", marks=pytest.mark.capability(L2, "5fb06ead-2d8d-474a-84b6-a0811893076b")),
    pytest.param("PUT", {"network": {"name": "x"}}, id="update",
                 marks=pytest.mark.capability(L2, "8878d23a-75f0-49ac-ba0c-a5bec11cb823")),
    pytest.param("DELETE", None, id="delete", marks=pytest.mark.capability(L2, "f8da3f02-0c1d-4e07-8bec-bfcaed6edb69")),
])
def test_unknown_network_is_404(neutron, schemas, method, body):
    """GET, PUT, DELETE /networks/{unknown id}: 404 NetworkNotFound with Neutron's error body."""
    check_error(schemas, neutron.request(method, f"/networks/{uuid.uuid4()}", json=body), 404,
                types={"NetworkNotFound"})


@pytest.mark.capability(L2, "e06d0a16-5a03-4978-9947-61122dd6eec6")
def test_unknown_subnet_is_404(neutron, schemas):
    """GET /subnets/{unknown id}: 404 SubnetNotFound."""
    check_error(schemas, neutron.request("GET", f"/subnets/{uuid.uuid4()}"), 404, types={"SubnetNotFound"})


@pytest.mark.parametrize("cidr", ["10.300.0.0/24", "10.0.0.0/33", "not-a-cidr", "fd00::/129"])
@pytest.mark.capability(L2, "05e70eb2-598f-4040-8575-7c0964d4178d")
def test_invalid_cidr_is_400(neutron, resources, network, schemas, cidr):
    """A subnet with an invalid CIDR: 400 with Neutron's error body, and nothing created."""
    version = 6 if ":" in cidr else 4
    resp = neutron.post(resources, "subnet", {"network_id": network["id"], "ip_version": version, "cidr": cidr})
    check_error(schemas, resp, 400)
    assert not [s for s in neutron.list("subnet", network_id=network["id"]) if s["cidr"] == cidr]


@pytest.mark.capability(L2, "0e514fbd-3f09-4082-991b-b5d3f2f14708")
def test_bad_gateway_pool_and_version_are_400(neutron, resources, network, schemas):
    """The subnet's broadcast address as its gateway, an allocation pool
    outside the CIDR, and an IPv6 CIDR with ip_version 4: each 400 with
    Neutron's error body. (A gateway outside the subnet is allowed.)"""
    cidr = neutron.free_cidr(4)
    broadcast = str(ipaddress.ip_network(cidr).broadcast_address)
    for extra in ({"gateway_ip": broadcast}, {"allocation_pools": [{"start": "192.0.2.10", "end": "192.0.2.20"}]}):
        resp = neutron.post(resources, "subnet", {"network_id": network["id"], "ip_version": 4, "cidr": cidr, **extra})
        check_error(schemas, resp, 400)
    resp = neutron.post(resources, "subnet", {"network_id": network["id"], "ip_version": 4,
                                              "cidr": neutron.free_cidr(6)})
    check_error(schemas, resp, 400)


@pytest.mark.capability(L2, "1fc34c5b-aba4-48b4-bc9e-b5b5ef2e905d")
def test_subnet_on_unknown_network_is_404(neutron, resources, schemas):
    """A subnet on a network that does not exist: 404 NetworkNotFound."""
    resp = neutron.post(resources, "subnet", {"network_id": str(uuid.uuid4()), "ip_version": 4,
                                              "cidr": neutron.free_cidr(4)})
    check_error(schemas, resp, 404, types={"NetworkNotFound"})


@pytest.mark.capability(L2, "ca45cf3e-3d61-4e7f-b68d-61531119df2c")
def test_unknown_attribute_is_400(neutron, resources, schemas):
    """A network with an attribute Neutron does not know: 400, nothing created."""
    name = neutron.run.name("network")
    resp = neutron.post(resources, "network", {"name": name, "octoprobe_no_such_attribute": 1})
    check_error(schemas, resp, 400)
    assert neutron.list("network", name=name) == []


@pytest.mark.capability(L2, "bffbd625-ce31-4bce-af35-b2989bdf701f")
def test_delete_network_and_subnet_in_use_is_409(neutron, resources, schemas):
    """A network with a port of the user's on it: deleting the subnet is 409
    SubnetInUse, the network 409 NetworkInUse; both remain."""
    net = neutron.create(resources, "network")
    sub = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, cidr=neutron.free_cidr(4))
    neutron.create(resources, "port", network_id=net["id"])
    check_error(schemas, neutron.request("DELETE", f"/subnets/{sub['id']}"), 409, types={"SubnetInUse"})
    check_error(schemas, neutron.request("DELETE", f"/networks/{net['id']}"), 409, types={"NetworkInUse"})
    assert neutron.show("network", net["id"])["subnets"] == [sub["id"]]


@pytest.mark.needs_alt
@pytest.mark.capability(L2, "ce34896f-901d-4ab5-a3a2-aa15ab9aeae3")
def test_another_tenants_network_is_hidden(neutron, alt_neutron, network, subnet, schemas):
    """Another project's user: the network and subnet are 404 to show, update
    and delete, and absent from its lists."""
    for kind, item in (("networks", network), ("subnets", subnet)):
        check_error(schemas, alt_neutron.request("GET", f"/{kind}/{item['id']}"), 404)
        check_error(schemas, alt_neutron.request("PUT", f"/{kind}/{item['id']}",
                                                 json={kind[:-1]: {"name": "stolen"}}), 404)
        check_error(schemas, alt_neutron.request("DELETE", f"/{kind}/{item['id']}"), 404)
    assert network["id"] not in {n["id"] for n in alt_neutron.list("network")}
    assert subnet["id"] not in {s["id"] for s in alt_neutron.list("subnet")}
    assert neutron.show("network", network["id"])["name"] == network["name"]
