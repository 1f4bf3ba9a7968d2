"""Following a suite's progress events (see :mod:`octoprobe.progress`) and
saying where it is: tests done of total, outcomes so far, the running test
and its phase, elapsed time and an estimate of what is left.

Pure: :class:`SuiteProgress` folds events, :func:`status_line`,
:func:`finished_line` and :func:`heartbeat_line` render them;
:class:`EventTail` reads the complete lines a file has gained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

SHOWN_OUTCOMES = ("passed", "failed", "error", "skipped")


def duration_text(seconds: float | None) -> str:
    """``75.4`` → ``1m15s``; ``3725`` → ``1h02m``; None → ``?``."""
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def short_test(nodeid: str | None) -> str:
    """Without the suite's directory: ``conformance/image/test_list.py::test_x[a/b]``
    → ``image/test_list.py::test_x[a/b]``."""
    if not nodeid:
        return "-"
    path, sep, rest = nodeid.partition("::")
    return path.split("/", 1)[-1] + sep + rest


@dataclass
class SuiteProgress:
    suite: str
    started: float | None = None
    total: int | None = None
    done: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {o: 0 for o in SHOWN_OUTCOMES})
    current: str | None = None
    phase: str | None = None
    phase_since: float | None = None
    test_since: float | None = None
    last_event: float | None = None
    durations: list[float] = field(default_factory=list)
    exitstatus: int | None = None
    last_finished: tuple[str, str, float] | None = None  # nodeid, outcome, seconds

    def apply(self, event: dict[str, Any]) -> None:
        t = float(event.get("t") or 0.0)
        self.last_event = t
        if self.started is None:
            self.started = t
        kind = event.get("event")
        if kind == "collected":
            self.total = int(event.get("count") or 0)
        elif kind == "start":
            self.current, self.phase, self.test_since, self.phase_since = event.get("nodeid"), None, t, t
        elif kind == "phase":
            self.phase, self.phase_since = event.get("phase"), t
        elif kind == "finish":
            outcome = str(event.get("outcome") or "passed")
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            self.done += 1
            took = t - self.test_since if self.test_since is not None else 0.0
            self.durations.append(took)
            self.last_finished = (str(event.get("nodeid")), outcome, took)
            self.current = self.phase = self.test_since = self.phase_since = None
        elif kind == "end":
            self.exitstatus = int(event.get("exitstatus") or 0)

    def apply_all(self, events: Iterable[dict[str, Any]]) -> "SuiteProgress":
        for event in events:
            self.apply(event)
        return self

    def elapsed(self, now: float) -> float:
        return now - self.started if self.started is not None else 0.0

    def estimate_left(self, now: float) -> float | None:
        """Mean duration of the finished tests × the tests not yet finished,
        less what the running one has spent; None before the first finishes."""
        if self.total is None or not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        left = mean * max(0, self.total - self.done)
        if self.test_since is not None:
            left -= min(mean, now - self.test_since)
        return max(0.0, left)

    def counts_text(self) -> str:
        parts = [f"{n} {o}" for o, n in self.counts.items() if n]
        return ", ".join(parts) or "nothing finished yet"


def status_line(p: SuiteProgress, now: float) -> str:
    total = "?" if p.total is None else str(p.total)
    line = f"[{p.suite} {p.done}/{total}] {p.counts_text()} · {duration_text(p.elapsed(now))} elapsed"
    left = p.estimate_left(now)
    if left is not None:
        line += f", ~{duration_text(left)} left"
    return line


def finished_line(p: SuiteProgress, now: float) -> str:
    """After a test finished: its outcome and time, then the suite's status."""
    if p.last_finished is None:
        return status_line(p, now)
    nodeid, outcome, took = p.last_finished
    return f"{outcome.upper():7} {short_test(nodeid)} ({duration_text(took)})  {status_line(p, now)}"


def heartbeat_line(p: SuiteProgress, now: float) -> str:
    """While a long test runs: which, in which phase, for how long."""
    running = short_test(p.current)
    since = duration_text(now - p.test_since) if p.test_since is not None else "?"
    phase = f", phase {p.phase} for {duration_text(now - p.phase_since)}" if p.phase and p.phase_since else ""
    return f"running {running} for {since}{phase}  {status_line(p, now)}"


class EventTail:
    """The complete JSON lines a growing file has gained since the last read
    (a partly written last line waits for the next read)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not ours; progress is best effort, results come from the report
            if isinstance(event, dict):
                events.append(event)
        return events
