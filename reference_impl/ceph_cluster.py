"""The reference cloud's Ceph cluster: real daemons from Debian's packages,
started directly (no systemd, no containers).

* one monitor and one manager on the control host, bound to its underlay address;
* per storage host, its OSDs (BlueStore on a sparse file in the state
  directory), each running inside the host's namespace;
* a CRUSH map root → rack → host → osd that mirrors the topology (each OSD
  places itself from its ``crush_location`` when it starts);
* pools ``images``, ``vms`` and ``volumes``: replicated, size/min_size from the
  topology (3/2 by default), failure domain rack.

Every daemon is started with ``--conf <state>/ceph/ceph.conf``; that argument
is how we recognise our processes (see :mod:`processes`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from octoprobe.ceph import CephClient
from octoprobe.shell import CommandError, LocalRunner, Runner

from . import processes
from .state import CloudPaths

POOLS = ("images", "vms", "volumes")
CRUSH_RULE = "replicated_rack"

MKFS_TIMEOUT = 300.0
START_TIMEOUT = 120.0
CEPH_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
CREATED_MARK = "octoprobe-created"



#: Asynchronous-I/O contexts (fs.aio-nr) one OSD holds: measured 2048 (its block device's queue
#: depth, 1024, twice); planned with room to spare.
AIO_PER_OSD = 4096
#: What fs.aio-max-nr is raised to when the machine's OSDs would run out (Ceph's deployment tools
#: raise it the same way; the kernel's default, 65536, holds about 30 OSDs machine-wide).
AIO_MAX_NR = 1048576


def ensure_aio_headroom(osds: int, progress: Callable[[str], None], proc_fs: Path = Path("/proc/sys/fs")) -> None:
    """Make room for ``osds`` more OSDs' asynchronous I/O: when fs.aio-nr plus
    their share would pass fs.aio-max-nr, raise the limit (root). Without it,
    ``ceph-osd --mkfs`` fails with EAGAIN (Resource temporarily unavailable)
    once several clouds run on one machine."""
    try:
        used = int((proc_fs / "aio-nr").read_text())
        limit = int((proc_fs / "aio-max-nr").read_text())
    except (OSError, ValueError):
        return  # not Linux's /proc: nothing to check
    need = used + osds * AIO_PER_OSD
    if need <= limit:
        return
    new = max(AIO_MAX_NR, need)
    try:
        (proc_fs / "aio-max-nr").write_text(f"{new}\n")
    except OSError as exc:
        raise RuntimeError(f"{osds} OSDs need about {osds * AIO_PER_OSD} asynchronous-I/O contexts; {used} of "
                           f"{limit} are in use (fs.aio-nr / fs.aio-max-nr) and raising the limit failed "
                           f"({exc.strerror or exc}): run `sysctl fs.aio-max-nr={new}` as root") from None
    progress(f"ceph: fs.aio-max-nr raised from {limit} to {new} ({used} in use; an OSD takes about 2048)")


@dataclass(frozen=True)
class Daemon:
    kind: str  # "mon", "mgr" or "osd"
    id: str
    host: str

    @property
    def name(self) -> str:
        return f"{self.kind}.{self.id}"


@dataclass(frozen=True)
class DaemonStatus:
    daemon: Daemon
    pid: int | None
    rss_bytes: int

    @property
    def running(self) -> bool:
        return self.pid is not None


def render_ceph_conf(topology, paths: CloudPaths, fsid: str) -> str:
    """The cluster's ceph.conf: a pure function of topology, paths and fsid."""
    ctl = topology.control.name
    ctl_v4, _ = topology.address_of(ctl)
    settings = topology.ceph
    lines = [
        "# written by octoprobe cloud up; regenerated on every up",
        "[global]",
        f"fsid = {fsid}",
        f"mon_initial_members = {ctl}",
        f"mon_host = [v2:{ctl_v4.ip}:3300,v1:{ctl_v4.ip}:6789]",
        f"public_network = {topology.underlay.ipv4}",
        "auth_cluster_required = cephx",
        "auth_service_required = cephx",
        "auth_client_required = cephx",
        "auth_allow_insecure_global_id_reclaim = false",
        f"run_dir = {paths.run}",
        f"crash_dir = {paths.root / 'crash'}",
        f"osd_pool_default_size = {settings.pool_size}",
        f"osd_pool_default_min_size = {settings.pool_min_size}",
        "osd_pool_default_pg_autoscale_mode = off",
        # failure detection and healing fast enough for tests
        f"mon_osd_down_out_interval = {settings.down_out_interval}",
        # a whole rack that is down is marked out too, so Ceph re-replicates
        # its data elsewhere (Ceph's default, rack, would leave it degraded)
        "mon_osd_down_out_subtree_limit = row",
        "osd_heartbeat_interval = 3",
        "osd_heartbeat_grace = 10",
        # the state directory shares the machine's disk: do not warn about it
        "mon_data_avail_warn = 2",
        "mon_data_avail_crit = 1",
        "mon_allow_pool_delete = true",
        "mon_warn_on_pool_no_redundancy = true",
        "",
        "[client.admin]",
        f"keyring = {paths.admin_keyring}",
        "",
        "[mon]",
        f"mon_data = {paths.root / 'mon'}/$cluster-$id",
        f"admin_socket = {paths.run}/$cluster-$name.asok",
        f"pid_file = {paths.run}/$cluster-$name.pid",
        f"log_file = {paths.log}/$cluster-$name.log",
        "",
        "[mgr]",
        f"mgr_data = {paths.root / 'mgr'}/$cluster-$id",
        "keyring = $mgr_data/keyring",
        f"admin_socket = {paths.run}/$cluster-$name.asok",
        f"pid_file = {paths.run}/$cluster-$name.pid",
        f"log_file = {paths.log}/$cluster-$name.log",
        "",
        "[osd]",
        f"osd_data = {paths.root / 'osd'}/$cluster-$id",
        "keyring = $osd_data/keyring",
        "osd_objectstore = bluestore",
        f"admin_socket = {paths.run}/$cluster-$name.asok",
        f"pid_file = {paths.run}/$cluster-$name.pid",
        f"log_file = {paths.log}/$cluster-$name.log",
        "bluestore_block_create = true",
        # Each OSD's device is a sparse file, and BlueStore cannot give freed space back to it (discard is
        # an ioctl on block devices). Its default allocator moves on through the device, so every write
        # allocated more of the file until it was whole (8 chaos runs: 61 GB). Best fit always reuses the
        # smallest hole that fits: the file stays at the high-water mark of the data (write + remove cycles of
        # 0.7 GB raw: +0.5 GB of file each with the default, none with this).
        "bluestore_allocator = avl",
        "bluestore_avl_alloc_bf_threshold = 1099511627776",
        "bluestore_avl_alloc_bf_free_pct = 100",
        # small memory footprint: the whole cloud runs on one machine
        "osd_memory_target = 939524096",
        "bluestore_cache_autotune = true",
        # recovery not throttled: a small data set heals in seconds to minutes
        "osd_recovery_sleep = 0",
        "osd_recovery_sleep_hdd = 0",
        "osd_recovery_sleep_ssd = 0",
        "osd_recovery_sleep_hybrid = 0",
        "osd_recovery_max_active = 16",
        "osd_max_backfills = 16",
        "osd_crush_update_on_start = true",
        "",
        f"[mon.{ctl}]",
        f"public_addr = {ctl_v4.ip}",
    ]
    for osd_id, host, rack in topology.osd_layout():
        v4, _ = topology.address_of(host)
        size = topology.host(host).osd_size_bytes
        lines += [
            "",
            f"[osd.{osd_id}]",
            f"host = {host}",
            f"public_addr = {v4.ip}",
            f"cluster_addr = {v4.ip}",
            f"crush_location = root=default rack={rack} host={host}",
            f"bluestore_block_size = {size}",
        ]
    return "\n".join(lines) + "\n"


class CephCluster:
    def __init__(
        self,
        topology,
        paths: CloudPaths,
        *,
        netns_of: Callable[[str], str],
        progress: Callable[[str], None] = lambda msg: None,
        runner: Runner | None = None,
    ):
        self.topology = topology
        self.paths = paths
        self.netns_of = netns_of
        self.progress = progress
        self.runner = runner or LocalRunner()
        self.client = CephClient(self.runner, conf=self.conf, timeout=CEPH_TIMEOUT)

    # -- identity ------------------------------------------------------------
    @property
    def conf(self) -> str:
        return str(self.paths.ceph_conf)

    @property
    def mon_id(self) -> str:
        return self.topology.control.name

    def daemons(self) -> list[Daemon]:
        ctl = self.topology.control.name
        result = [Daemon("mon", ctl, ctl), Daemon("mgr", ctl, ctl)]
        result += [Daemon("osd", str(i), host) for i, host, _ in self.topology.osd_layout()]
        return result

    def daemon_status(self) -> list[DaemonStatus]:
        result = []
        for d in self.daemons():
            pid = processes.live_pid(self.paths.pid_file(d.name), self.conf)
            result.append(DaemonStatus(d, pid, processes.rss_bytes(pid) if pid else 0))
        return result

    def exists(self) -> bool:
        return (self.paths.mon_data(self.mon_id) / CREATED_MARK).exists()

    def daemon(self, name: str) -> Daemon:
        """The daemon called ``name`` (``osd.3``, ``mon.ctl``); KeyError if none."""
        for d in self.daemons():
            if d.name == name:
                return d
        raise KeyError(f"no daemon {name!r} in this cluster")

    def daemons_on_host(self, host: str) -> list[Daemon]:
        return [d for d in self.daemons() if d.host == host]

    def pid_of(self, daemon: Daemon) -> int | None:
        """The pid of ``daemon`` if it runs: from its pid file, else by its
        command line (``ceph-KIND --conf OUR_CONF -i ID``)."""
        pid = processes.live_pid(self.paths.pid_file(daemon.name), self.conf)
        if pid is not None:
            return pid
        binary = f"ceph-{daemon.kind}"
        for proc in processes.find_processes(self.conf):
            argv = proc.argv
            if Path(argv[0]).name == binary and "-i" in argv:
                i = argv.index("-i")
                if i + 1 < len(argv) and argv[i + 1] == daemon.id:
                    return proc.pid
        return None

    def block_file(self, osd_id: int) -> Path:
        """The BlueStore block file of an OSD (a sparse file, its "disk")."""
        return self.paths.osd_data(osd_id) / "block"

    # -- commands ------------------------------------------------------------
    def ceph(self, *args: str, timeout: float = CEPH_TIMEOUT, input: str | None = None,
             check: bool = True) -> str:
        """A ``ceph`` command that changes the cluster (reads go through ``self.client``)."""
        argv = ["ceph", "--conf", self.conf, "--connect-timeout", str(int(timeout)), *args]
        return self.runner.run(argv, timeout=timeout + 5, input=input, check=check).stdout

    def _in_host(self, host: str, argv: list[str], timeout: float):
        return self.runner.run(["ip", "netns", "exec", self.netns_of(host), *argv], timeout=timeout)

    # -- bring up ------------------------------------------------------------
    def write_conf(self, fsid: str) -> None:
        self.paths.make_dirs()
        self.paths.ceph_conf.write_text(render_ceph_conf(self.topology, self.paths, fsid))

    def bootstrap_monitor(self, fsid: str) -> None:
        """Keyrings, monmap and the monitor's store (first ``up`` only)."""
        mon_data = self.paths.mon_data(self.mon_id)
        if mon_data.exists():
            shutil.rmtree(mon_data)  # a half-made monitor from an interrupted up
        self.progress(f"ceph: creating monitor mon.{self.mon_id} (fsid {fsid})")
        run = self.runner.run
        mon_keyring, admin_keyring = str(self.paths.mon_keyring), str(self.paths.admin_keyring)
        run(["ceph-authtool", "--create-keyring", mon_keyring, "--gen-key", "-n", "mon.",
             "--cap", "mon", "allow *"], timeout=30)
        run(["ceph-authtool", "--create-keyring", admin_keyring, "--gen-key", "-n", "client.admin",
             "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mds", "allow *",
             "--cap", "mgr", "allow *"], timeout=30)
        run(["ceph-authtool", mon_keyring, "--import-keyring", admin_keyring], timeout=30)
        v4, _ = self.topology.address_of(self.mon_id)
        with tempfile.TemporaryDirectory() as tmp:
            monmap = str(Path(tmp) / "monmap")
            run(["monmaptool", "--create", "--fsid", fsid, "--addv", self.mon_id,
                 f"[v2:{v4.ip}:3300,v1:{v4.ip}:6789]", monmap], timeout=30)
            mon_data.parent.mkdir(parents=True, exist_ok=True)
            run(["ceph-mon", "--conf", self.conf, "--mkfs", "-i", self.mon_id, "--monmap", monmap,
                 "--keyring", mon_keyring], timeout=MKFS_TIMEOUT)
        (mon_data / CREATED_MARK).touch()

    def start_daemon(self, daemon: Daemon) -> bool:
        """Start one daemon of this cluster unless it runs (e.g. after a fault
        killed it); True if it was started. Raises CommandError if it fails to
        start (an OSD whose block file is missing, a host namespace gone)."""
        started = self._start(daemon)
        if started:
            self.progress(f"ceph: started {daemon.name} on {daemon.host}")
        return started

    def _start(self, daemon: Daemon) -> bool:
        """Start a daemon unless it runs; True if it was started."""
        pid_file = self.paths.pid_file(daemon.name)
        if processes.live_pid(pid_file, self.conf):
            return False
        pid_file.unlink(missing_ok=True)  # stale
        binary = f"ceph-{daemon.kind}"
        self._in_host(daemon.host, [binary, "--conf", self.conf, "-i", daemon.id], START_TIMEOUT)
        return True

    def start_monitor_and_manager(self) -> None:
        mon, mgr = self.daemons()[:2]
        if self._start(mon):
            self.progress(f"ceph: started mon.{mon.id} on {mon.host}")
        self.ceph("mon", "stat", timeout=60)  # reachable and in quorum
        keyring = self.paths.mgr_data(mgr.id) / "keyring"
        if not keyring.exists():
            keyring.parent.mkdir(parents=True, exist_ok=True)
            self.ceph("auth", "get-or-create", f"mgr.{mgr.id}", "mon", "allow profile mgr",
                      "osd", "allow *", "mds", "allow *", "-o", str(keyring))
        if self._start(mgr):
            self.progress(f"ceph: started mgr.{mgr.id} on {mgr.host}")

    def _create_osd(self, osd_id: int) -> None:
        data = self.paths.osd_data(osd_id)
        if data.exists():
            # an OSD whose creation was interrupted: forget it and start over
            shutil.rmtree(data)
            self.ceph("osd", "purge", str(osd_id), "--yes-i-really-mean-it")
            self.ceph("auth", "del", f"osd.{osd_id}", check=False)
        data.mkdir(parents=True)
        osd_uuid = str(uuid.uuid4())
        key = self.runner.run(["ceph-authtool", "--gen-print-key"], timeout=30).stdout.strip()
        self.ceph("osd", "new", osd_uuid, str(osd_id), "-i", "-",
                  input=json.dumps({"cephx_secret": key}))
        (data / "keyring").write_text(f"[osd.{osd_id}]\n\tkey = {key}\n")
        (data / "keyring").chmod(0o600)
        self.runner.run(["ceph-osd", "--conf", self.conf, "-i", str(osd_id), "--mkfs",
                         "--osd-uuid", osd_uuid], timeout=MKFS_TIMEOUT)
        (data / CREATED_MARK).touch()

    def _create_and_start_osd(self, osd_id: int, host: str) -> str:
        data = self.paths.osd_data(osd_id)
        created = False
        if not (data / CREATED_MARK).exists():
            self._create_osd(osd_id)
            created = True
        started = self._start(Daemon("osd", str(osd_id), host))
        verb = "created and started" if created else ("started" if started else "already running")
        return f"ceph: osd.{osd_id} on {host}: {verb}"

    def start_osds(self) -> None:
        layout = self.topology.osd_layout()
        ensure_aio_headroom(len(layout), self.progress)
        self.progress(f"ceph: bringing up {len(layout)} OSDs in parallel")
        with ThreadPoolExecutor(max_workers=len(layout)) as pool:
            futures = [pool.submit(self._create_and_start_osd, i, host) for i, host, _ in layout]
            errors = []
            for future in futures:
                try:
                    self.progress(future.result())
                except CommandError as exc:
                    errors.append(str(exc))
        if errors:
            raise RuntimeError("some OSDs failed to come up:\n" + "\n".join(errors))

    def ensure_pools(self) -> None:
        settings = self.topology.ceph
        if CRUSH_RULE not in {r.name for r in self.client.crush_rules()}:
            self.ceph("osd", "crush", "rule", "create-replicated", CRUSH_RULE, "default", "rack")
        existing = {p.name for p in self.client.pools()}
        for name in POOLS:
            if name not in existing:
                self.progress(f"ceph: creating pool {name} (size {settings.pool_size}, "
                              f"min_size {settings.pool_min_size}, {settings.pg_num} PGs, rule {CRUSH_RULE})")
                self.ceph("osd", "pool", "create", name, str(settings.pg_num), str(settings.pg_num),
                          "replicated", CRUSH_RULE)
                self.ceph("osd", "pool", "application", "enable", name, "rbd")
        rule_id = {r.name: r.id for r in self.client.crush_rules()}[CRUSH_RULE]
        for pool in self.client.pools():
            if pool.crush_rule != rule_id:
                self.ceph("osd", "pool", "set", pool.name, "crush_rule", CRUSH_RULE)
            if pool.size != settings.pool_size:
                self.ceph("osd", "pool", "set", pool.name, "size", str(settings.pool_size),
                          "--yes-i-really-mean-it")
            if pool.min_size != settings.pool_min_size:
                self.ceph("osd", "pool", "set", pool.name, "min_size", str(settings.pool_min_size))

    # -- tear down -------------------------------------------------------------
    def stop_daemon(self, daemon: Daemon) -> bool:
        """Stop one daemon (SIGTERM, then SIGKILL); True if it was running."""
        pid = self.pid_of(daemon)
        if pid is None:
            return False
        processes.stop([pid], timeout=STOP_TIMEOUT)
        self.paths.pid_file(daemon.name).unlink(missing_ok=True)
        return True

    def remove_osd(self, osd_id: int, host: str) -> None:
        """Take an OSD out of the cluster for good: stop it, purge it from the
        OSD map, CRUSH and auth, delete its data. Its data must have been
        moved elsewhere first (``ceph osd out`` and a wait for active+clean).
        Idempotent."""
        self.stop_daemon(Daemon("osd", str(osd_id), host))
        ids = {o.id for o in self.client.osd_tree()}
        if osd_id in ids:
            self.ceph("osd", "purge", str(osd_id), "--yes-i-really-mean-it")
        self.ceph("auth", "del", f"osd.{osd_id}", check=False)
        shutil.rmtree(self.paths.osd_data(osd_id), ignore_errors=True)
        self.progress(f"ceph: removed osd.{osd_id} of {host}")

    def stop(self) -> list[str]:
        """Stop every daemon of this cluster (OSDs first, the monitor last),
        including ones whose pid file is gone. Returns their names."""
        found = processes.find_processes(self.conf)
        order = {"ceph-osd": 0, "ceph-mgr": 1, "ceph-mon": 2}
        stopped = []
        for rank in sorted(set(order.values())):
            group = [p for p in found if order.get(Path(p.argv[0]).name, 0) == rank]
            if group:
                processes.stop([p.pid for p in group], timeout=STOP_TIMEOUT)
                stopped += [" ".join(p.argv[:1] + p.argv[-2:]) for p in group]
        for pid_file in self.paths.run.glob("*.pid") if self.paths.run.exists() else []:
            pid_file.unlink(missing_ok=True)
        return stopped

    def purge(self) -> None:
        for sub in ("mon", "mgr", "osd", "ceph", "crash", "run", "log"):
            shutil.rmtree(self.paths.root / sub, ignore_errors=True)
