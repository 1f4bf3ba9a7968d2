"""Lab inventories: racks → nodes, with roles, SSH access, BMCs and switch ports.

The perf and chaos suites act on a lab's machines (run fio on a storage node,
power a node off through its BMC, take a switch port down), so they need to
know them. A lab inventory is a YAML file (see
``octoprobe/examples/inventory.example.yaml``), loaded with
:mod:`octoprobe.config_yaml` so every error names the file, the line and the
key (``lab.yaml:31: racks[1].nodes[0].bmc.type: ...``).

The optional top-level ``ceph`` block (:class:`CephAccess`) says where the
chaos suite runs ``ceph`` and ``rados`` (``admin_node``, default the first
monitor node; ``conf``) and how OSD daemons are controlled (``osd_control:
systemd | cephadm | commands``, with ``commands`` templates). An OSD may be
given with its block device (``{id: 0, device: sdb}``), a rack with its
``uplinks`` (switch ports towards the spine).

Secrets are never written in the file: a BMC or switch password is a
reference, ``{env: VARIABLE}`` or ``{file: PATH}`` (relative to the
inventory's directory), read only when used (:meth:`SecretRef.resolve`). A
plain string where a password belongs is refused.
"""

from __future__ import annotations

import difflib
import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from octoprobe.config_yaml import (
    MAPPING,
    SCALAR,
    ConfigError,
    Node,
    as_bool,
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
    "OsdTemplates",
    "CephAccess",
    "OSD_CONTROLS",
    "LabNode",
    "Rack",
    "Inventory",
    "load_inventory",
]

#: Roles a lab node can have.
ROLES = ("control", "compute", "storage", "monitor", "network")
BMC_TYPES = ("ipmi", "redfish")
#: How the OSD daemons of a lab node are killed and started (the ``ceph`` block).
OSD_CONTROLS = ("systemd", "cephadm", "commands")
#: Switch dialects the chaos suite's switch-port driver speaks.
SWITCH_TYPES = ("linux", "cumulus", "cumulus-nvue", "sonic")
#: Fields an OSD command template may use: the OSD id, its device, the cluster's fsid.
TEMPLATE_FIELDS = ("id", "dev", "fsid")


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
    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts


@dataclass(frozen=True)
class Bmc:
    address: str
    type: str  # ipmi | redfish
    username: str | SecretRef
    password: SecretRef
    verify_tls: bool = True  # Redfish: check the BMC's certificate (false only for self-signed lab BMCs)


@dataclass(frozen=True)
class Switch:
    name: str
    address: str
    type: str | None = None
    username: str | SecretRef | None = None
    password: SecretRef | None = None
    port: int = 22  # SSH
    key_file: Path | None = None
    known_hosts: Path | None = None


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
    osd_devices: tuple[tuple[int, str], ...] = ()  # (OSD id, block device name) where given

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def devices(self) -> dict[int, str]:
        """OSD id -> its block device (``sdb``), for the OSDs given with one."""
        return dict(self.osd_devices)


@dataclass(frozen=True)
class Rack:
    name: str
    nodes: tuple[LabNode, ...]
    uplinks: tuple[SwitchPort, ...] = ()  # the rack's ports towards the spine, if given


@dataclass(frozen=True)
class OsdTemplates:
    """Shell commands for ``osd_control: commands``; ``{id}``, ``{dev}``, ``{fsid}`` are filled in."""

    kill: str
    start: str
    running: str  # exit 0 while the OSD runs
    disk_offline: str | None = None
    disk_online: str | None = None
    disk_check: str | None = None  # exit 0 while the disk is offline


@dataclass(frozen=True)
class CephAccess:
    """How octoprobe reaches the cluster of a lab: where the ``ceph`` and
    ``rados`` CLIs run (over SSH) and how OSD daemons are controlled."""

    admin_node: str
    conf: str = "/etc/ceph/ceph.conf"
    osd_control: str = "systemd"
    commands: OsdTemplates | None = None
    fsid: str | None = None  # cephadm units; read from the cluster when not given
    client: str = "client.admin"
    keyring: str | None = None


@dataclass(frozen=True)
class Inventory:
    path: str
    name: str | None
    racks: tuple[Rack, ...]
    switches: tuple[Switch, ...] = ()
    ceph: CephAccess | None = None
    #: blast radius: the most failure domains (racks) a chaos fault may touch at once; None: no limit given
    max_failure_domains: int | None = None

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
        top = check_keys(root, allowed=("name", "ssh", "bmc", "switches", "ceph", "chaos"), required=("racks",))
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
        ceph = self.ceph(get_mapping(root, "ceph"), inventory)
        limit = None
        chaos = get_mapping(root, "chaos")
        if chaos is not None:
            check_keys(chaos, allowed=("max_failure_domains",))
            limit = get_int(chaos, "max_failure_domains", None, min=1)
        return Inventory(inventory.path, name, inventory.racks, inventory.switches, ceph, limit)

    def ceph(self, node: Node | None, inventory: Inventory) -> CephAccess | None:
        monitors = [n.name for n in inventory.nodes if n.has_role("monitor")]
        if node is None:
            return CephAccess(admin_node=monitors[0]) if monitors else None
        fields = check_keys(node, allowed=("admin_node", "conf", "osd_control", "commands", "fsid", "client",
                                           "keyring"))
        if "admin_node" in fields:
            admin = as_str(fields["admin_node"])
            names = [n.name for n in inventory.nodes]
            if admin not in names:
                close = difflib.get_close_matches(admin, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise fields["admin_node"].error(f"no node {admin!r} in the inventory{hint}")
        elif monitors:
            admin = monitors[0]
        else:
            raise ConfigError("missing required key 'admin_node' (no node has the role 'monitor' to default to)",
                              path=node.path, line=node.line, key=node.child_key("admin_node"))
        control = get_str(node, "osd_control", "systemd")
        if control not in OSD_CONTROLS:
            raise fields["osd_control"].error(f"unknown osd_control {control!r}; one of: {', '.join(OSD_CONTROLS)}")
        commands = None
        if control == "commands":
            commands_node = get_mapping(node, "commands", required=True)
            commands = self.osd_templates(commands_node)
        elif "commands" in fields:
            raise fields["commands"].error("commands are used only with 'osd_control: commands'", at_key=True)
        conf = get_str(node, "conf", "/etc/ceph/ceph.conf")
        if not conf:
            raise fields["conf"].error("must not be empty")
        return CephAccess(admin_node=admin, conf=conf, osd_control=control, commands=commands,
                          fsid=get_str(node, "fsid", None), client=get_str(node, "client", "client.admin"),
                          keyring=get_str(node, "keyring", None))

    def osd_templates(self, node: Node) -> OsdTemplates:
        fields = check_keys(node, allowed=("disk_offline", "disk_online", "disk_check"),
                            required=("kill", "start", "running"))
        values = {}
        for key, child in fields.items():
            text = as_str(child)
            if not text.strip():
                raise child.error("must not be empty")
            try:
                used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                raise child.error(f"not a command template: {exc} (write a literal brace as {{{{ or }}}})") from None
            unknown = sorted(used - set(TEMPLATE_FIELDS))
            if unknown:
                raise child.error(f"unknown field {{{unknown[0]}}}; templates may use "
                                  + ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS))
            values[key] = text
        disk = [k for k in ("disk_offline", "disk_online") if k in values]
        if len(disk) == 1:
            raise node.error("give both disk_offline and disk_online, or neither")
        if "disk_check" in values and not disk:
            raise fields["disk_check"].error("disk_check needs disk_offline and disk_online", at_key=True)
        return OsdTemplates(**values)

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
            uplink_nodes = get_list(rack_node, "uplinks", [])
            ports.extend((f"{p.switch} {p.port}", n) for p, n in zip(rack.uplinks, uplink_nodes, strict=True))
        self.unique(names, "node name")
        self.unique(osds, "OSD id")
        self.unique(ports, "switch port")

    def ssh_fields(self, node: Node | None, defaults: dict, need_host: bool) -> dict:
        fields = dict(defaults)
        if node is not None:
            allowed = ("user", "port", "key_file", "known_hosts")
            check_keys(node, allowed=("host", *allowed) if need_host else allowed)
            if "host" in node.value:
                fields["host"] = get_str(node, "host")
            if "user" in node.value:
                fields["user"] = get_str(node, "user")
            if "port" in node.value:
                fields["port"] = get_int(node, "port", min=1, max=65535)
            if "key_file" in node.value:
                fields["key_file"] = self._path(node.value["key_file"])
            if "known_hosts" in node.value:
                fields["known_hosts"] = self._path(node.value["known_hosts"])
        return fields

    def bmc_defaults(self, node: Node | None) -> dict[str, Node]:
        if node is None:
            return {}
        return dict(check_keys(node, allowed=("type", "username", "password", "verify_tls")))

    def switch(self, node: Node) -> Switch:
        fields = check_keys(node, allowed=("type", "username", "password", "port", "key_file", "known_hosts"),
                            required=("name", "address"))
        switch_type = get_str(node, "type", None)
        if switch_type is not None and switch_type not in SWITCH_TYPES:
            raise fields["type"].error(f"unknown switch type {switch_type!r}; types: {', '.join(SWITCH_TYPES)}")
        return Switch(
            name=get_str(node, "name"),
            address=get_str(node, "address"),
            type=switch_type,
            username=self.user(fields["username"]) if "username" in fields else None,
            password=self.secret(fields["password"]) if "password" in fields else None,
            port=get_int(node, "port", 22, min=1, max=65535),
            key_file=self._path(fields["key_file"]) if "key_file" in fields else None,
            known_hosts=self._path(fields["known_hosts"]) if "known_hosts" in fields else None,
        )

    def rack(self, node: Node, ssh_defaults: dict, bmc_defaults: dict[str, Node], switches: set[str]) -> Rack:
        check_keys(node, allowed=("uplinks",), required=("name", "nodes"))
        name = get_str(node, "name")
        if not name:
            raise node.value["name"].error("must not be empty")
        nodes = [
            self.node(item, name, ssh_defaults, bmc_defaults, switches) for item in get_list(node, "nodes", min_items=1)
        ]
        uplinks = tuple(self.switch_port(item, switches, interface=False) for item in get_list(node, "uplinks", []))
        return Rack(name, tuple(nodes), uplinks)

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
        osd_items = [self.osd(item) for item in get_list(node, "osds", [])]
        osds = tuple(i for i, _ in osd_items)
        devices = tuple((i, dev) for i, dev in osd_items if dev is not None)
        if osds and "storage" not in roles:
            raise fields["osds"].error("only a node with the role 'storage' has OSDs", at_key=True)
        ports = tuple(self.switch_port(item, switches) for item in get_list(node, "switch_ports", []))
        bmc_node = get_mapping(node, "bmc")
        bmc = self.bmc(bmc_node, bmc_defaults) if bmc_node is not None else None
        return LabNode(
            name=name,
            rack=rack,
            roles=tuple(roles),
            ssh=SshAccess(ssh["host"], ssh["user"], ssh.get("port", 22), ssh.get("key_file"), ssh.get("known_hosts")),
            bmc=bmc,
            osds=osds,
            switch_ports=ports,
            osd_devices=devices,
        )

    def osd(self, node: Node) -> tuple[int, str | None]:
        """An OSD: its id, or ``{id: N, device: sdb}`` (the device for taking its disk offline through sysfs)."""
        if node.kind != MAPPING:
            return as_int(node, min=0), None
        check_keys(node, allowed=("device",), required=("id",))
        device = get_str(node, "device", None)
        if device is not None:
            device = device.removeprefix("/dev/")
            if not device or "/" in device or not device.replace("-", "").replace("_", "").isalnum():
                raise node.value["device"].error(f"not a block device name: {device!r} (e.g. sdb or nvme0n1)")
        return get_int(node, "id", min=0), device

    def bmc(self, node: Node, defaults: dict[str, Node]) -> Bmc:
        fields = check_keys(node, allowed=("type", "username", "password", "verify_tls"), required=("address",))
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
            verify_tls=as_bool(merged["verify_tls"]) if "verify_tls" in merged else True,
        )

    def switch_port(self, node: Node, switches: set[str], *, interface: bool = True) -> SwitchPort:
        check_keys(node, allowed=("interface",) if interface else (), required=("switch", "port"))
        switch = get_str(node, "switch")
        if switch not in switches:
            known = ", ".join(sorted(switches)) or "none are defined"
            raise node.value["switch"].error(f"unknown switch {switch!r}; switches: {known}")
        port = node.value["port"]
        port_name = str(port.value) if port.kind == SCALAR and isinstance(port.value, int) else as_str(port)
        return SwitchPort(switch, port_name, get_str(node, "interface", None))
