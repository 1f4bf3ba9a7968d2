"""The API's own state: one SQLite file, shared by the service's threads.

Each service module declares its tables as ``SCHEMA`` (``CREATE TABLE IF NOT
EXISTS …``); :meth:`Database.open` creates what is missing. Access is
serialised by one lock: the reference cloud serves a handful of clients,
and one writer at a time keeps every read consistent with the last write.
Rows come back as dicts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

BUSY_TIMEOUT = 30.0


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: Any) -> bool:
    """A UUID in its usual 36-character form or as 32 hex digits."""
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value.replace("-", "")) == 32


def hex_id() -> str:
    """Keystone's ids: 32 hex digits."""
    return uuid.uuid4().hex


def now() -> float:
    return time.time()


def iso(ts: float | None) -> str | None:
    """Seconds since the epoch → ``2026-11-24T04:02:24Z`` (None stays None)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_micro(ts: float) -> str:
    """Keystone's token timestamps: ``2026-11-24T04:02:24.000000Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e6):06d}Z"


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


class Database:
    def __init__(self, path: Path | str):
        self.path = str(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT,
                                     isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @classmethod
    def open(cls, path: Path | str, schemas: Iterable[str]) -> "Database":
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = cls(path)
        with db._lock:
            for schema in schemas:
                db._conn.executescript(schema)  # its own transaction per script
        return db

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> dict | None:
        with self._lock:
            row = self._conn.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, *args: Any) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, args).fetchall()]

    def execute(self, sql: str, *args: Any) -> int:
        """One statement in its own transaction; returns the rows changed."""
        with self.tx() as c:
            return c.execute(sql, args).rowcount
