"""Collecting a pytest session's results into a :class:`RunResult`.

:class:`ResultCollector` is a pytest plugin object. It folds the setup, call
and teardown reports of each test into one :class:`TestResult` (outcome,
reason, duration, capability, gates, samples) and, at the end of the session,
builds :attr:`ResultCollector.result`. Two ways to use it:

* as a plugin module: ``pytest -p octoprobe.report.results --report-dir DIR``
  registers a collector and writes the report into ``DIR`` at the end;
* from code (``octoprobe run``)::

      collector = ResultCollector(report_dir=path)   # report_dir optional
      exit_code = pytest.main(args, plugins=[collector])
      result = collector.result

It reads what :mod:`octoprobe.plugin` puts on each report (user properties
``capability``, ``capability_id``, ``gate``, ``octoprobe.samples``) and works
without that plugin too; tests add timelines with
``record_property(TIMELINE_PROPERTY, {...})`` (``octoprobe.timeline``).
"""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from octoprobe import __version__
from octoprobe.report.model import Environment, Gate, RunResult, TestResult

__all__ = ["ResultCollector", "COLLECTOR", "ENVIRONMENT_PROPERTY", "TIMELINE_PROPERTY", "test_result_from_reports"]

COLLECTOR = pytest.StashKey["ResultCollector"]()
_PHASES = ("setup", "call", "teardown")


#: the user property a test adds versions and hardware to the run's environment with
ENVIRONMENT_PROPERTY = "octoprobe.environment"
#: the user property a test adds a timeline with, one per record_property (its shape: :class:`TestResult`)
TIMELINE_PROPERTY = "octoprobe.timeline"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    return str(longrepr or "")


def _fail_reason(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if message:
        return str(message).strip()
    text = report.longreprtext.strip()
    last = text.splitlines()[-1].strip() if text else ""
    return last[1:].strip() if last.startswith("E ") else last


def test_result_from_reports(nodeid: str, reports: Mapping[str, pytest.TestReport]) -> TestResult:
    """One TestResult from a test's phase reports (``when`` -> report)."""
    setup, call, teardown = (reports.get(p) for p in _PHASES)
    outcome, reason, longrepr, when = "passed", "", "", "call"
    if setup is not None and setup.failed:
        outcome, reason, longrepr, when = "error", _fail_reason(setup), setup.longreprtext, "setup"
    elif setup is not None and setup.skipped:
        if hasattr(setup, "wasxfail"):
            outcome, reason = "xfail", str(setup.wasxfail)
        else:
            outcome, reason = "skipped", _skip_reason(setup)
        when = "setup"
    elif call is not None:
        if hasattr(call, "wasxfail"):
            if call.skipped:
                outcome, reason, longrepr = "xfail", str(call.wasxfail), call.longreprtext
            elif call.passed:
                outcome, reason = "xpass", str(call.wasxfail)
            else:  # strict xfail that passed
                outcome, reason, longrepr = "failed", _fail_reason(call), call.longreprtext
        elif call.failed:
            outcome, reason, longrepr = "failed", _fail_reason(call), call.longreprtext
        elif call.skipped:
            outcome, reason = "skipped", _skip_reason(call)
    if teardown is not None and teardown.failed and outcome not in ("failed", "error"):
        outcome, reason, longrepr, when = "error", _fail_reason(teardown), teardown.longreprtext, "teardown"

    properties: list[tuple[str, Any]] = []
    for phase in _PHASES:
        report = reports.get(phase)
        if report is not None:
            properties.extend(tuple(p) for p in report.user_properties if len(p) == 2)
    capability = capability_id = None
    gates: list[str] = []
    samples: list[dict[str, Any]] = []
    timelines: list[dict[str, Any]] = []
    seen_samples = False
    for name, value in properties:
        if name == "capability":
            capability = str(value)
        elif name == "capability_id":
            capability_id = str(value)
        elif name == "gate" and str(value) not in gates:
            gates.append(str(value))
        elif name == "octoprobe.samples" and not seen_samples and isinstance(value, list):
            # The same list can be on several phase reports; take it once.
            samples = [dict(s) for s in value if isinstance(s, Mapping)]
            seen_samples = True
        elif name == TIMELINE_PROPERTY and isinstance(value, Mapping):
            # A property recorded in the call is on the teardown report too: take each once.
            if value not in timelines:
                timelines.append(value)  # type: ignore[arg-type]
    duration = sum(float(r.duration or 0.0) for r in reports.values())
    return TestResult(
        nodeid=nodeid,
        outcome=outcome,
        duration=round(duration, 6),
        reason=reason,
        longrepr=longrepr,
        when=when,
        capability=capability,
        capability_id=capability_id,
        gates=gates,
        samples=samples,
        timelines=[dict(t) for t in timelines],
    )


class ResultCollector:
    """A pytest plugin that records a session's results (see the module doc).

    ``environment`` adds to what is detected (octoprobe, Python, the cloud
    given with ``--cloud``); ``gates`` is called with the finished tests and
    returns the gate verdicts (the perf suite's gate profile plugs in here);
    ``report_dir``, when given, gets the full report at session end.
    """

    def __init__(
        self,
        report_dir: str | Path | None = None,
        *,
        run_id: str | None = None,
        environment: Environment | None = None,
        gates: Callable[[list[TestResult]], list[Gate]] | None = None,
    ):
        self.report_dir = Path(report_dir) if report_dir is not None else None
        self.run_id = run_id
        self.environment = environment
        self.gate_judge = gates
        self.started = _now()
        self._reports: dict[str, dict[str, pytest.TestReport]] = {}
        self._config: pytest.Config | None = None
        self.result: RunResult | None = None
        self.written: list[Path] = []

    # ---- hooks
    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._config = session.config
        self.started = _now()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._reports.setdefault(report.nodeid, {})[report.when] = report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # an import error in a test file: an error "test"
            fake = pytest.TestReport(
                report.nodeid or "<collection>", ("", 0, ""), {}, "failed", report.longrepr, "setup"
            )
            self._reports.setdefault(fake.nodeid, {})["setup"] = fake

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.result = self.build(session.config)
        if self.report_dir is not None:
            from octoprobe.report.writers import write_report

            self.written = write_report(self.result, self.report_dir)
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"octoprobe: report ({self.result.verdict}) in {self.report_dir}")

    # ---- building
    def tests(self) -> list[TestResult]:
        return [test_result_from_reports(nodeid, reports) for nodeid, reports in self._reports.items()]

    def build(self, config: pytest.Config | None = None) -> RunResult:
        config = config or self._config
        tests = self.tests()
        gates = list(self.gate_judge(tests)) if self.gate_judge is not None else []
        return RunResult(
            run_id=self.run_id or _run_id(config) or "unknown",
            started=self.started,
            finished=_now(),
            environment=self._environment(config),
            tests=tests,
            gates=gates,
        )

    def _environment(self, config: pytest.Config | None) -> Environment:
        env = Environment(octoprobe=__version__, python=platform.python_version())
        option = getattr(config, "option", None)
        env.cloud = getattr(option, "octoprobe_cloud", None)
        env.versions["pytest"] = pytest.__version__
        env.versions.update(_api_versions(config))
        for reports in self._reports.values():
            for report in reports.values():
                for name, value in report.user_properties:
                    if name == ENVIRONMENT_PROPERTY and isinstance(value, Mapping):
                        env.versions.update({str(k): str(v) for k, v in (value.get("versions") or {}).items()})
                        env.hardware.update(dict(value.get("hardware") or {}))
        given = self.environment
        if given is not None:
            env.octoprobe = given.octoprobe or env.octoprobe
            env.python = given.python or env.python
            env.cloud = given.cloud or env.cloud
            env.versions.update(given.versions)
            env.extra.update(given.extra)
        return env


def _api_versions(config: pytest.Config | None) -> dict[str, str]:
    """The cloud's API versions the octoprobe plugin found, when it connected."""
    try:
        from octoprobe.plugin import STATE
    except ImportError:  # pragma: no cover
        return {}
    state = config.stash.get(STATE, None) if config is not None else None
    return dict(getattr(state, "api_versions", None) or {})


def _run_id(config: pytest.Config | None) -> str | None:
    if config is None:
        return None
    try:  # the octoprobe plugin's run tag, when that plugin is active
        from octoprobe.plugin import STATE

        state = config.stash.get(STATE, None)
        if state is not None:
            return state.run.run_id
    except Exception:  # pragma: no cover - plugin missing or changed
        pass
    return getattr(config.option, "octoprobe_run_id", None)


# ---------------------------------------------------------------- as a -p plugin module


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("octoprobe-report")
    group.addoption(
        "--report-dir",
        dest="octoprobe_report_dir",
        default=None,
        metavar="DIR",
        help="write the octoprobe report (HTML, JUnit XML, JSON, Markdown) into DIR",
    )


def pytest_configure(config: pytest.Config) -> None:
    if COLLECTOR in config.stash or hasattr(config, "workerinput"):
        return
    collector = ResultCollector(config.option.octoprobe_report_dir, gates=_gate_judge(config))
    config.stash[COLLECTOR] = collector
    config.pluginmanager.register(collector, "octoprobe-report-collector")


def _gate_judge(config: pytest.Config) -> Callable[[list[TestResult]], list[Gate]] | None:
    """The judge of ``--profile`` (and ``--baseline``), when the octoprobe plugin's options are there."""
    profile = getattr(config.option, "octoprobe_profile", None)
    if not profile:
        return None
    from octoprobe.config_yaml import ConfigError
    from octoprobe.perf.judging import BaselineError, load_baseline, make_judge
    from octoprobe.perf.profiles import ProfileNotFound

    try:
        baseline_given = getattr(config.option, "octoprobe_baseline", None)
        baseline = load_baseline(baseline_given) if baseline_given else None
        return make_judge(profile, baseline)
    except (ConfigError, ProfileNotFound, BaselineError, OSError) as exc:
        raise pytest.UsageError(f"--profile {profile}: {exc}") from None
