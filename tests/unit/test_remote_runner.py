"""octoprobe.remote.SshRunner against an in-process SSH server (paramiko's
server side): output that arrives after the exit status is kept, and an
input larger than the channel's window reaches a command that reads it late."""

from __future__ import annotations

import socket
import threading
import time

import pytest

paramiko = pytest.importorskip("paramiko")

from octoprobe.remote import SshRunner  # noqa: E402
from octoprobe.shell import CommandError  # noqa: E402


PASSWORD = "Sw1tch-Secret"


class Server(paramiko.ServerInterface):
    def __init__(self, client_key):
        self.client_key = client_key

    def check_auth_publickey(self, username, key):
        return paramiko.AUTH_SUCCESSFUL if key == self.client_key else paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        return paramiko.AUTH_SUCCESSFUL if (username, password) == ("switch", PASSWORD) else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "publickey,password"

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        threading.Thread(target=self.execute, args=(channel, command.decode()), daemon=True).start()
        return True

    @staticmethod
    def execute(channel, command):
        time.sleep(0.1)  # the exec request is answered first (as sshd answers before the command runs)
        if command == "late-output":  # exit status first, output after it (as sshd may do)
            channel.send_exit_status(0)
            time.sleep(0.3)
            channel.sendall(b"x" * 100_000)
        elif command == "hello":
            channel.sendall(b"hi")
            channel.send_exit_status(0)
        elif command == "slow-reader":  # reads its input only after a while, then says how much it got
            time.sleep(1.5)
            total = 0
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                total += len(data)
            channel.sendall(str(total).encode())
            channel.send_exit_status(0)
        else:
            channel.sendall_stderr(b"unknown command\n")
            channel.send_exit_status(127)
        channel.shutdown_write()
        channel.close()


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssh")
    host_key, client_key = paramiko.RSAKey.generate(1024), paramiko.RSAKey.generate(1024)
    client_key.write_private_key_file(str(tmp / "client_key"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} ssh-rsa {host_key.get_base64()}\n")
    transports = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(host_key)
            transport.start_server(server=Server(client_key))
            transports.append(transport)

    threading.Thread(target=serve, daemon=True).start()
    runner = SshRunner("127.0.0.1", user="test", port=port, key_file=tmp / "client_key",
                       known_hosts=tmp / "known_hosts", connect_timeout=5)
    try:
        yield runner
    finally:
        runner.close()
        listener.close()
        for t in transports:
            t.close()


def test_output_sent_after_the_exit_status_is_not_lost(ssh_server):
    result = ssh_server.run(["late-output"], timeout=10)
    assert result.returncode == 0 and len(result.stdout) == 100_000


def test_an_input_larger_than_the_window_reaches_a_late_reader(ssh_server):
    data = "y" * (5 * 2**20)  # more than paramiko's 2 MiB window: sending blocks until the command reads
    assert ssh_server.run(["slow-reader"], timeout=20, input=data).stdout == str(len(data))


def test_a_failing_command_says_what_it_printed(ssh_server):
    with pytest.raises(CommandError, match="exit status 127: unknown command"):
        ssh_server.run(["nope"], timeout=10)


def test_a_password_logs_in_where_no_key_is_given_and_a_wrong_one_is_not_shown(ssh_server):
    port, known_hosts = ssh_server.port, ssh_server.known_hosts
    asked = []

    def password():
        asked.append(1)
        return PASSWORD

    runner = SshRunner("127.0.0.1", user="switch", port=port, known_hosts=known_hosts, connect_timeout=5,
                       password=password)
    try:
        assert runner.run(["hello"], timeout=10).stdout == "hi"
        assert asked == [1], "the password is read when connecting, once"
    finally:
        runner.close()
    wrong = SshRunner("127.0.0.1", user="switch", port=port, known_hosts=known_hosts, connect_timeout=5,
                      password=lambda: "Wr0ng-Secret")
    with pytest.raises(CommandError) as info:
        wrong.run(["hello"], timeout=10)
    assert "cannot connect" in str(info.value) and "Wr0ng-Secret" not in str(info.value)
    wrong.close()
