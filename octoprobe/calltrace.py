"""Recording the HTTP calls a test makes, to attach them to its result.

A failing conformance test is only useful to a cloud operator when it says
which calls were made and which request ids the cloud gave them (to find in
the service logs). :class:`Tracer` wraps the ``request`` method of a
keystoneauth :class:`~keystoneauth1.session.Session` (openstacksdk's
``Connection.session``, through which every proxy, the auth plugin and
version discovery send their requests) and records each call into the
:class:`CallTrace` that is active at that moment:

    tracer = Tracer()
    tracer.instrument(conn.session)
    trace = CallTrace()
    with tracer.recording(trace, phase="call"):
        conn.compute.flavors()
    print(trace.render_text())

One :class:`Call` per ``Session.request``: method, URL (redacted), status,
duration, request id (``x-openstack-request-id``, or the compute/network
variants), the API version the response declares, and the error when the
request raised instead of answering. Nothing is recorded while no trace is
active. Bodies and headers are not recorded; URLs and error texts go through
:mod:`octoprobe.redact`.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

from octoprobe.redact import redact_text, redact_url

__all__ = ["Call", "CallTrace", "Tracer", "REQUEST_ID_HEADERS"]

#: Response headers that carry a request id, most specific first.
REQUEST_ID_HEADERS = (
    "x-openstack-request-id",
    "x-compute-request-id",
    "openstack-request-id",
    "x-openstack-network-request-id",
)
_INSTRUMENTED = "_octoprobe_tracer"


@dataclass(frozen=True)
class Call:
    """One HTTP call. ``started`` is seconds since the trace began."""

    method: str
    url: str
    status: int | None
    duration: float
    request_id: str | None = None
    api_version: str | None = None
    phase: str | None = None
    started: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        status = str(self.status) if self.status is not None else "---"
        line = f"{self.method:<6} {status} {self.duration * 1000:8.1f} ms  {self.url}"
        if self.request_id:
            line += f"  [{self.request_id}]"
        if self.api_version:
            line += f"  ({self.api_version})"
        if self.error:
            line += f"  error: {self.error}"
        return line


class CallTrace:
    """The calls recorded for one test (or any other unit of work), in order."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._start = clock()
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def offset(self) -> float:
        """Seconds since this trace was created."""
        return self._clock() - self._start

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def for_phase(self, phase: str) -> list[Call]:
        return [c for c in self.calls if c.phase == phase]

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls)

    def render_text(self, calls: list[Call] | None = None) -> str:
        """One line per call; an empty string when there are none."""
        calls = self.calls if calls is None else calls
        return "\n".join(f"{c.started:8.3f}s {c.render()}" for c in calls)

    def to_json(self, calls: list[Call] | None = None) -> str:
        calls = self.calls if calls is None else calls
        return json.dumps([c.to_dict() for c in calls], indent=2)

    def __repr__(self) -> str:
        return f"CallTrace({len(self)} calls)"


def _header(headers: Any, names: tuple[str, ...]) -> str | None:
    if headers is None:
        return None
    for name in names:
        value = headers.get(name)
        if value:
            return str(value)
    return None


class Tracer:
    """Routes the calls of instrumented sessions into the active trace.

    One tracer per pytest session; :meth:`recording` makes a trace active
    for a block (the plugin does so around each test phase). Sessions stay
    instrumented for their lifetime; instrumenting twice is harmless.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._active: tuple[CallTrace, str | None] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def recording(self, trace: CallTrace, phase: str | None = None) -> Iterator[CallTrace]:
        with self._lock:
            previous = self._active
            self._active = (trace, phase)
        try:
            yield trace
        finally:
            with self._lock:
                self._active = previous

    def _current(self) -> tuple[CallTrace, str | None] | None:
        with self._lock:
            return self._active

    def instrument(self, session: Any) -> Any:
        """Wrap ``session.request`` (a keystoneauth Session) so calls are recorded.

        Returns the session. The wrapper is set on the instance only, so other
        sessions are not affected.
        """
        if getattr(session, _INSTRUMENTED, None) is self:
            return session
        original = session.request

        def request(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
            return self._traced(original, url, method, args, kwargs)

        session.request = request
        setattr(session, _INSTRUMENTED, self)
        return session

    def _traced(self, original: Callable[..., Any], url: str, method: str, args: Any, kwargs: Any) -> Any:
        current = self._current()
        if current is None:
            return original(url, method, *args, **kwargs)
        trace, phase = current
        started = trace.offset()
        t0 = self._clock()
        response = None
        error: BaseException | None = None
        try:
            response = original(url, method, *args, **kwargs)
            return response
        except Exception as exc:
            error = exc
            response = getattr(exc, "response", None)
            raise
        finally:
            duration = self._clock() - t0
            trace.record(self._call(method, url, response, error, duration, phase, started))

    @staticmethod
    def _call(
        method: str,
        url: str,
        response: Any,
        error: BaseException | None,
        duration: float,
        phase: str | None,
        started: float,
    ) -> Call:
        headers = getattr(response, "headers", None)
        final_url = getattr(response, "url", None) or url
        status = getattr(response, "status_code", None)
        if status is None and error is not None:
            status = getattr(error, "http_status", None)
        return Call(
            method=str(method).upper(),
            url=redact_url(str(final_url)),
            status=status,
            duration=duration,
            request_id=_header(headers, REQUEST_ID_HEADERS),
            api_version=_header(headers, ("openstack-api-version",)),
            phase=phase,
            started=started,
            error=None if error is None else redact_text(f"{type(error).__name__}: {error}"),
        )
