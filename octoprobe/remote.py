"""Commands on another machine over SSH (paramiko), behind the same
:class:`~octoprobe.shell.Runner` interface as local commands.

:class:`SshRunner` runs one command per SSH channel with an explicit timeout
and returns a :class:`~octoprobe.shell.Result`; a failure raises
:class:`~octoprobe.shell.CommandError` naming the host and the command, as a
local failure does. Host keys are checked: against ``known_hosts`` if given,
else against the user's ``~/.ssh/known_hosts``; an unknown host is refused
(no trust on first use — a chaos test must not kill daemons on the wrong
machine).
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

from octoprobe.shell import CommandError, Result

__all__ = ["SshRunner"]

CONNECT_TIMEOUT = 15.0
EOF_GRACE = 5.0  # after the exit status, how long to wait for the rest of the output


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class SshRunner:
    """Runs commands on ``host`` as ``user`` over one SSH connection (opened
    on first use, reopened if it dropped)."""

    def __init__(self, host: str, *, user: str, port: int = 22, key_file: str | Path | None = None,
                 known_hosts: str | Path | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                 password: Callable[[], str] | None = None):
        """``password``: called when connecting, for hosts that take a password
        (a switch); the secret is read only then and never kept or shown."""
        self.host = host
        self._password = password
        self.user = user
        self.port = port
        self.key_file = str(key_file) if key_file else None
        self.known_hosts = str(known_hosts) if known_hosts else None
        self.connect_timeout = connect_timeout
        self._client = None
        self._lock = threading.Lock()

    def _connect(self):
        import paramiko

        if self._client is not None:
            transport = self._client.get_transport()
            if transport is not None and transport.is_active():
                return self._client
            self._client.close()
        client = paramiko.SSHClient()
        try:
            if self.known_hosts:
                client.load_host_keys(self.known_hosts)
            else:
                client.load_system_host_keys()
        except Exception as exc:  # an unreadable or malformed known_hosts file
            raise CommandError([f"ssh {self.user}@{self.host}:{self.port}"],
                               f"cannot read the known hosts {self.known_hosts or '~/.ssh/known_hosts'}: {exc}") from exc
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        agent_and_default_keys = self.key_file is None and self._password is None
        try:
            client.connect(self.host, port=self.port, username=self.user, key_filename=self.key_file,
                           password=self._password() if self._password is not None else None,
                           timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                           auth_timeout=self.connect_timeout, allow_agent=agent_and_default_keys,
                           look_for_keys=agent_and_default_keys)
        except (paramiko.SSHException, OSError) as exc:
            client.close()
            raise CommandError([f"ssh {self.user}@{self.host}:{self.port}"], f"cannot connect: {exc}") from exc
        self._client = client
        return client

    def run(self, argv: Sequence[str], *, timeout: float, check: bool = True, input: str | None = None,
            env: Mapping[str, str] | None = None) -> Result:
        command = shlex.join(argv)
        if env:
            command = "env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + command
        where = [f"ssh {self.user}@{self.host}:{self.port}", *argv]
        import paramiko

        with self._lock:
            client = self._connect()
        deadline = time.monotonic() + timeout
        try:
            transport = client.get_transport()
            channel = transport.open_session(timeout=self.connect_timeout)
            channel.settimeout(max(0.1, min(1.0, timeout)))
            channel.exec_command(command)
            out, err = bytearray(), bytearray()
            if input is not None:
                # a large input fills the channel's window: send as the command reads,
                # draining its output meanwhile, within the deadline
                pending = memoryview(input.encode())
                while pending:
                    if channel.exit_status_ready():
                        break  # it ended without reading everything: its exit status says what happened
                    if channel.send_ready():
                        pending = pending[channel.send(bytes(pending[:32768])):]
                    elif channel.recv_ready():
                        out += channel.recv(65536)
                    elif channel.recv_stderr_ready():
                        err += channel.recv_stderr(65536)
                    elif time.monotonic() > deadline:
                        channel.close()
                        raise CommandError(where, f"timed out after {timeout:g} s (sending its input)")
                    else:
                        time.sleep(0.005)
            if not channel.closed:  # a command that ended at once may have closed the channel already
                try:
                    channel.shutdown_write()
                except paramiko.SSHException:
                    pass
            exited_at = None
            while True:
                if channel.recv_ready():
                    out += channel.recv(65536)
                elif channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                elif channel.exit_status_ready():
                    # sshd may send the exit status before the last of the output: read on until
                    # the end of the output (EOF), or a short grace for a server that sends none
                    exited_at = exited_at or time.monotonic()
                    if channel.eof_received or channel.closed or time.monotonic() - exited_at > EOF_GRACE:
                        break
                    time.sleep(0.005)
                elif time.monotonic() > deadline:
                    channel.close()
                    raise CommandError(where, f"timed out after {timeout:g} s")
                else:
                    time.sleep(0.02)
            rc = channel.recv_exit_status()
            channel.close()
        except (socket.timeout, OSError, paramiko.SSHException) as exc:
            raise CommandError(where, f"SSH failed: {exc}") from exc
        result = Result(tuple(where), rc, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and rc != 0:
            detail = _tail(result.stderr) or _tail(result.stdout) or "(no output)"
            raise CommandError(where, f"exit status {rc}: {detail}", result)
        return result

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __repr__(self) -> str:
        return f"SshRunner({self.user}@{self.host}:{self.port})"


def load_private_key(pem: str):
    """A private key given as text (Ed25519, RSA or ECDSA; PEM or OpenSSH
    format), e.g. the one a cloud generated for a keypair; ValueError when it is none of those."""
    import io

    import paramiko

    for kind in (paramiko.Ed25519Key, paramiko.RSAKey, paramiko.ECDSAKey):
        try:
            return kind.from_private_key(io.StringIO(pem))
        except (paramiko.SSHException, ValueError):
            continue
    raise ValueError("the private key cannot be read (not an Ed25519, RSA or ECDSA key)")
