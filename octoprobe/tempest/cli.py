"""``octoprobe tempest``: run the Tempest tests an interop guideline requires
against a cloud (or, with ``--all``, every test of Tempest and its installed
plugins), and count them per service.

The cloud is asked what Tempest needs (image, flavors, networks, extensions,
microversions) and a tempest.conf is written (0600) into the work directory
with the admin cloud's credentials: Tempest creates its own projects and
users for the run (dynamic credentials) and deletes them afterwards. What
the run leaves behind is listed, and deleted when Tempest named it.

With --report-dir DIR the run is also written as octoprobe's report
(report.html, junit.xml, summary.json, summary.md; one test per required
Tempest test, named tempest/<test>, with its interop capability), the way a
suite of `octoprobe run` writes it; without it, only results.json in the
work directory. A run that could not start (exit 2) leaves no summary.json
there (an earlier one is removed).

Exit status: 0 when every required (non-flagged) test passed or was
skipped — with ``--all``, every listed test — 1 when one failed or did not
run, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from octoprobe.config_yaml import ConfigError

if TYPE_CHECKING:
    from octoprobe.report.model import RunResult

DEFAULT_IMAGE = "octoprobe-guest"


def add_command(commands) -> None:
    from octoprobe.tempest.testlist import SERVICES

    tempest = commands.add_parser(
        "tempest",
        help="run the Tempest tests the interop guideline requires and count them per service",
        description=__doc__,
    )
    tempest.add_argument("--cloud", metavar="NAME", default=None,
                         help="clouds.yaml entry of the tested (member) cloud (default: $OS_CLOUD, else 'octoprobe')")
    tempest.add_argument("--admin-cloud", metavar="NAME", required=True,
                         help="clouds.yaml entry with admin rights (Tempest creates its users with it)")
    tempest.add_argument("--alt-cloud", metavar="NAME",
                         help="a second tenant; checked to resolve, Tempest makes its own with dynamic credentials")
    tempest.add_argument("--service", action="append", choices=SERVICES, metavar="SERVICE",
                         help=f"only this service's tests (repeatable; {', '.join(SERVICES)}; default all)")
    tempest.add_argument("--concurrency", type=int, default=2, metavar="N", help="parallel test workers (default 2)")
    tempest.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS",
                         help="stop the whole run after this long (default 3600)")
    tempest.add_argument("--workdir", metavar="DIR",
                         help="Tempest's workspace: tempest.conf, include list, subunit stream, logs "
                              "(default: a new temporary directory)")
    tempest.add_argument("--clouds-yaml", metavar="FILE",
                         help="read the clouds from this file (default: openstacksdk's search path)")
    tempest.add_argument("--guideline", default="2020.06", metavar="ID|FILE",
                         help="interop guideline (default: the bundled 2020.06)")
    tempest.add_argument("--image", default=DEFAULT_IMAGE, metavar="NAME",
                         help=f"the image servers boot from (default {DEFAULT_IMAGE})")
    tempest.add_argument("--image-alt", metavar="NAME",
                         help="a second image, for the tests that need two (default: the same image)")
    tempest.add_argument("--image-ssh-user", metavar="USER",
                         help="the image's login user (default: its os_admin_user property, else root)")
    tempest.add_argument("--ssh-ip-version", type=int, choices=(4, 6),
                         help="address family to reach guests by (default: 4 over floating IPs, else 6)")
    tempest.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                         help="override one tempest.conf option, e.g. compute-feature-enabled.resize=True")
    tempest.add_argument("--no-flagged", action="store_true", help="leave out the tests the guideline flagged")
    tempest.add_argument("--report-dir", metavar="DIR", type=Path,
                         help="also write octoprobe's report of the run here: report.html, junit.xml, "
                              "summary.json, summary.md (default: none, only results.json in the work directory)")
    tempest.add_argument("--run-id", metavar="ID",
                         help="the run id the report carries (4 to 32 lowercase letters and digits; "
                              "default: a new one)")
    which = tempest.add_mutually_exclusive_group()
    which.add_argument("--interop", dest="all_tests", action="store_false", default=False,
                       help="run the tests the interop guideline requires (the default)")
    which.add_argument("--all", dest="all_tests", action="store_true",
                       help="run every test of Tempest and of its installed plugins (with --service: those "
                            "services' API tests; with --regex: the tests it matches); each test counts, under "
                            "the capability the guideline maps it to or its service / plugin")
    tempest.add_argument("--regex", metavar="REGEX",
                         help="with --all: only the tests whose id this regular expression matches")
    tempest.add_argument("stestr_args", nargs=argparse.REMAINDER, metavar="-- STESTR_ARGS",
                         help="after --: more arguments for `stestr run`, e.g. -- --exclude-regex 'resize'")
    tempest.set_defaults(handler=run)


def parse(argv: list[str]) -> argparse.Namespace:
    """``octoprobe tempest``'s options from its arguments (without the
    ``tempest`` word), for :func:`run_and_report`; exits 2 on a usage error."""
    parser = argparse.ArgumentParser(prog="octoprobe")
    add_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["tempest", *argv])


def _overrides(items: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, option = key.rpartition(".")
        if not sep or not dot or not section or not option:
            raise ValueError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        out.setdefault(section, {})[option] = value
    return out


def _say(line: str) -> None:
    print(line, flush=True)


def run(args) -> int:
    """The command: :func:`run_and_report`'s exit status."""
    return run_and_report(args)[0]


def run_and_report(args) -> "tuple[int, RunResult | None]":
    """Run Tempest as ``octoprobe tempest`` does (``args``: see :func:`parse`):
    (exit status, the run as a RunResult — None when it could not start).
    Writes results.json into the work directory and, with ``args.report_dir``,
    octoprobe's report files there."""
    from octoprobe import interop
    from octoprobe.resources import check_run_id, new_run_id
    from octoprobe.target import resolve_cloud
    from octoprobe.tempest import config as tconfig
    from octoprobe.tempest import runner, summary, testlist
    from octoprobe.tempest import report as treport
    from octoprobe.tempest.results import headline, redact

    report_dir = getattr(args, "report_dir", None)
    if report_dir is not None and (Path(report_dir) / "summary.json").is_file():
        (Path(report_dir) / "summary.json").unlink()  # an earlier run's: one that cannot start leaves none
    files = [args.clouds_yaml] if args.clouds_yaml else None
    try:
        if args.clouds_yaml and not Path(args.clouds_yaml).is_file():
            raise ValueError(f"--clouds-yaml {args.clouds_yaml}: no such file")
        if args.concurrency < 1:
            raise ValueError("--concurrency must be at least 1")
        run_id = check_run_id(args.run_id) if getattr(args, "run_id", None) else new_run_id()
        if report_dir is not None and Path(report_dir).exists() and not Path(report_dir).is_dir():
            raise ValueError(f"--report-dir {report_dir}: not a directory")
        overrides = _overrides(args.set)
        guideline = interop.load_guideline(args.guideline)
        all_tests = bool(getattr(args, "all_tests", False))
        regex = getattr(args, "regex", None)
        if regex is not None and not all_tests:
            raise ValueError("--regex selects among all of Tempest's tests: give it with --all")
        if all_tests:
            selected = []  # known once Tempest has listed its tests
            include = testlist.all_tests_include_list(args.service, regex)
        else:
            selected = testlist.select(guideline, args.service, include_flagged=not args.no_flagged)
            include = testlist.render_include_list(selected)
        cloud = resolve_cloud(args.cloud, role="cloud", config_files=files)
        admin = resolve_cloud(args.admin_cloud, role="admin", config_files=files)
        if args.alt_cloud:
            resolve_cloud(args.alt_cloud, role="alt", config_files=files)
        credentials = tconfig.admin_credentials(admin.region.config)
        admin_conn, conn = admin.connect(), cloud.connect()
        _say(f"tempest: {cloud.describe()}; {admin.describe()}")
        facts = tconfig.discover(admin_conn, conn, image_name=args.image, image_alt_name=args.image_alt,
                                 image_ssh_user=args.image_ssh_user)
        workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="octoprobe-tempest-"))
        options = tconfig.ConfigOptions(workdir=workdir.resolve(), ssh_ip_version=args.ssh_ip_version,
                                        overrides=overrides)
        conf = tconfig.render(facts, credentials, options)
        ws = runner.prepare_workspace(workdir, tconfig.render_text(conf), include)
    except (ConfigError, interop.GuidelineError, tconfig.ConfigDiscoveryError, runner.TempestNotInstalled,
            ValueError) as exc:
        print(f"octoprobe: error: {exc}", file=sys.stderr)
        return 2, None
    except Exception as exc:  # the cloud did not answer discovery
        print(f"octoprobe: error: cannot discover the cloud: {type(exc).__name__}: {redact(str(exc))}",
              file=sys.stderr)
        return 2, None
    for note in facts.notes:
        _say(f"tempest: note: {note}")
    services = ", ".join(args.service) if args.service else "all services"
    if all_tests:
        what = f"tests matching {regex!r}" if regex is not None else f"every test of {services}" + (
            "" if args.service else " (Tempest's and its installed plugins')")
        _say(f"tempest: workspace {ws.root} (tempest.conf mode 0600); {what}")
    else:
        _say(f"tempest: workspace {ws.root} (tempest.conf mode 0600); {len(selected)} required test(s) of {services}")

    available = facts.service_available()
    before, errors = runner.snapshot(admin_conn, available)
    started = time.time()
    try:
        outcome = runner.run_tempest(ws, concurrency=args.concurrency, timeout=args.timeout,
                                     stestr_args=[a for a in (getattr(args, "stestr_args", None) or []) if a != "--"],
                                     secrets=[credentials.password], progress=_say)
    except (runner.TempestRunError, runner.TempestNotInstalled) as exc:
        print(f"octoprobe: error: {exc}", file=sys.stderr)
        return 2, None
    after, more_errors = runner.snapshot(admin_conn, available)
    left = runner.leftovers(before, after)

    # the stream's reasons are redacted when parsed; once more here, whatever produced them
    clean = [replace(r, reason=redact(r.reason, [credentials.password])) for r in outcome.results]
    if all_tests:
        selected = testlist.select_listed(outcome.listed, guideline)
        rows = summary.verdicts_listed(selected, clean)
    else:
        rows = summary.verdicts(selected, clean, outcome.listed)
    _say("")
    _say(summary.render_summary(rows))
    _say("")
    state = "killed at the deadline" if outcome.timed_out else f"stestr exit {outcome.exit_code}"
    _say(f"tempest: wall time {outcome.wall_time:.0f} s, concurrency {outcome.concurrency}, "
         f"{len(outcome.results)} result(s) ({state}); subunit stream {outcome.subunit_path}")
    if outcome.exit_code not in (0, None) and not outcome.results:
        _say("tempest: stestr stderr:\n" + outcome.stderr_tail)
    for r in summary.teardown_failures(clean):
        _say(f"tempest: {r.test_id} failed: {headline(r.reason)}")
    for err in [*errors, *more_errors]:
        _say(f"tempest: could not list {err}")
    cleanup = runner.delete_leftovers(admin_conn, left) if left else []
    if left:
        _say("tempest: left behind by the run:")
        for line in cleanup:
            _say(f"  {line}")
    else:
        _say("tempest: nothing left behind (projects, users, servers, images, flavors"
             + (", networks" if available["neutron"] else "") + (", volumes" if available["cinder"] else "") + ")")

    report = {
        "guideline": guideline.id,
        "selection": "all" if all_tests else "interop",
        "services": args.service or list(testlist.SERVICES),
        "started": started,
        "wall_time": outcome.wall_time,
        "concurrency": outcome.concurrency,
        "timed_out": outcome.timed_out,
        "counts": summary.service_counts(rows),
        "tests": [
            {"capability": v.selected.capability.name, "test": v.selected.test.name,
             "idempotent_id": v.selected.idempotent_id, "flagged": v.selected.flagged,
             "status": v.status, "duration": v.duration, "reason": v.reason}
            for v in rows
        ],
        "coverage": interop.coverage_to_dict(summary.capability_coverage(rows, guideline, args.service), guideline),
        "leftovers": cleanup,
        "notes": list(facts.notes),
    }
    (ws.root / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _say(f"tempest: results in {ws.root / 'results.json'}")
    failures = summary.required_failures(rows)
    code = 1 if failures or outcome.timed_out else 0

    teardowns = summary.teardown_failures(clean)
    extra = {
        "tempest guideline": guideline.id,
        "tempest selection": (f"--all --regex {regex}" if regex is not None else "--all") if all_tests else "interop",
        "tempest services": ", ".join(report["services"]),
        "tempest concurrency": str(outcome.concurrency),
        "tempest wall time": f"{outcome.wall_time:.0f} s" + (" (killed at the deadline)" if outcome.timed_out else ""),
    }
    if teardowns:
        extra["tempest tear-down failures"] = "; ".join(r.test_id for r in teardowns)
    if cleanup:
        extra["tempest leftovers"] = "; ".join(cleanup)
    result = treport.to_run_result(
        rows, run_id=run_id, started=treport.iso_time(started), finished=treport.iso_time(),
        cloud=cloud.name, versions=treport.tool_versions(), extra=extra, secrets=[credentials.password],
    )
    if report_dir is not None:
        from octoprobe.report.writers import write_report

        write_report(result, report_dir)
        _say(f"tempest: report in {Path(report_dir) / 'report.html'} ({result.verdict})")
    return code, result
