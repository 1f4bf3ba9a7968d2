"""What changed between two runs: tests, metrics, gates. Pure.

A test *newly fails* when it fails or errors now and did not in the baseline
(including a test the baseline did not have); it is *fixed* when it failed in
the baseline and passes now. A metric is compared by the median of its
samples in each run (grouped by metric and unit); a relative change beyond the
tolerance in the metric's bad direction is a regression, in its good direction
an improvement. Metrics whose good direction is unknown are reported as
changed, never as regressed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from octoprobe.perf.gates import format_value
from octoprobe.report.model import Gate, RunResult

__all__ = [
    "DEFAULT_TOLERANCE",
    "TestChange",
    "MetricChange",
    "Comparison",
    "direction",
    "metric_medians",
    "compare",
    "render_comparison",
]

DEFAULT_TOLERANCE = 0.05
LOWER_IS_BETTER, UNKNOWN, HIGHER_IS_BETTER = -1, 0, 1

_TIME_UNITS = frozenset({"s", "ms", "us", "µs", "ns", "min", "h"})
_RATE_UNITS = frozenset({"B/s", "bit/s", "IOPS", "ratio", "ops/s"})
_LOWER_WORDS = ("clat", "latency", "retransmits")
_HIGHER_WORDS = ("bw", "iops", "goodput", "efficiency", "throughput")


@dataclass(frozen=True)
class TestChange:
    """A test whose outcome differs: ``before`` is None for a test the baseline did not have."""

    __test__ = False  # not a pytest test class

    nodeid: str
    before: str | None
    after: str | None
    reason: str = ""


@dataclass(frozen=True)
class MetricChange:
    """The medians of one metric (in one unit) in both runs and their classification."""

    metric: str
    unit: str
    baseline: float
    current: float
    relative: float  # (current - baseline) / |baseline|; ±inf from a zero baseline
    status: str  # regressed | improved | unchanged | changed
    direction: int


@dataclass
class Comparison:
    """The difference between ``current`` and ``baseline`` runs."""

    current: str
    baseline: str
    tolerance: float
    newly_failing: list[TestChange] = field(default_factory=list)
    fixed: list[TestChange] = field(default_factory=list)
    new_tests: list[TestChange] = field(default_factory=list)
    removed_tests: list[TestChange] = field(default_factory=list)
    metrics: list[MetricChange] = field(default_factory=list)
    new_metrics: list[tuple[str, str]] = field(default_factory=list)
    missing_metrics: list[tuple[str, str]] = field(default_factory=list)
    gates_newly_failing: list[Gate] = field(default_factory=list)
    gates_fixed: list[Gate] = field(default_factory=list)

    def of(self, status: str) -> list[MetricChange]:
        return [m for m in self.metrics if m.status == status]

    @property
    def regressed(self) -> list[MetricChange]:
        return self.of("regressed")

    @property
    def improved(self) -> list[MetricChange]:
        return self.of("improved")

    @property
    def worse(self) -> bool:
        """Anything regressed or newly failed (the CLI's exit code 1)."""
        return bool(self.regressed or self.newly_failing or self.gates_newly_failing)


def direction(metric: str, unit: str) -> int:
    """-1 when lower is better (times, latencies, retransmits), +1 when higher
    is better (throughput, IOPS, efficiency), 0 when unknown."""
    name = metric.lower()
    if any(word in name for word in _LOWER_WORDS) or unit in _TIME_UNITS:
        return LOWER_IS_BETTER
    if unit in _RATE_UNITS or unit.endswith("/s"):
        return HIGHER_IS_BETTER
    if any(part in _HIGHER_WORDS or part.endswith(_HIGHER_WORDS) for part in name.split(".")):
        return HIGHER_IS_BETTER
    return UNKNOWN


def metric_medians(result: RunResult) -> dict[tuple[str, str], float]:
    """(metric, unit) -> median of the run's samples of it."""
    values: dict[tuple[str, str], list[float]] = {}
    for metric, entries in result.samples_by_metric().items():
        for _, sample in entries:
            values.setdefault((metric, str(sample.get("unit", ""))), []).append(float(sample["value"]))
    return {key: statistics.median(v) for key, v in values.items()}


def _relative(baseline: float, current: float) -> float:
    if baseline == 0:
        return 0.0 if current == 0 else math.copysign(math.inf, current)
    return (current - baseline) / abs(baseline)


def _classify(relative: float, sense: int, tolerance: float) -> str:
    if abs(relative) <= tolerance:
        return "unchanged"
    if sense == UNKNOWN:
        return "changed"
    return "improved" if relative * sense > 0 else "regressed"


def compare(current: RunResult, baseline: RunResult, tolerance: float = DEFAULT_TOLERANCE) -> Comparison:
    """Compare ``current`` with ``baseline``; a relative change within ``tolerance`` is no change."""
    if tolerance < 0:
        raise ValueError(f"tolerance must not be negative, got {tolerance}")
    out = Comparison(current.run_id, baseline.run_id, tolerance)
    before = {t.nodeid: t for t in baseline.tests}
    after = {t.nodeid: t for t in current.tests}
    for nodeid, test in after.items():
        old = before.get(nodeid)
        if old is None:
            out.new_tests.append(TestChange(nodeid, None, test.outcome, test.reason))
        if test.failing and (old is None or not old.failing):
            out.newly_failing.append(TestChange(nodeid, old.outcome if old else None, test.outcome, test.reason))
        elif old is not None and old.failing and test.outcome in ("passed", "xpass"):
            out.fixed.append(TestChange(nodeid, old.outcome, test.outcome))
    out.removed_tests = [TestChange(n, t.outcome, None) for n, t in before.items() if n not in after]

    old_medians, new_medians = metric_medians(baseline), metric_medians(current)
    for key, now in new_medians.items():
        if key not in old_medians:
            out.new_metrics.append(key)
            continue
        metric, unit = key
        sense = direction(metric, unit)
        relative = _relative(old_medians[key], now)
        out.metrics.append(MetricChange(metric, unit, old_medians[key], now, relative,
                                        _classify(relative, sense, tolerance), sense))
    out.missing_metrics = [key for key in old_medians if key not in new_medians]

    old_gates = {g.name: g for g in baseline.gates}
    for gate in current.gates:
        old = old_gates.get(gate.name)
        if not gate.passed and (old is None or old.passed):
            out.gates_newly_failing.append(gate)
        elif gate.passed and old is not None and not old.passed:
            out.gates_fixed.append(gate)
    return out


def _percent(relative: float) -> str:
    return "new" if math.isinf(relative) else f"{relative * 100:+.1f}%"


def render_comparison(c: Comparison) -> str:
    """The comparison as text for a terminal, worst news first."""
    lines = [f"run {c.current} against baseline {c.baseline} (tolerance ±{c.tolerance * 100:g}%)"]

    def section(title: str, rows: list[str]) -> None:
        if rows:
            lines.append(f"\n{title} ({len(rows)}):")
            lines.extend(f"  {row}" for row in rows)

    section("newly failing tests", [f"{t.nodeid}: {t.before or 'new'} -> {t.after}"
                                    + (f" ({t.reason})" if t.reason else "") for t in c.newly_failing])
    section("newly failing gates", [f"{g.name}: {g.reason or g.metric}" for g in c.gates_newly_failing])
    for status in ("regressed", "improved", "changed"):
        section(f"{status} metrics", [
            f"{m.metric}: {format_value(m.baseline, m.unit)} -> {format_value(m.current, m.unit)} "
            f"({_percent(m.relative)})" for m in c.of(status)])
    section("fixed tests", [f"{t.nodeid}: {t.before} -> {t.after}" for t in c.fixed])
    section("fixed gates", [g.name for g in c.gates_fixed])
    section("new tests", [f"{t.nodeid}: {t.after}" for t in c.new_tests])
    section("removed tests", [f"{t.nodeid} (was {t.before})" for t in c.removed_tests])
    section("metrics only in this run", [f"{m} ({u})" if u else m for m, u in c.new_metrics])
    section("metrics only in the baseline", [f"{m} ({u})" if u else m for m, u in c.missing_metrics])
    unchanged = c.of("unchanged")
    verdict = "WORSE" if c.worse else "no regression"
    lines.append(f"\n{verdict}: {len(c.newly_failing)} newly failing tests, {len(c.gates_newly_failing)} newly "
                 f"failing gates, {len(c.regressed)} regressed, {len(c.improved)} improved, "
                 f"{len(unchanged)} unchanged metrics")
    return "\n".join(lines)
