"""Boot time by phase: API call → accepted → ACTIVE → first ping → SSH login
→ (optional) user data done.

:func:`measure_boot` drives one boot through :class:`BootSteps` (the cloud
and the network side, injected: openstacksdk and paramiko in the suite, fakes
in the unit tests), polling every ``poll`` seconds, and returns a
:class:`BootTimeline`: each phase's time since the API call was sent, first
seen. A boot that errors or misses its deadline raises :class:`BootFailed`
naming the phase it was waiting for, the elapsed time and the last state.
:func:`measure_boots` runs N at once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from octoprobe.samples import Sample

__all__ = ["PHASES", "BootSteps", "BootTimeline", "BootFailed", "measure_boot", "measure_boots"]

#: the phases, in order; each is a time since the create call was sent
PHASES = ("accepted", "active", "ping", "ssh", "userdata")
ERROR_STATES = frozenset({"ERROR", "DELETED", "SHUTOFF", "SOFT_DELETED"})


class BootSteps(Protocol):
    def create(self) -> str:
        """Send the create call; the server's id."""

    def server(self, server_id: str) -> Mapping[str, Any]:
        """The server as the API shows it now (``status``, addresses …)."""

    def address(self, server: Mapping[str, Any]) -> str | None:
        """The address the prober reaches the server at, once it has one."""

    def ping(self, address: str) -> bool:
        """One ping; True when answered."""

    def ssh(self, address: str) -> bool:
        """One SSH login attempt; True when logged in and a command ran."""

    def userdata_done(self, address: str) -> bool | None:
        """Whether the user data finished; None when the boot has none."""


@dataclass
class BootTimeline:
    server_id: str
    address: str | None = None
    phases: dict[str, float] = field(default_factory=dict)
    started: float = 0.0  # wall clock of the create call

    def samples(self, **metadata: Any) -> list[Sample]:
        return [Sample(f"boot.{name}", round(self.phases[name], 3), "s", {"server": self.server_id, **metadata})
                for name in PHASES if name in self.phases]

    def describe(self) -> str:
        return ", ".join(f"{name} {self.phases[name]:.2f} s" for name in PHASES if name in self.phases)


class BootFailed(AssertionError):
    def __init__(self, phase: str, elapsed: float, last: str, timeline: BootTimeline):
        self.phase, self.elapsed, self.last, self.timeline = phase, elapsed, last, timeline
        done = timeline.describe() or "nothing yet"
        super().__init__(f"server {timeline.server_id or '(not created)'}: no '{phase}' after {elapsed:.1f} s "
                         f"(last seen: {last}; reached: {done})")


def measure_boot(steps: BootSteps, *, timeout: float = 300.0, poll: float = 0.25,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 wall: Callable[[], float] = time.time) -> BootTimeline:
    """Boot one server through ``steps`` and time its phases. ``timeout`` is
    the whole boot's deadline, from the create call."""
    timeline = BootTimeline(server_id="", started=wall())
    t0 = clock()
    timeline.server_id = steps.create()
    timeline.phases["accepted"] = clock() - t0

    def wait(phase: str, attempt: Callable[[], tuple[bool, str]]) -> None:
        last = "not tried"
        while True:
            ok, last = attempt()
            elapsed = clock() - t0
            if ok:
                timeline.phases[phase] = elapsed
                return
            if elapsed > timeout:
                raise BootFailed(phase, elapsed, last, timeline)
            sleep(poll)

    def active() -> tuple[bool, str]:
        server = steps.server(timeline.server_id)
        status = str(server.get("status") or "?").upper()
        if status in ERROR_STATES:
            fault = server.get("fault") or {}
            message = fault.get("message") if isinstance(fault, Mapping) else fault
            raise BootFailed("active", clock() - t0, f"status {status}" + (f": {message}" if message else ""),
                             timeline)
        timeline.address = steps.address(server)
        return status == "ACTIVE" and timeline.address is not None, f"status {status}"

    wait("active", active)
    address = timeline.address
    assert address is not None
    wait("ping", lambda: (steps.ping(address), f"no answer to ping from {address}"))
    wait("ssh", lambda: (steps.ssh(address), f"no SSH login at {address}"))
    if steps.userdata_done(address) is not None:
        wait("userdata", lambda: (bool(steps.userdata_done(address)), "user data not finished"))
    return timeline


def measure_boots(make_steps: Callable[[int], BootSteps], count: int, **kwargs: Any) -> list[BootTimeline]:
    """``count`` boots at once (one thread each); every boot's failure is
    raised after all have ended, the first one first."""
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="boot") as pool:
        futures = [pool.submit(measure_boot, make_steps(i), **kwargs) for i in range(count)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except BaseException as exc:  # collect, so every boot is waited for
                outcomes.append(exc)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        raise errors[0]
    return outcomes  # type: ignore[return-value]
