"""The HTML report: one self-contained file (inline CSS, inline SVG charts,
no script, no external resource), readable offline.

Sections, each with a stable id for tests and links: ``verdict`` (banner),
``gates`` (measured against threshold), ``coverage`` (conformance by
capability), ``charts`` (one SVG per sample metric, ``figure.chart``),
``timelines`` (one ``figure.timeline`` per recorded timeline: each series over
time in its own panel, the events such as a fault's ``inject`` and ``heal`` as
vertical ``line.event``), ``tests`` (every test with its reason and failure
text), ``hardware`` (what the perf suite measured on) and ``environment``.
Every string from the result is HTML-escaped (and redacted beforehand).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Iterable, Sequence

from octoprobe.report.model import FAIL, PASS, RunResult, TestResult

__all__ = ["render_html", "svg_chart", "svg_timeline", "nice_ticks"]

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
.timelines{display:flex;flex-direction:column;gap:16px}
figure.timeline{margin:0;background:#fff;border:1px solid #d5d9e0;border-radius:4px;padding:8px;max-width:800px}
ul.legend{list-style:none;margin:0 0 4px;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px}
ul.legend svg{vertical-align:middle;margin-right:4px}
svg.timeline-svg{max-width:100%;height:auto}
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


def _statistics(metrics: dict[str, list[tuple[str, dict[str, Any]]]]) -> str:
    """Per metric: n, median, p95, min, max and the bootstrap 95 % confidence
    interval of the median (the statistics gates judge)."""
    from octoprobe.perf.gates import format_value
    from octoprobe.perf.stats import summarize

    rows = []
    for metric, entries in metrics.items():
        units = {str(s.get("unit", "")) for _, s in entries}
        if len(units) != 1:
            continue
        unit = units.pop()
        st = summarize([float(s["value"]) for _, s in entries])
        cells = "".join(f'<td class="num">{_e(format_value(v, unit))}</td>'
                        for v in (st.median, st.p95, st.min, st.max))
        ci = f"{format_value(st.ci_low, unit)} – {format_value(st.ci_high, unit)}"
        rows.append(f'<tr class="stat" data-metric="{_e(metric)}"><td>{_e(metric)}</td><td class="num">{st.n}</td>'
                    f'{cells}<td class="num">{_e(ci)}</td></tr>')
    return _table("statistics", ("metric", "n", "median", "p95", "min", "max", "95 % CI of the median"), rows,
                  "No samples were recorded in this run.")


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
    return _statistics(metrics) + f'<div class="charts" id="charts">{"".join(figures)}</div>'


_TL_W, _TL_PAD_L, _TL_PAD_R = 760, 64, 20
_TL_TOP, _TL_TITLE, _TL_PLOT, _TL_GAP, _TL_BOTTOM = 34, 18, 72, 12, 40
_SERIES_COLOURS = ("#3b6fb6", "#c0612b", "#7a3bb6", "#2b8c8c", "#8c6d2b", "#b63b7a")
_EVENT_COLOURS = {"inject": "#b3261e", "heal": "#1f7a3a"}


def _event_colour(name: str) -> str:
    return _EVENT_COLOURS.get(name, "#666")


#: how the chaos suite's series are named on the charts (others: their key, "_" as spaces)
_SERIES_NAMES = {"degraded_objects": "degraded objects", "misplaced_objects": "misplaced objects",
                 "inactive_pgs": "inactive PGs", "osds_down": "OSDs down", "client_ops": "client I/O"}


def _series_label(key: str, unit: str) -> str:
    return _SERIES_NAMES.get(key, key.replace("_", " ")) + (f" ({unit})" if unit else "")


def _timeline_span(timeline: dict[str, Any]) -> float:
    ends = [float(timeline.get("duration") or 0.0)]
    ends += [p[0] for points in timeline["series"].values() for p in points[-1:]]
    ends += [e["at"] for e in timeline["events"]]
    return max(ends) if max(ends) > 0 else 1.0


def _timeline_panel(index: int, key: str, unit: str, points: list[list[float]], x: Any) -> str:
    """One series' panel: its title (the y axis label), y ticks, the line."""
    top = _TL_TOP + index * (_TL_TITLE + _TL_PLOT + _TL_GAP)
    plot_top, plot_bottom = top + _TL_TITLE, top + _TL_TITLE + _TL_PLOT
    colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
    values = [v for _, v in points]
    ticks = nice_ticks(min([0.0, *values]), max(values, default=0.0) or 1.0, 3)
    span = (ticks[-1] - ticks[0]) or 1.0

    def y(v: float) -> float:
        return plot_bottom - (v - ticks[0]) / span * _TL_PLOT

    out = [f'<text class="series-title" x="{_TL_PAD_L}" y="{top + 12}" font-weight="600">'
           f"{_e(_series_label(key, unit))}</text>"]
    for t in ticks:
        out.append(f'<line x1="{_TL_PAD_L}" y1="{y(t):.1f}" x2="{_TL_W - _TL_PAD_R}" y2="{y(t):.1f}" '
                   'stroke="#e3e6eb"/>')
        out.append(f'<text x="{_TL_PAD_L - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_e(f"{t:g}")}</text>')
    out.append(f'<line x1="{_TL_PAD_L}" y1="{plot_top}" x2="{_TL_PAD_L}" y2="{plot_bottom}" stroke="#888"/>')
    if not points:
        out.append(f'<text x="{_TL_PAD_L + 8}" y="{plot_bottom - 8}" class="no-data">no data</text>')
        return "".join(out)
    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    peak = max(points, key=lambda p: p[1])
    out.append(
        f'<polyline class="series" data-series="{_e(key)}" fill="none" stroke="{colour}" stroke-width="1.5" '
        f'points="{coords}"><title>{_e(_series_label(key, unit))}: peak {_e(_num(peak[1], unit))} at '
        f"{peak[0]:.1f} s</title></polyline>"
    )
    if len(points) == 1:
        out.append(f'<circle cx="{x(points[0][0]):.1f}" cy="{y(points[0][1]):.1f}" r="2" fill="{colour}"/>')
    return "".join(out)


def svg_timeline(timeline: dict[str, Any]) -> str:
    """An SVG of one timeline (the shape of :class:`TestResult`'s): a panel
    per series, one time axis under them, the fault's window (``inject`` to
    ``heal``) shaded and every event a labelled vertical line across them."""
    series = timeline["series"]
    units = timeline["units"]
    t_ticks = nice_ticks(0.0, _timeline_span(timeline), 6)
    t_max = t_ticks[-1] or 1.0
    plot_w = _TL_W - _TL_PAD_L - _TL_PAD_R

    def x(t: float) -> float:
        return _TL_PAD_L + min(max(t, 0.0), t_max) / t_max * plot_w

    panels = max(len(series), 1)
    bottom = _TL_TOP + panels * (_TL_TITLE + _TL_PLOT + _TL_GAP) - _TL_GAP
    h = bottom + _TL_BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-svg" role="img" width="{_TL_W}" height="{h}" '
        f'viewBox="0 0 {_TL_W} {h}" aria-label="{_e(timeline["name"])}: '
        f'{_e(", ".join(_series_label(k, units.get(k, "")) for k in series))} over time">'
    ]
    events = {e["name"]: e["at"] for e in reversed(timeline["events"])}  # the first of each name
    if "inject" in events:
        start, end = x(events["inject"]), x(events.get("heal", t_max))
        out.append(f'<rect class="fault-window" x="{start:.1f}" y="{_TL_TOP}" width="{max(end - start, 0):.1f}" '
                   f'height="{bottom - _TL_TOP}" fill="#b3261e" fill-opacity="0.06"><title>the fault</title></rect>')
    for index, (key, points) in enumerate(series.items()):
        out.append(_timeline_panel(index, key, units.get(key, ""), points, x))
    for t in t_ticks:
        out.append(f'<line x1="{x(t):.1f}" y1="{bottom}" x2="{x(t):.1f}" y2="{bottom + 4}" stroke="#888"/>')
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 16}" text-anchor="middle">{_e(f"{t:g}")}</text>')
    out.append(f'<line x1="{_TL_PAD_L}" y1="{bottom}" x2="{_TL_W - _TL_PAD_R}" y2="{bottom}" stroke="#888"/>')
    out.append(f'<text x="{_TL_PAD_L + plot_w / 2:.1f}" y="{h - 6}" text-anchor="middle">'
               "time since the scenario started (s)</text>")
    last_x = -1e9
    row = 0
    for event in timeline["events"]:
        ex, colour = x(event["at"]), _event_colour(event["name"])
        row = (row + 1) % 2 if ex - last_x < 90 else 0  # two rows of labels when they crowd
        last_x = ex
        detail = f": {event['detail']}" if event["detail"] else ""
        out.append(
            f'<line class="event" data-event="{_e(event["name"])}" x1="{ex:.1f}" y1="{_TL_TOP - 14 + row * 12}" '
            f'x2="{ex:.1f}" y2="{bottom}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="5 3">'
            f'<title>{_e(event["name"])} at {event["at"]:.1f} s{_e(detail)}</title></line>'
        )
        out.append(f'<text class="event-label" x="{ex + 3:.1f}" y="{_TL_TOP - 16 + row * 12}" fill="{colour}">'
                   f'{_e(event["name"])} {event["at"]:.0f} s</text>')
    out.append("</svg>")
    return "".join(out)


def _legend(timeline: dict[str, Any]) -> str:
    items = []
    for index, key in enumerate(timeline["series"]):
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        items.append(f'<li><svg width="18" height="8" aria-hidden="true"><line x1="0" y1="4" x2="18" y2="4" '
                     f'stroke="{colour}" stroke-width="2"/></svg>'
                     f'{_e(_series_label(key, timeline["units"].get(key, "")))}</li>')
    for name in dict.fromkeys(e["name"] for e in timeline["events"]):
        items.append(f'<li><svg width="18" height="8" aria-hidden="true"><line x1="0" y1="4" x2="18" y2="4" '
                     f'stroke="{_event_colour(name)}" stroke-width="2" stroke-dasharray="5 3"/></svg>'
                     f"{_e(name)}</li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


def _timelines(result: RunResult) -> str:
    figures = [
        f'<figure class="timeline" data-test="{_e(test.nodeid)}" data-timeline="{_e(timeline["name"])}">'
        f'<figcaption>{_e(timeline["name"])} <span class="reason">{_e(test.nodeid)}</span></figcaption>'
        f"{_legend(timeline)}{svg_timeline(timeline)}</figure>"
        for test in result.tests
        for timeline in test.timelines
    ]
    if not figures:
        return '<p class="empty" id="timelines-empty">No timelines were recorded in this run (the chaos suite ' \
               "records one per scenario).</p>"
    return f'<div class="timelines" id="timelines">{"".join(figures)}</div>'


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
        '<section id="timelines-section"><h2>Chaos timelines</h2>' + _timelines(result) + "</section>",
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
