"""The history store: every run's result in one SQLite file.

One row per run (its redacted ``summary.json`` in full, plus the columns the
queries need: times, verdict, exit code, cloud, report directory, counts),
and one row per test, gate and sample so that metrics can be followed across
runs without decoding every summary. Recording a run id again replaces it.

The file is ``$OCTOPROBE_HISTORY``, else ``~/.local/state/octoprobe/history.sqlite``
(:func:`default_history_path`). Every operation opens its own connection
(with a busy timeout) and runs in one transaction, so several processes can
share a store.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, NamedTuple

from octoprobe.report.model import RunResult

__all__ = [
    "SCHEMA_VERSION",
    "HistoryError",
    "RunNotFound",
    "RunRecord",
    "SeriesPoint",
    "HistoryStore",
    "default_history_path",
    "record_run",
    "parse_time",
]

#: The store's own schema version (not the summary's).
SCHEMA_VERSION = 1
CONNECT_TIMEOUT = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    started_epoch REAL NOT NULL,
    verdict TEXT NOT NULL,
    exit_code INTEGER,
    cloud TEXT,
    report_dir TEXT,
    tests_total INTEGER NOT NULL,
    tests_failed INTEGER NOT NULL,
    gates_total INTEGER NOT NULL,
    failed_gates TEXT NOT NULL,
    recorded TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (cloud, started_epoch);
CREATE TABLE IF NOT EXISTS tests (
    run_id TEXT NOT NULL,
    nodeid TEXT NOT NULL,
    outcome TEXT NOT NULL,
    duration REAL NOT NULL,
    capability TEXT
);
CREATE INDEX IF NOT EXISTS tests_by_run ON tests (run_id);
CREATE TABLE IF NOT EXISTS gates (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    metric TEXT NOT NULL,
    statistic TEXT NOT NULL,
    comparison TEXT NOT NULL,
    threshold REAL,
    measured REAL,
    unit TEXT NOT NULL,
    passed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS gates_by_run ON gates (run_id);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL,
    nodeid TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_metric ON samples (metric, run_id);
CREATE INDEX IF NOT EXISTS samples_by_run ON samples (run_id);
"""

_RUN_COLUMNS = ("run_id, started, finished, verdict, exit_code, cloud, report_dir, "
                "tests_total, tests_failed, gates_total, failed_gates")


class HistoryError(Exception):
    """The store cannot be opened or read; the message names the file."""


class RunNotFound(HistoryError, LookupError):
    """No run, or more than one, matches the id (prefix) given."""


@dataclass(frozen=True)
class RunRecord:
    """One run as listed by :meth:`HistoryStore.runs` (no tests, no samples)."""

    run_id: str
    started: str
    finished: str
    verdict: str
    exit_code: int | None
    cloud: str | None
    report_dir: str | None
    tests_total: int
    tests_failed: int
    gates_total: int
    failed_gates: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "failed_gates": list(self.failed_gates)}


class SeriesPoint(NamedTuple):
    """One run's samples of one metric: what a trend is made of."""

    run_id: str
    started: str
    values: tuple[float, ...]
    unit: str


def default_history_path(env: Mapping[str, str] = os.environ) -> Path:
    """``$OCTOPROBE_HISTORY``, else ``~/.local/state/octoprobe/history.sqlite``."""
    given = env.get("OCTOPROBE_HISTORY")
    if given:
        return Path(given).expanduser()
    return Path("~/.local/state/octoprobe/history.sqlite").expanduser()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime (naive times are taken as UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _epoch(text: str) -> float:
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return 0.0


def _matches(metadata: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    """Every key of ``where`` is in ``metadata`` with the same value (compared as text too)."""
    return all(k in metadata and (metadata[k] == v or str(metadata[k]) == str(v)) for k, v in where.items())


class HistoryStore:
    """The runs recorded in the SQLite file ``path``.

    ``create=False`` refuses a file that does not exist (for commands that only
    read) instead of creating an empty store.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = CONNECT_TIMEOUT):
        self.path = Path(path).expanduser()
        self.timeout = timeout
        if not self.path.exists():
            if not create:
                raise HistoryError(f"no history at {self.path} (runs are recorded by 'octoprobe run' "
                                   "or 'octoprobe history add')")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_schema()

    def __repr__(self) -> str:
        return f"HistoryStore({str(self.path)!r})"

    # ---- plumbing
    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction; any SQLite failure becomes a :class:`HistoryError`."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path}: cannot open: {exc}") from None
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path}: not a readable octoprobe history: {exc}") from None
        finally:
            conn.close()

    def _init_schema(self) -> None:
        """Create the tables unless they exist (a store that exists is only read
        here, so a read-only file can still be queried); refuse a newer schema."""
        with self._connect() as conn:
            version = self._version(conn)
        if version is None:
            with self._connect(write=True) as conn:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                if self._version(conn) is None:
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif version > SCHEMA_VERSION:
            raise HistoryError(f"history {self.path}: schema version {version} is newer than this octoprobe "
                               f"understands ({SCHEMA_VERSION}); upgrade octoprobe")

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int | None:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
        return conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] if found else None

    # ---- writing
    def record(self, result: RunResult, report_dir: str | None = None, cloud: str | None = None,
               exit_code: int | None = None) -> None:
        """Store ``result`` (redacted) under its run id, replacing an earlier record of it."""
        result = result.redacted()
        cloud = cloud or result.environment.cloud
        if result.environment.cloud is None and cloud:
            result = replace(result, environment=replace(result.environment, cloud=cloud))
        counts = result.counts()
        run_id = result.run_id
        with self._connect(write=True) as conn:
            for table in ("samples", "gates", "tests", "runs"):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            conn.execute(
                "INSERT INTO runs (run_id, started, finished, started_epoch, verdict, exit_code, cloud, report_dir, "
                "tests_total, tests_failed, gates_total, failed_gates, recorded, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, result.started, result.finished, _epoch(result.started), result.verdict, exit_code, cloud,
                 report_dir, counts["total"], counts["failed"] + counts["error"], len(result.gates),
                 json.dumps([g.name for g in result.failing_gates]), datetime.now(timezone.utc).isoformat(),
                 result.to_json(indent=None)),
            )
            conn.executemany(
                "INSERT INTO tests (run_id, nodeid, outcome, duration, capability) VALUES (?, ?, ?, ?, ?)",
                [(run_id, t.nodeid, t.outcome, t.duration, t.capability) for t in result.tests],
            )
            conn.executemany(
                "INSERT INTO gates (run_id, name, metric, statistic, comparison, threshold, measured, unit, passed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, g.name, g.metric, g.statistic, g.comparison, g.threshold, g.measured, g.unit, int(g.passed))
                 for g in result.gates],
            )
            conn.executemany(
                "INSERT INTO samples (run_id, nodeid, metric, value, unit, metadata) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, nodeid, metric, float(s["value"]), str(s.get("unit", "")),
                  json.dumps(s.get("metadata") or {}, sort_keys=True, default=str))
                 for metric, entries in result.samples_by_metric().items() for nodeid, s in entries],
            )

    # ---- reading
    def runs(self, limit: int | None = 20, cloud: str | None = None) -> list[RunRecord]:
        """The recorded runs, newest first."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        params: list[Any] = []
        if cloud is not None:
            sql += " WHERE cloud = ?"
            params.append(cloud)
        sql += " ORDER BY started_epoch DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connect() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_record(row) for row in rows]

    def resolve(self, run_id: str) -> RunRecord:
        """The run whose id is ``run_id`` or starts with it; :class:`RunNotFound` otherwise."""
        given = run_id.strip()
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (given,)).fetchall()
            if not rows and given:
                rows = conn.execute(
                    f"SELECT {_RUN_COLUMNS} FROM runs WHERE substr(run_id, 1, ?) = ? "
                    "ORDER BY started_epoch DESC LIMIT 11", (len(given), given)).fetchall()
            recent = [] if rows else conn.execute(
                "SELECT run_id FROM runs ORDER BY started_epoch DESC LIMIT 5").fetchall()
        if len(rows) == 1:
            return _record(rows[0])
        if rows:
            names = ", ".join(r[0] for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
            raise RunNotFound(f"run {given!r} is ambiguous in {self.path}: it matches {names}")
        hint = f"; the latest are {', '.join(r[0] for r in recent)}" if recent else "; the history is empty"
        raise RunNotFound(f"no run {given!r} in the history {self.path}{hint}")

    def get(self, run_id: str) -> RunResult:
        """The full result of a run (id or unique prefix of it)."""
        record = self.resolve(run_id)
        with self._connect() as conn:
            (summary,) = conn.execute("SELECT summary FROM runs WHERE run_id = ?", (record.run_id,)).fetchone()
        try:
            return RunResult.from_json(summary)
        except (ValueError, KeyError, TypeError) as exc:
            raise HistoryError(f"history {self.path}: run {record.run_id}: unreadable summary: {exc}") from None

    def latest(self, cloud: str | None = None) -> RunResult | None:
        """The newest run (of ``cloud``), or None when there is none."""
        found = self.runs(limit=1, cloud=cloud)
        return self.get(found[0].run_id) if found else None

    def before(self, started: str, cloud: str | None = None, *, exclude: str | None = None) -> RunResult | None:
        """The newest run that started before ``started`` (of ``cloud``, when given)."""
        sql = "SELECT run_id FROM runs WHERE started_epoch < ? AND run_id IS NOT ?"
        params: list[Any] = [_epoch(started), exclude]
        if cloud is not None:
            sql += " AND cloud = ?"
            params.append(cloud)
        with self._connect() as conn:
            row = conn.execute(sql + " ORDER BY started_epoch DESC, run_id DESC LIMIT 1", params).fetchone()
        return self.get(row[0]) if row else None

    def previous(self, run_id: str) -> RunResult | None:
        """The run before ``run_id`` on the same cloud, or None."""
        record = self.resolve(run_id)
        return self.before(record.started, record.cloud, exclude=record.run_id)

    def metrics(self, run_id: str) -> list[str]:
        """The metrics a run has samples of, sorted."""
        record = self.resolve(run_id)
        with self._connect() as conn:
            rows = conn.execute("SELECT DISTINCT metric FROM samples WHERE run_id = ? ORDER BY metric",
                                (record.run_id,)).fetchall()
        return [r[0] for r in rows]

    def metric_series(self, metric: str, limit: int | None = 20, cloud: str | None = None,
                      where: Mapping[str, Any] | None = None) -> list[SeriesPoint]:
        """The samples of ``metric`` (whose metadata match ``where``) in the
        newest ``limit`` runs that have any, oldest run first."""
        sql = ("SELECT r.run_id, r.started, s.value, s.unit, s.metadata FROM samples s "
               "JOIN runs r ON r.run_id = s.run_id WHERE s.metric = ?")
        params: list[Any] = [metric]
        if cloud is not None:
            sql += " AND r.cloud = ?"
            params.append(cloud)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY r.started_epoch DESC, r.run_id DESC, s.rowid", params).fetchall()
        points: dict[str, tuple[str, list[float], list[str]]] = {}
        for run_id, started, value, unit, metadata in rows:
            if where and not _matches(json.loads(metadata or "{}"), where):
                continue
            if run_id not in points:
                if limit is not None and len(points) >= limit:
                    continue
                points[run_id] = (started, [], [])
            points[run_id][1].append(value)
            points[run_id][2].append(unit)
        out = [SeriesPoint(run_id, started, tuple(values), max(set(units), key=units.count))
               for run_id, (started, values, units) in points.items()]
        return out[::-1]


def _record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, started, finished, verdict, exit_code, cloud, report_dir,
     tests_total, tests_failed, gates_total, failed_gates) = row
    return RunRecord(run_id, started, finished, verdict, exit_code, cloud, report_dir,
                     tests_total, tests_failed, gates_total, tuple(json.loads(failed_gates or "[]")))


def record_run(result: RunResult, report_dir: str | os.PathLike[str] | None, cloud: str | None,
               exit_code: int | None, history_path: str | os.PathLike[str] | None = None) -> Path:
    """Record a finished run in the history (for ``octoprobe run``); returns the store's path."""
    store = HistoryStore(history_path or default_history_path())
    store.record(result, None if report_dir is None else str(report_dir), cloud, exit_code)
    return store.path
