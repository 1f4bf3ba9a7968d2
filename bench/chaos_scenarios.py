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

then, for the VM-continuity scenarios (``chaos/test_vm.py``), the guest's
I/O stall, its writes acknowledged during the fault and the read-back, and
the total wall time of the suite. Removes the cloud at the end (the suite's
log and results stay in the work directory, which it names). Needs root.

    sudo .venv/bin/python bench/chaos_scenarios.py [--data 1GiB] [--json out.json] [-k EXPR]
    .venv/bin/python bench/chaos_scenarios.py --from-results DIR   # print an earlier run's tables
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
VM_ORDER = ("vm-disk", "vm-node")


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


def _results(results: Path, names: tuple[str, ...]) -> list[tuple[str, dict]]:
    """(name, its result) for the scenarios of ``names`` that have one in ``results``, in that order."""
    paths = [(name, results / f"{name}.json") for name in names]
    return [(name, json.loads(path.read_text())) for name, path in paths if path.exists()]


def scenario_rows(results: Path) -> list[dict]:
    """One row per Ceph scenario of ``results`` (the suite's ``--chaos-results``), in :data:`ORDER`."""
    rows = []
    for name, r in _results(results, ORDER):
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
    return rows


def vm_rows(results: Path) -> list[dict]:
    """One row per VM-continuity scenario of ``results``, in :data:`VM_ORDER`."""
    rows = []
    for name, r in _results(results, VM_ORDER):
        io, guest, rados = r.get("vm_io") or {}, r.get("check") or {}, r.get("check_rados") or {}
        rows.append({
            "scenario": name,
            "passed": r.get("passed"),
            "fault": r.get("fault"),
            "boot_to_ssh_s": (r.get("boot_s") or {}).get("ssh"),
            "io_stall_s": io.get("stall_s"),
            "acks_during_fault": io.get("acks_during_fault"),
            "time_to_clean_s": (r.get("measurements") or {}).get("clean_total_s"),
            "wall_s": r.get("wall_s"),
            "acknowledged": guest.get("acknowledged"),
            "lost": guest.get("lost"), "corrupt": guest.get("corrupt"),
            "rados_lost": rados.get("lost"), "rados_corrupt": rados.get("corrupt"),
            "same_boot": r.get("boot_id_unchanged"),
        })
    return rows


def print_report(report: dict) -> None:
    if report.get("source"):
        print(f"chaos suite results in {report['source']}")
    else:
        print(f"chaos suite on the reference cloud, {report['data']} written before each fault "
              f"(cloud up {report.get('cloud_up_s') or 0:.0f}s, not counted)")
    print(f"{'scenario':<13} {'result':<6} {'detect':>7} {'out':>6} {'clean(fault)':>13} {'clean(heal)':>12} "
          f"{'to clean':>9} {'wall':>6}  acked/lost/corrupt/unfound")
    for row in report["scenarios"]:
        if "refused" in row:
            print(f"{row['scenario']:<13} refused: {row['refused']}")
            continue
        print(f"{row['scenario']:<13} {'pass' if row['passed'] else 'FAIL':<6} {fmt(row['detect_s']):>7} "
              f"{fmt(row['out_s']):>6} {fmt(row['clean_during_fault_s']):>13} {fmt(row['clean_after_heal_s']):>12} "
              f"{fmt(row['time_to_clean_s']):>9} {fmt(row['wall_s']):>6}  "
              f"{row['acknowledged']}/{row['lost']}/{row['corrupt']}/{row['unfound']}")
    if report.get("vm"):
        print(f"\n{'VM scenario':<13} {'result':<6} {'fault':<16} {'ssh':>5} {'stall':>6} {'acks in fault':>13} "
              f"{'to clean':>9} {'wall':>6}  acked/lost/corrupt (guest; rados)  same boot")
        for row in report["vm"]:
            print(f"{row['scenario']:<13} {'pass' if row['passed'] else 'FAIL':<6} {str(row['fault'])[:16]:<16} "
                  f"{fmt(row['boot_to_ssh_s']):>5} {fmt(row['io_stall_s']):>6} {str(row['acks_during_fault']):>13} "
                  f"{fmt(row['time_to_clean_s']):>9} {fmt(row['wall_s']):>6}  "
                  f"{row['acknowledged']}/{row['lost']}/{row['corrupt']}; {row['rados_lost']}/{row['rados_corrupt']}"
                  f"  {'yes' if row['same_boot'] else 'NO'}")
    if report.get("suite_wall_s") is not None:
        print(f"total wall time of the suite: {report['suite_wall_s']:.0f}s (exit {report.get('suite_exit')})")
    print("times in seconds from the injection; 'to clean' = injection -> every OSD up and in, every PG "
          "active+clean after the heal; 'stall' = the guest's longest wait for a write acknowledgement")


def run_suite(args: argparse.Namespace, work: Path, results: Path, report: dict) -> None:
    """Cloud up, ``pytest chaos/``, cloud down --purge (always); timings into ``report``."""
    topology = yaml.safe_load(default_topology_path().read_text())
    topology["underlay"] = UNDERLAY
    topo_file = work / "topology.yaml"
    topo_file.write_text(yaml.safe_dump(topology, sort_keys=False))
    state = work / "state"
    env = {**os.environ, "OCTOPROBE_STATE_DIR": str(state), "OCTOPROBE_PREFIX": PREFIX}
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
    log(f"the suite's log and per-scenario results are kept in {work}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="1GiB", help="data written before each fault (default 1GiB)")
    parser.add_argument("-k", dest="select", help="pytest -k expression to run only some scenarios")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--from-results", type=Path, metavar="DIR",
                        help="run nothing: print the tables of an earlier run's results directory")
    args = parser.parse_args()
    report: dict = {"data": args.data}
    if args.from_results is not None:
        results = args.from_results
        if not results.is_dir():
            raise SystemExit(f"--from-results {results}: no such directory")
        report.update(data=None, source=str(results))
    else:
        if os.geteuid() != 0:
            raise SystemExit("needs root: it brings up a reference cloud and breaks it")
        work = Path(tempfile.mkdtemp(prefix="octoprobe-bench-chaos-"))
        results = work / "results"
        run_suite(args, work, results, report)
    report["scenarios"] = scenario_rows(results)
    report["vm"] = vm_rows(results)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.from_results is not None:
        return 0 if report["scenarios"] or report["vm"] else 1
    return 0 if report.get("suite_exit") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
