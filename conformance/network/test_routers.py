"""networks-l3-CRUD and networks-l3-router: routers (create, show, list,
update, delete; admin state; extra routes; the external gateway set and
unset), router interfaces (by subnet, by port, several; ports listed by the
router's id), the external network's visibility, floating IPs (create on
the external network, associate with a port, disassociate, delete); and what
Neutron refuses: unknown routers (404), a gateway on an unknown (404) or
internal (400) network, overlapping interfaces (400), deleting a router
that still has interfaces (409)."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from .neutron import check_error, check_status, json_body

L3 = "networks-l3-CRUD"
ROUTER = "networks-l3-router"


@pytest.fixture(scope="module")
def router(neutron, module_resources):
    """A router of the module, without gateway or interfaces (tests must leave it so)."""
    return neutron.create(module_resources, "router")


def _net_with_subnet(neutron, resources, cidr=None):
    net = neutron.create(resources, "network")
    sub = neutron.create(resources, "subnet", network_id=net["id"], ip_version=4, cidr=cidr or neutron.free_cidr(4))
    return net, sub


def _interface_ports(neutron, router_id):
    return [p for p in neutron.list("port", device_id=router_id)
            if p["device_owner"].startswith("network:router_interface")]


@pytest.mark.capability(L3, "f64403e2-8483-4b34-8ccd-b09a87bcc68c")
def test_create_show_list_update_delete_router(neutron, resources, external_network):
    """A router with a gateway on the external network: created (201, the
    gateway with an external address), shown, listed, renamed (200),
    deleted (204, then 404)."""
    created = neutron.create(resources, "router", external_gateway_info={"network_id": external_network["id"]})
    gateway = created["external_gateway_info"]
    assert gateway and gateway["network_id"] == external_network["id"], f"the router's gateway: {gateway}"
    assert created["admin_state_up"] is True and created["project_id"] == neutron.project_id, created
    shown = neutron.show("router", created["id"])
    assert shown["external_gateway_info"]["network_id"] == external_network["id"], shown
    assert created["id"] in {r["id"] for r in neutron.list("router", name=created["name"])}
    name = neutron.run.name("router")
    assert neutron.update("router", created["id"], name=name)["name"] == name
    assert neutron.show("router", created["id"])["name"] == name
    neutron.delete("router", created["id"])


@pytest.mark.capability(L3, "a8902683-c788-4246-95c7-ad9c6d63a4d9")
def test_update_router_admin_state(neutron, resources):
    """admin_state_up set false and back true (200; shown so)."""
    created = neutron.create(resources, "router", admin_state_up=False)
    assert created["admin_state_up"] is False, created
    assert neutron.update("router", created["id"], admin_state_up=True)["admin_state_up"] is True
    assert neutron.show("router", created["id"])["admin_state_up"] is True


@pytest.mark.capability(L3, "ad81b7ee-4f81-407b-a19c-17e623f763e8")
def test_update_router_unset_gateway(neutron, resources, external_network):
    """Setting external_gateway_info to {} unsets the gateway: null in the
    reply and shown so (the gateway port is the cloud's, not visible to users)."""
    created = neutron.create(resources, "router", external_gateway_info={"network_id": external_network["id"]})
    assert created["external_gateway_info"], f"the router was created without its gateway: {created}"
    assert neutron.update("router", created["id"], external_gateway_info={})["external_gateway_info"] is None
    assert neutron.show("router", created["id"])["external_gateway_info"] is None


@pytest.mark.capability(L3, "27441ee0-45f0-4f2a-b95e-08796254a04b")
def test_update_router_set_gateway(neutron, resources, external_network):
    """A router without gateway gets one by PUT: an address of an external subnet."""
    created = neutron.create(resources, "router")
    assert created["external_gateway_info"] is None, created
    gateway = neutron.update("router", created["id"],
                             external_gateway_info={"network_id": external_network["id"]})["external_gateway_info"]
    assert gateway["network_id"] == external_network["id"], gateway
    subnets = set(external_network["subnets"])
    assert any(ip["subnet_id"] in subnets for ip in gateway.get("external_fixed_ips") or []), (
        f"the gateway has no address of the external network's subnets: {gateway}")


@pytest.mark.capability(L3, "b42e6e39-2e37-49cc-a6f4-8467e940900a")
def test_add_remove_router_interface_with_subnet_id(neutron, resources, router, schemas):
    """An interface added by subnet: 200 with the port and subnet; the port
    is the router's, with the subnet's gateway address; removed (200), the
    port is gone."""
    _, sub = _net_with_subnet(neutron, resources)
    resp = neutron.interface(router["id"], "add", subnet_id=sub["id"])
    check_status(resp, 200)
    info = schemas.validate("network/router-interface", json_body(resp))
    assert (info["id"], info["subnet_id"]) == (router["id"], sub["id"]), info
    port = neutron.show("port", info["port_id"])
    assert port["device_id"] == router["id"] and port["device_owner"].startswith("network:router_interface"), port
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": sub["gateway_ip"]}], port["fixed_ips"]
    resp = neutron.interface(router["id"], "remove", subnet_id=sub["id"])
    check_status(resp, 200)
    assert schemas.validate("network/router-interface", json_body(resp))["port_id"] == info["port_id"]
    check_error(schemas, neutron.request("GET", f"/ports/{info['port_id']}"), 404)


@pytest.mark.capability(L3, "2b7d2f37-6748-4d78-92e5-1d590234f0d5")
def test_add_remove_router_interface_with_port_id(neutron, resources, router, schemas):
    """An interface added by a port of the user's: the port becomes the
    router's; removed by port id (200), the port is gone."""
    net, sub = _net_with_subnet(neutron, resources)
    port = neutron.create(resources, "port", network_id=net["id"])
    resp = neutron.interface(router["id"], "add", port_id=port["id"])
    check_status(resp, 200)
    info = schemas.validate("network/router-interface", json_body(resp))
    assert (info["port_id"], info["subnet_id"]) == (port["id"], sub["id"]), info
    shown = neutron.show("port", port["id"])
    assert shown["device_id"] == router["id"], f"the port's device_id is {shown['device_id']!r}"
    resp = neutron.interface(router["id"], "remove", port_id=port["id"])
    check_status(resp, 200)
    schemas.validate("network/router-interface", json_body(resp))
    check_error(schemas, neutron.request("GET", f"/ports/{port['id']}"), 404)


@pytest.mark.capability(L3, "802c73c9-c937-4cef-824b-2191e24a6aab")
def test_add_multiple_router_interfaces(neutron, resources, router):
    """Two interfaces on two subnets of two networks: both listed among the router's ports."""
    infos = [neutron.add_interface(resources, router["id"], subnet_id=_net_with_subnet(neutron, resources)[1]["id"])
             for _ in range(2)]
    ports = {p["id"] for p in _interface_ports(neutron, router["id"])}
    assert {i["port_id"] for i in infos} <= ports, f"the router's ports {ports} lack {infos}"


@pytest.mark.capability(L3, "5ad01ed0-0e6e-4c5d-8194-232801b15c72")
def test_port_list_filter_by_router_id(neutron, resources, router):
    """GET /ports?device_id={router}: the router's interface port, nothing else."""
    info = neutron.add_interface(resources, router["id"], subnet_id=_net_with_subnet(neutron, resources)[1]["id"])
    found = [p["id"] for p in neutron.list("port", device_id=router["id"])]
    assert found == [info["port_id"]], f"?device_id={router['id']} lists {found}"


@pytest.mark.capability(L3, "c86ac3a8-50bd-4b00-a6b8-62af84a0765c")
def test_update_delete_extra_route(neutron, resources, router):
    """Extra routes through a next hop on an interface's subnet: set (200, in
    the reply and shown), then cleared with []."""
    _, sub = _net_with_subnet(neutron, resources)
    neutron.add_interface(resources, router["id"], subnet_id=sub["id"])
    hop = str(ipaddress.ip_network(sub["cidr"]).network_address + 5)
    routes = [{"destination": "192.0.2.0/28", "nexthop": hop}, {"destination": "192.0.2.16/28", "nexthop": hop}]

    def clear():
        neutron.request("PUT", f"/routers/{router['id']}", json={"router": {"routes": []}})

    resources.add("extra routes", clear)
    updated = neutron.update("router", router["id"], routes=routes)
    key = lambda r: r["destination"]  # noqa: E731
    assert sorted(updated["routes"], key=key) == routes, updated["routes"]
    assert sorted(neutron.show("router", router["id"])["routes"], key=key) == routes
    assert neutron.update("router", router["id"], routes=[])["routes"] == []


@pytest.mark.capability(L3, "af774677-42a9-4e4b-bb58-16fe6a5bc1ec")
def test_external_network_visibility(neutron, external_network):
    """?router:external=true lists only external networks; the external
    network's subnets are visible when it is shared, hidden otherwise."""
    external = neutron.external_networks()
    assert all(n["router:external"] for n in external), [n["id"] for n in external if not n["router:external"]]
    subnets = neutron.list("subnet", network_id=external_network["id"])
    if external_network["shared"]:
        assert subnets, f"the shared external network {external_network['id']} shows no subnet"
    else:
        assert subnets == [], f"the non-shared external network shows subnets {[s['id'] for s in subnets]}"


# ---- floating IPs


@pytest.mark.capability(L3, "149070bf-5be0-4fb3-980f-af9ab0f896f5")
def test_floating_ip_create_associate_disassociate_delete(neutron, resources, external_network, router):
    """A floating IP on the external network (201: an address, no port);
    associated with a port behind a router with a gateway (200: the port's
    address and the router); listed by port; disassociated (200: nulls);
    deleted (204, then 404)."""
    net, sub = _net_with_subnet(neutron, resources)
    gw_router = neutron.create(resources, "router", external_gateway_info={"network_id": external_network["id"]})
    neutron.add_interface(resources, gw_router["id"], subnet_id=sub["id"])
    port = neutron.create(resources, "port", network_id=net["id"])
    fip = neutron.create(resources, "floatingip", floating_network_id=external_network["id"])
    assert (fip["port_id"], fip["fixed_ip_address"]) == (None, None), fip
    assert fip["floating_network_id"] == external_network["id"], fip
    associated = neutron.update("floatingip", fip["id"], port_id=port["id"])
    address = port["fixed_ips"][0]["ip_address"]
    assert (associated["port_id"], associated["fixed_ip_address"], associated["router_id"]) == (
        port["id"], address, gw_router["id"]), associated
    assert [f["id"] for f in neutron.list("floatingip", port_id=port["id"])] == [fip["id"]]
    assert neutron.show("floatingip", fip["id"])["floating_ip_address"] == fip["floating_ip_address"]
    dissociated = neutron.update("floatingip", fip["id"], port_id=None)
    assert (dissociated["port_id"], dissociated["fixed_ip_address"]) == (None, None), dissociated
    neutron.delete("floatingip", fip["id"])


@pytest.mark.capability(L3, "2b4cd354-13ab-4b88-bb59-b6a3d889a109")
def test_floating_ip_without_router_to_the_port_is_404(neutron, resources, external_network, schemas):
    """Associating a floating IP with a port whose subnet no router connects
    to the external network: 404 ExternalGatewayForFloatingIPNotFound."""
    net, _ = _net_with_subnet(neutron, resources)
    port = neutron.create(resources, "port", network_id=net["id"])
    fip = neutron.create(resources, "floatingip", floating_network_id=external_network["id"])
    resp = neutron.request("PUT", f"/floatingips/{fip['id']}", json={"floatingip": {"port_id": port["id"]}})
    check_error(schemas, resp, 404, types={"ExternalGatewayForFloatingIPNotFound"})


@pytest.mark.capability(L3, "d5c38095-c94d-4984-b849-c51fc0f3dc64")
def test_unknown_floating_ip_is_404(neutron, schemas):
    """GET /floatingips/{unknown id}: 404 FloatingIPNotFound."""
    check_error(schemas, neutron.request("GET", f"/floatingips/{uuid.uuid4()}"), 404, types={"FloatingIPNotFound"})


# ---- negative


@pytest.mark.capability(L3, "c2a70d72-8826-43a7-8208-0209e6360c47")
def test_show_non_existent_router_returns_404(neutron, schemas):
    check_error(schemas, neutron.request("GET", f"/routers/{uuid.uuid4()}"), 404, types={"RouterNotFound"})


@pytest.mark.capability(L3, "b23d1569-8b0c-4169-8d4b-6abd34fad5c7")
def test_update_non_existent_router_returns_404(neutron, schemas):
    check_error(schemas, neutron.request("PUT", f"/routers/{uuid.uuid4()}", json={"router": {"name": "x"}}), 404,
                types={"RouterNotFound"})


@pytest.mark.capability(L3, "c7edc5ad-d09d-41e6-a344-5c0c31e2e3e4")
def test_delete_non_existent_router_returns_404(neutron, schemas):
    check_error(schemas, neutron.request("DELETE", f"/routers/{uuid.uuid4()}"), 404, types={"RouterNotFound"})


@pytest.mark.capability(L3, "957751a3-3c68-4fa2-93b6-eb52ea10db6e")
def test_add_router_interfaces_on_overlapping_subnets_returns_400(neutron, resources, router, schemas):
    """Two subnets with the same CIDR on two networks: the second interface is 400."""
    cidr = neutron.free_cidr(4)
    _, first = _net_with_subnet(neutron, resources, cidr)
    _, second = _net_with_subnet(neutron, resources, cidr)
    neutron.add_interface(resources, router["id"], subnet_id=first["id"])
    resp = neutron.interface(router["id"], "add", subnet_id=second["id"])
    if resp.status_code == 200:  # undo the wrongly added interface
        neutron.interface(router["id"], "remove", subnet_id=second["id"])
    check_error(schemas, resp, 400, types={"BadRequest", "HTTPBadRequest", "InvalidInput"})


@pytest.mark.capability(ROUTER, "37a94fc0-a834-45b9-bd23-9a81d2fd1e22")
def test_router_add_gateway_invalid_network_returns_404(neutron, router, schemas):
    """A gateway on a network that does not exist: 404 NetworkNotFound; the router keeps none."""
    resp = neutron.request("PUT", f"/routers/{router['id']}",
                           json={"router": {"external_gateway_info": {"network_id": str(uuid.uuid4())}}})
    check_error(schemas, resp, 404, types={"NetworkNotFound"})
    assert neutron.show("router", router["id"])["external_gateway_info"] is None


@pytest.mark.capability(ROUTER, "11836a18-0b15-4327-a50b-f0d9dc66bddd")
def test_router_add_gateway_net_not_external_returns_400(neutron, router, network, schemas):
    """A gateway on an internal network: 400; the router keeps none."""
    resp = neutron.request("PUT", f"/routers/{router['id']}",
                           json={"router": {"external_gateway_info": {"network_id": network["id"]}}})
    check_error(schemas, resp, 400)
    assert neutron.show("router", router["id"])["external_gateway_info"] is None


@pytest.mark.capability(ROUTER, "04df80f9-224d-47f5-837a-bf23e33d1c20")
def test_router_remove_interface_in_use_returns_409(neutron, resources, schemas):
    """A router with an interface: deleting it is 409 RouterInUse, and the
    interface's subnet cannot be deleted either (409 SubnetInUse)."""
    own = neutron.create(resources, "router")
    _, sub = _net_with_subnet(neutron, resources)
    neutron.add_interface(resources, own["id"], subnet_id=sub["id"])
    check_error(schemas, neutron.request("DELETE", f"/routers/{own['id']}"), 409, types={"RouterInUse"})
    check_error(schemas, neutron.request("DELETE", f"/subnets/{sub['id']}"), 409, types={"SubnetInUse"})
    assert neutron.show("router", own["id"])["id"] == own["id"]


@pytest.mark.capability(ROUTER, "451888ff-33c6-4a8c-ba5b-f373a6d84e00")
def test_remove_interface_not_on_the_router_is_404(neutron, resources, router, schemas):
    """Removing an interface on a subnet the router is not on: 404 with Neutron's error body."""
    _, sub = _net_with_subnet(neutron, resources)
    check_error(schemas, neutron.interface(router["id"], "remove", subnet_id=sub["id"]), 404)
