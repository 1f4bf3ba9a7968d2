"""How metrics moved across runs: a terminal table and a self-contained HTML page. Pure.

Both take :class:`~octoprobe.history.store.SeriesPoint` lists (oldest run
first), one point per run with all of that run's samples of the metric; a
run is summarised by the median of its samples. The HTML page reuses the
report's inline SVG chart (:func:`octoprobe.report.writers.html.svg_chart`):
no script, nothing loaded from anywhere.
"""

from __future__ import annotations

import statistics
from html import escape
from typing import Mapping, NamedTuple, Sequence

from octoprobe.history.store import SeriesPoint
from octoprobe.perf.gates import format_value
from octoprobe.report.writers.html import svg_chart

__all__ = ["TrendRow", "trend_rows", "trend_table", "trend_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;padding:0 24px 48px;
color:#1d2430;background:#f6f7f9;font-size:14px}h1{font-size:22px}h2{font-size:17px;margin:28px 0 8px}
figure.trend{margin:0 0 16px;background:#fff;border:1px solid #d5d9e0;border-radius:4px;padding:8px;
display:inline-block}figcaption{font-weight:600;margin-bottom:4px}
table{border-collapse:collapse;background:#fff;margin:4px 0}
th,td{border:1px solid #d5d9e0;padding:3px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
svg text{font-family:inherit;font-size:11px;fill:#333}.empty{color:#666;font-style:italic}
"""


class TrendRow(NamedTuple):
    """One run of a trend; ``change`` is relative to the previous run's median (None for the first)."""

    run_id: str
    date: str
    median: float
    low: float
    high: float
    n: int
    change: float | None


def trend_rows(series: Sequence[SeriesPoint]) -> list[TrendRow]:
    """One row per run that has samples, oldest first."""
    rows: list[TrendRow] = []
    previous: float | None = None
    for point in series:
        if not point.values:
            continue
        median = statistics.median(point.values)
        change = None if not previous else (median - previous) / abs(previous)
        rows.append(TrendRow(point.run_id, point.started[:16].replace("T", " "), median,
                             min(point.values), max(point.values), len(point.values), change))
        previous = median
    return rows


def _change(change: float | None) -> str:
    return "" if change is None else f"{change * 100:+.1f}%"


def _unit(series: Sequence[SeriesPoint]) -> str:
    units = [p.unit for p in series]
    return max(set(units), key=units.count) if units else ""


def trend_table(series: Sequence[SeriesPoint], metric: str | None = None) -> str:
    """A fixed-width table: run, date, median, min, max, n, change vs the previous run."""
    unit = _unit(series)
    title = f"{metric} ({unit})" if metric and unit else (metric or "")
    rows = trend_rows(series)
    if not rows:
        return (title + ": " if title else "") + "no samples"
    head = ("run", "date", "median", "min", "max", "n", "change")
    body = [(r.run_id, r.date, format_value(r.median, unit), format_value(r.low, unit), format_value(r.high, unit),
             str(r.n), _change(r.change)) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    right = (False, False, True, True, True, True, True)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    out = [title] if title else []
    out += [line(head), line(["-" * w for w in widths]), *(line(b) for b in body)]
    return "\n".join(out)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _figure(metric: str, series: Sequence[SeriesPoint]) -> str:
    rows = trend_rows(series)
    unit = _unit(series)
    if not rows:
        return f'<p class="empty" data-metric="{_e(metric)}">{_e(metric)}: no samples</p>'
    labels = [f"{r.run_id} ({r.date})" for r in rows]
    chart = svg_chart(metric, unit, labels, [r.median for r in rows], kind="line" if len(rows) > 1 else "bar")
    cells = "".join(
        f"<tr><td>{_e(r.run_id)}</td><td>{_e(r.date)}</td><td class=\"num\">{_e(format_value(r.median, unit))}</td>"
        f"<td class=\"num\">{_e(format_value(r.low, unit))}</td><td class=\"num\">{_e(format_value(r.high, unit))}</td>"
        f"<td class=\"num\">{r.n}</td>"
        f"<td class=\"num\">{_change(r.change)}</td></tr>"
        for r in rows)
    table = ("<table><thead><tr><th>run</th><th>date</th><th>median</th><th>min</th><th>max</th><th>n</th>"
             f"<th>change</th></tr></thead><tbody>{cells}</tbody></table>")
    caption = f"{_e(metric)}{' (' + _e(unit) + ')' if unit else ''}: median per run"
    return (f'<figure class="trend" data-metric="{_e(metric)}"><figcaption>{caption}</figcaption>'
            f"{chart}{table}</figure>")


def trend_html(series_by_metric: Mapping[str, Sequence[SeriesPoint]], title: str = "octoprobe trend") -> str:
    """A self-contained HTML page with one chart (and its table) per metric."""
    body = "".join(f"<section><h2>{_e(m)}</h2>{_figure(m, s)}</section>" for m, s in series_by_metric.items())
    if not body:
        body = '<p class="empty">No metrics.</p>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{_e(title)}</h1>{body}</body></html>\n"
    )
