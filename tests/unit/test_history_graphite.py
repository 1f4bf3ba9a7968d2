"""Graphite plaintext export: paths, values, timestamps, sending over TCP."""

from __future__ import annotations

import queue
import re
import socket
import socketserver
import threading
from datetime import datetime, timezone
from typing import Iterator

import pytest

from octoprobe.history.graphite import GraphiteError, graphite_lines, parse_address, sanitize, send_to_graphite
from octoprobe.report.model import Environment, Gate, RunResult, TestResult

FINISHED = "2026-01-24T01:30:00+00:00"
EPOCH = int(datetime(2026, 1, 24, 1, 30, tzinfo=timezone.utc).timestamp())
LINE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+ -?[0-9.e+-]+ [0-9]+\n$")


def make_run(cloud: str | None = "lab one", *, failed_gate: bool = False) -> RunResult:
    samples = [
        {"metric": "boot.ssh", "value": v, "unit": "s", "metadata": {"server": f"uuid-{i}"}}
        for i, v in enumerate((5.0, 7.0, 6.0))
    ] + [
        {"metric": "fio.vm.randrw.bw", "value": 100.0, "unit": "B/s", "metadata": {"direction": "read"}},
        {"metric": "fio.vm.randrw.bw", "value": 50.5, "unit": "B/s", "metadata": {"direction": "write"}},
        {"metric": "net.cross host/goodput", "value": 9.5e9, "unit": "bit/s", "metadata": {"path": "rack1->rack2"}},
    ]
    return RunResult(
        "20260124-0100-abcd", "2026-01-24T01:00:00+00:00", FINISHED, Environment(cloud=cloud),
        [TestResult("perf/test_boot.py::test_boot", "passed", samples=samples),
         TestResult("t::skipped", "skipped")],
        [Gate("boot ssh p95", "boot.ssh", "p95", 40.0, "<=", 6.9, not failed_gate, unit="s"),
         Gate("unmeasured", "x", "p95", 1.0, "<=", None, True)],
    )


def as_dict(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        path, value, ts = line.split()
        assert int(ts) == EPOCH
        out[path] = value
    return out


def test_lines_are_plaintext_protocol() -> None:
    lines = graphite_lines(make_run())
    assert lines and all(LINE.match(line) for line in lines), lines


def test_paths_and_values() -> None:
    got = as_dict(graphite_lines(make_run()))
    assert got["octoprobe.lab_one.metrics.boot.ssh.median"] == "6"
    assert got["octoprobe.lab_one.metrics.boot.ssh.min"] == "5"
    assert got["octoprobe.lab_one.metrics.boot.ssh.max"] == "7"
    assert got["octoprobe.lab_one.metrics.boot.ssh.count"] == "3"
    assert got["octoprobe.lab_one.metrics.fio.vm.randrw.bw.direction.read.median"] == "100"
    assert got["octoprobe.lab_one.metrics.fio.vm.randrw.bw.direction.write.median"] == "50.5"
    assert got["octoprobe.lab_one.metrics.net.cross_host_goodput.path.rack1-_rack2.median"] == "9500000000"
    assert got["octoprobe.lab_one.gates.boot_ssh_p95.passed"] == "1"
    assert got["octoprobe.lab_one.gates.boot_ssh_p95.measured"] == "6.9"
    assert got["octoprobe.lab_one.gates.unmeasured.passed"] == "1"
    assert "octoprobe.lab_one.gates.unmeasured.measured" not in got
    assert got["octoprobe.lab_one.run.passed"] == "1"
    assert got["octoprobe.lab_one.run.verdict"] == "0"
    assert got["octoprobe.lab_one.run.tests.total"] == "2"
    assert got["octoprobe.lab_one.run.tests.skipped"] == "1"
    assert got["octoprobe.lab_one.run.gates_failed"] == "0"
    assert not any("uuid" in path or "abcd" in path for path in got)  # stable across runs


def test_failed_run_prefix_and_cloud() -> None:
    got = as_dict(graphite_lines(make_run(None, failed_gate=True), prefix="ci.octo probe"))
    assert got["ci.octo_probe.unknown.gates.boot_ssh_p95.passed"] == "0"
    assert got["ci.octo_probe.unknown.run.passed"] == "0"
    assert got["ci.octo_probe.unknown.run.verdict"] == "1"
    assert got["ci.octo_probe.unknown.run.gates_failed"] == "1"
    assert "x.lab2.run.passed" in as_dict(graphite_lines(make_run(), prefix="x", cloud="lab2"))


def test_sanitize() -> None:
    assert sanitize("a.b c/d") == "a_b_c_d"
    assert sanitize("ok-name_1") == "ok-name_1"
    assert sanitize("") == "_"
    assert sanitize("µs") == "_s"


def test_parse_address() -> None:
    assert parse_address("graphite.example.org:2004") == ("graphite.example.org", 2004)
    assert parse_address("graphite") == ("graphite", 2003)
    assert parse_address("[::1]:2003") == ("::1", 2003)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address("host:99999")


class _Collect(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.server.received.put(self.rfile.read())  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[socketserver.TCPServer]:
    srv = socketserver.TCPServer(("127.0.0.1", 0), _Collect)
    srv.received = queue.Queue()  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def test_send_to_a_real_tcp_server(server: socketserver.TCPServer) -> None:
    lines = graphite_lines(make_run())
    host, port = server.server_address
    assert send_to_graphite(lines, host, port, timeout=5.0) == len(lines)
    assert server.received.get(timeout=5) == "".join(lines).encode()  # type: ignore[attr-defined]


def test_unreachable_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GraphiteError, match=f"cannot send to Graphite at 127.0.0.1:{port}"):
        send_to_graphite(["a.b 1 1\n"], "127.0.0.1", port, timeout=2.0)
