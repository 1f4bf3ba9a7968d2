"""fio: the four standard workloads, argv builders, a JSON parser and samples.

The workloads are data (:data:`WORKLOADS`); :func:`fio_argv` turns one into an
argv list (never a shell line) for an RBD image (``ioengine=rbd``) or a block
device / file (``ioengine=libaio``, ``direct=1``). :func:`parse_fio_json` is pure
and reads every fio since 2.x: bandwidth comes out in **bytes** per second
(``bw_bytes`` when present, else ``bw`` which is KiB/s), completion latency
percentiles in **seconds** (``clat_ns`` in fio >= 3.0, ``clat`` in usec before).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from octoprobe.perf.tools import RunnerFn, ToolMissing, is_missing
from octoprobe.samples import Sample

__all__ = [
    "Workload", "WORKLOADS", "RbdTarget", "FileTarget", "FioError", "FioJobError", "FioDirection", "FioJob",
    "FioResult", "fio_argv", "prefill_argv", "fio_commands", "parse_fio_json", "check_fio_version",
    "fio_samples", "run_fio",
]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class Workload:
    """One fio job: access pattern ``rw`` (fio's ``--rw``), block size in bytes,
    queue depth, and whether the target must be written before it is read."""

    name: str
    rw: str
    block_size: int
    iodepth: int
    prefill: bool
    numjobs: int = 1

    @property
    def reads(self) -> bool:
        return "read" in self.rw


#: The standard workloads. Reads are prefilled: an unwritten RBD object or a
#: sparse file region is answered without touching a disk, which would flatter reads.
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("randread-4k", "randread", 4 * KIB, 32, prefill=True),
        Workload("randwrite-4k", "randwrite", 4 * KIB, 32, prefill=False),
        Workload("seqread-4m", "read", 4 * MIB, 16, prefill=True),
        Workload("seqwrite-4m", "write", 4 * MIB, 16, prefill=False),
    )
}

DEFAULT_RUNTIME = 60.0
DEFAULT_RAMP = 10.0
DEFAULT_SIZE = 10 * GIB


@dataclass(frozen=True)
class RbdTarget:
    """An existing RBD image, read through librbd (fio's ``rbd`` engine).
    ``client`` is the cephx id without ``client.``; ``conf`` a ceph.conf path,
    passed as ``CEPH_CONF`` because fio's rbd engine has no option for it."""

    pool: str
    image: str
    client: str = "admin"
    cluster: str | None = None
    conf: str | None = None


@dataclass(frozen=True)
class FileTarget:
    """A block device (``/dev/vdb``) or a file, read with libaio and O_DIRECT."""

    path: str


Target = RbdTarget | FileTarget


def _workload(workload: Workload | str) -> Workload:
    if isinstance(workload, Workload):
        return workload
    try:
        return WORKLOADS[workload]
    except KeyError:
        raise ValueError(f"unknown fio workload {workload!r}; known: {', '.join(WORKLOADS)}") from None


def _target_args(target: Target) -> tuple[list[str], list[str]]:
    """(prefix before ``fio``, fio options) for a target."""
    if isinstance(target, RbdTarget):
        opts = ["--ioengine=rbd", f"--clientname={target.client}", f"--pool={target.pool}",
                f"--rbdname={target.image}"]
        if target.cluster:
            opts.append(f"--clustername={target.cluster}")
        prefix = ["env", f"CEPH_CONF={target.conf}"] if target.conf else []
        return prefix, opts
    if isinstance(target, FileTarget):
        return [], ["--ioengine=libaio", "--direct=1", f"--filename={target.path}"]
    raise TypeError(f"fio target must be RbdTarget or FileTarget, got {target!r}")


def fio_argv(
    workload: Workload | str,
    target: Target,
    *,
    runtime: float = DEFAULT_RUNTIME,
    ramp: float = DEFAULT_RAMP,
    size: int | None = DEFAULT_SIZE,
    fio: str = "fio",
) -> list[str]:
    """The measuring run: ``ramp`` s not counted, then ``runtime`` s (time based)
    over the first ``size`` bytes of the target (``None``: all of it)."""
    w = _workload(workload)
    if int(runtime) < 1 or ramp < 0:  # fio takes whole seconds; runtime=0 would mean "no limit"
        raise ValueError(f"fio runtime must be at least 1 s and ramp >= 0, got {runtime} and {ramp}")
    prefix, target_opts = _target_args(target)
    argv = [
        *prefix, fio, f"--name={w.name}", f"--rw={w.rw}", f"--bs={w.block_size}",
        f"--iodepth={w.iodepth}", f"--numjobs={w.numjobs}", "--group_reporting",
        f"--ramp_time={int(ramp)}", f"--runtime={int(runtime)}", "--time_based",
        *target_opts,
    ]
    if size is not None:
        argv.append(f"--size={int(size)}")
    argv.append("--output-format=json")
    return argv


def prefill_argv(target: Target, *, size: int | None = DEFAULT_SIZE, fio: str = "fio") -> list[str]:
    """One sequential 4 MiB write pass over ``size`` bytes, so later reads hit
    allocated data."""
    prefix, target_opts = _target_args(target)
    argv = [*prefix, fio, "--name=prefill", "--rw=write", f"--bs={4 * MIB}", "--iodepth=16",
            *target_opts]
    if size is not None:
        argv.append(f"--size={int(size)}")
    argv.append("--output-format=json")
    return argv


def fio_commands(workload: Workload | str, target: Target, **kwargs: Any) -> list[list[str]]:
    """The argvs to run in order: the prefill when the workload needs one, then
    the measuring run (``kwargs`` as for :func:`fio_argv`)."""
    w = _workload(workload)
    commands = []
    if w.prefill:
        commands.append(prefill_argv(target, size=kwargs.get("size", DEFAULT_SIZE), fio=kwargs.get("fio", "fio")))
    commands.append(fio_argv(w, target, **kwargs))
    return commands


# --- parsing -----------------------------------------------------------------


class FioError(RuntimeError):
    """fio failed, or its output is not what fio prints."""


class FioJobError(FioError):
    """A fio job reported an error (``"error" != 0`` in its JSON)."""

    def __init__(self, job: str, errno_value: int):
        self.job = job
        self.errno = errno_value
        super().__init__(f"fio job {job!r} failed with error {errno_value} ({_strerror(errno_value)})")


@dataclass(frozen=True)
class FioDirection:
    """Reads or writes of one job. Bandwidth in bytes/s, latencies in seconds
    (``None`` when fio reported no percentiles)."""

    bw_bytes: float
    iops: float
    io_bytes: int
    runtime: float
    clat_p50: float | None
    clat_p99: float | None
    clat_p99_9: float | None


@dataclass(frozen=True)
class FioJob:
    name: str
    read: FioDirection | None
    write: FioDirection | None
    elapsed: float | None


@dataclass(frozen=True)
class FioResult:
    version: str
    jobs: tuple[FioJob, ...]

    def job(self, name: str) -> FioJob:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(f"no fio job {name!r} (jobs: {', '.join(j.name for j in self.jobs)})")


def _load(text: str) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        raise FioError(f"no JSON in fio output: {text.strip()[:200]!r}")
    try:
        data, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as exc:
        raise FioError(f"fio output is not valid JSON ({exc}): {text[start:start + 200]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise FioError("fio JSON has no 'jobs' list")
    return data


def _num(section: Mapping[str, Any], key: str, where: str) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FioError(f"fio JSON: {where}.{key} missing or not a number: {value!r}")
    return float(value)


def _percentiles(section: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """p50, p99, p99.9 completion latency in seconds."""
    if isinstance(section.get("clat_ns"), Mapping):
        clat, scale = section["clat_ns"], 1e-9
    elif isinstance(section.get("clat"), Mapping):  # fio < 3.0: microseconds
        clat, scale = section["clat"], 1e-6
    else:
        return None, None, None
    table = clat.get("percentile")
    if not isinstance(table, Mapping):
        return None, None, None
    by_point: dict[float, float] = {}
    for key, value in table.items():
        try:
            by_point[round(float(key), 4)] = float(value) * scale
        except (TypeError, ValueError):
            continue

    def at(point: float) -> float | None:
        return by_point.get(point)

    return at(50.0), at(99.0), at(99.9)


def _direction(section: Any, where: str) -> FioDirection | None:
    if not isinstance(section, Mapping):
        return None
    runtime_ms = _num(section, "runtime", where)
    if "io_kbytes" in section:  # fio >= 3.0: io_bytes is bytes
        io_bytes = int(_num(section, "io_bytes", where))
    else:  # fio 2.x: io_bytes is KiB despite its name
        io_bytes = int(_num(section, "io_bytes", where)) * KIB
    if io_bytes == 0 and runtime_ms == 0:
        return None
    if "bw_bytes" in section:
        bw = _num(section, "bw_bytes", where)
    else:  # fio < 3.5 or so: only 'bw', in KiB/s
        bw = _num(section, "bw", where) * KIB
    p50, p99, p999 = _percentiles(section)
    return FioDirection(bw, _num(section, "iops", where), io_bytes, runtime_ms / 1000.0, p50, p99, p999)


def parse_fio_json(text: str) -> FioResult:
    """Parse ``fio --output-format=json`` output (text before the first ``{``,
    such as fio's own notes, is ignored). Raises :class:`FioError` on garbage and
    on any job that reports an error."""
    data = _load(text)
    version = data.get("fio version")
    if not isinstance(version, str):
        raise FioError("fio JSON has no 'fio version'")
    jobs = []
    for index, raw in enumerate(data["jobs"]):
        if not isinstance(raw, Mapping):
            raise FioError(f"fio JSON: jobs[{index}] is not an object")
        name = str(raw.get("jobname", f"#{index}"))
        error = raw.get("error", 0)
        if error:
            raise FioJobError(name, error)
        elapsed = raw.get("elapsed")
        jobs.append(FioJob(
            name,
            _direction(raw.get("read"), f"{name}.read"),
            _direction(raw.get("write"), f"{name}.write"),
            float(elapsed) if isinstance(elapsed, (int, float)) else None,
        ))
    if not jobs:
        raise FioError("fio JSON has no jobs")
    return FioResult(version, tuple(jobs))


def _strerror(errno_value: Any) -> str:
    try:
        return os.strerror(int(errno_value))
    except (TypeError, ValueError):
        return "unknown error"


def _version_tuple(version: str) -> tuple[int, ...]:
    match = re.search(r"(\d+(?:\.\d+)*)", version)
    if not match:
        raise FioError(f"cannot read a version number from {version!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def check_fio_version(version: str, minimum: str = "3.1") -> None:
    """Raise :class:`FioError` when ``version`` (``fio-3.33``) is older than ``minimum``."""
    have, need = _version_tuple(version), _version_tuple(minimum)
    width = max(len(have), len(need))
    if have + (0,) * (width - len(have)) < need + (0,) * (width - len(need)):
        raise FioError(f"{version} is too old: octoprobe needs fio {minimum} or newer")


def fio_samples(result: FioResult, where: str, workload: str, **metadata: Any) -> list[Sample]:
    """Samples ``fio.{where}.{workload}.{bw,iops,clat_p50,clat_p99,clat_p99_9}``
    for every direction that did I/O; metadata gets the fio version, job and
    direction."""
    prefix = f"fio.{where}.{workload}"
    samples = []
    for job in result.jobs:
        for direction, data in (("read", job.read), ("write", job.write)):
            if data is None:
                continue
            meta = {**metadata, "fio_version": result.version, "job": job.name, "direction": direction}
            samples.append(Sample(f"{prefix}.bw", data.bw_bytes, "B/s", meta))
            samples.append(Sample(f"{prefix}.iops", data.iops, "IOPS", meta))
            for suffix, value in (("clat_p50", data.clat_p50), ("clat_p99", data.clat_p99),
                                  ("clat_p99_9", data.clat_p99_9)):
                if value is not None:
                    samples.append(Sample(f"{prefix}.{suffix}", value, "s", meta))
    return samples


def run_fio(runner: RunnerFn, argv: Sequence[str], timeout: float, *, where: str = "this machine") -> FioResult:
    """Run one fio argv through ``runner`` and parse its output. Raises
    :class:`ToolMissing` when fio is not installed, :class:`FioError` otherwise."""
    returncode, stdout, stderr = runner(list(argv), timeout)
    if is_missing("fio", returncode, stderr):
        raise ToolMissing("fio", where)
    try:
        return parse_fio_json(stdout)
    except FioJobError:
        raise
    except FioError as exc:
        if returncode != 0:
            detail = "\n".join((stderr or stdout).strip().splitlines()[-10:]) or "(no output)"
            raise FioError(f"fio exited {returncode} on {where}: {detail}") from exc
        raise

