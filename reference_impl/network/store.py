"""The desired state on disk: one JSON document, replaced atomically, under a lock.

Separate processes (``octoprobe cloud up/down``, the API) share it: every
operation takes the lock, reads the document, changes the kernel, and writes
the document back only if the kernel change succeeded.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .model import State


class StateStoreError(RuntimeError):
    pass


class StateStore:
    def __init__(self, path: Path, lock_path: Path, *, lock_timeout: float = 120.0):
        self.path = Path(path)
        self.lock_path = Path(lock_path)
        self.lock_timeout = lock_timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def load(self) -> State:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return State()
        try:
            return State.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateStoreError(f"{self.path} is damaged ({exc}); `octoprobe cloud down --purge` "
                                  "starts over") from exc

    def save(self, state: State) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            json.dump(state.to_dict(), f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes (flock) and threads; re-entrant in one thread."""
        with self._thread_lock:
            if self._depth == 0:
                self.lock_path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                deadline = time.monotonic() + self.lock_timeout
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            os.close(fd)
                            raise StateStoreError(
                                f"another process holds {self.lock_path} for more than "
                                f"{self.lock_timeout:g} s") from None
                        time.sleep(0.05)
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None
