"""The flapping-OSD loop every driver shares: kill one OSD, wait, start it,
wait until the OSD map says it is up, stay up a while — ``cycles`` times, in
a background thread, stoppable at any point. A driver says only how to kill
and start the OSD (:meth:`FlapLoop.kill_osd`, :meth:`FlapLoop.start_osd`)
and how to see it up (:meth:`FlapLoop.osd_up`)."""

from __future__ import annotations

import threading
import time

from octoprobe.shell import CommandError

from .base import ComponentState, FaultError, FaultSpec

__all__ = ["FlapLoop", "OSD_UP_TIMEOUT"]

OSD_UP_TIMEOUT = 90.0  # a restarted OSD must be up in the OSD map within this
POLL = 0.5


class FlapLoop:
    """Mixed into a driver's :class:`~octoprobe.faults.base.Fault`.
    ``spec.params``: ``down`` (s the daemon stays dead), ``up`` (s it stays
    up once it is up in the OSD map), ``cycles``."""

    spec: FaultSpec

    def init_flap(self, spec: FaultSpec) -> None:
        self.down = float(spec.params.get("down", 2.0))
        self.up = float(spec.params.get("up", 10.0))
        self.cycles = int(spec.params.get("cycles", 3))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        #: per cycle: (killed_at, started_at, up_at) in time.monotonic(); up_at None if not seen up
        self.history: list[tuple[float, float, float | None]] = []

    # -- what a driver provides
    def kill_osd(self, osd: int) -> None:
        raise NotImplementedError

    def start_osd(self, osd: int) -> None:
        raise NotImplementedError

    def osd_up(self, osd: int) -> bool:
        raise NotImplementedError

    # -- the loop
    def osd(self) -> int:
        if len(self.spec.osd_ids) != 1:
            raise FaultError("a flapping fault takes exactly one OSD")
        return self.spec.osd_ids[0]

    def check_flap_params(self) -> None:
        if self.down < 0 or self.up < 0 or self.cycles < 1:
            raise FaultError("a flap needs down >= 0, up >= 0 and cycles >= 1")

    def _loop(self) -> None:
        osd = self.osd()
        try:
            for _ in range(self.cycles):
                if self._stop.is_set():
                    return
                self.kill_osd(osd)
                killed = time.monotonic()
                if self._stop.wait(self.down):
                    return
                self.start_osd(osd)
                started = time.monotonic()
                up_at = None
                deadline = started + OSD_UP_TIMEOUT
                while not self._stop.is_set() and time.monotonic() < deadline:
                    try:
                        if self.osd_up(osd):
                            up_at = time.monotonic()
                            break
                    except (CommandError, KeyError):
                        pass
                    self._stop.wait(POLL)
                self.history.append((killed, started, up_at))
                if up_at is None and not self._stop.is_set():
                    raise FaultError(f"osd.{osd} was not up in the OSD map {OSD_UP_TIMEOUT:g}s after its start")
                if self._stop.wait(self.up):
                    return
        except BaseException as exc:  # reported by wait()
            self.error = exc

    def start_loop(self, thread_name: str) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> None:
        """Block until every cycle is done; FaultError on a timeout or a failed cycle."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise FaultError(f"the flapping loop of osd.{self.osd()} is not done after {timeout:g}s")
        if self.error is not None:
            raise FaultError(f"the flapping loop of osd.{self.osd()} failed: {self.error}") from self.error

    def stop_loop(self, join_timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(join_timeout)

    def loop_state(self) -> ComponentState:
        looping = self._thread is not None and self._thread.is_alive()
        return ComponentState(f"osd.{self.osd()} flapping loop", not looping,
                              f"{len(self.history)} of {self.cycles} cycles" if looping else "stopped")
