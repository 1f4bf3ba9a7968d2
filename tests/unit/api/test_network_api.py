"""Neutron v2.0 of the reference cloud's API over a real NetworkPlane whose
kernel is a recording fake (no root, nothing changes on the machine): the
real app, identity, SQLite and network library (fixture ``neutron`` in
conftest.py)."""

from __future__ import annotations

N = "/network/v2.0"
def call(fx, method, path, account, body=None, status=None, **params):
    response = fx.client.request(method, N + path, headers=account.headers, json=body, params=params or None)
    if status is not None:
        assert response.status_code == status, response.text
    return response.json() if response.content else None


def make_net(fx, account, name="n1", cidr="10.1.0.0/24", **extra):
    net = call(fx, "POST", "/networks", account, {"network": {"name": name, **extra}}, 201)["network"]
    sub = call(fx, "POST", "/subnets", account, {"subnet": {"network_id": net["id"], "cidr": cidr,
                                                            "ip_version": 4}}, 201)["subnet"]
    return net, sub


def error_of(body) -> dict:
    assert set(body) == {"NeutronError"}, body
    error = body["NeutronError"]
    assert set(error) == {"type", "message", "detail"}
    return error


# -- discovery -------------------------------------------------------------------------------
def test_versions_and_resources_are_public(neutron):
    versions = neutron.client.get("/network/").json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0"] and versions[0]["status"] == "CURRENT"
    names = [r["name"] for r in neutron.client.get(N + "/").json()["resources"]]
    assert {"network", "subnet", "port", "router"} <= set(names)


def test_extensions_list_and_show(neutron):
    aliases = {e["alias"] for e in call(neutron, "GET", "/extensions", neutron.member, status=200)["extensions"]}
    assert {"router", "security-group", "external-net", "extraroute", "quotas", "subnet_allocation"} <= aliases
    assert "allowed-address-pairs" not in aliases
    assert call(neutron, "GET", "/extensions/router", neutron.member, status=200)["extension"]["alias"] == "router"
    assert error_of(call(neutron, "GET", "/extensions/nope", neutron.member, status=404))["type"] == \
        "ExtensionNotFound"


# -- networks ------------------------------------------------------------------------------------
def test_network_crud_and_standard_attributes(neutron):
    net = call(neutron, "POST", "/networks", neutron.member, {"network": {"name": "a", "description": "d"}},
               201)["network"]
    assert net["status"] == "ACTIVE" and net["admin_state_up"] is True and net["mtu"] == 1450
    assert net["project_id"] == net["tenant_id"] == neutron.member.project_id
    assert net["description"] == "d" and net["revision_number"] == 0 and net["created_at"].endswith("Z")
    assert "provider:segmentation_id" not in net
    shown = call(neutron, "GET", f"/networks/{net['id']}", neutron.admin, status=200)["network"]
    assert shown["provider:network_type"] == "vxlan" and shown["provider:segmentation_id"] >= 1000
    updated = call(neutron, "PUT", f"/networks/{net['id']}", neutron.member,
                   {"network": {"name": "b", "admin_state_up": False}}, 200)["network"]
    assert (updated["name"], updated["admin_state_up"], updated["revision_number"]) == ("b", False, 1)
    assert neutron.plane.get_network(net["id"]).name == "b"
    call(neutron, "DELETE", f"/networks/{net['id']}", neutron.member, status=204)
    assert error_of(call(neutron, "GET", f"/networks/{net['id']}", neutron.member, status=404))["type"] == \
        "NetworkNotFound"


def test_admin_sets_segmentation_id_members_may_not(neutron):
    body = {"network": {"name": "x", "provider:network_type": "vxlan", "provider:segmentation_id": 4242}}
    call(neutron, "POST", "/networks", neutron.member, body, 403)
    net = call(neutron, "POST", "/networks", neutron.admin, body, 201)["network"]
    assert net["provider:segmentation_id"] == 4242
    assert error_of(call(neutron, "POST", "/networks", neutron.admin, body, 409))["type"] == "TunnelIdInUse"


def test_isolation_other_projects_are_404_and_admin_sees_all(neutron):
    other = neutron.account("alt", "member")
    net, sub = make_net(neutron, neutron.member)
    call(neutron, "GET", f"/networks/{net['id']}", other, status=404)
    call(neutron, "PUT", f"/networks/{net['id']}", other, {"network": {"name": "x"}}, 404)
    call(neutron, "DELETE", f"/subnets/{sub['id']}", other, status=404)
    ids = {n["id"] for n in call(neutron, "GET", "/networks", other, status=200)["networks"]}
    assert ids == {neutron.public.id}  # the external network is visible to every project
    assert net["id"] in {n["id"] for n in call(neutron, "GET", "/networks", neutron.admin, status=200)["networks"]}
    public_subnets = call(neutron, "GET", "/subnets", other, status=200, network_id=neutron.public.id)["subnets"]
    assert len(public_subnets) == 2
    call(neutron, "DELETE", f"/networks/{neutron.public.id}", other, status=403)


def test_readers_cannot_write(neutron):
    reader = neutron.account("reader1", "reader", project="demo")
    net, _ = make_net(neutron, neutron.member)
    assert call(neutron, "GET", f"/networks/{net['id']}", reader, status=200)["network"]["id"] == net["id"]
    error = error_of(call(neutron, "POST", "/networks", reader, {"network": {"name": "r"}}, 403))
    assert error["type"]
    call(neutron, "DELETE", f"/networks/{net['id']}", reader, status=403)


def test_list_filters_fields_sorting_and_pagination(neutron):
    for name in ("c", "a", "b"):
        call(neutron, "POST", "/networks", neutron.member, {"network": {"name": name}}, 201)
    member = neutron.member
    names = [n["name"] for n in call(neutron, "GET", "/networks", member, status=200, sort_key="name",
                                     sort_dir="asc")["networks"]]
    assert names == ["a", "b", "c", "public"]
    both = call(neutron, "GET", f"/networks?name=a&name=c&fields=id&fields=name", member, status=200)["networks"]
    assert sorted(n["name"] for n in both) == ["a", "c"] and all(set(n) == {"id", "name"} for n in both)
    external = call(neutron, "GET", "/networks", member, status=200, **{"router:external": "true"})["networks"]
    assert [n["name"] for n in external] == ["public"]
    page = call(neutron, "GET", "/networks", member, status=200, sort_key="name", limit=2)
    assert [n["name"] for n in page["networks"]] == ["a", "b"]
    assert page["networks_links"][0]["rel"] == "next"
    marker = page["networks"][-1]["id"]
    rest = call(neutron, "GET", "/networks", member, status=200, sort_key="name", limit=2, marker=marker)
    assert [n["name"] for n in rest["networks"]] == ["c", "public"]
    call(neutron, "GET", "/networks", member, status=400, sort_key="nope")


def test_errors_are_neutron_shaped_and_garbage_is_400(neutron):
    for body in ("not json", "[]", '{"network": 5}', '{"network": {"name": 7}}',
                 '{"network": {"bogus": 1}}', '{"networks": []}'):
        response = neutron.client.post(N + "/networks", headers={**neutron.member.headers,
                                                                 "Content-Type": "application/json"},
                                       content=body)
        assert response.status_code == 400, (body, response.text)
        error_of(response.json())
    assert "bogus" in error_of(call(neutron, "POST", "/networks", neutron.member,
                                    {"network": {"bogus": 1}}, 400))["message"]
    response = neutron.client.get(N + "/nowhere", headers=neutron.member.headers)
    assert response.status_code == 404 and error_of(response.json())


# -- subnets ---------------------------------------------------------------------------------------
def test_subnet_create_update_and_v6_slaac(neutron):
    net = call(neutron, "POST", "/networks", neutron.member, {"network": {"name": "n"}}, 201)["network"]
    sub = call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "cidr": "10.2.0.0/24", "ip_version": 4, "gateway_ip": "10.2.0.1",
        "allocation_pools": [{"start": "10.2.0.3", "end": "10.2.0.9"}], "dns_nameservers": ["192.0.2.53"],
        "host_routes": [{"destination": "10.9.0.0/16", "nexthop": "10.2.0.5"}]}}, 201)["subnet"]
    assert sub["allocation_pools"] == [{"start": "10.2.0.3", "end": "10.2.0.9"}] and sub["enable_dhcp"] is True
    updated = call(neutron, "PUT", f"/subnets/{sub['id']}", neutron.member, {"subnet": {
        "name": "s2", "gateway_ip": "10.2.0.2", "dns_nameservers": ["192.0.2.54"], "host_routes": [],
        "enable_dhcp": False}}, 200)["subnet"]
    assert (updated["name"], updated["gateway_ip"], updated["dns_nameservers"], updated["enable_dhcp"]) == \
        ("s2", "10.2.0.2", ["192.0.2.54"], False)
    v6 = call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "cidr": "fd00:1::/64", "ip_version": 6, "ipv6_ra_mode": "slaac",
        "ipv6_address_mode": "slaac"}}, 201)["subnet"]
    assert v6["ipv6_address_mode"] == "slaac"
    call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "cidr": "fd00:2::/64", "ip_version": 6, "ipv6_address_mode": "dhcpv6-stateful"}},
        400)
    overlap = call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "cidr": "10.2.0.128/25", "ip_version": 4}}, 400)
    assert "overlaps with another subnet" in error_of(overlap)["message"]  # what clients look for
    call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "cidr": "fd00:3::/64", "ip_version": 4}}, 400)
    shown = call(neutron, "GET", f"/networks/{net['id']}", neutron.member, status=200)["network"]
    assert set(shown["subnets"]) == {sub["id"], v6["id"]}


def test_subnet_pool_allocation(neutron):
    pool = call(neutron, "POST", "/subnetpools", neutron.member, {"subnetpool": {
        "name": "p", "prefixes": ["10.50.0.0/16"], "default_prefixlen": 24}}, 201)["subnetpool"]
    assert pool["ip_version"] == 4 and pool["min_prefixlen"] == 8
    net = call(neutron, "POST", "/networks", neutron.member, {"network": {"name": "n"}}, 201)["network"]
    first = call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "subnetpool_id": pool["id"], "ip_version": 4}}, 201)["subnet"]
    second = call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "subnetpool_id": pool["id"], "prefixlen": 26, "ip_version": 4}}, 201)["subnet"]
    assert (first["cidr"], second["cidr"]) == ("10.50.0.0/24", "10.50.1.0/26")
    assert first["subnetpool_id"] == pool["id"]
    call(neutron, "POST", "/subnets", neutron.member, {"subnet": {
        "network_id": net["id"], "subnetpool_id": pool["id"], "cidr": "10.99.0.0/24", "ip_version": 4}}, 400)
    call(neutron, "DELETE", f"/subnetpools/{pool['id']}", neutron.member, status=409)
    renamed = call(neutron, "PUT", f"/subnetpools/{pool['id']}", neutron.member,
                   {"subnetpool": {"name": "q"}}, 200)["subnetpool"]
    assert renamed["name"] == "q" and renamed["revision_number"] == 1
    other = neutron.account("alt", "member")
    call(neutron, "GET", f"/subnetpools/{pool['id']}", other, status=404)


# -- ports ---------------------------------------------------------------------------------------------
def test_port_crud_default_group_and_binding_for_admins(neutron):
    net, sub = make_net(neutron, neutron.member)
    port = call(neutron, "POST", "/ports", neutron.member, {"port": {
        "network_id": net["id"], "name": "p", "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.1.0.50"}]}},
        201)["port"]
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.50"}]
    assert port["status"] == "DOWN" and port["mac_address"].startswith("fa:16:3e")
    assert "binding:host_id" not in port
    groups = call(neutron, "GET", "/security-groups", neutron.member, status=200, name="default")["security_groups"]
    assert port["security_groups"] == [groups[0]["id"]]
    admin_view = call(neutron, "GET", f"/ports/{port['id']}", neutron.admin, status=200)["port"]
    assert admin_view["binding:vif_type"] == "unbound" and admin_view["binding:host_id"] == ""
    call(neutron, "PUT", f"/ports/{port['id']}", neutron.member, {"port": {"binding:host_id": "ca"}}, 403)
    updated = call(neutron, "PUT", f"/ports/{port['id']}", neutron.member, {"port": {
        "name": "q", "security_groups": [], "port_security_enabled": False}}, 200)["port"]
    assert (updated["name"], updated["security_groups"], updated["port_security_enabled"]) == ("q", [], False)
    found = call(neutron, "GET", "/ports", neutron.member, status=200,
                 fixed_ips="ip_address=10.1.0.50")["ports"]
    assert [p["id"] for p in found] == [port["id"]]
    assert error_of(call(neutron, "POST", "/ports", neutron.member, {"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.1.0.50"}]}}, 409))["type"] == "IpAddressInUse"
    call(neutron, "DELETE", f"/ports/{port['id']}", neutron.member, status=204)


def test_bulk_ports(neutron):
    net, _ = make_net(neutron, neutron.member)
    ports = call(neutron, "POST", "/ports", neutron.member, {"ports": [
        {"network_id": net["id"], "name": "a"}, {"network_id": net["id"], "name": "b"}]}, 201)["ports"]
    assert [p["name"] for p in ports] == ["a", "b"]


def test_ports_made_by_nova_show_the_server_as_device(neutron):
    net, _ = make_net(neutron, neutron.member)
    port = neutron.plane.create_port(net["id"], device_owner="compute:nova", device_id="server-1",
                                     project_id=neutron.member.project_id, binding_host="ca")
    shown = call(neutron, "GET", "/ports", neutron.member, status=200, device_id="server-1")["ports"]
    assert [(p["id"], p["device_owner"], p["status"]) for p in shown] == [(port.id, "compute:nova", "ACTIVE")]
    assert shown[0]["revision_number"] == 0 and shown[0]["description"] == ""


# -- routers and floating IPs ------------------------------------------------------------------
def test_router_gateway_interfaces_routes_and_floating_ip(neutron):
    member = neutron.member
    net, sub = make_net(neutron, member)
    router = call(neutron, "POST", "/routers", member, {"router": {
        "name": "r", "admin_state_up": False, "external_gateway_info": {"network_id": neutron.public.id}}},
        201)["router"]
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == neutron.public.id and gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"] and router["admin_state_up"] is False
    interface = call(neutron, "PUT", f"/routers/{router['id']}/add_router_interface", member,
                     {"subnet_id": sub["id"]}, 200)
    assert interface["subnet_id"] == sub["id"] and interface["id"] == router["id"]
    legs = call(neutron, "GET", "/ports", member, status=200, device_id=router["id"])["ports"]
    assert [p["id"] for p in legs if p["device_owner"] == "network:router_interface"] == [interface["port_id"]]
    routes = [{"destination": "10.77.0.0/16", "nexthop": "10.1.0.9"}]
    updated = call(neutron, "PUT", f"/routers/{router['id']}", member, {"router": {"routes": routes}}, 200)
    assert updated["router"]["routes"] == routes
    call(neutron, "PUT", f"/routers/{router['id']}", member,
         {"router": {"routes": [{"destination": "10.78.0.0/16", "nexthop": "192.0.2.1"}]}}, 400)
    call(neutron, "DELETE", f"/routers/{router['id']}", member, status=409)
    port = call(neutron, "POST", "/ports", member, {"port": {"network_id": net["id"]}}, 201)["port"]
    fip = call(neutron, "POST", "/floatingips", member, {"floatingip": {
        "floating_network_id": neutron.public.id}}, 201)["floatingip"]
    assert fip["status"] == "DOWN" and fip["floating_ip_address"].startswith("198.18.43.")
    associated = call(neutron, "PUT", f"/floatingips/{fip['id']}", member,
                      {"floatingip": {"port_id": port["id"]}}, 200)["floatingip"]
    assert associated["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert associated["router_id"] == router["id"] and associated["status"] == "ACTIVE"
    gone = call(neutron, "PUT", f"/floatingips/{fip['id']}", member, {"floatingip": {"port_id": None}}, 200)
    assert gone["floatingip"]["port_id"] is None
    call(neutron, "DELETE", f"/floatingips/{fip['id']}", member, status=204)
    in_use = call(neutron, "PUT", f"/routers/{router['id']}/remove_router_interface", member,
                  {"subnet_id": sub["id"]}, 409)
    assert error_of(in_use)["type"] == "RouterInterfaceInUseByRoute"
    route_cmds = [i for c, i in zip(neutron.plane.kernel.runner.commands, neutron.plane.kernel.runner.inputs)
                  if "-batch" in c and "10.77.0.0/16 via 10.1.0.9" in i]
    assert route_cmds and "proto static" in route_cmds[-1]
    added = call(neutron, "PUT", f"/routers/{router['id']}/add_extraroutes", member, {"router": {"routes": [
        {"destination": "10.79.0.0/16", "nexthop": "10.1.0.10"}]}}, 200)["router"]["routes"]
    assert len(added) == 2
    left = call(neutron, "PUT", f"/routers/{router['id']}/remove_extraroutes", member,
                {"router": {"routes": routes}}, 200)["router"]["routes"]
    assert left == [{"destination": "10.79.0.0/16", "nexthop": "10.1.0.10"}]
    cleared = call(neutron, "PUT", f"/routers/{router['id']}", member, {"router": {"routes": None}}, 200)
    assert cleared["router"]["routes"] == [] and neutron.plane.get_router(router["id"]).routes == []
    call(neutron, "PUT", f"/routers/{router['id']}/remove_router_interface", member, {"subnet_id": sub["id"]}, 200)
    cleared = call(neutron, "PUT", f"/routers/{router['id']}", member,
                   {"router": {"external_gateway_info": {}}}, 200)["router"]
    assert cleared["external_gateway_info"] is None
    call(neutron, "DELETE", f"/routers/{router['id']}", member, status=204)


def test_router_gateway_errors(neutron):
    net, _ = make_net(neutron, neutron.member)
    router = call(neutron, "POST", "/routers", neutron.member, {"router": {"name": "r"}}, 201)["router"]
    path = f"/routers/{router['id']}"
    call(neutron, "PUT", path, neutron.member,
         {"router": {"external_gateway_info": {"network_id": "8b1f62a4-4b3e-4a53-9d8a-4a0d5b4c0a11"}}}, 404)
    call(neutron, "PUT", path, neutron.member, {"router": {"external_gateway_info": {"network_id": net["id"]}}}, 400)
    call(neutron, "PUT", "/routers/nope", neutron.member, {"router": {"name": "x"}}, 404)
    call(neutron, "PUT", f"{path}/add_router_interface", neutron.member, {}, 400)


# -- security groups -------------------------------------------------------------------------------
def test_security_groups_and_rules(neutron):
    member = neutron.member
    groups = call(neutron, "GET", "/security-groups", member, status=200)["security_groups"]
    default = next(g for g in groups if g["name"] == "default")
    assert {(r["direction"], r["ethertype"]) for r in default["security_group_rules"]} == {
        ("egress", "IPv4"), ("egress", "IPv6"), ("ingress", "IPv4"), ("ingress", "IPv6")}
    call(neutron, "POST", "/security-groups", member, {"security_group": {"name": "default"}}, 409)
    group = call(neutron, "POST", "/security-groups", member, {"security_group": {"name": "web"}}, 201)[
        "security_group"]
    renamed = call(neutron, "PUT", f"/security-groups/{group['id']}", member,
                   {"security_group": {"name": "www", "description": "d"}}, 200)["security_group"]
    assert (renamed["name"], renamed["description"]) == ("www", "d")
    rule = call(neutron, "POST", "/security-group-rules", member, {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}}, 201)["security_group_rule"]
    assert (rule["protocol"], rule["port_range_min"], rule["ethertype"]) == ("tcp", 22, "IPv4")
    dup = call(neutron, "POST", "/security-group-rules", member, {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}}, 409)
    assert error_of(dup)["type"] == "SecurityGroupRuleExists"
    numeric = call(neutron, "POST", "/security-group-rules", member, {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": 17}}, 201)["security_group_rule"]
    assert numeric["protocol"] == "17"
    for low, high, text in ((-16, 80, "Invalid value for port -16"), (80, 79, "port_range_min must be <="),
                            (None, 6, "port_range_min must be <= port_range_max")):
        error = call(neutron, "POST", "/security-group-rules", member, {"security_group_rule": {
            "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
            "port_range_min": low, "port_range_max": high}}, 400)
        assert text in error_of(error)["message"]
    error = call(neutron, "POST", "/security-group-rules", member, {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "protocol": "icmp",
        "port_range_max": 6}}, 400)
    assert "ICMP type (port-range-min) is missing" in error_of(error)["message"]
    for bad in ({"ethertype": "IPv5"}, {"protocol": "bogus"}, {"remote_ip_prefix": "300.0.0.0/8"}):
        call(neutron, "POST", "/security-group-rules", member, {"security_group_rule": {
            "security_group_id": group["id"], "direction": "ingress", **bad}}, 400)
    call(neutron, "POST", "/security-group-rules", member, {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress",
        "remote_group_id": "8b1f62a4-4b3e-4a53-9d8a-4a0d5b4c0a11"}}, 404)
    other = neutron.account("alt", "member")
    call(neutron, "GET", f"/security-group-rules/{rule['id']}", other, status=404)
    call(neutron, "DELETE", f"/security-group-rules/{rule['id']}", member, status=204)
    call(neutron, "DELETE", f"/security-groups/{group['id']}", member, status=204)
    call(neutron, "DELETE", f"/security-groups/{default['id']}", member, status=409)
    call(neutron, "GET", f"/security-groups/{group['id']}", member, status=404)


# -- quotas ----------------------------------------------------------------------------------------
def test_quotas_enforced_and_admin_only_to_change(neutron):
    pid = neutron.member.project_id
    assert call(neutron, "GET", f"/quotas/{pid}", neutron.member, status=200)["quota"]["network"] == 100
    call(neutron, "PUT", f"/quotas/{pid}", neutron.member, {"quota": {"network": 1}}, 403)
    other = neutron.account("alt", "member")
    call(neutron, "GET", f"/quotas/{pid}", other, status=403)
    assert call(neutron, "PUT", f"/quotas/{pid}", neutron.admin, {"quota": {"network": 1}}, 200)["quota"][
        "network"] == 1
    assert [q["project_id"] for q in call(neutron, "GET", "/quotas", neutron.admin, status=200)["quotas"]] == [pid]
    call(neutron, "POST", "/networks", neutron.member, {"network": {"name": "one"}}, 201)
    over = call(neutron, "POST", "/networks", neutron.member, {"network": {"name": "two"}}, 409)
    assert error_of(over)["type"] == "OverQuota"
    details = call(neutron, "GET", f"/quotas/{pid}/details", neutron.member, status=200)["quota"]
    assert details["network"] == {"limit": 1, "used": 1, "reserved": 0}
    call(neutron, "PUT", f"/quotas/{pid}", neutron.admin, {"quota": {"network": "many"}}, 400)
    call(neutron, "DELETE", f"/quotas/{pid}", neutron.admin, status=204)
    assert call(neutron, "GET", f"/quotas/{pid}/default", neutron.member, status=200)["quota"]["network"] == 100
    call(neutron, "POST", "/networks", neutron.member, {"network": {"name": "two"}}, 201)


def test_admin_creates_for_another_project_members_may_not(neutron):
    other = neutron.account("alt", "member")
    body = {"network": {"name": "theirs", "tenant_id": other.project_id}}
    call(neutron, "POST", "/networks", neutron.member, body, 403)
    net = call(neutron, "POST", "/networks", neutron.admin, body, 201)["network"]
    assert net["project_id"] == other.project_id
    assert call(neutron, "GET", f"/networks/{net['id']}", other, status=200)["network"]["name"] == "theirs"


def test_a_gateway_held_by_a_router_cannot_move(neutron):
    net, sub = make_net(neutron, neutron.member)
    router = call(neutron, "POST", "/routers", neutron.member, {"router": {"name": "r"}}, 201)["router"]
    call(neutron, "PUT", f"/routers/{router['id']}/add_router_interface", neutron.member, {"subnet_id": sub["id"]},
         200)
    error = call(neutron, "PUT", f"/subnets/{sub['id']}", neutron.member, {"subnet": {"gateway_ip": "10.1.0.254"}},
                 409)
    assert error_of(error)["type"] == "SubnetInUse"
    assert neutron.plane.get_subnet(sub["id"]).gateway_ip == "10.1.0.1"
    call(neutron, "DELETE", f"/networks/{net['id']}", neutron.member, status=409)


def test_shared_network_is_usable_by_other_projects_but_not_changeable(neutron):
    net = call(neutron, "POST", "/networks", neutron.admin, {"network": {"name": "shared", "shared": True}},
               201)["network"]
    call(neutron, "POST", "/subnets", neutron.admin, {"subnet": {"network_id": net["id"], "cidr": "10.3.0.0/24",
                                                                 "ip_version": 4}}, 201)
    port = call(neutron, "POST", "/ports", neutron.member, {"port": {"network_id": net["id"]}}, 201)["port"]
    assert port["project_id"] == neutron.member.project_id
    call(neutron, "PUT", f"/networks/{net['id']}", neutron.member, {"network": {"name": "mine"}}, 403)
    call(neutron, "POST", "/subnets", neutron.member, {"subnet": {"network_id": net["id"], "cidr": "10.4.0.0/24",
                                                                  "ip_version": 4}}, 403)
    shared = call(neutron, "GET", "/networks", neutron.member, status=200, shared="true")["networks"]
    assert {n["id"] for n in shared} == {net["id"], neutron.public.id}


def test_tags_of_resources_and_the_tags_filters(neutron):
    member = neutron.member
    net = call(neutron, "POST", "/networks", member, {"network": {"name": "t", "tags": ["a"]}}, 201)["network"]
    assert net["tags"] == ["a"]
    base = f"/networks/{net['id']}/tags"
    assert call(neutron, "PUT", base, member, {"tags": ["red", "blue"]}, 200)["tags"] == ["blue", "red"]
    call(neutron, "PUT", f"{base}/green", member, status=201)
    call(neutron, "GET", f"{base}/green", member, status=204)
    call(neutron, "GET", f"{base}/nope", member, status=404)
    assert call(neutron, "GET", base, member, status=200)["tags"] == ["blue", "green", "red"]
    assert [n["id"] for n in call(neutron, "GET", "/networks", member, status=200, tags="red,green")["networks"]] \
        == [net["id"]]
    assert call(neutron, "GET", "/networks", member, status=200, tags="red,nope")["networks"] == []
    assert net["id"] not in {n["id"] for n in call(neutron, "GET", "/networks", member, status=200,
                                                   **{"not-tags-any": "blue"})["networks"]}
    call(neutron, "DELETE", f"{base}/red", member, status=204)
    call(neutron, "PUT", base, member, {"tags": ["bad,tag"]}, 400)
    other = neutron.account("alt", "member")
    call(neutron, "GET", base, other, status=404)
    call(neutron, "PUT", f"/networks/{neutron.public.id}/tags/x", other, status=403)
    call(neutron, "DELETE", base, member, status=204)
    assert call(neutron, "GET", f"/networks/{net['id']}", member, status=200)["network"]["tags"] == []
    call(neutron, "GET", "/unknown/x/tags", member, status=404)
    pool = call(neutron, "POST", "/subnetpools", member, {"subnetpool": {"name": "p", "prefixes": ["10.60.0.0/16"]}},
                201)["subnetpool"]
    call(neutron, "PUT", f"/subnetpools/{pool['id']}/tags/x", member, status=201)
    assert call(neutron, "GET", f"/subnetpools/{pool['id']}", member, status=200)["subnetpool"]["tags"] == ["x"]


def test_deleting_an_external_network_takes_its_unassociated_floating_ips(neutron):
    net = call(neutron, "POST", "/networks", neutron.admin, {"network": {"name": "ext2", "router:external": True}},
               201)["network"]
    call(neutron, "POST", "/subnets", neutron.admin, {"subnet": {"network_id": net["id"], "cidr": "198.18.44.0/24",
                                                                 "ip_version": 4, "enable_dhcp": False}}, 201)
    fip = call(neutron, "POST", "/floatingips", neutron.admin, {"floatingip": {"floating_network_id": net["id"]}},
               201)["floatingip"]
    call(neutron, "DELETE", f"/networks/{net['id']}", neutron.admin, status=204)
    call(neutron, "GET", f"/floatingips/{fip['id']}", neutron.admin, status=404)


def test_a_remote_prefix_of_the_other_ip_version_conflicts_and_agents_are_none(neutron):
    group = call(neutron, "POST", "/security-groups", neutron.member, {"security_group": {"name": "g"}},
                 201)["security_group"]
    error = call(neutron, "POST", "/security-group-rules", neutron.member, {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv6",
        "remote_ip_prefix": "10.0.0.0/8"}}, 400)
    assert "Conflicting value ethertype IPv6" in error_of(error)["message"]
    assert call(neutron, "GET", "/agents", neutron.member, status=200) == {"agents": []}
