"""Measurements: a timeline from polling ``ceph status``, and the numbers a
scenario reports from it, as samples.

:class:`ClusterMonitor` polls in a background thread from before the fault
until the cluster is clean again; the scenario waits on it (one poller, not
one per question) and marks events on it (``inject``, ``heal`` …). The
result is a :class:`Timeline`: the points (:class:`~octoprobe.ceph.wait.
TimelinePoint`, seconds since the monitor started) and the events.

:func:`measure` is pure: timeline + write history in, :class:`Measurements`
out —

* time to detect: fault injected → an OSD fewer up in the map;
* time to out: injected → an OSD fewer in;
* time to active+clean while the fault lasts (when it heals to full), and
  after the heal (every OSD up and in, every PG active+clean, no degraded,
  misplaced or unfound object), and the total from the injection;
* peak degraded and misplaced objects;
* time with inactive PGs (any PG not active), and with blocked PGs (below
  min_size, down, incomplete, stale: client I/O to them waits);
* client I/O stall: the longest time during the fault in which no write was
  acknowledged; the slowest acknowledged write; writes that failed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from octoprobe.ceph import CephClient, ClusterStatus, TimelinePoint
from octoprobe.samples import Sample
from octoprobe.shell import CommandError

from .oracle import blocked_pgs
from .workload import WriteRecord

__all__ = ["Event", "Timeline", "ClusterMonitor", "MonitorTimeout", "Measurements", "measure", "point_clean"]


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the timeline began
    name: str
    detail: str = ""


@dataclass
class Timeline:
    t0: float  # time.monotonic() when the timeline began
    points: list[TimelinePoint] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def event(self, name: str) -> Event | None:
        for e in self.events:
            if e.name == name:
                return e
        return None

    def at(self, monotonic: float) -> float:
        return monotonic - self.t0

    def to_dict(self) -> dict[str, Any]:
        return {"points": [p.as_dict() for p in self.points],
                "events": [{"at": round(e.at, 3), "name": e.name, "detail": e.detail} for e in self.events]}


def point_clean(p: TimelinePoint) -> bool:
    """Every PG active+clean, nothing degraded, misplaced or unfound."""
    return (p.error is None and p.pgs_total > 0 and p.active_clean == p.pgs_total and p.degraded == 0
            and p.misplaced == 0 and p.unfound == 0)


def point_whole(p: TimelinePoint) -> bool:
    """Clean, and every OSD up and in."""
    return point_clean(p) and p.osds_up == p.num_osds == p.osds_in


class MonitorTimeout(TimeoutError):
    def __init__(self, message: str, last: ClusterStatus | None):
        super().__init__(message)
        self.last = last


class ClusterMonitor:
    """Polls ``ceph status`` every ``interval`` seconds in a thread."""

    def __init__(self, client: CephClient, *, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.interval = interval
        self.clock = clock
        self.timeline = Timeline(clock())
        self.last_status: ClusterStatus | None = None
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polls = 0

    def start(self) -> "ClusterMonitor":
        self.timeline = Timeline(self.clock())
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="chaos-monitor", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = self.clock()
            try:
                status: ClusterStatus | None = self.client.status()
                error = None
            except CommandError as exc:
                status, error = None, str(exc)[-300:]
            except Exception as exc:  # a parse error must not kill the timeline
                status, error = None, f"{type(exc).__name__}: {exc}"[-300:]
            elapsed = self.clock() - self.timeline.t0
            with self._cond:
                if status is not None:
                    self.last_status = status
                    point = TimelinePoint.from_status(elapsed, status)
                elif self.last_status is not None:
                    point = replace(TimelinePoint.from_status(elapsed, self.last_status), error=error)
                else:
                    point = None
                self.last_error = error
                if point is not None:
                    self.timeline.points.append(point)
                self._polls += 1
                self._cond.notify_all()
            self._stop.wait(max(0.0, self.interval - (self.clock() - began)))

    def mark(self, name: str, detail: str = "", at: float | None = None) -> float:
        """Record an event (now, or at ``at`` = time.monotonic()); returns its timeline time."""
        t = (at if at is not None else self.clock()) - self.timeline.t0
        with self._cond:
            self.timeline.events.append(Event(t, name, detail))
        return t

    def stop(self) -> Timeline:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.client.timeout + 10)
        return self.timeline

    def wait_until(self, predicate: Callable[[ClusterStatus], bool], *, timeout: float, what: str) -> ClusterStatus:
        """Wait for a poll whose status satisfies ``predicate``; MonitorTimeout after ``timeout`` s."""
        deadline = self.clock() + timeout
        with self._cond:
            seen = -1
            while True:
                if self._polls != seen:
                    seen = self._polls
                    if self.last_status is not None and predicate(self.last_status):
                        return self.last_status
                remaining = deadline - self.clock()
                if remaining <= 0:
                    last = self.last_status.describe() if self.last_status else "no status"
                    raise MonitorTimeout(f"{what}: not seen within {timeout:g}s; last: {last}"
                                         + (f"; last error: {self.last_error}" if self.last_error else ""),
                                         self.last_status)
                self._cond.wait(min(remaining, self.interval * 2))

    def wait_settled(self, *, quiet: float, timeout: float) -> ClusterStatus:
        """Wait until nothing changed for ``quiet`` s (PG states, unfound
        objects, OSDs up/in) and nothing recovers; returns the last status.
        Degraded and misplaced counts may still grow: new writes to degraded
        PGs add to them. MonitorTimeout if that does not happen within
        ``timeout`` s."""
        deadline = self.clock() + timeout

        def key(p: TimelinePoint) -> tuple:
            return (tuple(sorted(p.pg_states.items())), p.unfound, p.osds_up, p.osds_in, p.num_osds)

        with self._cond:
            while True:
                pts = [p for p in self.timeline.points if p.error is None]
                if pts:
                    last = pts[-1]
                    still = [p for p in pts if p.elapsed >= last.elapsed - quiet]
                    spans = last.elapsed - still[0].elapsed >= quiet * 0.9
                    if spans and all(key(p) == key(last) and p.recovering_objects_per_sec == 0
                                     and p.recovering_bytes_per_sec == 0 for p in still):
                        assert self.last_status is not None
                        return self.last_status
                remaining = deadline - self.clock()
                if remaining <= 0:
                    last_s = self.last_status.describe() if self.last_status else "no status"
                    raise MonitorTimeout(f"the cluster did not settle (no change for {quiet:g}s) within "
                                         f"{timeout:g}s; last: {last_s}", self.last_status)
                self._cond.wait(min(remaining, self.interval * 2))

    def wait_progressing(self, done: Callable[[ClusterStatus], bool], *, no_progress: float,
                         max_duration: float, what: str, stable: float = 0.0) -> ClusterStatus:
        """Wait until ``done(status)`` has held for ``stable`` seconds, for as
        long as the cluster makes progress: MonitorTimeout after
        ``no_progress`` s without a new best value of any of degraded,
        misplaced, unfound objects, inactive or not-clean PGs, down or out
        OSDs — or after ``max_duration`` s.

        ``stable`` guards against the PG map in ``ceph status`` lagging the
        OSD map (the manager reports PG states every few seconds): right
        after an OSD is marked in or out, the old "all clean" is still shown."""
        start = self.clock()
        last_progress = start
        best: tuple[int, ...] | None = None
        since: float | None = None
        with self._cond:
            seen = -1
            while True:
                if self._polls != seen:
                    seen = self._polls
                    s = self.last_status
                    if s is not None and self.last_error is None:
                        if done(s):
                            now = self.clock()
                            since = now if since is None else since
                            if now - since >= stable:
                                return s
                        else:
                            since = None
                        values = (s.objects.degraded, s.objects.misplaced, s.objects.unfound, s.pgs.inactive,
                                  s.pgs.total - s.pgs.active_clean, s.osds.num_osds - s.osds.up,
                                  s.osds.num_osds - s.osds.in_)
                        if best is None:
                            best, last_progress = values, self.clock()
                        else:
                            improved = tuple(min(a, b) for a, b in zip(best, values))
                            if improved != best or s.io.recovering:
                                best, last_progress = improved, self.clock()
                now = self.clock()
                reason = None
                if now - last_progress >= no_progress:
                    reason = f"no progress for {now - last_progress:.0f}s"
                elif now - start >= max_duration:
                    reason = f"not done after {max_duration:g}s"
                if reason:
                    last = self.last_status.describe() if self.last_status else "no status"
                    raise MonitorTimeout(f"{what}: {reason}; last: {last}", self.last_status)
                self._cond.wait(self.interval * 2)


@dataclass(frozen=True)
class Measurements:
    detect_s: float | None = None
    out_s: float | None = None
    clean_during_fault_s: float | None = None
    clean_after_heal_s: float | None = None
    clean_total_s: float | None = None
    fault_duration_s: float | None = None
    degraded_peak: int = 0
    degraded_peak_ratio: float = 0.0
    misplaced_peak: int = 0
    misplaced_peak_ratio: float = 0.0
    inactive_s: float = 0.0
    blocked_s: float = 0.0
    io_stall_s: float | None = None
    write_latency_max_s: float | None = None
    writes_during: int = 0
    writes_acked_during: int = 0
    writes_failed_during: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}

    #: metric name, attribute, unit
    METRICS = (
        ("chaos.time_to_detect", "detect_s", "s"),
        ("chaos.time_to_out", "out_s", "s"),
        ("chaos.time_to_clean_during_fault", "clean_during_fault_s", "s"),
        ("chaos.time_to_clean_after_heal", "clean_after_heal_s", "s"),
        ("chaos.time_to_clean", "clean_total_s", "s"),
        ("chaos.fault_duration", "fault_duration_s", "s"),
        ("chaos.degraded_objects_peak", "degraded_peak", "objects"),
        ("chaos.degraded_ratio_peak", "degraded_peak_ratio", "ratio"),
        ("chaos.misplaced_objects_peak", "misplaced_peak", "objects"),
        ("chaos.misplaced_ratio_peak", "misplaced_peak_ratio", "ratio"),
        ("chaos.inactive_pg_time", "inactive_s", "s"),
        ("chaos.blocked_pg_time", "blocked_s", "s"),
        ("chaos.client_io_stall", "io_stall_s", "s"),
        ("chaos.write_latency_max", "write_latency_max_s", "s"),
        ("chaos.writes_during_fault", "writes_during", "writes"),
        ("chaos.writes_acknowledged_during_fault", "writes_acked_during", "writes"),
        ("chaos.writes_failed_during_fault", "writes_failed_during", "writes"),
    )

    def samples(self, **metadata: Any) -> list[Sample]:
        out = []
        for metric, attr, unit in self.METRICS:
            value = getattr(self, attr)
            if value is not None:
                out.append(Sample(metric, float(value), unit, metadata))
        return out


def _first(points: Sequence[TimelinePoint], after: float, cond: Callable[[TimelinePoint], bool],
           before: float | None = None) -> TimelinePoint | None:
    for p in points:
        if p.elapsed < after or p.error is not None:
            continue
        if before is not None and p.elapsed >= before:
            return None
        if cond(p):
            return p
    return None


def _last_stretch(points: Sequence[TimelinePoint], after: float, cond: Callable[[TimelinePoint], bool],
                  until: float | None = None) -> TimelinePoint | None:
    """The first point of the run of points satisfying ``cond`` that lasts to
    the end (to ``until``): when the cluster became clean for good, not a
    stale report of the old state that the next poll contradicts."""
    pts = [p for p in points if p.elapsed >= after and p.error is None
           and (until is None or p.elapsed < until)]
    start = None
    for p in pts:
        if cond(p):
            start = p if start is None else start
        else:
            start = None
    return start


def _time_where(points: Sequence[TimelinePoint], start: float, cond: Callable[[TimelinePoint], bool]) -> float:
    total = 0.0
    pts = [p for p in points if p.elapsed >= start]
    for a, b in zip(pts, pts[1:]):
        if a.error is None and cond(a):
            total += b.elapsed - a.elapsed
    return total


def measure(timeline: Timeline, writes: Sequence[WriteRecord], *, baseline_up: int, baseline_in: int) -> Measurements:
    """The numbers of one scenario; see the module docstring. Needs the
    events ``inject`` and (if healed) ``heal``."""
    inject = timeline.event("inject")
    if inject is None:
        return Measurements()
    heal = timeline.event("heal")
    pts = timeline.points
    t_inj = inject.at
    t_heal = heal.at if heal else None
    detect = _first(pts, t_inj, lambda p: p.osds_up < baseline_up)
    out = _first(pts, t_inj, lambda p: p.osds_in < baseline_in)
    during = None
    if t_heal is not None:
        during = _last_stretch(pts, t_inj, point_clean, until=t_heal)
    after = None
    if t_heal is not None:
        # whole for good as of the "clean" mark (the runner saw it stay whole): a PG the balancer
        # moves later, while the writes are read back, is not the fault's
        clean = timeline.event("clean")
        until = clean.at + 1e-6 if clean is not None and clean.at >= t_heal else None
        after = _last_stretch(pts, t_heal, point_whole, until=until)
    after_pts = [p for p in pts if p.elapsed >= t_inj and p.error is None]
    degraded_peak = max(after_pts, key=lambda p: p.degraded, default=None)
    misplaced_peak = max(after_pts, key=lambda p: p.misplaced, default=None)

    fault_writes = [w for w in writes if w.started >= timeline.t0 + t_inj]
    acked = sorted(w.ended for w in fault_writes if w.ok)
    stall = latency = None
    if fault_writes:
        window_end = max(w.ended for w in fault_writes)
        marks = [timeline.t0 + t_inj, *acked, window_end]
        stall = max(b - a for a, b in zip(marks, marks[1:]))
        latency = max((w.latency for w in fault_writes if w.ok), default=None)

    return Measurements(
        detect_s=detect.elapsed - t_inj if detect else None,
        out_s=out.elapsed - t_inj if out else None,
        clean_during_fault_s=during.elapsed - t_inj if during else None,
        clean_after_heal_s=after.elapsed - t_heal if after and t_heal is not None else None,
        clean_total_s=after.elapsed - t_inj if after else None,
        fault_duration_s=(t_heal - t_inj) if t_heal is not None else None,
        degraded_peak=degraded_peak.degraded if degraded_peak else 0,
        degraded_peak_ratio=max((p.degraded / p.degraded_total for p in after_pts if p.degraded_total), default=0.0),
        misplaced_peak=misplaced_peak.misplaced if misplaced_peak else 0,
        misplaced_peak_ratio=max((p.misplaced / p.misplaced_total for p in after_pts if p.misplaced_total),
                                 default=0.0),
        inactive_s=_time_where(pts, t_inj, lambda p: p.inactive > 0),
        blocked_s=_time_where(pts, t_inj, lambda p: blocked_pgs(p.pg_states) > 0),
        io_stall_s=stall,
        write_latency_max_s=latency,
        writes_during=len(fault_writes),
        writes_acked_during=len(acked),
        writes_failed_during=sum(1 for w in fault_writes if not w.ok),
    )
