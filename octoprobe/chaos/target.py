"""Which cluster the chaos scenarios act on, and through which fault driver.

Today: the bundled reference cloud (:func:`open_reference_target`), found by
its state directory and prefix. A lab described by an inventory will get its
own opener (SSH + systemd, IPMI/Redfish, switch ports) returning the same
:class:`ChaosTarget`.

Opening a target first heals what an earlier run left injected (its fault
journal), so a run killed hard mid-fault does not poison the next one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from octoprobe.ceph import CephClient
from octoprobe.faults import FaultDriver, FaultGuard, FaultJournal
from octoprobe.shell import LocalRunner

from .scenario import ScenarioConfig, ScenarioRunner
from .workload import RadosObjects

__all__ = ["ChaosTarget", "TargetUnavailable", "open_reference_target", "JOURNAL_NAME"]

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

    def guard(self, say: Callable[[str], None] = lambda m: None) -> FaultGuard:
        return FaultGuard(self.driver, self.journal, say=say)

    def objects(self, config: ScenarioConfig) -> RadosObjects:
        return RadosObjects(LocalRunner(), conf=self.conf, pool=config.pool, scratch=config.scratch,
                            namespace=config.namespace)

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
