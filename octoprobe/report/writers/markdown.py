"""A short Markdown summary for a CI comment: verdict, counts, the failing
gates and tests with their reasons."""

from __future__ import annotations

import re

from octoprobe.report.model import RunResult

__all__ = ["render_markdown"]

_MAX_LISTED = 20
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def _md(text: object, limit: int = 300) -> str:
    """Inline-safe Markdown: one line, special characters escaped."""
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return _SPECIAL.sub(r"\\\1", line)


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:g}{(' ' + unit) if unit else ''}"


def render_markdown(result: RunResult) -> str:
    result = result.redacted()
    c = result.counts()
    icon = {"PASS": "✅", "FAIL": "❌"}.get(result.verdict, "⚠️")
    lines = [
        f"## octoprobe run {_md(result.run_id)}: {icon} **{result.verdict}**",
        "",
        f"{c['total']} tests: {c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped']} skipped, {c['xfail']} xfailed, {c['xpass']} xpassed; "
        f"{len(result.gates)} gates, {len(result.failing_gates)} failed.",
    ]
    if result.environment.cloud:
        lines.append(f"Cloud: {_md(result.environment.cloud)}; octoprobe {_md(result.environment.octoprobe)}.")
    if result.failing_gates:
        lines += ["", "### Failing gates", "", "| gate | metric | measured | threshold | reason |", "|---|---|---|---|---|"]
        for g in result.failing_gates:
            lines.append(
                f"| {_md(g.name)} | {_md(g.statistic)}({_md(g.metric)}) | {_md(_num(g.measured, g.unit))} "
                f"| {_md(g.comparison)} {_md(_num(g.threshold, g.unit))} | {_md(g.reason)} |"
            )
    failing = result.failing_tests
    if failing:
        lines += ["", "### Failing tests", ""]
        for t in failing[:_MAX_LISTED]:
            nodeid = t.nodeid.replace("`", "'")
            lines.append(f"- `{nodeid}` ({t.outcome} in {t.when}): {_md(t.reason)}")
        if len(failing) > _MAX_LISTED:
            lines.append(f"- … and {len(failing) - _MAX_LISTED} more (see the HTML report)")
    return "\n".join(lines) + "\n"
