#!/usr/bin/env python3
"""Benchmark the chaos suite on a reference cloud of its own.

Brings up a reference cloud (prefix ``octd``, underlay 198.18.13.0/24, the
default topology: 4 racks x 2 storage hosts x one 8 GiB OSD), runs the whole
chaos suite on it as a user does (``pytest chaos/``) with DATA written before
each fault, and prints per scenario:

  * time to active+clean after the fault was injected (every OSD up and in,
    every PG active+clean, nothing degraded or misplaced), and its parts:
    detection, out, re-replicated while the fault lasted, after the heal;
  * the scenario's wall time;

and the total wall time of the suite. Removes everything it made at the end.
Needs root.

    sudo .venv/bin/python bench/chaos_scenarios.py [--data 1GiB] [--json out.json] [-k EXPR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from octoprobe.reference_impl.topology import default_topology_path

REPO = Path(__file__).resolve().parents[1]
PREFIX = "octd"
UNDERLAY = {"ipv4": "198.18.13.0/24", "ipv6": "fd6f:6374:6f13::/64", "mtu": 1500}
ORDER = ("disk", "node", "node-return", "partition", "rack", "two-racks", "flap", "add-capacity")


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def cli(env: dict, *args: str) -> float:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", *args], env=env,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"octoprobe cloud {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.monotonic() - started


def fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="1GiB", help="data written before each fault (default 1GiB)")
    parser.add_argument("-k", dest="select", help="pytest -k expression to run only some scenarios")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: it brings up a reference cloud and breaks it")

    work = Path(tempfile.mkdtemp(prefix="octoprobe-bench-chaos-"))
    topology = yaml.safe_load(default_topology_path().read_text())
    topology["underlay"] = UNDERLAY
    topo_file = work / "topology.yaml"
    topo_file.write_text(yaml.safe_dump(topology, sort_keys=False))
    state = work / "state"
    env = {**os.environ, "OCTOPROBE_STATE_DIR": str(state), "OCTOPROBE_PREFIX": PREFIX}
    results = work / "results"
    report: dict = {"data": args.data}
    try:
        cli(env, "down", "--purge")
        log("cloud up (cold)")
        report["cloud_up_s"] = cli(env, "up", "--topology", str(topo_file))
        argv = [sys.executable, "-m", "pytest", "chaos/", "-p", "no:cacheprovider", "-q", "-rA",
                "--reference-state-dir", str(state), "--reference-prefix", PREFIX,
                "--chaos-results", str(results), "--chaos-data", args.data]
        if args.select:
            argv += ["-k", args.select]
        log(f"pytest chaos/ with {args.data} per scenario")
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=7200)
        report["suite_wall_s"] = time.monotonic() - started
        report["suite_exit"] = proc.returncode
        (work / "suite.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            log(f"the suite exited {proc.returncode}; its output is in {work / 'suite.log'}")
            print(proc.stdout[-4000:], file=sys.stderr)
    finally:
        log("down --purge")
        subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", "down", "--purge"], env=env,
                       capture_output=True, timeout=600)

    rows = []
    for name in ORDER:
        path = results / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        if "measurements" not in r:
            rows.append({"scenario": name, "refused": r.get("refused")})
            continue
        m, c = r["measurements"], r["check"] or {}
        rows.append({
            "scenario": name,
            "passed": r["passed"],
            "predicted": r["plan"]["prediction"]["outcome"],
            "detect_s": m["detect_s"],
            "out_s": m["out_s"],
            "clean_during_fault_s": m["clean_during_fault_s"],
            "clean_after_heal_s": m["clean_after_heal_s"],
            "time_to_clean_s": m["clean_total_s"],
            "wall_s": r["wall_s"],
            "acknowledged": c.get("acknowledged"),
            "lost": c.get("lost"), "corrupt": c.get("corrupt"), "unfound": c.get("unfound"),
        })
    report["scenarios"] = rows

    print(f"chaos suite on the reference cloud, {args.data} written before each fault "
          f"(cloud up {report.get('cloud_up_s', 0):.0f}s, not counted)")
    print(f"{'scenario':<13} {'result':<6} {'detect':>7} {'out':>6} {'clean(fault)':>13} {'clean(heal)':>12} "
          f"{'to clean':>9} {'wall':>6}  acked/lost/corrupt/unfound")
    for row in rows:
        if "refused" in row:
            print(f"{row['scenario']:<13} refused: {row['refused']}")
            continue
        print(f"{row['scenario']:<13} {'pass' if row['passed'] else 'FAIL':<6} {fmt(row['detect_s']):>7} "
              f"{fmt(row['out_s']):>6} {fmt(row['clean_during_fault_s']):>13} {fmt(row['clean_after_heal_s']):>12} "
              f"{fmt(row['time_to_clean_s']):>9} {fmt(row['wall_s']):>6}  "
              f"{row['acknowledged']}/{row['lost']}/{row['corrupt']}/{row['unfound']}")
    print(f"total wall time of the suite: {report.get('suite_wall_s', 0):.0f}s (exit {report.get('suite_exit')})")
    print("times in seconds from the injection; 'to clean' = injection -> every OSD up and in, every PG "
          "active+clean after the heal")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report.get("suite_exit") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
