"""A fault driver that acts on OSDs over SSH: the lab path for disks.

Every OSD lives on a host reached through a :class:`~octoprobe.shell.Runner`
(an :class:`~octoprobe.remote.SshRunner` for a lab node). What "kill",
"start", "is it running" and "take its disk offline / online" mean on that
host is a set of shell templates, :class:`OsdCommands`:

* :data:`SYSTEMD` — a lab node with Ceph's systemd units: ``systemctl kill
  --signal=SIGKILL ceph-osd@N`` then ``systemctl stop`` (so systemd does not
  restart it), ``systemctl start``; a disk is taken offline through sysfs
  (``echo offline > /sys/block/DEV/device/state``) when the OSD's device is
  known (``{dev}``);
* :func:`reference_commands` — the reference cloud's daemons (no systemd):
  SIGKILL by command line, start with the cloud's own command line, the block
  file moved aside and back.

* :func:`cephadm_commands` — a cephadm cluster: the same through the units
  ``ceph-<fsid>@osd.N``;
* :func:`commands_from_inventory` — whichever the inventory's ``ceph`` block
  asks for (``osd_control: systemd | cephadm | commands``).

Kinds: ``disk`` (kill, then the disk offline if the templates can) and
``flap`` (kill, wait, start, wait until the OSD is up in the OSD map, wait;
repeated, in a background thread; needs a :class:`~octoprobe.ceph.CephClient`).
Node power (IPMI/Redfish, :mod:`.power`) and switch ports (:mod:`.switch`)
are other drivers; :mod:`.lab` puts them together.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from octoprobe.shell import CommandError, Runner

from .flap import OSD_UP_TIMEOUT, FlapLoop
from .base import DISK, FLAP, ComponentState, Fault, FaultError, FaultPlan, FaultSpec, FaultStatus

__all__ = ["OsdCommands", "SYSTEMD", "reference_commands", "cephadm_commands", "commands_from_inventory",
           "SshOsdDriver", "SshDiskFault", "SshFlapFault"]

COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class OsdCommands:
    """Shell templates; ``{id}`` is the OSD id, other fields come from
    ``OsdCommands.values`` and the per-OSD ``devices``."""

    kill: str
    start: str
    running: str  # exit 0 when the OSD runs
    disk_offline: str | None = None
    disk_online: str | None = None
    disk_offline_check: str | None = None  # exit 0 while the disk is offline
    values: Mapping[str, str] = field(default_factory=dict)

    def render(self, template: str, osd: int, devices: Mapping[int, str]) -> str:
        fields = {**self.values, "id": str(osd)}
        if "{dev}" in template:
            if osd not in devices:
                raise FaultError(f"no device known for osd.{osd}: give it in the inventory to take its disk offline")
            fields["dev"] = devices[osd]
        return template.format(**fields)


SYSTEMD = OsdCommands(
    kill="systemctl kill --signal=SIGKILL ceph-osd@{id}; systemctl stop ceph-osd@{id}",
    start="systemctl start ceph-osd@{id}",
    running="systemctl is-active --quiet ceph-osd@{id}",
    disk_offline="echo offline > /sys/block/{dev}/device/state",
    disk_online="echo running > /sys/block/{dev}/device/state",
    disk_offline_check="grep -qx offline /sys/block/{dev}/device/state",
)


def reference_commands(conf: str, osd_root: str) -> OsdCommands:
    """The reference cloud's OSDs, driven over SSH from inside their host's
    namespace: the same command line ``octoprobe cloud up`` uses."""
    q = shlex.quote
    pattern = f"^ceph-osd --conf {conf} -i {{id}}$"
    block = f"{osd_root}/ceph-{{id}}/block"
    return OsdCommands(
        kill=f"pkill -KILL -f -- {q(pattern)}; while pgrep -f -- {q(pattern)} >/dev/null; do sleep 0.1; done",
        start=f"pgrep -f -- {q(pattern)} >/dev/null || ceph-osd --conf {q(conf)} -i {{id}}",
        running=f"pgrep -f -- {q(pattern)} >/dev/null",
        disk_offline=f"test -e {block}.octoprobe-pulled || mv {block} {block}.octoprobe-pulled",
        disk_online=f"test -e {block} || mv {block}.octoprobe-pulled {block}",
        disk_offline_check=f"test -e {block}.octoprobe-pulled",
    )


def cephadm_commands(fsid: str) -> OsdCommands:
    """A cephadm cluster: OSD ``N`` is the systemd unit ``ceph-<fsid>@osd.N``."""
    unit = f"ceph-{fsid}@osd.{{id}}"
    return OsdCommands(
        kill=f"systemctl kill --signal=SIGKILL {unit}; systemctl stop {unit}",
        start=f"systemctl start {unit}",
        running=f"systemctl is-active --quiet {unit}",
        disk_offline=SYSTEMD.disk_offline,
        disk_online=SYSTEMD.disk_online,
        disk_offline_check=SYSTEMD.disk_offline_check,
        values={"fsid": fsid},
    )


def commands_from_inventory(ceph: Any, fsid: str | None = None) -> OsdCommands:
    """The :class:`OsdCommands` an inventory's ``ceph`` block
    (:class:`~octoprobe.inventory.CephAccess`) asks for; ``fsid`` is the
    cluster's (needed for cephadm when the inventory does not give it)."""
    fsid = ceph.fsid or fsid
    if ceph.osd_control == "systemd":
        return OsdCommands(SYSTEMD.kill, SYSTEMD.start, SYSTEMD.running, SYSTEMD.disk_offline, SYSTEMD.disk_online,
                           SYSTEMD.disk_offline_check, values={"fsid": fsid or "{fsid}"})
    if ceph.osd_control == "cephadm":
        if not fsid:
            raise FaultError("osd_control cephadm needs the cluster's fsid: give ceph.fsid in the inventory")
        return cephadm_commands(fsid)
    t = ceph.commands
    return OsdCommands(kill=t.kill, start=t.start, running=t.running, disk_offline=t.disk_offline,
                       disk_online=t.disk_online, disk_offline_check=t.disk_check,
                       values={"fsid": fsid or "{fsid}"})


class SshOsdDriver:
    """OSD faults over SSH. ``hosts``: host name -> runner; ``osd_host``: OSD id
    -> host name; ``devices``: OSD id -> block device name (for sysfs);
    ``client``: the cluster (a flap waits until its OSD is up in the OSD map)."""

    name = "ssh"

    def __init__(self, hosts: Mapping[str, Runner], osd_host: Mapping[int, str], commands: OsdCommands, *,
                 devices: Mapping[int, str] | None = None, timeout: float = COMMAND_TIMEOUT,
                 progress: Callable[[str], None] | None = None, client: Any = None,
                 rack_of: Mapping[str, str] | None = None):
        self.hosts = dict(hosts)
        self.rack_of = dict(rack_of or {})
        self.osd_host = dict(osd_host)
        self.commands = commands
        self.devices = dict(devices or {})
        self.timeout = timeout
        self.progress = progress or (lambda m: None)
        self.client = client

    def runner(self, osd: int) -> tuple[str, Runner]:
        host = self.osd_host.get(osd)
        if host is None or host not in self.hosts:
            raise FaultError(f"no SSH access to the host of osd.{osd}")
        return host, self.hosts[host]

    def sh(self, osd: int, template: str, *, check: bool = True) -> int:
        host, runner = self.runner(osd)
        command = self.commands.render(template, osd, self.devices)
        try:
            return runner.run(["sh", "-c", command], timeout=self.timeout, check=check).returncode
        except CommandError as exc:
            raise FaultError(f"on {host}: {exc}") from exc

    def fault(self, spec: FaultSpec) -> Fault:
        if spec.kind not in (DISK, FLAP):
            raise FaultError(f"the SSH driver does {DISK} and {FLAP} faults; {spec.kind} needs another driver "
                             "(power through the BMC, switch ports, or the reference cloud's)")
        fault: Fault = SshDiskFault(self, spec) if spec.kind == DISK else SshFlapFault(self, spec)
        for osd in spec.osd_ids:
            self.runner(osd)
        if isinstance(fault, SshFlapFault):
            fault.validate()
        return fault

    def running(self, osd: int) -> bool:
        return self.sh(osd, self.commands.running, check=False) == 0

    def step(self, osd: int, template: str) -> str:
        """One command as a plan shows it: ``on HOST over SSH: COMMAND``."""
        host, _ = self.runner(osd)
        return f"on {host} over SSH: {self.commands.render(template, osd, self.devices)}"

    def heal_everything(self) -> list[str]:
        done = []
        for osd in sorted(self.osd_host):
            fault = SshDiskFault(self, FaultSpec(DISK, (f"osd.{osd}",)))
            if not fault.status().healthy:
                fault.heal()
                done.append(f"osd.{osd} healed")
        return done


class SshDiskFault(Fault):
    def __init__(self, driver: SshOsdDriver, spec: FaultSpec):
        super().__init__(spec)
        self.driver = driver

    def _offline_possible(self, osd: int) -> bool:
        c = self.driver.commands
        return bool(c.disk_offline and c.disk_online) and ("{dev}" not in c.disk_offline or osd in self.driver.devices)

    def plan(self) -> FaultPlan:
        inject, heal, hosts = [], [], []
        c = self.driver.commands
        for osd in self.spec.osd_ids:
            host, _ = self.driver.runner(osd)
            hosts.append(host)
            inject.append(f"on {host} over SSH: {c.render(c.kill, osd, self.driver.devices)}")
            if self._offline_possible(osd):
                inject.append(f"on {host}: {c.render(c.disk_offline, osd, self.driver.devices)}")
                heal.append(f"on {host}: {c.render(c.disk_online, osd, self.driver.devices)}")
            heal.append(f"on {host}: {c.render(c.start, osd, self.driver.devices)}")
        racks = tuple(sorted({self.driver.rack_of[h] for h in hosts if h in self.driver.rack_of}))
        return FaultPlan(self.spec, self.driver.name, tuple(inject), tuple(heal), self.spec.osd_ids, tuple(hosts),
                         racks)

    def inject(self) -> None:
        self.injected = True
        c = self.driver.commands
        for osd in self.spec.osd_ids:
            self.driver.sh(osd, c.kill)
            self.driver.progress(f"osd.{osd}: killed over SSH")
            if self._offline_possible(osd):
                self.driver.sh(osd, c.disk_offline)  # type: ignore[arg-type]
                self.driver.progress(f"osd.{osd}: disk offline")

    def heal(self) -> None:
        c = self.driver.commands
        for osd in self.spec.osd_ids:
            if self._offline_possible(osd):
                self.driver.sh(osd, c.disk_online)  # type: ignore[arg-type]
            if self.driver.sh(osd, c.running, check=False) != 0:
                self.driver.sh(osd, c.start)
                self.driver.progress(f"osd.{osd}: started over SSH")
        self.injected = False

    def status(self) -> FaultStatus:
        c = self.driver.commands
        components = []
        for osd in self.spec.osd_ids:
            running = self.driver.sh(osd, c.running, check=False) == 0
            components.append(ComponentState(f"osd.{osd} daemon", running, "running" if running else "not running"))
            if c.disk_offline_check and self._offline_possible(osd):
                offline = self.driver.sh(osd, c.disk_offline_check, check=False) == 0
                components.append(ComponentState(f"osd.{osd} disk", not offline, "offline" if offline else "online"))
        return FaultStatus(self.spec, self.injected, tuple(components))


class SshFlapFault(FlapLoop, Fault):
    """One OSD killed and started over SSH on a schedule, in a background
    thread (:class:`~octoprobe.faults.flap.FlapLoop`). ``params``: ``down``
    (s it stays dead), ``up`` (s it stays up once it is up in the OSD map),
    ``cycles``. Heal stops the loop and makes sure the OSD runs."""

    def __init__(self, driver: SshOsdDriver, spec: FaultSpec):
        Fault.__init__(self, spec)
        self.driver = driver
        self.init_flap(spec)

    def validate(self) -> None:
        self.osd()
        self.check_flap_params()
        if self.driver.client is None:
            raise FaultError("a flap over SSH needs the cluster's CephClient (to see the OSD up again)")

    def plan(self) -> FaultPlan:
        osd = self.osd()
        c = self.driver.commands
        host, _ = self.driver.runner(osd)
        inject = [f"{self.cycles} times: {self.driver.step(osd, c.kill)}; wait {self.down:g}s; "
                  f"{c.render(c.start, osd, self.driver.devices)}; wait until osd.{osd} is up in the OSD map; "
                  f"wait {self.up:g}s"]
        heal = ["stop the loop", f"{self.driver.step(osd, c.start)} (if `{c.render(c.running, osd, {})}` fails)"]
        racks = (self.driver.rack_of[host],) if host in self.driver.rack_of else ()
        return FaultPlan(self.spec, self.driver.name, tuple(inject), tuple(heal), (osd,), (host,), racks)

    def kill_osd(self, osd: int) -> None:
        self.driver.sh(osd, self.driver.commands.kill)
        self.driver.progress(f"osd.{osd}: killed over SSH (flap)")

    def start_osd(self, osd: int) -> None:
        self.driver.sh(osd, self.driver.commands.start)

    def osd_up(self, osd: int) -> bool:
        return self.driver.client.osd_tree().osd(osd).up

    def inject(self) -> None:
        self.injected = True
        self.start_loop(f"ssh-flap-osd.{self.osd()}")

    def heal(self) -> None:
        self.stop_loop(OSD_UP_TIMEOUT + self.driver.timeout + 30)
        osd = self.osd()
        if not self.driver.running(osd):
            self.driver.sh(osd, self.driver.commands.start)
            self.driver.progress(f"osd.{osd}: started over SSH")
        self.injected = False

    def status(self) -> FaultStatus:
        osd = self.osd()
        running = self.driver.running(osd)
        components = (self.loop_state(),
                      ComponentState(f"osd.{osd} daemon", running, "running" if running else "not running"))
        return FaultStatus(self.spec, self.injected, components)
