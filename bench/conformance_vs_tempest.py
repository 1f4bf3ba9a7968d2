#!/usr/bin/env python3
"""Wall time of the conformance suite (serial and with ``-n auto``) against
Tempest's interop test list for the same services, on one cloud, in one run.

    OS_CLIENT_CONFIG_FILE=clouds.yaml .venv/bin/python bench/conformance_vs_tempest.py \\
        [--service compute --service image ...] [--tempest-concurrency 2] [--json FILE]

Both cover the same capabilities of the guideline (the conformance suite's
coverage table and Tempest's required tests per service); the target is
ours / Tempest <= 0.5. Each run's own exit status is printed: a failing run
is reported, its time still counts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = {"identity": "conformance/identity", "image": "conformance/image", "compute": "conformance/compute",
         "network": "conformance/network", "block-storage": "conformance/volume"}
CLOUDS = ["--cloud", "octoprobe", "--admin-cloud", "octoprobe-admin", "--alt-cloud", "octoprobe-alt"]


def timed(argv: list[str], log: Path, timeout: float) -> tuple[float, int]:
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    return time.monotonic() - start, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", action="append", choices=sorted(PARTS),
                        help="services to compare (default: all five)")
    parser.add_argument("--tempest-concurrency", type=int, default=2)
    parser.add_argument("--workers", default="auto", help="pytest-xdist -n for the parallel run (default auto)")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/octoprobe-bench-conformance"))
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    services = args.service or list(PARTS)
    args.logs.mkdir(parents=True, exist_ok=True)
    paths = [PARTS[s] for s in services]
    py = sys.executable
    runs = {
        "conformance serial": [py, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", *CLOUDS],
        f"conformance -n {args.workers}": [py, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider",
                                           "-n", args.workers, *CLOUDS],
        f"tempest (concurrency {args.tempest_concurrency})": [
            py, "-m", "octoprobe.cli", "tempest", *CLOUDS, "--concurrency", str(args.tempest_concurrency),
            "--workdir", str(args.logs / "tempest"), *[a for s in services for a in ("--service", s)]],
    }
    results = {}
    for name, argv in runs.items():
        print(f"{name} …", flush=True)
        seconds, code = timed(argv, args.logs / (name.split()[0] + ("-n" if "-n" in name else "") + ".log"),
                              args.timeout)
        results[name] = {"seconds": round(seconds, 1), "exit": code}
        print(f"  {seconds:7.1f} s  (exit {code})", flush=True)
    tempest = next(v["seconds"] for k, v in results.items() if k.startswith("tempest"))
    print(f"services: {', '.join(services)}")
    for name, value in results.items():
        if not name.startswith("tempest"):
            ratio = value["seconds"] / tempest
            value["ratio_to_tempest"] = round(ratio, 2)
            print(f"{name:28s} {value['seconds']:7.1f} s  ours / Tempest = {ratio:.2f} (target <= 0.5)")
    if args.json:
        args.json.write_text(json.dumps({"services": services, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
