"""The HTML report: one self-contained file (inline CSS, inline SVG charts,
no script, no external resource), readable offline.

Sections, each with a stable id for tests and links: ``verdict`` (banner),
``gates`` (measured against threshold), ``coverage`` (conformance by
capability), ``charts`` (one SVG per sample metric, ``figure.chart``),
``tests`` (every test with its reason and failure text), ``hardware`` (what the
perf suite measured on) and ``environment``.
Every string from the result is HTML-escaped (and redacted beforehand).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Iterable, Sequence

from octoprobe.report.model import FAIL, PASS, RunResult, TestResult

__all__ = ["render_html", "svg_chart", "nice_ticks"]

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;padding:0 24px 48px;
color:#1d2430;background:#f6f7f9;font-size:14px;line-height:1.4}
pre.fact{margin:0;font:inherit;white-space:pre-wrap}h1{font-size:22px;margin:0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
.verdict{margin:16px 0;padding:16px 20px;border-radius:6px;color:#fff}
.verdict.pass{background:#1f7a3a}.verdict.fail{background:#b3261e}.verdict.none{background:#7a6a1f}
.verdict .sub{opacity:.9;margin-top:4px}
table{border-collapse:collapse;background:#fff;width:100%;margin:4px 0}
th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.o-passed,.g-pass{color:#1f7a3a;font-weight:600}.o-failed,.o-error,.g-fail{color:#b3261e;font-weight:600}
.o-skipped,.o-xfail,.o-xpass{color:#7a6a1f;font-weight:600}
.reason{color:#444;font-size:13px;word-break:break-word}
pre{white-space:pre-wrap;word-break:break-word;background:#f0f1f4;padding:8px;margin:4px 0;font-size:12px;max-height:400px;overflow:auto}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure.chart{margin:0;background:#fff;border:1px solid #d5d9e0;border-radius:4px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}
.empty{color:#666;font-style:italic}
svg text{font-family:inherit;font-size:11px;fill:#333}
"""

_CHART_W, _CHART_H = 520, 260
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56, 12, 12, 40


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}" + (f" {unit}" if unit else "")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def svg_chart(metric: str, unit: str, labels: Sequence[str], values: Sequence[float], *, kind: str | None = None) -> str:
    """An SVG bar chart (or a line chart for many values) of ``values``;
    ``labels`` name each value (shown in tooltips, and under bars when few)."""
    kind = kind or ("bar" if len(values) <= 40 else "line")
    w, h = _CHART_W, _CHART_H
    plot_w, plot_h = w - _PAD_L - _PAD_R, h - _PAD_T - _PAD_B
    low = min(0.0, min(values)) if values else 0.0
    high = max(values) if values else 1.0
    ticks = nice_ticks(low, high)
    y0, y1 = ticks[0], ticks[-1]
    span = (y1 - y0) or 1.0

    def y(v: float) -> float:
        return _PAD_T + plot_h - (v - y0) / span * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" aria-label="{_e(metric)} ({_e(unit)}), {len(values)} samples">'
    ]
    for t in ticks:
        ty = y(t)
        out.append(f'<line x1="{_PAD_L}" y1="{ty:.1f}" x2="{w - _PAD_R}" y2="{ty:.1f}" stroke="#e3e6eb"/>')
        out.append(f'<text x="{_PAD_L - 6}" y="{ty + 4:.1f}" text-anchor="end">{_e(f"{t:g}")}</text>')
    out.append(f'<line x1="{_PAD_L}" y1="{_PAD_T}" x2="{_PAD_L}" y2="{_PAD_T + plot_h}" stroke="#888"/>')
    out.append(
        f'<line x1="{_PAD_L}" y1="{y(max(y0, 0)):.1f}" x2="{w - _PAD_R}" y2="{y(max(y0, 0)):.1f}" stroke="#888"/>'
    )
    n = max(len(values), 1)
    if kind == "bar":
        slot = plot_w / n
        bar = min(max(slot * 0.7, 1.0), 64.0)
        base = y(max(y0, 0))
        for i, (label, v) in enumerate(zip(labels, values)):
            x = _PAD_L + i * slot + (slot - bar) / 2
            top = min(y(v), base)
            height = abs(base - y(v))
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{max(height, 0.5):.1f}" '
                f'fill="#3b6fb6"><title>{_e(label)}: {_e(_num(v, unit))}</title></rect>'
            )
            if n <= 12:
                short = label if len(label) <= 14 else label[:13] + "…"
                out.append(
                    f'<text x="{x + bar / 2:.1f}" y="{_PAD_T + plot_h + 14}" text-anchor="middle">{_e(short)}</text>'
                )
    else:
        step = plot_w / max(n - 1, 1)
        points = " ".join(f"{_PAD_L + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline class="line" fill="none" stroke="#3b6fb6" stroke-width="1.5" points="{points}"/>')
        for i, (label, v) in enumerate(zip(labels, values)):
            out.append(
                f'<circle cx="{_PAD_L + i * step:.1f}" cy="{y(v):.1f}" r="2" fill="#3b6fb6">'
                f"<title>{_e(label)}: {_e(_num(v, unit))}</title></circle>"
            )
    out.append(
        f'<text x="{_PAD_L + plot_w / 2:.1f}" y="{h - 6}" text-anchor="middle">'
        f"{_e(len(values))} sample{'s' if len(values) != 1 else ''}{(' · ' + _e(unit)) if unit else ''}</text>"
    )
    out.append("</svg>")
    return "".join(out)


def _label(nodeid: str, sample: dict[str, Any], index: int) -> str:
    meta = sample.get("metadata") or {}
    if isinstance(meta, dict):
        for key in ("repetition", "rep", "label", "name"):
            if key in meta:
                return f"{key} {meta[key]}"
        parts = [f"{k}={v}" for k, v in meta.items() if k != "test"]
        if parts:
            return ", ".join(parts)
    return f"#{index + 1} {nodeid.rsplit('::', 1)[-1]}"


def _table(table_id: str, head: Iterable[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="empty" id="{table_id}-empty">{_e(empty)}</p>'
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<table id="{table_id}"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _gates(result: RunResult) -> str:
    rows = []
    for g in result.gates:
        cls, word = ("g-pass", "pass") if g.passed else ("g-fail", "FAIL")
        rows.append(
            f'<tr class="gate" data-gate="{_e(g.name)}" data-passed="{str(g.passed).lower()}">'
            f'<td>{_e(g.name)}</td><td class="{cls}">{word}</td>'
            f"<td>{_e(g.statistic)}({_e(g.metric)})</td>"
            f'<td class="num">{_e(_num(g.measured, g.unit))}</td>'
            f'<td class="num">{_e(g.comparison)} {_e(_num(g.threshold, g.unit))}</td>'
            f'<td class="reason">{_e(g.reason)}</td></tr>'
        )
    return _table(
        "gates",
        ("gate", "verdict", "statistic", "measured", "threshold", "reason"),
        rows,
        "No gates were judged in this run.",
    )


def _coverage(result: RunResult) -> str:
    rows = []
    for capability, tests in result.by_capability().items():
        counts = {k: sum(1 for t in tests if t.outcome in ks) for k, ks in (
            ("passed", ("passed", "xpass")), ("failed", ("failed", "error")), ("skipped", ("skipped", "xfail")))}
        state = "failed" if counts["failed"] else ("passed" if counts["passed"] else "skipped")
        notes = "".join(
            f'<li><span class="o-{_e(t.outcome)}">{_e(t.outcome)}</span> {_e(t.capability_id or t.nodeid)}'
            f'{": " + _e(t.reason) if t.reason else ""}</li>'
            for t in tests
            if t.outcome not in ("passed",)
        )
        rows.append(
            f'<tr class="capability" data-capability="{_e(capability)}"><td>{_e(capability)}</td>'
            f'<td class="o-{state}">{state}</td>'
            f'<td class="num">{counts["passed"]}</td><td class="num">{counts["failed"]}</td>'
            f'<td class="num">{counts["skipped"]}</td>'
            f'<td class="reason">{"<ul>" + notes + "</ul>" if notes else ""}</td></tr>'
        )
    return _table(
        "coverage",
        ("capability", "status", "passed", "failed", "skipped", "not passed, with reasons"),
        rows,
        "No tests ran.",
    )


def _charts(result: RunResult) -> str:
    metrics = result.samples_by_metric()
    if not metrics:
        return '<p class="empty" id="charts-empty">No samples were recorded in this run.</p>'
    figures = []
    for metric, entries in metrics.items():
        units = {str(s.get("unit", "")) for _, s in entries}
        unit = units.pop() if len(units) == 1 else "mixed units"
        labels = [_label(nodeid, s, i) for i, (nodeid, s) in enumerate(entries)]
        values = [float(s["value"]) for _, s in entries]
        figures.append(
            f'<figure class="chart" data-metric="{_e(metric)}"><figcaption>{_e(metric)}'
            f'{" (" + _e(unit) + ")" if unit else ""}</figcaption>{svg_chart(metric, unit, labels, values)}</figure>'
        )
    return f'<div class="charts" id="charts">{"".join(figures)}</div>'


def _tests(tests: list[TestResult]) -> str:
    order = {"error": 0, "failed": 1, "xpass": 2, "skipped": 3, "xfail": 4, "passed": 5}
    rows = []
    for t in sorted(tests, key=lambda t: (order.get(t.outcome, 9), t.nodeid)):
        detail = f"<details><summary>failure text</summary><pre>{_e(t.longrepr)}</pre></details>" if t.longrepr else ""
        rows.append(
            f'<tr class="test" data-outcome="{_e(t.outcome)}"><td>{_e(t.nodeid)}</td>'
            f'<td class="o-{_e(t.outcome)}">{_e(t.outcome)}{" (" + _e(t.when) + ")" if t.failing else ""}</td>'
            f'<td class="num">{t.duration:.2f} s</td><td class="reason">{_e(t.reason)}{detail}</td></tr>'
        )
    return _table("tests", ("test", "outcome", "duration", "reason"), rows, "No tests ran.")


def _environment(result: RunResult) -> str:
    rows = [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in result.environment.rows()]
    rows += [
        f"<tr><th>run id</th><td>{_e(result.run_id)}</td></tr>",
        f"<tr><th>started</th><td>{_e(result.started)}</td></tr>",
        f"<tr><th>finished</th><td>{_e(result.finished)}</td></tr>",
    ]
    return f'<table id="environment"><tbody>{"".join(rows)}</tbody></table>'


def _fact(value: Any) -> str:
    """A hardware fact as one line of text: lists one item per line, mappings as key=value."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fact(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return "\n".join(_fact(v) for v in value)
    return str(value)


def _hardware(result: RunResult) -> str:
    nodes = result.environment.hardware
    if not nodes:
        return '<p class="empty" id="hardware">No hardware inventory: the perf suite collects it (with ' \
               '<code>--inventory</code>, of every lab node).</p>'
    keys = list(dict.fromkeys(k for facts in nodes.values() if isinstance(facts, dict) for k in facts))
    rows = []
    for node, facts in nodes.items():
        facts = facts if isinstance(facts, dict) else {"facts": facts}
        cells = "".join(f'<td><pre class="fact">{_e(_fact(facts.get(k, "")))}</pre></td>' for k in keys)
        rows.append(f'<tr class="node"><th>{_e(node)}</th>{cells}</tr>')
    return _table("hardware", ("node", *keys), rows, "")


def render_html(result: RunResult) -> str:
    result = result.redacted()
    c = result.counts()
    verdict = result.verdict
    cls = {PASS: "pass", FAIL: "fail"}.get(verdict, "none")
    why = []
    if result.failing_gates:
        why.append(f"{len(result.failing_gates)} gate(s) failed: " + ", ".join(g.name for g in result.failing_gates))
    if result.failing_tests:
        why.append(f"{len(result.failing_tests)} test(s) failed or errored")
    summary = (
        f"{c['total']} tests: {c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped']} skipped, {c['xfail']} xfailed, {c['xpass']} xpassed · "
        f"{len(result.gates)} gates, {len(result.failing_gates)} failed"
    )
    body = [
        f'<header class="verdict {cls}" id="verdict" data-verdict="{_e(verdict)}">'
        f"<h1>octoprobe run {_e(result.run_id)}: {_e(verdict)}</h1>"
        f'<div class="sub">{_e(summary)}</div>'
        + (f'<div class="sub" id="verdict-why">{_e("; ".join(why))}</div>' if why else "")
        + "</header>",
        '<section id="gates-section"><h2>Gates</h2>' + _gates(result) + "</section>",
        '<section id="coverage-section"><h2>Conformance coverage by capability</h2>' + _coverage(result) + "</section>",
        '<section id="charts-section"><h2>Samples</h2>' + _charts(result) + "</section>",
        '<section id="tests-section"><h2>Tests</h2>' + _tests(result.tests) + "</section>",
        '<section id="hardware-section"><h2>Hardware</h2>' + _hardware(result) + "</section>",
        '<section id="environment-section"><h2>Environment</h2>' + _environment(result) + "</section>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # Nothing may be loaded from anywhere: the report is opened offline.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>octoprobe {_e(result.run_id)}: {_e(verdict)}</title>"
        f"<style>{_CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
