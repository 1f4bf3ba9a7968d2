"""Lab inventories: racks → nodes, with roles, SSH access, BMCs and switch ports.

The perf and chaos suites act on a lab's machines (run fio on a storage node,
power a node off through its BMC, take a switch port down), so they need to
know them. A lab inventory is a YAML file (see
``octoprobe/examples/inventory.example.yaml``), loaded with
:mod:`octoprobe.config_yaml` so every error names the file, the line and the
key (``lab.yaml:31: racks[1].nodes[0].bmc.type: ...``).

Secrets are never written in the file: a BMC or switch password is a
reference, ``{env: VARIABLE}`` or ``{file: PATH}`` (relative to the
inventory's directory), read only when used (:meth:`SecretRef.resolve`). A
plain string where a password belongs is refused.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from octoprobe.config_yaml import (
    MAPPING,
    SCALAR,
    ConfigError,
    Node,
    as_int,
    as_list,
    as_str,
    check_keys,
    get_int,
    get_list,
    get_mapping,
    get_str,
    load_file,
)

__all__ = [
    "ROLES",
    "BMC_TYPES",
    "SecretRef",
    "SshAccess",
    "Bmc",
    "Switch",
    "SwitchPort",
    "LabNode",
    "Rack",
    "Inventory",
    "load_inventory",
]

#: Roles a lab node can have.
ROLES = ("control", "compute", "storage", "monitor", "network")
BMC_TYPES = ("ipmi", "redfish")


@dataclass(frozen=True)
class SecretRef:
    """Where a secret is: an environment variable or a file. Never the secret."""

    env: str | None
    file: Path | None
    source: str  # "inventory.yaml:12: racks[0].nodes[1].bmc.password", for messages

    def resolve(self, env: Mapping[str, str] | None = None) -> str:
        """The secret; ConfigError naming the key and the variable or file if unavailable."""
        env = os.environ if env is None else env
        if self.env is not None:
            value = env.get(self.env)
            if not value:
                raise ConfigError(f"{self.source}: environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"{self.source}: cannot read {self.file}: {reason}") from None

    def __str__(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"


@dataclass(frozen=True)
class SshAccess:
    host: str
    user: str
    port: int = 22
    key_file: Path | None = None  # None: the SSH agent / default keys


@dataclass(frozen=True)
class Bmc:
    address: str
    type: str  # ipmi | redfish
    username: str | SecretRef
    password: SecretRef


@dataclass(frozen=True)
class Switch:
    name: str
    address: str
    type: str | None = None
    username: str | SecretRef | None = None
    password: SecretRef | None = None


@dataclass(frozen=True)
class SwitchPort:
    switch: str
    port: str
    interface: str | None = None  # the node's interface on this port


@dataclass(frozen=True)
class LabNode:
    name: str
    rack: str
    roles: tuple[str, ...]
    ssh: SshAccess
    bmc: Bmc | None = None
    osds: tuple[int, ...] = ()
    switch_ports: tuple[SwitchPort, ...] = ()

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Rack:
    name: str
    nodes: tuple[LabNode, ...]


@dataclass(frozen=True)
class Inventory:
    path: str
    name: str | None
    racks: tuple[Rack, ...]
    switches: tuple[Switch, ...] = ()

    @property
    def nodes(self) -> list[LabNode]:
        return [node for rack in self.racks for node in rack.nodes]

    def with_role(self, role: str) -> list[LabNode]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        return [n for n in self.nodes if role in n.roles]

    def node(self, name: str) -> LabNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} in {self.path}")

    def rack(self, name: str) -> Rack:
        for rack in self.racks:
            if rack.name == name:
                return rack
        raise KeyError(f"no rack {name!r} in {self.path}")

    def switch(self, name: str) -> Switch:
        for switch in self.switches:
            if switch.name == name:
                return switch
        raise KeyError(f"no switch {name!r} in {self.path}")

    def node_of_osd(self, osd: int) -> LabNode:
        for node in self.nodes:
            if osd in node.osds:
                return node
        raise KeyError(f"no node holds osd.{osd} in {self.path}")


# ---------------------------------------------------------------- parsing


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Load and check a lab inventory; ConfigError (file:line: key: message) if wrong."""
    root = load_file(path)
    return _Parser(Path(path)).inventory(root)


def _source(node: Node) -> str:
    return f"{node.path}:{node.line}: {node.key}"


class _Parser:
    def __init__(self, path: Path):
        self.base = path.resolve().parent

    def _path(self, node: Node) -> Path:
        text = as_str(node)
        if not text:
            raise node.error("must not be empty")
        p = Path(os.path.expanduser(text))
        return p if p.is_absolute() else self.base / p

    def secret(self, node: Node) -> SecretRef:
        if node.kind == SCALAR:
            raise node.error("secrets are not written in the inventory: give {env: VARIABLE} or {file: PATH}")
        children = check_keys(node, allowed=("env", "file"))
        if len(children) != 1:
            raise node.error("give exactly one of 'env' (a variable name) or 'file' (a path)")
        if "env" in children:
            name = as_str(children["env"])
            if not name.replace("_", "").isalnum() or name[0].isdigit():
                raise children["env"].error(f"not an environment variable name: {name!r}")
            return SecretRef(env=name, file=None, source=_source(node))
        return SecretRef(env=None, file=self._path(children["file"]), source=_source(node))

    def user(self, node: Node) -> str | SecretRef:
        """A user name: plain text, or a secret reference like a password."""
        if node.kind == MAPPING:
            return self.secret(node)
        name = as_str(node)
        if not name:
            raise node.error("must not be empty")
        return name

    def inventory(self, root: Node) -> Inventory:
        top = check_keys(root, allowed=("name", "ssh", "bmc", "switches"), required=("racks",))
        name = get_str(root, "name", None)
        ssh_defaults = self.ssh_fields(get_mapping(root, "ssh"), defaults={}, need_host=False)
        bmc_defaults = self.bmc_defaults(get_mapping(root, "bmc"))
        switch_nodes = get_list(root, "switches", [])
        switches = [self.switch(item) for item in switch_nodes]
        self.unique([(s.name, n.value["name"]) for s, n in zip(switches, switch_nodes, strict=True)], "switch name")
        switch_names = {s.name for s in switches}
        racks = []
        for rack_node in as_list(top["racks"], min_items=1):
            racks.append(self.rack(rack_node, ssh_defaults, bmc_defaults, switch_names))
        inventory = Inventory(str(root.path), name, tuple(racks), tuple(switches))
        self.check_unique(root, inventory)
        return inventory

    def unique(self, items: list[tuple[str, Node]], what: str) -> None:
        seen: dict[str, Node] = {}
        for value, node in items:
            if value in seen:
                raise node.error(f"duplicate {what} {value!r} (first on line {seen[value].line})")
            seen[value] = node

    def check_unique(self, root: Node, inventory: Inventory) -> None:
        rack_nodes = as_list(root.value["racks"])
        self.unique([(r.name, n.value["name"]) for r, n in zip(inventory.racks, rack_nodes, strict=True)], "rack name")
        names, osds, ports = [], [], []
        for rack, rack_node in zip(inventory.racks, rack_nodes, strict=True):
            for node, node_node in zip(rack.nodes, as_list(rack_node.value["nodes"]), strict=True):
                names.append((node.name, node_node.value["name"]))
                osd_nodes = get_list(node_node, "osds", [])
                osds.extend((str(o), n) for o, n in zip(node.osds, osd_nodes, strict=True))
                port_nodes = get_list(node_node, "switch_ports", [])
                ports.extend((f"{p.switch} {p.port}", n) for p, n in zip(node.switch_ports, port_nodes, strict=True))
        self.unique(names, "node name")
        self.unique(osds, "OSD id")
        self.unique(ports, "switch port")

    def ssh_fields(self, node: Node | None, defaults: dict, need_host: bool) -> dict:
        fields = dict(defaults)
        if node is not None:
            allowed = ("user", "port", "key_file")
            check_keys(node, allowed=("host", *allowed) if need_host else allowed)
            if "host" in node.value:
                fields["host"] = get_str(node, "host")
            if "user" in node.value:
                fields["user"] = get_str(node, "user")
            if "port" in node.value:
                fields["port"] = get_int(node, "port", min=1, max=65535)
            if "key_file" in node.value:
                fields["key_file"] = self._path(node.value["key_file"])
        return fields

    def bmc_defaults(self, node: Node | None) -> dict[str, Node]:
        if node is None:
            return {}
        return dict(check_keys(node, allowed=("type", "username", "password")))

    def switch(self, node: Node) -> Switch:
        fields = check_keys(node, allowed=("type", "username", "password"), required=("name", "address"))
        return Switch(
            name=get_str(node, "name"),
            address=get_str(node, "address"),
            type=get_str(node, "type", None),
            username=self.user(fields["username"]) if "username" in fields else None,
            password=self.secret(fields["password"]) if "password" in fields else None,
        )

    def rack(self, node: Node, ssh_defaults: dict, bmc_defaults: dict[str, Node], switches: set[str]) -> Rack:
        check_keys(node, required=("name", "nodes"))
        name = get_str(node, "name")
        if not name:
            raise node.value["name"].error("must not be empty")
        nodes = [
            self.node(item, name, ssh_defaults, bmc_defaults, switches) for item in get_list(node, "nodes", min_items=1)
        ]
        return Rack(name, tuple(nodes))

    def node(
        self, node: Node, rack: str, ssh_defaults: dict, bmc_defaults: dict[str, Node], switches: set[str]
    ) -> LabNode:
        fields = check_keys(node, allowed=("bmc", "osds", "switch_ports"), required=("name", "roles", "ssh"))
        name = get_str(node, "name")
        if not name:
            raise fields["name"].error("must not be empty")
        roles = []
        for item in as_list(fields["roles"], min_items=1):
            role = as_str(item)
            if role not in ROLES:
                close = difflib.get_close_matches(role, ROLES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise item.error(f"unknown role {role!r}{hint}; roles: {', '.join(ROLES)}")
            if role in roles:
                raise item.error(f"role {role!r} given twice")
            roles.append(role)
        ssh_node = get_mapping(node, "ssh", required=True)
        ssh = self.ssh_fields(ssh_node, ssh_defaults, need_host=True)
        for key in ("host", "user"):
            if not ssh.get(key):
                where = "here" if key == "host" else "here or in the top-level ssh block"
                raise ConfigError(
                    f"missing required key {key!r} (give it {where})",
                    path=node.path,
                    line=ssh_node.line,
                    key=ssh_node.child_key(key),
                )
        osds = tuple(as_int(item, min=0) for item in get_list(node, "osds", []))
        if osds and "storage" not in roles:
            raise fields["osds"].error("only a node with the role 'storage' has OSDs", at_key=True)
        ports = tuple(self.switch_port(item, switches) for item in get_list(node, "switch_ports", []))
        bmc_node = get_mapping(node, "bmc")
        bmc = self.bmc(bmc_node, bmc_defaults) if bmc_node is not None else None
        return LabNode(
            name=name,
            rack=rack,
            roles=tuple(roles),
            ssh=SshAccess(ssh["host"], ssh["user"], ssh.get("port", 22), ssh.get("key_file")),
            bmc=bmc,
            osds=osds,
            switch_ports=ports,
        )

    def bmc(self, node: Node, defaults: dict[str, Node]) -> Bmc:
        fields = check_keys(node, allowed=("type", "username", "password"), required=("address",))
        merged = {**defaults, **fields}
        for key in ("type", "username", "password"):
            if key not in merged:
                raise ConfigError(
                    f"missing required key {key!r} (give it here or in the top-level bmc block)",
                    path=node.path,
                    line=node.line,
                    key=node.child_key(key),
                )
        bmc_type = as_str(merged["type"])
        if bmc_type not in BMC_TYPES:
            raise merged["type"].error(f"unknown BMC type {bmc_type!r}; types: {', '.join(BMC_TYPES)}")
        return Bmc(
            address=get_str(node, "address"),
            type=bmc_type,
            username=self.user(merged["username"]),
            password=self.secret(merged["password"]),
        )

    def switch_port(self, node: Node, switches: set[str]) -> SwitchPort:
        check_keys(node, allowed=("interface",), required=("switch", "port"))
        switch = get_str(node, "switch")
        if switch not in switches:
            known = ", ".join(sorted(switches)) or "none are defined"
            raise node.value["switch"].error(f"unknown switch {switch!r}; switches: {known}")
        port = node.value["port"]
        port_name = str(port.value) if port.kind == SCALAR and isinstance(port.value, int) else as_str(port)
        return SwitchPort(switch, port_name, get_str(node, "interface", None))
