"""networks-security-groups-CRUD: security groups (create with their
default egress rules, list, show, update, delete; the project's default
group and its rules) and rules (TCP/UDP/ICMP, port ranges, ICMP type and
code, protocol numbers, remote groups and prefixes, IPv6); and what Neutron
refuses: a second default group, a duplicate rule (409), bad ethertypes,
protocols, prefixes and ports (400), unknown groups and rules (404),
deleting a group a port uses (409)."""

from __future__ import annotations

import uuid

import pytest

from .neutron import check_error

SG = "networks-security-groups-CRUD"


@pytest.fixture(scope="module")
def group(neutron, module_resources):
    """A security group of the module (tests add rules and delete them)."""
    return neutron.create(module_resources, "security_group")


def _rule(neutron, resources, group_id, **attrs):
    body = {"security_group_id": group_id, "direction": "ingress", "ethertype": "IPv4", **attrs}
    return neutron.create(resources, "security_group_rule", **body)


def _same(rule, given):
    for key, value in given.items():
        assert rule[key] == value, f"a rule created with {key}={value!r} has {rule[key]!r}: {rule}"


@pytest.mark.capability(SG, "bfd128e5-3c92-44b6-9d66-7fe29d22c802")
def test_create_list_update_show_delete_security_group(neutron, resources):
    """A security group: created (201, with egress rules for IPv4 and IPv6 to
    anywhere), listed, renamed with a new description (200), shown so,
    deleted (204, then 404)."""
    created = neutron.create(resources, "security_group")
    egress = {(r["direction"], r["ethertype"], r["protocol"], r["remote_ip_prefix"])
              for r in created["security_group_rules"]}
    assert egress == {("egress", "IPv4", None, None), ("egress", "IPv6", None, None)}, (
        f"a new group's rules are {sorted(egress, key=str)}")
    assert created["id"] in {g["id"] for g in neutron.list("security_group")}
    name, description = neutron.run.name("security-group"), neutron.run.description("renamed")
    updated = neutron.update("security_group", created["id"], name=name, description=description)
    shown = neutron.show("security_group", created["id"])
    assert (updated["name"], updated["description"]) == (shown["name"], shown["description"]) == (name, description)
    neutron.delete("security_group", created["id"])


@pytest.mark.capability(SG, "e30abd17-fef9-4739-8617-dc26da88e686")
def test_list_security_groups(neutron):
    """GET /security-groups lists the project's default group."""
    groups = neutron.list("security_group", project_id=neutron.project_id)
    assert "default" in {g["name"] for g in groups}, f"the project's groups: {[g['name'] for g in groups]}"


@pytest.mark.capability(SG, "2bf1ebe5-3a08-4568-9f4d-7585aac13e13")
def test_default_security_group_rules(neutron):
    """The project's default group: egress to anywhere and ingress from the
    group itself, for IPv4 and IPv6 (Neutron's defaults)."""
    default = neutron.list("security_group", project_id=neutron.project_id, name="default")
    assert len(default) == 1, f"the project has {len(default)} groups named default"
    rules = {(r["direction"], r["ethertype"], r["protocol"], r["remote_group_id"], r["remote_ip_prefix"],
              r["port_range_min"]) for r in default[0]["security_group_rules"]}
    group_id = default[0]["id"]
    for ethertype in ("IPv4", "IPv6"):
        assert ("egress", ethertype, None, None, None, None) in rules, f"no {ethertype} egress rule: {rules}"
        assert ("ingress", ethertype, None, group_id, None, None) in rules, (
            f"no {ethertype} ingress rule from the group itself: {rules}")


@pytest.mark.parametrize("protocol", ["tcp", "udp", "icmp"])
@pytest.mark.capability(SG, "cfb99e0e-7410-4a3d-8a0c-959a63ee77e9")
def test_create_show_delete_security_group_rule(neutron, resources, group, protocol):
    """A rule per protocol: created (201), shown, listed among the group's rules, deleted (204, then 404)."""
    rule = _rule(neutron, resources, group["id"], protocol=protocol)
    _same(rule, {"protocol": protocol, "direction": "ingress", "ethertype": "IPv4", "security_group_id": group["id"]})
    assert neutron.show("security_group_rule", rule["id"]) == rule
    in_group = {r["id"] for r in neutron.show("security_group", group["id"])["security_group_rules"]}
    assert rule["id"] in in_group, "the group does not list its new rule"
    listed = [r["id"] for r in neutron.list("security_group_rule", security_group_id=group["id"], protocol=protocol)]
    assert listed == [rule["id"]], f"?security_group_id&protocol={protocol} lists {listed}"
    neutron.delete("security_group_rule", rule["id"])


@pytest.mark.capability(SG, "87dfbcf9-1849-43ea-b1e4-efa3eeae9f71")
def test_create_security_group_rule_with_additional_args(neutron, resources, group):
    """An egress TCP rule for a port range: created with that range and direction."""
    given = {"direction": "egress", "protocol": "tcp", "port_range_min": 77, "port_range_max": 177}
    _same(_rule(neutron, resources, group["id"], **given), given)


@pytest.mark.parametrize("icmp", [(3, 1), (8, 0), (0, None)], ids=["3-1", "8-0", "0-any"])
@pytest.mark.capability(SG, "c9463db8-b44d-4f52-b6c0-8dbda99f26ce")
def test_create_security_group_rule_with_icmp_type_code(neutron, resources, group, icmp):
    """ICMP rules carry their type in port_range_min and code in port_range_max."""
    given = {"protocol": "icmp", "port_range_min": icmp[0], "port_range_max": icmp[1]}
    _same(_rule(neutron, resources, group["id"], **given), given)


@pytest.mark.capability(SG, "0a307599-6655-4220-bebc-fd70c64f2290")
def test_create_security_group_rule_with_protocol_integer_value(neutron, resources, group):
    """A protocol given as its number ("17", UDP) is kept."""
    rule = _rule(neutron, resources, group["id"], protocol="17")
    assert rule["protocol"] in ("17", "udp"), f"protocol 17 is stored as {rule['protocol']!r}"


@pytest.mark.capability(SG, "c2ed2deb-7a0c-44d8-8b4c-a5825b5c310b")
def test_create_security_group_rule_with_remote_group_id(neutron, resources, group):
    """A rule allowing another group of the project: remote_group_id kept, no prefix."""
    other = neutron.create(resources, "security_group")
    rule = _rule(neutron, resources, group["id"], protocol="udp", remote_group_id=other["id"])
    _same(rule, {"remote_group_id": other["id"], "remote_ip_prefix": None})


@pytest.mark.capability(SG, "16459776-5da2-4634-bce4-4b55ee3ec188")
def test_create_security_group_rule_with_remote_ip_prefix(neutron, resources, group):
    """A rule from a prefix: remote_ip_prefix kept, no remote group."""
    rule = _rule(neutron, resources, group["id"], protocol="tcp", remote_ip_prefix="192.0.2.0/24")
    _same(rule, {"remote_ip_prefix": "192.0.2.0/24", "remote_group_id": None})


@pytest.mark.parametrize("given", [
    {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "2001:db8::/64"},
    {"protocol": "udp", "port_range_min": 546, "port_range_max": 547},
    {"protocol": "ipv6-icmp", "port_range_min": 128, "port_range_max": 0},
    {"direction": "egress", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443,
     "remote_ip_prefix": "2001:db8:1::/48"},
], ids=["tcp-prefix", "udp", "icmpv6-echo", "egress-https"])
@pytest.mark.capability(SG, "fedd9c85-137a-4899-92c0-f704efa3bb2f")
def test_create_ipv6_security_group_rules(neutron, resources, group, given):
    """IPv6 rules (ethertype IPv6): TCP from a prefix, UDP ports, ICMPv6
    echo requests, egress HTTPS to a prefix; each kept as given."""
    rule = _rule(neutron, resources, group["id"], ethertype="IPv6", **given)
    expected = dict(given, ethertype="IPv6")
    if expected.get("protocol") == "ipv6-icmp":  # the same protocol under its other names
        assert rule["protocol"] in ("ipv6-icmp", "icmpv6", "58"), rule
        del expected["protocol"]
    _same(rule, expected)


# ---- negative


@pytest.mark.capability(SG, "2323061e-9fbf-4eb0-b547-7e8fafc90849")
def test_create_additional_default_security_group_fails(neutron, resources, schemas):
    """A second group named "default": 409 with Neutron's error body."""
    resp = neutron.post(resources, "security_group", {"name": "default"})
    check_error(schemas, resp, 409)


@pytest.mark.capability(SG, "8fde898f-ce88-493b-adc9-4e4692879fc5")
def test_create_duplicate_security_group_rule_fails(neutron, resources, group, schemas):
    """The same rule twice: 409 SecurityGroupRuleExists."""
    given = {"protocol": "tcp", "port_range_min": 4242, "port_range_max": 4242}
    _rule(neutron, resources, group["id"], **given)
    resp = neutron.post(resources, "security_group_rule", {"security_group_id": group["id"], "direction": "ingress",
                                                           "ethertype": "IPv4", **given})
    check_error(schemas, resp, 409, types={"SecurityGroupRuleExists"})


@pytest.mark.parametrize("existing, spelled", [
    pytest.param({"direction": "ingress", "protocol": "udp", "port_range_min": 53, "port_range_max": 53},
                 {"protocol": "17"}, id="protocol-number"),
    pytest.param(None, {"direction": "egress", "remote_ip_prefix": "0.0.0.0/0"}, id="any-prefix"),
])
@pytest.mark.capability(SG, "c3b7ab68-b3ad-428e-9f0f-727dcf29646a")
def test_equivalent_duplicate_rule_fails(neutron, resources, schemas, existing, spelled):
    """A rule equal to one the group has but for the spelling — UDP as
    protocol 17, "any" as 0.0.0.0/0 next to the default egress rule (no
    prefix) — is a duplicate too: 409 SecurityGroupRuleExists."""
    group = neutron.create(resources, "security_group")
    body = {"security_group_id": group["id"], "ethertype": "IPv4", "direction": "egress"}
    if existing is not None:
        body.update(existing)
        _rule(neutron, resources, group["id"], **existing)
    body.update(spelled)
    check_error(schemas, neutron.post(resources, "security_group_rule", body), 409, types={"SecurityGroupRuleExists"})


BAD_RULES = [
    ("5666968c-fff3-40d6-9efc-df1c8bd01abb", "bad-ethertype", {"ethertype": "IPv5", "protocol": "tcp"}),
    ("981bdc22-ce48-41ed-900a-73148b583958", "bad-protocol", {"protocol": "octoprobe-protocol"}),
    ("5f8daf69-3c5f-4aaa-88c9-db1d66f68679", "bad-remote-ip-prefix",
     {"protocol": "tcp", "remote_ip_prefix": "192.0.2.0/33"}),
    ("0d9c7791-f2ad-4e2f-ac73-abf2373b0d2d", "invalid-ports",
     {"protocol": "tcp", "port_range_min": 200, "port_range_max": 100}),
]


@pytest.mark.parametrize("attrs", [
    pytest.param(attrs, id=name, marks=pytest.mark.capability(SG, test_id)) for test_id, name, attrs in BAD_RULES
])
def test_create_bad_security_group_rule_is_400(neutron, resources, group, schemas, attrs):
    """A rule with a bad ethertype, protocol, prefix or port range: 400 with
    Neutron's error body; the group's rules are unchanged."""
    before = {r["id"] for r in neutron.show("security_group", group["id"])["security_group_rules"]}
    body = {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", **attrs}
    check_error(schemas, neutron.post(resources, "security_group_rule", body), 400)
    after = {r["id"] for r in neutron.show("security_group", group["id"])["security_group_rules"]}
    assert after == before, f"a refused rule changed the group's rules: {sorted(after ^ before)}"


@pytest.mark.capability(SG, "af78b755-597d-4b77-baa4-0507db648daa")
def test_ipv6_prefix_with_ipv4_ethertype_is_400(neutron, resources, group, schemas):
    """An IPv6 remote prefix in an IPv4 rule: 400."""
    body = {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "remote_ip_prefix": "2001:db8::/64"}
    check_error(schemas, neutron.post(resources, "security_group_rule", body), 400)


@pytest.mark.capability(SG, "4bf786fd-2f02-443c-9716-5b98e159a49a")
def test_create_security_group_rule_with_non_existent_remote_groupid(neutron, resources, group, schemas):
    body = {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "remote_group_id": str(uuid.uuid4())}
    check_error(schemas, neutron.post(resources, "security_group_rule", body), 404, types={"SecurityGroupNotFound"})


@pytest.mark.capability(SG, "be308db6-a7cf-4d5c-9baf-71bafd73f35e")
def test_create_security_group_rule_with_non_existent_security_group(neutron, resources, schemas):
    body = {"security_group_id": str(uuid.uuid4()), "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp"}
    check_error(schemas, neutron.post(resources, "security_group_rule", body), 404, types={"SecurityGroupNotFound"})


@pytest.mark.capability(SG, "1f1bb89d-5664-4956-9fcd-83ee0fa603df")
def test_delete_non_existent_security_group(neutron, schemas):
    check_error(schemas, neutron.request("DELETE", f"/security-groups/{uuid.uuid4()}"), 404,
                types={"SecurityGroupNotFound"})


@pytest.mark.capability(SG, "424fd5c3-9ddc-486a-b45f-39bf0c820fc6")
def test_show_non_existent_security_group(neutron, schemas):
    check_error(schemas, neutron.request("GET", f"/security-groups/{uuid.uuid4()}"), 404,
                types={"SecurityGroupNotFound"})


@pytest.mark.capability(SG, "4c094c09-000b-4e41-8100-9617600c02a6")
def test_show_non_existent_security_group_rule(neutron, schemas):
    check_error(schemas, neutron.request("GET", f"/security-group-rules/{uuid.uuid4()}"), 404,
                types={"SecurityGroupRuleNotFound"})


@pytest.mark.capability(SG, "01560e92-6f77-45bf-a49c-114e42783124")
def test_delete_security_group_in_use_is_409(neutron, resources, schemas):
    """A group a port uses: deleting it is 409 SecurityGroupInUse; it remains."""
    used = neutron.create(resources, "security_group")
    net = neutron.create(resources, "network")
    neutron.create(resources, "port", network_id=net["id"], security_groups=[used["id"]])
    check_error(schemas, neutron.request("DELETE", f"/security-groups/{used['id']}"), 409,
                types={"SecurityGroupInUse"})
    assert neutron.show("security_group", used["id"])["id"] == used["id"]


@pytest.mark.needs_alt
@pytest.mark.capability(SG, "7b1d4116-e711-4534-8e12-c4147c75b48a")
def test_another_tenants_security_group_is_hidden(neutron, alt_neutron, group, schemas):
    """Another project's user: the group is 404 to show and delete, absent
    from its list, and it cannot add a rule to it (404)."""
    check_error(schemas, alt_neutron.request("GET", f"/security-groups/{group['id']}"), 404)
    check_error(schemas, alt_neutron.request("DELETE", f"/security-groups/{group['id']}"), 404)
    assert group["id"] not in {g["id"] for g in alt_neutron.list("security_group")}
    body = {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp"}
    resp = alt_neutron.request("POST", "/security-group-rules", json={"security_group_rule": body})
    check_error(schemas, resp, 404)
