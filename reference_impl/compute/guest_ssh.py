"""SSH to guests with paramiko, from inside a network namespace.

A guest's addresses are on a tenant network, which the machine's own
namespace does not reach (only a router with a floating IP would). A socket
opened by a thread that has entered another network namespace (``setns``)
stays in that namespace, so paramiko can run in this process over a socket
made inside, e.g., a test endpoint on the tenant network or the network's
DHCP namespace (the way operators reach Neutron networks). Needs root.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
import time
from dataclasses import dataclass

from .errors import ComputeError

CLONE_NEWNET = 0x40000000


def netns_socket(netns: str | None, address: str, port: int, *, timeout: float) -> socket.socket:
    """A TCP socket connected to ``address:port`` from namespace ``netns``
    (None: this namespace)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if netns is None:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((address, port))
        except OSError:
            s.close()
            raise
        return s
    result: dict = {}

    def inside() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect((address, port))
            except OSError:
                s.close()
                raise
            result["sock"] = s
        except BaseException as exc:  # reported in the caller's thread
            result["error"] = exc

    t = threading.Thread(target=inside, name=f"netns-{netns}", daemon=True)
    t.start()
    t.join(timeout + 5)
    if "error" in result:
        raise result["error"]
    if "sock" not in result:
        raise TimeoutError(f"connecting to {address}:{port} in {netns} took more than {timeout:g} s")
    return result["sock"]


@dataclass
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str


class GuestSSH:
    """One SSH session to a guest (``root`` by default)."""

    def __init__(self, client):
        self.client = client

    def run(self, command: str, *, timeout: float = 30.0, check: bool = True) -> CommandResult:
        stdin, stdout, stderr = self.client.exec_command(command, timeout=timeout)
        stdin.close()
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        status = stdout.channel.recv_exit_status()
        if check and status != 0:
            raise ComputeError(f"{command!r} exited {status} in the guest: {err.strip() or out.strip()}")
        return CommandResult(status, out, err)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "GuestSSH":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def connect(address: str, pkey, *, netns: str | None = None, username: str = "root", timeout: float = 15.0,
            password: str | None = None, connect_timeout: float = 3.0) -> GuestSSH:
    import paramiko

    sock = netns_socket(netns, address, 22, timeout=min(timeout, connect_timeout))
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(address, username=username, pkey=pkey, password=password, sock=sock, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout, allow_agent=False, look_for_keys=False)
    except Exception:
        client.close()
        sock.close()
        raise
    return GuestSSH(client)


def wait_for_ssh(address: str, pkey, *, netns: str | None = None, timeout: float = 120.0,
                 username: str = "root", password: str | None = None) -> GuestSSH:
    """Retry until a login succeeds (``timeout`` in all)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return connect(address, pkey, netns=netns, username=username, password=password,
                           timeout=max(1.0, min(15.0, deadline - time.monotonic())))
        except Exception as exc:  # refused, timed out, banner not yet there…
            last = exc
            time.sleep(0.5)
    raise ComputeError(f"no SSH login to {address} (netns {netns}) within {timeout:g} s: {last}")
