"""The desired state on disk: one JSON document, replaced atomically, under a lock.

Separate processes (``octoprobe cloud up/down``, the API) share it: every
operation takes the lock, reads the document, changes the kernel, and writes
the document back only if the kernel change succeeded.
"""

from __future__ import annotations

from pathlib import Path

from ..jsonstore import JsonDocumentStore
from .model import State


class StateStoreError(RuntimeError):
    pass


class StateStore(JsonDocumentStore[State]):
    def __init__(self, path: Path, lock_path: Path, *, lock_timeout: float = 120.0):
        super().__init__(path, lock_path, document=State, error=StateStoreError, lock_timeout=lock_timeout)
