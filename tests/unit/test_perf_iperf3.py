"""iperf3 wrappers against outputs recorded from iperf 3.12 over loopback
(tests/unit/data/perf/README.md says how)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octoprobe.perf.iperf3 import (
    Iperf3Error, client_argv, iperf3_samples, parse_iperf3_json, run_iperf3, server_argv,
)
from octoprobe.perf.tools import ToolMissing

DATA = Path(__file__).parent / "data" / "perf"


def text(name: str) -> str:
    return (DATA / name).read_text()


def test_client_argv():
    assert client_argv("10.0.0.5", duration=30, omit=3, streams=4) == [
        "iperf3", "-c", "10.0.0.5", "-J", "-t", "30", "-O", "3", "-P", "4", "--connect-timeout=5000"]
    argv = client_argv("fd00::5", ipv6=True, port=5301, connect_timeout=None)
    assert "-6" in argv and argv[argv.index("-p") + 1] == "5301"
    assert not any(a.startswith("--connect-timeout") for a in argv)


def test_client_argv_refuses_nonsense():
    with pytest.raises(ValueError):
        client_argv("h", streams=0)
    with pytest.raises(ValueError):
        client_argv("h", duration=0)


def test_server_argv():
    assert server_argv(port=5299) == ["iperf3", "-s", "-p", "5299", "-1"]
    assert server_argv(one_off=False, daemon=True) == ["iperf3", "-s", "-p", "5201", "-D"]


def test_one_stream_recorded():
    raw = json.loads(text("iperf3-3.12-tcp-P1.json"))
    result = parse_iperf3_json(text("iperf3-3.12-tcp-P1.json"))
    assert result.version == "iperf 3.12"
    assert result.streams == 1 and result.duration == 3 and result.omit == 1
    assert result.goodput_bps == raw["end"]["sum_received"]["bits_per_second"]
    assert result.sender_bps == raw["end"]["sum_sent"]["bits_per_second"]
    assert result.retransmits == raw["end"]["sum_sent"]["retransmits"]
    assert result.cpu_sender == raw["end"]["cpu_utilization_percent"]["host_total"]
    assert result.cpu_receiver == raw["end"]["cpu_utilization_percent"]["remote_total"]
    assert result.goodput_bps > 1e8


def test_four_streams_recorded_uses_the_receivers_sum():
    raw = json.loads(text("iperf3-3.12-tcp-P4.json"))
    result = parse_iperf3_json(text("iperf3-3.12-tcp-P4.json"))
    assert result.streams == 4
    assert result.goodput_bps == pytest.approx(22780405850.5082)
    assert result.goodput_bps != result.sender_bps
    per_stream = sum(s["receiver"]["bits_per_second"] for s in raw["end"]["streams"])
    assert result.goodput_bps == pytest.approx(per_stream, rel=0.01)


def test_retransmits_absent_on_some_systems():
    raw = json.loads(text("iperf3-3.12-tcp-P1.json"))
    del raw["end"]["sum_sent"]["retransmits"]
    result = parse_iperf3_json(json.dumps(raw))
    assert result.retransmits is None
    assert "net.x.retransmits" not in {s.metric for s in iperf3_samples(result, "x")}


def test_reverse_mode_swaps_cpu_roles():
    raw = json.loads(text("iperf3-3.12-tcp-P1.json"))
    raw["start"]["test_start"]["reverse"] = 1
    result = parse_iperf3_json(json.dumps(raw))
    assert result.reverse
    assert result.cpu_receiver == raw["end"]["cpu_utilization_percent"]["host_total"]


def test_error_json_is_iperf3_error_with_its_message():
    with pytest.raises(Iperf3Error, match="iperf3: unable to connect to server: Connection refused"):
        parse_iperf3_json(text("iperf3-3.12-error-no-server.json"))


@pytest.mark.parametrize("garbage", ["", "iperf3: error - the server is busy", "{", "[1]", '{"start": {}}'])
def test_garbage_is_a_clear_error(garbage):
    with pytest.raises(Iperf3Error):
        parse_iperf3_json(garbage)


def test_samples_names_and_units():
    result = parse_iperf3_json(text("iperf3-3.12-tcp-P4.json"))
    samples = iperf3_samples(result, "vm-vm.vxlan", theoretical_bps=9.09e9, hosts="a-b")
    by_name = {s.metric: s for s in samples}
    assert {m: s.unit for m, s in by_name.items()} == {
        "net.vm-vm.vxlan.goodput": "bit/s",
        "net.vm-vm.vxlan.retransmits": "count",
        "net.vm-vm.vxlan.cpu_sender": "%",
        "net.vm-vm.vxlan.cpu_receiver": "%",
        "net.vm-vm.vxlan.efficiency": "ratio",
    }
    assert by_name["net.vm-vm.vxlan.efficiency"].value == pytest.approx(result.goodput_bps / 9.09e9)
    meta = by_name["net.vm-vm.vxlan.goodput"].metadata
    assert meta["iperf3_version"] == "iperf 3.12" and meta["streams"] == 4 and meta["hosts"] == "a-b"


def test_no_efficiency_without_a_theoretical_value():
    result = parse_iperf3_json(text("iperf3-3.12-tcp-P1.json"))
    assert not any(s.metric.endswith(".efficiency") for s in iperf3_samples(result, "p"))
    with pytest.raises(ValueError):
        iperf3_samples(result, "p", theoretical_bps=0)


def test_run_iperf3_through_a_runner():
    calls = []

    def runner(argv, timeout):
        calls.append(timeout)
        return 0, text("iperf3-3.12-tcp-P1.json"), ""

    assert run_iperf3(runner, client_argv("127.0.0.1"), timeout=40).streams == 1
    assert calls == [40]


def test_run_iperf3_error_and_missing():
    with pytest.raises(Iperf3Error, match="unable to connect"):
        run_iperf3(lambda a, t: (1, text("iperf3-3.12-error-no-server.json"), ""), ["iperf3"], 10)
    with pytest.raises(ToolMissing, match="iperf3 is not installed on compute-2"):
        run_iperf3(lambda a, t: (127, "", "sh: 1: iperf3: not found"), ["iperf3"], 10, where="compute-2")
    with pytest.raises(Iperf3Error, match="iperf3 exited 2 on this machine: boom"):
        run_iperf3(lambda a, t: (2, "", "boom"), ["iperf3"], 10)
