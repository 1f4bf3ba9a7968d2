"""Wait for a cluster to heal, for as long as it keeps healing.

:func:`wait_for_clean` polls ``ceph status`` until every PG is active+clean and
no object is degraded, misplaced or unfound. Its deadline is *no progress for
N seconds*, not a fixed time: recovery of a large cluster may take hours and
that is fine while it moves, but a cluster that has stopped moving (a rack
that cannot be restored, a full OSD, a stuck PG) fails after N seconds.

Progress is a new best value of any counter since the wait began — fewer
degraded, misplaced or unfound objects, fewer inactive PGs, more active+clean
PGs — or a non-zero recovery rate reported by the cluster. Comparing with the
best seen rather than with the previous poll keeps a flapping cluster, whose
counters go up and down, from looking busy forever.

Choose N above the quiet spells of a healthy recovery: an OSD that restarts
shows no progress until it has booted and peered (about 8 s for a 3 GiB
BlueStore OSD on the build machines), and the manager's rates lag a few
seconds behind.

Every poll is kept in a timeline of plain numbers that reports can chart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from ..shell import CommandError
from .model import ClusterStatus
from .parse import CephError

StatusSource = Callable[[], ClusterStatus]


@dataclass(frozen=True)
class TimelinePoint:
    """One poll: seconds since the wait began and the numbers that matter.

    ``error`` is set (and the numbers are those of the last good poll, or zero)
    when ``ceph status`` itself failed at this poll.
    """

    elapsed: float
    health: str
    pgs_total: int
    active_clean: int
    inactive: int
    degraded: int
    degraded_total: int
    misplaced: int
    misplaced_total: int
    unfound: int
    recovering_bytes_per_sec: int
    recovering_objects_per_sec: int
    osds_up: int
    osds_in: int
    num_osds: int
    pg_states: Mapping[str, int] = field(default_factory=dict)
    progress: bool = False
    error: str | None = None

    @classmethod
    def from_status(
        cls, elapsed: float, s: ClusterStatus, *, progress: bool = False
    ) -> "TimelinePoint":
        return cls(
            elapsed=elapsed,
            health=s.health.status,
            pgs_total=s.pgs.total,
            active_clean=s.pgs.active_clean,
            inactive=s.pgs.inactive,
            degraded=s.objects.degraded,
            degraded_total=s.objects.degraded_total,
            misplaced=s.objects.misplaced,
            misplaced_total=s.objects.misplaced_total,
            unfound=s.objects.unfound,
            recovering_bytes_per_sec=s.io.recovering_bytes_per_sec,
            recovering_objects_per_sec=s.io.recovering_objects_per_sec,
            osds_up=s.osds.up,
            osds_in=s.osds.in_,
            num_osds=s.osds.num_osds,
            pg_states=dict(s.pgs.by_state),
            progress=progress,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for reports."""
        return {
            "elapsed": round(self.elapsed, 3),
            "health": self.health,
            "pgs_total": self.pgs_total,
            "active_clean": self.active_clean,
            "inactive": self.inactive,
            "degraded": self.degraded,
            "degraded_total": self.degraded_total,
            "misplaced": self.misplaced,
            "misplaced_total": self.misplaced_total,
            "unfound": self.unfound,
            "recovering_bytes_per_sec": self.recovering_bytes_per_sec,
            "recovering_objects_per_sec": self.recovering_objects_per_sec,
            "osds_up": self.osds_up,
            "osds_in": self.osds_in,
            "num_osds": self.num_osds,
            "pg_states": dict(self.pg_states),
            "progress": self.progress,
            "error": self.error,
        }


@dataclass(frozen=True)
class WaitResult:
    """The cluster became clean. ``elapsed`` is seconds from the start of the
    wait to the poll that saw it clean."""

    status: ClusterStatus
    elapsed: float
    polls: int
    timeline: tuple[TimelinePoint, ...]

    def timeline_dicts(self) -> list[dict[str, Any]]:
        return [p.as_dict() for p in self.timeline]


class CephWaitTimeout(CephError, TimeoutError):
    """The cluster did not become clean: no progress for too long, or past
    ``max_duration``. Carries the last status seen and the whole timeline."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        last_status: ClusterStatus | None,
        elapsed: float,
        since_progress: float,
        timeline: tuple[TimelinePoint, ...],
        last_error: str | None = None,
    ):
        super().__init__(message)
        self.reason = reason
        self.last_status = last_status
        self.elapsed = elapsed
        self.since_progress = since_progress
        self.timeline = timeline
        self.last_error = last_error

    def timeline_dicts(self) -> list[dict[str, Any]]:
        return [p.as_dict() for p in self.timeline]


class _Best:
    """Best values seen so far; ``update`` says whether any improved."""

    def __init__(self) -> None:
        self.values: dict[str, int] | None = None

    def update(self, s: ClusterStatus) -> bool:
        lower_is_better = {
            "degraded": s.objects.degraded,
            "misplaced": s.objects.misplaced,
            "unfound": s.objects.unfound,
            "inactive": s.pgs.inactive,
            "not_active_clean": s.pgs.total - s.pgs.active_clean,
        }
        if self.values is None:
            self.values = lower_is_better
            return True
        improved = False
        for key, value in lower_is_better.items():
            if value < self.values[key]:
                self.values[key] = value
                improved = True
        return improved


def _source(client_or_callable: Any) -> StatusSource:
    status = getattr(client_or_callable, "status", None)
    if callable(status):
        return status
    if callable(client_or_callable):
        return client_or_callable
    raise TypeError(
        "wait_for_clean needs a CephClient (anything with .status()) or a "
        f"callable returning ClusterStatus, not {type(client_or_callable).__name__}"
    )


def _describe_failure(
    reason: str,
    last: ClusterStatus | None,
    elapsed: float,
    since_progress: float,
    no_progress_timeout: float,
    max_duration: float | None,
    last_error: str | None,
) -> str:
    if reason == "no_progress":
        head = (
            f"Ceph made no recovery progress for {since_progress:.0f} s "
            f"(limit {no_progress_timeout:g} s) and is not clean after {elapsed:.0f} s"
        )
    else:
        head = (
            f"Ceph is not clean after {elapsed:.0f} s (max_duration {max_duration:g} s); "
            f"last progress {since_progress:.0f} s ago"
        )
    lines = [head]
    if last is None:
        lines.append("no successful `ceph status` during the wait")
    else:
        o = last.objects
        lines.append(f"last state: {last.describe()}")
        lines.append(
            f"pgs: {last.pgs.active_clean}/{last.pgs.total} active+clean, "
            f"{last.pgs.inactive} inactive; objects degraded {o.degraded}/{o.degraded_total}, "
            f"misplaced {o.misplaced}/{o.misplaced_total}, unfound {o.unfound}"
        )
        if last.health.checks:
            lines.append(
                "health: " + "; ".join(f"{c.name}: {c.summary}" for c in last.health.checks)
            )
    if last_error:
        lines.append(f"last error: {last_error}")
    return "\n".join(lines)


def wait_for_clean(
    client_or_callable: Any,
    *,
    no_progress_timeout: float,
    poll_interval: float = 1.0,
    max_duration: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[TimelinePoint, ClusterStatus | None], None] | None = None,
) -> WaitResult:
    """Poll until the cluster is clean; see the module docstring.

    ``client_or_callable`` is a :class:`~octoprobe.ceph.client.CephClient` (its
    ``status()`` is polled) or any callable returning a ``ClusterStatus``.
    A poll whose command fails (:class:`~octoprobe.shell.CommandError`, e.g. a
    monitor briefly unreachable) counts as a poll without progress; parse
    errors are not caught. ``on_poll(point, status)`` is called after every
    poll (``status`` is ``None`` for a failed one).

    Returns a :class:`WaitResult`; raises :class:`CephWaitTimeout` when no
    progress was seen for ``no_progress_timeout`` seconds, or when
    ``max_duration`` seconds have passed in all.
    """
    if no_progress_timeout <= 0:
        raise ValueError("no_progress_timeout must be positive")
    if poll_interval < 0:
        raise ValueError("poll_interval must not be negative")
    if max_duration is not None and max_duration <= 0:
        raise ValueError("max_duration must be positive")

    get_status = _source(client_or_callable)
    best = _Best()
    timeline: list[TimelinePoint] = []
    start = clock()
    last_progress = start
    last: ClusterStatus | None = None
    last_error: str | None = None

    while True:
        try:
            status: ClusterStatus | None = get_status()
        except CommandError as exc:
            status = None
            last_error = str(exc)
        now = clock()
        elapsed = now - start

        if status is not None:
            last = status
            progress = best.update(status) or status.io.recovering
            if progress:
                last_progress = now
            point = TimelinePoint.from_status(elapsed, status, progress=progress)
        elif last is not None:
            point = TimelinePoint.from_status(elapsed, last)
            point = _with_error(point, last_error)
        else:
            point = _empty_point(elapsed, last_error)
        timeline.append(point)
        if on_poll is not None:
            on_poll(point, status)

        if status is not None and status.clean:
            return WaitResult(
                status=status, elapsed=elapsed, polls=len(timeline), timeline=tuple(timeline)
            )

        since_progress = now - last_progress
        reason = None
        if since_progress >= no_progress_timeout:
            reason = "no_progress"
        elif max_duration is not None and elapsed >= max_duration:
            reason = "max_duration"
        if reason is not None:
            message = _describe_failure(
                reason, last, elapsed, since_progress, no_progress_timeout, max_duration,
                last_error,
            )
            raise CephWaitTimeout(
                message,
                reason=reason,
                last_status=last,
                elapsed=elapsed,
                since_progress=since_progress,
                timeline=tuple(timeline),
                last_error=last_error,
            )

        # sleep no longer than the nearest deadline, so we fail on time
        remaining = no_progress_timeout - since_progress
        if max_duration is not None:
            remaining = min(remaining, max_duration - elapsed)
        sleep(max(0.0, min(poll_interval, remaining)))


def _with_error(point: TimelinePoint, error: str | None) -> TimelinePoint:
    return replace(point, error=error or "error", progress=False)


def _empty_point(elapsed: float, error: str | None) -> TimelinePoint:
    return TimelinePoint(
        elapsed=elapsed,
        health="",
        pgs_total=0,
        active_clean=0,
        inactive=0,
        degraded=0,
        degraded_total=0,
        misplaced=0,
        misplaced_total=0,
        unfound=0,
        recovering_bytes_per_sec=0,
        recovering_objects_per_sec=0,
        osds_up=0,
        osds_in=0,
        num_osds=0,
        error=error or "error",
    )
