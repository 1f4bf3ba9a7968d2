"""octoprobe.inventory: lab inventories, errors naming file, line and key, secrets by reference."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from octoprobe.config_yaml import ConfigError
from octoprobe.inventory import SecretRef, load_inventory

EXAMPLE = Path(__file__).parents[2] / "octoprobe" / "examples" / "inventory.example.yaml"

MINIMAL = """\
ssh:
  user: root
racks:
  - name: r1
    nodes:
      - name: n1
        roles: [storage]
        ssh: {host: 10.0.0.1}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def fails(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert info.value.path == str(path)
    return info.value


def test_the_shipped_example_loads():
    inv = load_inventory(EXAMPLE)
    assert inv.name == "lab-a"
    assert [r.name for r in inv.racks] == ["r1", "r2"]
    assert [n.name for n in inv.with_role("storage")] == ["stor-r1-1", "stor-r2-1"]
    assert inv.node_of_osd(4).name == "stor-r2-1"
    comp = inv.node("comp-r1-1")
    assert comp.rack == "r1"
    assert (
        comp.ssh.user == "ops"
        and comp.ssh.port == 22
        and comp.ssh.key_file == Path("~/.ssh/octoprobe_lab").expanduser()
    )
    assert comp.bmc.type == "ipmi" and comp.bmc.username == "octoprobe"  # type overridden, username inherited
    assert comp.bmc.password.env == "OCTOPROBE_IPMI_PASSWORD"
    assert inv.node("stor-r1-1").bmc.type == "redfish"
    assert inv.node("comp-r2-1").bmc is None
    assert inv.node("ctl-1").switch_ports[0].port == "Ethernet0"
    tor = inv.switch("tor-r1")
    assert tor.password.file == EXAMPLE.parent / "secrets" / "tor-r1.password"
    with pytest.raises(KeyError):
        inv.node("nope")
    with pytest.raises(ValueError):
        inv.with_role("db")


def test_secrets_resolve_from_env_and_file(tmp_path):
    (tmp_path / "bmc.pw").write_text("from-file\n")
    inv = load_inventory(
        write(
            tmp_path,
            MINIMAL.replace(
                "ssh: {host: 10.0.0.1}",
                "ssh: {host: 10.0.0.1}\n        bmc: {address: 10.1.0.1, type: ipmi, username: {env: BMC_USER}, "
                "password: {file: bmc.pw}}",
            ),
        )
    )
    bmc = inv.node("n1").bmc
    assert bmc.password.resolve({}) == "from-file"
    assert bmc.username.resolve({"BMC_USER": "ops"}) == "ops"
    assert str(bmc.username) == "env:BMC_USER"
    with pytest.raises(
        ConfigError, match=r"lab.yaml:\d+: racks\[0\].nodes\[0\].bmc.username: environment variable BMC_USER is not set"
    ):
        bmc.username.resolve({})
    missing = SecretRef(env=None, file=tmp_path / "gone", source="x")
    with pytest.raises(ConfigError, match="cannot read"):
        missing.resolve()


def test_minimal_inventory_uses_defaults(tmp_path):
    node = load_inventory(write(tmp_path, MINIMAL)).node("n1")
    assert (node.ssh.host, node.ssh.user, node.ssh.port, node.ssh.key_file) == ("10.0.0.1", "root", 22, None)
    assert node.roles == ("storage",) and node.osds == () and node.bmc is None


@pytest.mark.parametrize(
    "change, line, key, words",
    [
        (
            ("roles: [storage]", "roles: [storgae]"),
            7,
            "racks[0].nodes[0].roles[0]",
            "unknown role 'storgae' (did you mean 'storage'?)",
        ),
        (("roles: [storage]", "roles: []"), 7, "racks[0].nodes[0].roles", "at least 1 item"),
        (
            ("ssh: {host: 10.0.0.1}", "ssh: {host: 10.0.0.1, prot: 2}"),
            8,
            "racks[0].nodes[0].ssh.prot",
            "unknown key 'prot' (did you mean 'port'?)",
        ),
        (
            ("ssh: {host: 10.0.0.1}", "ssh: {host: 10.0.0.1, port: 70000}"),
            8,
            "racks[0].nodes[0].ssh.port",
            "between 1 and 65535",
        ),
        (("ssh: {host: 10.0.0.1}", "ssh: {user: x}"), 8, "racks[0].nodes[0].ssh.host", "missing required key 'host'"),
        (("  user: root\n", "  port: 22\n"), 8, "racks[0].nodes[0].ssh.user", "missing required key 'user'"),
        (
            (
                "ssh: {host: 10.0.0.1}",
                "ssh: {host: 10.0.0.1}\n        bmc: {address: a, type: ipmi, username: u, password: hunter2}",
            ),
            9,
            "racks[0].nodes[0].bmc.password",
            "secrets are not written in the inventory",
        ),
        (
            (
                "ssh: {host: 10.0.0.1}",
                "ssh: {host: 10.0.0.1}\n        bmc: {address: a, type: idrac, username: u, password: {env: P}}",
            ),
            9,
            "racks[0].nodes[0].bmc.type",
            "unknown BMC type 'idrac'; types: ipmi, redfish",
        ),
        (
            (
                "ssh: {host: 10.0.0.1}",
                "ssh: {host: 10.0.0.1}\n        bmc: {address: a, username: u, password: {env: P}}",
            ),
            9,
            "racks[0].nodes[0].bmc.type",
            "missing required key 'type'",
        ),
        (
            (
                "ssh: {host: 10.0.0.1}",
                "ssh: {host: 10.0.0.1}\n        bmc: {address: a, type: ipmi, username: u, password: {env: P, file: f}}",
            ),
            9,
            "racks[0].nodes[0].bmc.password",
            "exactly one of 'env'",
        ),
        (
            (
                "ssh: {host: 10.0.0.1}",
                "ssh: {host: 10.0.0.1}\n        bmc: {address: a, type: ipmi, username: u, password: {env: 1BAD}}",
            ),
            9,
            "racks[0].nodes[0].bmc.password.env",
            "not an environment variable name",
        ),
        (
            ("ssh: {host: 10.0.0.1}", "ssh: {host: 10.0.0.1}\n        switch_ports: [{switch: tor9, port: Ethernet1}]"),
            9,
            "racks[0].nodes[0].switch_ports[0].switch",
            "unknown switch 'tor9'",
        ),
        (
            ("roles: [storage]", "roles: [compute]\n        osds: [1]"),
            8,
            "racks[0].nodes[0].osds",
            "only a node with the role 'storage'",
        ),
        (("racks:\n", "rack:\n"), 3, "rack", "unknown key 'rack' (did you mean 'racks'?)"),
        (("racks:\n", "chaos: {max_failure_domains: 0}\nracks:\n"), 3, "chaos.max_failure_domains",
         "at least 1"),
        (("racks:\n", "chaos: {max_domains: 1}\nracks:\n"), 3, "chaos.max_domains", "unknown key"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, change, line, key, words):
    err = fails(tmp_path, MINIMAL.replace(*change))
    assert (err.line, err.key) == (line, key), str(err)
    assert words in err.message


def test_blast_radius_comes_from_the_option_else_the_inventory_and_never_exceeds_it(tmp_path):
    from octoprobe.chaos.scenario import DEFAULT_MAX_DOMAINS, blast_radius

    assert load_inventory(write(tmp_path, MINIMAL)).max_failure_domains is None
    inv = load_inventory(write(tmp_path, "chaos:\n  max_failure_domains: 1\n" + MINIMAL))
    assert inv.max_failure_domains == 1
    assert blast_radius(None, None) == DEFAULT_MAX_DOMAINS
    assert blast_radius(None, 1) == 1 and blast_radius(1, 3) == 1 and blast_radius(3, None) == 3
    with pytest.raises(ValueError, match=r"allows at most 1 \(chaos.max_failure_domains\)"):
        blast_radius(2, 1, inv.path)


def test_duplicates_are_refused(tmp_path):
    text = MINIMAL + "      - name: n1\n        roles: [compute]\n        ssh: {host: 10.0.0.2}\n"
    err = fails(tmp_path, text)
    assert (err.line, err.key) == (9, "racks[0].nodes[1].name")
    assert "duplicate node name 'n1' (first on line 6)" in err.message
    osds = MINIMAL.replace("roles: [storage]", "roles: [storage]\n        osds: [1, 2, 1]")
    assert "duplicate OSD id '1'" in fails(tmp_path, osds).message
    racks = MINIMAL + "  - name: r1\n    nodes:\n      - name: n2\n        roles: [compute]\n        ssh: {host: h}\n"
    assert fails(tmp_path, racks).key == "racks[1].name"


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_inventory(tmp_path / "none.yaml")
    assert "invalid YAML" in fails(tmp_path, "racks: [\n").message
