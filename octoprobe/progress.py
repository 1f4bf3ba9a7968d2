"""Progress events of a pytest session, as JSON lines, for ``octoprobe run``.

``pytest -p octoprobe.progress --progress-file FILE`` appends one JSON object
per line to FILE (flushed at once, so a reader can follow the file while
the session runs):

* ``{"event": "collected", "count": N, "t": …}``
* ``{"event": "start", "nodeid": …, "t": …}``
* ``{"event": "phase", "nodeid": …, "phase": "setup" | "call" | "teardown", "t": …}``
* ``{"event": "finish", "nodeid": …, "outcome": "passed" | "failed" | "error" | "skipped", "duration": s, "t": …}``
* ``{"event": "end", "exitstatus": n, "t": …}``

Tests may add their own phases (a boot's "active", "ping", "ssh") with
:func:`phase` through the ``progress_phase`` fixture. Nothing here reads
the events; :mod:`octoprobe.progress_view` does.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, TextIO

import pytest

PROGRESS = pytest.StashKey["ProgressWriter"]()


class ProgressWriter:
    """Appends events to one file; safe to call from the test's threads."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._clock = clock
        self._outcomes: dict[str, str] = {}
        self.current: str | None = None

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields, "t": round(self._clock(), 3)}, default=str)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    # ---- pytest hooks
    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.emit("collected", count=len(session.items))

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.current = nodeid
        self.emit("start", nodeid=nodeid)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.emit("phase", nodeid=item.nodeid, phase="setup")

    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self.emit("phase", nodeid=item.nodeid, phase="call")

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.emit("phase", nodeid=item.nodeid, phase="teardown")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        previous = self._outcomes.get(report.nodeid, "passed")
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
            if previous in ("failed", "error"):
                outcome = previous
        elif report.skipped and previous == "passed":
            outcome = "skipped"
        else:
            outcome = previous
        self._outcomes[report.nodeid] = outcome

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.emit("finish", nodeid=nodeid, outcome=self._outcomes.get(nodeid, "passed"))
        self.current = None

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.emit("end", exitstatus=int(exitstatus))


def phase(config: pytest.Config, name: str) -> None:
    """Mark a test-defined phase (e.g. ``"ssh"``) of the running test; a no-op
    when the session writes no progress."""
    writer = config.stash.get(PROGRESS, None)
    if writer is not None:
        writer.emit("phase", nodeid=writer.current, phase=name)


@pytest.fixture
def progress_phase(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``progress_phase("ssh")`` marks a phase of this test in the progress."""
    return lambda name: phase(request.config, name)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("octoprobe-progress").addoption(
        "--progress-file", dest="octoprobe_progress_file", default=None, metavar="FILE",
        help="append the session's progress events (JSON lines) to FILE (read by `octoprobe run`)")


def pytest_configure(config: pytest.Config) -> None:
    path = config.option.octoprobe_progress_file
    if not path or PROGRESS in config.stash or hasattr(config, "workerinput"):
        return
    writer = ProgressWriter(path)
    config.stash[PROGRESS] = writer
    config.pluginmanager.register(writer, "octoprobe-progress-writer")


def pytest_unconfigure(config: pytest.Config) -> None:
    writer = config.stash.get(PROGRESS, None)
    if writer is not None:
        writer.close()
