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

import yaml

from octoprobe.ceph import CephClient, PgStatsFlushTimeout, wait_for_clean
from octoprobe.shell import CommandError, LocalRunner

from . import processes
from .ceph_cluster import CephCluster
from .api.lifecycle import api_down, api_status, api_up
from .compute import ComputeService, teardown_all_vms
from .network import NetworkPlane, teardown_all
from .state import CloudPaths, StateLock, check_prefix
from .topology import Topology, default_topology_path, load_topology, parse_topology
from .underlay import Underlay

LOCK_TIMEOUT = 600.0
OWNERS_DIR = Path("/run/octoprobe")
STATUS_TIMEOUT = 10.0
FLUSH_TIMEOUT = 60.0


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

    def network(self) -> NetworkPlane:
        """The tenant networks' data plane (VXLAN, routers, DHCP, security groups)."""
        return NetworkPlane(self.topology, self.prefix, self.paths.root, progress=self.progress)

    def compute(self) -> ComputeService:
        """The VMs: a guest image in RBD, QEMU processes on the compute hosts."""
        return ComputeService(self.topology, self.prefix, self.paths.root, ceph_conf=self.ceph.conf,
                              network=self.network(), progress=self.progress)

    def client(self) -> CephClient:
        return CephClient(LocalRunner(), conf=self.ceph.conf, timeout=STATUS_TIMEOUT)

    # -- up ---------------------------------------------------------------------
    def up(self, *, settle_timeout: float = 120.0) -> None:
        with StateLock(self.paths.lock, timeout=LOCK_TIMEOUT, on_wait=self.progress):
            self._claim_prefix()
            instance = self._ensure_instance()
            self.underlay.up()
            self.network().restore()
            self.ceph.write_conf(instance.fsid)
            if not self.ceph.exists():
                self.ceph.bootstrap_monitor(instance.fsid)
            self.ceph.start_monitor_and_manager()
            self.ceph.start_osds()
            self.ceph.ensure_pools()
            self.progress("ceph: waiting until every OSD is up and in and every PG is active+clean")
            self._wait_osds_up()
            # the PG map in `ceph status` lags the OSD map: without this a
            # restarted OSD's PGs still read active+clean from old stats
            self._flush_pg_stats()
            result = wait_for_clean(self.client(), no_progress_timeout=settle_timeout, poll_interval=1.0)
            self.progress(f"ceph: active+clean after {result.elapsed:.1f}s")
            compute = self.compute()
            compute.ensure_guest_images()  # octoprobe-guest and octoprobe-perf
            compute.restore()
            api_up(self)
            self.progress("cloud is up")

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

    def _flush_pg_stats(self, timeout: float = FLUSH_TIMEOUT, attempts: int = 4) -> None:
        """Have every up OSD flush its PG stats and wait until the monitors
        have them (:meth:`CephClient.flush_pg_stats`), so that the next
        ``ceph status`` is current.

        ``_wait_osds_up`` can pass before a restarted OSD has booted (a killed
        OSD stays up in the OSD map until its peers report it), and an OSD
        that boots re-peers its PGs: so when the OSD map changed during the
        flush, the flush is done again. An OSD that goes down meanwhile makes
        the flush fail; it is done again with the OSDs then up, and
        ``wait_for_clean`` (which allows for progress) judges the cluster.
        Only a flush that fails every time is an error."""
        client = self.client()
        start = time.monotonic()
        last_error = ""
        flushed = False
        for _ in range(attempts):
            before = client.status().osds.epoch
            up = [o.id for o in client.osd_tree() if o.up]
            try:
                client.flush_pg_stats(up, timeout=timeout)
            except (CommandError, PgStatsFlushTimeout) as exc:
                last_error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
                self.progress(f"ceph: flushing the PG stats of {len(up)} OSDs failed ({last_error}); again")
                time.sleep(1.0)
                continue
            flushed = True
            after = client.status().osds.epoch
            if after == before:
                self.progress(f"ceph: PG stats of {len(up)} OSDs flushed in {time.monotonic() - start:.1f}s")
                return
            self.progress(f"ceph: the OSD map changed while flushing PG stats (e{before} -> e{after}); again")
        if not flushed:
            raise CloudError(f"ceph: could not flush the OSDs' PG stats in {attempts} attempts: {last_error}; "
                             f"see the logs in {self.paths.log}")
        # the map keeps changing (OSDs booting, PGs remapped): the last flush
        # is recent and wait_for_clean follows the cluster from here
        self.progress(f"ceph: PG stats flushed; the OSD map was still changing after {attempts} flushes")

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
            # the API first: nothing may start a VM while we stop them
            api_down(self)
            # then the VMs: a QEMU holds RBD images and taps
            teardown_all_vms(self.prefix, self.paths.root, purge=purge, progress=self.progress)
            stopped = self.ceph.stop()
            self.progress(f"ceph: stopped {len(stopped)} daemons")
            removed = teardown_all(self.prefix, state_dir=self.paths.root, purge=purge,
                                   progress=self.progress)
            if any(removed.values()):
                self.progress("network: removed " + ", ".join(f"{n} {k}" for k, n in removed.items() if n))
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
                for f in (self.paths.instance, self.paths.topology, base_topology_path(self.paths)):
                    f.unlink(missing_ok=True)
                shutil.rmtree(self.paths.root / "chaos", ignore_errors=True)  # the chaos suite's fault journal
                shutil.rmtree(self.paths.root / "api", ignore_errors=True)  # the API's database and passwords
                self.progress(f"purged the cluster's data in {self.paths.root}")

    # -- capacity ---------------------------------------------------------------
    def _use_topology(self, topology: Topology) -> None:
        self.topology = topology
        self.underlay = Underlay(topology, self.prefix, progress=self.progress)
        self.ceph = CephCluster(topology, self.paths, netns_of=self.underlay.netns, progress=self.progress)

    def _write_topology(self, text: str) -> Topology:
        topology = parse_topology(text, self.paths.topology)  # refuses a bad change before writing
        tmp = self.paths.topology.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.paths.topology)
        self._use_topology(load_topology(self.paths.topology))
        return topology

    def add_storage_host(self, name: str, *, rack: str | None = None, osd_count: int = 1,
                         osd_size: int | None = None) -> list[int]:
        """A new storage host joins the running cloud: its namespace and link,
        then its OSDs (created and started, they place themselves in CRUSH and
        Ceph rebalances onto them). Returns the new OSD ids.

        The host is appended after every existing host, to the last rack or
        as a new rack ``rack`` after it, so no existing host changes its
        address and no OSD its id. The cloud's topology (its copy in the state
        directory) records it, so ``up`` keeps it running;
        :meth:`remove_storage_host` takes it out again."""
        with StateLock(self.paths.lock, timeout=LOCK_TIMEOUT, on_wait=self.progress):
            instance = read_instance(self.paths)
            if instance is None or not self.ceph.exists() or not self.paths.topology.exists():
                raise CloudError(f"no cloud in {self.paths.root}: run `octoprobe cloud up` first")
            data = yaml.safe_load(self.paths.topology.read_text())
            racks = data["racks"]
            if osd_size is None:
                osd_size = self.topology.storage_hosts()[-1].osd_size_bytes
            entry = {"name": name, "roles": ["storage"], "osds": {"count": osd_count, "size": osd_size}}
            if rack is None or rack == racks[-1]["name"]:
                racks[-1]["hosts"].append(entry)
            elif any(r["name"] == rack for r in racks):
                raise CloudError(
                    f"a host can join only the last rack ({racks[-1]['name']}) or a new rack: "
                    f"adding it to rack {rack} would renumber the hosts after it"
                )
            else:
                racks.append({"name": rack, "hosts": [entry]})
            base = base_topology_path(self.paths)
            if not base.exists():
                shutil.copyfile(self.paths.topology, base)
            topology = self._write_topology(yaml.safe_dump(data, sort_keys=False))
            self.progress(f"host {name} joins rack {rack or racks[-1]['name']} with {osd_count} OSD(s)")
            self.underlay.up()
            self.ceph.write_conf(instance.fsid)
            self.ceph.start_osds()
            return [slot.osd for slot in topology.osd_layout() if slot.host == name]

    def remove_storage_host(self, name: str, *, no_progress_timeout: float = 120.0,
                            max_duration: float = 1800.0) -> list[int]:
        """The storage host ``name`` leaves the cloud: its OSDs are marked
        out, Ceph moves their data elsewhere (waited for: active+clean, no
        progress for ``no_progress_timeout`` fails), then they are purged, and
        the host's namespace and link removed. Only the last host can leave
        (so no other host changes its address). Returns the OSD ids removed.
        Idempotent: a host that is gone already is not an error."""
        with StateLock(self.paths.lock, timeout=LOCK_TIMEOUT, on_wait=self.progress):
            instance = read_instance(self.paths)
            if instance is None:
                raise CloudError(f"no cloud in {self.paths.root}")
            names = [h.name for h in self.topology.hosts()]
            if name not in names:
                return []
            if names[-1] != name:
                raise CloudError(f"only the last host ({names[-1]}) can leave a running cloud, not {name}")
            host = self.topology.host(name)
            if host.is_compute or not host.is_storage:
                raise CloudError(f"{name} is not a storage-only host")
            osds = [slot.osd for slot in self.topology.osd_layout() if slot.host == name]
            existing = {o.id: o for o in self.client().osd_tree()}
            present = [i for i in osds if i in existing]
            if present:
                self.progress(f"host {name} leaves: marking {', '.join(f'osd.{i}' for i in present)} out")
                self.ceph.ceph("osd", "out", *[str(i) for i in present])
                deadline = time.monotonic() + max_duration
                while True:
                    # ceph status may still show the PG map from before the
                    # out; safe-to-destroy is the authority on "no data left"
                    wait_for_clean(self.client(), no_progress_timeout=no_progress_timeout,
                                   max_duration=max_duration, poll_interval=1.0)
                    try:
                        self.ceph.ceph("osd", "safe-to-destroy", *[f"osd.{i}" for i in present])
                        break
                    except CommandError as exc:
                        if time.monotonic() > deadline:
                            raise CloudError(f"the data of {name}'s OSDs did not move away within "
                                             f"{max_duration:g}s: {exc}") from exc
                    time.sleep(2.0)
            for i in osds:
                self.ceph.remove_osd(i, name)
            self.ceph.ceph("osd", "crush", "rm", name, check=False)
            rack = host.rack
            data = yaml.safe_load(self.paths.topology.read_text())
            for r in data["racks"]:
                r["hosts"] = [h for h in r["hosts"] if h["name"] != name]
            if rack is not None and not any(r["hosts"] for r in data["racks"] if r["name"] == rack):
                data["racks"] = [r for r in data["racks"] if r["name"] != rack]
                self.ceph.ceph("osd", "crush", "rm", rack, check=False)
                self.underlay.remove_rack(rack)
            self.underlay.remove_host(name)
            base = base_topology_path(self.paths)
            if base.exists() and yaml.safe_load(base.read_text()) == data:
                self._write_topology(base.read_text())  # the original text, comments and all
                base.unlink()
            else:
                self._write_topology(yaml.safe_dump(data, sort_keys=False))
            self.ceph.write_conf(instance.fsid)
            self.progress(f"host {name} left the cloud")
            return osds

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
            "network": self.network().status(),
            "compute": self.compute().status(),
            "api": api_status(self),
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


def base_topology_path(paths: CloudPaths) -> Path:
    """The topology as it was before a host joined the running cloud."""
    return paths.root / "topology.base.yaml"


def is_root() -> bool:
    return os.geteuid() == 0
