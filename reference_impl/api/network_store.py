"""What Neutron shows that the network library does not keep: the standard
attributes (description, tags, created/updated times, revision number),
a few API-only attributes (``admin_state_up``, a router's ``routes``, the
subnet pool a subnet came from), subnet pools and quotas.

Rows are keyed by the resource's id. A resource made directly through the
library (``cloud up``'s provisioning, Nova's ports) has no row until the API
first shows it; then it gets one with the defaults.
"""

from __future__ import annotations

from typing import Any, Iterable

from .db import Database, dumps, loads, new_id, now

SCHEMA = """
CREATE TABLE IF NOT EXISTS neutron_attrs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS neutron_subnetpools (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS neutron_quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
"""

DEFAULT_QUOTAS = {
    "network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
    "security_group": 10, "security_group_rule": 100, "subnetpool": -1,
}


class Attrs:
    """The standard attributes of one resource."""

    __slots__ = ("id", "description", "tags", "extra", "created_at", "updated_at", "revision")

    def __init__(self, row: dict):
        self.id = row["id"]
        self.description = row["description"]
        self.tags = loads(row["tags"], [])
        self.extra = loads(row["extra"], {})
        self.created_at = row["created_at"]
        self.updated_at = row["updated_at"]
        self.revision = row["revision"]


class NeutronStore:
    def __init__(self, db: Database):
        self.db = db

    # -- standard attributes --------------------------------------------------------
    def attrs(self, kind: str, ids: Iterable[str]) -> dict[str, Attrs]:
        """The rows of ``ids``, made with defaults where missing."""
        ids = list(ids)
        if not ids:
            return {}
        found: dict[str, Attrs] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.all(f"SELECT * FROM neutron_attrs WHERE id IN ({marks})", *chunk):
                found[row["id"]] = Attrs(row)
        missing = [i for i in ids if i not in found]
        if missing:
            stamp = now()
            with self.db.tx() as c:
                for ident in missing:
                    c.execute("INSERT OR IGNORE INTO neutron_attrs (id, kind, created_at, updated_at) "
                              "VALUES (?, ?, ?, ?)", (ident, kind, stamp, stamp))
            for ident in missing:
                found[ident] = Attrs({"id": ident, "description": "", "tags": "[]", "extra": "{}",
                                      "created_at": stamp, "updated_at": stamp, "revision": 0})
        return found

    def one(self, kind: str, ident: str) -> Attrs:
        return self.attrs(kind, [ident])[ident]

    def create(self, kind: str, ident: str, *, description: str = "", tags: list[str] | None = None,
               extra: dict | None = None) -> None:
        stamp = now()
        self.db.execute("INSERT OR REPLACE INTO neutron_attrs (id, kind, description, tags, extra, created_at, "
                        "updated_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                        ident, kind, description, dumps(tags or []), dumps(extra or {}), stamp, stamp)

    def touch(self, kind: str, ident: str, *, description: str | None = None, tags: list[str] | None = None,
              extra: dict | None = None) -> None:
        """A change: bump the revision and the update time; set what is given
        (``extra`` is merged)."""
        current = self.one(kind, ident)
        merged = dict(current.extra)
        merged.update(extra or {})
        self.db.execute("UPDATE neutron_attrs SET description = ?, tags = ?, extra = ?, updated_at = ?, "
                        "revision = revision + 1 WHERE id = ?",
                        current.description if description is None else description,
                        dumps(current.tags if tags is None else tags), dumps(merged), now(), ident)

    def forget(self, ident: str) -> None:
        self.db.execute("DELETE FROM neutron_attrs WHERE id = ?", ident)

    # -- subnet pools -----------------------------------------------------------------
    def subnetpools(self) -> list[dict]:
        return [loads(r["data"]) for r in self.db.all("SELECT data FROM neutron_subnetpools ORDER BY rowid")]

    def subnetpool(self, ident: str) -> dict | None:
        row = self.db.one("SELECT data FROM neutron_subnetpools WHERE id = ?", ident)
        return loads(row["data"]) if row else None

    def save_subnetpool(self, pool: dict) -> dict:
        if not pool.get("id"):
            pool["id"] = new_id()
        self.db.execute("INSERT OR REPLACE INTO neutron_subnetpools (id, project_id, data) VALUES (?, ?, ?)",
                        pool["id"], pool["project_id"], dumps(pool))
        return pool

    def delete_subnetpool(self, ident: str) -> None:
        self.db.execute("DELETE FROM neutron_subnetpools WHERE id = ?", ident)

    # -- quotas --------------------------------------------------------------------------
    def quotas(self, project_id: str) -> dict[str, int]:
        result = dict(DEFAULT_QUOTAS)
        for row in self.db.all("SELECT resource, hard_limit FROM neutron_quotas WHERE project_id = ?", project_id):
            result[row["resource"]] = row["hard_limit"]
        return result

    def projects_with_quotas(self) -> list[str]:
        return [r["project_id"] for r in self.db.all("SELECT DISTINCT project_id FROM neutron_quotas "
                                                     "ORDER BY project_id")]

    def set_quotas(self, project_id: str, limits: dict[str, int]) -> None:
        with self.db.tx() as c:
            for resource, limit in limits.items():
                c.execute("INSERT OR REPLACE INTO neutron_quotas (project_id, resource, hard_limit) "
                          "VALUES (?, ?, ?)", (project_id, resource, int(limit)))

    def reset_quotas(self, project_id: str) -> None:
        self.db.execute("DELETE FROM neutron_quotas WHERE project_id = ?", project_id)


def store(req: Any) -> NeutronStore:
    return NeutronStore(req.backend.db)
