"""``octoprobe run``: the suites against a cloud, one report, one verdict.

    octoprobe run                                   # all suites against $OS_CLOUD / octoprobe
    octoprobe run conformance --cloud mylab --admin-cloud mylab-admin --alt-cloud mylab-alt
    octoprobe run all --cloud mylab --inventory lab.yaml --profile dreamcompute
    octoprobe run conformance --pytest-args="-k image -x"   # passed to every suite's pytest

Each suite runs as its own pytest session (see :mod:`octoprobe.suite_runner`)
with the run's id, so every resource of the run carries one tag
(``octoprobe cleanup --run ID`` after a crash). The report directory gets
one sub-directory per suite, the combined report (``report.html``,
``junit.xml``, ``summary.json``, ``summary.md``) and ``allure-results/`` (for
the allure command line). The gate profile (``--profile``) judges the samples
of all suites together, against ``--baseline`` when given; the run is then
recorded in the history store (``octoprobe history``, ``trend``, ``compare``,
``check``) and, with ``--graphite HOST:PORT``, its samples are sent there.

Exit status: 0 everything passed; 1 a test or a gate failed; 2 the run could
not be made (a wrong configuration, a suite that crashed, was interrupted or
timed out, or nothing was tested).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from octoprobe.plugins import suite_paths
from octoprobe.progress_view import SuiteProgress, duration_text, finished_line, heartbeat_line
from octoprobe.suite_runner import COULD_NOT_RUN, EMPTY, SuiteRun, run_suite
from octoprobe.suites import SUITES, SuiteNotFound, has_tests, suite_dir

EXIT_PASSED, EXIT_FAILED, EXIT_COULD_NOT_RUN = 0, 1, 2
HEARTBEAT_SECONDS = 30.0
NEEDS_CLOUD = ("conformance", "perf")


def add_command(commands: Any) -> None:
    run = commands.add_parser(
        "run", help="run the suites against a cloud and write the report (exit 0 pass, 1 fail, 2 could not run)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("suites", nargs="*", metavar="SUITE", help=f"{', '.join(SUITES)} or all (default: all)")
    run.add_argument("--cloud", metavar="NAME", help="clouds.yaml entry under test (default: $OS_CLOUD, else octoprobe)")
    run.add_argument("--admin-cloud", metavar="NAME", help="an entry with admin rights on the same cloud")
    run.add_argument("--alt-cloud", metavar="NAME", help="an entry for a second project (isolation tests)")
    run.add_argument("--inventory", metavar="FILE", help="the lab's inventory (racks, nodes, BMCs) for perf and chaos")
    run.add_argument("--profile", metavar="NAME",
                     help="gate profile whose thresholds judge the samples (shipped: reference, dreamcompute; "
                          "or a YAML file)")
    run.add_argument("--baseline", metavar="RUN",
                     help="an earlier run (history run id, report directory or summary.json): gates also fail "
                          "on a regression beyond the profile's tolerance")
    run.add_argument("--history", metavar="FILE", type=Path,
                     help="the history store the run is recorded in (default: $OCTOPROBE_HISTORY, else "
                          "~/.local/state/octoprobe/history.sqlite)")
    run.add_argument("--no-history", action="store_true", help="do not record the run in the history store")
    run.add_argument("--capability", action="append", metavar="GLOB", default=[],
                     help="conformance: only the tests of these capabilities (repeatable), e.g. 'networks-*'")
    run.add_argument("--tempest", action="store_true",
                     help="also run Tempest's interop tests (octoprobe tempest; needs --admin-cloud) into the report")
    run.add_argument("--graphite", metavar="HOST:PORT",
                     help="also send the run's samples and gate verdicts to Graphite (plaintext protocol)")
    run.add_argument("--allow-destructive", action="store_true",
                     help="run tests that break a lab (they print what they will do first)")
    run.add_argument("--run-id", metavar="ID", help="the run's tag (default: a new one)")
    run.add_argument("--report-dir", metavar="DIR", type=Path,
                     help="where the report goes (default: ./octoprobe-reports/<run id>)")
    run.add_argument("--suite-timeout", type=float, default=4 * 3600.0, metavar="SECONDS",
                     help="stop a suite that runs longer (default: %(default)g)")
    run.add_argument("--quiet", "-q", action="store_true", help="one line per suite and the verdict (CI logs)")
    run.add_argument("--pytest-args", default="", metavar="ARGS",
                     help="more arguments for every suite's pytest, one quoted string: --pytest-args=\"-k image\"")
    run.set_defaults(handler=main)


def selected_suites(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in (*SUITES, "all")]
    if unknown:
        raise SuiteNotFound(f"unknown suite {unknown[0]!r}; suites: {', '.join(SUITES)} or all")
    if not names or "all" in names:
        return list(SUITES)
    return [s for s in SUITES if s in names]


def suite_args(args: argparse.Namespace, run_id: str) -> list[str]:
    """The octoprobe plugin's options every suite gets."""
    out = ["--run-id", run_id]
    for flag, value in (("--cloud", args.cloud), ("--admin-cloud", args.admin_cloud),
                        ("--alt-cloud", args.alt_cloud), ("--inventory", args.inventory)):
        if value:
            out += [flag, str(value)]
    if args.allow_destructive:
        out.append("--allow-destructive")
    return out + shlex.split(args.pytest_args or "")


def preflight(args: argparse.Namespace, suites: list[str]) -> str | None:
    """Check the configuration before anything runs; the problem, or None."""
    from octoprobe.config_yaml import ConfigError
    from octoprobe.inventory import load_inventory
    from octoprobe.perf.judging import BaselineError, load_baseline
    from octoprobe.perf.profiles import ProfileNotFound, load_profile
    from octoprobe.plugins import PluginError, discover
    from octoprobe.target import resolve_cloud

    try:
        discover()
    except PluginError as exc:
        return str(exc)
    try:
        if args.profile:
            args.loaded_profile = load_profile(args.profile)
        if args.baseline:
            if not args.profile:
                return "--baseline needs --profile: the profile's gates are what is compared"
            args.loaded_baseline = load_baseline(args.baseline, history=args.history)
        if args.graphite:
            from octoprobe.history.graphite import parse_address

            parse_address(args.graphite, default_port=None)
        if getattr(args, "tempest", False) and not args.admin_cloud:
            return "--tempest needs --admin-cloud: Tempest makes its own projects and users with it"
    except (ConfigError, ProfileNotFound, BaselineError, ValueError, OSError) as exc:
        return str(exc)
    try:
        if any(s in NEEDS_CLOUD for s in suites):
            resolve_cloud(args.cloud)
            for role, name in (("admin", args.admin_cloud), ("alt", args.alt_cloud)):
                if name:
                    resolve_cloud(name, role=role)
        if args.inventory:
            load_inventory(args.inventory)
    except (ConfigError, ValueError, OSError) as exc:
        return str(exc)
    return None


def coverage_text(result: Any) -> str:
    """The conformance coverage table (capability -> passed / failed / skipped,
    with reasons) of the services the suite's tests covered."""
    from octoprobe.interop import coverage, load_guideline, render_table, service_of

    guideline = load_guideline()
    services = sorted({service_of(t.capability, guideline) for t in result.tests if t.capability})
    rows = coverage(result.tests, guideline, services=services)
    return "conformance coverage (interop " + guideline.id + "):\n" + render_table(rows)


def tempest_command(args: argparse.Namespace, run_id: str, report_dir: Path) -> list[str]:
    """``octoprobe tempest`` for the run: its report lands in ``report_dir/tempest``;
    its work directory (a tempest.conf with the admin's password) stays out of the report."""
    work = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "octoprobe" / "tempest" / run_id
    argv = [sys.executable, "-m", "octoprobe.cli", "tempest",
            "--admin-cloud", args.admin_cloud, "--report-dir", str(report_dir / "tempest"), "--run-id", run_id,
            "--workdir", str(work)]
    for flag, value in (("--cloud", args.cloud), ("--alt-cloud", args.alt_cloud)):
        if value:
            argv += [flag, value]
    return argv


def verdict(runs: list[SuiteRun], failed: bool) -> tuple[str, int]:
    if failed:
        return "FAIL", EXIT_FAILED
    if any(r.status == COULD_NOT_RUN for r in runs):
        return "COULD NOT RUN", EXIT_COULD_NOT_RUN
    tested = [t for r in runs if r.result for t in r.result.tests if t.outcome != "skipped"]
    if not tested:
        return "NOTHING TESTED", EXIT_COULD_NOT_RUN
    return "PASS", EXIT_PASSED


def suite_summary(run: SuiteRun) -> str:
    took = duration_text(run.seconds)
    if run.status == EMPTY:
        return f"{run.name}: no tests ({took})"
    counts = run.result.counts() if run.result else {}
    text = ", ".join(f"{counts[o]} {o}" for o in ("passed", "failed", "error", "skipped") if counts.get(o))
    text = text or "nothing ran"
    if run.status == COULD_NOT_RUN:
        return f"{run.name}: COULD NOT RUN — {run.problem.splitlines()[0]} ({text}; {took})"
    gates = run.result.failing_gates if run.result else []
    return f"{run.name}: {text}" + (f"; {len(gates)} gate(s) failed" if gates else "") + f" ({took})"


class ProgressPrinter:
    """Turns a suite's progress into lines: one per finished test, and a
    heartbeat while a test runs long; nothing in quiet mode."""

    def __init__(self, out: TextIO, *, quiet: bool, clock: Callable[[], float] = time.time):
        self.out, self.quiet, self.clock = out, quiet, clock
        self._last_line = clock()

    def __call__(self, progress: SuiteProgress, finished: bool) -> None:
        if self.quiet:
            return
        now = self.clock()
        if finished:
            self._say(finished_line(progress, now), now)
        elif progress.current and now - self._last_line >= HEARTBEAT_SECONDS:
            self._say(heartbeat_line(progress, now), now)

    def _say(self, line: str, now: float) -> None:
        print(line, file=self.out, flush=True)
        self._last_line = now


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from octoprobe.report.merge import merge_results
    from octoprobe.report.writers import write_report
    from octoprobe.resources import check_run_id, new_run_id

    try:
        suites = selected_suites(args.suites)
        run_id = check_run_id(args.run_id) if args.run_id else new_run_id()
        dirs = {name: suite_dir(name) for name in suites}
    except (ValueError, SuiteNotFound) as exc:
        print(f"octoprobe: error: {exc}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    problem = preflight(args, suites)
    if problem:
        print(f"octoprobe: error: {problem}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    report_dir = (args.report_dir or Path("octoprobe-reports") / run_id).resolve()
    print(f"octoprobe run {run_id}: {', '.join(suites)}; report in {report_dir}", file=out, flush=True)
    started = _now()
    runs: list[SuiteRun] = []
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for name in suites:
            if not has_tests(dirs[name]):
                runs.append(SuiteRun(name, report_dir / name, EMPTY, None, 0.0, problem="no tests yet"))
                print(suite_summary(runs[-1]), file=out, flush=True)
                continue
            print(f"== {name}", file=out, flush=True)
            extra = [*map(str, suite_paths(name)), *suite_args(args, run_id),
                     "--alluredir", str(report_dir / "allure-results")]
            if name == "conformance":
                extra += [a for glob in getattr(args, "capability", None) or () for a in ("--capability", glob)]
            run = run_suite(name, dirs[name], report_dir / name, extra, env=dict(os.environ),
                            timeout=args.suite_timeout, on_progress=ProgressPrinter(out, quiet=args.quiet))
            runs.append(run)
            print(suite_summary(run), file=out, flush=True)
            if name == "conformance" and run.result is not None:
                print(coverage_text(run.result), file=out, flush=True)
            if run.status == COULD_NOT_RUN and "interrupted" in run.problem:
                break
        if getattr(args, "tempest", False) and not (runs and "interrupted" in runs[-1].problem):
            print("== tempest", file=out, flush=True)
            runs.append(run_suite("tempest", report_dir, report_dir / "tempest", env=dict(os.environ),
                                  timeout=args.suite_timeout, on_progress=ProgressPrinter(out, quiet=args.quiet),
                                  command=tempest_command(args, run_id, report_dir)))
            print(suite_summary(runs[-1]), file=out, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    parts = {r.name: r.result for r in runs if r.result is not None}
    merged = merge_results(run_id, parts, started=started, finished=_now())
    profile = getattr(args, "loaded_profile", None)
    if profile is not None:
        from octoprobe.perf.judging import make_judge

        merged.gates = [*merged.gates, *make_judge(profile, getattr(args, "loaded_baseline", None))(merged.tests)]
    write_report(merged, report_dir)
    word, code = verdict(runs, failed=bool(merged.failing_tests or merged.failing_gates))
    record(args, merged, report_dir, code, out)
    for run in runs:
        if run.status == COULD_NOT_RUN and len(run.problem.splitlines()) > 1:
            print(f"{run.name}: {run.problem}", file=sys.stderr)
    for test in merged.failing_tests[:20]:
        print(f"  {test.outcome.upper()} {test.nodeid}: {test.reason}", file=out)
    for gate in merged.failing_gates:
        print(f"  GATE {gate.name}: {gate.reason}", file=out)
    print(f"octoprobe: {word} · report {report_dir / 'report.html'}", file=out, flush=True)
    return code


def record(args: argparse.Namespace, result: Any, report_dir: Path, code: int, out: TextIO) -> None:
    """Into the history store and, when asked, to Graphite; a failure here is
    reported but does not change the run's verdict."""
    if not args.no_history:
        try:
            from octoprobe.history.store import record_run

            path = record_run(result, str(report_dir), args.cloud, code, history_path=args.history)
            print(f"recorded in the history {path}", file=out, flush=True)
        except Exception as exc:  # the report is written; the history is a convenience
            print(f"octoprobe: warning: the run was not recorded in the history: {exc}", file=sys.stderr)
    if args.graphite:
        from octoprobe.history.graphite import graphite_lines, parse_address, send_to_graphite

        host, port = parse_address(args.graphite, default_port=None)
        try:
            lines = graphite_lines(result, cloud=args.cloud)
            send_to_graphite(lines, host, port)
            print(f"sent {len(lines)} metrics to Graphite at {host}:{port}", file=out, flush=True)
        except Exception as exc:
            print(f"octoprobe: warning: Graphite at {host}:{port}: {exc}", file=sys.stderr)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
