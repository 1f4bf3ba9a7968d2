"""VM continuity: a VM doing disk I/O while a disk (or a whole storage node)
holding its data dies keeps running, its I/O resumes, and nothing it saw
acknowledged is lost.

    pytest chaos/test_vm.py --cloud octoprobe --reference-state-dir DIR --reference-prefix PFX [--chaos-results OUT]

Needs both the chaos target (the reference cloud's Ceph, to break it) and the
cloud's API (``--cloud``: a server is booted from ``octoprobe-guest`` with a
run-tagged keypair on the project's network, a 1 GiB volume attached). In
the guest a writer (:mod:`octoprobe.chaos.vm`) writes checksummed 4 KiB
blocks to the raw volume with O_DIRECT + fsync and logs each acknowledged
write. The fault hits the OSD that is primary for the RBD object the writer
is writing (``ceph osd map``), or that OSD's host, and lasts until Ceph has
marked it down and out, the PGs are active again and the guest has had
writes acknowledged since the injection; then it is healed, the cluster
must return to active+clean, and every acknowledged block is read back —
through the guest (O_DIRECT) and straight from RADOS — and verified.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from octoprobe.ceph import ClusterStatus
from octoprobe.ceph.rbd import RbdClient
from octoprobe.chaos.measure import ClusterMonitor, MonitorTimeout, measure
from octoprobe.chaos.report import timeline_report
from octoprobe.chaos.vm import (
    GuestBlockWriter,
    GuestError,
    estimate_offset,
    io_stats,
    read_rbd_range,
    verify_blocks,
    write_records,
)
from octoprobe.config_yaml import ConfigError
from octoprobe.faults import DISK, NODE, FaultSpec
from octoprobe.report.results import TIMELINE_PROPERTY
from octoprobe.samples import Sample
from octoprobe.shell import CommandError, LocalRunner

IMAGE = "octoprobe-guest"
VOLUME_GB = 1
VOLUMES_POOL = "volumes"
BLOCK_SIZE = 4096
WRITE_INTERVAL = 0.15  # seconds between the guest's writes (each takes ~10 ms on a healthy cluster)
BEFORE_ACKS = 15  # acknowledged writes before the fault
RESUMED_ACKS = 10  # acknowledged writes after the injection before the fault is healed
BOOT_TIMEOUT = 300.0
DETECT_TIMEOUT = 60.0
OUT_TIMEOUT = 120.0  # down → out: mon_osd_down_out_interval (10 s on the reference cloud) and slack
RESUME_TIMEOUT = 180.0
PEER_TIMEOUT = 120.0
STOP_TIMEOUT = 120.0
GUEST_CMD_TIMEOUT = 60.0


def _whole(s: ClusterStatus) -> bool:
    return s.clean and s.osds.up == s.osds.num_osds == s.osds.in_


# ---------------------------------------------------------------- fixtures


@dataclass
class VmUnderTest:
    cloud: Any  # octoprobe.perf.cloud.PerfCloud
    server: Any
    shell: Any  # octoprobe.perf.guest.GuestShell
    volume: Any
    device: str  # the volume as the guest sees it (/dev/vdX)
    image_id: str  # its RBD image's id (rbd_data.<id>.*)
    object_size: int
    boot: dict[str, float]


def _guest_disks(shell) -> dict[str, int]:
    code, out, err = shell(["lsblk", "-b", "-d", "-n", "-o", "NAME,SIZE"], GUEST_CMD_TIMEOUT)
    assert code == 0, f"lsblk in the guest: exit {code}: {err}"
    return {p[0]: int(p[1]) for p in (line.split() for line in out.splitlines()) if len(p) == 2}


def _new_disk(shell, before: dict[str, int], size: int, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        now = _guest_disks(shell)
        new = [name for name, n in now.items() if name not in before and n == size]
        if new:
            return f"/dev/{new[0]}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no new {size}-byte disk in the guest {timeout:g}s after the attach; "
                                 f"before: {before}, now: {now}")
        time.sleep(1.0)


@pytest.fixture(scope="module")
def vm_conn(request: pytest.FixtureRequest, chaos_target: Any) -> Any:
    """The cloud API's connection, or a skip saying why there is none."""
    from octoprobe.plugin import STATE

    if request.config.option.chaos_dry_run:
        pytest.skip("dry run: no server is booted and nothing is injected")
    try:
        request.config.stash[STATE].resolve("cloud")
    except ConfigError as exc:
        pytest.skip(f"VM continuity needs the cloud's API as well as its Ceph: give --cloud NAME (a clouds.yaml "
                    f"entry of the same cloud; the reference cloud writes its entries to $OCTOPROBE_CLOUDS_YAML): "
                    f"{exc}")
    try:
        conn = request.getfixturevalue("conn")
        conn.authorize()  # reachable, and the credentials work
    except Exception as exc:  # noqa: BLE001 - any failure to reach the API means: not available
        pytest.skip(f"VM continuity needs the cloud's API, which is not available: {type(exc).__name__}: {exc}")
    return conn


@pytest.fixture(scope="module")
def vm(vm_conn: Any, chaos_target: Any, run: Any, module_resources: Any) -> Any:
    """A server booted from octoprobe-guest with a 1 GiB volume attached,
    shared by the module's scenarios; deleted at the end of the module."""
    from octoprobe.perf.boot import BootFailed, measure_boot
    from octoprobe.perf.cloud import PerfCloud, PerfError, PerfSettings

    try:
        cloud = PerfCloud(vm_conn, run, module_resources, PerfSettings(image=IMAGE, boot_timeout=BOOT_TIMEOUT))
    except PerfError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        timeline = measure_boot(cloud.boot("chaos-vm"), timeout=BOOT_TIMEOUT)
    except BootFailed as exc:
        pytest.fail(f"the VM did not boot: {exc}", pytrace=False)
    server = cloud.server(timeline.server_id)
    shell = cloud.shell(server)
    try:
        before = _guest_disks(shell)
        volume, _ = cloud.attach_volume(server, VOLUME_GB)
        device = _new_disk(shell, before, VOLUME_GB * 2**30)
        rbd = RbdClient(LocalRunner(), conf=chaos_target.conf, timeout=60)
        try:
            info = rbd.info(VOLUMES_POOL, f"volume-{volume.id}")
        except CommandError as exc:
            pytest.fail(f"volume {volume.id} has no RBD image {VOLUMES_POOL}/volume-{volume.id} in the chaos "
                        f"target's Ceph ({chaos_target.description}): are --cloud and --reference-state-dir the "
                        f"same cloud? ({exc})", pytrace=False)
        yield VmUnderTest(cloud, server, shell, volume, device, info.id, info.object_size or 2**info.order,
                          dict(timeline.phases))
    finally:
        shell.close()


# ---------------------------------------------------------------- the scenario


@dataclass
class VmResult:
    name: str
    data: dict[str, Any]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        d = self.data
        lines = [f"scenario {self.name}: {'PASSED' if self.passed else 'FAILED'} in {d['wall_s']:.0f}s; "
                 f"fault {d.get('fault')}", f"vm I/O: {d.get('vm_io')}", f"check (guest): {d.get('check')}",
                 f"check (rados): {d.get('check_rados')}", f"measurements: {d.get('measurements')}"]
        lines += [f"FAILURE: {f}" for f in self.failures]
        lines += [f"note: {n}" for n in d.get("notes", [])]
        return "\n".join(lines)


def _victim(chaos: Any, vm: VmUnderTest, seq: int, kind: str) -> tuple[FaultSpec, dict[str, Any]]:
    """The primary OSD of the RBD object block ``seq`` is in (or its host)."""
    obj = f"rbd_data.{vm.image_id}.{seq * BLOCK_SIZE // vm.object_size:016x}"
    mapping = chaos.target.client.command("osd", "map", VOLUMES_POOL, obj)
    primary = int(mapping["acting_primary"])
    info = {"object": obj, "pg": mapping.get("pgid"), "acting": mapping.get("acting"), "primary_osd": primary}
    if kind == DISK:
        return FaultSpec(DISK, (f"osd.{primary}",)), info
    host = chaos.target.client.osd_tree().osd(primary).host
    info["host"] = host
    return FaultSpec(NODE, (host,)), info


def _write_result(config: pytest.Config, name: str, data: dict) -> None:
    out = config.option.chaos_results
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")


def run_vm_scenario(name: str, kind: str, vm: VmUnderTest, chaos: Any, request: pytest.FixtureRequest,
                    scratch: Path) -> VmResult:
    started = time.monotonic()
    c = chaos.config
    client = chaos.target.client
    failures: list[str] = []
    notes: list[str] = []
    data: dict[str, Any] = {"name": name, "server": vm.server.id, "volume": vm.volume.id, "device": vm.device,
                            "boot_s": vm.boot, "notes": notes}
    say = chaos.say

    say(f"{name}: preflight: waiting for active+clean")
    pre = ClusterMonitor(client, interval=c.poll_interval).start()
    try:
        pre.wait_progressing(_whole, no_progress=c.no_progress_timeout, max_duration=c.max_recovery,
                             what="before the scenario, every OSD up and in and every PG active+clean",
                             stable=c.clean_stable / 2)
    finally:
        pre.stop()
    baseline = client.status()
    run = f"{name}-{secrets.token_hex(3)}"
    blocks = vm.object_size // BLOCK_SIZE  # every write lands in one RBD object: one PG, one acting set
    writer = GuestBlockWriter(vm.shell, device=vm.device, run=run, block_size=BLOCK_SIZE, count=blocks,
                              interval=WRITE_INTERVAL, max_seconds=int(c.max_recovery) + 600,
                              command_timeout=GUEST_CMD_TIMEOUT)
    boot_id = writer.boot_id()
    monitor = ClusterMonitor(client, interval=c.poll_interval)
    guard = chaos.guard
    fault = None
    t_inject = t_heal = None
    offset = 0.0
    log = None
    try:
        say(f"{name}: starting the block writer in the guest on {vm.device} ({blocks} blocks of {BLOCK_SIZE} B max)")
        writer.start()
        log = writer.wait_for_acks(BEFORE_ACKS, timeout=120)
        spec, victim = _victim(chaos, vm, log.acked[-1].seq, kind)
        data["victim"] = victim
        data["fault"] = spec.describe()
        fault = guard.fault(spec)
        data["plan"] = fault.plan().to_dict()
        clock = writer.clock_samples(5)
        offset, uncertainty = estimate_offset(clock)
        data["clock"] = {"offset_s": round(offset, 3), "uncertainty_s": round(uncertainty, 3)}
        monitor.start()
        time.sleep(min(3.0, c.poll_interval * 3))  # a few points of the healthy cluster
        say(f"{name}: injecting {spec.describe()} ({victim})")
        t_inject = guard.inject(fault)
        monitor.mark("inject", spec.describe(), at=t_inject)
        try:
            monitor.wait_until(lambda s: s.osds.up < baseline.osds.up, timeout=DETECT_TIMEOUT,
                               what="the fault's OSDs marked down")
            monitor.wait_until(lambda s: s.osds.in_ < baseline.osds.in_,
                               timeout=OUT_TIMEOUT,
                               what="the fault's OSDs marked out")
            monitor.wait_until(lambda s: s.pgs.inactive == 0, timeout=PEER_TIMEOUT,
                               what="every PG active again (re-peered without the dead OSDs)")
        except MonitorTimeout as exc:
            failures.append(str(exc))
        try:
            writer.wait_for_acks(RESUMED_ACKS, after=t_inject - offset, timeout=RESUME_TIMEOUT)
        except (TimeoutError, GuestError) as exc:
            failures.append(f"the VM's I/O did not resume while the fault lasted: {exc}")
        t_heal = guard.heal(fault)
        monitor.mark("heal", at=t_heal)
        say(f"{name}: healed {spec.describe()}; waiting until every OSD is up and in and every PG active+clean")
        try:
            monitor.wait_progressing(_whole, no_progress=c.no_progress_timeout, max_duration=c.max_recovery,
                                     what="after the heal, every OSD up and in and every PG active+clean",
                                     stable=c.clean_stable)
            monitor.mark("clean")
        except MonitorTimeout as exc:
            failures.append(str(exc))
        try:
            log = writer.stop(STOP_TIMEOUT)
        except (TimeoutError, GuestError) as exc:
            failures.append(f"the guest's writer: {exc}")
            log = writer.log()
        clock_after = writer.clock_samples(5)
        offset_after, _ = estimate_offset(clock_after)
        data["clock"]["drift_s"] = round(offset_after - offset, 3)
        # the VM kept running: the same boot of the guest, and the API says ACTIVE
        data["boot_id_unchanged"] = writer.boot_id() == boot_id
        if not data["boot_id_unchanged"]:
            failures.append("the guest rebooted during the scenario (its boot id changed)")
        status = vm.cloud.server(vm.server.id).status
        data["server_status"] = status
        if status != "ACTIVE":
            failures.append(f"server {vm.server.id} is {status}, not ACTIVE")
        if log.malformed:
            failures.append(f"{len(log.malformed)} malformed lines in the guest's ack log, e.g. {log.malformed[0]!r}")
        written = max((r.seq for r in log.records), default=-1) + 1
        say(f"{name}: reading back {written} blocks through the guest and from RADOS")
        check = verify_blocks(log.records, writer.read_back(written), block_size=BLOCK_SIZE, run=run)
        rados = verify_blocks(log.records, read_rbd_range(
            LocalRunner(), conf=chaos.target.conf, pool=VOLUMES_POOL, image_id=vm.image_id,
            object_size=vm.object_size, length=written * BLOCK_SIZE, scratch=scratch), block_size=BLOCK_SIZE,
            run=run)
        unfound = client.status().objects.unfound
        data["check"] = {**check.to_dict(), "unfound": unfound}
        data["check_rados"] = rados.to_dict()
        if not check.ok or unfound:
            failures.append(f"data read through the guest: {check.summary()}; unfound {unfound}")
        if not rados.ok:
            failures.append(f"data read from RADOS: {rados.summary()}")
    finally:
        try:
            writer.sh(f"touch {writer.directory}/stop")  # never leave it writing
        except Exception:  # noqa: BLE001 - the guest may be unreachable; the server is deleted anyway
            pass
        guard.heal_all()
        timeline = monitor.stop()
    stats = None
    if log is not None and t_inject is not None:
        stats = io_stats(log.records, inject=t_inject - offset, heal=None if t_heal is None else t_heal - offset)
        data["vm_io"] = stats.to_dict()
        if stats.acks_during_fault < RESUMED_ACKS:
            failures.append(f"only {stats.acks_during_fault} of the VM's writes were acknowledged while the fault "
                            f"lasted (want >= {RESUMED_ACKS}: its I/O must resume without the heal)")
        records = write_records(log.records, offset=offset, run=run, block_size=BLOCK_SIZE, inject=t_inject)
        m = measure(timeline, records, baseline_up=baseline.osds.up, baseline_in=baseline.osds.in_)
        data["measurements"] = m.to_dict()
        report = timeline_report(name, timeline, writes=records)
        request.node.user_properties.append((TIMELINE_PROPERTY, report))
        data["timeline"] = timeline.to_dict()
    data["wall_s"] = round(time.monotonic() - started, 3)
    data["passed"] = not failures
    data["failures"] = failures
    result = VmResult(name, data, failures)
    meta = {"scenario": name, "fault": data.get("fault"), "volume_pool": VOLUMES_POOL}
    samples = [Sample("chaos.scenario_wall_time", data["wall_s"], "s", meta)]
    if stats is not None:
        samples += [Sample(metric, float(value), unit, meta) for metric, value, unit in (
            ("chaos.vm.io_stall", stats.stall_s, "s"),
            ("chaos.vm.max_ack_gap", stats.max_gap_s, "s"),
            ("chaos.vm.time_to_first_ack_after_fault", stats.first_ack_after_inject_s, "s"),
            ("chaos.vm.write_latency_max", stats.write_latency_max_s, "s"),
            ("chaos.vm.acks_during_fault", stats.acks_during_fault, "writes"),
            ("chaos.vm.acks_after_fault", stats.acks_after_inject, "writes"),
        ) if value is not None]
        samples += m.samples(**meta)
    if "check" in data:
        ck = data["check"]
        samples += [Sample(f"chaos.vm.{key}", float(ck[key]), "blocks", meta)
                    for key in ("acknowledged", "verified", "lost", "corrupt", "indeterminate")]
        samples.append(Sample("chaos.unfound", float(ck["unfound"]), "objects", meta))
    data["samples"] = [s.to_dict() for s in samples]
    chaos.samples.extend(samples)
    _write_result(request.config, name, data)
    compact = {k: v for k, v in data.items() if k not in ("timeline", "samples", "plan")}
    compact.setdefault("measurements", {})
    compact.setdefault("check", None)
    request.node.user_properties.append(("octoprobe.chaos", compact))
    say(result.summary())
    return result


def _assert_vm_passed(result: VmResult) -> None:
    d = result.data
    check = d.get("check") or {}
    assert (check.get("lost"), check.get("corrupt"), check.get("unfound")) == (0, 0, 0), result.summary()
    assert check.get("acknowledged", 0) > 0 and check.get("verified") == check.get("acknowledged"), result.summary()
    assert d.get("vm_io", {}).get("stall_s") is not None, result.summary()
    assert result.passed, result.summary()


@pytest.mark.chaos_fault("kills the OSD that is primary for a VM's volume data and pulls its disk")
def test_vm_io_resumes_and_loses_nothing_when_a_disk_dies(vm, chaos, request, tmp_path):
    _assert_vm_passed(run_vm_scenario("vm-disk", DISK, vm, chaos, request, tmp_path))


@pytest.mark.chaos_fault("kills every daemon of the storage host of a VM's primary OSD and takes its link down")
def test_vm_io_resumes_and_loses_nothing_when_a_node_dies(vm, chaos, request, tmp_path):
    _assert_vm_passed(run_vm_scenario("vm-node", NODE, vm, chaos, request, tmp_path))
