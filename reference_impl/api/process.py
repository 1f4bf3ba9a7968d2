"""Starting and stopping the API process.

The API is the cloud's control plane next to the monitor and manager, but
it runs in the machine's own namespace and listens on the machine's
underlay address (on the spine bridge, so every host and the machine reach
it): the network library it drives programs the machine's namespace too
(the external bridge, IPv6 routes), which a process inside the control
host's namespace could not. It is ours when its command line carries our
database path (pid files are only a hint, as for the Ceph daemons)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from .. import processes
from .settings import ApiSettings

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class ApiError(RuntimeError):
    """The API process did not start or stop; the message says why."""


class ApiProcess:
    def __init__(self, settings: ApiSettings, *, progress: Callable[[str], None] = lambda m: None):
        self.settings = settings
        self.progress = progress

    @property
    def marker(self) -> str:
        return str(self.settings.db_path)

    def pids(self) -> list[int]:
        return [p.pid for p in processes.find_processes(self.marker)]

    def argv(self) -> list[str]:
        s = self.settings
        return [sys.executable, "-m", "octoprobe.reference_impl.api.server",
                "--state-dir", str(s.state_dir), "--prefix", s.prefix, "--host", s.host, "--port", str(s.port),
                "--db", self.marker, "--token-ttl", str(s.token_ttl)]

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(self.settings.base_url + "/identity/v3", timeout=timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def start(self, *, timeout: float = START_TIMEOUT) -> int:
        """Start the API unless it runs; wait until it answers."""
        running = self.pids()
        if running and self.healthy():
            return running[0]
        if running:  # alive but not answering: restart it
            processes.stop(running, timeout=STOP_TIMEOUT)
        self.settings.api_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.settings.log_path, "ab")
        try:
            proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            log.close()
        self.settings.pid_file.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ApiError(f"the API exited with status {proc.returncode} at start; see "
                               f"{self.settings.log_path}:\n{self._log_tail()}")
            if self.healthy():
                self.progress(f"api: listening on {self.settings.base_url} (pid {proc.pid})")
                return proc.pid
            time.sleep(0.2)
        processes.stop([proc.pid], timeout=STOP_TIMEOUT)
        raise ApiError(f"the API did not answer on {self.settings.base_url} within {timeout:g}s; see "
                       f"{self.settings.log_path}:\n{self._log_tail()}")

    def stop(self) -> None:
        pids = self.pids()
        if pids:
            processes.stop(pids, timeout=STOP_TIMEOUT)  # SIGTERM, then SIGKILL
            self.progress("api: stopped")
        self.settings.pid_file.unlink(missing_ok=True)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(Path(self.settings.log_path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
