"""The fault driver for a lab described by an inventory (``--inventory``).

It dispatches each fault kind to the driver that can do it on real machines:

=========  ==============================================================
disk       :class:`~.ssh.SshOsdDriver`: the OSD killed over SSH, its disk
           taken offline through sysfs where its device is known (or the
           inventory's ``disk_offline`` command)
flap       :class:`~.ssh.SshFlapFault`: kill / start loop over SSH
node       :class:`~.power.PowerFault`: power off through the node's BMC
           (IPMI or Redfish); heal powers it on and waits until SSH answers
           and its OSDs run. A node without a ``bmc`` is refused.
partition  :class:`~.switch.PortsFault`: the node's switch ports down (scope
           host), or a rack's (scope rack); daemons keep running
rack       :class:`~.switch.PortsFault`: the rack's ``uplinks`` down if the
           inventory gives them, else every switch port of its nodes
add-host   refused: adding capacity needs hardware to add
=========  ==============================================================

How OSDs are killed and started comes from the inventory's ``ceph`` block
(``osd_control: systemd | cephadm | commands``, see
:func:`~.ssh.commands_from_inventory`). The admin node (where octoprobe runs
``ceph`` and ``rados``) is never powered off or cut off: the cluster could
then be neither observed nor healed.

Nothing here connects anywhere until a fault is injected, healed or asked
for its status: SSH connections open on first use, so plans
(``--chaos-dry-run``) need no access to the lab.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from octoprobe.remote import SshRunner
from octoprobe.shell import CommandError, Runner

from .base import ADD_HOST, DISK, FLAP, NODE, PARTITION, RACK, Fault, FaultError, FaultSpec, FaultUnsupported
from .power import PowerControl, PowerFault, power_control
from .ssh import SshOsdDriver, commands_from_inventory
from .switch import PortRef, PortsFault, SwitchClient

__all__ = ["LabFaultDriver", "ssh_runner", "switch_runner", "wait_reachable", "BOOT_TIMEOUT", "REACH_TIMEOUT"]

DRIVER_NAME = "lab"
BOOT_TIMEOUT = 900.0  # a node powered on must answer SSH with its OSDs running within this
REACH_TIMEOUT = 180.0  # a node whose ports came up must answer SSH with its OSDs running within this
PROBE_TIMEOUT = 10.0


def ssh_runner(access: Any) -> SshRunner:
    """An SSH runner for an inventory :class:`~octoprobe.inventory.SshAccess`."""
    return SshRunner(access.host, user=access.user, port=access.port, key_file=access.key_file,
                     known_hosts=access.known_hosts)


def switch_runner(switch: Any) -> SshRunner:
    """An SSH runner for an inventory :class:`~octoprobe.inventory.Switch`:
    its key, or its password (read from the inventory's reference only when
    connecting)."""
    user = switch.username if isinstance(switch.username, str) else (
        switch.username.resolve() if switch.username is not None else "root")
    password = switch.password.resolve if switch.password is not None else None
    return SshRunner(switch.address, user=user, port=switch.port, key_file=switch.key_file,
                     known_hosts=switch.known_hosts, password=password)


def wait_reachable(runner: Runner, deadline: float, what: str) -> None:
    """Until ``runner`` runs ``true`` (reconnecting as needed); FaultError after ``deadline``."""
    while True:
        try:
            runner.run(["true"], timeout=PROBE_TIMEOUT)
            return
        except CommandError as exc:
            close = getattr(runner, "close", None)
            if close is not None:
                close()  # a connection from before the fault may be dead: reconnect
            if time.monotonic() > deadline:
                raise FaultError(f"{what} does not answer over SSH: {exc}") from exc
            time.sleep(2)


class LabFaultDriver:
    """Faults on a lab. ``inventory``: an :class:`~octoprobe.inventory.Inventory`
    with a ``ceph`` block (or a monitor node); ``client``: the cluster's
    :class:`~octoprobe.ceph.CephClient` (flaps wait for the OSD map through
    it); ``fsid``: the cluster's (cephadm units). ``runners`` (node name ->
    runner), ``switches`` (switch name -> :class:`SwitchClient`) and
    ``power`` (BMC -> control) default to the real thing; tests give doubles."""

    name = DRIVER_NAME

    def __init__(self, inventory: Any, *, client: Any = None, fsid: str | None = None,
                 runners: Mapping[str, Runner] | None = None, switches: Mapping[str, SwitchClient] | None = None,
                 power: Callable[[Any], PowerControl] = power_control,
                 progress: Callable[[str], None] | None = None, boot_timeout: float = BOOT_TIMEOUT,
                 reach_timeout: float = REACH_TIMEOUT, command_timeout: float = 60.0):
        if inventory.ceph is None:
            raise FaultError(f"{inventory.path}: no 'ceph' block and no node with the role 'monitor': octoprobe "
                             "does not know where to run ceph and rados (give ceph.admin_node)")
        self.inventory = inventory
        self.progress = progress or (lambda m: None)
        self.runners = dict(runners) if runners is not None else {n.name: ssh_runner(n.ssh) for n in inventory.nodes}
        self._switches = dict(switches) if switches is not None else None
        self._power = power
        self.boot_timeout = boot_timeout
        self.reach_timeout = reach_timeout
        self.commands = commands_from_inventory(inventory.ceph, fsid)
        nodes = inventory.nodes
        self.osd = SshOsdDriver(
            {n.name: self.runners[n.name] for n in nodes if n.osds and n.name in self.runners},
            {osd: n.name for n in nodes for osd in n.osds}, self.commands,
            devices={osd: dev for n in nodes for osd, dev in n.osd_devices}, timeout=command_timeout,
            progress=self.progress, client=client, rack_of={n.name: n.rack for n in nodes})

    # -- what the inventory has ----------------------------------------------------
    @property
    def admin_node(self) -> str:
        return self.inventory.ceph.admin_node

    def node(self, name: str) -> Any:
        try:
            return self.inventory.node(name)
        except KeyError:
            raise FaultError(f"no node {name!r} in the inventory {self.inventory.path}") from None

    def rack(self, name: str) -> Any:
        try:
            return self.inventory.rack(name)
        except KeyError:
            raise FaultError(f"no rack {name!r} in the inventory {self.inventory.path}") from None

    def switch(self, name: str) -> SwitchClient:
        if self._switches is None:
            self._switches = {}
        if name not in self._switches:
            try:
                sw = self.inventory.switch(name)
            except KeyError:
                raise FaultError(f"no switch {name!r} in the inventory {self.inventory.path}") from None
            runner = switch_runner(sw)
            self._switches[name] = SwitchClient(sw.name, sw.type, runner, user=runner.user,
                                                where=f"{sw.address}:{sw.port}" if sw.port != 22 else sw.address)
        return self._switches[name]

    def _not_admin(self, nodes: list[str], what: str) -> None:
        if self.admin_node in nodes:
            raise FaultUnsupported(f"{what} would take down the admin node {self.admin_node} (where octoprobe runs "
                                   "ceph and rados): the cluster could be neither observed nor healed; choose "
                                   "another ceph.admin_node in the inventory")

    # -- after a fault: the nodes back -----------------------------------------------
    def wait_back(self, name: str, deadline: float) -> None:
        """Until node ``name`` answers SSH and every OSD of it runs (started if not)."""
        node = self.node(name)
        if name not in self.runners:
            return
        wait_reachable(self.runners[name], deadline, f"node {name}")
        started = set()
        while True:
            stopped = [osd for osd in node.osds if not self.osd.running(osd)]
            if not stopped:
                return
            for osd in stopped:
                if osd not in started:
                    self.osd.sh(osd, self.commands.start)
                    started.add(osd)
                    self.progress(f"osd.{osd}: started over SSH on {name}")
            if time.monotonic() > deadline:
                raise FaultError(f"node {name}: {', '.join(f'osd.{i}' for i in stopped)} not running")
            time.sleep(2)

    def _back_text(self, name: str) -> str:
        osds = self.node(name).osds
        what = f"its OSDs ({', '.join(f'osd.{i}' for i in osds)}) run, started with " \
               f"`{self.commands.start}` if not" if osds else "nothing else (no OSDs)"
        return f"wait until SSH to it answers and {what}"

    # -- the interface ---------------------------------------------------------------
    def fault(self, spec: FaultSpec) -> Fault:
        if spec.kind in (DISK, FLAP):
            return self.osd.fault(spec)
        if spec.kind == NODE:
            return self._power_fault(spec)
        if spec.kind == RACK or (spec.kind == PARTITION and spec.scope == "rack"):
            return self._rack_fault(spec)
        if spec.kind == PARTITION:
            return self._host_partition(spec)
        if spec.kind == ADD_HOST:
            raise FaultUnsupported("adding capacity needs hardware to add: a lab's spare storage node is not "
                                   "described by the inventory, so octoprobe cannot add one")
        raise FaultError(f"the lab driver cannot do {spec.kind} faults")

    def _power_fault(self, spec: FaultSpec) -> Fault:
        nodes = [self.node(n) for n in spec.targets]
        self._not_admin([n.name for n in nodes], f"powering off {', '.join(spec.targets)}")
        controls = {}
        for n in nodes:
            if n.bmc is None:
                raise FaultUnsupported(f"node {n.name} has no bmc in the inventory {self.inventory.path}: a node "
                                       "fault powers it off through its BMC (IPMI or Redfish)")
            controls[n.name] = self._power(n.bmc)
        return PowerFault(spec, self.name, controls, osds=[o for n in nodes for o in n.osds],
                          racks=[n.rack for n in nodes], back=self.wait_back, back_text=self._back_text,
                          boot_timeout=self.boot_timeout, progress=self.progress)

    def _ports_fault(self, spec: FaultSpec, ports: list[PortRef], nodes: list[Any], racks: list[str]) -> Fault:
        names = [n.name for n in nodes]
        self._not_admin(names, f"{spec.describe()}")
        switches = {p.switch: self.switch(p.switch) for p in ports}
        with_osds = [n.name for n in nodes if n.osds]

        def after_heal() -> None:
            deadline = time.monotonic() + self.reach_timeout
            for name in with_osds:
                self.wait_back(name, deadline)

        text = (f"wait until {', '.join(with_osds)} answer(s) SSH and its (their) OSDs run (started with "
                f"`{self.commands.start}` if not; within {self.reach_timeout:g}s)") if with_osds else None
        return PortsFault(spec, self.name, ports, switches, osds=[o for n in nodes for o in n.osds],
                          hosts=names, racks=racks, after_heal=after_heal, after_heal_text=text,
                          progress=self.progress)

    def _host_partition(self, spec: FaultSpec) -> Fault:
        nodes = [self.node(n) for n in spec.targets]
        ports = []
        for n in nodes:
            if not n.switch_ports:
                raise FaultUnsupported(f"node {n.name} has no switch_ports in the inventory {self.inventory.path}: "
                                       "a partition takes its switch ports down")
            ports += [PortRef(p.switch, p.port, f"node {n.name}" + (f" {p.interface}" if p.interface else ""))
                      for p in n.switch_ports]
        return self._ports_fault(spec, ports, nodes, [n.rack for n in nodes])

    def _rack_fault(self, spec: FaultSpec) -> Fault:
        ports, nodes = [], []
        for name in spec.targets:
            rack = self.rack(name)
            nodes += list(rack.nodes)
            if rack.uplinks:
                ports += [PortRef(p.switch, p.port, f"rack {name} uplink") for p in rack.uplinks]
                continue
            node_ports = [PortRef(p.switch, p.port, f"rack {name} node {n.name}")
                          for n in rack.nodes for p in n.switch_ports]
            if not node_ports:
                raise FaultUnsupported(f"rack {name} has neither uplinks nor switch ports of its nodes in the "
                                       f"inventory {self.inventory.path}: a rack fault takes them down")
            ports += node_ports
        return self._ports_fault(spec, ports, nodes, list(spec.targets))

    def heal_everything(self) -> list[str]:
        """After a crash lost the journal: every OSD of the inventory running
        with its disk online, every switch port of the inventory (nodes'
        ports and racks' uplinks) up. Power is left alone."""
        done = list(self.osd.heal_everything())
        ports = [(p.switch, p.port) for n in self.inventory.nodes for p in n.switch_ports]
        ports += [(p.switch, p.port) for r in self.inventory.racks for p in r.uplinks]
        for switch, port in ports:
            client = self.switch(switch)
            if not client.port_up(port):
                client.set_port(port, True)
                done.append(f"switch {switch}: port {port} up")
        return done

    def close(self) -> None:
        for runner in [*self.runners.values(), *[s.runner for s in (self._switches or {}).values()]]:
            close = getattr(runner, "close", None)
            if close is not None:
                close()
