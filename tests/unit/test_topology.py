"""Unit tests for the reference cloud's topology file: parsing, refusals, address plan."""

from __future__ import annotations

import dataclasses
import textwrap
from ipaddress import IPv4Interface, IPv4Network, IPv6Interface, IPv6Network

import pytest

from octoprobe.config_yaml import ConfigError
from octoprobe.reference_impl.topology import (
    DEFAULT_OSD_SIZE,
    MIN_OSD_SIZE,
    CephSettings,
    Host,
    OsdSlot,
    Rack,
    Topology,
    Underlay,
    default_topology_path,
    load_topology,
    parse_topology,
)

GiB = 1024**3

# Three racks with one storage host each: the smallest valid topology for the
# default pool size of 3. Optional blocks are left out on purpose.
BASE = """\
racks:
  - name: r1
    hosts:
      - name: r1-s1
        roles: [storage]
        osds: {count: 1, size: 8GiB}
      - name: r1-c1
        roles: [compute]
  - name: r2
    hosts:
      - name: r2-s1
        roles: [storage]
        osds: {count: 1, size: 8GiB}
  - name: r3
    hosts:
      - name: r3-s1
        roles: [storage, compute]
        osds: {count: 1, size: 8GiB}
"""


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line_of(text: str, needle: str, occurrence: int = 1, *, whole: bool = False) -> int:
    """1-based line of the n-th line containing ``needle`` (or, if ``whole``, being it, stripped)."""
    hits = [
        n
        for n, line in enumerate(text.splitlines(), start=1)
        if (line.strip() == needle.strip() if whole else needle in line)
    ]
    assert len(hits) >= occurrence, f"{needle!r} not found {occurrence} times"
    return hits[occurrence - 1]


def edit(old: str, new: str, text: str = BASE, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


def refused(tmp_path, text: str, *, line: int | None, key: str | None, match: str) -> ConfigError:
    """Load ``text`` from a file and check the refusal names file, line, key and reason."""
    path = tmp_path / "topo.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_topology(path)
    err = info.value
    assert err.path == str(path), str(err)
    assert err.line == line, str(err)
    assert err.key == key, str(err)
    assert match in err.message, str(err)
    rendered = str(err)
    assert rendered.startswith(f"{path}:{line}: " if line is not None else f"{path}: ")
    if key is not None:
        assert f": {key}: " in rendered
    return err


# ---------------------------------------------------------------- valid files


def test_shipped_default_topology():
    path = default_topology_path()
    assert path.is_file()
    topo = load_topology(path)
    assert topo.path == str(path)
    assert [r.name for r in topo.racks] == ["r1", "r2", "r3", "r4"]
    assert topo.control == Host("ctl", None, frozenset({"control"}), 0, 0, 0)
    rack_hosts = [h for r in topo.racks for h in r.hosts]
    assert len(rack_hosts) == 12
    assert len(topo.hosts()) == 13
    assert [h.name for h in topo.rack("r3").hosts] == ["r3-s1", "r3-s2", "r3-c1"]
    assert [h.name for h in topo.storage_hosts()] == [f"r{n}-s{i}" for n in range(1, 5) for i in (1, 2)]
    assert [h.name for h in topo.compute_hosts()] == [f"r{n}-c1" for n in range(1, 5)]
    assert topo.osd_count() == 8
    assert all(h.osd_size_bytes == 8 * GiB and h.osd_count == 1 for h in topo.storage_hosts())
    assert topo.underlay == Underlay(IPv4Network("198.18.0.0/24"), IPv6Network("fd6f:6374:6f00::/64"), 1500)
    assert topo.ceph == CephSettings(pool_size=3, pool_min_size=2, pg_num=32, down_out_interval=10)

    machine = topo.machine_address()
    assert machine == (IPv4Interface("198.18.0.1/24"), IPv6Interface("fd6f:6374:6f00::1/64"))
    addresses = [topo.address_of(h.name) for h in topo.hosts()]
    assert addresses[0] == (IPv4Interface("198.18.0.2/24"), IPv6Interface("fd6f:6374:6f00::2/64"))
    all_v4 = [a[0] for a in addresses] + [machine[0]]
    all_v6 = [a[1] for a in addresses] + [machine[1]]
    assert len(set(all_v4)) == len(all_v4) == 14
    assert len(set(all_v6)) == len(all_v6) == 14
    assert all(a.network == topo.underlay.ipv4 and a.ip in topo.underlay.ipv4.hosts() for a in all_v4)
    assert all(a.network == topo.underlay.ipv6 and a.ip != a.network.network_address for a in all_v6)

    layout = topo.osd_layout()
    assert [slot.osd for slot in layout] == list(range(8))
    assert layout[0] == OsdSlot(0, "r1-s1", "r1")
    assert layout[7] == (7, "r4-s2", "r4")


def test_defaults_apply_when_optional_blocks_are_absent():
    topo = parse_topology(BASE)
    assert topo.path == "<string>"
    assert topo.underlay == Underlay()
    assert topo.underlay.ipv4 == IPv4Network("198.18.0.0/24")
    assert topo.underlay.ipv6 == IPv6Network("fd6f:6374:6f00::/64")
    assert topo.underlay.mtu == 1500
    assert topo.ceph == CephSettings(3, 2, 32, 10)
    assert topo.control.name == "ctl" and topo.control.rack is None and topo.control.is_control
    both = topo.host("r3-s1")
    assert both.is_storage and both.is_compute and both.roles == frozenset({"storage", "compute"})
    assert [h.name for h in topo.compute_hosts()] == ["r1-c1", "r3-s1"]
    assert topo.host("r1-c1").osd_count == 0 and topo.host("r1-c1").osd_size_bytes == 0


def test_empty_optional_blocks_mean_defaults():
    text = "underlay:\nceph:\ncontrol:\n" + BASE
    topo = parse_topology(text)
    assert topo.underlay == Underlay() and topo.ceph == CephSettings() and topo.control.name == "ctl"


def test_partial_optional_blocks():
    text = doc("""
        underlay: {mtu: 9000, ipv6: "fd00:1::/64"}
        ceph: {pg_num: 8, down_out_interval: 0}
        control: {name: boss}
        """) + BASE
    topo = parse_topology(text, path="custom.yaml")
    assert topo.path == "custom.yaml"
    assert topo.underlay == Underlay(IPv4Network("198.18.0.0/24"), IPv6Network("fd00:1::/64"), 9000)
    assert topo.ceph == CephSettings(3, 2, 8, 0)
    assert topo.control.name == "boss"
    assert topo.address_of("boss")[1] == IPv6Interface("fd00:1::2/64")


def test_osds_defaults_and_multiple_osds():
    text = edit("osds: {count: 1, size: 8GiB}", "osds: {count: 3, size: 4294967296}")
    text = edit("osds: {count: 1, size: 8GiB}", "osds: {}", text)
    text = edit("osds: {count: 1, size: 8GiB}", "osds:", text)
    topo = parse_topology(text)
    assert (topo.host("r1-s1").osd_count, topo.host("r1-s1").osd_size_bytes) == (3, 4 * GiB)
    assert (topo.host("r2-s1").osd_count, topo.host("r2-s1").osd_size_bytes) == (1, DEFAULT_OSD_SIZE)
    assert (topo.host("r3-s1").osd_count, topo.host("r3-s1").osd_size_bytes) == (1, DEFAULT_OSD_SIZE)
    assert topo.osd_count() == 5
    assert topo.osd_layout() == [
        OsdSlot(0, "r1-s1", "r1"),
        OsdSlot(1, "r1-s1", "r1"),
        OsdSlot(2, "r1-s1", "r1"),
        OsdSlot(3, "r2-s1", "r2"),
        OsdSlot(4, "r3-s1", "r3"),
    ]


def test_minimum_osd_size_is_accepted():
    topo = parse_topology(edit("size: 8GiB", "size: 2G"))
    assert topo.host("r1-s1").osd_size_bytes == MIN_OSD_SIZE == 2 * GiB


def test_pool_min_size_default_follows_pool_size():
    one_rack = doc("""
        ceph: {pool_size: 1}
        racks:
          - name: solo
            hosts:
              - {name: box, roles: [storage, compute], osds: {size: 4GiB}}
        """)
    topo = parse_topology(one_rack)
    assert (topo.ceph.pool_size, topo.ceph.pool_min_size) == (1, 1)
    assert topo.osd_layout() == [OsdSlot(0, "box", "solo")]
    two = parse_topology(edit("racks:", "ceph: {pool_size: 2}\nracks:"))
    assert (two.ceph.pool_size, two.ceph.pool_min_size) == (2, 1)


def test_racks_without_storage_are_allowed_beyond_pool_size():
    text = BASE + "  - name: r4\n    hosts:\n      - {name: r4-c1, roles: [compute]}\n"
    topo = parse_topology(text)
    assert topo.rack("r4").hosts[0].is_compute


def test_subnet_exactly_large_enough_is_accepted():
    # default: control + 12 rack hosts + the machine = 14 = the hosts of a /28
    text = default_topology_path().read_text().replace("198.18.0.0/24", "198.18.0.0/28")
    topo = parse_topology(text)
    assert topo.address_of("r4-c1")[0] == IPv4Interface("198.18.0.14/28")


def test_address_plan_is_deterministic():
    a, b = parse_topology(BASE), parse_topology(BASE)
    assert a == b
    plan = {h.name: a.address_of(h.name) for h in a.hosts()}
    assert plan == {h.name: b.address_of(h.name) for h in b.hosts()}
    assert [str(v4.ip) for v4, _ in plan.values()] == [
        "198.18.0.2",  # ctl
        "198.18.0.3",  # r1-s1
        "198.18.0.4",  # r1-c1
        "198.18.0.5",  # r2-s1
        "198.18.0.6",  # r3-s1
    ]
    assert str(plan["r3-s1"][1]) == "fd6f:6374:6f00::6/64"
    assert [h.index for h in a.hosts()] == list(range(5))


def test_address_plan_follows_the_configured_subnets():
    text = doc("""
        underlay:
          ipv4: 10.9.8.0/25
          ipv6: 2001:db8:5::/120
        """) + BASE
    topo = parse_topology(text)
    assert topo.machine_address() == (IPv4Interface("10.9.8.1/25"), IPv6Interface("2001:db8:5::1/120"))
    assert topo.address_of("r1-s1") == (IPv4Interface("10.9.8.3/25"), IPv6Interface("2001:db8:5::3/120"))


def test_lookups_of_unknown_names_raise_key_error():
    topo = parse_topology(BASE)
    with pytest.raises(KeyError, match="nope"):
        topo.host("nope")
    with pytest.raises(KeyError, match="nope"):
        topo.rack("nope")
    with pytest.raises(KeyError):
        topo.address_of("nope")


def test_model_is_frozen_and_guards_hand_built_topologies():
    topo = parse_topology(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        topo.racks = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        topo.control.name = "x"  # type: ignore[misc]
    bad = Rack("r9", (Host("h", "r9", frozenset({"compute"}), index=5),))
    with pytest.raises(ValueError, match="index"):
        Topology("x", Underlay(), CephSettings(), topo.control, (bad,))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_topology(tmp_path / "absent.yaml")
    assert info.value.path == str(tmp_path / "absent.yaml")


# ---------------------------------------------------------------- refusals: structure


def test_unknown_top_level_key(tmp_path):
    text = "colour: blue\n" + BASE
    err = refused(tmp_path, text, line=1, key="colour", match="unknown key 'colour'")
    assert "allowed keys: ceph, control, external, racks, underlay" in err.message


@pytest.mark.parametrize(
    "old, new, needle, key",
    [
        ("osds: {count: 1, size: 8GiB}", "osds: {count: 1, sise: 8GiB}", "sise", "racks[0].hosts[0].osds.sise"),
        ("roles: [compute]", "roles: [compute]\n        cores: 4", "cores", "racks[0].hosts[1].cores"),
        ("  - name: r2\n", "  - name: r2\n    row: 7\n", "row", "racks[1].row"),
        ("racks:", "underlay: {ipv4: 198.18.0.0/24, mtU: 1500}\nracks:", "mtU", "underlay.mtU"),
        ("racks:", "ceph:\n  replicas: 3\nracks:", "replicas", "ceph.replicas"),
        ("racks:", "control:\n  name: ctl\n  roles: [storage]\nracks:", "roles: [storage]", "control.roles"),
    ],
)
def test_unknown_nested_keys(tmp_path, old, new, needle, key):
    text = edit(old, new)
    refused(tmp_path, text, line=line_of(text, needle), key=key, match="unknown key")


def test_unknown_key_suggests_the_right_one(tmp_path):
    text = edit("racks:", "ceph:\n  pool_sise: 3\nracks:")
    err = refused(tmp_path, text, line=2, key="ceph.pool_sise", match="did you mean 'pool_size'")
    assert "allowed keys: down_out_interval, pg_num, pool_min_size, pool_size" in err.message


def test_missing_racks(tmp_path):
    refused(tmp_path, "ceph: {pool_size: 3}\n", line=1, key="racks", match="missing required key 'racks'")


@pytest.mark.parametrize(
    "old, new, needle, key",
    [
        ("  - name: r2\n    hosts:", "  - hosts:", "- hosts:", "racks[1].name"),
        ("  - name: r2\n    hosts:\n      - name: r2-s1\n        roles: [storage]\n        osds: {count: 1, size: 8GiB}\n",
         "  - name: r2\n", "- name: r2", "racks[1].hosts"),
        ("      - name: r2-s1\n        roles", "      - roles", "- roles: [storage]", "racks[1].hosts[0].name"),
        ("      - name: r1-c1\n        roles: [compute]\n", "      - name: r1-c1\n", "- name: r1-c1", "racks[0].hosts[1].roles"),
    ],
)
def test_missing_required_keys(tmp_path, old, new, needle, key):
    text = edit(old, new)
    name = key.rsplit(".", 1)[1]
    refused(tmp_path, text, line=line_of(text, needle), key=key, match=f"missing required key '{name}'")


def test_duplicate_key_in_a_mapping(tmp_path):
    text = edit("        roles: [compute]\n", "        roles: [compute]\n        roles: [storage]\n")
    refused(
        tmp_path, text, line=line_of(text, "roles: [storage]", 2), key="racks[0].hosts[1].roles", match="duplicate key 'roles'"
    )


def test_duplicate_top_level_block(tmp_path):
    text = "ceph: {pg_num: 8}\n" + BASE + "ceph: {pg_num: 16}\n"
    refused(tmp_path, text, line=line_of(text, "pg_num: 16"), key="ceph", match="duplicate key 'ceph' (first given on line 1)")


def test_duplicate_host_name_across_racks(tmp_path):
    text = edit("- name: r2-s1", "- name: r1-c1")
    err = refused(
        tmp_path, text, line=line_of(text, "- name: r1-c1", 2), key="racks[1].hosts[0].name", match="duplicate host name 'r1-c1'"
    )
    assert f"line {line_of(text, '- name: r1-c1')}" in err.message


def test_duplicate_host_name_within_a_rack(tmp_path):
    text = edit("- name: r1-c1", "- name: r1-s1")
    refused(tmp_path, text, line=line_of(text, "- name: r1-s1", 2), key="racks[0].hosts[1].name", match="duplicate host name")


def test_duplicate_host_name_with_control_written_first(tmp_path):
    text = "control: {name: r2-s1}\n" + BASE
    refused(tmp_path, text, line=line_of(text, "- name: r2-s1"), key="racks[1].hosts[0].name", match="duplicate host name 'r2-s1'")


def test_duplicate_host_name_with_control_written_last(tmp_path):
    # the second occurrence in the file is the one reported
    text = BASE + "control:\n  name: r2-s1\n"
    refused(tmp_path, text, line=line_of(text, "  name: r2-s1"), key="control.name", match="duplicate host name 'r2-s1'")


def test_duplicate_rack_name(tmp_path):
    text = edit("- name: r3\n", "- name: r1\n")
    refused(tmp_path, text, line=line_of(text, "- name: r1", 2, whole=True), key="racks[2].name", match="duplicate rack name 'r1'")


def test_rack_and_host_names_must_differ(tmp_path):
    text = edit("- name: r2-s1", "- name: r2")
    refused(tmp_path, text, line=line_of(text, "- name: r2", 2), key="racks[1].hosts[0].name", match="already used by a rack")


def test_rack_without_hosts(tmp_path):
    text = edit("  - name: r2\n    hosts:\n      - name: r2-s1\n        roles: [storage]\n        osds: {count: 1, size: 8GiB}\n",
                "  - name: r2\n    hosts: []\n")
    refused(tmp_path, text, line=line_of(text, "hosts: []"), key="racks[1].hosts", match="at least one host")


def test_no_racks(tmp_path):
    refused(tmp_path, "racks: []\n", line=1, key="racks", match="at least one rack")


# ---------------------------------------------------------------- refusals: roles and OSDs


@pytest.mark.parametrize(
    "roles, index, match",
    [
        ("[storage, network]", 1, "unknown role 'network'; allowed roles: compute, storage"),
        ("[control]", 0, "top-level 'control' block"),
        ("[storage, storage]", 1, "role 'storage' is listed twice"),
    ],
)
def test_bad_roles(tmp_path, roles, index, match):
    text = edit("roles: [storage, compute]", f"roles: {roles}")
    refused(tmp_path, text, line=line_of(text, f"roles: {roles}"), key=f"racks[2].hosts[0].roles[{index}]", match=match)


def test_empty_roles(tmp_path):
    text = edit("roles: [compute]", "roles: []")
    refused(tmp_path, text, line=line_of(text, "roles: []"), key="racks[0].hosts[1].roles", match="at least one role")


def test_storage_host_without_osds(tmp_path):
    text = edit("        roles: [storage]\n        osds: {count: 1, size: 8GiB}\n", "        roles: [storage]\n")
    refused(tmp_path, text, line=line_of(text, "- name: r1-s1"), key="racks[0].hosts[0].osds", match="storage host needs an 'osds' block")


def test_osds_on_a_compute_host(tmp_path):
    text = edit("        roles: [compute]\n", "        roles: [compute]\n        osds:  # not here\n          count: 1\n")
    refused(tmp_path, text, line=line_of(text, "# not here"), key="racks[0].hosts[1].osds", match="only storage hosts have OSDs")


@pytest.mark.parametrize(
    "size, match",
    [
        ("1GiB", "OSD size 1GiB is below the minimum of 2GiB"),
        ("2047MiB", "OSD size 2047MiB is below the minimum of 2GiB"),
        ("1000", "OSD size 1000B is below the minimum"),
        ("eight", "invalid size 'eight'"),
        ("1.5GiB", "invalid size '1.5GiB'"),
        ("8XB", "invalid size '8XB'"),
        ("8.5", "expected a size"),
        ("[8GiB]", "expected a size"),
        ("true", "expected a size"),
    ],
)
def test_bad_osd_size(tmp_path, size, match):
    text = edit("osds: {count: 1, size: 8GiB}", f"osds:\n          count: 1\n          size: {size}", count=2)
    refused(tmp_path, text, line=line_of(text, f"size: {size}"), key="racks[0].hosts[0].osds.size", match=match)


@pytest.mark.parametrize("count, match", [("0", "must be at least 1, got 0"), ("-2", "at least 1"), ("two", "expected an integer, got a string ('two')")])
def test_bad_osd_count(tmp_path, count, match):
    text = edit("osds: {count: 1, size: 8GiB}\n  - name: r3", f"osds: {{count: {count}, size: 8GiB}}\n  - name: r3")
    refused(tmp_path, text, line=line_of(text, f"count: {count}"), key="racks[1].hosts[0].osds.count", match=match)


def test_too_few_storage_racks_for_pool_size(tmp_path):
    text = edit("roles: [storage, compute]\n        osds: {count: 1, size: 8GiB}\n", "roles: [compute]\n")
    err = refused(tmp_path, text, line=line_of(text, "racks:"), key="racks", match="2 racks with storage hosts")
    assert "pool_size is 3" in err.message and "failure domain is the rack" in err.message


def test_pool_size_larger_than_storage_racks(tmp_path):
    text = "ceph: {pool_size: 4, pool_min_size: 2}\n" + BASE
    refused(tmp_path, text, line=line_of(text, "racks:"), key="racks", match="ceph.pool_size is 4")


# ---------------------------------------------------------------- refusals: ceph settings


@pytest.mark.parametrize(
    "ceph, key, match",
    [
        ("pool_size: 3\n  pool_min_size: 4", "ceph.pool_min_size", "must not exceed pool_size"),
        ("pool_min_size: 0", "ceph.pool_min_size", "at least 1"),
        ("pool_size: 0", "ceph.pool_size", "at least 1"),
        ("pg_num: 48", "ceph.pg_num", "power of two"),
        ("pg_num: 0", "ceph.pg_num", "at least 1"),
        ("pg_num: -32", "ceph.pg_num", "at least 1"),
        ("down_out_interval: -1", "ceph.down_out_interval", "at least 0"),
        ("down_out_interval: 10s", "ceph.down_out_interval", "expected an integer"),
        ("pool_size: three", "ceph.pool_size", "expected an integer"),
    ],
)
def test_bad_ceph_settings(tmp_path, ceph, key, match):
    text = f"ceph:\n  {ceph}\n" + BASE
    needle = key.split(".")[1] + ":"
    refused(tmp_path, text, line=line_of(text, needle), key=key, match=match)


def test_ceph_block_must_be_a_mapping(tmp_path):
    text = "ceph: [3]\n" + BASE
    refused(tmp_path, text, line=1, key="ceph", match="expected a mapping, got a list")


# ---------------------------------------------------------------- refusals: names


@pytest.mark.parametrize("name", ["R1", "1r", "r_1", "rack.one", "-r", "abcdefghijklmnop", "r 1", "ü"])
def test_bad_rack_names(tmp_path, name):
    text = edit("- name: r2\n", f"- name: '{name}'\n")
    refused(tmp_path, text, line=line_of(text, f"- name: '{name}'"), key="racks[1].name", match="invalid name")


@pytest.mark.parametrize("name", ["c", "abcdefghijklmno", "r-9-x"])
def test_names_of_one_to_fifteen_characters_are_fine(name):
    assert parse_topology(f"control: {{name: {name}}}\n" + BASE).control.name == name


def test_bad_host_name(tmp_path):
    text = edit("- name: r1-c1", "- name: r1_c1")
    refused(tmp_path, text, line=line_of(text, "r1_c1"), key="racks[0].hosts[1].name", match="invalid name 'r1_c1'")


def test_name_must_be_a_string(tmp_path):
    text = edit("- name: r1-c1", "- name: 42")
    refused(tmp_path, text, line=line_of(text, "name: 42"), key="racks[0].hosts[1].name", match="expected a string, got an integer")


# ---------------------------------------------------------------- refusals: underlay


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("ipv4", "198.18.0.1/24", "has host bits set"),
        ("ipv4", "300.1.1.0/24", "invalid network"),
        ("ipv4", "198.18.0.0/33", "invalid network"),
        ("ipv4", "198.18.0.0", "CIDR form"),
        ("ipv4", "'fd00::/64'", "expected an IPv4 network"),
        ("ipv6", "10.0.0.0/24", "expected an IPv6 network"),
        ("ipv6", "'fd00::1/64'", "has host bits set"),
        ("ipv6", "'fd00::zz/64'", "invalid network"),
        ("ipv4", "24", "expected a string"),
    ],
)
def test_bad_networks(tmp_path, field, value, match):
    text = f"underlay:\n  mtu: 1500\n  {field}: {value}\n" + BASE
    refused(tmp_path, text, line=3, key=f"underlay.{field}", match=match)


@pytest.mark.parametrize(
    "field, value",
    [("ipv4", "198.18.0.0/30"), ("ipv4", "198.18.0.0/32"), ("ipv6", "'fd00::/126'")],
)
def test_subnet_too_small(tmp_path, field, value):
    text = f"underlay:\n  {field}: {value}\n" + BASE
    err = refused(tmp_path, text, line=2, key=f"underlay.{field}", match="the topology needs 6")
    assert "the machine itself" in err.message and "5 hosts" in err.message


def test_subnet_one_address_short(tmp_path):
    text = default_topology_path().read_text().replace("198.18.0.0/24", "198.18.0.0/29")
    refused(tmp_path, text, line=line_of(text, "198.18.0.0/29"), key="underlay.ipv4", match="room for 6 host addresses")


def test_default_subnet_too_small_points_at_racks(tmp_path):
    hosts = "".join(f"      - {{name: h{i}, roles: [compute]}}\n" for i in range(254))
    text = BASE + f"  - name: big\n    hosts:\n{hosts}"
    err = refused(tmp_path, text, line=1, key="racks", match="the underlay subnet 198.18.0.0/24 has room for 254")
    assert "needs 260" in err.message and "set underlay.ipv4 to a larger subnet" in err.message


@pytest.mark.parametrize("mtu, match", [("1279", "between 1280 and 9000, got 1279"), ("9001", "got 9001"), ("'1500'", "expected an integer")])
def test_bad_mtu(tmp_path, mtu, match):
    text = f"underlay:\n  mtu: {mtu}\n" + BASE
    refused(tmp_path, text, line=2, key="underlay.mtu", match=match)


def test_underlay_extremes_accepted():
    for mtu in (1280, 9000):
        assert parse_topology(f"underlay: {{mtu: {mtu}}}\n" + BASE).underlay.mtu == mtu


# ---------------------------------------------------------------- refusals: file level and types


def test_yaml_syntax_error(tmp_path):
    text = edit("roles: [compute]", "roles: [compute")
    err = refused(tmp_path, text, line=line_of(text, "- name: r2"), key=None, match="invalid YAML")
    assert err.line is not None


def test_yaml_syntax_error_bad_indentation(tmp_path):
    text = edit("        roles: [compute]", "       roles: [compute]")
    refused(tmp_path, text, line=line_of(text, "       roles: [compute]"), key=None, match="invalid YAML")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here\n"])
def test_empty_file(tmp_path, text):
    refused(tmp_path, text, line=1, key=None, match="the file is empty")


@pytest.mark.parametrize("text, got", [("- racks\n", "a list"), ("racks\n", "a string"), ("42\n", "an integer")])
def test_top_level_not_a_mapping(tmp_path, text, got):
    refused(tmp_path, text, line=1, key=None, match=f"expected a mapping, got {got}")


@pytest.mark.parametrize(
    "old, new, needle, key, match",
    [
        ("roles: [compute]", "roles: compute", "roles: compute", "racks[0].hosts[1].roles", "expected a list, got a string"),
        ("roles: [compute]", "roles: [[compute]]", "roles: [[compute]]", "racks[0].hosts[1].roles[0]", "expected a string, got a list"),
        ("  - name: r3\n", "  - name: r0\n    hosts: {name: r0-s1}\n  - name: r3\n", "hosts: {", "racks[2].hosts", "expected a list, got a mapping"),
        ("osds: {count: 1, size: 8GiB}", "osds: 1", "osds: 1", "racks[0].hosts[0].osds", "expected a mapping, got an integer"),
        ("  - name: r3\n", "  - r3\n  - name: r3x\n", "- r3", "racks[2]", "expected a mapping, got a string"),
    ],
)
def test_wrong_types(tmp_path, old, new, needle, key, match):
    text = edit(old, new)
    refused(tmp_path, text, line=line_of(text, needle), key=key, match=match)


def test_racks_must_be_a_list(tmp_path):
    refused(tmp_path, "racks:\n  r1: {}\n", line=2, key="racks", match="expected a list, got a mapping")


# -- the external network ---------------------------------------------------------


def test_external_network_defaults_follow_the_underlay():
    from octoprobe.reference_impl.topology import Underlay, default_external
    import ipaddress
    ext4, ext6 = default_external(Underlay(ipaddress.IPv4Network("198.18.20.0/24"),
                                           ipaddress.IPv6Network("fd6f:6374:6f20::/64")))
    assert str(ext4) == "198.19.20.0/24" and str(ext6) == "fd6f:6374:6f20:1::/64"
    ext4, _ = default_external(Underlay(ipaddress.IPv4Network("10.1.2.0/24"), ipaddress.IPv6Network("fd00::/64")))
    assert str(ext4) == "10.1.3.0/24"


def test_external_network_can_be_set_and_is_checked(tmp_path):
    from octoprobe.config_yaml import ConfigError
    from octoprobe.reference_impl.topology import default_topology_path, load_topology
    base = default_topology_path().read_text()
    good = tmp_path / "good.yaml"
    good.write_text(base + "\nexternal:\n  ipv4: 203.0.113.0/24\n  ipv6: 'fd00:1::/64'\n")
    assert str(load_topology(good).external.ipv4) == "203.0.113.0/24"
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + "\nexternal:\n  ipv4: 198.18.0.0/25\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+.*overlaps the underlay"):
        load_topology(bad)
    bad.write_text(base + "\nexternal:\n  ipv6: 'fd00:1::/56'\n")
    with pytest.raises(ConfigError, match="must be a /64"):
        load_topology(bad)
