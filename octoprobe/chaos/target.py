"""Which cluster the chaos scenarios act on, and through which fault driver.

* the bundled reference cloud (:func:`open_reference_target`), found by its
  state directory and prefix;
* a lab described by an inventory (:func:`open_lab_target`): ``ceph`` and
  ``rados`` run over SSH on the inventory's admin node, faults go through
  the lab driver (:mod:`octoprobe.faults.lab`: OSDs over SSH, power through
  BMCs, switch ports), the fault journal lives in a local state directory
  (default ``~/.local/state/octoprobe/chaos-<inventory name>/faults.json``).

Opening a target first heals what an earlier run left injected (its fault
journal), so a run killed hard mid-fault does not poison the next one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from octoprobe.ceph import CephClient
from octoprobe.faults import FaultDriver, FaultGuard, FaultJournal
from octoprobe.shell import LocalRunner

from .scenario import ScenarioConfig, ScenarioRunner
from .workload import RadosObjects

__all__ = ["ChaosTarget", "TargetUnavailable", "open_reference_target", "open_lab_target", "lab_state_dir",
           "JOURNAL_NAME"]

JOURNAL_NAME = "chaos/faults.json"
CLIENT_TIMEOUT = 30.0


class TargetUnavailable(RuntimeError):
    """The target cannot be used; the message says what is missing."""


@dataclass
class ChaosTarget:
    kind: str
    description: str
    client: CephClient
    driver: FaultDriver
    journal: FaultJournal
    conf: str
    healed_at_open: tuple[str, ...] = ()
    #: the workload's objects (default: ``rados`` run locally with ``conf``)
    make_objects: Callable[[ScenarioConfig], RadosObjects] | None = None
    #: closes what the target holds open (SSH connections)
    closer: Callable[[], None] | None = None

    def guard(self, say: Callable[[str], None] = lambda m: None) -> FaultGuard:
        return FaultGuard(self.driver, self.journal, say=say)

    def objects(self, config: ScenarioConfig) -> RadosObjects:
        if self.make_objects is not None:
            return self.make_objects(config)
        return RadosObjects(LocalRunner(), conf=self.conf, pool=config.pool, scratch=config.scratch,
                            namespace=config.namespace)

    def close(self) -> None:
        if self.closer is not None:
            self.closer()

    def runner(self, guard: FaultGuard, config: ScenarioConfig,
               say: Callable[[str], None] = lambda m: None) -> ScenarioRunner:
        return ScenarioRunner(client=self.client, guard=guard, objects=lambda: self.objects(config),
                              config=config, say=say)


def open_reference_target(state_dir: Path, prefix: str, *, say: Callable[[str], None] = lambda m: None,
                          progress: Callable[[str], None] | None = None) -> ChaosTarget:
    """The reference cloud in ``state_dir`` with kernel-object prefix
    ``prefix``. ``say`` hears every fault action (a kill, a link down, a
    heal); ``progress`` the cloud's own progress lines (default: ``say``)."""
    from octoprobe.reference_impl.cloud import Cloud, CloudError, read_instance
    from octoprobe.reference_impl.state import CloudPaths

    from octoprobe.faults.registry import fault_driver

    state_dir = Path(state_dir)
    if os.geteuid() != 0:
        raise TargetUnavailable("the chaos suite needs root on the reference cloud: it kills Ceph daemons "
                                "and takes links of network namespaces down")
    paths = CloudPaths(state_dir)
    try:
        instance = read_instance(paths)
    except CloudError as exc:
        raise TargetUnavailable(str(exc)) from exc
    if instance is None:
        raise TargetUnavailable(f"no reference cloud in {state_dir}: run `octoprobe cloud up` (with "
                                "OCTOPROBE_STATE_DIR / OCTOPROBE_PREFIX), or point the suite at one with "
                                "--reference-state-dir and --reference-prefix")
    try:
        cloud = Cloud.open(state_dir, prefix, progress=progress or say)
    except (CloudError, ValueError) as exc:
        raise TargetUnavailable(str(exc)) from exc
    driver = fault_driver("reference")(cloud, progress=say)
    journal = FaultJournal(state_dir / JOURNAL_NAME)
    healed: list[str] = []
    if journal.entries():
        healed = FaultGuard(driver, journal, say=say).heal_leftovers()
        healed += driver.heal_everything()
        say(f"octoprobe: healed what an earlier chaos run left: {', '.join(healed) or 'nothing'}")
    daemons = cloud.ceph.daemon_status()
    running = sum(d.running for d in daemons)
    if running != len(daemons):
        stopped = ", ".join(d.daemon.name for d in daemons if not d.running)
        raise TargetUnavailable(f"the reference cloud in {state_dir} is not up ({running}/{len(daemons)} daemons "
                                f"running; stopped: {stopped}): run `octoprobe cloud up`")
    client = CephClient(LocalRunner(), conf=cloud.ceph.conf, timeout=CLIENT_TIMEOUT)
    return ChaosTarget("reference-cloud", f"reference cloud {state_dir} (prefix {prefix})", client, driver,
                       journal, cloud.ceph.conf, tuple(healed))


def lab_state_dir(inventory: Any) -> Path:
    """Where a lab's fault journal lives by default:
    ``$XDG_STATE_HOME`` (else ``~/.local/state``) ``/octoprobe/chaos-<name>``,
    the name being the inventory's ``name`` (else its file name)."""
    name = inventory.name or Path(inventory.path).stem
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "lab"
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "octoprobe" / f"chaos-{safe}"


def open_lab_target(inventory: Any, *, state_dir: Path | None = None, heal: bool = True,
                    say: Callable[[str], None] = lambda m: None, runners: dict[str, Any] | None = None,
                    driver_options: dict[str, Any] | None = None) -> ChaosTarget:
    """The lab of ``inventory`` (an :class:`~octoprobe.inventory.Inventory`).

    ``ceph`` and ``rados`` run over SSH on the inventory's admin node
    (``ceph.admin_node``, default the first monitor node) with
    ``ceph.conf``; faults go through the ``lab`` driver. The fault journal is
    ``state_dir/faults.json`` (default :func:`lab_state_dir`). With ``heal``
    (not in a dry run) what an earlier run left journaled is healed first
    (FaultError if that fails). Only the admin node is contacted here (is it reachable? the fsid for
    cephadm units without ``ceph.fsid``), unless something must be healed.
    TargetUnavailable says what is missing."""
    from octoprobe.faults import FaultError
    from octoprobe.faults.lab import ssh_runner
    from octoprobe.faults.registry import fault_driver
    from octoprobe.shell import CommandError

    from .rados_pipe import PipedRadosObjects

    ceph = inventory.ceph
    if ceph is None:
        raise TargetUnavailable(f"the inventory {inventory.path} says nowhere to run ceph and rados: give a "
                                "'ceph' block with admin_node (or a node with the role 'monitor')")
    runners = dict(runners) if runners is not None else {n.name: ssh_runner(n.ssh) for n in inventory.nodes}
    admin = runners[ceph.admin_node]
    client = CephClient(admin, conf=ceph.conf, name=ceph.client, keyring=ceph.keyring, timeout=CLIENT_TIMEOUT)
    fsid = ceph.fsid
    try:
        admin.run(["true"], timeout=CLIENT_TIMEOUT)
    except CommandError as exc:
        raise TargetUnavailable(f"cannot reach the lab's admin node {ceph.admin_node} over SSH: {exc}") from exc
    try:
        if fsid is None and ceph.osd_control == "cephadm":
            fsid = client.command("fsid")["fsid"]
        driver = fault_driver("lab")(inventory, client=client, fsid=fsid, runners=runners, progress=say,
                                     **(driver_options or {}))
    except (FaultError, CommandError) as exc:
        raise TargetUnavailable(f"lab {inventory.name or inventory.path}: {exc}") from exc

    def close() -> None:
        driver.close()

    journal = FaultJournal(Path(state_dir or lab_state_dir(inventory)) / "faults.json")
    healed: list[str] = []
    if heal and journal.entries():
        try:
            healed = FaultGuard(driver, journal, say=say).heal_leftovers()
        except (FaultError, CommandError) as exc:  # loud, not a skip: the lab is left broken
            close()
            raise FaultError(f"could not heal what an earlier chaos run left in the lab (journal {journal.path}; "
                             f"heal it by hand, then delete the journal): {exc}") from exc
        say(f"octoprobe: healed what an earlier chaos run left: {', '.join(healed) or 'nothing'}")

    def objects(config: ScenarioConfig) -> RadosObjects:
        return PipedRadosObjects(admin, conf=ceph.conf, pool=config.pool, scratch=config.scratch,
                                 namespace=config.namespace, name=ceph.client, keyring=ceph.keyring)

    where = f"{ceph.admin_node} ({inventory.node(ceph.admin_node).ssh.host})"
    return ChaosTarget("lab", f"lab {inventory.name or inventory.path}: ceph and rados on {where} over SSH", client,
                       driver, journal, ceph.conf, tuple(healed), make_objects=objects, closer=close)
