"""A scenario's timeline as the report's plain data (see
:class:`octoprobe.report.model.TestResult` for the shape).

:func:`timeline_report` is pure: a :class:`~octoprobe.chaos.measure.Timeline`
(and, when known, the workload's writes) in, a small JSON-ready dict out —
Ceph's counters per poll, acknowledged client writes per second, and the
scenario's events (``inject``, ``heal``, ``clean`` …), every series cut down
to at most ``max_points`` points with its peaks kept.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from octoprobe.ceph import TimelinePoint

from .measure import Timeline
from .workload import WriteRecord

__all__ = ["SERIES", "timeline_report", "downsample", "write_rate"]

MAX_POINTS = 300

#: series name, unit, the value of one poll
SERIES: tuple[tuple[str, str, Callable[[TimelinePoint], float]], ...] = (
    ("degraded_objects", "objects", lambda p: p.degraded),
    ("misplaced_objects", "objects", lambda p: p.misplaced),
    ("inactive_pgs", "PGs", lambda p: p.inactive),
    ("osds_down", "OSDs", lambda p: p.num_osds - p.osds_up),
)
CLIENT_OPS = ("client_ops", "writes/s")
#: the moments ``inject`` and ``heal`` returned: next to the events themselves, only clutter
_SKIPPED_EVENTS = frozenset({"injected", "healed"})


def downsample(points: Sequence[Sequence[float]], max_points: int = MAX_POINTS) -> list[list[float]]:
    """At most ``max_points`` of ``points`` (``[t, v]``, in time order): per
    bucket of consecutive points its lowest and highest, so peaks survive."""
    if len(points) <= max_points:
        return [list(p) for p in points]
    buckets = max(1, max_points // 2)
    size = len(points) / buckets
    out: list[list[float]] = []
    for b in range(buckets):
        chunk = points[int(b * size): int((b + 1) * size)]
        if not chunk:
            continue
        low = min(range(len(chunk)), key=lambda i: chunk[i][1])
        high = max(range(len(chunk)), key=lambda i: chunk[i][1])
        out.extend(list(chunk[i]) for i in sorted({low, high}))
    return out


def write_rate(writes: Sequence[WriteRecord], t0: float, end: float, bin_s: float) -> list[list[float]]:
    """Acknowledged writes per second, in bins of ``bin_s`` seconds from the
    timeline's start (``t0``, time.monotonic()) to ``end`` (timeline seconds)."""
    bins = max(1, math.ceil(end / bin_s)) if end > 0 else 0
    counts = [0] * bins
    for w in writes:
        at = w.ended - t0
        if w.ok and 0 <= at < bins * bin_s:
            counts[int(at // bin_s)] += 1
    return [[round(i * bin_s, 3), round(n / bin_s, 3)] for i, n in enumerate(counts)]


def _duration(timeline: Timeline, writes: Sequence[WriteRecord]) -> float:
    ends = [p.elapsed for p in timeline.points] + [e.at for e in timeline.events]
    ends += [w.ended - timeline.t0 for w in writes if w.ended >= timeline.t0]
    return max(ends, default=0.0)


def timeline_report(name: str, timeline: Timeline, *, writes: Sequence[WriteRecord] | None = None,
                    max_points: int = MAX_POINTS) -> dict[str, Any]:
    """The report's timeline of scenario ``name``; ``client_ops`` only when
    ``writes`` (the workload's history) is given. Polls where ``ceph status``
    failed are left out (their numbers are the previous poll's)."""
    good = [p for p in timeline.points if p.error is None]
    duration = _duration(timeline, writes or ())
    series: dict[str, list[list[float]]] = {}
    units: dict[str, str] = {}
    for key, unit, value in SERIES:
        series[key] = downsample([[round(p.elapsed, 3), float(value(p))] for p in good], max_points)
        units[key] = unit
    if writes is not None:
        bin_s = max(1.0, duration / max_points)
        series[CLIENT_OPS[0]] = downsample(write_rate(writes, timeline.t0, duration, bin_s), max_points)
        units[CLIENT_OPS[0]] = CLIENT_OPS[1]
    events = [{"name": e.name, "at": round(e.at, 3), "detail": e.detail}
              for e in timeline.events if e.name not in _SKIPPED_EVENTS]
    return {"name": name, "duration": round(duration, 3), "series": series, "units": units, "events": events}
