"""Scenarios: a fault (the nemesis), a workload and a checker, kept apart
and run in one order, Jepsen-style.

    plan      read the cluster, choose the victims (seeded, reproducible),
              predict with the oracle; refuse when the oracle refuses (nearfull)
              or the fault spans more failure domains than allowed
    preflight the cluster must be active+clean; stale workload objects go
    write     the data set (checksummed objects), then background writers
    inject    through the FaultGuard (journaled, healed whatever happens)
    observe   detection, outs, then either full healing or a settled state;
              the observed outcome is compared with the prediction
    heal      through the guard; wait until every OSD is up and in and every
              PG active+clean (no fixed deadline: "no progress for N s")
    check     read back every write: lost, corrupt, unfound, unreadable
    measure   timeline → samples

Scenarios (:data:`SCENARIOS`): ``disk``, ``node``, ``rack``, ``two-racks``,
``node-return`` (a node comes back after its data was re-replicated
elsewhere), ``add-capacity`` (a storage host joins; data moves onto it),
``flap`` (an OSD killed and restarted on a schedule), ``partition`` (a host
cut off, its daemons alive).

Nothing here knows pytest: the suite (``chaos/``) and the benchmark
(``bench/chaos_scenarios.py``) both drive :class:`ScenarioRunner`.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from octoprobe.ceph import CephClient, ClusterStatus, OsdTree
from octoprobe.faults import ADD_HOST, DISK, FLAP, NODE, PARTITION, RACK, Fault, FaultGuard, FaultPlan, FaultSpec
from octoprobe.faults.base import FaultError
from octoprobe.samples import Sample

from . import oracle
from .checker import CheckResult, check
from .inputs import gather
from .measure import ClusterMonitor, Measurements, MonitorTimeout, Timeline, measure
from .oracle import HEAL_TO_FULL, IO_BLOCKED, DEGRADED, Prediction, blocked_pgs, classify_status, effect_of
from .workload import DEFAULT_NAMESPACE, RadosObjects, Workload, remove_objects

__all__ = [
    "SCENARIOS",
    "ScenarioConfig",
    "ScenarioPlan",
    "ScenarioResult",
    "ScenarioRefused",
    "ScenarioError",
    "ScenarioRunner",
    "choose_spec",
    "DEFAULT_MAX_DOMAINS",
    "blast_radius",
]

MiB = 2**20


#: Failure domains a fault may touch at once when neither option nor inventory says.
DEFAULT_MAX_DOMAINS = 2


def blast_radius(option: int | None, inventory_limit: int | None, inventory_path: str | None = None) -> int:
    """How many failure domains a fault may touch: ``--chaos-max-failure-domains``,
    else the inventory's ``chaos.max_failure_domains``, else
    :data:`DEFAULT_MAX_DOMAINS`; the option may lower the inventory's limit,
    never raise it (ValueError)."""
    if inventory_limit is not None and option is not None and option > inventory_limit:
        raise ValueError(f"--chaos-max-failure-domains {option}: the inventory {inventory_path} allows at most "
                         f"{inventory_limit} (chaos.max_failure_domains)")
    if option is not None:
        return option
    return inventory_limit if inventory_limit is not None else DEFAULT_MAX_DOMAINS


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    title: str


SCENARIOS: dict[str, ScenarioInfo] = {s.name: s for s in (
    ScenarioInfo("disk", "one disk dies: its OSD daemon is killed and its device pulled"),
    ScenarioInfo("node", "one storage node loses power: every daemon killed, its link down"),
    ScenarioInfo("rack", "one rack goes dark: every daemon of its hosts killed, its uplink down"),
    ScenarioInfo("two-racks", "two racks go dark at once"),
    ScenarioInfo("node-return", "a node comes back after its data was re-replicated elsewhere"),
    ScenarioInfo("add-capacity", "a storage host joins the running cluster; data moves onto it"),
    ScenarioInfo("flap", "one OSD flaps: killed and restarted on a schedule"),
    ScenarioInfo("partition", "one storage host is cut off the network; its daemons keep running"),
)}


class ScenarioRefused(RuntimeError):
    """The scenario must not run here; the message says why."""


class ScenarioError(RuntimeError):
    """The scenario could not be carried out (not a verdict on the cloud)."""


@dataclass(frozen=True)
class ScenarioConfig:
    data_bytes: int = 256 * MiB  # written before the fault
    object_size: int = 4 * MiB
    pool: str = "volumes"
    namespace: str = DEFAULT_NAMESPACE
    write_concurrency: int = 4
    during_size: int = 64 * 1024  # objects written while the fault happens
    during_interval: float = 0.5  # seconds between writes, per writer
    during_writers: int = 2
    during_max_objects: int = 3000
    write_timeout: float = 30.0
    read_timeout: float = 60.0
    no_progress_timeout: float = 120.0  # recovery that stalls this long fails
    max_recovery: float = 1800.0  # hard limit on any one wait for recovery
    detect_timeout: float = 60.0
    out_grace: float = 60.0  # beyond the expected out time, for outs to show
    settle_quiet: float = 12.0
    clean_stable: float = 8.0  # clean must hold this long (ceph status lags the OSD map)
    settle_timeout: float = 240.0
    poll_interval: float = 1.0
    headroom_factor: float = 1.25
    max_failure_domains: int = DEFAULT_MAX_DOMAINS
    flap_down: float = 2.0
    flap_up: float = 8.0
    flap_cycles: int = 3
    seed: str = "0"
    scratch: Path = Path("/tmp/octoprobe-chaos")


@dataclass(frozen=True)
class ScenarioPlan:
    name: str
    title: str
    spec: FaultSpec
    fault: FaultPlan
    prediction: Prediction
    config: ScenarioConfig
    refused: str | None
    settings: oracle.CephSettings = oracle.CephSettings()

    def render(self) -> str:
        c = self.config
        count = max(1, c.data_bytes // c.object_size)
        lines = [f"scenario {self.name}: {self.title}", self.fault.render(), self.prediction.describe(),
                 f"workload: {count} objects x {c.object_size / MiB:g} MiB = {count * c.object_size / MiB:g} MiB "
                 f"in pool {c.pool}, namespace {c.namespace}, before the fault; {c.during_writers} writer(s) of "
                 f"{c.during_size // 1024} KiB objects every {c.during_interval:g}s while it lasts",
                 "then: observe detection, outs and the settled state; heal; wait until every OSD is up and in and "
                 "every PG active+clean; read back every acknowledged write (lost/corrupt/unfound must be 0)"]
        if self.refused:
            lines.append(f"REFUSED: {self.refused}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "fault": self.fault.to_dict(),
                "prediction": self.prediction.to_dict(), "refused": self.refused}


@dataclass
class ScenarioResult:
    plan: ScenarioPlan
    observed: dict[str, Any] = field(default_factory=dict)
    check: CheckResult | None = None
    measurements: Measurements = field(default_factory=Measurements)
    timeline: Timeline | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    #: the workload's acknowledged writes (the report's client I/O over time)
    writes: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def passed(self) -> bool:
        return not self.failures and self.check is not None and self.check.ok

    def samples(self) -> list[Sample]:
        meta = {"scenario": self.name, "fault": self.plan.spec.describe(),
                "predicted": self.plan.prediction.outcome}
        out = self.measurements.samples(**meta)
        if self.check is not None:
            c = self.check.counts()
            for key in ("lost", "corrupt", "unfound", "unreadable", "acknowledged", "indeterminate"):
                out.append(Sample(f"chaos.{key}", float(c[key]), "objects", meta))
        out.append(Sample("chaos.scenario_wall_time", self.wall_s, "s", meta))
        return out

    def summary(self) -> str:
        m = self.measurements
        parts = [f"scenario {self.name}: {'PASSED' if self.passed else 'FAILED'} in {self.wall_s:.0f}s",
                 f"observed {self.observed}"]
        if self.check:
            parts.append(self.check.summary())

        def f(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}s"

        parts.append(f"detect {f(m.detect_s)}, out {f(m.out_s)}, clean during fault {f(m.clean_during_fault_s)}, "
                     f"clean after heal {f(m.clean_after_heal_s)}, total {f(m.clean_total_s)}; peak degraded "
                     f"{m.degraded_peak}, misplaced {m.misplaced_peak}; inactive {m.inactive_s:.1f}s, blocked "
                     f"{m.blocked_s:.1f}s; I/O stall {f(m.io_stall_s)}")
        parts += [f"FAILURE: {x}" for x in self.failures]
        parts += [f"note: {x}" for x in self.notes]
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "plan": self.plan.to_dict(),
            "observed": self.observed,
            "check": self.check.to_dict() if self.check else None,
            "measurements": self.measurements.to_dict(),
            "failures": list(self.failures),
            "notes": list(self.notes),
            "wall_s": round(self.wall_s, 3),
            "samples": [s.to_dict() for s in self.samples()],
            "timeline": self.timeline.to_dict() if self.timeline else None,
        }


# ---------------------------------------------------------------- choosing victims


def _hosts_with_osds(tree: OsdTree) -> list[str]:
    return sorted({o.host for o in tree if o.host and o.crush_weight > 0})


def _racks(tree: OsdTree) -> list[str]:
    return sorted({o.rack for o in tree if o.rack and o.crush_weight > 0})


def choose_spec(name: str, tree: OsdTree, config: ScenarioConfig, *, osd_size: int = 0) -> FaultSpec:
    """The fault of scenario ``name`` on this cluster: victims chosen by a
    generator seeded with ``config.seed`` and the name (same cluster, same
    seed: same victims)."""
    rng = random.Random(f"{config.seed}/{name}")
    osds = sorted(o.id for o in tree if o.up and o.in_ and o.crush_weight > 0)
    if name in ("disk", "flap"):
        if not osds:
            raise ScenarioRefused("no OSD is up and in")
        osd = f"osd.{rng.choice(osds)}"
        if name == "disk":
            return FaultSpec(DISK, (osd,))
        return FaultSpec(FLAP, (osd,), params={"down": config.flap_down, "up": config.flap_up,
                                               "cycles": config.flap_cycles})
    if name in ("node", "node-return"):
        return FaultSpec(NODE, (rng.choice(_hosts_with_osds(tree)),))
    if name == "partition":
        return FaultSpec(PARTITION, (rng.choice(_hosts_with_osds(tree)),), scope="host")
    if name == "rack":
        return FaultSpec(RACK, (rng.choice(_racks(tree)),))
    if name == "two-racks":
        racks = _racks(tree)
        if len(racks) < 2:
            raise ScenarioRefused(f"two racks needed, the cluster has {len(racks)}")
        return FaultSpec(RACK, tuple(sorted(rng.sample(racks, 2))))
    if name == "add-capacity":
        existing = set(tree.hosts)
        host = next(f"chaos-add{i}" for i in range(1, 1000) if f"chaos-add{i}" not in existing)
        weights = sorted(o.crush_weight for o in tree if o.crush_weight > 0)
        params: dict[str, Any] = {"osd_count": 1, "osd_weight": weights[len(weights) // 2] if weights else 0.0}
        if osd_size:
            params["osd_size"] = osd_size
        return FaultSpec(ADD_HOST, (host,), params=params)
    raise ValueError(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")


# ---------------------------------------------------------------- the runner


class ScenarioRunner:
    """Runs scenarios on one cluster through one fault guard."""

    def __init__(self, *, client: CephClient, guard: FaultGuard, objects: Callable[[], RadosObjects],
                 config: ScenarioConfig, say: Callable[[str], None] = lambda m: None):
        self.client = client
        self.guard = guard
        self.objects = objects
        self.config = config
        self.say = say

    # -- plan -------------------------------------------------------------------
    def plan(self, name: str) -> ScenarioPlan:
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")
        c = self.config
        inputs = gather(self.client)
        spec = choose_spec(name, inputs.tree, c)
        fault = self.guard.fault(spec)
        fplan = fault.plan()
        during = c.during_max_objects * c.during_size
        prediction = oracle.predict(inputs, effect_of(spec, inputs.tree), headroom_factor=c.headroom_factor,
                                    extra_bytes=c.data_bytes + during)
        refused = prediction.refused
        if refused is None and len(fplan.failure_domains) > c.max_failure_domains:
            refused = (f"blast radius: the fault touches {len(fplan.failure_domains)} failure domains "
                       f"({', '.join(fplan.failure_domains)}), more than the {c.max_failure_domains} allowed "
                       "(--chaos-max-failure-domains)")
        return ScenarioPlan(name, SCENARIOS[name].title, spec, fplan, prediction, c, refused, inputs.settings)

    # -- run --------------------------------------------------------------------
    def run(self, name: str) -> ScenarioResult:
        started = time.monotonic()
        plan = self.plan(name)
        if plan.refused:
            raise ScenarioRefused(plan.refused)
        self.say(plan.render())
        result = ScenarioResult(plan)
        c = self.config
        objects = self.objects()
        self._preflight(objects)
        baseline = self.client.status()
        workload = Workload(objects, run=f"{name}-{secrets.token_hex(3)}", write_timeout=c.write_timeout)
        monitor = ClusterMonitor(self.client, interval=c.poll_interval)
        fault = self.guard.fault(plan.spec)
        interrupted = False
        try:
            count = max(1, c.data_bytes // c.object_size)
            self.say(f"writing {count} objects of {c.object_size / MiB:g} MiB")
            written = workload.write_batch("before", count=count, size=c.object_size,
                                           concurrency=c.write_concurrency, max_seconds=c.max_recovery)
            failed = [r for r in written if not r.ok]
            if failed:
                raise ScenarioError(f"{len(failed)} of {len(written)} writes failed on a healthy cluster, e.g. "
                                    f"{failed[0].error}")
            monitor.start()
            workload.start_background("during", size=c.during_size, interval=c.during_interval,
                                      concurrency=c.during_writers, max_objects=c.during_max_objects,
                                      max_seconds=c.max_recovery * 3)
            time.sleep(min(3.0, c.poll_interval * 3))  # a few points of the healthy cluster
            t = self.guard.inject(fault)
            monitor.mark("inject", plan.spec.describe(), at=t)
            monitor.mark("injected")
            self.say(f"injected {plan.spec.describe()}")
            self._observe(plan, fault, monitor, baseline, result)
            t = self.guard.heal(fault)
            monitor.mark("heal", at=t)
            monitor.mark("healed")
            self.say(f"healed {plan.spec.describe()}; waiting until every OSD is up and in and every PG active+clean")
            try:
                monitor.wait_progressing(_whole, no_progress=c.no_progress_timeout, max_duration=c.max_recovery,
                                         what="after the heal, every OSD up and in and every PG active+clean",
                                         stable=c.clean_stable)
                monitor.mark("clean")
            except MonitorTimeout as exc:
                result.failures.append(str(exc))
            workload.stop_background()
            self._after(plan, result)
            status = self.client.status()
            self.say("reading back every write")
            result.check = check(objects, workload.history, unfound=status.objects.unfound,
                                 read_timeout=c.read_timeout, concurrency=c.write_concurrency,
                                 max_seconds=c.max_recovery)
            if not result.check.ok:
                result.failures.append(f"data: {result.check.summary()}")
        except BaseException:
            interrupted = True
            raise
        finally:
            workload.stop_background()
            try:
                self.guard.heal_all()
            finally:
                result.timeline = monitor.stop()
                result.writes = list(workload.history.records)
                result.measurements = measure(result.timeline, workload.history.records,
                                              baseline_up=baseline.osds.up, baseline_in=baseline.osds.in_)
                result.wall_s = time.monotonic() - started
                if interrupted:  # be quick; the next run's preflight removes them
                    self.say(f"workload objects left in {c.pool}/{c.namespace}")
                else:
                    self._cleanup(workload, result)
        self.say(result.summary())
        return result

    # -- steps ------------------------------------------------------------------
    def _preflight(self, objects: RadosObjects) -> None:
        c = self.config
        self.say("preflight: waiting for active+clean")
        mon = ClusterMonitor(self.client, interval=c.poll_interval).start()
        try:
            mon.wait_progressing(_whole, no_progress=c.no_progress_timeout, max_duration=c.max_recovery,
                                 what="before the scenario, every OSD up and in and every PG active+clean",
                                 stable=c.clean_stable / 2)
        except MonitorTimeout as exc:
            raise ScenarioError(f"the cluster is not healthy before the scenario: {exc}") from exc
        finally:
            mon.stop()
        stale = objects.list(timeout=60)
        if stale:
            self.say(f"removing {len(stale)} objects an earlier run left in {c.pool}/{c.namespace}")
            remove_objects(objects, stale, timeout=60)

    def _observe(self, plan: ScenarioPlan, fault: Fault, monitor: ClusterMonitor, baseline: ClusterStatus,
                 result: ScenarioResult) -> None:
        """The fault phase: what happened, compared with the prediction."""
        c = self.config
        p = plan.prediction
        spec = plan.spec
        if spec.kind == ADD_HOST:
            self._observe_added(plan, monitor, baseline, result)
            return
        try:
            monitor.wait_until(lambda s: s.osds.up < baseline.osds.up, timeout=c.detect_timeout,
                               what="the fault's OSDs marked down")
        except MonitorTimeout as exc:
            result.failures.append(str(exc))
            return
        interval = plan.settings.down_out_interval
        if spec.kind == FLAP:
            cycles = int(spec.params.get("cycles", 3))
            per = float(spec.params.get("down", 2)) + float(spec.params.get("up", 8)) + 90
            try:
                fault.wait(cycles * per + 60)  # type: ignore[attr-defined]
            except FaultError as exc:
                result.failures.append(str(exc))
        elif p.out_count:
            want = baseline.osds.in_ - p.out_count
            grace = max(p.out_after.values(), default=interval)
            try:
                monitor.wait_until(lambda s: s.osds.in_ <= want, timeout=grace + c.out_grace,
                                   what=f"{p.out_count} of {', '.join(f'osd.{i}' for i in sorted(p.out_candidates))} "
                                        "marked out")
            except MonitorTimeout as exc:
                result.notes.append(str(exc))
        elif p.stay_in:
            # give the monitor its chance to mark them out, to see that it does not
            try:
                monitor.wait_until(lambda s: s.osds.in_ < baseline.osds.in_, timeout=interval + 15,
                                   what="an OSD marked out")
            except MonitorTimeout:
                pass
        if spec.kind != FLAP:
            try:
                if p.outcome == HEAL_TO_FULL:
                    monitor.wait_progressing(lambda s: s.clean, no_progress=c.no_progress_timeout,
                                             max_duration=c.max_recovery, stable=c.clean_stable,
                                             what="re-replication while the fault lasts (active+clean)")
                else:
                    monitor.wait_settled(quiet=c.settle_quiet, timeout=c.settle_timeout)
            except MonitorTimeout as exc:
                result.notes.append(str(exc))
        status = self.client.status()
        tree = self.client.osd_tree()
        effect = effect_of(spec, tree)
        marked_out = sorted(i for i in effect.down if not tree.osd(i).in_)
        t_inj = monitor.timeline.event("inject").at  # type: ignore[union-attr]
        pts = [pt for pt in monitor.timeline.points if pt.elapsed >= t_inj and pt.error is None]
        if any(blocked_pgs(pt.pg_states) for pt in pts):
            initial = IO_BLOCKED
        elif any(pt.active_clean < pt.pgs_total or pt.degraded for pt in pts):
            initial = DEGRADED
        else:
            initial = HEAL_TO_FULL
        settled = classify_status(status)
        result.observed = {"initial": initial, "outcome": settled, "marked_out": marked_out,
                           "state_before_heal": status.describe()}
        if initial != p.initial:
            result.failures.append(f"right after the fault: expected {p.initial}, observed {initial}")
        if spec.kind != FLAP and settled != p.outcome:
            result.failures.append(f"while the fault lasted: expected {p.outcome}, observed {settled} "
                                   f"({status.describe()})")
        mismatch = p.check_marked_out(set(marked_out))
        if mismatch:
            result.failures.append(mismatch)
        if spec.kind == NODE and plan.name == "node-return":
            df = {u.id: u for u in self.client.osd_df()}
            result.observed["pgs_on_absent_osds"] = {i: df[i].pgs for i in effect.down if i in df}

    def _observe_added(self, plan: ScenarioPlan, monitor: ClusterMonitor, baseline: ClusterStatus,
                       result: ScenarioResult) -> None:
        c = self.config
        try:
            status = monitor.wait_progressing(
                lambda s: s.clean and s.osds.num_osds > baseline.osds.num_osds and s.osds.up == s.osds.num_osds,
                no_progress=c.no_progress_timeout, max_duration=c.max_recovery, stable=c.clean_stable,
                what="the new OSD(s) up and in and the rebalance done (active+clean)")
            outcome = HEAL_TO_FULL
        except MonitorTimeout as exc:
            result.failures.append(str(exc))
            status = self.client.status()
            outcome = classify_status(status)
        new = [u for u in self.client.osd_df() if u.id in plan.fault.osds]
        result.observed = {"outcome": outcome, "new_osds": {u.id: {"pgs": u.pgs, "data_bytes": u.kb_used_data * 1024}
                                                           for u in new},
                           "osds": f"{status.osds.up}/{status.osds.num_osds} up, {status.osds.in_} in"}
        if outcome != plan.prediction.outcome:
            result.failures.append(f"expected {plan.prediction.outcome} after the host joined, observed {outcome}")
        if len(new) != len(plan.fault.osds):
            result.failures.append(f"expected new OSDs {list(plan.fault.osds)}, found {[u.id for u in new]}")
        for u in new:
            if u.pgs == 0 or u.kb_used_data == 0:
                result.failures.append(f"no data moved onto the new osd.{u.id}: {u.pgs} PGs, "
                                       f"{u.kb_used_data} KiB of data")

    def _after(self, plan: ScenarioPlan, result: ScenarioResult) -> None:
        """Checks once the fault is healed and the cluster whole again."""
        if plan.name != "node-return":
            return
        df = {u.id: u for u in self.client.osd_df()}
        back = {i: df[i].pgs for i in plan.fault.osds if i in df}
        result.observed["pgs_on_returned_osds"] = back
        empty = [i for i, n in back.items() if n == 0]
        if empty:
            result.failures.append(f"the returned {', '.join(f'osd.{i}' for i in empty)} got no PGs back")

    def _cleanup(self, workload: Workload, result: ScenarioResult) -> None:
        try:
            status = self.client.status()
            if status.pgs.inactive:
                result.notes.append(f"workload objects left in {self.config.pool}/{self.config.namespace}: "
                                    f"{status.pgs.inactive} PGs are inactive (the next run removes them)")
                return
            workload.cleanup(concurrency=self.config.write_concurrency, timeout=60)
        except Exception as exc:  # never hide the scenario's own outcome
            result.notes.append(f"cleanup of workload objects failed: {exc}")


def _whole(s: ClusterStatus) -> bool:
    return s.clean and s.osds.up == s.osds.num_osds == s.osds.in_
