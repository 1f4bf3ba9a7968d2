"""Neutron through the `openstack` CLI, unchanged (a failed command raises
the fixture's CliError, an AssertionError): networks, subnets
(IPv4 DHCP and IPv6 SLAAC), routers with a gateway, interfaces and extra
routes (seen in the router's namespace), security groups, tags, and one
project's resources hidden from another."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from apilab import PREFIX


def static_routes(router_id: str) -> set[str]:
    """The extra routes the network library programmed in the router's namespace."""
    found = set()
    for family in ("-4", "-6"):
        out = subprocess.run(["ip", "-n", f"{PREFIX}-qrouter-{router_id}", family, "route", "show", "proto",
                              "static"], capture_output=True, text=True, timeout=30, check=True).stdout
        found |= {" ".join(line.split()[:3]) for line in out.splitlines() if line.strip()}
    return found


@pytest.fixture
def names():
    suffix = uuid.uuid4().hex[:6]
    return {k: f"nt-{k}-{suffix}" for k in ("net", "v4", "v6", "router", "sg")}


def test_network_router_and_extra_routes_with_the_cli(api_cloud, names):
    os_ = api_cloud.openstack
    net = os_("network", "create", names["net"], "--tag", "octoprobe-nt")
    try:
        assert net["status"] == "ACTIVE" and net["mtu"] == 1450
        v4 = os_("subnet", "create", "--network", names["net"], "--subnet-range", "10.61.0.0/24", names["v4"])
        v6 = os_("subnet", "create", "--network", names["net"], "--ip-version", "6", "--ipv6-ra-mode", "slaac",
                 "--ipv6-address-mode", "slaac", "--subnet-range", "fd6f:6374:6f80:1e0::/64", names["v6"])
        assert v4["gateway_ip"] == "10.61.0.1" and v6["ipv6_address_mode"] == "slaac"
        router = os_("router", "create", names["router"])
        os_("router", "set", "--external-gateway", "public", names["router"], json_out=False)
        for subnet in (names["v4"], names["v6"]):
            os_("router", "add", "subnet", names["router"], subnet, json_out=False)
        shown = os_("router", "show", names["router"])
        assert shown["external_gateway_info"]["external_fixed_ips"]
        assert {i["subnet_id"] for i in shown["interfaces_info"]} == {v4["id"], v6["id"]}
        os_("router", "set", "--route", "destination=10.62.0.0/24,gateway=10.61.0.9", names["router"],
            json_out=False)
        assert static_routes(router["id"]) == {"10.62.0.0/24 via 10.61.0.9"}
        with pytest.raises(AssertionError, match="409"):  # the route goes through that interface
            os_("router", "remove", "subnet", names["router"], names["v4"], json_out=False)
        os_("router", "set", "--no-route", names["router"], json_out=False)
        assert static_routes(router["id"]) == set()
        tagged = os_("network", "list", "--tags", "octoprobe-nt")
        assert [n["Name"] for n in tagged] == [names["net"]]
        for subnet in (names["v4"], names["v6"]):
            os_("router", "remove", "subnet", names["router"], subnet, json_out=False)
        os_("router", "delete", names["router"], json_out=False)
    finally:
        os_("router", "delete", names["router"], json_out=False, check=False)
        os_("network", "delete", names["net"], json_out=False, check=False)
    assert names["net"] not in {n["Name"] for n in os_("network", "list")}


def test_security_groups_and_isolation_between_projects(api_cloud, names):
    os_ = api_cloud.openstack
    group = os_("security", "group", "create", names["sg"])
    try:
        rule = os_("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", names["sg"])
        assert (rule["port_range_min"], rule["port_range_max"], rule["direction"]) == (22, 22, "ingress")
        with pytest.raises(AssertionError, match="409"):
            os_("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", names["sg"])
        assert "default" in {g["Name"] for g in os_("security", "group", "list")}
        hidden = os_("security", "group", "show", group["id"], cloud="octoprobe-alt", check=False)
        assert hidden.returncode != 0 and "No SecurityGroup found" in hidden.stderr + hidden.stdout  # a 404
        assert group["id"] in {g["ID"] for g in os_("security", "group", "list", cloud="octoprobe-admin")}
    finally:
        os_("security", "group", "delete", names["sg"], json_out=False, check=False)
