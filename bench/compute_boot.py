#!/usr/bin/env python3
"""Benchmark the reference cloud's compute layer on this machine.

Measures, in one run (QEMU under whatever accelerator the machine gives: on
the build machines, TCG):
  * create → SSH login of one VM, median of N (default 5), broken into phases:
    clone (RBD clone + resize), QEMU start (the daemonized QEMU is up), kernel
    boot (guest uptime when its userspace starts), network up (DHCP + SLAAC),
    sshd started, SSH login (wall time of the first successful paramiko login);
  * clone cost against image size: a VM created from a 1 GiB and from an 8 GiB
    image (each with 1 GiB of data written), ratio of the clone times; for
    contrast, ``rbd cp`` (a full copy) of each;
  * 10 VMs created at once: time until all answer SSH; RSS per idle QEMU;
  * iperf3 between two VMs on different compute hosts (through VXLAN).

It brings up its own cloud (prefix ``octw``, underlay 198.18.31.0/24, 3 racks
× (1 storage + 1 compute host), OSDs of 8 GiB) and removes it at the end.
Needs root, QEMU and Ceph (see the README).

    sudo .venv/bin/python bench/compute_boot.py [--runs 5] [--many 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration" / "compute"))

from vmlab import TOPOLOGY, VmLab  # noqa: E402

from octoprobe.ceph import RbdClient  # noqa: E402
from octoprobe.reference_impl import processes  # noqa: E402
from octoprobe.reference_impl.compute import parse_guest_phases  # noqa: E402
from octoprobe.reference_impl.compute.guest_ssh import wait_for_ssh  # noqa: E402
from octoprobe.shell import LocalRunner  # noqa: E402

PREFIX = "octw"
UNDERLAY_V4 = "198.18.31.0/24"
UNDERLAY_V6 = "fd6f:6374:6f31::/64"
GiB = 1024 ** 3


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def ssh_login_time(lab, view, net, t0: float, timeout: float = 180.0) -> float:
    with wait_for_ssh(view.ipv4[0], lab.pkey, netns=net.bastion.netns, timeout=timeout) as ssh:
        ssh.run("true")
        return time.monotonic() - t0


def boot_once(lab, net, name: str, *, image_id: str | None = None) -> dict:
    t0 = time.monotonic()
    view = lab.compute.create_server(name, image_id or lab.image_id, "m1.nano", networks=[net.network_id],
                                     security_groups=[net.group_id], public_keys={"bench": lab.public_key})
    created = time.monotonic() - t0
    login = ssh_login_time(lab, view, net, t0)
    guest = parse_guest_phases(lab.compute.console_log(view.id))
    phases = lab.compute.get_server(view.id).phases
    return {"server": view.id, "host": view.host, "create_returned_s": created, "ssh_login_s": login,
            "clone_s": phases["clone"], "config_drive_s": phases["config_drive"], "qemu_start_s": phases["qemu_start"],
            "guest_kernel_boot_s": guest.get("userspace"),
            "guest_network_s": (guest["network"] - guest["userspace"]) if "network" in guest else None,
            "guest_sshd_uptime_s": guest.get("sshd"), "guest_ready_uptime_s": guest.get("ready")}


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows if r.get(key) is not None)


def bench_boot(lab, net, runs: int) -> dict:
    rows = []
    for i in range(runs):
        row = boot_once(lab, net, f"boot-{i}")
        log(f"boot {i}: create→SSH {row['ssh_login_s']:.2f} s (clone {row['clone_s']:.3f} s, QEMU start "
            f"{row['qemu_start_s']:.3f} s, kernel {row['guest_kernel_boot_s']} s, network {row['guest_network_s']:.2f} s)")
        lab.compute.delete_server(row["server"])
        rows.append(row)
    keys = ["ssh_login_s", "create_returned_s", "clone_s", "qemu_start_s", "guest_kernel_boot_s", "guest_network_s",
            "guest_sshd_uptime_s", "guest_ready_uptime_s"]
    return {"runs": rows, "median": {k: round(median(rows, k), 3) for k in keys}}


def make_image(lab, name: str, size: int, data_bytes: int, work: Path) -> str:
    """An image of ``size`` bytes: the guest's root file system (64 MiB), then
    ``data_bytes`` of random data, the rest thin. ``rbd import`` skips the holes."""
    base = lab.compute.get_image(lab.image_id)
    raw = work / f"{name}.raw"
    conf = lab.compute.ceph_conf
    LocalRunner().run(["rbd", "--conf", conf, "export", "--no-progress", f"{base.pool}/{base.rbd_name}@{base.snap}",
                       str(raw)], timeout=600)
    LocalRunner().run(["dd", "if=/dev/urandom", f"of={raw}", "bs=4M", f"count={data_bytes // (4 << 20)}",
                       f"seek={base.size_bytes // (4 << 20)}", "conv=notrunc", "status=none"], timeout=600)
    with open(raw, "r+b") as f:
        f.truncate(size)
    LocalRunner().run(["rbd", "--conf", conf, "import", "--no-progress", str(raw), f"images/{name}"], timeout=1800)
    raw.unlink()
    return lab.compute.register_rbd_image(name, "images", name, kernel_from=lab.image_id).id


def bench_clone_sizes(lab, net, work: Path) -> dict:
    rbd = RbdClient(LocalRunner(), conf=lab.compute.ceph_conf, timeout=1800)
    result = {}
    for label, size in (("1GiB", GiB), ("8GiB", 8 * GiB)):
        log(f"clone: making a {label} image with 1 GiB of data")
        image_id = make_image(lab, f"bench-{label}", size, GiB, work)
        image = lab.compute.get_image(image_id)
        clones = []
        for i in range(3):
            t = time.monotonic()
            rbd.clone(image.pool, image.rbd_name, image.snap, "vms", f"clone-{label}-{i}")
            clones.append(time.monotonic() - t)
            rbd.remove("vms", f"clone-{label}-{i}")
        view = lab.compute.create_server(f"from-{label}", image_id, "m1.small" if size <= 2 * GiB else "bench-8g",
                                         networks=[net.network_id], security_groups=[net.group_id],
                                         public_keys={"bench": lab.public_key})
        server_clone = lab.compute.get_server(view.id).phases["clone"]
        lab.compute.delete_server(view.id)
        t = time.monotonic()
        rbd.run("cp", "--no-progress", f"{image.pool}/{image.rbd_name}", f"vms/fullcopy-{label}")
        full = time.monotonic() - t
        rbd.remove("vms", f"fullcopy-{label}")
        result[label] = {"rbd_clone_s_median": round(statistics.median(clones), 4),
                         "server_clone_phase_s": server_clone, "full_copy_s": round(full, 2),
                         "data_bytes": GiB, "size_bytes": size}
        log(f"clone {label}: clone {result[label]['rbd_clone_s_median']:.3f} s (server create phase "
            f"{server_clone:.3f} s), full copy (rbd cp) {full:.1f} s")
        lab.compute.delete_image(image_id)
    result["clone_ratio_8g_over_1g"] = round(result["8GiB"]["rbd_clone_s_median"] / result["1GiB"]["rbd_clone_s_median"], 3)
    result["full_copy_8g_fully_written_estimate_s"] = round(result["1GiB"]["full_copy_s"] * 8, 1)
    return result


def bench_many(lab, net, count: int) -> dict:
    log(f"{count} VMs at once")
    t0 = time.monotonic()

    def one(i):
        view = lab.compute.create_server(f"many-{i}", lab.image_id, "m1.nano", networks=[net.network_id],
                                         security_groups=[net.group_id], public_keys={"bench": lab.public_key})
        return view, ssh_login_time(lab, view, net, t0, timeout=600)

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(one, range(count)))
    all_ssh = max(t for _, t in results)
    log(f"all {count} answer SSH after {all_ssh:.1f} s; letting them idle 15 s")
    time.sleep(15)
    rss = [processes.rss_bytes(lab.compute.get_server(v.id).qemu_pid) for v, _ in results]
    hosts = sorted({v.host for v, _ in results})
    for v, _ in results:
        lab.compute.delete_server(v.id)
    return {"count": count, "all_ssh_s": round(all_ssh, 2), "first_ssh_s": round(min(t for _, t in results), 2),
            "rss_per_idle_vm_mib_mean": round(statistics.mean(rss) / 2 ** 20, 1),
            "rss_per_idle_vm_mib_max": round(max(rss) / 2 ** 20, 1), "guest_ram_mib": 128, "hosts": hosts}


def bench_iperf(lab, net, seconds: int) -> dict:
    hosts = lab.compute_hosts()
    a = lab.compute.create_server("iperf-a", lab.image_id, "m1.small", networks=[net.network_id],
                                  security_groups=[net.group_id], public_keys={"bench": lab.public_key},
                                  host=hosts[0])
    b = lab.compute.create_server("iperf-b", lab.image_id, "m1.small", networks=[net.network_id],
                                  security_groups=[net.group_id], public_keys={"bench": lab.public_key},
                                  host=hosts[1])
    out = {}
    try:
        for v in (a, b):
            lab.wait_ready(v.id)
        with lab.ssh(a.id, net) as sa, lab.ssh(b.id, net) as sb:
            sa.run("iperf3 -s -D -1 > /dev/null 2>&1 < /dev/null")
            time.sleep(1)
            res = sb.run(f"iperf3 -c {a.ipv4[0]} -t {seconds} -J", timeout=seconds + 60)
        doc = json.loads(res.stdout)
        bps = doc["end"]["sum_received"]["bits_per_second"]
        cpu = doc["end"].get("cpu_utilization_percent", {})
        out = {"gbit_s": round(bps / 1e9, 3), "seconds": seconds, "hosts": [a.host, b.host],
               "sender_cpu_percent": cpu.get("host_total"), "receiver_cpu_percent": cpu.get("remote_total")}
        log(f"iperf3 {a.host} → {b.host}: {bps / 1e6:.0f} Mbit/s")
    finally:
        lab.compute.delete_server(a.id)
        lab.compute.delete_server(b.id)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--many", type=int, default=10)
    ap.add_argument("--iperf-seconds", type=int, default=10)
    ap.add_argument("--skip", action="append", default=[], choices=["boot", "clone", "many", "iperf"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    TOPOLOGY["racks"] = [
        {"name": r["name"], "hosts": [dict(h, osds={"count": 1, "size": "8GiB"}) if "osds" in h else h
                                      for h in r["hosts"]]} for r in TOPOLOGY["racks"]]
    work = Path(tempfile.mkdtemp(prefix="octw-bench-"))
    lab = VmLab(PREFIX, work / "state", UNDERLAY_V4, UNDERLAY_V6)
    report: dict = {}
    try:
        t = time.monotonic()
        lab.up()
        report["cloud_up_s"] = round(time.monotonic() - t, 1)
        report["accel"] = lab.compute.accel()
        lab.compute.create_flavor("bench-8g", 1, 128, 8)
        net = lab.tenant_network("bench", 1)
        if "boot" not in args.skip:
            report["boot"] = bench_boot(lab, net, args.runs)
        if "clone" not in args.skip:
            report["clone"] = bench_clone_sizes(lab, net, work)
        if "many" not in args.skip:
            report["many"] = bench_many(lab, net, args.many)
        if "iperf" not in args.skip:
            report["iperf3"] = bench_iperf(lab, net, args.iperf_seconds)
    finally:
        lab.close()
        report["leftovers"] = lab.leftovers()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
