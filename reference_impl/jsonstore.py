"""A desired-state document on disk: one JSON file, replaced atomically, under
a lock that holds across processes (flock) and threads (re-entrant in one
thread).

Separate processes (``octoprobe cloud up/down``, the API) share such a
document: every operation takes the lock, reads it, changes the world, and
writes it back only if the change succeeded. The network and compute layers
each keep one.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, Iterator, Protocol, TypeVar


class Document(Protocol):
    @classmethod
    def from_dict(cls, data: dict): ...

    def to_dict(self) -> dict: ...


D = TypeVar("D", bound=Document)


class JsonDocumentStore(Generic[D]):
    """``document`` is the class of the state (``from_dict``/``to_dict``, and
    a no-argument constructor for the empty state); ``error`` the exception
    class raised for a damaged file or a lock held too long."""

    def __init__(self, path: Path, lock_path: Path, *, document: type[D], error: type[Exception],
                 lock_timeout: float = 120.0):
        self.path = Path(path)
        self.lock_path = Path(lock_path)
        self.document = document
        self.error = error
        self.lock_timeout = lock_timeout
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def load(self) -> D:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return self.document()
        try:
            return self.document.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise self.error(f"{self.path} is damaged ({exc}); `octoprobe cloud down --purge` "
                             "starts over") from exc

    def save(self, state: D) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
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
                            raise self.error(f"another process holds {self.lock_path} for more than "
                                             f"{self.lock_timeout:g} s") from None
                        time.sleep(0.02)
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

    @contextmanager
    def update(self) -> Iterator[D]:
        """Load under the lock, let the caller change the state, save it."""
        with self.locked():
            state = self.load()
            yield state
            self.save(state)
