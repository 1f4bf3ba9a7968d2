"""The history commands: ``history`` (list, ``add``), ``trend``, ``compare``,
``check`` and ``graphite-export``.

Every run of ``octoprobe run`` is recorded in a local SQLite history
(``--history FILE``; default ``$OCTOPROBE_HISTORY``, else
``~/.local/state/octoprobe/history.sqlite``). A run is named by its id, a
unique prefix of it, or ``latest``; ``compare`` also takes a report directory
or a ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from octoprobe.history.check import UNKNOWN, check
from octoprobe.history.compare import DEFAULT_TOLERANCE, compare, render_comparison
from octoprobe.history.graphite import GraphiteError, graphite_lines, parse_address, send_to_graphite
from octoprobe.history.store import HistoryError, HistoryStore, RunRecord, default_history_path
from octoprobe.history.trend import trend_html, trend_table
from octoprobe.report.model import RunResult

__all__ = ["add_commands", "load_summary"]

EXIT_USAGE = 2
LATEST = "latest"


class UsageError(Exception):
    """A problem with what was asked; exit code 2."""


def _history_option(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    parser.add_argument(
        "--history", metavar="FILE", type=Path, default=argparse.SUPPRESS if inherited else None,
        help="the history store (default: $OCTOPROBE_HISTORY, else ~/.local/state/octoprobe/history.sqlite)")


def add_commands(commands: Any) -> None:
    history = commands.add_parser(
        "history", help="list the runs recorded in the history store; 'history add' records a report",
        description="List the recorded runs, newest first; 'octoprobe history add REPORT' records an existing "
                    "report (a report directory or its summary.json).")
    _history_option(history)
    history.add_argument("--limit", type=int, default=20, metavar="N", help="at most N runs (default 20)")
    history.add_argument("--cloud", metavar="NAME", help="only the runs of this cloud")
    history.add_argument("--json", action="store_true", help="print the runs as JSON")
    history.set_defaults(handler=_guarded(run_history))
    actions = history.add_subparsers(dest="history_command", metavar="{add}", required=False)
    add = actions.add_parser("add", aliases=["import"], help="record an existing report in the history",
                             description="Record an existing report (report directory or summary.json) in the "
                                         "history; recording a run id again replaces it.")
    add.add_argument("report", metavar="REPORT_DIR_OR_SUMMARY_JSON")
    add.add_argument("--cloud", metavar="NAME", default=argparse.SUPPRESS,
                     help="the cloud it ran against (default: the one named in the report)")
    add.add_argument("--exit-code", type=int, metavar="N", help="the run's exit code, when known")
    _history_option(add, inherited=True)
    add.set_defaults(handler=_guarded(run_add))

    trend = commands.add_parser(
        "trend", help="how metrics moved across the recorded runs (table; --html for charts)",
        description="One table per metric: each run's median, min, max, sample count and the change against "
                    "the run before. Without --metric: every metric of the latest run.")
    _history_option(trend)
    trend.add_argument("--metric", action="append", metavar="M", help="a metric (repeatable)")
    trend.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                       help="only samples whose metadata has KEY=VALUE (repeatable)")
    trend.add_argument("--cloud", metavar="NAME", help="only the runs of this cloud")
    trend.add_argument("--limit", type=int, default=20, metavar="N", help="the last N runs (default 20)")
    trend.add_argument("--html", metavar="FILE", type=Path, help="also write a self-contained page of charts")
    trend.set_defaults(handler=_guarded(run_trend))

    comp = commands.add_parser(
        "compare", help="what regressed, improved or newly failed in a run against a baseline (exit 1 if worse)",
        description="Compare RUN with BASELINE (default: the run before RUN on the same cloud). Exit 1 when a "
                    "test or gate newly failed or a metric regressed beyond the tolerance, else 0.")
    _history_option(comp)
    comp.add_argument("run", metavar="RUN", help="run id, unique prefix, 'latest', report directory or summary.json")
    comp.add_argument("baseline", metavar="BASELINE", nargs="?", help="the same kinds of names as RUN")
    comp.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, metavar="FRACTION",
                      help=f"relative change that counts as none (default {DEFAULT_TOLERANCE:g})")
    comp.set_defaults(handler=_guarded(run_compare))

    chk = commands.add_parser(
        "check", help="Nagios-style check of the last run (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)",
        description="One status line with perfdata about the newest recorded run, for a monitoring system.")
    _history_option(chk)
    chk.add_argument("--cloud", metavar="NAME", help="the newest run of this cloud")
    chk.add_argument("--max-age", type=float, default=36.0, metavar="HOURS",
                     help="WARNING when the last run finished longer ago (default 36)")
    chk.set_defaults(handler=run_check)

    exp = commands.add_parser(
        "graphite-export", help="send a recorded run's samples and verdicts to Graphite (plaintext protocol)",
        description="Send a run's metrics (median, min, max, count), gate verdicts and run verdict to Graphite; "
                    "the paths are documented in octoprobe.history.graphite.")
    _history_option(exp)
    exp.add_argument("run", metavar="RUN", help="run id, unique prefix or 'latest'")
    exp.add_argument("--graphite", metavar="HOST:PORT", help="Graphite's plaintext listener (port usually 2003)")
    exp.add_argument("--prefix", default="octoprobe", metavar="P", help="the first path components (default octoprobe)")
    exp.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="network timeout (default 5)")
    exp.add_argument("--dry-run", action="store_true", help="print the lines, send nothing")
    exp.set_defaults(handler=_guarded(run_graphite_export))


def _guarded(handler: Any) -> Any:
    """Run ``handler``; a known failure becomes ``octoprobe: error: ...`` and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (UsageError, HistoryError, GraphiteError, ValueError, OSError) as exc:
            print(f"octoprobe: error: {exc}", file=sys.stderr)
            return EXIT_USAGE

    run.__doc__ = handler.__doc__
    return run


def _store(args: argparse.Namespace, *, create: bool = False) -> HistoryStore:
    return HistoryStore(getattr(args, "history", None) or default_history_path(), create=create)


def load_summary(given: str | Path) -> RunResult:
    """A run from a report directory or a ``summary.json``; errors name the file."""
    path = Path(given).expanduser()
    if path.is_dir():
        path = path / "summary.json"
    try:
        return RunResult.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (expected a report directory or its summary.json)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not an octoprobe summary: {exc}") from None


def _resolve(args: argparse.Namespace, given: str) -> tuple[RunResult, HistoryStore | None]:
    """A run by report directory or summary.json, else by id, prefix or
    ``latest`` from the store (opened only then)."""
    if Path(given).expanduser().exists():
        return load_summary(given), None
    store = _store(args)
    if given == LATEST:
        found = store.runs(limit=1)
        if not found:
            raise UsageError(f"the history {store.path} is empty")
        given = found[0].run_id
    return store.get(given), store


# ---- history
def _row(record: RunRecord) -> tuple[str, ...]:
    failed = ", ".join(record.failed_gates) or "-"
    return (record.run_id, record.started[:16].replace("T", " "), record.cloud or "-", record.verdict,
            "-" if record.exit_code is None else str(record.exit_code),
            str(record.tests_total), str(record.tests_failed), failed)


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [head, tuple("-" * w for w in widths), *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def run_history(args: argparse.Namespace) -> int:
    path = Path(args.history or default_history_path()).expanduser()
    if not path.exists():
        print("[]" if args.json else f"no runs recorded yet ({path} does not exist)")
        return 0
    records = _store(args).runs(limit=args.limit, cloud=args.cloud)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
    elif not records:
        print(f"no runs recorded in {path}" + (f" for cloud {args.cloud}" if args.cloud else ""))
    else:
        print(_table(("run", "started", "cloud", "verdict", "exit", "tests", "failed", "failed gates"),
                     [_row(r) for r in records]))
    return 0


def run_add(args: argparse.Namespace) -> int:
    result = load_summary(args.report)
    given = Path(args.report).expanduser().resolve()
    report_dir = given if given.is_dir() else given.parent
    store = _store(args, create=True)
    cloud = getattr(args, "cloud", None)
    store.record(result, str(report_dir), cloud, args.exit_code)
    print(f"recorded run {result.run_id} ({result.verdict}) in {store.path}")
    return 0


# ---- trend
def _where(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--where {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def run_trend(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    store = _store(args)
    where = _where(args.where)
    metrics = args.metric
    if not metrics:
        latest = store.runs(limit=1, cloud=args.cloud)
        if not latest:
            raise UsageError(f"no runs{' of cloud ' + args.cloud if args.cloud else ''} in the history {store.path}")
        metrics = store.metrics(latest[0].run_id)
        if not metrics:
            raise UsageError(f"the latest run {latest[0].run_id} has no samples; name a metric with --metric")
    series = {m: store.metric_series(m, args.limit, args.cloud, where or None) for m in metrics}
    missing = [m for m, s in series.items() if not s]
    if len(missing) == len(series):
        raise UsageError(f"no samples of {', '.join(missing)} in the history {store.path}"
                         + (f" matching {where}" if where else ""))
    for metric in missing:
        print(f"octoprobe: warning: no samples of {metric} in the history", file=sys.stderr)
    print("\n\n".join(trend_table(s, m) for m, s in series.items() if s))
    if args.html:
        args.html.write_text(trend_html({m: s for m, s in series.items() if s}), encoding="utf-8")
        print(f"wrote {args.html}")
    return 0


# ---- compare
def run_compare(args: argparse.Namespace) -> int:
    current, store = _resolve(args, args.run)
    if args.baseline:
        baseline, _ = _resolve(args, args.baseline)
    else:
        cloud = current.environment.cloud
        if store is not None:  # a recorded run: the run before it on the cloud it was recorded for
            baseline = store.previous(current.run_id)
        else:
            baseline = _store(args).before(current.started, cloud, exclude=current.run_id)
        if baseline is None:
            raise UsageError(f"no run before {current.run_id} to compare with"
                             + (f" on cloud {cloud}" if cloud else "") + "; name a BASELINE")
    comparison = compare(current, baseline, tolerance=args.tolerance)
    print(render_comparison(comparison))
    return 1 if comparison.worse else 0


# ---- check
def run_check(args: argparse.Namespace) -> int:
    try:
        store = _store(args)
    except HistoryError as exc:
        print(f"OCTOPROBE UNKNOWN - {exc}")
        return UNKNOWN
    result = check(store, cloud=args.cloud, max_age_hours=args.max_age)
    print(result.line)
    return result.code


# ---- graphite-export
def run_graphite_export(args: argparse.Namespace) -> int:
    if not args.dry_run and not args.graphite:
        raise UsageError("graphite-export needs --graphite HOST:PORT (or --dry-run)")
    address = parse_address(args.graphite) if args.graphite else None
    result, _ = _resolve(args, args.run)
    lines = graphite_lines(result, prefix=args.prefix)
    if args.dry_run or address is None:
        sys.stdout.write("".join(lines))
        return 0
    sent = send_to_graphite(lines, *address, timeout=args.timeout)
    print(f"sent {sent} lines of run {result.run_id} to Graphite at {address[0]}:{address[1]}")
    return 0
