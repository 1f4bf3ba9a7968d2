"""Hardware inventory of a node: CPU, memory, disks, NICs, system/BIOS.

Pure parsers read what standard tools print (``lscpu -J``, ``/proc/meminfo``,
``lsblk -J``, ``ethtool``, ``ip -j -d link``, ``/sys/class/dmi/id/*``);
:func:`collect_hardware` runs them through a runner ``(argv, timeout) ->
(returncode, stdout, stderr)`` and never fails for a missing tool: it lists it
under ``"missing"`` and what failed otherwise under ``"errors"``.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any, Iterable, Mapping

from octoprobe.perf.tools import RunnerFn, ToolTimeout, is_missing

__all__ = [
    "HardwareParseError", "parse_lscpu", "parse_meminfo", "parse_lsblk", "parse_ip_link",
    "parse_ethtool", "parse_ethtool_driver", "collect_hardware", "LSCPU", "MEMINFO", "LSBLK",
    "IP_LINK", "DMI_FIELDS",
]

LSCPU = ["lscpu", "-J"]
MEMINFO = ["cat", "/proc/meminfo"]
LSBLK = ["lsblk", "-J", "-b", "-d", "-o", "NAME,MODEL,SIZE,ROTA,TYPE,SERIAL"]
IP_LINK = ["ip", "-j", "-d", "link"]
#: inventory key -> file under /sys/class/dmi/id
DMI_FIELDS = {"vendor": "sys_vendor", "product": "product_name", "bios_vendor": "bios_vendor",
              "bios_version": "bios_version"}

#: Block devices that are not disks of the node.
_NOT_DISKS = re.compile(r"^(zram|loop|ram|sr|fd|nbd)\d*")
#: Interface names of virtual devices, for ``ip link`` output without details.
_VIRTUAL_NAMES = re.compile(r"^(lo|docker|br-|virbr|veth|tap|tun|vxlan|vnet|ifb|dummy|bond|team|ovs|qr-|qg-|qvo|qvb)")


class HardwareParseError(ValueError):
    """A tool's output is not what that tool prints."""


def _json(text: str, tool: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HardwareParseError(f"{tool}: output is not JSON ({exc}): {text.strip()[:120]!r}") from exc


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _lscpu_fields(entries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Flatten lscpu's list; util-linux >= 2.38 may nest fields under ``children``."""
    fields: dict[str, str] = {}
    for entry in entries:
        name = str(entry.get("field", "")).rstrip(":").strip()
        if name and entry.get("data") is not None and name not in fields:
            fields[name] = str(entry["data"])
        fields.update({k: v for k, v in _lscpu_fields(entry.get("children") or []).items() if k not in fields})
    return fields


def parse_lscpu(text: str) -> dict[str, Any]:
    """``lscpu -J`` → model, vendor, architecture, sockets, cores (physical, all
    sockets), threads (logical CPUs), and the hypervisor when virtualised."""
    data = _json(text, "lscpu -J")
    if not isinstance(data, Mapping) or not isinstance(data.get("lscpu"), list):
        raise HardwareParseError("lscpu -J: no 'lscpu' list")
    f = _lscpu_fields(data["lscpu"])
    sockets = _int(f.get("Socket(s)"))
    per_socket = _int(f.get("Core(s) per socket"))
    cpu: dict[str, Any] = {
        "model": f.get("Model name"),
        "vendor": f.get("Vendor ID"),
        "architecture": f.get("Architecture"),
        "sockets": sockets,
        "cores": sockets * per_socket if sockets and per_socket else None,
        "threads": _int(f.get("CPU(s)")),
        "threads_per_core": _int(f.get("Thread(s) per core")),
        "numa_nodes": _int(f.get("NUMA node(s)")),
    }
    if f.get("Hypervisor vendor"):
        cpu["hypervisor"] = f["Hypervisor vendor"]
    return cpu


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` → ``total_bytes`` (its "kB" are KiB)."""
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB\s*$", text, re.MULTILINE)
    if not match:
        raise HardwareParseError(f"/proc/meminfo: no 'MemTotal: N kB' line in {text.strip()[:120]!r}")
    return {"total_bytes": int(match.group(1)) * 1024}


def parse_lsblk(text: str) -> list[dict[str, Any]]:
    """``lsblk -J -b -d -o NAME,MODEL,SIZE,ROTA,TYPE,SERIAL`` → the disks (type
    ``disk``, not zram/loop/ram, size > 0). Old lsblk prints numbers and booleans
    as strings ("1", "0"); both forms are read."""
    data = _json(text, "lsblk -J")
    if not isinstance(data, Mapping) or not isinstance(data.get("blockdevices"), list):
        raise HardwareParseError("lsblk -J: no 'blockdevices' list")
    disks = []
    for dev in data["blockdevices"]:
        name = str(dev.get("name", ""))
        size = _int(dev.get("size"))
        if dev.get("type") != "disk" or _NOT_DISKS.match(name) or not size:
            continue
        rota = dev.get("rota")
        disks.append({
            "name": name,
            "model": (dev.get("model") or "").strip() or None,
            "size_bytes": size,
            "rotational": rota in (True, "1", 1),
            "serial": (dev.get("serial") or "").strip() or None,
        })
    return disks


def parse_ip_link(text: str) -> list[dict[str, Any]]:
    """``ip -j -d link`` → the physical NICs: not loopback, not a virtual kind
    (bridge, veth, vxlan, bond, ifb, tun, …; ``linkinfo.info_kind``)."""
    data = _json(text, "ip -j link")
    if not isinstance(data, list):
        raise HardwareParseError("ip -j link: not a list")
    nics = []
    for link in data:
        name = str(link.get("ifname", ""))
        if link.get("link_type") != "ether" or "LOOPBACK" in (link.get("flags") or []):
            continue
        if (link.get("linkinfo") or {}).get("info_kind"):
            continue
        if not link.get("parentbus") and _VIRTUAL_NAMES.match(name):
            continue
        nics.append({
            "name": name,
            "mac": link.get("address"),
            "mtu": link.get("mtu"),
            "state": link.get("operstate"),
            "bus": link.get("parentbus"),
        })
    return nics


def parse_ethtool(text: str) -> dict[str, Any]:
    """``ethtool IFACE`` → ``speed_bps`` (``None`` when "Unknown!") and ``link``."""
    speed = re.search(r"^\s*Speed:\s*(\S+)", text, re.MULTILINE)
    if not speed and "Settings for" not in text:
        raise HardwareParseError(f"ethtool: no 'Settings for' block in {text.strip()[:120]!r}")
    speed_bps = None
    if speed:
        match = re.fullmatch(r"(\d+)Mb/s", speed.group(1))
        speed_bps = int(match.group(1)) * 1_000_000 if match else None
    link = re.search(r"^\s*Link detected:\s*(\w+)", text, re.MULTILINE)
    return {"speed_bps": speed_bps, "link": (link.group(1) == "yes") if link else None}


def parse_ethtool_driver(text: str) -> dict[str, str | None]:
    """``ethtool -i IFACE`` → driver, driver_version, firmware, bus_info."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip() or None
    if "driver" not in fields:
        raise HardwareParseError(f"ethtool -i: no 'driver:' line in {text.strip()[:120]!r}")
    return {"driver": fields.get("driver"), "driver_version": fields.get("version"),
            "firmware": fields.get("firmware-version"), "bus_info": fields.get("bus-info")}


# --- collection ---------------------------------------------------------------


class _Collector:
    """Runs commands, remembering missing tools and failures instead of raising."""

    def __init__(self, runner: RunnerFn, timeout: float):
        self.runner = runner
        self.timeout = timeout
        self.missing: list[str] = []
        self.errors: dict[str, str] = {}

    def run(self, argv: list[str], tool: str | None = None) -> str | None:
        tool = tool or argv[0]
        line = shlex.join(argv)
        if tool in self.missing:
            return None
        try:
            returncode, stdout, stderr = self.runner(argv, self.timeout)
        except ToolTimeout:
            self.errors[line] = f"no answer after {self.timeout:g} s"
            return None
        if is_missing(argv[0], returncode, stderr):
            self.missing.append(tool)
            return None
        if returncode != 0:
            self.errors[line] = f"exit status {returncode}: {(stderr or stdout).strip()[-300:]}"
            return None
        return stdout

    def parse(self, argv: list[str], parser, default: Any = None) -> Any:
        text = self.run(argv)
        if text is None:
            return default
        try:
            return parser(text)
        except HardwareParseError as exc:
            self.errors[shlex.join(argv)] = str(exc)
            return default


def collect_hardware(runner: RunnerFn, timeout: float = 20.0) -> dict[str, Any]:
    """The node's inventory: ``cpu``, ``memory``, ``disks``, ``nics`` (with speed,
    driver and firmware when ethtool is there), ``system`` (DMI vendor, product,
    BIOS), ``missing`` (tools or sources not present) and ``errors``."""
    c = _Collector(runner, timeout)
    inventory: dict[str, Any] = {
        "cpu": c.parse(LSCPU, parse_lscpu),
        "memory": c.parse(MEMINFO, parse_meminfo),
        "disks": c.parse(LSBLK, parse_lsblk, []),
        "nics": c.parse(IP_LINK, parse_ip_link, []),
    }
    for nic in inventory["nics"]:
        nic.update(c.parse(["ethtool", nic["name"]], parse_ethtool, {}))
        nic.update(c.parse(["ethtool", "-i", nic["name"]], parse_ethtool_driver, {}))
    system: dict[str, str | None] = {}
    absent = []
    for key, name in DMI_FIELDS.items():
        path = f"/sys/class/dmi/id/{name}"
        returncode, stdout, stderr = _safe(runner, ["cat", path], timeout)
        if returncode == 0:
            system[key] = stdout.strip() or None
        else:
            system[key] = None
            if "No such file" in stderr or is_missing("cat", returncode, stderr):
                absent.append(name)
            else:
                c.errors[f"cat {path}"] = (stderr or f"exit status {returncode}").strip()[-300:]
    if absent:
        c.missing.append("dmi:" + ",".join(absent))
    inventory["system"] = system
    inventory["missing"] = c.missing
    inventory["errors"] = c.errors
    return inventory


def _safe(runner: RunnerFn, argv: list[str], timeout: float) -> tuple[int, str, str]:
    try:
        return runner(argv, timeout)
    except ToolTimeout:
        return 124, "", f"no answer after {timeout:g} s"
