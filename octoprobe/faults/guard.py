"""Guaranteed healing: every fault injected through a :class:`FaultGuard` is
healed when the guard closes, whatever happened — a failed assertion, an
exception, Ctrl-C (SIGINT) — and one that a killed process could not heal is
healed by the next run, from the journal.

* The journal (:class:`FaultJournal`, a JSON file next to the cloud's state)
  records a fault *before* it is injected and forgets it only once it is
  healed; a crash anywhere in between leaves an entry that
  :meth:`FaultGuard.heal_leftovers` heals (heal works from the spec alone).
* While healing, SIGINT does not interrupt: it is noted and raised as
  KeyboardInterrupt once healing is done (press Ctrl-C
  :data:`ESCAPE_INTERRUPTS` times to give up healing).
* Faults are healed newest first; a heal that fails does not stop the others,
  and the failures are raised together at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .base import Fault, FaultDriver, FaultError, FaultSpec

__all__ = ["FaultJournal", "FaultGuard", "interrupts_deferred", "ESCAPE_INTERRUPTS"]

ESCAPE_INTERRUPTS = 3


class FaultJournal:
    """Faults injected and not healed yet, in one JSON file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def entries(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise FaultError(f"the fault journal {self.path} is damaged ({exc}); heal the cloud by hand "
                             "(for the reference cloud: `octoprobe cloud up`) and delete it") from exc
        return list(data.get("faults", []))

    def specs(self) -> list[FaultSpec]:
        return [FaultSpec.from_dict(e["spec"]) for e in self.entries()]

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"faults": entries}, indent=2) + "\n")
        tmp.replace(self.path)

    def add(self, spec: FaultSpec, driver: str) -> None:
        with self._lock:
            entries = self.entries()
            entries.append({"spec": spec.to_dict(), "driver": driver, "pid": os.getpid(), "at": time.time()})
            self._write(entries)

    def remove(self, spec: FaultSpec) -> None:
        with self._lock:
            entries = self.entries()
            for i, e in enumerate(entries):
                if FaultSpec.from_dict(e["spec"]) == spec:
                    del entries[i]
                    break
            self._write(entries)


@contextlib.contextmanager
def interrupts_deferred(say: Callable[[str], None] = lambda m: None) -> Iterator[None]:
    """SIGINT is noted, not raised, inside the block; KeyboardInterrupt is
    raised at its end if one came. Only in the main thread (elsewhere,
    signals are not delivered anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = 0

    def handler(signum, frame):
        nonlocal received
        received += 1
        if received >= ESCAPE_INTERRUPTS:
            raise KeyboardInterrupt
        say(f"octoprobe: healing faults, not interrupting (Ctrl-C {ESCAPE_INTERRUPTS - received} more "
            "time(s) to abandon healing)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


class FaultGuard:
    """Injects faults through a driver and guarantees they are healed."""

    def __init__(self, driver: FaultDriver, journal: FaultJournal | None = None, *,
                 say: Callable[[str], None] = lambda m: None):
        self.driver = driver
        self.journal = journal
        self.say = say
        self.active: list[Fault] = []
        #: (spec description, what happened) for every heal: for reports
        self.log: list[tuple[str, str]] = []

    def fault(self, spec: FaultSpec) -> Fault:
        return self.driver.fault(spec)

    def inject(self, fault: Fault) -> float:
        """Inject ``fault``; returns when (``time.monotonic()``) injection began."""
        if self.journal is not None:
            self.journal.add(fault.spec, self.driver.name)
        self.active.append(fault)
        started = time.monotonic()
        fault.inject()
        return started

    def heal(self, fault: Fault) -> float:
        """Heal one fault (SIGINT deferred); returns when healing began."""
        started = time.monotonic()
        with interrupts_deferred(self.say):
            fault.heal()
            if fault in self.active:
                self.active.remove(fault)
            if self.journal is not None:
                self.journal.remove(fault.spec)
            self.log.append((fault.spec.describe(), "healed"))
        return started

    def heal_all(self) -> None:
        """Heal every fault still active, newest first; FaultError listing
        the ones that could not be healed (they stay in the journal)."""
        errors = []
        with interrupts_deferred(self.say):
            for fault in list(reversed(self.active)):
                try:
                    fault.heal()
                except Exception as exc:  # keep healing the others
                    errors.append(f"{fault.spec.describe()}: {exc}")
                    self.log.append((fault.spec.describe(), f"heal failed: {exc}"))
                    continue
                self.active.remove(fault)
                if self.journal is not None:
                    self.journal.remove(fault.spec)
                self.log.append((fault.spec.describe(), "healed in teardown"))
                self.say(f"octoprobe: healed {fault.spec.describe()}")
        if errors:
            raise FaultError("could not heal: " + "; ".join(errors))

    def heal_leftovers(self) -> list[str]:
        """Heal what the journal says an earlier (crashed or killed) run left."""
        if self.journal is None:
            return []
        healed = []
        with interrupts_deferred(self.say):
            for spec in self.journal.specs():
                self.driver.fault(spec).heal()
                self.journal.remove(spec)
                healed.append(spec.describe())
        return healed

    def __enter__(self) -> "FaultGuard":
        return self

    def __exit__(self, *exc_info) -> None:
        self.heal_all()
