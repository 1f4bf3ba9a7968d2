#!/usr/bin/env python3
"""Record the cluster states the oracle's unit tests replay (run as root).

Brings up real reference clouds (prefix ``octd``, underlay 198.18.12.0/24),
writes data, records ``ceph … --format json`` outputs unedited, breaks them
the way the tests reason about, records what Ceph did, and purges them:

four_racks/    default topology (4 racks x 2 hosts x 1 OSD of 8 GiB), 512 MiB in an RBD image;
               then racks r1 and r2 down (daemons killed): the OSD tree and status once settled
three_racks/   racks r1-r3 of the default topology, 512 MiB; then rack r3 down, first with
               mon_osd_down_out_subtree_limit = rack (the OSD tree after 35 s), then = row
               (the OSD tree after 35 s more)
three_racks_small/  3 racks x 2 hosts x 1 OSD of 3 GiB, 2.2 GiB of data: a disk loss would
               overfill its rack's other OSD

    sudo .venv/bin/python tests/unit/data/chaos/record.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from octoprobe.reference_impl.topology import default_topology_path

HERE = Path(__file__).parent
PREFIX = "octd"
UNDERLAY = {"ipv4": "198.18.12.0/24", "ipv6": "fd6f:6374:6f12::/64", "mtu": 1500}
SETTINGS = ("mon_osd_down_out_interval", "mon_osd_down_out_subtree_limit", "mon_osd_min_in_ratio",
            "mon_osd_adjust_down_out_interval")


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


class Recorder:
    def __init__(self, work: Path, name: str, topology: dict):
        self.name = name
        self.out = HERE / name
        self.out.mkdir(exist_ok=True)
        self.state = work / name / "state"
        topo = work / name / "topology.yaml"
        topo.parent.mkdir(parents=True, exist_ok=True)
        topo.write_text(yaml.safe_dump({**topology, "underlay": UNDERLAY}, sort_keys=False))
        self.topology_file = topo
        self.env = {**os.environ, "OCTOPROBE_STATE_DIR": str(self.state), "OCTOPROBE_PREFIX": PREFIX}
        self.conf = str(self.state / "ceph" / "ceph.conf")

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", *args], env=self.env, check=True,
                       timeout=900, stdout=subprocess.DEVNULL)

    def run(self, *argv: str, timeout: float = 600) -> str:
        return subprocess.run([argv[0], "--conf", self.conf, *argv[1:]], check=True, capture_output=True,
                              text=True, timeout=timeout).stdout

    def record(self, filename: str, *args: str) -> dict:
        text = self.run("ceph", *args, "--format", "json")
        (self.out / filename).write_text(text.strip() + "\n")
        return json.loads(text)

    def record_all(self, suffix: str = "") -> None:
        self.record(f"osd_tree{suffix}.json", "osd", "tree")
        self.record(f"osd_df{suffix}.json", "osd", "df")
        self.record(f"osd_pool_ls_detail{suffix}.json", "osd", "pool", "ls", "detail")
        self.record(f"crush_rule_dump{suffix}.json", "osd", "crush", "rule", "dump")
        self.record(f"osd_dump{suffix}.json", "osd", "dump")
        self.record(f"pgs_brief{suffix}.json", "pg", "dump", "pgs_brief")
        self.record(f"status{suffix}.json", "status")
        for key in SETTINGS:
            self.record(f"config_get_{key}{suffix}.json", "tell", "mon.ctl", "config", "get", key)

    def write_data(self, size: str) -> None:
        self.run("rbd", "create", "--size", "8192", "volumes/data")
        self.run("rbd", "bench", "--io-type", "write", "--io-size", "4M", "--io-pattern", "seq",
                 "--io-total", size, "volumes/data", timeout=900)
        self.wait_clean()

    def wait_clean(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = json.loads(self.run("ceph", "status", "--format", "json"))
            states = {p["state_name"] for p in s["pgmap"].get("pgs_by_state", [])}
            if states == {"active+clean"}:
                time.sleep(6)  # let the usage figures catch up
                return
            time.sleep(2)
        raise SystemExit(f"{self.name}: not clean after {timeout}s")

    def kill(self, osd: int) -> None:
        pid = int((self.state / "run" / f"ceph-osd.{osd}.pid").read_text())
        os.kill(pid, signal.SIGKILL)


def main() -> int:
    if os.geteuid() != 0:
        raise SystemExit("needs root")
    base = yaml.safe_load(default_topology_path().read_text())
    work = Path(tempfile.mkdtemp(prefix="octoprobe-record-chaos-"))

    def cloud(name: str, topology: dict):
        r = Recorder(work, name, topology)
        r.cli("down", "--purge")
        log(f"{name}: up")
        r.cli("up", "--topology", str(r.topology_file))
        return r

    # -- four racks -----------------------------------------------------------------
    r = cloud("four_racks", base)
    try:
        r.write_data("512M")
        r.record_all()
        log("four_racks: racks r1 and r2 down (osd.0-3 killed)")
        for osd in (0, 1, 2, 3):
            r.kill(osd)
        time.sleep(45)
        r.record("osd_tree_two_racks_down.json", "osd", "tree")
        r.record("status_two_racks_down.json", "status")
    finally:
        r.cli("down", "--purge")

    # -- three racks -----------------------------------------------------------------
    three = {**base, "racks": base["racks"][:3]}
    r = cloud("three_racks", three)
    try:
        r.write_data("512M")
        r.record_all()
        r.run("ceph", "tell", "mon.ctl", "config", "set", "mon_osd_down_out_subtree_limit", "rack")
        r.record("config_get_mon_osd_down_out_subtree_limit_rack.json", "tell", "mon.ctl", "config", "get",
                 "mon_osd_down_out_subtree_limit")
        log("three_racks: rack r3 down (osd.4, osd.5 killed), subtree limit rack")
        for osd in (4, 5):
            r.kill(osd)
        time.sleep(35)
        r.record("osd_tree_rack_down_limit_rack.json", "osd", "tree")
        log("three_racks: subtree limit row")
        r.run("ceph", "tell", "mon.ctl", "config", "set", "mon_osd_down_out_subtree_limit", "row")
        time.sleep(35)
        r.record("osd_tree_rack_down_limit_row.json", "osd", "tree")
        time.sleep(20)
        r.record("status_rack_down_limit_row.json", "status")
    finally:
        r.cli("down", "--purge")

    # -- three racks, small OSDs, much data ------------------------------------------
    small = json.loads(json.dumps(three))
    for rack in small["racks"]:
        for host in rack["hosts"]:
            if "osds" in host:
                host["osds"] = {"count": 1, "size": "3GiB"}
    r = cloud("three_racks_small", small)
    try:
        r.write_data("2200M")
        r.record_all()
    finally:
        r.cli("down", "--purge")
    log(f"recorded into {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
