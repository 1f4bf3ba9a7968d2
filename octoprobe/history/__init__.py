"""The run history: a local store of every run, and what is read from it.

``store`` (the SQLite store, :func:`record_run` for ``octoprobe run``),
``compare`` (two runs), ``trend`` (metrics across runs), ``graphite``
(plaintext export) and ``check`` (a Nagios-style status of the last run).
"""

from octoprobe.history.store import HistoryError, HistoryStore, RunNotFound, default_history_path, record_run

__all__ = ["HistoryError", "HistoryStore", "RunNotFound", "default_history_path", "record_run"]
