#!/usr/bin/env python3
"""Benchmark the reference cloud's life cycle on this machine.

Measures, in one run, against the targets of the foundation issue:
  * cold ``cloud up`` of the default topology (nothing on disk)   target <= 60 s
  * warm ``cloud up`` after ``cloud down`` without purge          target <= 15 s
  * resident memory of all daemons, idle                          target <= 8 GiB
  * recovery after one OSD loss with DATA of data in the pools: time from the
    kill to every PG active+clean (and the part of it after the OSD was out)

It uses its own state directory, prefix and underlay range, so it runs beside a
user's cloud, and removes everything it made at the end. Needs root.

    sudo .venv/bin/python bench/cloud_lifecycle.py [--data 1GiB] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from octoprobe.ceph import CephClient, wait_for_clean
from octoprobe.config_yaml import parse_size
from octoprobe.reference_impl.topology import default_topology_path
from octoprobe.shell import LocalRunner

PREFIX = "octb"
UNDERLAY = {"ipv4": "198.18.10.0/24", "ipv6": "fd6f:6374:6f0a::/64", "mtu": 1500}
TARGETS = {"cold_up_s": 60.0, "warm_up_s": 15.0, "idle_rss_gib": 8.0}


def cli(env: dict, *args: str) -> float:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", *args], env=env,
                          capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"octoprobe cloud {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def status(env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", "status", "--json"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="1GiB", help="data written before the OSD is killed (default 1GiB)")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds to idle before reading memory")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: it brings up a reference cloud")
    data_bytes = parse_size(args.data)

    work = Path(tempfile.mkdtemp(prefix="octoprobe-bench-"))
    topology = yaml.safe_load(default_topology_path().read_text())
    topology["underlay"] = UNDERLAY
    topo_file = work / "topology.yaml"
    topo_file.write_text(yaml.safe_dump(topology, sort_keys=False))
    env = {**os.environ, "OCTOPROBE_STATE_DIR": str(work / "state"), "OCTOPROBE_PREFIX": PREFIX}
    conf = str(work / "state" / "ceph" / "ceph.conf")
    runner = LocalRunner()
    results: dict[str, float] = {}
    try:
        log("cold up (empty state directory)")
        results["cold_up_s"] = cli(env, "up", "--topology", str(topo_file))
        log(f"idle {args.idle:g}s, then read resident memory")
        time.sleep(args.idle)
        report = status(env)
        results["idle_rss_gib"] = report["daemons_rss_bytes"] / 2**30

        log("warm up (down without purge, then up)")
        cli(env, "down")
        results["warm_up_s"] = cli(env, "up")

        log(f"write {args.data} into an RBD image in pool volumes")
        runner.run(["rbd", "--conf", conf, "create", "--size", str(data_bytes // 2**20), "volumes/bench"],
                   timeout=60)
        started = time.monotonic()
        runner.run(["rbd", "--conf", conf, "bench", "--io-type", "write", "--io-size", "4M",
                    "--io-pattern", "seq", "--io-total", str(data_bytes), "volumes/bench"], timeout=900)
        results["write_mib_s"] = data_bytes / 2**20 / (time.monotonic() - started)
        client = CephClient(runner, conf=conf, timeout=30)
        wait_for_clean(client, no_progress_timeout=60)

        log("kill osd.2 (a disk failure) and wait for active+clean")
        pid = int((work / "state" / "run" / "ceph-osd.2.pid").read_text())
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        while client.status().osds.in_ == 8:
            time.sleep(0.5)
        results["marked_out_after_s"] = time.monotonic() - killed
        wait = wait_for_clean(client, no_progress_timeout=120, poll_interval=1.0)
        results["recovery_total_s"] = time.monotonic() - killed
        results["recovery_after_out_s"] = wait.elapsed
    finally:
        log("down --purge")
        subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", "down", "--purge"], env=env,
                       capture_output=True, timeout=300)

    print(f"{'metric':<24} {'value':>10}  {'target':>8}  ratio")
    for key, value in results.items():
        target = TARGETS.get(key)
        ratio = f"{value / target:.2f} of target" if target else ""
        print(f"{key:<24} {value:>10.2f}  {target if target else '':>8}  {ratio}")
    if args.json:
        args.json.write_text(json.dumps({"data_bytes": data_bytes, **results}, indent=2) + "\n")
    failed = [k for k, t in TARGETS.items() if results.get(k, float("inf")) > t]
    if failed:
        print(f"over target: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
