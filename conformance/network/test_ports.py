"""networks-l2-CRUD, ports: create (one, in bulk, in an allocation pool),
show, list (with filters and ``fields``), update (name, security groups,
extra attributes) and delete them; and what Neutron refuses: a fixed IP
outside the subnet (400), one taken already (409), an unknown port (404)."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from .neutron import check_error, check_status, json_body

L2 = "networks-l2-CRUD"


@pytest.fixture(scope="module")
def port(neutron, network, subnet, module_resources):
    """A port of the module's network (tests must not change it)."""
    return neutron.create(module_resources, "port", network_id=network["id"])


@pytest.mark.capability(L2, "c72c1c0c-2193-4aca-aaa4-b1442640f51c")
def test_create_update_delete_port(neutron, resources, network, subnet):
    """A port is created (201: on the network, an address of the subnet, a
    MAC, the project's default security group), renamed and set down (200),
    deleted (204, then 404)."""
    port = neutron.create(resources, "port", network_id=network["id"])
    assert port["network_id"] == network["id"] and port["admin_state_up"] is True, port
    assert [ip["subnet_id"] for ip in port["fixed_ips"]] == [subnet["id"]], f"fixed_ips {port['fixed_ips']}"
    assert ipaddress.ip_address(port["fixed_ips"][0]["ip_address"]) in ipaddress.ip_network(subnet["cidr"])
    assert len(port["security_groups"]) == 1, f"a new port has security groups {port['security_groups']}"
    name = neutron.run.name("port")
    updated = neutron.update("port", port["id"], name=name, admin_state_up=False)
    assert (updated["name"], updated["admin_state_up"]) == (name, False), updated
    neutron.delete("port", port["id"])


@pytest.mark.capability(L2, "67f1b811-f8db-43e2-86bd-72c074d4a42c")
def test_create_bulk_port(neutron, resources, network, subnet, schemas):
    """POST /ports with a list of two: 201 with both, each on the network,
    named as asked, with distinct addresses and MACs."""
    names = [neutron.run.name("port") for _ in range(2)]
    resp = neutron.post_bulk(resources, "port", [{"network_id": network["id"], "name": n} for n in names])
    check_status(resp, 201)
    ports = schemas.validate("network/ports-bulk", json_body(resp))["ports"]
    assert sorted(p["name"] for p in ports) == sorted(names), [p["name"] for p in ports]
    assert all(p["network_id"] == network["id"] for p in ports)
    assert len({p["mac_address"] for p in ports}) == 2 and len({p["fixed_ips"][0]["ip_address"] for p in ports}) == 2
    for p in ports:
        neutron.delete("port", p["id"])


@pytest.mark.capability(L2, "0435f278-40ae-48cb-a404-b8a087bc09b1")
def test_create_port_in_allowed_allocation_pools(neutron, resources, network):
    """A subnet whose pool is a single address: the port gets that address."""
    cidr = neutron.free_cidr(4)
    only = str(ipaddress.ip_network(cidr).network_address + 5)
    net = neutron.create(resources, "network")
    sub = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, cidr=cidr, enable_dhcp=False,
                         allocation_pools=[{"start": only, "end": only}])
    port = neutron.create(resources, "port", network_id=net["id"])
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": only}], port["fixed_ips"]


@pytest.mark.capability(L2, "c9a685bd-e83f-499c-939f-9f7863ca259f")
def test_show_port(neutron, port):
    """GET /ports/{id}: the port as created."""
    shown = neutron.show("port", port["id"])
    for key in ("id", "name", "network_id", "mac_address", "fixed_ips", "device_id", "device_owner",
                "admin_state_up", "security_groups"):
        assert shown[key] == port[key], f"{key}: shown {shown[key]!r}, created {port[key]!r}"


@pytest.mark.capability(L2, "45fcdaf2-dab0-4c13-ac6c-fcddfb579dbd")
def test_show_port_fields(neutron, port):
    """GET /ports/{id}?fields=id&fields=mac_address: exactly those fields."""
    shown = neutron.show("port", port["id"], fields=["id", "mac_address"])
    assert shown == {"id": port["id"], "mac_address": port["mac_address"]}, shown


@pytest.mark.capability(L2, "cf95b358-3e92-4a29-a148-52445e1ac50e")
def test_list_ports(neutron, port):
    """GET /ports lists the port; filtered by its network, the network's
    ports (it among them); by its MAC or its fixed IP, only it."""
    assert port["id"] in {p["id"] for p in neutron.list("port")}
    on_network = neutron.list("port", network_id=port["network_id"])
    assert port["id"] in {p["id"] for p in on_network}, "?network_id= lacks the port"
    strays = [p["id"] for p in on_network if p["network_id"] != port["network_id"]]
    assert not strays, f"?network_id={port['network_id']} lists ports of other networks: {strays}"
    address = port["fixed_ips"][0]["ip_address"]
    for filters in ({"mac_address": port["mac_address"]},
                    {"fixed_ips": f"ip_address={address}", "network_id": port["network_id"]}):
        found = [p["id"] for p in neutron.list("port", **filters)]
        assert found == [port["id"]], f"GET /ports?{filters} lists {found}"


@pytest.mark.capability(L2, "ff7f117f-f034-4e0e-abff-ccef05c454b4")
def test_list_ports_fields(neutron, port):
    """GET /ports?fields=id&fields=mac_address: those fields only."""
    resp = neutron.request("GET", "/ports?fields=id&fields=mac_address")
    check_status(resp, 200)
    ports = json_body(resp)["ports"]
    assert ports and all(set(p) == {"id", "mac_address"} for p in ports), ports[:3]
    assert {"id": port["id"], "mac_address": port["mac_address"]} in ports


@pytest.mark.parametrize("groups", [
    pytest.param(1, id="one-group", marks=pytest.mark.capability(L2, "58091b66-4ff4-4cc1-a549-05d60c7acd1a")),
    pytest.param(2, id="two-groups", marks=pytest.mark.capability(L2, "edf6766d-3d40-4621-bc6e-2521a44c257d")),
])
def test_update_port_with_security_groups_and_extra_attributes(neutron, resources, network, subnet, groups):
    """PUT /ports/{id} with new security groups, a name, admin_state_up and
    a fixed IP of the subnet: the port has them (reply and GET)."""
    group_ids = [neutron.create(resources, "security_group")["id"] for _ in range(groups)]
    port = neutron.create(resources, "port", network_id=network["id"])  # deleted before its groups
    taken = {p["fixed_ips"][0]["ip_address"] for p in neutron.list("port", network_id=network["id"]) if p["fixed_ips"]}
    pool = subnet["allocation_pools"][0]
    free = next(str(a) for a in ipaddress.ip_network(subnet["cidr"]).hosts()
                if ipaddress.ip_address(pool["start"]) <= a <= ipaddress.ip_address(pool["end"])
                and str(a) not in taken)
    change = {"security_groups": group_ids, "name": neutron.run.name("port"), "admin_state_up": False,
              "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": free}]}
    updated = neutron.update("port", port["id"], **change)
    shown = neutron.show("port", port["id"])
    for got in (updated, shown):
        assert sorted(got["security_groups"]) == sorted(group_ids), got["security_groups"]
        assert (got["name"], got["admin_state_up"], got["fixed_ips"]) == (
            change["name"], False, change["fixed_ips"]), got


# ---- negative


@pytest.mark.capability(L2, "30825785-7812-4974-b194-ace81052fcf8")
def test_fixed_ip_outside_the_subnet_is_400(neutron, resources, network, subnet, schemas):
    """A port asking for an address outside its subnet: 400 with Neutron's error body, nothing created."""
    outside = str(ipaddress.ip_network(subnet["cidr"]).broadcast_address + 16)
    before = {p["id"] for p in neutron.list("port", network_id=network["id"])}
    resp = neutron.post(resources, "port", {"network_id": network["id"],
                                            "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": outside}]})
    check_error(schemas, resp, 400)
    assert {p["id"] for p in neutron.list("port", network_id=network["id"])} == before


@pytest.mark.capability(L2, "b9ae6233-4feb-48e2-a70d-bd690dcee075")
def test_fixed_ip_in_use_is_409(neutron, resources, network, subnet, port, schemas):
    """A port asking for another port's address: 409 IpAddressAlreadyAllocated."""
    taken = port["fixed_ips"][0]["ip_address"]
    resp = neutron.post(resources, "port", {"network_id": network["id"],
                                            "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": taken}]})
    check_error(schemas, resp, 409, types={"IpAddressAlreadyAllocated", "IpAddressInUse"})


@pytest.mark.parametrize("method, body", [
    pytest.param("GET", None, id="show", marks=pytest.mark.capability(L2, "a10c4ec3-5ae3-41f3-a7df-4a39aeb33d3d")),
    pytest.param("PUT", {"port": {"name": "x"}}, id="update",
                 marks=pytest.mark.capability(L2, "70d6336c-b825-4694-a4b9-41bcbd840596")),
    pytest.param("DELETE", None, id="delete", marks=pytest.mark.capability(L2, "77915de5-4352-40f7-8349-704cf34e6aca")),
])
def test_unknown_port_is_404(neutron, schemas, method, body):
    """GET, PUT, DELETE /ports/{unknown id}: 404 PortNotFound."""
    check_error(schemas, neutron.request(method, f"/ports/{uuid.uuid4()}", json=body), 404, types={"PortNotFound"})


@pytest.mark.capability(L2, "23fe7383-34ac-4ac6-a180-e74e2c38948a")
def test_port_on_unknown_network_is_404(neutron, resources, schemas):
    """A port on a network that does not exist: 404 NetworkNotFound."""
    check_error(schemas, neutron.post(resources, "port", {"network_id": str(uuid.uuid4())}), 404,
                types={"NetworkNotFound"})
