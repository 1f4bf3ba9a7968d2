"""Running one suite as its own pytest process, for ``octoprobe run``.

The suite runs in a child process (``python -m pytest DIR -p
octoprobe.report.results -p octoprobe.progress …``) in a session of its
own, so a crash or a hang in a suite cannot take the run down, and the
parent decides what an interrupt means: on Ctrl-C (or SIGTERM, or the
suite's timeout) it sends the child one SIGINT — pytest then runs its
finalizers, which delete the run's resources and heal injected faults —
waits ``cleanup_timeout`` for it, and kills it only after that.

The child's output goes to ``<report dir>/pytest.log``; its results come
from the report it writes (``summary.json``); its progress events are
followed and handed to ``on_progress``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from octoprobe.progress_view import EventTail, SuiteProgress
from octoprobe.report.model import RunResult

# pytest's exit codes
PYTEST_OK, PYTEST_FAILED, PYTEST_INTERRUPTED, PYTEST_INTERNAL, PYTEST_USAGE, PYTEST_NO_TESTS = range(6)

RAN, COULD_NOT_RUN, EMPTY = "ran", "could not run", "no tests"


@dataclass
class SuiteRun:
    name: str
    report_dir: Path
    status: str  # RAN | COULD_NOT_RUN | EMPTY
    exit_code: int | None
    seconds: float
    result: RunResult | None = None
    problem: str = ""  # why it could not run

    @property
    def log(self) -> Path:
        return self.report_dir / "pytest.log"


def pytest_argv(suite_dir: Path, report_dir: Path, extra: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", str(suite_dir), "-p", "no:cacheprovider",
            "-p", "octoprobe.report.results", "--report-dir", str(report_dir),
            "-p", "octoprobe.progress", "--progress-file", str(report_dir / "progress.jsonl"),
            "-o", "console_output_style=classic", *extra]


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def classify(name: str, report_dir: Path, exit_code: int | None, seconds: float, *,
             interrupted: str = "") -> SuiteRun:
    """What a finished child means, from its exit code and the report it left."""
    summary = report_dir / "summary.json"
    result = None
    if summary.is_file():
        try:
            result = RunResult.from_json(summary.read_text(encoding="utf-8"))
        except (ValueError, KeyError) as exc:
            return SuiteRun(name, report_dir, COULD_NOT_RUN, exit_code, seconds,
                            problem=f"its report {summary} is unreadable: {exc}")
    log = report_dir / "pytest.log"
    if interrupted:
        return SuiteRun(name, report_dir, COULD_NOT_RUN, exit_code, seconds, result, problem=interrupted)
    if exit_code == PYTEST_NO_TESTS:
        return SuiteRun(name, report_dir, EMPTY, exit_code, seconds, result, problem="no tests were collected")
    if exit_code in (PYTEST_OK, PYTEST_FAILED) and result is not None:
        return SuiteRun(name, report_dir, RAN, exit_code, seconds, result)
    what = {PYTEST_INTERRUPTED: "it was interrupted", PYTEST_INTERNAL: "pytest hit an internal error",
            PYTEST_USAGE: "pytest refused its options or configuration"}.get(
        exit_code if exit_code is not None else -1, f"pytest exited {exit_code} without a report")
    tail = log_tail(log)
    return SuiteRun(name, report_dir, COULD_NOT_RUN, exit_code, seconds, result,
                    problem=f"{what} (see {log})" + (f":\n{tail}" if tail else ""))


def run_suite(
    name: str,
    suite_dir: Path,
    report_dir: Path,
    extra_args: Sequence[str] = (),
    *,
    env: dict[str, str] | None = None,
    timeout: float = 4 * 3600.0,
    cleanup_timeout: float = 600.0,
    poll: float = 0.5,
    on_progress: Callable[[SuiteProgress, bool], None] = lambda progress, finished: None,
    command: Sequence[str] | None = None,
) -> SuiteRun:
    """Run one suite to its end (or its timeout) and say what happened.
    ``on_progress(progress, a_test_finished)`` is called after each batch of
    events and at every poll. ``command`` replaces the pytest command line
    for a part that is not a pytest suite but writes ``summary.json`` into
    ``report_dir`` the same way (the Tempest bridge)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "progress.jsonl").unlink(missing_ok=True)
    (report_dir / "summary.json").unlink(missing_ok=True)
    argv = list(command) if command is not None else pytest_argv(suite_dir, report_dir, extra_args)
    progress = SuiteProgress(name, started=time.time())
    tail = EventTail(report_dir / "progress.jsonl")
    started = time.monotonic()
    interrupted = ""
    with (report_dir / "pytest.log").open("wb") as log:
        child = subprocess.Popen(argv, cwd=suite_dir.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while child.poll() is None:
                if time.monotonic() - started > timeout:
                    interrupted = f"it ran longer than its timeout of {timeout:g} s and was stopped"
                    _stop(child, cleanup_timeout)
                    break
                _follow(tail, progress, on_progress)
                time.sleep(poll)
        except KeyboardInterrupt:
            interrupted = "the run was interrupted (Ctrl-C or SIGTERM); the suite cleaned up and stopped"
            _stop(child, cleanup_timeout)
        _follow(tail, progress, on_progress)
    return classify(name, report_dir, child.returncode, time.monotonic() - started, interrupted=interrupted)


def _follow(tail: EventTail, progress: SuiteProgress,
            on_progress: Callable[[SuiteProgress, bool], None]) -> None:
    events = tail.read()
    for event in events:
        progress.apply(event)
        if event.get("event") == "finish":
            on_progress(progress, True)
    on_progress(progress, False)


def _stop(child: subprocess.Popen, cleanup_timeout: float) -> None:
    """One SIGINT (pytest's KeyboardInterrupt: finalizers run), then wait;
    SIGKILL the child's whole session only if it does not end in time."""
    try:
        os.killpg(child.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    while True:
        try:
            child.wait(timeout=cleanup_timeout)
            return
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait(timeout=30)
            return
        except KeyboardInterrupt:  # a second Ctrl-C: keep waiting for the clean-up, say so
            print("octoprobe: waiting for the suite to clean up (it deletes what it created)", file=sys.stderr)
