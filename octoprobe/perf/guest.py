"""Commands inside a guest over SSH (paramiko), as the perf suite runs them.

:class:`GuestShell` is a runner — ``shell(argv, timeout) -> (returncode,
stdout, stderr)`` — the same callable shape as :func:`octoprobe.perf.tools.local_runner`,
so fio and iperf3 run the same way on the machine and in a VM. It connects on
first use and reconnects once if the connection dropped. :func:`ssh_ready`
is one login attempt with short timeouts, for polling a booting guest.
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from typing import Sequence

import paramiko


__all__ = ["GuestShell", "ssh_ready", "GuestCommandTimeout"]

CONNECT_TIMEOUT = 10.0


class GuestCommandTimeout(TimeoutError):
    pass


def _client(address: str, user: str, pkey: paramiko.PKey, timeout: float) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    # a guest booted a moment ago: its host key is new to us by construction
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(address, username=user, pkey=pkey, timeout=timeout, banner_timeout=timeout,
                       auth_timeout=timeout, allow_agent=False, look_for_keys=False)
    except BaseException:
        client.close()
        raise
    return client


def ssh_ready(address: str, user: str, pkey: paramiko.PKey, *, timeout: float = 3.0) -> bool:
    """One attempt: log in and run ``true``. False while the guest is not there yet."""
    try:
        client = _client(address, user, pkey, timeout)
    except (paramiko.SSHException, OSError, EOFError):
        return False
    try:
        _, stdout, _ = client.exec_command("true", timeout=timeout)
        return stdout.channel.recv_exit_status() == 0
    except (paramiko.SSHException, OSError, socket.timeout, EOFError):
        return False
    finally:
        client.close()


class GuestShell:
    """Runs commands in one guest as ``user`` over one SSH connection."""

    def __init__(self, address: str, user: str, pkey: paramiko.PKey, *, connect_timeout: float = CONNECT_TIMEOUT):
        self.address = address
        self.user = user
        self.pkey = pkey
        self.connect_timeout = connect_timeout
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()

    def _connection(self) -> paramiko.SSHClient:
        if self._client is not None:
            transport = self._client.get_transport()
            if transport is not None and transport.is_active():
                return self._client
            self._client.close()
        self._client = _client(self.address, self.user, self.pkey, self.connect_timeout)
        return self._client

    def __call__(self, argv: Sequence[str], timeout: float) -> tuple[int, str, str]:
        command = shlex.join(argv)
        deadline = time.monotonic() + timeout
        with self._lock:
            channel = self._connection().get_transport().open_session(timeout=self.connect_timeout)
            try:
                channel.settimeout(max(0.1, deadline - time.monotonic()))
                channel.exec_command(command)
                out, err = bytearray(), bytearray()
                while True:
                    if time.monotonic() > deadline:
                        raise GuestCommandTimeout(f"{self.user}@{self.address}: `{command}` still running "
                                                  f"after {timeout:g} s")
                    if channel.recv_ready():
                        out += channel.recv(65536)
                    elif channel.recv_stderr_ready():
                        err += channel.recv_stderr(65536)
                    elif channel.exit_status_ready():
                        while channel.recv_ready():
                            out += channel.recv(65536)
                        while channel.recv_stderr_ready():
                            err += channel.recv_stderr(65536)
                        break
                    else:
                        time.sleep(0.05)
                return channel.recv_exit_status(), out.decode(errors="replace"), err.decode(errors="replace")
            finally:
                channel.close()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __repr__(self) -> str:
        return f"GuestShell({self.user}@{self.address})"
