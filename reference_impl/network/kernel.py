"""Thin, explicit wrappers around ``ip``, ``bridge``, ``nft`` and ``sysctl``.

Every command goes through a :class:`~octoprobe.shell.Runner` with a timeout.
``ns=None`` is the root namespace. ``ip`` and ``bridge`` enter a namespace
with ``-n``; other programs run under ``ip netns exec``. Several ``ip`` or
``bridge`` commands for one namespace go in one process (``-batch``).
Parsers of the JSON output are pure functions, tested on recorded output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Sequence

from octoprobe.shell import CommandError, LocalRunner, Result, Runner

TIMEOUT = 15.0


@dataclass(frozen=True)
class Link:
    name: str
    kind: str | None  # bridge, vxlan, veth, tun, None for plain devices
    master: str | None
    mtu: int
    mac: str | None
    admin_up: bool
    vni: int | None = None  # vxlan only
    local: str | None = None  # vxlan only


def parse_links(doc: list[dict]) -> dict[str, Link]:
    """Parse ``ip -j -d link show``."""
    links = {}
    for entry in doc:
        name = entry.get("ifname")
        if not name:
            continue
        info = entry.get("linkinfo") or {}
        data = info.get("info_data") or {}
        kind = info.get("info_kind")
        links[name] = Link(
            name=name,
            kind=kind,
            master=entry.get("master"),
            mtu=int(entry.get("mtu", 0)),
            mac=entry.get("address"),
            admin_up="UP" in entry.get("flags", []),
            vni=data.get("id") if kind == "vxlan" else None,
            local=data.get("local") if kind == "vxlan" else None,
        )
    return links


def parse_addresses(doc: list[dict]) -> dict[str, set[str]]:
    """Parse ``ip -j addr show``: interface -> {"addr/prefix"} (no link-local)."""
    result: dict[str, set[str]] = {}
    for entry in doc:
        name = entry.get("ifname")
        if not name:
            continue
        addrs = set()
        for a in entry.get("addr_info", []):
            if a.get("scope") == "link" or "local" not in a:
                continue
            addrs.add(f"{a['local']}/{a['prefixlen']}")
        result[name] = addrs
    return result


def parse_fdb(doc: list[dict]) -> set[tuple[str, str]]:
    """Parse ``bridge -j fdb show dev VXLAN``: the (mac, remote VTEP) entries."""
    return {(e["mac"], e["dst"]) for e in doc if e.get("dst") and e.get("mac")}


def parse_netns(text: str) -> set[str]:
    text = text.strip()
    if not text:
        return set()
    return {e["name"] for e in json.loads(text) if "name" in e}


def parse_routes(doc: list[dict]) -> set[tuple[str, str | None]]:
    """Parse ``ip -j route show``: (destination, gateway)."""
    return {(e["dst"], e.get("gateway")) for e in doc if "dst" in e}


class Kernel:
    def __init__(self, runner: Runner | None = None, *, timeout: float = TIMEOUT):
        self.runner = runner or LocalRunner()
        self.timeout = timeout

    # -- raw --------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, check: bool = True, input: str | None = None,
            timeout: float | None = None) -> Result:
        return self.runner.run(list(argv), timeout=timeout or self.timeout, check=check, input=input)

    def exec(self, ns: str | None, argv: Sequence[str], **kw) -> Result:
        return self.run((["ip", "netns", "exec", ns] if ns else []) + list(argv), **kw)

    def ip(self, ns: str | None, *args: str, check: bool = True, input: str | None = None) -> Result:
        return self.run((["ip", "-n", ns] if ns else ["ip"]) + list(args), check=check, input=input)

    def ip_batch(self, ns: str | None, commands: Iterable[str], *, force: bool = False) -> None:
        commands = [c for c in commands if c]
        if not commands:
            return
        argv = (["ip", "-n", ns] if ns else ["ip"]) + (["-force"] if force else []) + ["-batch", "-"]
        self.run(argv, input="\n".join(commands) + "\n", check=not force)

    def bridge_batch(self, ns: str | None, commands: Iterable[str], *, force: bool = False) -> None:
        commands = [c for c in commands if c]
        if not commands:
            return
        argv = (["bridge", "-n", ns] if ns else ["bridge"]) + (["-force"] if force else []) + ["-batch", "-"]
        self.run(argv, input="\n".join(commands) + "\n", check=not force)

    # -- reads ------------------------------------------------------------------
    def links(self, ns: str | None) -> dict[str, Link]:
        out = self.ip(ns, "-j", "-d", "link", "show").stdout
        return parse_links(json.loads(out or "[]"))

    def addresses(self, ns: str | None) -> dict[str, set[str]]:
        out = self.ip(ns, "-j", "addr", "show").stdout
        return parse_addresses(json.loads(out or "[]"))

    def fdb(self, ns: str | None, device: str) -> set[tuple[str, str]]:
        argv = (["bridge", "-n", ns] if ns else ["bridge"]) + ["-j", "fdb", "show", "dev", device]
        return parse_fdb(json.loads(self.run(argv).stdout or "[]"))

    def routes(self, ns: str | None, version: int, device: str) -> set[tuple[str, str | None]]:
        out = self.ip(ns, "-j", f"-{version}", "route", "show", "dev", device, "proto", "static").stdout
        return parse_routes(json.loads(out or "[]"))

    def namespaces(self) -> set[str]:
        return parse_netns(self.run(["ip", "-j", "netns", "list"]).stdout)

    # -- writes -----------------------------------------------------------------
    def add_netns(self, name: str) -> None:
        self.run(["ip", "netns", "add", name])
        self.ip(name, "link", "set", "lo", "up")

    def del_netns(self, name: str) -> None:
        try:
            self.run(["ip", "netns", "del", name])
        except CommandError as exc:
            if "No such file" not in str(exc):
                raise

    def nft(self, ns: str | None, script: str) -> None:
        self.exec(ns, ["nft", "-f", "-"], input=script)

    def sysctl(self, ns: str | None, settings: dict[str, str | int]) -> None:
        if settings:
            self.exec(ns, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in settings.items())])

    def del_link(self, ns: str | None, name: str) -> None:
        try:
            self.ip(ns, "link", "del", name)
        except CommandError as exc:
            if "Cannot find device" not in str(exc):
                raise
