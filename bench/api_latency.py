#!/usr/bin/env python3
"""Benchmark the reference cloud's OpenStack API on this machine.

Measures, in one run:
  * latency (p50, p99) of a token issue (``POST /identity/v3/auth/tokens``),
    sequential, N requests;
  * latency (p50, p99) of ``GET /compute/v2.1/servers/detail`` with S servers
    in the project (default 100; each is created through the API, waited
    for until ACTIVE — QEMU runs it — then stopped, so 100 real servers fit
    on a small machine);
  * requests per second with C concurrent clients (default 16), each
    issuing ``GET /servers/detail`` and ``GET /identity/v3/auth/catalog``
    in a loop for a few seconds;
  * ``openstack floating ip set --port`` → first SSH login through the
    floating IP, median of R runs (``--only fip`` measures just that);
  * ``openstack server create --wait`` → first SSH login with the keypair,
    median of R runs, to compare with the compute library's own figure
    (``bench/compute_boot.py``): the API should add little.

It brings up its own cloud with ``octoprobe cloud up`` (prefix ``octp``,
underlay 198.18.32.0/24, 3 racks with a storage host each, 2 compute
hosts), its own clouds.yaml, and removes everything at the end.
Needs root, QEMU and Ceph (see the README).

    sudo .venv/bin/python bench/api_latency.py [--servers 100] [--clients 16] [--boots 5] [--json out.json] [--only fip]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration" / "api"))

from apilab import small_topology  # noqa: E402

PREFIX = "octp"
TOPOLOGY = small_topology("198.18.32.0/24", "fd6f:6374:6f32::/64")

def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.state = work / "state"
        self.clouds_yaml = work / "clouds.yaml"
        self.env = {**os.environ, "OCTOPROBE_PREFIX": PREFIX, "OCTOPROBE_STATE_DIR": str(self.state),
                    "OCTOPROBE_CLOUDS_YAML": str(self.clouds_yaml), "OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml),
                    # the scheduler counts a stopped server's RAM, as Nova does; at most one batch
                    # runs at a time, so each compute host may book more than the 4 GiB default
                    "OCTOPROBE_COMPUTE_RAM_MB": os.environ.get("OCTOPROBE_COMPUTE_RAM_MB", "12288")}
        self.bin = Path(sys.executable).parent

    def cloud(self, *args: str) -> None:
        subprocess.run([str(self.bin / "octoprobe"), "cloud", *args], env=self.env, check=True,
                       stdout=sys.stderr, timeout=900)

    def openstack(self, *args: str, json_out: bool = True):
        argv = [str(self.bin / "openstack"), "--os-cloud", "octoprobe", *args] + (["-f", "json"] if json_out else [])
        out = subprocess.run(argv, env=self.env, check=True, capture_output=True, text=True, timeout=600).stdout
        return json.loads(out) if json_out else out

    @property
    def auth(self) -> dict:
        return yaml.safe_load(self.clouds_yaml.read_text())["clouds"]["octoprobe"]["auth"]

    @property
    def base(self) -> str:
        return self.auth["auth_url"].rsplit("/identity", 1)[0]

    def token_body(self) -> dict:
        a = self.auth
        return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": a["username"], "domain": {"name": "Default"}, "password": a["password"]}}},
            "scope": {"project": {"name": a["project_name"], "domain": {"name": "Default"}}}}}

    def token(self) -> str:
        r = requests.post(self.base + "/identity/v3/auth/tokens", json=self.token_body(), timeout=30)
        r.raise_for_status()
        return r.headers["X-Subject-Token"]


def measure_token_issue(b: Bench, n: int) -> dict:
    session = requests.Session()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = session.post(b.base + "/identity/v3/auth/tokens", json=b.token_body(), timeout=30)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 201, r.text
    return {"n": n, "p50_ms": round(pct(times, 0.5), 2), "p99_ms": round(pct(times, 0.99), 2)}


def raise_quota(b: Bench, project_id: str, instances: int) -> None:
    """The default quota is 10 instances: the admin lifts it for the run."""
    argv = [str(b.bin / "openstack"), "--os-cloud", "octoprobe-admin", "quota", "set", "--instances",
            str(instances), "--cores", str(2 * instances), "--ram", str(256 * instances), project_id]
    subprocess.run(argv, env=b.env, check=True, capture_output=True, text=True, timeout=120)


def wait_all(nova: str, headers: dict, ids: list[str], status: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending:
        for sid in list(pending):
            s = requests.get(f"{nova}/servers/{sid}", headers=headers, timeout=30).json()["server"]
            if s["status"] == status:
                pending.discard(sid)
            elif s["status"] == "ERROR":
                raise RuntimeError(f"server {sid} is ERROR: {s.get('fault')}")
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} servers not {status} after {timeout:g}s")
        time.sleep(0.5)


def create_stopped_servers(b: Bench, token: str, count: int, batch: int = 10) -> list[str]:
    """``count`` real servers, in batches: created, ACTIVE (QEMU runs them), stopped."""
    headers = {"X-Auth-Token": token}
    nova = b.base + "/compute/v2.1"
    image = next(i for i in requests.get(b.base + "/image/v2/images", headers=headers, timeout=30).json()["images"]
                 if i["name"] == "octoprobe-guest")
    ids: list[str] = []
    t0 = time.monotonic()
    while len(ids) < count:
        wave = []
        for i in range(len(ids), min(count, len(ids) + batch)):
            r = requests.post(nova + "/servers", headers=headers, timeout=60, json={"server": {
                "name": f"bench-{i:03d}", "imageRef": image["id"], "flavorRef": "1"}})
            assert r.status_code == 202, r.text
            wave.append(r.json()["server"]["id"])
        wait_all(nova, headers, wave, "ACTIVE")
        for sid in wave:
            r = requests.post(f"{nova}/servers/{sid}/action", headers=headers, json={"os-stop": None}, timeout=60)
            assert r.status_code == 202, r.text
        wait_all(nova, headers, wave, "SHUTOFF")
        ids += wave
        log(f"{len(ids)}/{count} servers created and stopped ({time.monotonic() - t0:.0f}s)")
    return ids


def measure_list(b: Bench, token: str, n: int) -> dict:
    session = requests.Session()
    times = []
    count = 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = session.get(b.base + "/compute/v2.1/servers/detail", headers={"X-Auth-Token": token}, timeout=60)
        times.append((time.perf_counter() - t0) * 1000)
        count = len(r.json()["servers"])
    return {"n": n, "servers": count, "p50_ms": round(pct(times, 0.5), 2), "p99_ms": round(pct(times, 0.99), 2)}


def measure_rps(b: Bench, token: str, clients: int, seconds: float, path: str) -> dict:
    done = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def worker(k: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            r = session.get(b.base + path, headers={"X-Auth-Token": token}, timeout=60)
            if r.status_code == 200:
                done[k] += 1
            else:
                errors[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return {"path": path, "clients": clients, "seconds": round(wall, 1), "rps": round(sum(done) / wall, 1),
            "errors": sum(errors)}


def open_ssh(b: Bench) -> None:
    """TCP 22 open in the project's default security group, through Neutron."""
    rules = b.openstack("security", "group", "rule", "list", "default", "--protocol", "tcp")
    have = {r["Ethertype"] for r in rules if str(r.get("Port Range", "")).startswith("22")}
    for ethertype in {"IPv4", "IPv6"} - have:
        b.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "tcp", "--dst-port", "22",
                    "--ethertype", ethertype, "default")


def bench_key(b: Bench):
    import paramiko

    key_file = b.work / "bench-key"
    if not key_file.exists():
        b.openstack("keypair", "create", "--private-key", str(key_file), "bench-key")
    return paramiko.PKey.from_path(str(key_file))


def measure_fip_to_ssh(b: Bench, runs: int) -> dict:
    """``openstack floating ip set --port`` → first SSH login through the
    floating IP (from the machine), median of ``runs``, on one booted server;
    the CLI call's own duration is reported apart."""
    from octoprobe.reference_impl.compute.guest_ssh import wait_for_ssh

    pkey = bench_key(b)
    open_ssh(b)
    server = b.openstack("server", "create", "--image", "octoprobe-guest", "--flavor", "m1.nano",
                         "--key-name", "bench-key", "--wait", "fip-bench")
    v6 = [a for addrs in server_addresses(b, server["id"]) for a in addrs if ":" in a]
    with wait_for_ssh(v6[0], pkey, timeout=180) as ssh:  # the guest is up before the clock starts
        ssh.run("true")
    port = b.openstack("port", "list", "--server", server["id"])[0]["ID"]
    totals, cli = [], []
    try:
        for i in range(runs):
            fip = b.openstack("floating", "ip", "create", "public")
            t0 = time.monotonic()
            b.openstack("floating", "ip", "set", "--port", port, fip["id"], json_out=False)
            t_cli = time.monotonic() - t0
            with wait_for_ssh(fip["floating_ip_address"], pkey, timeout=120) as ssh:
                ssh.run("true")
            total = time.monotonic() - t0
            totals.append(total)
            cli.append(t_cli)
            log(f"floating IP {i}: CLI returned after {t_cli:.2f}s, SSH login through it after {total:.2f}s")
            b.openstack("floating", "ip", "delete", fip["id"], json_out=False)
    finally:
        b.openstack("server", "delete", "--wait", server["id"], json_out=False)
    return {"runs": runs, "median_s": round(statistics.median(totals), 2), "all_s": [round(t, 2) for t in totals],
            "cli_median_s": round(statistics.median(cli), 2)}


def measure_boot_to_ssh(b: Bench, runs: int) -> dict:
    from octoprobe.reference_impl.compute.guest_ssh import wait_for_ssh

    pkey = bench_key(b)
    open_ssh(b)
    totals = []
    for i in range(runs):
        t0 = time.monotonic()
        server = b.openstack("server", "create", "--image", "octoprobe-guest", "--flavor", "m1.nano",
                             "--key-name", "bench-key", "--wait", f"boot-{i}")
        active = time.monotonic() - t0
        v6 = [a for addrs in server_addresses(b, server["id"]) for a in addrs if ":" in a]
        with wait_for_ssh(v6[0], pkey, timeout=180) as ssh:
            ssh.run("true")
        total = time.monotonic() - t0
        totals.append(total)
        log(f"boot {i}: ACTIVE (CLI returned) after {active:.2f}s, SSH login after {total:.2f}s")
        b.openstack("server", "delete", "--wait", server["id"], json_out=False)
    return {"runs": runs, "median_s": round(statistics.median(totals), 2), "all_s": [round(t, 2) for t in totals]}


def server_addresses(b: Bench, server_id: str) -> list[list[str]]:
    server = b.openstack("server", "show", server_id)
    addresses = server["addresses"]
    if isinstance(addresses, str):  # older CLIs print "net=a, b"
        return [[a.strip() for a in part.split("=", 1)[1].split(",")] for part in addresses.split(";")]
    return [[a["addr"] if isinstance(a, dict) else a for a in v] for v in addresses.values()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--boots", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", choices=["fip"], help="only this measurement (fip: floating ip set → SSH)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="octoprobe-api-bench-"))
    (work / "topology.yaml").write_text(yaml.safe_dump(TOPOLOGY))
    b = Bench(work)
    results: dict = {}
    try:
        b.cloud("down", "--purge")
        b.cloud("up", "--topology", str(work / "topology.yaml"))
        results["fip_to_ssh"] = measure_fip_to_ssh(b, args.boots)
        log(f"floating ip set --port -> SSH: {results['fip_to_ssh']}")
        if args.only == "fip":
            return finish(results, args.json)
        results["token_issue"] = measure_token_issue(b, args.tokens)
        log(f"token issue: {results['token_issue']}")
        token = b.token()
        results["boot_to_ssh"] = measure_boot_to_ssh(b, args.boots)
        log(f"server create --wait -> SSH: {results['boot_to_ssh']}")
        raise_quota(b, b.openstack("token", "issue")["project_id"], args.servers + 10)
        create_stopped_servers(b, token, args.servers)
        results["servers_detail"] = measure_list(b, token, 100)
        log(f"GET /servers/detail: {results['servers_detail']}")
        results["rps_servers_detail"] = measure_rps(b, token, args.clients, args.seconds, "/compute/v2.1/servers/detail")
        results["rps_catalog"] = measure_rps(b, token, args.clients, args.seconds, "/identity/v3/auth/catalog")
        log(f"rps: {results['rps_servers_detail']} {results['rps_catalog']}")
    finally:
        b.cloud("down", "--purge")
    return finish(results, args.json)


def finish(results: dict, path: Path | None) -> int:
    print(json.dumps(results, indent=2))
    if path:
        path.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
