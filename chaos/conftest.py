"""The chaos suite: which cloud, guaranteed healing, dry runs, results.

    pytest chaos/                               # the reference cloud of $OCTOPROBE_STATE_DIR / $OCTOPROBE_PREFIX
    pytest chaos/ --reference-state-dir DIR --reference-prefix octc
    pytest chaos/ --chaos-dry-run               # print every plan; inject nothing, write nothing
    pytest chaos/ --inventory lab.yaml --allow-destructive   # a lab: SSH, BMCs, switch ports

Against the bundled reference cloud the scenarios run without
``--allow-destructive`` (it exists to be broken); against anything else they
carry the plugin's ``destructive`` marker and need it.

Every fault is injected through a :class:`~octoprobe.faults.FaultGuard`: it
is journaled before injection and healed after the scenario, when the test
fails, on Ctrl-C (SIGINT; also SIGTERM, turned into the same path) — and, if
the process was killed outright, by the next run before anything else.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from octoprobe.chaos.report import timeline_report
from octoprobe.chaos.scenario import (
    DEFAULT_MAX_DOMAINS, ScenarioConfig, ScenarioRefused, ScenarioResult, blast_radius,
)
from octoprobe.chaos.target import ChaosTarget, TargetUnavailable, open_lab_target, open_reference_target
from octoprobe.config_yaml import parse_size
from octoprobe.faults import FaultGuard, FaultUnsupported
from octoprobe.reference_impl.state import default_prefix, default_state_dir
from octoprobe.report.results import TIMELINE_PROPERTY

RESULT = pytest.StashKey[ScenarioResult]()
PLANS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("octoprobe-chaos", "octoprobe chaos suite")
    group.addoption("--reference-state-dir", dest="chaos_state_dir", metavar="DIR", type=Path,
                    help="state directory of the reference cloud to break (default: $OCTOPROBE_STATE_DIR, else "
                         "~/.local/state/octoprobe/cloud)")
    group.addoption("--reference-prefix", dest="chaos_prefix", metavar="PREFIX",
                    help="its kernel-object prefix (default: $OCTOPROBE_PREFIX, else octo)")
    group.addoption("--lab-state-dir", dest="chaos_lab_state_dir", metavar="DIR", type=Path,
                    help="with --inventory: where the lab's fault journal is kept (default: "
                         "~/.local/state/octoprobe/chaos-<inventory name>)")
    group.addoption("--chaos-dry-run", dest="chaos_dry_run", action="store_true", default=False,
                    help="print each scenario's plan (what will be killed, the expected outcome) and do nothing")
    group.addoption("--chaos-data", dest="chaos_data", default="256MiB", metavar="SIZE",
                    help="data written before each fault (default: %(default)s)")
    group.addoption("--chaos-object-size", dest="chaos_object_size", default="4MiB", metavar="SIZE",
                    help="size of the objects written before the fault (default: %(default)s)")
    group.addoption("--chaos-pool", dest="chaos_pool", default="volumes", metavar="POOL",
                    help="pool the workload writes to, in its own namespace (default: %(default)s)")
    group.addoption("--chaos-seed", dest="chaos_seed", default="0", metavar="SEED",
                    help="seed of the victim choice: same cluster and seed, same victims (default: %(default)s)")
    group.addoption("--chaos-max-failure-domains", dest="chaos_max_domains", type=int, default=None, metavar="N",
                    help="blast radius: refuse faults touching more failure domains (default: the inventory's "
                         f"chaos.max_failure_domains, else {DEFAULT_MAX_DOMAINS}; never more than the inventory's)")
    group.addoption("--chaos-no-progress-timeout", dest="chaos_no_progress", type=float, default=120.0,
                    metavar="SECONDS",
                    help="a recovery that makes no progress this long fails the scenario (default: %(default)s)")
    group.addoption("--chaos-results", dest="chaos_results", type=Path, metavar="DIR",
                    help="write each scenario's result (prediction, observation, check, samples, timeline) "
                         "as DIR/<scenario>.json")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos_fault(what): the scenario breaks the cloud as `what` says; "
                                       "destructive outside the reference cloud")
    config.stash[PLANS] = []
    opt = config.option
    try:
        data, obj = parse_size(opt.chaos_data), parse_size(opt.chaos_object_size)
    except ValueError as exc:
        raise pytest.UsageError(f"--chaos-data / --chaos-object-size: {exc}") from None
    if obj <= 0 or data < obj:
        raise pytest.UsageError("--chaos-data must be at least one --chaos-object-size")
    if opt.chaos_max_domains is not None and opt.chaos_max_domains < 1:
        raise pytest.UsageError("--chaos-max-failure-domains must be at least 1")
    # SIGTERM takes the same path as Ctrl-C, so the faults are healed
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) is _raise_interrupt:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _lab(config: pytest.Config) -> bool:
    return getattr(config.option, "octoprobe_inventory", None) is not None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before the plugin's own hook: outside the reference cloud a scenario is
    # destructive (skipped without --allow-destructive); a dry run never is.
    if not _lab(config) or config.option.chaos_dry_run:
        return
    for item in items:
        marker = item.get_closest_marker("chaos_fault")
        if marker is not None:
            item.add_marker(pytest.mark.destructive(marker.args[0] if marker.args else "chaos scenario"))


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and config.option.capture == "no":
        reporter.write_line(line)
    else:
        print(line, file=sys.stderr, flush=True)


def _tell(config: pytest.Config, line: str) -> None:
    """To the terminal even while output is captured: healing and interruptions."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(line, yellow=True)
    else:
        print(line, file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def chaos_target(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Iterator[ChaosTarget]:
    """The cluster the scenarios break (session): the reference cloud, or the
    lab of ``--inventory``."""
    opt = pytestconfig.option
    if _lab(pytestconfig):
        inventory = request.getfixturevalue("inventory")  # the plugin's, loaded and checked at start
        try:
            target = open_lab_target(inventory, state_dir=opt.chaos_lab_state_dir, heal=not opt.chaos_dry_run,
                                     say=lambda m: _tell(pytestconfig, m))
        except TargetUnavailable as exc:
            pytest.skip(str(exc))
        try:
            yield target
        finally:
            target.close()
        return
    state_dir = opt.chaos_state_dir or default_state_dir()
    try:
        prefix = opt.chaos_prefix or default_prefix()
        target = open_reference_target(state_dir, prefix, say=lambda m: _tell(pytestconfig, m),
                                       progress=lambda m: _say(pytestconfig, m))
    except TargetUnavailable as exc:
        pytest.skip(str(exc))
    except ValueError as exc:
        raise pytest.UsageError(f"octoprobe chaos: {exc}") from None
    yield target


@pytest.fixture(scope="session")
def chaos_config(request: pytest.FixtureRequest, pytestconfig: pytest.Config,
                 tmp_path_factory: pytest.TempPathFactory) -> ScenarioConfig:
    opt = pytestconfig.option
    data, obj = parse_size(opt.chaos_data), parse_size(opt.chaos_object_size)  # checked in pytest_configure
    inventory = request.getfixturevalue("inventory") if _lab(pytestconfig) else None
    try:
        limit = blast_radius(opt.chaos_max_domains, getattr(inventory, "max_failure_domains", None),
                             getattr(inventory, "path", None))
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    return ScenarioConfig(data_bytes=data, object_size=obj, pool=opt.chaos_pool, seed=opt.chaos_seed,
                          max_failure_domains=limit, no_progress_timeout=opt.chaos_no_progress,
                          scratch=tmp_path_factory.mktemp("chaos-scratch"))


class Chaos:
    """What a scenario test uses: ``run(name)`` and ``assert_passed(result)``."""

    def __init__(self, request: pytest.FixtureRequest, target: ChaosTarget, config: ScenarioConfig,
                 guard: FaultGuard, samples: Any):
        self.request = request
        self.target = target
        self.config = config
        self.guard = guard
        self.samples = samples
        self.dry_run = bool(request.config.option.chaos_dry_run)

    def say(self, line: str) -> None:
        _say(self.request.config, line)

    def run(self, name: str) -> ScenarioResult:
        runner = self.target.runner(self.guard, self.config, say=self.say)
        try:
            return self._run(runner, name)
        except FaultUnsupported as exc:  # e.g. a lab node without a BMC: refused before anything was injected
            _write(self.request.config, name, {"name": name, "refused": str(exc)})
            pytest.skip(f"scenario {name} refused on {self.target.kind}: {exc}")

    def _run(self, runner: Any, name: str) -> ScenarioResult:
        if self.dry_run:
            plan = runner.plan(name)
            self.request.config.stash[PLANS].append(plan.render())
            _write(self.request.config, name, {"name": name, "dry_run": True, "plan": plan.to_dict()})
            pytest.skip(f"dry run: nothing done; the plan of scenario {name} is printed at the end")
        try:
            result = runner.run(name)
        except ScenarioRefused as exc:
            _write(self.request.config, name, {"name": name, "refused": str(exc)})
            pytest.skip(f"scenario {name} refused: {exc}")
        self.request.node.stash[RESULT] = result
        self.samples.extend(result.samples())
        _write(self.request.config, name, result.to_dict())
        compact = {k: v for k, v in result.to_dict().items() if k not in ("timeline", "samples")}
        self.request.node.user_properties.append(("octoprobe.chaos", compact))
        if result.timeline is not None:
            # client I/O is charted when the result carries the workload's writes
            report = timeline_report(name, result.timeline, writes=getattr(result, "writes", None))
            self.request.node.user_properties.append((TIMELINE_PROPERTY, report))
        return result

    @staticmethod
    def assert_passed(result: ScenarioResult) -> None:
        assert result.check is not None, result.summary()
        counts = result.check.counts()
        assert (counts["lost"], counts["corrupt"], counts["unfound"], counts["unreadable"]) == (0, 0, 0, 0), \
            result.summary()
        assert result.passed, result.summary()


def _write(config: pytest.Config, name: str, data: dict) -> None:
    out = config.option.chaos_results
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")


@pytest.fixture
def chaos(request: pytest.FixtureRequest, chaos_target: ChaosTarget, chaos_config: ScenarioConfig,
          samples: Any) -> Iterator[Chaos]:
    """One scenario's helper; every fault it injected is healed in its teardown."""
    guard = chaos_target.guard(say=lambda m: _tell(request.config, m))
    helper = Chaos(request, chaos_target, chaos_config, guard, samples)
    try:
        yield helper
    finally:
        guard.heal_all()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    plans = config.stash.get(PLANS, [])
    if plans:
        terminalreporter.section("chaos plan (dry run: nothing was injected, nothing written)")
        for text in plans:
            terminalreporter.write_line(text)
            terminalreporter.write_line("")
    stats = getattr(terminalreporter, "stats", {})
    lines = []
    for report in stats.get("passed", []) + stats.get("failed", []):
        for key, value in getattr(report, "user_properties", []):
            if key == "octoprobe.chaos":
                m = value["measurements"]
                c = value["check"] or {}
                lines.append(f"{value['name']:<13} {'pass' if value['passed'] else 'FAIL'}  "
                             f"clean after heal {m.get('clean_after_heal_s')}s, during fault "
                             f"{m.get('clean_during_fault_s')}s; lost {c.get('lost')}, corrupt {c.get('corrupt')}, "
                             f"unfound {c.get('unfound')}; wall {value['wall_s']:.0f}s")
    if lines:
        terminalreporter.section("chaos scenarios")
        for line in lines:
            terminalreporter.write_line(line)

