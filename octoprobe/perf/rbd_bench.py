"""``rbd bench``: Ceph's own load generator, the yardstick the fio wrapper is
compared with (same image, same run: fio must not cost throughput).

:func:`rbd_bench_argv` builds the command line; :func:`parse_rbd_bench` reads
its summary line (``elapsed: 3  ops: 64  ops/sec: 19.8  bytes/sec: 83 MiB/s``)
into bytes per second and operations per second. Pure; tested with recorded
output of Ceph 16.2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RbdBench", "RbdBenchError", "rbd_bench_argv", "parse_rbd_bench"]

_SUMMARY = re.compile(r"^elapsed:\s*(?P<elapsed>[\d.]+)\s+ops:\s*(?P<ops>\d+)\s+ops/sec:\s*(?P<ops_sec>[\d.]+)\s+"
                      r"bytes/sec:\s*(?P<bytes>[\d.]+)\s*(?P<unit>[KMGT]i?B|B)/s\s*$", re.MULTILINE)
_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
          "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


class RbdBenchError(ValueError):
    pass


@dataclass(frozen=True)
class RbdBench:
    elapsed_s: float
    ops: int
    ops_per_s: float
    bytes_per_s: float  # as rbd prints it (3 significant digits of its unit)


def rbd_bench_argv(spec: str, *, io_type: str = "write", io_size: int = 4 << 20, threads: int = 16,
                   total: int = 256 << 20, pattern: str = "seq", conf: str | Path | None = None,
                   user: str | None = None) -> list[str]:
    """``rbd bench`` on ``pool/image``; sizes in bytes."""
    if io_type not in ("read", "write", "readwrite", "rw"):
        raise ValueError(f"rbd bench: unknown io type {io_type!r}")
    if pattern not in ("seq", "rand", "full-seq"):
        raise ValueError(f"rbd bench: unknown io pattern {pattern!r}")
    argv: list[str] = ["rbd"]
    if conf:
        argv += ["--conf", str(conf)]
    if user:
        argv += ["--id", user]
    return argv + ["bench", "--io-type", io_type, "--io-size", str(io_size), "--io-threads", str(threads),
                   "--io-total", str(total), "--io-pattern", pattern, spec]


def parse_rbd_bench(text: str) -> RbdBench:
    matches = list(_SUMMARY.finditer(text))
    if not matches:
        tail = " | ".join(text.strip().splitlines()[-3:])
        raise RbdBenchError(f"rbd bench printed no summary line (elapsed/ops/bytes per second): {tail or 'nothing'}")
    m = matches[-1]
    return RbdBench(float(m["elapsed"]), int(m["ops"]), float(m["ops_sec"]), float(m["bytes"]) * _UNITS[m["unit"]])
