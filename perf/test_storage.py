"""Storage throughput: fio's four standard workloads (4 KiB random read and
write at queue depth 32, 4 MiB sequential read and write), against an RBD
image through librbd (fio's rbd engine, from the machine running the suite,
which needs Ceph access) and inside a VM against an attached volume (libaio,
direct I/O).

Beside fio's seqwrite-4m, ``rbd bench`` writes the same image the same way in
the same run: ``fio.rbd.seqwrite-4m.bw_vs_rbd_bench`` is fio's bandwidth
over Ceph's own tool's, to show the wrapper costs nothing.
"""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import pytest

from octoprobe.perf.fio import (
    WORKLOADS,
    FileTarget,
    RbdTarget,
    check_fio_version,
    fio_argv,
    fio_commands,
    fio_samples,
    prefill_argv,
    run_fio,
)
from octoprobe.perf.rbd_bench import parse_rbd_bench, rbd_bench_argv
from octoprobe.perf.theory import efficiency, storage_bound
from octoprobe.perf.tools import ToolMissing, local_runner

ENVIRONMENT = "octoprobe.environment"


def _size(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not m:
        raise pytest.UsageError(f"--perf-fio-size {text!r}: expected e.g. 256M or 1G")
    return int(m[1]) * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[m[2].upper()]


def _fio_timeout(opt: Any) -> float:
    return opt.perf_duration + opt.perf_ramp + 300.0


def _local_version(argv: list[str], tool: str) -> str:
    try:
        code, out, err = local_runner(argv, 30)
    except ToolMissing as exc:
        pytest.skip(str(exc))
    if code == 127:
        pytest.skip(str(ToolMissing(tool)))
    assert code == 0, f"{' '.join(argv)}: exit {code}: {err.strip()}"
    return out.strip()


@pytest.fixture(scope="module")
def rbd_image(rbd, run, pytestconfig):
    """A run-tagged RBD image for fio, removed at the end."""
    pool = pytestconfig.option.perf_rbd_pool
    name = run.name("perf-fio")
    size = _size(pytestconfig.option.perf_fio_size)
    rbd.create(pool, name, size)
    yield pool, name, size
    rbd.remove(pool, name, timeout=600)


@pytest.mark.gate("rbd_seqwrite_bw", "fio_vs_rbd_bench")
def test_fio_rbd(rbd_image, rbd, ceph_access, samples, pytestconfig, record_property, perf_phase, request):
    conf, user = ceph_access
    pool, name, size = rbd_image
    opt = pytestconfig.option
    target = RbdTarget(pool, name, client=user, conf=str(conf))
    timeout = _fio_timeout(opt)
    fio_version = _local_version(["fio", "--version"], "fio")
    check_fio_version(fio_version)
    ceph_version = _local_version(["rbd", "--version"], "rbd").split()
    record_property(ENVIRONMENT, {"versions": {"fio": fio_version, "ceph client": " ".join(ceph_version[2:3])}})
    meta = {"pool": pool, "image_size": size, "client": f"client.{user}"}
    perf_phase("prefill")
    run_fio(local_runner, prefill_argv(target, size=size), timeout)  # both tools then overwrite allocated data
    rbd_bw, fio_bw = [], []
    rounds = 3
    for round_ in range(rounds):  # interleaved, in alternating order, so both see the same cluster
        perf_phase(f"rbd bench vs fio seqwrite-4m, round {round_ + 1}/{rounds}")
        for tool in (("fio", "rbd") if round_ % 2 else ("rbd", "fio")):
            if tool == "rbd":
                # as much data as fio writes in its run, so both last about as long
                total = max(size, int((fio_bw[-1] if fio_bw else 2 * size) * opt.perf_duration) >> 22 << 22)
                bench = parse_rbd_bench(rbd.run(*rbd_bench_argv(
                    f"{pool}/{name}", io_type="write", io_size=4 << 20,
                    threads=WORKLOADS["seqwrite-4m"].iodepth, total=total)[1:], timeout=timeout).stdout)
                rbd_bw.append(bench.ops_per_s * (4 << 20))
                samples.add("rbd_bench.seqwrite-4m.bw", rbd_bw[-1], "B/s", round=round_, **meta)
            else:
                result = run_fio(local_runner, fio_argv("seqwrite-4m", target, runtime=opt.perf_duration,
                                                        ramp=opt.perf_ramp, size=size), timeout)
                write = result.jobs[0].write
                assert write is not None and write.bw_bytes > 0, "fio wrote nothing"
                fio_bw.append(write.bw_bytes)
                samples.extend(fio_samples(result, "rbd", "seqwrite-4m", round=round_, **meta))
    # what each tool can reach: the best of its interleaved rounds, so a moment of load from
    # elsewhere on the machine does not count against one of them
    ratio = max(fio_bw) / max(rbd_bw)
    samples.add("fio.rbd.seqwrite-4m.bw_vs_rbd_bench", ratio, "ratio", rounds=rounds, **meta)
    print(f"seqwrite-4m, best of {rounds}: fio {max(fio_bw) / 2**20:.0f} MiB/s, rbd bench "
          f"{max(rbd_bw) / 2**20:.0f} MiB/s, ratio {ratio:.2f} (medians {statistics.median(fio_bw) / 2**20:.0f} / "
          f"{statistics.median(rbd_bw) / 2**20:.0f} MiB/s)")
    for workload in ("randwrite-4k", "randread-4k", "seqread-4m"):
        perf_phase(f"fio {workload} via rbd")
        for argv in fio_commands(workload, target, runtime=opt.perf_duration, ramp=opt.perf_ramp, size=size):
            result = run_fio(local_runner, argv, timeout)
        samples.extend(fio_samples(result, "rbd", workload, **meta))
    _report(samples, "rbd")
    _efficiency(request, samples, pool)


def _efficiency(request, samples, pool: str) -> None:
    """With an inventory and --disk-throughput: each sequential figure over the
    hardware bound (disks x per-disk throughput / replication for writes, capped
    by the client's link)."""
    opt = request.config.option
    if not (opt.octoprobe_inventory and opt.disk_throughput):
        print("no hardware bound for the RBD figures: give --inventory and --disk-throughput")
        return
    disks = sum(len(node.osds) for node in request.getfixturevalue("inventory").nodes())
    if not disks:
        print("no hardware bound: the inventory lists no OSDs")
        return
    replication = request.getfixturevalue("ceph").pool(pool).size
    for workload, write in (("seqwrite-4m", True), ("seqread-4m", False)):
        bound = storage_bound(disks, opt.disk_throughput, replication, nic_bps=opt.link_speed, write=write)
        for sample in samples.of(f"fio.rbd.{workload}.bw"):
            samples.add(f"fio.rbd.{workload}.efficiency", efficiency(sample.value, bound), "ratio",
                        bound_bytes_per_s=bound, disks=disks, replication=replication)


def _report(samples, where: str) -> None:
    for workload in WORKLOADS:
        bw = samples.of(f"fio.{where}.{workload}.bw")
        iops = samples.of(f"fio.{where}.{workload}.iops")
        assert bw and iops, f"fio {workload} via {where} produced no bandwidth or IOPS"
        assert all(s.value > 0 for s in bw + iops), f"fio {workload} via {where}: zero throughput"
        print(f"fio {where} {workload}: {bw[-1].value / 2**20:.1f} MiB/s, {iops[-1].value:.0f} IOPS")


def _guest_disks(shell) -> dict[str, int]:
    """The guest's block devices: name -> size in bytes."""
    code, out, err = shell(["lsblk", "-b", "-d", "-n", "-o", "NAME,SIZE"], 60)
    assert code == 0, f"lsblk in the guest: exit {code}: {err}"
    return {p[0]: int(p[1]) for p in (line.split() for line in out.splitlines()) if len(p) == 2}


def _new_disk(shell, before: dict[str, int], size_bytes: int, timeout: float = 120.0) -> str:
    """The disk of ``size_bytes`` that appeared in the guest after ``before``
    (the API says in-use before the guest's kernel has seen the hot-plug)."""
    deadline = time.monotonic() + timeout
    while True:
        now = _guest_disks(shell)
        new = [name for name, size in now.items() if name not in before and size == size_bytes]
        if new:
            return f"/dev/{new[0]}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no new {size_bytes}-byte disk in the guest {timeout:g} s after the attach; "
                                 f"before: {before}, now: {now}")
        time.sleep(1.0)


@pytest.mark.gate("vm_randwrite_iops")
def test_fio_in_vm(perf_cloud, module_resources, samples, pytestconfig, perf_phase):
    from octoprobe.perf.boot import measure_boot

    opt = pytestconfig.option
    cloud = perf_cloud.using(module_resources)
    perf_phase("boot")
    timeline = measure_boot(cloud.boot("fio"), timeout=opt.perf_boot_timeout)
    server = cloud.server(timeline.server_id)
    shell = cloud.shell(server)
    before = _guest_disks(shell)
    perf_phase("attach a volume")
    volume, device = cloud.attach_volume(server, opt.perf_volume_size)
    try:
        disk = _new_disk(shell, before, opt.perf_volume_size * 2**30)
        code, out, _ = shell(["fio", "--version"], 30)
        if code == 127 or "not found" in out:
            pytest.skip(f"fio is not installed in image {perf_cloud.image.name}: use an image with fio "
                        "(--perf-image)")
        check_fio_version(out.strip())
        meta = {"image": perf_cloud.image.name, "flavor": perf_cloud.flavor.name, "volume_gb": opt.perf_volume_size,
                "device": disk, "api_device": device}
        for workload in ("seqwrite-4m", "randwrite-4k", "randread-4k", "seqread-4m"):
            perf_phase(f"fio {workload} in the VM")
            result = None
            for argv in fio_commands(workload, FileTarget(disk), runtime=opt.perf_duration, ramp=opt.perf_ramp,
                                     size=None):
                result = run_fio(shell, argv, _fio_timeout(opt), where=f"server {server.id}")
            samples.extend(fio_samples(result, "vm", workload, **meta))
        _report(samples, "vm")
    finally:
        shell.close()
