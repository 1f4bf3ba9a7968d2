"""A run's samples and verdicts as Graphite plaintext lines (``path value timestamp``).

Paths are stable across runs (no run id, no server id), so Graphite keeps one
series per path; the timestamp is the run's ``finished`` time in epoch seconds.
The scheme, with ``P`` the prefix and ``CLOUD`` the run's cloud (``unknown``
when none)::

    P.CLOUD.metrics.<metric>[.<key>.<value>...].{median,min,max,count}
    P.CLOUD.gates.<gate>.passed          1 or 0
    P.CLOUD.gates.<gate>.measured        the gate's statistic, when measured
    P.CLOUD.run.passed                   1 or 0 (the run's verdict PASS)
    P.CLOUD.run.verdict                  0 PASS, 1 FAIL, 2 NO TESTS
    P.CLOUD.run.tests.{total,passed,failed,error,skipped}
    P.CLOUD.run.gates_failed

``<metric>`` keeps its dots (``boot.ssh`` is two components). Samples of one
metric that differ in a distinguishing metadata key (:data:`SPLIT_KEYS`:
``path``, ``workload``, ``source``, ``direction``) get one series per value
of it, e.g. ``octoprobe.lab1.metrics.fio.vm.randrw.bw.direction.read.median``.
Each component is sanitised: anything but ``[A-Za-z0-9_-]`` becomes ``_``.
"""

from __future__ import annotations

import math
import socket
import statistics
from typing import Any, Iterable, Mapping

from octoprobe.history.store import parse_time
from octoprobe.report.model import FAIL, PASS, RunResult

__all__ = ["SPLIT_KEYS", "DEFAULT_PORT", "GraphiteError", "sanitize", "graphite_lines", "send_to_graphite",
           "parse_address"]

#: Metadata keys whose values split a metric into separate series, in path order.
SPLIT_KEYS = ("path", "workload", "source", "direction")
DEFAULT_PORT = 2003
_VERDICT_CODE = {PASS: 0, FAIL: 1}


class GraphiteError(Exception):
    """Graphite could not be reached or did not take the lines."""


def sanitize(component: Any) -> str:
    """One path component: only ``[A-Za-z0-9_-]``, never empty."""
    text = "".join(c if (c.isascii() and c.isalnum()) or c in "_-" else "_" for c in str(component))
    return text or "_"


def _path(*parts: Any) -> str:
    return ".".join(sanitize(p) for p in parts)


def _metric_parts(metric: str) -> list[str]:
    return [sanitize(p) for p in metric.split(".") if p] or ["_"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _series_key(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for key in SPLIT_KEYS:
        if key in metadata and metadata[key] not in (None, ""):
            out += [sanitize(key), sanitize(metadata[key])]
    return tuple(out)


def graphite_lines(result: RunResult, prefix: str = "octoprobe", cloud: str | None = None) -> list[str]:
    """The plaintext-protocol lines (each ending in a newline) for ``result``."""
    timestamp = int(parse_time(result.finished).timestamp())
    base = [*_metric_parts(prefix), sanitize(cloud or result.environment.cloud or "unknown")]
    lines: list[str] = []

    def emit(parts: Iterable[str], value: float) -> None:
        if math.isfinite(value):
            lines.append(f"{'.'.join(parts)} {_number(value)} {timestamp}\n")

    groups: dict[tuple[str, ...], list[float]] = {}
    for metric, entries in result.samples_by_metric().items():
        for _, sample in entries:
            meta = sample.get("metadata") if isinstance(sample.get("metadata"), dict) else {}
            key = (*_metric_parts(metric), *_series_key(meta))
            groups.setdefault(key, []).append(float(sample["value"]))
    for key, values in groups.items():
        for stat, value in (("median", statistics.median(values)), ("min", min(values)), ("max", max(values)),
                            ("count", len(values))):
            emit([*base, "metrics", *key, stat], value)
    for gate in result.gates:
        emit([*base, "gates", sanitize(gate.name), "passed"], 1 if gate.passed else 0)
        if gate.measured is not None:
            emit([*base, "gates", sanitize(gate.name), "measured"], gate.measured)
    counts = result.counts()
    emit([*base, "run", "passed"], 1 if result.verdict == PASS else 0)
    emit([*base, "run", "verdict"], _VERDICT_CODE.get(result.verdict, 2))
    for outcome in ("total", "passed", "failed", "error", "skipped"):
        emit([*base, "run", "tests", outcome], counts[outcome])
    emit([*base, "run", "gates_failed"], len(result.failing_gates))
    return lines


def parse_address(text: str, default_port: int | None = DEFAULT_PORT) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, ``[v6]:PORT``) as (host, port); with
    ``default_port=None`` the port must be given."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if not sep or (":" in host and not host.startswith("[")):
        host, port = text, "" if default_port is None else str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Graphite address {text!r}: expected HOST:PORT, e.g. graphite.example.org:2003")
    return host, int(port)


def send_to_graphite(lines: Iterable[str], host: str, port: int = DEFAULT_PORT, timeout: float = 5.0) -> int:
    """Send ``lines`` over one TCP connection (connect and every write bounded
    by ``timeout``); returns the number of lines sent."""
    payload = [line if line.endswith("\n") else line + "\n" for line in lines]
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall("".join(payload).encode("utf-8"))
            conn.shutdown(socket.SHUT_WR)
    except OSError as exc:
        raise GraphiteError(f"cannot send to Graphite at {host}:{port}: {exc}") from None
    return len(payload)
