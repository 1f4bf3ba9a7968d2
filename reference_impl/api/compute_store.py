"""Nova's bookkeeping in the API's SQLite database, and the bounded pool of
worker threads that runs the slow compute operations (boots, stops …) after
the API has answered 202.

What a server *is* doing (status, power state, addresses) is the compute
library's; what Nova knows beyond that lives here: which project and user own
a server, its request (image, flavor, networks), its tags, metadata, lock,
the task in progress, the instance actions and their events, a failed build's
fault, key pairs and quota overrides.
"""

from __future__ import annotations

import logging
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .db import Database, dumps, loads, now

log = logging.getLogger("octoprobe.api.compute")

WORKERS = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS nova_servers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    image_id TEXT NOT NULL,
    flavor TEXT NOT NULL,              -- JSON: the flavor at boot
    key_name TEXT,
    key_data TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    user_data TEXT,                    -- base64 as given
    availability_zone TEXT,            -- as requested (NULL: any)
    config_drive INTEGER NOT NULL DEFAULT 1,
    security_groups TEXT NOT NULL DEFAULT '[]',  -- JSON: names
    reservation_id TEXT NOT NULL,
    launch_index INTEGER NOT NULL DEFAULT 0,
    build_state TEXT NOT NULL,         -- building | done | failed
    task_state TEXT,                   -- a Nova task in progress (powering-off …)
    fault TEXT,                        -- JSON {code, message, created}
    locked INTEGER NOT NULL DEFAULT 0,
    locked_reason TEXT,
    locked_by TEXT,                    -- admin | owner
    access_ipv4 TEXT NOT NULL DEFAULT '',
    access_ipv6 TEXT NOT NULL DEFAULT '',
    deleted INTEGER NOT NULL DEFAULT 0,  -- 1: being deleted (still shown), 2: gone (actions stay readable)
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nova_servers_project ON nova_servers (project_id);
CREATE TABLE IF NOT EXISTS nova_server_tags (
    server_id TEXT NOT NULL REFERENCES nova_servers (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (server_id, tag)
);
CREATE TABLE IF NOT EXISTS nova_actions (
    request_id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    message TEXT,
    start_time REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (server_id, request_id)
);
CREATE TABLE IF NOT EXISTS nova_action_events (
    server_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    event TEXT NOT NULL,
    start_time REAL NOT NULL,
    finish_time REAL,
    result TEXT,
    traceback TEXT,
    host TEXT,
    details TEXT
);
CREATE TABLE IF NOT EXISTS nova_keypairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE IF NOT EXISTS nova_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
"""

SERVER_JSON_COLUMNS = ("flavor", "metadata", "security_groups", "fault")


def _decode(row: dict | None) -> dict | None:
    if row is None:
        return None
    for column in SERVER_JSON_COLUMNS:
        row[column] = loads(row[column], {} if column != "security_groups" else [])
    if not row["fault"]:
        row["fault"] = None
    return row


class NovaStore:
    def __init__(self, db: Database):
        self.db = db

    # -- servers -----------------------------------------------------------------------
    def insert_server(self, row: dict) -> None:
        row = dict(row)
        for column in SERVER_JSON_COLUMNS:
            if column in row:
                row[column] = dumps(row[column]) if row[column] is not None else None
        t = now()
        row.setdefault("created_at", t)
        row.setdefault("updated_at", t)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT INTO nova_servers ({names}) VALUES ({marks})", *row.values())

    def server(self, server_id: str, *, gone: bool = False) -> dict | None:
        sql = "SELECT * FROM nova_servers WHERE id = ?" + ("" if gone else " AND deleted < 2")
        return _decode(self.db.one(sql, server_id))

    def servers(self, project_id: str | None = None, *, gone_since: float | None = None) -> list[dict]:
        """The servers (of a project); with ``gone_since`` also those deleted since then."""
        where = "(deleted < 2 OR updated_at >= ?)" if gone_since is not None else "deleted < 2"
        args: list = [gone_since] if gone_since is not None else []
        if project_id is not None:
            where += " AND project_id = ?"
            args.append(project_id)
        rows = self.db.all(f"SELECT * FROM nova_servers WHERE {where} ORDER BY created_at DESC, id", *args)
        return [_decode(r) for r in rows]

    def update_server(self, server_id: str, **changes: Any) -> None:
        if not changes:
            return
        for column in SERVER_JSON_COLUMNS:
            if column in changes and changes[column] is not None:
                changes[column] = dumps(changes[column])
        changes["updated_at"] = now()
        sets = ", ".join(f"{k} = ?" for k in changes)
        self.db.execute(f"UPDATE nova_servers SET {sets} WHERE id = ?", *changes.values(), server_id)

    def set_task_if_idle(self, server_id: str, task_state: str) -> str | None:
        """Claim the server for a task; returns the task in the way (None: claimed)."""
        with self.db.tx() as c:
            row = c.execute("SELECT task_state FROM nova_servers WHERE id = ? AND deleted < 2",
                            (server_id,)).fetchone()
            if row is None:
                return "deleted"
            if row["task_state"]:
                return row["task_state"]
            c.execute("UPDATE nova_servers SET task_state = ?, updated_at = ? WHERE id = ?",
                      (task_state, now(), server_id))
            return None

    def clear_task(self, server_id: str, task_state: str) -> None:
        """End ``task_state`` (and only it: a delete may have replaced it)."""
        self.db.execute("UPDATE nova_servers SET task_state = NULL, updated_at = ? WHERE id = ? AND task_state = ?",
                        now(), server_id, task_state)

    def request_delete(self, server_id: str) -> str:
        """Mark the server as being deleted (it stays visible, task_state
        ``deleting``, until it is gone); returns its build_state (a building
        server is deleted by its build thread when the build ends), or
        ``deleting`` when a delete is under way already."""
        with self.db.tx() as c:
            row = c.execute("SELECT build_state, deleted FROM nova_servers WHERE id = ?", (server_id,)).fetchone()
            if row is None or row["deleted"]:
                return "deleting"
            c.execute("UPDATE nova_servers SET deleted = 1, task_state = 'deleting', updated_at = ? WHERE id = ?",
                      (now(), server_id))
            return row["build_state"]

    def finish_build(self, server_id: str, *, failed_fault: dict | None = None) -> bool:
        """Record the build's end; True when the server was deleted meanwhile."""
        with self.db.tx() as c:
            row = c.execute("SELECT deleted FROM nova_servers WHERE id = ?", (server_id,)).fetchone()
            if failed_fault is None:
                c.execute("UPDATE nova_servers SET build_state = 'done', updated_at = ? WHERE id = ?",
                          (now(), server_id))
            else:
                c.execute("UPDATE nova_servers SET build_state = 'failed', fault = ?, updated_at = ? "
                          "WHERE id = ?", (dumps(failed_fault), now(), server_id))
            return bool(row and row["deleted"])

    def unfinished(self) -> list[dict]:
        """Rows an API process left mid-work: building, deleted, or with a task."""
        return [_decode(r) for r in self.db.all(
            "SELECT * FROM nova_servers WHERE deleted < 2 AND (build_state = 'building' OR deleted = 1 "
            "OR task_state IS NOT NULL)")]

    def purge_server(self, server_id: str) -> None:
        """The server is gone: hidden from now on (its instance actions stay readable)."""
        self.db.execute("UPDATE nova_servers SET deleted = 2, task_state = NULL, updated_at = ? WHERE id = ?",
                        now(), server_id)

    # -- tags ----------------------------------------------------------------------------
    def tags(self, server_id: str) -> list[str]:
        return [r["tag"] for r in self.db.all("SELECT tag FROM nova_server_tags WHERE server_id = ? ORDER BY tag",
                                              server_id)]

    def all_tags(self) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {}
        for r in self.db.all("SELECT server_id, tag FROM nova_server_tags"):
            result.setdefault(r["server_id"], set()).add(r["tag"])
        return result

    def set_tags(self, server_id: str, tags: list[str]) -> None:
        with self.db.tx() as c:
            c.execute("DELETE FROM nova_server_tags WHERE server_id = ?", (server_id,))
            for tag in dict.fromkeys(tags):
                c.execute("INSERT INTO nova_server_tags (server_id, tag) VALUES (?, ?)", (server_id, tag))

    def add_tag(self, server_id: str, tag: str) -> bool:
        return self.db.execute("INSERT OR IGNORE INTO nova_server_tags (server_id, tag) VALUES (?, ?)",
                               server_id, tag) > 0

    def remove_tag(self, server_id: str, tag: str) -> bool:
        return self.db.execute("DELETE FROM nova_server_tags WHERE server_id = ? AND tag = ?", server_id, tag) > 0

    # -- instance actions ------------------------------------------------------------------
    def start_action(self, server_id: str, request_id: str, action: str, project_id: str, user_id: str,
                     event: str | None = None, host: str | None = None) -> None:
        t = now()
        with self.db.tx() as c:
            c.execute("INSERT OR REPLACE INTO nova_actions (request_id, server_id, action, project_id, user_id, "
                      "message, start_time, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                      (request_id, server_id, action, project_id, user_id, t, t))
            if event:
                c.execute("INSERT INTO nova_action_events (server_id, request_id, event, start_time, host) "
                          "VALUES (?, ?, ?, ?, ?)", (server_id, request_id, event, t, host))

    def finish_action(self, server_id: str, request_id: str, *, error: str | None = None,
                      tb: str | None = None, host: str | None = None) -> None:
        t = now()
        with self.db.tx() as c:
            c.execute("UPDATE nova_actions SET updated_at = ?, message = ? WHERE server_id = ? AND request_id = ?",
                      (t, "Error" if error else None, server_id, request_id))
            c.execute("UPDATE nova_action_events SET finish_time = ?, result = ?, traceback = ?, details = ?, "
                      "host = COALESCE(?, host) WHERE server_id = ? AND request_id = ? AND finish_time IS NULL",
                      (t, "Error" if error else "Success", tb, error, host, server_id, request_id))

    def actions(self, server_id: str) -> list[dict]:
        return self.db.all("SELECT * FROM nova_actions WHERE server_id = ? ORDER BY start_time DESC, rowid DESC",
                           server_id)

    def action(self, server_id: str, request_id: str) -> dict | None:
        return self.db.one("SELECT * FROM nova_actions WHERE server_id = ? AND request_id = ?", server_id,
                           request_id)

    def events(self, server_id: str, request_id: str) -> list[dict]:
        return self.db.all("SELECT * FROM nova_action_events WHERE server_id = ? AND request_id = ? "
                           "ORDER BY start_time, rowid", server_id, request_id)

    # -- key pairs -------------------------------------------------------------------------
    def keypairs(self, user_id: str) -> list[dict]:
        return self.db.all("SELECT * FROM nova_keypairs WHERE user_id = ? ORDER BY name", user_id)

    def keypair(self, user_id: str, name: str) -> dict | None:
        return self.db.one("SELECT * FROM nova_keypairs WHERE user_id = ? AND name = ?", user_id, name)

    def create_keypair(self, user_id: str, name: str, key_type: str, public_key: str, fingerprint: str) -> dict | None:
        """None when the user has a key pair of that name already."""
        with self.db.tx() as c:
            if c.execute("SELECT 1 FROM nova_keypairs WHERE user_id = ? AND name = ?", (user_id, name)).fetchone():
                return None
            c.execute("INSERT INTO nova_keypairs (user_id, name, type, public_key, fingerprint, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (user_id, name, key_type, public_key, fingerprint, now()))
        return self.keypair(user_id, name)

    def delete_keypair(self, user_id: str, name: str) -> bool:
        return self.db.execute("DELETE FROM nova_keypairs WHERE user_id = ? AND name = ?", user_id, name) > 0

    # -- quotas ----------------------------------------------------------------------------
    def quota_overrides(self, project_id: str) -> dict[str, int]:
        return {r["resource"]: r["hard_limit"]
                for r in self.db.all("SELECT * FROM nova_quotas WHERE project_id = ?", project_id)}

    def set_quota(self, project_id: str, resource: str, limit: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO nova_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)",
                        project_id, resource, limit)

    def clear_quotas(self, project_id: str) -> None:
        self.db.execute("DELETE FROM nova_quotas WHERE project_id = ?", project_id)


class NovaRuntime:
    """Per-backend: the store and a small worker pool (no module globals)."""

    def __init__(self, backend: Any):
        self.backend = backend
        self.store = NovaStore(backend.db)
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="nova-worker")
        self.lock = threading.Lock()  # serialises quota checks with the inserts they guard
        self._recovered = False
        self._recover_lock = threading.Lock()

    def ensure_recovered(self, recover: Callable[[], None]) -> None:
        """Run ``recover`` once per process (work an earlier API process left)."""
        if self._recovered:
            return
        with self._recover_lock:  # others wait: a build they start must not look unfinished
            if self._recovered:
                return
            try:
                recover()
            except Exception:
                log.exception("recovering Nova's unfinished work failed")
            self._recovered = True

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except Exception:  # the task records its own outcome; this is a bug
                log.exception("nova background task %s failed", getattr(fn, "__name__", fn))
        self.pool.submit(run)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def runtime(backend: Any) -> NovaRuntime:
    """The backend's Nova runtime, attached on first use."""
    return backend.runtime("nova", NovaRuntime)


def format_tb() -> str:
    return traceback.format_exc(limit=5)
