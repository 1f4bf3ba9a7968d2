"""``octoprobe cloud up | down | status`` — the reference cloud's commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from octoprobe.config_yaml import ConfigError
from octoprobe.shell import CommandError

from .cloud import Cloud, CloudError, is_root
from .state import LockTimeout, default_prefix, default_state_dir
from .underlay import UnderlayConflict

EXIT_FAILED = 1
EXIT_USAGE = 2

_EXPECTED_ERRORS = (CloudError, ConfigError, CommandError, LockTimeout, UnderlayConflict, ValueError)


def add_commands(commands) -> None:
    cloud = commands.add_parser(
        "cloud",
        help="the bundled reference cloud (real Ceph, namespaces, bridges) on this machine",
        description="Manage the bundled reference cloud. State lives in OCTOPROBE_STATE_DIR "
        "(default ~/.local/state/octoprobe/cloud); kernel objects carry the prefix "
        "OCTOPROBE_PREFIX (default octo).",
    )
    sub = cloud.add_subparsers(dest="cloud_command", metavar="ACTION", required=True)

    up = sub.add_parser("up", help="bring the cloud up (idempotent; repairs what a crash left)")
    up.add_argument("--topology", type=Path, metavar="FILE",
                    help="topology YAML (default: the one the cloud was created with, else the shipped default)")
    up.add_argument("--settle-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="give up waiting for active+clean after this long without progress (default 120)")
    up.set_defaults(handler=_up)

    down = sub.add_parser("down", help="stop every daemon, remove every namespace and interface")
    down.add_argument("--purge", action="store_true", help="also delete the cluster's data")
    down.set_defaults(handler=_down)

    status = sub.add_parser("status", help="hosts, daemons, cluster health and PG summary")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)


def _open(args, topology: Path | None = None) -> Cloud:
    cloud = Cloud.open(default_state_dir(), default_prefix(), topology)  # config errors first
    if not is_root():
        raise CloudError("the reference cloud needs root (network namespaces, bridges, Ceph daemons)")
    return cloud


def _run(action) -> int:
    try:
        return action()
    except _EXPECTED_ERRORS as exc:
        print(f"octoprobe: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
    except KeyboardInterrupt:
        print("octoprobe: interrupted; run `octoprobe cloud up` again to finish, "
              "or `octoprobe cloud down` to remove what was made", file=sys.stderr)
        return 130


def _up(args) -> int:
    def action() -> int:
        cloud = _open(args, args.topology)
        cloud.up(settle_timeout=args.settle_timeout)
        return 0
    return _run(action)


def _down(args) -> int:
    def action() -> int:
        _open(args).down(purge=args.purge)
        return 0
    return _run(action)


def _status(args) -> int:
    def action() -> int:
        report = _open(args).status()
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(format_status(report))
        up = report["daemons_running"] == report["daemons_expected"]
        return 0 if up else 3
    return _run(action)


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def format_status(report: dict) -> str:
    lines = [f"cloud: {report['state_dir']} (prefix {report['prefix']}, topology {report['topology']})"]
    lines.append(f"{'HOST':<10} {'RACK':<6} {'ROLES':<16} {'NETNS':<6} {'LINK':<8} {'IPV4':<15} DAEMONS")
    for h in report["hosts"]:
        daemons = ", ".join(
            f"{d['name']} " + (f"(pid {d['pid']}, {_mib(d['rss_bytes'])})" if d["running"] else "(stopped)")
            for d in h["daemons"]
        ) or "-"
        lines.append(
            f"{h['name']:<10} {h['rack'] or '-':<6} {','.join(h['roles']):<16} "
            f"{'yes' if h['netns_exists'] else 'no':<6} {h['link']:<8} {h['ipv4']:<15} {daemons}"
        )
    lines.append("rack uplinks: " + ", ".join(f"{r} {s}" for r, s in report["rack_uplinks"].items()))
    lines.append(
        f"daemons: {report['daemons_running']}/{report['daemons_expected']} running, "
        f"{_mib(report['daemons_rss_bytes'])} resident"
    )
    net = report.get("network")
    if net:
        lines.append(
            f"network: {net['networks']} networks, {net['subnets']} subnets, {net['ports']} ports, "
            f"{net['routers']} routers, {net['floating_ips']} floating IPs; dhcp "
            f"{net['dhcp_servers']['running']}/{net['dhcp_servers']['expected']} running"
        )
    comp = report.get("compute")
    if comp:
        states = ", ".join(f"{n} {s}" for s, n in sorted(comp["by_status"].items())) or "none"
        lines.append(
            f"compute: {comp['servers']} servers ({states}), {comp['qemu_processes']} QEMU processes "
            f"({_mib(comp['qemu_rss_bytes'])}), {comp['images']} images"
        )
    api = report.get("api")
    if api:
        state = "answering" if api["answering"] else "running, not answering" if api["running"] else "stopped"
        lines.append(f"api: {api['url']} {state} (log {api['log']}); "
                     "clouds: octoprobe-admin, octoprobe, octoprobe-alt")
    ceph = report["ceph"]
    if ceph is None:
        lines.append("ceph: monitor not running")
    elif "error" in ceph:
        lines.append(f"ceph: unreachable: {ceph['error']}")
    else:
        lines.append(f"ceph: {ceph['health']} (fsid {ceph['fsid']})")
        for name, text in ceph["checks"].items():
            lines.append(f"  {name}: {text}")
        o = ceph["osds"]
        lines.append(f"osds: {o['total']} total, {o['up']} up, {o['in']} in")
        p = ceph["pgs"]
        states = ", ".join(f"{n} {s}" for s, n in sorted(p["by_state"].items())) or "none"
        lines.append(f"pgs: {p['total']} total: {states}")
        ob = ceph["objects"]
        lines.append(f"objects: {ob['degraded']} degraded, {ob['misplaced']} misplaced, {ob['unfound']} unfound")
    return "\n".join(lines)
