"""Where the reference cloud keeps its state, and the lock that serialises
``cloud up`` / ``cloud down``.

Everything of one cloud lives under one directory (default
``$XDG_STATE_HOME/octoprobe/cloud``, i.e. ``~/.local/state/octoprobe/cloud``;
``OCTOPROBE_STATE_DIR`` overrides it), so several checkouts or test runs do not
collide. Kernel objects (namespaces, bridges) are global, so each cloud also
has a short name prefix (default ``octo``; ``OCTOPROBE_PREFIX`` overrides it)
that every namespace and interface it creates starts with.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

DEFAULT_PREFIX = "octo"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{1,4}$")


def default_state_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("OCTOPROBE_STATE_DIR"):
        return Path(env["OCTOPROBE_STATE_DIR"]).expanduser().resolve()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser().resolve() / "octoprobe" / "cloud"


def default_prefix(env: Mapping[str, str] = os.environ) -> str:
    return check_prefix(env.get("OCTOPROBE_PREFIX") or DEFAULT_PREFIX)


def check_prefix(prefix: str) -> str:
    """Interface names are limited to 15 characters: the prefix must be short."""
    if not _PREFIX_RE.match(prefix):
        raise ValueError(
            f"prefix {prefix!r} must be 2-5 characters, a lower-case letter then letters "
            "or digits (it starts every namespace and interface name of the cloud)"
        )
    return prefix


@dataclass(frozen=True)
class CloudPaths:
    """The layout of one cloud's state directory."""

    root: Path

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def topology(self) -> Path:
        """The topology the cloud was created with (a copy)."""
        return self.root / "topology.yaml"

    @property
    def instance(self) -> Path:
        """JSON: prefix and identity of this cloud (written at first ``up``)."""
        return self.root / "instance.json"

    @property
    def ceph(self) -> Path:
        return self.root / "ceph"

    @property
    def ceph_conf(self) -> Path:
        return self.ceph / "ceph.conf"

    @property
    def admin_keyring(self) -> Path:
        return self.ceph / "ceph.client.admin.keyring"

    @property
    def mon_keyring(self) -> Path:
        return self.ceph / "ceph.mon.keyring"

    @property
    def run(self) -> Path:
        """pid files and admin sockets."""
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "log"

    def mon_data(self, mon_id: str) -> Path:
        return self.root / "mon" / f"ceph-{mon_id}"

    def mgr_data(self, mgr_id: str) -> Path:
        return self.root / "mgr" / f"ceph-{mgr_id}"

    def osd_data(self, osd_id: int) -> Path:
        return self.root / "osd" / f"ceph-{osd_id}"

    def pid_file(self, daemon_name: str) -> Path:
        return self.run / f"ceph-{daemon_name}.pid"

    def make_dirs(self) -> None:
        for d in (self.root, self.ceph, self.run, self.log):
            d.mkdir(parents=True, exist_ok=True)


class LockTimeout(RuntimeError):
    pass


class StateLock:
    """An exclusive flock on the state directory's lock file.

    If another process holds it, ``on_wait`` is told who (its pid, read from the
    file) and the lock is retried until ``timeout`` seconds have passed.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        on_wait: Callable[[str], None] | None = None,
        poll: float = 0.5,
    ):
        self.path = path
        self.timeout = timeout
        self.on_wait = on_wait
        self.poll = poll
        self._fd: int | None = None

    def _holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def __enter__(self) -> "StateLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if not told and self.on_wait:
                self.on_wait(
                    f"another octoprobe cloud command (pid {self._holder()}) holds {self.path}; "
                    f"waiting up to {self.timeout:g} s for it to finish"
                )
                told = True
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(
                    f"another octoprobe cloud command (pid {self._holder()}) still holds "
                    f"{self.path} after {self.timeout:g} s"
                )
            time.sleep(self.poll)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
