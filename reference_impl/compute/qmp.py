"""A small QMP (QEMU Machine Protocol) client over a unix socket.

One connection per use: ``with QMPClient(path, timeout=5) as qmp:
qmp.execute("query-status")``. The greeting is read and capabilities are
negotiated on connect; events that arrive while waiting for a reply are kept
in :attr:`QMPClient.events`. Every read has a deadline; a QEMU that does not
answer raises :class:`~.errors.QMPError` instead of hanging.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from .errors import QMPError

DEFAULT_TIMEOUT = 10.0


class QMPClient:
    def __init__(self, path: str | Path, *, timeout: float = DEFAULT_TIMEOUT):
        self.path = str(path)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._buffer = b""
        self.events: list[dict] = []
        self.greeting: dict | None = None
        self._id = 0

    # -- connection ------------------------------------------------------------
    def connect(self) -> "QMPClient":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise QMPError(f"cannot connect to QMP socket {self.path}: {exc}") from exc
        self.sock = sock
        deadline = time.monotonic() + self.timeout
        greeting = self._read_message(deadline)
        if "QMP" not in greeting:
            self.close()
            raise QMPError(f"{self.path}: not a QMP greeting: {greeting}")
        self.greeting = greeting
        self.execute("qmp_capabilities")
        return self

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self) -> "QMPClient":
        return self.connect()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- messages --------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        assert self.sock is not None
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise QMPError(f"no answer on QMP socket {self.path} within {self.timeout:g} s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise QMPError(f"no answer on QMP socket {self.path} within {self.timeout:g} s") from None
            except OSError as exc:
                raise QMPError(f"QMP socket {self.path}: {exc}") from exc
            if not chunk:
                raise QMPError(f"QMP socket {self.path} closed (QEMU exited?)")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError as exc:
            raise QMPError(f"QMP socket {self.path}: not JSON: {line[:200]!r}") from exc

    def execute(self, command: str, arguments: dict | None = None, *, timeout: float | None = None) -> Any:
        """Run one command; its ``return`` value, or QMPError with QEMU's error."""
        if self.sock is None:
            raise QMPError("not connected")
        self._id += 1
        request: dict[str, Any] = {"execute": command, "id": self._id}
        if arguments:
            request["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(request).encode() + b"\n")
        except OSError as exc:
            raise QMPError(f"QMP socket {self.path}: {exc}") from exc
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._read_message(deadline)
            if "event" in message:
                self.events.append(message)
                continue
            if message.get("id") != self._id:
                continue
            if "error" in message:
                err = message["error"]
                raise QMPError(f"QMP {command}: {err.get('class', 'Error')}: {err.get('desc', err)}")
            return message.get("return")

    def wait_event(self, name: str, *, timeout: float, match: dict | None = None) -> dict:
        """Wait for an event (one already received counts)."""
        def matches(ev: dict) -> bool:
            if ev.get("event") != name:
                return False
            data = ev.get("data", {})
            return all(data.get(k) == v for k, v in (match or {}).items())

        for ev in self.events:
            if matches(ev):
                self.events.remove(ev)
                return ev
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._read_message(deadline)
            except QMPError as exc:
                raise QMPError(f"no {name} event within {timeout:g} s ({exc})") from None
            if "event" in message:
                if matches(message):
                    return message
                self.events.append(message)
