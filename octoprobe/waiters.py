"""Waiting for a resource to reach a state: polls with a deadline, records phases.

A server goes BUILD → ACTIVE, a volume creating → available, a deleted
resource disappears. :class:`Waiter` polls a ``fetch`` callable at a fixed,
sub-second interval until the resource's state is one of ``ready``, one of
``failed``, or the deadline passes. It records when each state was *first*
seen (seconds since the wait began): the phases of a VM boot that the perf
suite reports come from here.

On failure it raises, with everything needed to understand why in the
message: what was awaited, the last state, the fault the resource reports
(e.g. a server's ``fault.message``), the elapsed time and the states seen:

* :class:`WaitFailed` — the resource entered a failed state (e.g. ERROR);
* :class:`WaitTimeout` — the deadline passed first.

``fetch`` returning None, or raising one of ``gone_on`` (e.g. openstacksdk's
``NotFoundException``), means the resource no longer exists: its state is
:data:`GONE`, so waiting for a deletion is ``ready={GONE}``. Exceptions in
``retry_on`` are remembered and polling goes on; any other exception
propagates at once.

The clock and sleep are injectable, so unit tests run without sleeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Collection, Mapping

__all__ = [
    "GONE",
    "Phase",
    "WaitResult",
    "WaitError",
    "WaitFailed",
    "WaitTimeout",
    "Waiter",
    "status_of",
    "fault_of",
]

#: The state of a resource that no longer exists.
GONE = "<gone>"

StateSet = Collection[str] | Callable[[str], bool]


@dataclass(frozen=True)
class Phase:
    """A state and when it was first seen, in seconds since the wait began."""

    state: str
    at: float

    def __str__(self) -> str:
        return f"{self.state} at {self.at:.2f} s"


@dataclass(frozen=True)
class WaitResult:
    what: str
    value: Any
    state: str
    elapsed: float
    phases: tuple[Phase, ...]
    polls: int
    started_at: float  # wall-clock time (time.time()) when the wait began

    def phase(self, state: str) -> float | None:
        """When ``state`` was first seen, or None if it never was."""
        for phase in self.phases:
            if phase.state == state:
                return phase.at
        return None


class WaitError(AssertionError):
    """A wait did not end in a ready state. An AssertionError, so pytest shows
    it as a test failure with its message."""

    def __init__(
        self,
        what: str,
        reason: str,
        *,
        last_state: str | None,
        fault: str | None,
        elapsed: float,
        phases: tuple[Phase, ...],
        last_error: BaseException | None = None,
    ):
        self.what = what
        self.reason = reason
        self.last_state = last_state
        self.fault = fault
        self.elapsed = elapsed
        self.phases = phases
        self.last_error = last_error
        parts = [f"{what}: {reason} after {elapsed:.2f} s", f"last state {last_state or 'unknown'}"]
        if fault:
            parts.append(f"fault: {fault}")
        if last_error is not None:
            parts.append(f"last error: {type(last_error).__name__}: {last_error}")
        if phases:
            parts.append("states seen: " + ", ".join(str(p) for p in phases))
        super().__init__("; ".join(parts))


class WaitFailed(WaitError):
    """The resource entered a failed state."""


class WaitTimeout(WaitError):
    """The deadline passed before the resource was ready."""


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def status_of(obj: Any) -> str:
    """The default state: None → GONE, a string as it is, else ``.status``."""
    if obj is None:
        return GONE
    if isinstance(obj, str):
        return obj
    status = _get(obj, "status")
    return "unknown" if status is None else str(status)


def fault_of(obj: Any) -> str | None:
    """The default fault: a Nova-style ``fault`` (message, code, details) or None."""
    if obj is None or isinstance(obj, str):
        return None
    fault = _get(obj, "fault")
    if not fault:
        return None
    if isinstance(fault, Mapping):
        message = fault.get("message") or "no message"
        code = fault.get("code")
        return f"{message} (code {code})" if code else str(message)
    return str(fault)


def _matcher(states: StateSet) -> Callable[[str], bool]:
    if callable(states):
        return states
    if isinstance(states, str):
        raise TypeError("give a collection of states, not a single string")
    members = frozenset(states)
    return members.__contains__


class Waiter:
    """Polls with deadlines. ``clock`` is monotonic seconds; ``wall`` is epoch seconds."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ):
        self._clock = clock
        self._sleep = sleep
        self._wall = wall

    def wait(
        self,
        what: str,
        fetch: Callable[[], Any],
        *,
        ready: StateSet,
        timeout: float,
        failed: StateSet = (),
        interval: float = 0.5,
        state: Callable[[Any], str] = status_of,
        fault: Callable[[Any], str | None] = fault_of,
        gone_on: tuple[type[BaseException], ...] = (),
        retry_on: tuple[type[BaseException], ...] = (),
    ) -> WaitResult:
        """Poll ``fetch`` until its state is ready; raise WaitFailed / WaitTimeout.

        ``what`` names the wait in messages ("server octoprobe-…-vm1 ACTIVE").
        ``timeout`` and ``interval`` are seconds; ``fetch`` is called at least
        once, and the last sleep is shortened so no poll happens past the deadline.
        """
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if not 0 < interval <= timeout:
            raise ValueError(f"interval must be positive and at most the timeout, got {interval}")
        is_ready, is_failed = _matcher(ready), _matcher(failed)
        start = self._clock()
        started_at = self._wall()
        deadline = start + timeout
        phases: dict[str, float] = {}
        last_state: str | None = None
        last_fault: str | None = None
        last_error: BaseException | None = None
        polls = 0
        while True:
            polls += 1
            value: Any = None
            try:
                value = fetch()
                current = state(value)
                last_fault = fault(value) or last_fault
                last_error = None
            except gone_on:
                current = GONE
            except retry_on as exc:
                current, last_error = None, exc
            now = self._clock()
            elapsed = now - start
            if current is not None:
                last_state = current
                phases.setdefault(current, elapsed)
            history = tuple(Phase(s, t) for s, t in phases.items())
            if current is not None and is_ready(current):
                return WaitResult(what, value, current, elapsed, history, polls, started_at)
            if current is not None and is_failed(current):
                raise WaitFailed(
                    what,
                    f"entered state {current}",
                    last_state=current,
                    fault=last_fault,
                    elapsed=elapsed,
                    phases=history,
                )
            if now >= deadline:
                raise WaitTimeout(
                    what,
                    f"timed out (timeout {timeout:g} s)",
                    last_state=last_state,
                    fault=last_fault,
                    elapsed=elapsed,
                    phases=history,
                    last_error=last_error,
                )
            self._sleep(min(interval, deadline - now))
