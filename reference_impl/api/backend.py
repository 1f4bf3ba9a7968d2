"""What the handlers share: settings, the database, the identity store, and
the reference cloud's data-plane libraries (opened lazily, once)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from .context import RequestContext
from .db import Database
from .identity_store import IdentityStore
from .settings import ApiSettings


class Backend:
    def __init__(self, settings: ApiSettings, db: Database, *,
                 cloud_factory: Callable[[], Any] | None = None):
        self.settings = settings
        self.db = db
        self.identity = IdentityStore(db, token_ttl=settings.token_ttl)
        self._cloud_factory = cloud_factory
        self._cloud: Any = None
        self._compute: Any = None
        self._lock = threading.Lock()
        # re-entrant: a runtime's factory may ask for another (Cinder's uses Nova's)
        self._runtime_lock = threading.RLock()

    def runtime(self, name: str, factory: Callable[["Backend"], Any]) -> Any:
        """A service's runtime (its store, worker pool …), made by ``factory``
        on first use and kept as ``_<name>_runtime``."""
        attr = f"_{name}_runtime"
        rt = getattr(self, attr, None)
        if rt is None:
            with self._runtime_lock:
                rt = getattr(self, attr, None)
                if rt is None:
                    rt = factory(self)
                    setattr(self, attr, rt)
        return rt

    def authenticate(self, token: str | None) -> RequestContext:
        ctx, _ = self.identity.validate(token)
        return ctx

    def public_url(self, path: str) -> str:
        return self.settings.base_url + path

    # -- the data plane -----------------------------------------------------------
    def cloud(self) -> Any:
        """The reference cloud (reference_impl.cloud.Cloud) whose libraries the
        API drives; opened once."""
        with self._lock:
            if self._cloud is None:
                if self._cloud_factory is None:
                    from ..cloud import Cloud
                    self._cloud = Cloud.open(Path(self.settings.state_dir), self.settings.prefix,
                                             progress=lambda message: None)
                else:
                    self._cloud = self._cloud_factory()
            return self._cloud

    def compute(self) -> Any:
        with self._lock:
            compute = self._compute
        if compute is None:
            compute = self.cloud().compute()
            with self._lock:
                self._compute = self._compute or compute
        return self._compute

    def network(self) -> Any:
        return self.compute().network
