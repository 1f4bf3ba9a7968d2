"""The workload: checksummed RADOS objects written before and during a fault,
with a history of which writes the cluster acknowledged (Jepsen-style).

Every write creates a new object (no overwrites), named
``{run}-{phase}-{seq}``, whose content is a pure function of the run's seed,
its name and its size (:func:`payload`), so the checker can tell a wrong
object, a truncated one and a stale one apart from the right one. A write is

* **acknowledged** when ``rados put`` exited 0: Ceph promised the data is on
  every OSD of the PG's acting set (at least ``min_size``); it must survive;
* **indeterminate** when it failed or timed out: it may or may not have been
  applied, so the checker accepts it present (and intact) or absent.

Objects go to one pool and one RADOS namespace of it (default
``octoprobe-chaos``), so the workload never touches anything else and
:meth:`Workload.cleanup` removes exactly what it wrote. Everything is bounded:
objects per batch, bytes, seconds, and a timeout on every command.

The ``rados`` CLI is run through a :class:`~octoprobe.shell.Runner`; object
contents pass through files in ``scratch``, so the runner must share this
machine's file system (a local runner, possibly in a namespace).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from octoprobe.shell import CommandError, Runner

__all__ = ["payload", "ObjectMissing", "RadosObjects", "WriteRecord", "History", "Workload"]

DEFAULT_NAMESPACE = "octoprobe-chaos"


def payload(seed: str, name: str, size: int) -> bytes:
    """The content of object ``name``: deterministic pseudo-random bytes."""
    return random.Random(f"{seed}/{name}/{size}").randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ObjectMissing(CommandError):
    """``rados get`` said the object does not exist (ENOENT)."""


class RadosObjects:
    """Put, get, remove and list objects of one pool namespace with ``rados``."""

    def __init__(self, runner: Runner, *, conf: str | None, pool: str, scratch: Path,
                 namespace: str = DEFAULT_NAMESPACE, name: str | None = "client.admin",
                 keyring: str | None = None):
        self.runner = runner
        self.pool = pool
        self.namespace = namespace
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._base = ["rados"]
        if conf:
            self._base += ["--conf", conf]
        if name:
            self._base += ["--name", name]
        if keyring:
            self._base += ["--keyring", keyring]
        self._base += ["-p", pool, "-N", namespace]
        self._seq = itertools.count()

    def _tmp(self, label: str) -> Path:
        return self.scratch / f"{label}.{os.getpid()}.{threading.get_ident()}.{next(self._seq)}"

    def put(self, name: str, data: bytes, *, timeout: float) -> None:
        path = self._tmp("put")
        path.write_bytes(data)
        try:
            self.runner.run([*self._base, "put", name, str(path)], timeout=timeout)
        finally:
            path.unlink(missing_ok=True)

    def get(self, name: str, *, timeout: float) -> bytes:
        path = self._tmp("get")
        try:
            result = self.runner.run([*self._base, "get", name, str(path)], timeout=timeout, check=False)
            if result.returncode != 0:
                if "(2) No such file or directory" in result.stderr:
                    raise ObjectMissing(result.argv, "no such object", result)
                detail = (result.stderr or result.stdout).strip()[-300:] or "(no output)"
                raise CommandError(result.argv, f"exit status {result.returncode}: {detail}", result)
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

    def remove(self, name: str, *, timeout: float) -> bool:
        """Remove an object; False if it did not exist."""
        result = self.runner.run([*self._base, "rm", name], timeout=timeout, check=False)
        if result.returncode != 0:
            if "(2) No such file or directory" in result.stderr:
                return False
            raise CommandError(result.argv, f"exit status {result.returncode}: {result.stderr.strip()[-300:]}",
                               result)
        return True

    def list(self, *, timeout: float) -> list[str]:
        out = self.runner.run([*self._base, "ls"], timeout=timeout).stdout
        return [line for line in out.splitlines() if line]


@dataclass(frozen=True)
class WriteRecord:
    """One write: ``started``/``ended`` are ``time.monotonic()``; ``ok`` means
    acknowledged."""

    name: str
    size: int
    sha256: str
    phase: str
    started: float
    ended: float
    ok: bool
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.ended - self.started

    def to_dict(self, t0: float = 0.0) -> dict:
        return {"name": self.name, "size": self.size, "sha256": self.sha256, "phase": self.phase,
                "started": round(self.started - t0, 3), "ended": round(self.ended - t0, 3), "ok": self.ok,
                "error": self.error}


class History:
    """Every write of a workload, in completion order; thread-safe."""

    def __init__(self) -> None:
        self._records: list[WriteRecord] = []
        self._lock = threading.Lock()

    def add(self, record: WriteRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[WriteRecord]:
        with self._lock:
            return list(self._records)

    def acknowledged(self) -> list[WriteRecord]:
        return [r for r in self.records if r.ok]

    def indeterminate(self) -> list[WriteRecord]:
        return [r for r in self.records if not r.ok]

    def in_phase(self, phase: str) -> list[WriteRecord]:
        return [r for r in self.records if r.phase == phase]

    def __len__(self) -> int:
        return len(self.records)


class Workload:
    """Writes checksummed objects, records the history, cleans up after itself."""

    def __init__(self, objects: RadosObjects, *, run: str, seed: str | None = None,
                 write_timeout: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.objects = objects
        self.run = run
        self.seed = seed or run
        self.write_timeout = write_timeout
        self.clock = clock
        self.history = History()
        self._seq = itertools.count()
        self._seq_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._bg_count = 0
        self._bg_lock = threading.Lock()

    def _name(self, phase: str) -> str:
        with self._seq_lock:
            return f"{self.run}-{phase}-{next(self._seq):06d}"

    def write_one(self, phase: str, size: int, *, timeout: float | None = None) -> WriteRecord:
        name = self._name(phase)
        data = payload(self.seed, name, size)
        digest = sha256(data)
        started = self.clock()
        try:
            self.objects.put(name, data, timeout=timeout or self.write_timeout)
            record = WriteRecord(name, size, digest, phase, started, self.clock(), True)
        except CommandError as exc:
            record = WriteRecord(name, size, digest, phase, started, self.clock(), False, str(exc)[-300:])
        self.history.add(record)
        return record

    def write_batch(self, phase: str, *, count: int, size: int, concurrency: int = 4,
                    max_seconds: float = 600.0) -> list[WriteRecord]:
        """Write ``count`` objects of ``size`` bytes (fewer if ``max_seconds`` pass)."""
        deadline = self.clock() + max_seconds

        def one(_: int) -> WriteRecord | None:
            if self.clock() > deadline:
                return None
            return self.write_one(phase, size)

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            return [r for r in pool.map(one, range(count)) if r is not None]

    # -- background writes while a fault happens ------------------------------
    def start_background(self, phase: str = "during", *, size: int = 64 * 1024, interval: float = 0.2,
                         concurrency: int = 2, max_objects: int = 2000, max_seconds: float = 1800.0) -> None:
        """Writers that each write one object every ``interval`` seconds until
        :meth:`stop_background`, ``max_objects`` in all or ``max_seconds``."""
        self._stop.clear()
        deadline = self.clock() + max_seconds

        def loop() -> None:
            while not self._stop.is_set() and self.clock() < deadline:
                with self._bg_lock:
                    if self._bg_count >= max_objects:
                        return
                    self._bg_count += 1
                began = self.clock()
                self.write_one(phase, size)
                self._stop.wait(max(0.0, interval - (self.clock() - began)))

        for i in range(max(1, concurrency)):
            t = threading.Thread(target=loop, name=f"chaos-writer-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop_background(self, timeout: float | None = None) -> None:
        """Stop the writers; a write in flight finishes (or times out) first."""
        self._stop.set()
        limit = timeout if timeout is not None else self.write_timeout + 15
        for t in self._threads:
            t.join(limit)
        self._threads = [t for t in self._threads if t.is_alive()]

    # -- clean up ----------------------------------------------------------------
    def cleanup(self, *, concurrency: int = 4, timeout: float = 60.0) -> int:
        """Remove every object this workload tried to write; returns how many existed."""
        names = sorted({r.name for r in self.history.records})
        return remove_objects(self.objects, names, concurrency=concurrency, timeout=timeout)


def remove_objects(objects: RadosObjects, names: Sequence[str], *, concurrency: int = 4,
                   timeout: float = 60.0) -> int:
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return sum(pool.map(lambda n: objects.remove(n, timeout=timeout), names))
