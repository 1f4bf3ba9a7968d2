"""A Nagios/Icinga-style check of the last recorded run.

Exit codes follow the monitoring plugin guidelines: 0 OK (the last run
passed), 1 WARNING (the last run is older than the allowed age, could not
run, or tested nothing), 2 CRITICAL (a test or gate failed), 3 UNKNOWN (no
history, or the store cannot be read). The output is one line::

    OCTOPROBE OK - run 20260124-0100-abcd passed 120 tests, 8 gates | boot_ssh_p95=12.3s;;40

with one perfdata item per gate that measured something:
``label=value[UOM];warn;crit;min;max`` (trailing empty fields left out), the
gate's threshold as the critical range.
"""

from __future__ import annotations

import re
from decimal import Decimal
from dataclasses import dataclass
from datetime import datetime, timezone

from octoprobe.history.store import HistoryError, HistoryStore, RunRecord, parse_time
from octoprobe.report.model import NO_TESTS, Gate, RunResult

__all__ = ["OK", "WARNING", "CRITICAL", "UNKNOWN", "CheckResult", "check", "perfdata", "nagios_unit"]

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
EXIT_COULD_NOT_RUN = 2
MAX_NAMED = 3

#: unit -> (Nagios UOM, factor to it); units Nagios has no UOM for are left empty, unscaled.
_UOM = {"s": ("s", 1.0), "ms": ("s", 1e-3), "us": ("s", 1e-6), "µs": ("s", 1e-6), "ns": ("s", 1e-9),
        "min": ("s", 60.0), "h": ("s", 3600.0), "%": ("%", 1.0), "B": ("B", 1.0), "KiB": ("B", 1024.0),
        "MiB": ("B", 1024.0 ** 2), "GiB": ("B", 1024.0 ** 3), "c": ("c", 1.0)}


@dataclass(frozen=True)
class CheckResult:
    """The plugin's exit code and its one line of output."""

    code: int
    line: str

    @property
    def status(self) -> str:
        return STATUS[self.code]


def nagios_unit(unit: str) -> tuple[str, float]:
    """(UOM, factor): ``ms`` -> (``s``, 0.001); ``B/s``, ``IOPS``, ``ratio`` -> (``""``, 1)."""
    return _UOM.get(unit, ("", 1.0))


def _label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def _num(value: float) -> str:
    """Six significant digits in plain decimal notation (perfdata parsers expect ``[-0-9.]``)."""
    return format(Decimal(f"{value:.6g}"), "f")


def _perf_item(gate: Gate) -> str | None:
    if gate.measured is None:
        return None
    uom, factor = nagios_unit(gate.unit)
    crit = ""
    if gate.threshold is not None:
        threshold = _num(gate.threshold * factor)
        crit = f"{threshold}:" if gate.comparison in (">=", ">") else (
            f"~:{threshold}" if gate.comparison in ("<=", "<") and gate.threshold < 0 else threshold)
    low, high = ("0", "100") if uom == "%" else ("", "")
    fields = [f"{_label(gate.name)}={_num(gate.measured * factor)}{uom}", "", crit, low, high]
    while fields[-1] == "":
        fields.pop()
    return ";".join(fields)


def perfdata(result: RunResult) -> str:
    """One perfdata item per gate with a measured value, space separated."""
    return " ".join(item for item in map(_perf_item, result.gates) if item)


def _clean(text: str) -> str:
    """Text for the status line: one line, no ``|`` (it starts the perfdata)."""
    return " ".join(text.replace("|", "/").split())


def _line(code: int, text: str, result: RunResult | None = None) -> CheckResult:
    perf = perfdata(result) if result is not None else ""
    return CheckResult(code, f"OCTOPROBE {STATUS[code]} - {_clean(text)}" + (f" | {perf}" if perf else ""))


def _failures(result: RunResult) -> str:
    names = [f"gate {g.name}" for g in result.failing_gates] + [f"test {t.nodeid}" for t in result.failing_tests]
    shown = ", ".join(names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


def _age_hours(record: RunRecord, now: datetime) -> float | None:
    try:
        return (now - parse_time(record.finished)).total_seconds() / 3600.0
    except ValueError:
        return None


def check(store: HistoryStore, cloud: str | None = None, max_age_hours: float = 36.0,
          now: datetime | None = None) -> CheckResult:
    """The status of the newest run (of ``cloud``) in ``store``."""
    now = now or datetime.now(timezone.utc)
    where = f" of cloud {cloud}" if cloud else ""
    try:
        records = store.runs(limit=1, cloud=cloud)
        if not records:
            return _line(UNKNOWN, f"no run{where} recorded in the history {store.path}")
        record = records[0]
        result = store.get(record.run_id)
    except HistoryError as exc:
        return _line(UNKNOWN, str(exc))
    age = _age_hours(record, now)
    stale = age is None or age > max_age_hours
    age_text = "of unknown age" if age is None else f"{age:.1f} h old (max {max_age_hours:g} h)"
    c = result.counts()
    if not result.passed:
        text = (f"run {record.run_id} failed: {_failures(result)} ({c['failed'] + c['error']} of {c['total']} "
                f"tests, {len(result.failing_gates)} of {len(result.gates)} gates failed)")
        return _line(CRITICAL, text + (f"; the run is {age_text}" if stale else ""), result)
    if stale:
        return _line(WARNING, f"the last run{where}, {record.run_id}, is {age_text}", result)
    if record.exit_code == EXIT_COULD_NOT_RUN:
        where_report = record.report_dir or "its report"
        return _line(WARNING, f"run {record.run_id} could not run (exit code 2; see {where_report})", result)
    if result.verdict == NO_TESTS:
        return _line(WARNING, f"run {record.run_id} tested nothing (all {c['total']} tests skipped)", result)
    return _line(OK, f"run {record.run_id} passed {c['passed']} tests, {len(result.gates)} gates", result)
