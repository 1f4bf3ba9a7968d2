"""Cinder's records in the API's SQLite database, and the small pool of
worker threads that runs the slow RBD work (creates, copies, deletes) after
the API has answered 202.

A volume row is what Cinder knows: owner, name, size, status, the source it
was made from, metadata, image metadata, the readonly and bootable flags and
its attachments (a JSON list, Cinder's ``attachments`` view). The data is the
RBD image the block library (:mod:`..block.volumes`) keeps for it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .db import Database, dumps, loads, now

log = logging.getLogger("octoprobe.api.volume")

WORKERS = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS cinder_volumes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    volume_type TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    bootable INTEGER NOT NULL DEFAULT 0,
    readonly INTEGER,                  -- NULL: never set (not shown in metadata)
    source_volid TEXT,
    snapshot_id TEXT,
    image_id TEXT,                     -- the image the volume was made from (its kernel boots it)
    image_metadata TEXT,               -- JSON or NULL
    metadata TEXT NOT NULL DEFAULT '{}',
    attachments TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cinder_volumes_project ON cinder_volumes (project_id);
CREATE TABLE IF NOT EXISTS cinder_snapshots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cinder_snapshots_volume ON cinder_snapshots (volume_id);
CREATE TABLE IF NOT EXISTS cinder_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
"""

_JSON = {"metadata": {}, "attachments": [], "image_metadata": None}


def _decode(row: dict | None) -> dict | None:
    if row is None:
        return None
    for column, default in _JSON.items():
        if column in row:
            row[column] = loads(row[column], default)
    return row


class CinderStore:
    def __init__(self, db: Database):
        self.db = db

    # -- volumes ---------------------------------------------------------------------------
    def insert_volume(self, row: dict) -> None:
        row = {**row, "created_at": row.get("created_at") or now(), "updated_at": now()}
        for column in _JSON:
            if column in row and not isinstance(row[column], str) and row[column] is not None:
                row[column] = dumps(row[column])
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT INTO cinder_volumes ({names}) VALUES ({marks})", *row.values())

    def volume(self, volume_id: str) -> dict | None:
        return _decode(self.db.one("SELECT * FROM cinder_volumes WHERE id = ?", volume_id))

    def volumes(self, project_id: str | None = None) -> list[dict]:
        if project_id is None:
            rows = self.db.all("SELECT * FROM cinder_volumes")
        else:
            rows = self.db.all("SELECT * FROM cinder_volumes WHERE project_id = ?", project_id)
        return [_decode(r) for r in rows]

    def update_volume(self, volume_id: str, **changes: Any) -> None:
        self._update("cinder_volumes", volume_id, changes)

    def set_volume_status_if(self, volume_id: str, allowed: tuple[str, ...], status: str,
                             **changes: Any) -> str | None:
        """Move a volume to ``status`` if it is in one of ``allowed`` (atomically);
        returns the status it had (None when it does not exist)."""
        with self.db.tx() as c:
            found = c.execute("SELECT status FROM cinder_volumes WHERE id = ?", (volume_id,)).fetchone()
            if found is None:
                return None
            if found["status"] in allowed:
                values = {"status": status, **changes, "updated_at": now()}
                values = {k: (dumps(v) if k in _JSON and v is not None and not isinstance(v, str) else v)
                          for k, v in values.items()}
                sets = ", ".join(f"{k} = ?" for k in values)
                c.execute(f"UPDATE cinder_volumes SET {sets} WHERE id = ?", (*values.values(), volume_id))
            return found["status"]

    def delete_volume(self, volume_id: str) -> None:
        self.db.execute("DELETE FROM cinder_volumes WHERE id = ?", volume_id)

    def attached_to(self, server_id: str) -> list[dict]:
        """Volumes with an attachment to ``server_id``."""
        rows = self.db.all("SELECT * FROM cinder_volumes WHERE attachments LIKE ?", f"%{server_id}%")
        return [r for r in map(_decode, rows) if any(a.get("server_id") == server_id for a in r["attachments"])]

    # -- snapshots -------------------------------------------------------------------------
    def insert_snapshot(self, row: dict) -> None:
        row = {**row, "created_at": now(), "updated_at": now(), "metadata": dumps(row.get("metadata") or {})}
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT INTO cinder_snapshots ({names}) VALUES ({marks})", *row.values())

    def snapshot(self, snapshot_id: str) -> dict | None:
        return _decode(self.db.one("SELECT * FROM cinder_snapshots WHERE id = ?", snapshot_id))

    def snapshots(self, project_id: str | None = None, *, volume_id: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM cinder_snapshots WHERE 1=1", []
        if project_id is not None:
            sql, args = sql + " AND project_id = ?", [*args, project_id]
        if volume_id is not None:
            sql, args = sql + " AND volume_id = ?", [*args, volume_id]
        return [_decode(r) for r in self.db.all(sql, *args)]

    def update_snapshot(self, snapshot_id: str, **changes: Any) -> None:
        self._update("cinder_snapshots", snapshot_id, changes)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.db.execute("DELETE FROM cinder_snapshots WHERE id = ?", snapshot_id)

    # -- quotas ----------------------------------------------------------------------------
    def quota_overrides(self, project_id: str) -> dict[str, int]:
        rows = self.db.all("SELECT resource, hard_limit FROM cinder_quotas WHERE project_id = ?", project_id)
        return {r["resource"]: int(r["hard_limit"]) for r in rows}

    def set_quota(self, project_id: str, resource: str, limit: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO cinder_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)",
                        project_id, resource, int(limit))

    def clear_quotas(self, project_id: str) -> None:
        self.db.execute("DELETE FROM cinder_quotas WHERE project_id = ?", project_id)

    # -- helpers ---------------------------------------------------------------------------
    def _update(self, table: str, ident: str, changes: dict) -> None:
        values = {k: (dumps(v) if k in _JSON and v is not None and not isinstance(v, str) else v)
                  for k, v in changes.items()}
        values["updated_at"] = now()
        sets = ", ".join(f"{k} = ?" for k in values)
        self.db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", *values.values(), ident)


class CinderRuntime:
    """Per-backend: the store, the block library and a small worker pool."""

    def __init__(self, backend: Any):
        self.backend = backend
        self.store = CinderStore(backend.db)
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cinder-worker")
        self.lock = threading.Lock()  # serialises quota checks with the inserts they guard
        self._blocks: Any = None
        self._recovered = False
        self._recover_lock = threading.Lock()

    def blocks(self) -> Any:
        """The block library over the compute library's RBD client (opened once)."""
        if self._blocks is None:
            from ..block.volumes import BlockStore
            self._blocks = BlockStore(self.backend.compute().rbd)
        return self._blocks

    def ensure_recovered(self) -> None:
        """Once per process: work an earlier API process left half-done
        (its worker threads died with it) ends in a state Cinder knows: a
        create is an error (its RBD image, if any, goes with the volume), a
        delete is done again, an extend, upload, attach or detach in
        progress leaves the volume as its attachments say."""
        if self._recovered:
            return
        with self._recover_lock:
            if self._recovered:
                return
            try:
                self._recover()
            except Exception:
                log.exception("recovering Cinder's unfinished work failed")
            self._recovered = True

    def _recover(self) -> None:
        from .volume_snapshots import finish_delete_snapshot
        from .volume_volumes import finish_delete
        for snap in self.store.snapshots():
            if snap["status"] == "creating":
                self.store.update_snapshot(snap["id"], status="error")
            elif snap["status"] == "deleting":
                self.submit(finish_delete_snapshot, self, snap["volume_id"], snap["id"])
        for row in self.store.volumes():
            status = row["status"]
            if status in ("creating", "downloading"):
                self.store.update_volume(row["id"], status="error",
                                         error="the API restarted while the volume was made")
            elif status in ("extending", "uploading", "attaching", "detaching", "reserved"):
                self.store.update_volume(row["id"], status="in-use" if row["attachments"] else "available")
            elif status == "deleting":
                snaps = [s["id"] for s in self.store.snapshots(volume_id=row["id"])]
                self.submit(finish_delete, self, row["id"], snaps)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except Exception:  # the task records its own outcome; this is a bug
                log.exception("cinder background task %s failed", getattr(fn, "__name__", fn))
        self.pool.submit(run)


def runtime(backend: Any) -> CinderRuntime:
    """The backend's Cinder runtime, attached on first use."""
    rt = backend.runtime("cinder", CinderRuntime)
    rt.ensure_recovered()
    return rt
