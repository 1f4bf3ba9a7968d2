"""``octoprobe cloud up | down | status``: the reference cloud as a whole.

``up`` is idempotent and repairs what a crash left behind: it brings up what
is not up (namespaces, links, daemons), removes stale pid files, and resumes
an interrupted OSD creation. ``down`` stops every daemon and removes every
namespace, bridge and interface of ours; ``--purge`` also deletes the data.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from octoprobe.ceph import CephClient, wait_for_clean
from octoprobe.shell import CommandError, LocalRunner

from . import processes
from .ceph_cluster import CephCluster
from .state import CloudPaths, StateLock, check_prefix
from .topology import Topology, default_topology_path, load_topology
from .underlay import Underlay

LOCK_TIMEOUT = 600.0
OWNERS_DIR = Path("/run/octoprobe")
STATUS_TIMEOUT = 10.0


class CloudError(RuntimeError):
    """The cloud cannot do what was asked; the message says why and what to do."""


@dataclass(frozen=True)
class Instance:
    prefix: str
    fsid: str
    topology_source: str


def _progress_printer(start: float) -> Callable[[str], None]:
    def emit(message: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s] {message}", flush=True)

    return emit


class Cloud:
    def __init__(
        self,
        paths: CloudPaths,
        prefix: str,
        topology: Topology,
        *,
        progress: Callable[[str], None] | None = None,
    ):
        self.paths = paths
        self.prefix = check_prefix(prefix)
        self.topology = topology
        self.progress = progress or _progress_printer(time.monotonic())
        self.underlay = Underlay(topology, prefix, progress=self.progress)
        self.ceph = CephCluster(topology, paths, netns_of=self.underlay.netns, progress=self.progress)

    # -- construction -----------------------------------------------------------
    @classmethod
    def open(
        cls,
        state_dir: Path,
        prefix: str,
        topology_file: Path | None = None,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> "Cloud":
        """The cloud in ``state_dir``. Its topology is the file given, else the
        one it was created with, else the shipped default."""
        paths = CloudPaths(state_dir)
        instance = read_instance(paths)
        if instance and instance.prefix != prefix:
            raise CloudError(
                f"the cloud in {state_dir} uses the prefix {instance.prefix!r}, not {prefix!r}; "
                f"set OCTOPROBE_PREFIX={instance.prefix} or use another state directory"
            )
        if topology_file is not None:
            topology = load_topology(topology_file)
            if paths.topology.exists() and CephCluster(topology, paths, netns_of=str).exists():
                if topology_file.read_text() != paths.topology.read_text():
                    raise CloudError(
                        f"the cloud in {state_dir} was created from another topology "
                        f"({instance.topology_source if instance else paths.topology}); "
                        "run `octoprobe cloud down --purge` first to start over with "
                        f"{topology_file}"
                    )
        elif paths.topology.exists():
            topology = load_topology(paths.topology)
        else:
            topology = load_topology(default_topology_path())
        return cls(paths, prefix, topology, progress=progress)

    def client(self) -> CephClient:
        return CephClient(LocalRunner(), conf=self.ceph.conf, timeout=STATUS_TIMEOUT)

    # -- up ---------------------------------------------------------------------
    def up(self, *, settle_timeout: float = 120.0) -> None:
        with StateLock(self.paths.lock, timeout=LOCK_TIMEOUT, on_wait=self.progress):
            self._claim_prefix()
            instance = self._ensure_instance()
            self.underlay.up()
            self.ceph.write_conf(instance.fsid)
            if not self.ceph.exists():
                self.ceph.bootstrap_monitor(instance.fsid)
            self.ceph.start_monitor_and_manager()
            self.ceph.start_osds()
            self.ceph.ensure_pools()
            self.progress("ceph: waiting until every OSD is up and in and every PG is active+clean")
            self._wait_osds_up()
            result = wait_for_clean(self.client(), no_progress_timeout=settle_timeout, poll_interval=1.0)
            self.progress(f"ceph: active+clean after {result.elapsed:.1f}s; cloud is up")

    def _wait_osds_up(self, timeout: float = 120.0) -> None:
        expected = len(self.topology.osd_layout())
        deadline = time.monotonic() + timeout
        while True:
            status = self.client().status()
            if status.osds.num_osds == expected and status.osds.up == expected and status.osds.in_ == expected:
                return
            if time.monotonic() > deadline:
                raise CloudError(
                    f"after {timeout:g}s only {status.osds.up} of {expected} OSDs are up "
                    f"({status.osds.in_} in); see the logs in {self.paths.log}"
                )
            time.sleep(1.0)

    def _claim_prefix(self) -> None:
        """Kernel objects are global: refuse to share a prefix with a cloud in
        another state directory that is up."""
        OWNERS_DIR.mkdir(parents=True, exist_ok=True)
        owner = OWNERS_DIR / f"{self.prefix}.owner"
        if owner.exists():
            other = Path(owner.read_text().strip())
            if other != self.paths.root and (other / "instance.json").exists():
                if self.underlay.leftovers() != ([], []):
                    raise CloudError(
                        f"the prefix {self.prefix!r} is in use by the cloud in {other}; "
                        "bring that one down first or set OCTOPROBE_PREFIX to another prefix"
                    )
        owner.write_text(str(self.paths.root))

    def _ensure_instance(self) -> Instance:
        self.paths.make_dirs()
        instance = read_instance(self.paths)
        if instance is None:
            instance = Instance(self.prefix, str(uuid.uuid4()), str(self.topology.path))
            self.paths.instance.write_text(json.dumps(asdict(instance), indent=2) + "\n")
            self.progress(f"new cloud in {self.paths.root} (prefix {self.prefix}, topology {self.topology.path})")
        if Path(self.topology.path).resolve() != self.paths.topology.resolve():
            shutil.copyfile(self.topology.path, self.paths.topology)
        return instance

    # -- down -------------------------------------------------------------------
    def down(self, *, purge: bool = False) -> None:
        with StateLock(self.paths.lock, timeout=LOCK_TIMEOUT, on_wait=self.progress):
            stopped = self.ceph.stop()
            self.progress(f"ceph: stopped {len(stopped)} daemons")
            namespaces, _ = self.underlay.leftovers()
            strays = self.underlay.namespace_pids(namespaces)
            if strays:
                processes.stop(strays, timeout=10)
                self.progress(f"stopped {len(strays)} other processes in our namespaces")
            self.underlay.down()
            owner = OWNERS_DIR / f"{self.prefix}.owner"
            if owner.exists() and Path(owner.read_text().strip()) == self.paths.root:
                owner.unlink()
            if purge:
                self.ceph.purge()
                for f in (self.paths.instance, self.paths.topology):
                    f.unlink(missing_ok=True)
                self.progress(f"purged the cluster's data in {self.paths.root}")

    # -- status -----------------------------------------------------------------
    def status(self) -> dict:
        instance = read_instance(self.paths)
        daemons = self.ceph.daemon_status()
        by_host: dict[str, list] = {}
        for d in daemons:
            by_host.setdefault(d.daemon.host, []).append(
                {"name": d.daemon.name, "running": d.running, "pid": d.pid, "rss_bytes": d.rss_bytes}
            )
        hosts = []
        for net in self.underlay.status():
            host = self.topology.host(net.host)
            hosts.append({
                "name": net.host,
                "rack": net.rack,
                "roles": sorted(host.roles),
                "netns": net.netns,
                "netns_exists": net.netns_exists,
                "link": net.link_state,
                "ipv4": net.ipv4,
                "ipv6": net.ipv6,
                "daemons": by_host.get(net.host, []),
            })
        report = {
            "state_dir": str(self.paths.root),
            "prefix": self.prefix,
            "topology": instance.topology_source if instance else str(self.topology.path),
            "hosts": hosts,
            "rack_uplinks": self.underlay.rack_uplinks(),
            "daemons_running": sum(d.running for d in daemons),
            "daemons_expected": len(daemons),
            "daemons_rss_bytes": sum(d.rss_bytes for d in daemons),
            "ceph": None,
        }
        mon_running = any(d.running and d.daemon.kind == "mon" for d in daemons)
        if mon_running:
            try:
                report["ceph"] = ceph_summary(self.client().status())
            except (CommandError, ValueError) as exc:
                report["ceph"] = {"error": str(exc)}
        return report


def ceph_summary(status) -> dict:
    return {
        "fsid": status.fsid,
        "health": status.health.status,
        "checks": {c.name: f"{c.severity}: {c.summary}" for c in status.health.checks},
        "osds": {"total": status.osds.num_osds, "up": status.osds.up, "in": status.osds.in_},
        "pgs": {"total": status.pgs.total, "by_state": dict(status.pgs.by_state)},
        "objects": {
            "degraded": status.objects.degraded,
            "misplaced": status.objects.misplaced,
            "unfound": status.objects.unfound,
        },
    }


def read_instance(paths: CloudPaths) -> Instance | None:
    try:
        data = json.loads(paths.instance.read_text())
        return Instance(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise CloudError(f"{paths.instance} is damaged ({exc}); remove the state directory "
                         "after `octoprobe cloud down`") from exc


def is_root() -> bool:
    return os.geteuid() == 0
