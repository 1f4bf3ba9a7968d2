"""Switch ports down and up over SSH: network partitions of a lab.

A :class:`SwitchClient` drives one switch of the inventory's ``switches``
through a :class:`~octoprobe.shell.Runner` (an
:class:`~octoprobe.remote.SshRunner` to the switch), in the dialect of its
``type``:

============  ==========================================  ==========================================
type          port down / up                              admin state read from
============  ==========================================  ==========================================
linux,        ``ip link set dev PORT down|up``            ``ip -j link show dev PORT`` (flag ``UP``)
cumulus       (``sudo -n`` unless the SSH user is root)
cumulus-nvue  ``nv set interface PORT link state down|up``  ``ip -j link show dev PORT``
              then ``nv config apply -y``
sonic         ``sudo config interface shutdown|startup``  ``show interfaces status PORT`` (Admin)
============  ==========================================  ==========================================

:class:`PortsFault` takes a list of ports down (inject) and up (heal); the
lab driver (:mod:`.lab`) builds it for a partition of a node (its ports) or a
rack (its uplinks, or every port of its nodes). The switch must be reached
out of band: a port the fault takes down must not carry octoprobe's own SSH
session to the switch.

Parsers (:func:`parse_ip_link_admin`, :func:`parse_sonic_status`) are pure
and tested with recorded outputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from octoprobe.shell import CommandError, Runner

from .base import ComponentState, Fault, FaultError, FaultPlan, FaultSpec, FaultStatus

__all__ = [
    "DIALECTS",
    "SwitchClient",
    "PortRef",
    "PortsFault",
    "parse_ip_link_admin",
    "parse_sonic_status",
]

COMMAND_TIMEOUT = 60.0
DIALECTS = ("linux", "cumulus", "cumulus-nvue", "sonic")


# ---------------------------------------------------------------- parsers


def parse_ip_link_admin(text: str, port: str) -> bool:
    """Whether ``port`` is administratively up, from ``ip -j link show dev PORT``."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise FaultError(f"`ip -j link show dev {port}` printed no JSON: {text.strip()[:200]!r}") from exc
    for entry in doc if isinstance(doc, list) else []:
        if isinstance(entry, dict) and entry.get("ifname") == port:
            return "UP" in (entry.get("flags") or [])
    raise FaultError(f"no port {port!r} in `ip -j link show` output")


def parse_sonic_status(text: str) -> dict[str, dict[str, str]]:
    """``show interfaces status``: interface -> column -> value. Columns are
    cut along the dashed rule under the header (values may hold spaces)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i > 0 and re.fullmatch(r"[\s-]*-[\s-]*", line):
            spans = [m.span() for m in re.finditer(r"-+", line)]
            header = lines[i - 1]
            break
    else:
        raise FaultError(f"unexpected `show interfaces status` output (no header rule): {text.strip()[:200]!r}")

    starts = [0] + [start for start, _ in spans[1:]]

    def cells(row: str) -> list[str]:
        return [row[a:b].strip() for a, b in zip(starts, [*starts[1:], max(len(row), starts[-1])])]

    names = cells(header)
    table = {}
    for row in lines[i + 1:]:
        if not row.strip():
            continue
        values = dict(zip(names, cells(row)))
        name = values.get("Interface", "")
        if name:
            table[name] = values
    return table


def _sonic_admin(text: str, port: str) -> bool:
    row = parse_sonic_status(text).get(port)
    if row is None or "Admin" not in row:
        raise FaultError(f"no port {port!r} (with an Admin column) in `show interfaces status`")
    return row["Admin"].lower() == "up"


# ---------------------------------------------------------------- dialects


def _argvs(dialect: str, port: str, up: bool, sudo: list[str]) -> list[list[str]]:
    if dialect in ("linux", "cumulus"):
        return [[*sudo, "ip", "link", "set", "dev", port, "up" if up else "down"]]
    if dialect == "cumulus-nvue":
        return [["nv", "set", "interface", port, "link", "state", "up" if up else "down"],
                ["nv", "config", "apply", "-y"]]
    if dialect == "sonic":
        return [["sudo", "config", "interface", "startup" if up else "shutdown", port]]
    raise FaultError(f"unknown switch type {dialect!r}; types: {', '.join(DIALECTS)}")


class SwitchClient:
    """One switch: ports down/up and their admin state, over ``runner``."""

    def __init__(self, name: str, dialect: str | None, runner: Runner, *, user: str = "root",
                 where: str = "", timeout: float = COMMAND_TIMEOUT):
        if dialect not in DIALECTS:
            raise FaultError(f"switch {name}: type {dialect!r} is not one octoprobe can drive; give one of "
                             f"{', '.join(DIALECTS)} in the inventory")
        self.name = name
        self.dialect = dialect
        self.runner = runner
        self.sudo = [] if user == "root" else ["sudo", "-n"]
        self.where = where or name
        self.timeout = timeout

    def argvs(self, port: str, up: bool) -> list[list[str]]:
        return _argvs(self.dialect, port, up, self.sudo)

    def describe(self, port: str, up: bool) -> str:
        return f"switch {self.name} ({self.dialect}, {self.where}): " + " && ".join(
            " ".join(a) for a in self.argvs(port, up))

    def _run(self, argv: Sequence[str]) -> str:
        try:
            return self.runner.run(list(argv), timeout=self.timeout).stdout
        except CommandError as exc:
            raise FaultError(f"switch {self.name}: {exc}") from exc

    def set_port(self, port: str, up: bool) -> None:
        for argv in self.argvs(port, up):
            self._run(argv)

    def port_up(self, port: str) -> bool:
        """Whether the port is administratively up."""
        if self.dialect == "sonic":
            return _sonic_admin(self._run(["show", "interfaces", "status", port]), port)
        return parse_ip_link_admin(self._run(["ip", "-j", "link", "show", "dev", port]), port)


# ---------------------------------------------------------------- the fault


@dataclass(frozen=True)
class PortRef:
    switch: str
    port: str
    why: str  # "node stor-1 eno1", "rack r2 uplink"


class PortsFault(Fault):
    """Switch ports down (inject) and up (heal). ``after_heal`` runs once
    the ports are up (the lab driver waits for the nodes there and starts an
    OSD that died meanwhile); ``after_heal_text`` says so in the plan."""

    def __init__(self, spec: FaultSpec, driver: str, ports: Sequence[PortRef], switches: Mapping[str, SwitchClient],
                 *, osds: Sequence[int] = (), hosts: Sequence[str] = (), racks: Sequence[str] = (),
                 after_heal: Callable[[], None] | None = None, after_heal_text: str | None = None,
                 progress: Callable[[str], None] | None = None):
        super().__init__(spec)
        if not ports:
            raise FaultError(f"{spec.describe()}: no switch port to take down")
        missing = sorted({p.switch for p in ports} - set(switches))
        if missing:
            raise FaultError(f"{spec.describe()}: no access to switch(es) {', '.join(missing)}")
        self.driver = driver
        self.ports = list(ports)
        self.switches = dict(switches)
        self.osds, self.hosts, self.racks = tuple(osds), tuple(hosts), tuple(sorted(set(racks)))
        self.after_heal = after_heal
        self.after_heal_text = after_heal_text
        self.progress = progress or (lambda m: None)

    def plan(self) -> FaultPlan:
        inject = [f"{p.why}: port {p.port} down: {self.switches[p.switch].describe(p.port, False)}" for p in self.ports]
        inject.append("Ceph daemons keep running (network only)")
        heal = [f"{p.why}: port {p.port} up: {self.switches[p.switch].describe(p.port, True)}" for p in self.ports]
        if self.after_heal_text:
            heal.append(self.after_heal_text)
        return FaultPlan(self.spec, self.driver, tuple(inject), tuple(heal), tuple(sorted(self.osds)), self.hosts,
                         self.racks)

    def inject(self) -> None:
        self.injected = True
        for p in self.ports:
            self.switches[p.switch].set_port(p.port, False)
            self.progress(f"switch {p.switch}: port {p.port} down ({p.why})")

    def heal(self) -> None:
        for p in self.ports:
            client = self.switches[p.switch]
            if not client.port_up(p.port):
                client.set_port(p.port, True)
                self.progress(f"switch {p.switch}: port {p.port} up ({p.why})")
        if self.after_heal is not None:
            self.after_heal()
        self.injected = False

    def status(self) -> FaultStatus:
        components = []
        for p in self.ports:
            up = self.switches[p.switch].port_up(p.port)
            components.append(ComponentState(f"switch {p.switch} port {p.port} ({p.why})", up, "up" if up else "down"))
        return FaultStatus(self.spec, self.injected, tuple(components))
