"""Fault drivers for the bundled reference cloud (:mod:`octoprobe.reference_impl`).

Everything here acts on real processes and real kernel objects of one cloud,
found through its state directory and prefix:

disk       SIGKILL the OSD's daemon, then move its BlueStore block file (the
           OSD's "disk", a sparse file) aside to ``block.octoprobe-pulled``.
           A restarted OSD then fails to mount its store, exactly like an OSD
           whose disk died (``cloud up`` reports it). Heal moves the file back
           and restarts the daemon: the disk is "re-seated" with the data it
           had. Moving aside rather than ``chmod 000`` (root ignores it) or
           truncating (not healable) keeps the data, is atomic, and is found
           again after a crash by its name alone.
node       SIGKILL every Ceph daemon of the host and take its link down (a
           power loss: network and processes gone at once). Heal: link up,
           daemons started.
rack       SIGKILL every Ceph daemon of every host of the rack and take the
           rack's uplink down. Heal: uplink up, daemons started.
partition  links of hosts or uplinks of racks down; the daemons keep running
           (they are marked down by their peers). Heal: links up, and any
           daemon that died meanwhile started.
flap       a background loop: SIGKILL the OSD, wait, start it, wait until it is
           up in the OSD map, wait; repeated. Heal stops the loop and makes
           sure the OSD runs.
add-host   a storage host joins the running cloud (added capacity): namespace,
           link, OSDs created and started. Heal: its OSDs are drained (out,
           data moved, active+clean), purged, and the host removed.

Daemons are (re)started only through the cloud's own machinery
(:meth:`CephCluster.start_daemon`), with the same command line ``cloud up``
uses, so a healed cloud is indistinguishable from one that never failed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable

from octoprobe.reference_impl import processes
from octoprobe.reference_impl.ceph_cluster import Daemon
from octoprobe.reference_impl.cloud import Cloud
from octoprobe.shell import CommandError

from .flap import OSD_UP_TIMEOUT, FlapLoop
from .base import (
    ADD_HOST,
    DISK,
    FLAP,
    NODE,
    PARTITION,
    RACK,
    ComponentState,
    Fault,
    FaultError,
    FaultPlan,
    FaultSpec,
    FaultStatus,
)

__all__ = ["ReferenceCloudDriver", "PULLED_SUFFIX"]

DRIVER_NAME = "reference-cloud"
PULLED_SUFFIX = ".octoprobe-pulled"
KILL_TIMEOUT = 15.0
DRAIN_NO_PROGRESS = 120.0


class ReferenceCloudDriver:
    """Faults on one reference cloud. ``progress`` receives one line per action."""

    name = DRIVER_NAME

    def __init__(self, cloud: Cloud, *, progress: Callable[[str], None] | None = None,
                 kill_timeout: float = KILL_TIMEOUT):
        self.cloud = cloud
        self.progress = progress or (lambda message: None)
        self.kill_timeout = kill_timeout

    # -- what the cloud has (always read afresh: a host may have joined) ---------
    @property
    def topology(self):
        return self.cloud.topology

    def osd_daemon(self, osd_id: int) -> Daemon:
        try:
            return self.cloud.ceph.daemon(f"osd.{osd_id}")
        except KeyError:
            raise FaultError(f"osd.{osd_id} is not an OSD of the reference cloud in {self.cloud.paths.root}") from None

    def check_host(self, host: str) -> None:
        try:
            h = self.topology.host(host)
        except KeyError:
            raise FaultError(f"no host {host!r} in the reference cloud's topology") from None
        if h.is_control:
            raise FaultError(
                f"{host} is the control host: it runs the only monitor, and a cloud without its "
                "monitor cannot be observed or healed; octoprobe does not take it down"
            )

    def check_rack(self, rack: str) -> None:
        try:
            self.topology.rack(rack)
        except KeyError:
            raise FaultError(f"no rack {rack!r} in the reference cloud's topology") from None

    def rack_of(self, host: str) -> str:
        rack = self.topology.host(host).rack
        assert rack is not None
        return rack

    def hosts_of_rack(self, rack: str) -> list[str]:
        return [h.name for h in self.topology.rack(rack).hosts]

    def daemons_of_hosts(self, hosts: list[str]) -> list[Daemon]:
        return [d for h in hosts for d in self.cloud.ceph.daemons_on_host(h)]

    # -- primitive actions -------------------------------------------------------
    def kill(self, daemon: Daemon) -> int | None:
        """SIGKILL a daemon and wait until it is gone; the pid, or None if it was not running."""
        pid = self.cloud.ceph.pid_of(daemon)
        if pid is None:
            return None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return pid
        deadline = time.monotonic() + self.kill_timeout
        while processes.alive(pid):
            if time.monotonic() > deadline:
                raise FaultError(f"{daemon.name} (pid {pid}) is still alive {self.kill_timeout:g}s after SIGKILL")
            time.sleep(0.05)
        self.progress(f"killed {daemon.name} on {daemon.host} (pid {pid}, SIGKILL)")
        return pid

    def start(self, daemon: Daemon) -> bool:
        try:
            return self.cloud.ceph.start_daemon(daemon)
        except CommandError as exc:
            raise FaultError(f"could not start {daemon.name} on {daemon.host}: {exc}") from exc

    def running(self, daemon: Daemon) -> bool:
        return self.cloud.ceph.pid_of(daemon) is not None

    def set_host_link(self, host: str, up: bool) -> None:
        self.cloud.underlay.set_host_link(host, up)
        self.progress(f"host {host}: link {'up' if up else 'down'}")

    def set_rack_uplink(self, rack: str, up: bool) -> None:
        self.cloud.underlay.set_rack_uplink(rack, up)
        self.progress(f"rack {rack}: uplink {'up' if up else 'down'}")

    def host_links(self) -> dict[str, str]:
        return {s.host: s.link_state for s in self.cloud.underlay.status()}

    def block_paths(self, osd_id: int) -> tuple[Path, Path]:
        block = self.cloud.ceph.block_file(osd_id)
        return block, block.with_name(block.name + PULLED_SUFFIX)

    def restore_block(self, osd_id: int) -> bool:
        """Put a pulled block file back; True if it was pulled."""
        block, pulled = self.block_paths(osd_id)
        if not pulled.exists():
            return False
        if block.exists():
            raise FaultError(
                f"both {block} and {pulled} exist: refusing to overwrite either; "
                "keep the one with the OSD's data and remove the other by hand"
            )
        pulled.rename(block)
        self.progress(f"osd.{osd_id}: block file put back ({block})")
        return True

    # -- the interface -----------------------------------------------------------
    def fault(self, spec: FaultSpec) -> Fault:
        kinds = {DISK: DiskFault, NODE: NodeFault, RACK: RackFault, PARTITION: PartitionFault,
                 FLAP: FlapFault, ADD_HOST: AddHostFault}
        fault = kinds[spec.kind](self, spec)
        fault.validate()
        return fault

    def heal_everything(self) -> list[str]:
        """Undo every trace of a fault this driver can find: pulled block
        files back, every link and uplink up, every daemon started."""
        done: list[str] = []
        for slot in self.topology.osd_layout():
            if self.restore_block(slot.osd):
                done.append(f"osd.{slot.osd}: block file put back")
        for host, state in self.host_links().items():
            if state == "down":
                self.set_host_link(host, True)
                done.append(f"host {host}: link up")
        for rack, state in self.cloud.underlay.rack_uplinks().items():
            if state == "down":
                self.set_rack_uplink(rack, True)
                done.append(f"rack {rack}: uplink up")
        for daemon in self.cloud.ceph.daemons():
            if self.start(daemon):
                done.append(f"{daemon.name}: started")
        return done


def _pids_text(driver: ReferenceCloudDriver, daemons: list[Daemon]) -> str:
    return ", ".join(d.name for d in daemons) or "(no Ceph daemons)"


class _ReferenceFault(Fault):
    def __init__(self, driver: ReferenceCloudDriver, spec: FaultSpec):
        super().__init__(spec)
        self.driver = driver

    def validate(self) -> None:
        """FaultError if the spec does not fit this cloud."""

    def _plan(self, inject: list[str], heal: list[str], *, osds: list[int], hosts: list[str],
              racks: list[str]) -> FaultPlan:
        return FaultPlan(self.spec, DRIVER_NAME, tuple(inject), tuple(heal), tuple(sorted(osds)),
                         tuple(hosts), tuple(sorted(set(racks))))

    def _daemon_states(self, daemons: list[Daemon]) -> list[ComponentState]:
        return [ComponentState(f"{d.name} daemon", self.driver.running(d),
                               "running" if self.driver.running(d) else "not running") for d in daemons]


class DiskFault(_ReferenceFault):
    def osds(self) -> list[int]:
        return list(self.spec.osd_ids)

    def validate(self) -> None:
        for i in self.osds():
            self.driver.osd_daemon(i)

    def plan(self) -> FaultPlan:
        inject, heal = [], []
        for i in self.osds():
            d = self.driver.osd_daemon(i)
            block, pulled = self.driver.block_paths(i)
            inject.append(f"SIGKILL {d.name} on host {d.host}")
            inject.append(f"move its block file {block} aside to {pulled.name} (the OSD cannot start: a dead disk)")
            heal.append(f"move {pulled.name} back to {block.name}")
            heal.append(f"start {d.name} in host {d.host}'s namespace")
        hosts = [self.driver.osd_daemon(i).host for i in self.osds()]
        return self._plan(inject, heal, osds=self.osds(), hosts=hosts,
                          racks=[self.driver.rack_of(h) for h in hosts])

    def inject(self) -> None:
        self.injected = True
        for i in self.osds():
            self.driver.kill(self.driver.osd_daemon(i))
            block, pulled = self.driver.block_paths(i)
            if block.exists() and not pulled.exists():
                block.rename(pulled)
                self.driver.progress(f"osd.{i}: block file pulled ({pulled})")

    def heal(self) -> None:
        for i in self.osds():
            self.driver.restore_block(i)
            self.driver.start(self.driver.osd_daemon(i))
        self.injected = False

    def status(self) -> FaultStatus:
        components = []
        for i in self.osds():
            block, pulled = self.driver.block_paths(i)
            components.append(ComponentState(f"osd.{i} block file", block.exists() and not pulled.exists(),
                                             "in place" if block.exists() else f"pulled to {pulled.name}"))
            components += self._daemon_states([self.driver.osd_daemon(i)])
        return FaultStatus(self.spec, self.injected, tuple(components))


class NodeFault(_ReferenceFault):
    def hosts(self) -> list[str]:
        return list(self.spec.targets)

    def validate(self) -> None:
        for h in self.hosts():
            self.driver.check_host(h)

    def plan(self) -> FaultPlan:
        inject, heal = [], []
        names = self.driver.cloud.underlay.names
        index = self.driver.cloud.underlay.host_index()
        for h in self.hosts():
            daemons = self.driver.daemons_of_hosts([h])
            inject.append(f"host {h}: link {names.host_link(index[h])} down, SIGKILL {_pids_text(self.driver, daemons)}")
            heal.append(f"host {h}: link {names.host_link(index[h])} up, start {_pids_text(self.driver, daemons)}")
        daemons = self.driver.daemons_of_hosts(self.hosts())
        return self._plan(inject, heal, osds=[int(d.id) for d in daemons if d.kind == "osd"], hosts=self.hosts(),
                          racks=[self.driver.rack_of(h) for h in self.hosts()])

    def inject(self) -> None:
        self.injected = True
        for h in self.hosts():
            self.driver.set_host_link(h, False)
            for d in self.driver.daemons_of_hosts([h]):
                self.driver.kill(d)

    def heal(self) -> None:
        for h in self.hosts():
            self.driver.set_host_link(h, True)
        for d in self.driver.daemons_of_hosts(self.hosts()):
            self.driver.start(d)
        self.injected = False

    def status(self) -> FaultStatus:
        links = self.driver.host_links()
        components = [ComponentState(f"host {h} link", links.get(h) == "up", links.get(h, "missing"))
                      for h in self.hosts()]
        components += self._daemon_states(self.driver.daemons_of_hosts(self.hosts()))
        return FaultStatus(self.spec, self.injected, tuple(components))


class RackFault(_ReferenceFault):
    def racks(self) -> list[str]:
        return list(self.spec.targets)

    def hosts(self) -> list[str]:
        return [h for r in self.racks() for h in self.driver.hosts_of_rack(r)]

    def validate(self) -> None:
        for r in self.racks():
            self.driver.check_rack(r)

    def plan(self) -> FaultPlan:
        inject, heal = [], []
        names = self.driver.cloud.underlay.names
        index = self.driver.cloud.underlay.rack_index()
        for r in self.racks():
            hosts = self.driver.hosts_of_rack(r)
            daemons = self.driver.daemons_of_hosts(hosts)
            inject.append(f"rack {r}: uplink {names.uplink(index[r])} down; hosts {', '.join(hosts)}: "
                          f"SIGKILL {_pids_text(self.driver, daemons)}")
            heal.append(f"rack {r}: uplink {names.uplink(index[r])} up; start {_pids_text(self.driver, daemons)}")
        daemons = self.driver.daemons_of_hosts(self.hosts())
        return self._plan(inject, heal, osds=[int(d.id) for d in daemons if d.kind == "osd"], hosts=self.hosts(),
                          racks=self.racks())

    def inject(self) -> None:
        self.injected = True
        for r in self.racks():
            self.driver.set_rack_uplink(r, False)
            for d in self.driver.daemons_of_hosts(self.driver.hosts_of_rack(r)):
                self.driver.kill(d)

    def heal(self) -> None:
        for r in self.racks():
            self.driver.set_rack_uplink(r, True)
        for d in self.driver.daemons_of_hosts(self.hosts()):
            self.driver.start(d)
        self.injected = False

    def status(self) -> FaultStatus:
        uplinks = self.driver.cloud.underlay.rack_uplinks()
        components = [ComponentState(f"rack {r} uplink", uplinks.get(r) == "up", uplinks.get(r, "missing"))
                      for r in self.racks()]
        components += self._daemon_states(self.driver.daemons_of_hosts(self.hosts()))
        return FaultStatus(self.spec, self.injected, tuple(components))


class PartitionFault(_ReferenceFault):
    def hosts(self) -> list[str]:
        if self.spec.scope == "host":
            return list(self.spec.targets)
        return [h for r in self.spec.targets for h in self.driver.hosts_of_rack(r)]

    def validate(self) -> None:
        for t in self.spec.targets:
            (self.driver.check_host if self.spec.scope == "host" else self.driver.check_rack)(t)

    def plan(self) -> FaultPlan:
        if self.spec.scope == "host":
            inject = [f"host {h}: link down (its daemons keep running, cut off)" for h in self.spec.targets]
            heal = [f"host {h}: link up; start any of its daemons that died meanwhile" for h in self.spec.targets]
            racks = [self.driver.rack_of(h) for h in self.spec.targets]
        else:
            inject = [f"rack {r}: uplink down (its daemons keep running, cut off from the spine)"
                      for r in self.spec.targets]
            heal = [f"rack {r}: uplink up; start any of its daemons that died meanwhile" for r in self.spec.targets]
            racks = list(self.spec.targets)
        daemons = self.driver.daemons_of_hosts(self.hosts())
        return self._plan(inject, heal, osds=[int(d.id) for d in daemons if d.kind == "osd"], hosts=self.hosts(),
                          racks=racks)

    def inject(self) -> None:
        self.injected = True
        for t in self.spec.targets:
            if self.spec.scope == "host":
                self.driver.set_host_link(t, False)
            else:
                self.driver.set_rack_uplink(t, False)

    def heal(self) -> None:
        for t in self.spec.targets:
            if self.spec.scope == "host":
                self.driver.set_host_link(t, True)
            else:
                self.driver.set_rack_uplink(t, True)
        for d in self.driver.daemons_of_hosts(self.hosts()):
            self.driver.start(d)
        self.injected = False

    def status(self) -> FaultStatus:
        if self.spec.scope == "host":
            links = self.driver.host_links()
            components = [ComponentState(f"host {h} link", links.get(h) == "up", links.get(h, "missing"))
                          for h in self.spec.targets]
        else:
            uplinks = self.driver.cloud.underlay.rack_uplinks()
            components = [ComponentState(f"rack {r} uplink", uplinks.get(r) == "up", uplinks.get(r, "missing"))
                          for r in self.spec.targets]
        components += self._daemon_states(self.driver.daemons_of_hosts(self.hosts()))
        return FaultStatus(self.spec, self.injected, tuple(components))


class FlapFault(FlapLoop, _ReferenceFault):
    """``params``: ``down`` (s the daemon stays dead), ``up`` (s it stays up
    after it is up in the OSD map), ``cycles`` (see :class:`FlapLoop`)."""

    def __init__(self, driver: ReferenceCloudDriver, spec: FaultSpec):
        _ReferenceFault.__init__(self, driver, spec)
        self.init_flap(spec)
        self._client = None

    def validate(self) -> None:
        self.driver.osd_daemon(self.osd())
        self.check_flap_params()

    def plan(self) -> FaultPlan:
        d = self.driver.osd_daemon(self.osd())
        inject = [f"{self.cycles} times: SIGKILL {d.name} on {d.host}, wait {self.down:g}s, start it, wait until "
                  f"it is up in the OSD map, wait {self.up:g}s"]
        heal = ["stop the loop", f"start {d.name} if it is not running"]
        return self._plan(inject, heal, osds=[self.osd()], hosts=[d.host], racks=[self.driver.rack_of(d.host)])

    def kill_osd(self, osd: int) -> None:
        self.driver.kill(self.driver.osd_daemon(osd))

    def start_osd(self, osd: int) -> None:
        self.driver.start(self.driver.osd_daemon(osd))

    def osd_up(self, osd: int) -> bool:
        if self._client is None:
            self._client = self.driver.cloud.client()
        return self._client.osd_tree().osd(osd).up

    def inject(self) -> None:
        self.injected = True
        self.start_loop(f"flap-osd.{self.osd()}")

    def heal(self) -> None:
        self.stop_loop(OSD_UP_TIMEOUT + 30)
        self.driver.start(self.driver.osd_daemon(self.osd()))
        self.injected = False

    def status(self) -> FaultStatus:
        components = [self.loop_state(), *self._daemon_states([self.driver.osd_daemon(self.osd())])]
        return FaultStatus(self.spec, self.injected, tuple(components))


class AddHostFault(_ReferenceFault):
    """``params``: ``rack`` (default: the last rack; a new name makes a new
    rack), ``osd_count`` (1), ``osd_size`` (bytes; default the last storage
    host's)."""

    def host(self) -> str:
        if len(self.spec.targets) != 1:
            raise FaultError("add-host adds exactly one host")
        return self.spec.targets[0]

    def validate(self) -> None:
        self.host()

    def _rack(self) -> str:
        return self.spec.params.get("rack") or self.driver.topology.racks[-1].name

    def _size(self) -> int:
        return int(self.spec.params.get("osd_size") or self.driver.topology.storage_hosts()[-1].osd_size_bytes)

    def plan(self) -> FaultPlan:
        count = int(self.spec.params.get("osd_count", 1))
        first = len(self.driver.topology.osd_layout())
        present = self._present()
        osds = [slot.osd for slot in self.driver.topology.osd_layout() if slot.host == self.host()] if present \
            else list(range(first, first + count))
        inject = [f"host {self.host()} joins rack {self._rack()} (namespace, link, address after every other host)",
                  f"create and start {count} OSD(s) of {self._size() / 2**30:g} GiB on it "
                  f"({', '.join(f'osd.{i}' for i in osds)}); CRUSH places them under rack {self._rack()} and Ceph "
                  "rebalances onto them"]
        heal = [f"mark {', '.join(f'osd.{i}' for i in osds)} out and wait until their data has moved (active+clean)",
                f"purge them and remove host {self.host()}'s namespace and link"]
        return self._plan(inject, heal, osds=osds, hosts=[self.host()], racks=[self._rack()])

    def _present(self) -> bool:
        return any(h.name == self.host() for h in self.driver.topology.hosts())

    def inject(self) -> None:
        self.injected = True
        if self._present():
            return
        self.driver.cloud.add_storage_host(
            self.host(), rack=self.spec.params.get("rack"), osd_count=int(self.spec.params.get("osd_count", 1)),
            osd_size=self._size())

    def heal(self) -> None:
        no_progress = float(self.spec.params.get("drain_no_progress", DRAIN_NO_PROGRESS))
        self.driver.cloud.remove_storage_host(self.host(), no_progress_timeout=no_progress)
        self.injected = False

    def status(self) -> FaultStatus:
        present = self._present()
        components = [ComponentState(f"host {self.host()}", not present,
                                     "joined (added capacity)" if present else "not part of the cloud")]
        return FaultStatus(self.spec, self.injected, tuple(components))
