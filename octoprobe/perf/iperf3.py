"""iperf3: client/server argv builders, a JSON parser and samples.

Goodput is what the *receiver* counted (``end.sum_received``): the sender's
figure includes bytes still in flight or retransmitted when the test stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from octoprobe.perf.tools import RunnerFn, ToolMissing, is_missing
from octoprobe.samples import Sample

__all__ = [
    "DEFAULT_PORT", "Iperf3Error", "Iperf3Result", "client_argv", "server_argv",
    "parse_iperf3_json", "iperf3_samples", "run_iperf3",
]

DEFAULT_PORT = 5201


def client_argv(
    host: str,
    *,
    duration: float = 10,
    omit: float = 2,
    streams: int = 1,
    port: int | None = None,
    ipv6: bool = False,
    connect_timeout: float | None = 5.0,
    iperf3: str = "iperf3",
) -> list[str]:
    """A TCP client run towards ``host`` with JSON output; the first ``omit``
    seconds (TCP slow start) are not counted. ``connect_timeout`` in seconds
    (``--connect-timeout`` needs iperf3 >= 3.2; pass ``None`` for older ones)."""
    if duration <= 0 or omit < 0 or streams < 1:
        raise ValueError(f"iperf3 needs duration > 0, omit >= 0, streams >= 1 (got {duration}, {omit}, {streams})")
    argv = [iperf3, "-c", host, "-J", "-t", str(int(duration)), "-O", str(int(omit)), "-P", str(int(streams))]
    if ipv6:
        argv.append("-6")
    if port is not None:
        argv += ["-p", str(int(port))]
    if connect_timeout is not None:
        argv.append(f"--connect-timeout={int(connect_timeout * 1000)}")
    return argv


def server_argv(*, port: int = DEFAULT_PORT, one_off: bool = True, daemon: bool = False,
                iperf3: str = "iperf3") -> list[str]:
    """A server on ``port``: ``one_off`` serves one client then exits (``-1``);
    ``daemon`` detaches (``-D``), so the call returns once it listens."""
    argv = [iperf3, "-s", "-p", str(int(port))]
    if one_off:
        argv.append("-1")
    if daemon:
        argv.append("-D")
    return argv


class Iperf3Error(RuntimeError):
    """iperf3 reported an error, or its output is not what iperf3 prints."""


@dataclass(frozen=True)
class Iperf3Result:
    """One TCP run. Rates in bit/s; ``retransmits`` is ``None`` where the OS does
    not report it; CPU figures are total utilisation in percent."""

    version: str
    goodput_bps: float
    sender_bps: float
    retransmits: int | None
    cpu_sender: float | None
    cpu_receiver: float | None
    streams: int
    duration: float
    omit: float
    reverse: bool


def _load(text: str) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        raise Iperf3Error(f"no JSON in iperf3 output: {text.strip()[:200]!r}")
    try:
        data, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as exc:
        raise Iperf3Error(f"iperf3 output is not valid JSON ({exc}): {text[start:start + 200]!r}") from exc
    if not isinstance(data, dict):
        raise Iperf3Error("iperf3 JSON is not an object")
    return data


def _number(section: Mapping[str, Any], key: str, where: str) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Iperf3Error(f"iperf3 JSON: {where}.{key} missing or not a number: {value!r}")
    return float(value)


def parse_iperf3_json(text: str) -> Iperf3Result:
    """Parse ``iperf3 -c … -J`` output of a TCP run. Raises :class:`Iperf3Error`
    with iperf3's own message when the JSON carries an ``error``."""
    data = _load(text)
    if data.get("error"):
        raise Iperf3Error(f"iperf3: {data['error']}")
    start, end = data.get("start"), data.get("end")
    if not isinstance(start, Mapping) or not isinstance(end, Mapping):
        raise Iperf3Error("iperf3 JSON has no 'start'/'end' sections")
    received, sent = end.get("sum_received"), end.get("sum_sent")
    if not isinstance(received, Mapping) or not isinstance(sent, Mapping):
        raise Iperf3Error("iperf3 JSON has no end.sum_received/sum_sent (a UDP run?)")
    test = start.get("test_start") if isinstance(start.get("test_start"), Mapping) else {}
    cpu = end.get("cpu_utilization_percent") if isinstance(end.get("cpu_utilization_percent"), Mapping) else {}
    reverse = bool(test.get("reverse", 0))
    host_cpu, remote_cpu = cpu.get("host_total"), cpu.get("remote_total")
    # The client is "host"; with -R the client receives.
    sender_cpu, receiver_cpu = (remote_cpu, host_cpu) if reverse else (host_cpu, remote_cpu)
    retransmits = sent.get("retransmits")
    return Iperf3Result(
        version=str(start.get("version", "unknown")),
        goodput_bps=_number(received, "bits_per_second", "end.sum_received"),
        sender_bps=_number(sent, "bits_per_second", "end.sum_sent"),
        retransmits=int(retransmits) if isinstance(retransmits, (int, float)) else None,
        cpu_sender=float(sender_cpu) if isinstance(sender_cpu, (int, float)) else None,
        cpu_receiver=float(receiver_cpu) if isinstance(receiver_cpu, (int, float)) else None,
        streams=int(test.get("num_streams", len(end.get("streams") or []) or 1)),
        duration=float(test.get("duration", received.get("seconds", 0.0))),
        omit=float(test.get("omit", 0)),
        reverse=reverse,
    )


def iperf3_samples(result: Iperf3Result, path: str, theoretical_bps: float | None = None,
                   **metadata: Any) -> list[Sample]:
    """Samples ``net.{path}.goodput`` (bit/s), ``.retransmits`` (when known),
    ``.cpu_sender``/``.cpu_receiver`` (%) and ``.efficiency`` (measured ÷
    ``theoretical_bps``, when given)."""
    meta = {**metadata, "iperf3_version": result.version, "streams": result.streams,
            "duration": result.duration, "omit": result.omit}
    prefix = f"net.{path}"
    samples = [Sample(f"{prefix}.goodput", result.goodput_bps, "bit/s", meta)]
    if result.retransmits is not None:
        samples.append(Sample(f"{prefix}.retransmits", result.retransmits, "count", meta))
    if result.cpu_sender is not None:
        samples.append(Sample(f"{prefix}.cpu_sender", result.cpu_sender, "%", meta))
    if result.cpu_receiver is not None:
        samples.append(Sample(f"{prefix}.cpu_receiver", result.cpu_receiver, "%", meta))
    if theoretical_bps is not None:
        if theoretical_bps <= 0:
            raise ValueError(f"theoretical goodput must be positive, got {theoretical_bps}")
        samples.append(Sample(f"{prefix}.efficiency", result.goodput_bps / theoretical_bps, "ratio",
                              {**meta, "theoretical_bps": theoretical_bps}))
    return samples


def run_iperf3(runner: RunnerFn, argv: Sequence[str], timeout: float, *,
               where: str = "this machine") -> Iperf3Result:
    """Run an iperf3 client argv through ``runner`` and parse its output.
    Raises :class:`ToolMissing` when iperf3 is not installed."""
    returncode, stdout, stderr = runner(list(argv), timeout)
    if is_missing("iperf3", returncode, stderr):
        raise ToolMissing("iperf3", where)
    try:
        return parse_iperf3_json(stdout)
    except Iperf3Error as exc:
        if returncode != 0 and not stdout.strip():
            detail = "\n".join(stderr.strip().splitlines()[-10:]) or "(no output)"
            raise Iperf3Error(f"iperf3 exited {returncode} on {where}: {detail}") from exc
        raise
