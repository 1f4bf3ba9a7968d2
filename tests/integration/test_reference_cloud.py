"""The reference cloud against itself: a real Ceph cluster in real namespaces.

The tests share one cloud (see conftest.py) and run in file order; the last
one brings it down and checks that nothing of ours is left.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from octoprobe.ceph import wait_for_clean
from octoprobe.reference_impl import processes

pytestmark = pytest.mark.integration

POOLS = ("images", "vms", "volumes")


def test_status_reports_every_daemon_and_a_healthy_cluster(ref_cloud):
    report = json.loads(ref_cloud.cli("status", "--json").stdout)
    topo = ref_cloud.topology
    assert report["daemons_expected"] == 2 + topo.osd_count() == 10
    assert report["daemons_running"] == report["daemons_expected"]
    assert [h["name"] for h in report["hosts"]] == [h.name for h in topo.hosts()]
    assert all(h["netns_exists"] and h["link"] == "up" for h in report["hosts"])
    ceph = report["ceph"]
    assert ceph["health"] == "HEALTH_OK", ceph["checks"]
    assert ceph["osds"] == {"total": 8, "up": 8, "in": 8}
    assert ceph["pgs"]["by_state"] == {"active+clean": ceph["pgs"]["total"]}
    assert ceph["objects"] == {"degraded": 0, "misplaced": 0, "unfound": 0}
    text = ref_cloud.cli("status").stdout
    assert "HEALTH_OK" in text and "10/10 running" in text


def test_osds_sit_in_their_rack_and_host(ref_cloud):
    osds = {o.id: o for o in ref_cloud.client().osd_tree()}
    layout = ref_cloud.topology.osd_layout()
    assert sorted(osds) == [slot.osd for slot in layout]
    for slot in layout:
        osd = osds[slot.osd]
        assert osd.up and osd.in_, osd
        assert (osd.host, osd.rack, osd.root) == (slot.host, slot.rack, "default")


def test_daemons_bind_to_their_hosts_underlay_address(ref_cloud):
    dump = json.loads(ref_cloud.tool("ceph", "osd", "dump", "--format", "json"))
    for osd in dump["osds"]:
        host = ref_cloud.topology.osd_layout()[osd["osd"]].host
        ip = str(ref_cloud.topology.address_of(host)[0].ip)
        assert osd["public_addr"].startswith(f"{ip}:") or f"{ip}:" in json.dumps(osd["public_addrs"])


def test_pools_are_replicated_three_times_across_racks(ref_cloud):
    pools = {p.name: p for p in ref_cloud.client().pools()}
    for name in POOLS:
        assert pools[name].size == 3 and pools[name].min_size == 2
    rack_of = {slot.osd: slot.rack for slot in ref_cloud.topology.osd_layout()}
    pgs = ref_cloud.client().pgs()
    ours = {pools[n].id for n in POOLS}
    checked = 0
    for pg in pgs:
        if pg.pool_id not in ours:
            continue
        racks = {rack_of[o] for o in pg.acting}
        assert len(pg.acting) == 3 and len(racks) == 3, f"PG {pg.pgid} acting {pg.acting} spans {racks}"
        checked += 1
    assert checked == 3 * ref_cloud.topology.ceph.pg_num


def test_rbd_clone_shares_its_parents_data(ref_cloud, tmp_path):
    rbd = ref_cloud.rbd()
    source = tmp_path / "image.raw"
    source.write_bytes(os.urandom(8 * 2**20))
    rbd.import_file(str(source), "images", "base")
    rbd.snap_create("images", "base", "snap")
    rbd.snap_protect("images", "base", "snap")
    rbd.clone("images", "base", "snap", "vms", "vm-disk")
    info = rbd.info("vms", "vm-disk")
    assert info.parent is not None
    assert (info.parent.pool, info.parent.image, info.parent.snapshot) == ("images", "base", "snap")
    # created without copying: the clone has no objects of its own yet
    du = json.loads(ref_cloud.tool("rbd", "du", "vms/vm-disk", "--format", "json"))
    assert du["images"][0]["used_size"] == 0
    exported = tmp_path / "clone.raw"
    ref_cloud.tool("rbd", "export", "vms/vm-disk", str(exported))
    assert hashlib.sha256(exported.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    rbd.remove("vms", "vm-disk")
    rbd.snap_unprotect("images", "base", "snap")
    rbd.snap_purge("images", "base")
    rbd.remove("images", "base")


def _write_objects(ref_cloud, tmp_path, count: int, size: int) -> dict[str, str]:
    sums = {}
    for i in range(count):
        name = f"obj-{i:03d}"
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        ref_cloud.tool("rados", "-p", "volumes", "put", name, str(path))
        sums[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def _read_objects(ref_cloud, tmp_path, sums: dict[str, str]) -> tuple[list[str], list[str]]:
    lost, corrupt = [], []
    for name, expected in sums.items():
        out = tmp_path / f"{name}.back"
        try:
            ref_cloud.tool("rados", "-p", "volumes", "get", name, str(out))
        except Exception:
            lost.append(name)
            continue
        if hashlib.sha256(out.read_bytes()).hexdigest() != expected:
            corrupt.append(name)
    return lost, corrupt


def _allocated_bytes(ref_cloud) -> int:
    """What the OSDs' sparse block files take on the machine's disk."""
    return sum(p.stat().st_blocks * 512 for p in (ref_cloud.state_dir / "osd").glob("ceph-*/block"))


def test_osd_files_grow_with_the_data_not_with_every_write(ref_cloud):
    # BlueStore cannot hand freed space back to a sparse file; its allocator must reuse it, or every
    # round of writing and removing makes the files bigger until they are whole (8 GiB each)
    def write_and_remove(run: str, seconds: int) -> int:
        out = ref_cloud.tool("rados", "-p", "volumes", "bench", str(seconds), "write", "-b", str(4 << 20), "-t", "2",
                             "--run-name", run, timeout=120)
        objects = int(re.search(r"Total writes made:\s+(\d+)", out).group(1))
        ref_cloud.tool("rados", "-p", "volumes", "cleanup", "--run-name", run, timeout=120)
        return objects * (4 << 20) * 3  # bytes written, three copies

    # the first round, three times as long as the others, sets the data's high-water mark: the later
    # rounds' data fits into the space it freed
    write_and_remove("octoprobe-alloc-0", 6)
    before = _allocated_bytes(ref_cloud)
    written = sum(write_and_remove(f"octoprobe-alloc-{i}", 2) for i in (1, 2, 3))
    grown = _allocated_bytes(ref_cloud) - before
    assert grown < written // 8, (f"the OSD files grew by {grown >> 20} MiB while {written >> 20} MiB (raw) were "
                                  "written and removed again: freed space is not reused")


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_disk_failure_heals_and_loses_nothing(ref_cloud, tmp_path):
    sums = _write_objects(ref_cloud, tmp_path, count=48, size=1 << 20)
    victim = 2  # r2-s1's only OSD
    os.kill(ref_cloud.pid_of(f"osd.{victim}"), signal.SIGKILL)
    client = ref_cloud.client()
    # the monitor marks it down, then out after the down-out interval
    _wait_for(lambda: client.status().osds.up == 7, 60, "osd.2 to be marked down")
    _wait_for(lambda: client.status().osds.in_ == 7, 60, "osd.2 to be marked out")
    result = wait_for_clean(client, no_progress_timeout=90)
    final = client.status()
    assert final.pgs.all_active_clean and final.objects.degraded == 0 and final.objects.unfound == 0
    assert result.timeline, "the wait recorded no timeline"
    lost, corrupt = _read_objects(ref_cloud, tmp_path, sums)
    assert (lost, corrupt) == ([], []), f"lost {lost}, corrupt {corrupt}"


def test_up_repairs_what_a_crash_left(ref_cloud):
    """A dead OSD (the one killed above), a dead manager with a stale pid
    file, and a host namespace gone: `cloud up` brings all of it back."""
    mgr_pid = ref_cloud.pid_of("mgr.ctl")
    os.kill(mgr_pid, signal.SIGKILL)
    # r3-s1's OSD dies with its namespace (a host that lost its network)
    osd4 = ref_cloud.pid_of("osd.4")
    os.kill(osd4, signal.SIGKILL)
    _wait_for(lambda: not processes.alive(osd4) and not processes.alive(mgr_pid), 10, "kills")
    subprocess.run(["ip", "netns", "del", f"{ref_cloud.prefix}-r3-s1"], check=True)
    ref_cloud.cli("up")
    status = ref_cloud.client().status()
    assert status.osds.up == 8 and status.osds.in_ == 8
    assert status.pgs.all_active_clean
    assert ref_cloud.pid_of("mgr.ctl") != mgr_pid


def test_second_up_is_idempotent_and_concurrent_ups_wait(ref_cloud):
    pids = {d: ref_cloud.pid_of(d) for d in ("mon.ctl", "osd.0", "osd.7")}
    procs = [subprocess.Popen([sys.executable, "-m", "octoprobe.cli", "cloud", "up"], env=ref_cloud.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert any("waiting" in out for out in outputs), outputs
    assert {d: ref_cloud.pid_of(d) for d in pids} == pids  # nothing was restarted


def test_down_leaves_nothing_of_ours(ref_cloud):
    conf = ref_cloud.conf
    ref_cloud.cli("down")
    assert processes.find_processes(conf) == []
    netns = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
    assert not [n for n in json.loads(netns or "[]") if n["name"].startswith(f"{ref_cloud.prefix}-")]
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout)
    assert not [link["ifname"] for link in links if link["ifname"].startswith(f"{ref_cloud.prefix}-")]
    # data kept: a warm up brings the same cluster back
    fsid = json.loads((ref_cloud.state_dir / "instance.json").read_text())["fsid"]
    ref_cloud.cli("up")
    assert ref_cloud.client().status().fsid == fsid
    ref_cloud.cli("down", "--purge")
    assert processes.find_processes(conf) == []
    assert not (ref_cloud.state_dir / "osd").exists()
