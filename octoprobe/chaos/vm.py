"""VM continuity: a block writer inside a guest, and its checker (Jepsen-style).

A VM doing disk I/O during a disk or node failure must keep running, its
I/O must resume, and every write the guest saw acknowledged must be there
afterwards. The workload runs *inside* the guest, on a raw disk backed by
RBD (an attached Cinder volume, ``volumes/volume-<id>``), so what is checked
is exactly what a tenant's VM sees through QEMU's librbd driver:

* :data:`WRITER_SCRIPT` — a busybox ``sh`` loop started in the guest over SSH
  (``setsid``, SIGHUP ignored: it survives SSH hiccups and runs without the prober).
  Block ``seq`` goes to offset ``seq * block_size``; it holds a 128-byte
  header (``OCTOPROBE-VM <run> <seq> <sha256 of the payload>``, space
  padded) and random payload bytes. It is written with ``dd oflag=direct
  conv=fsync`` (O_DIRECT, then fsync: on the disk, through any cache); only
  when dd succeeded is ``ack <seq> <start> <end> <sha256>`` appended to the
  ack log, in a tmpfs (``/run``), with the guest's monotonic clock
  (``/proc/uptime``). A failed write is logged ``fail …``: indeterminate.
* :class:`GuestBlockWriter` — installs, starts, polls and stops the writer
  and reads the disk back (``dd iflag=direct | base64``) through a runner
  ``shell(argv, timeout) -> (code, stdout, stderr)`` (the perf suite's
  :class:`~octoprobe.perf.guest.GuestShell`).

Pure functions judge the history afterwards: :func:`parse_ack_log`,
:func:`verify_blocks` (acknowledged, verified, lost, corrupt; an
indeterminate write may be present or absent but must be intact),
:func:`io_stats` (acks before, during and after the fault, the longest gap
between consecutive acks, the I/O stall from the injection, the time to the
first ack after it), :func:`estimate_offset` (guest uptime → the prober's
``time.monotonic()``), :func:`write_records` (acks as the scenario
workload's :class:`~octoprobe.chaos.workload.WriteRecord`, for
:func:`~octoprobe.chaos.measure.measure` and the report's timeline) and
:func:`rbd_object_names` (which RADOS objects hold a byte range of an image,
to read the blocks back from Ceph directly as well).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from .workload import WriteRecord

__all__ = [
    "WRITER_SCRIPT",
    "HEADER_SIZE",
    "MAGIC",
    "AckRecord",
    "AckLog",
    "BlockCheck",
    "IoStats",
    "ClockSample",
    "GuestBlockWriter",
    "GuestError",
    "parse_ack_log",
    "parse_header",
    "make_block",
    "verify_blocks",
    "io_stats",
    "estimate_offset",
    "write_records",
    "rbd_object_names",
    "read_rbd_range",
]

MAGIC = "OCTOPROBE-VM"
HEADER_SIZE = 128
DEFAULT_DIR = "/run/octoprobe-vmio"

Runner = Callable[[Sequence[str], float], "tuple[int, str, str]"]

#: The guest side: busybox sh. Arguments: DEV BLOCK_SIZE COUNT INTERVAL RUN DIR MAX_SECONDS.
WRITER_SCRIPT = r"""#!/bin/sh
# octoprobe VM block writer (octoprobe.chaos.vm): block SEQ at offset SEQ*BS,
# O_DIRECT + fsync, then "ack SEQ START END SHA256" in DIR/ack (guest uptime).
dev=$1 bs=$2 count=$3 interval=$4 run=$5 dir=$6 maxs=$7
trap '' HUP
pay=$((bs - 128))
ack=$dir/ack
now() { read up _ < /proc/uptime; echo "$up"; }
echo $$ > "$dir/pid"
t=$(now)
echo "start $t $run $bs $count $dev" >> "$ack"
limit=${t%.*}
limit=$((limit + maxs))
seq=0
reason=count
while [ "$seq" -lt "$count" ]; do
  if [ -e "$dir/stop" ]; then reason=stop; break; fi
  t=$(now)
  if [ "${t%.*}" -ge "$limit" ]; then reason=max-seconds; break; fi
  head -c "$pay" /dev/urandom > "$dir/pay"
  sum=$(sha256sum < "$dir/pay")
  sum=${sum%% *}
  { printf '%-127s\n' "OCTOPROBE-VM $run $seq $sum"; cat "$dir/pay"; } > "$dir/blk"
  t0=$(now)
  if dd if="$dir/blk" of="$dev" bs="$bs" seek="$seq" count=1 oflag=direct conv=fsync,notrunc 2> "$dir/dd.err"; then
    echo "ack $seq $t0 $(now) $sum" >> "$ack"
  else
    rc=$?
    echo "fail $seq $t0 $(now) $sum rc=$rc $(tr '\n' ' ' < "$dir/dd.err")" >> "$ack"
  fi
  seq=$((seq + 1))
  sleep "$interval"
done
echo "end $(now) $reason" >> "$ack"
touch "$dir/done"
"""


class GuestError(RuntimeError):
    """A command in the guest failed; the message says which and how."""


# ---------------------------------------------------------------- the ack log


@dataclass(frozen=True)
class AckRecord:
    """One write of the guest's writer. Times are guest uptime seconds."""

    seq: int
    started: float
    ended: float
    sha256: str
    ok: bool  # acknowledged (dd succeeded after O_DIRECT + fsync)
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass
class AckLog:
    """The parsed ack log: the writes in log order, the writer's start and end."""

    records: list[AckRecord] = field(default_factory=list)
    started: float | None = None
    ended: float | None = None
    end_reason: str | None = None
    run: str | None = None
    block_size: int | None = None
    device: str | None = None
    malformed: list[str] = field(default_factory=list)

    @property
    def acked(self) -> list[AckRecord]:
        return [r for r in self.records if r.ok]

    @property
    def failed(self) -> list[AckRecord]:
        return [r for r in self.records if not r.ok]


_SHA = re.compile(r"[0-9a-f]{64}")


def parse_ack_log(text: str) -> AckLog:
    """Parse the writer's log. A last line cut short (the log read while the
    writer appends) is ignored; other lines that do not parse are kept in
    ``malformed`` (a checker treats them as a broken history)."""
    log = AckLog()
    lines = text.split("\n")
    complete = lines[:-1]  # after the last newline: a line being written, or ""
    for line in complete:
        parts = line.split()
        if not parts:
            continue
        try:
            kind = parts[0]
            if kind == "start":
                log.started = float(parts[1])
                log.run = parts[2]
                log.block_size = int(parts[3])
                log.device = parts[5] if len(parts) > 5 else None
            elif kind == "end":
                log.ended = float(parts[1])
                log.end_reason = parts[2] if len(parts) > 2 else None
            elif kind in ("ack", "fail"):
                seq, t0, t1, sha = int(parts[1]), float(parts[2]), float(parts[3]), parts[4]
                if not _SHA.fullmatch(sha):
                    raise ValueError(f"bad checksum {sha!r}")
                error = (" ".join(parts[5:]) or "failed") if kind == "fail" else None
                log.records.append(AckRecord(seq, t0, t1, sha, kind == "ack", error))
            else:
                raise ValueError(f"unknown record {kind!r}")
        except (IndexError, ValueError):
            log.malformed.append(line)
    return log


# ---------------------------------------------------------------- blocks


def make_block(run: str, seq: int, payload: bytes) -> bytes:
    """A block as the writer makes it (for tests): header + payload."""
    digest = hashlib.sha256(payload).hexdigest()
    header = f"{MAGIC} {run} {seq} {digest}".ljust(HEADER_SIZE - 1).encode() + b"\n"
    return header + payload


def parse_header(block: bytes) -> tuple[str, int, str] | None:
    """``(run, seq, sha256)`` of a block's header; None if it has none."""
    head = block[:HEADER_SIZE]
    if len(head) < HEADER_SIZE or not head.startswith(MAGIC.encode() + b" "):
        return None
    try:
        parts = head.decode("ascii").split()
        if len(parts) != 4 or parts[0] != MAGIC or not _SHA.fullmatch(parts[3]):
            return None
        return parts[1], int(parts[2]), parts[3]
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass(frozen=True)
class BlockCheck:
    """The verdict on one read-back of the disk."""

    acknowledged: int
    verified: int
    lost: tuple[int, ...]  # acknowledged, not there (zeros, another write, short read)
    corrupt: tuple[int, ...]  # there (its header), but the bytes differ from what was acknowledged
    indeterminate: int
    indeterminate_present: int
    indeterminate_absent: int
    bytes_verified: int = 0
    details: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.corrupt

    def counts(self) -> dict[str, int]:
        return {"acknowledged": self.acknowledged, "verified": self.verified, "lost": len(self.lost),
                "corrupt": len(self.corrupt), "indeterminate": self.indeterminate,
                "indeterminate_present": self.indeterminate_present,
                "indeterminate_absent": self.indeterminate_absent}

    def summary(self) -> str:
        c = self.counts()
        text = (f"{c['acknowledged']} acknowledged blocks: {c['verified']} verified, {c['lost']} lost, "
                f"{c['corrupt']} corrupt; {c['indeterminate']} indeterminate ({c['indeterminate_present']} "
                f"present, {c['indeterminate_absent']} absent)")
        if self.details:
            first = sorted(self.details.items())[:5]
            text += "; e.g. " + "; ".join(f"block {s}: {d}" for s, d in first)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts(), "bytes_verified": self.bytes_verified, "lost_blocks": list(self.lost[:100]),
                "corrupt_blocks": list(self.corrupt[:100]),
                "details": {str(k): v for k, v in sorted(self.details.items())[:20]}}


def verify_blocks(records: Iterable[AckRecord], data: bytes, *, block_size: int, run: str,
                  first_block: int = 0) -> BlockCheck:
    """Judge a read-back: ``data`` is the disk from block ``first_block`` on.

    For an acknowledged write, the block must carry its header (this run,
    its seq) and its payload must hash to the acknowledged checksum: no
    header of this write is *lost*, a header of this write with other bytes
    is *corrupt*. An indeterminate (failed) write may be absent, but if its
    header is there its bytes must match too. When a seq was written more
    than once (the writer never does), its last acknowledged write or any
    indeterminate write after it may be there."""
    writes: dict[int, list[AckRecord]] = {}
    for r in records:
        writes.setdefault(r.seq, []).append(r)
    lost: list[int] = []
    corrupt: list[int] = []
    details: dict[int, str] = {}
    verified = present = absent = 0
    acknowledged = indeterminate = 0
    nbytes = 0
    for seq in sorted(writes):
        ws = writes[seq]
        acked = [i for i, r in enumerate(ws) if r.ok]
        ok = bool(acked)
        acknowledged += ok
        indeterminate += not ok
        # what may be there: the last acknowledged write, or an indeterminate one after it
        allowed = {r.sha256 for r in ws[acked[-1]:]} if ok else {r.sha256 for r in ws}
        off = (seq - first_block) * block_size
        block = data[off:off + block_size] if off >= 0 else b""
        header = parse_header(block) if len(block) == block_size else None
        mine = header is not None and header[0] == run and header[1] == seq
        if not mine:
            if ok:
                lost.append(seq)
                if len(block) < block_size:
                    details[seq] = f"short read: {len(block)} of {block_size} bytes"
                elif header is None:
                    details[seq] = "no header" + (" (zeros)" if not block.strip(b"\0") else "")
                else:
                    details[seq] = f"holds run {header[0]} seq {header[1]}"
            else:
                absent += 1
            continue
        digest = hashlib.sha256(block[HEADER_SIZE:]).hexdigest()
        intact = digest == header[2] and digest in allowed
        if ok and intact:
            verified += 1
            nbytes += block_size
        elif intact:
            present += 1
        else:
            corrupt.append(seq)
            details[seq] = (f"payload sha256 {digest[:12]}…, header {header[2][:12]}…, acknowledged "
                            f"{ws[acked[-1]].sha256[:12] if ok else '-'}…"
                            + ("" if ok else " (an indeterminate write present but not intact)"))
    return BlockCheck(acknowledged, verified, tuple(lost), tuple(corrupt), indeterminate, present, absent,
                      nbytes, details)


# ---------------------------------------------------------------- measurements


@dataclass(frozen=True)
class IoStats:
    """The guest's I/O around a fault, in guest seconds (see :func:`io_stats`)."""

    acknowledged: int
    failed: int
    acks_before_fault: int
    acks_during_fault: int  # acknowledged between injection and heal
    acks_after_inject: int  # acknowledged after the injection (during the fault and after the heal)
    acks_after_heal: int
    max_gap_s: float | None  # longest time between consecutive acks, over the whole run
    stall_s: float | None  # longest time without an ack from the injection to the last ack
    first_ack_after_inject_s: float | None  # injection → first write acknowledged after it
    write_latency_max_s: float | None
    median_interval_before_s: float | None  # the healthy pace: median time between acks before the fault

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def io_stats(records: Sequence[AckRecord], *, inject: float, heal: float | None = None) -> IoStats:
    """What the guest's writes did around the fault. ``inject`` and ``heal``
    are in guest seconds (see :func:`estimate_offset`)."""
    acked = sorted(r.ended for r in records if r.ok)
    before = [t for t in acked if t < inject]
    after = [t for t in acked if t >= inject]
    during = [t for t in after if heal is None or t < heal]
    after_heal = [t for t in after if heal is not None and t >= heal]
    gaps = [b - a for a, b in zip(acked, acked[1:])]
    stall = None
    if after:
        marks = [inject, *after]
        stall = max(b - a for a, b in zip(marks, marks[1:]))
    intervals = sorted(b - a for a, b in zip(before, before[1:]))
    median = intervals[len(intervals) // 2] if intervals else None
    return IoStats(
        acknowledged=len(acked),
        failed=sum(1 for r in records if not r.ok),
        acks_before_fault=len(before),
        acks_during_fault=len(during),
        acks_after_inject=len(after),
        acks_after_heal=len(after_heal),
        max_gap_s=max(gaps) if gaps else None,
        stall_s=stall,
        first_ack_after_inject_s=(after[0] - inject) if after else None,
        write_latency_max_s=max((r.latency for r in records if r.ok), default=None),
        median_interval_before_s=median,
    )


@dataclass(frozen=True)
class ClockSample:
    """One reading of the guest's uptime between two readings of the prober's clock."""

    host_before: float
    guest: float
    host_after: float

    @property
    def rtt(self) -> float:
        return self.host_after - self.host_before


def estimate_offset(samples: Sequence[ClockSample]) -> tuple[float, float]:
    """``(offset, uncertainty)``: prober time = guest uptime + offset, from
    the sample with the shortest round trip (its midpoint; uncertainty half
    its round trip, plus the guest clock's 10 ms resolution)."""
    if not samples:
        raise ValueError("no clock samples")
    best = min(samples, key=lambda s: s.rtt)
    return (best.host_before + best.host_after) / 2 - best.guest, best.rtt / 2 + 0.01


def write_records(records: Sequence[AckRecord], *, offset: float, run: str, block_size: int,
                  inject: float | None = None) -> list[WriteRecord]:
    """The guest's writes as :class:`WriteRecord` in the prober's
    ``time.monotonic()`` (``offset`` from :func:`estimate_offset`); phase
    ``before`` or ``during`` the fault (``inject`` in prober time)."""
    out = []
    for r in records:
        started, ended = r.started + offset, r.ended + offset
        phase = "during" if inject is not None and started >= inject else "before"
        out.append(WriteRecord(f"{run}-{r.seq}", block_size, r.sha256, phase, started, ended, r.ok, r.error))
    return out


def rbd_object_names(image_id: str, start: int, length: int, object_size: int) -> list[tuple[str, int]]:
    """The RADOS objects (format 2 RBD image ``image_id``) holding bytes
    ``[start, start + length)``, with each one's offset in the image."""
    if object_size <= 0 or length <= 0:
        return []
    first, last = start // object_size, (start + length - 1) // object_size
    return [(f"rbd_data.{image_id}.{n:016x}", n * object_size) for n in range(first, last + 1)]


# ---------------------------------------------------------------- the guest side


def _q(text: str) -> str:
    return shlex.quote(text)


class GuestBlockWriter:
    """Drives :data:`WRITER_SCRIPT` in one guest through ``shell``.

    ``shell(argv, timeout) -> (code, stdout, stderr)``; every call has a timeout."""

    def __init__(self, shell: Runner, *, device: str, run: str, block_size: int = 4096, count: int = 2000,
                 interval: float = 0.1, max_seconds: int = 1800, directory: str = DEFAULT_DIR,
                 command_timeout: float = 60.0):
        if block_size <= HEADER_SIZE or block_size % 512:
            raise ValueError("block_size must be a multiple of 512 larger than the header")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", run):
            raise ValueError(f"run {run!r}: letters, digits, '.', '_' and '-' only")
        self.shell = shell
        self.device = device
        self.run = run
        self.block_size = block_size
        self.count = count
        self.interval = interval
        self.max_seconds = max_seconds
        self.directory = directory
        self.command_timeout = command_timeout

    def sh(self, script: str, timeout: float | None = None) -> str:
        code, out, err = self.shell(["sh", "-c", script], timeout or self.command_timeout)
        if code != 0:
            raise GuestError(f"`{script[:200]}` in the guest: exit {code}: {(err or out).strip()[-500:]}")
        return out

    def start(self) -> None:
        """Install the script in a fresh directory and start it detached."""
        d = _q(self.directory)
        script = WRITER_SCRIPT.replace("'", "'\"'\"'")
        args = " ".join(_q(str(a)) for a in (self.device, self.block_size, self.count, f"{self.interval:g}",
                                             self.run, self.directory, self.max_seconds))
        self.sh(f"rm -rf {d} && mkdir -p {d} && printf '%s' '{script}' > {d}/writer.sh || exit 1; cd /; "
                f"(setsid sh {d}/writer.sh {args} > {d}/out 2>&1 < /dev/null &)")

    def ack_text(self) -> str:
        return self.sh(f"cat {_q(self.directory)}/ack 2>/dev/null || true")

    def log(self) -> AckLog:
        return parse_ack_log(self.ack_text())

    def state(self) -> str:
        """``running``, ``done`` (finished its log) or ``gone`` (died, or never started)."""
        d = _q(self.directory)
        # alive first: a writer that finished has touched ``done`` before it exited
        return self.sh(f"if [ -e {d}/pid ] && kill -0 $(cat {d}/pid) 2>/dev/null; then echo running; "
                       f"elif [ -e {d}/done ]; then echo done; else echo gone; fi").strip()

    def wait_for_acks(self, count: int, *, after: float | None = None, timeout: float,
                      poll: float = 1.0) -> AckLog:
        """Until ``count`` writes are acknowledged (ended after guest time
        ``after``, when given); TimeoutError otherwise, or GuestError if the
        writer is gone."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            n = sum(1 for r in log.acked if after is None or r.ended >= after)
            if n >= count:
                return log
            if log.ended is not None:
                raise GuestError(f"the writer ended ({log.end_reason}) after {len(log.acked)} acks, "
                                 f"{n} of the {count} wanted")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} of {count} writes acknowledged in the guest within {timeout:g}s"
                                   + (f" after guest time {after:.2f}" if after is not None else "")
                                   + f"; last record: {log.records[-1] if log.records else None}")
            time.sleep(poll)

    def stop(self, timeout: float = 120.0) -> AckLog:
        """Ask the writer to stop and wait until it has (its last write may
        take as long as the storage needs)."""
        d = _q(self.directory)
        self.sh(f"touch {d}/stop")
        deadline = time.monotonic() + timeout
        while (state := self.state()) != "done":
            if state == "gone":
                raise GuestError("the writer died without finishing its log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the writer did not stop within {timeout:g}s (a write blocked?)")
            time.sleep(0.5)
        return self.log()

    def uptime(self) -> float:
        return float(self.sh("cat /proc/uptime").split()[0])

    def boot_id(self) -> str:
        return self.sh("cat /proc/sys/kernel/random/boot_id").strip()

    def clock_samples(self, n: int = 5, clock: Callable[[], float] = time.monotonic) -> list[ClockSample]:
        out = []
        for _ in range(n):
            before = clock()
            guest = self.uptime()
            out.append(ClockSample(before, guest, clock()))
        return out

    def read_back(self, blocks: int, *, first_block: int = 0, chunk: int = 256, timeout: float = 120.0) -> bytes:
        """``blocks`` blocks from ``first_block`` on, read with O_DIRECT (past
        the guest's page cache), base64 over SSH."""
        data = bytearray()
        bs = self.block_size
        for start in range(first_block, first_block + blocks, chunk):
            n = min(chunk, first_block + blocks - start)
            out = self.sh(f"dd if={_q(self.device)} bs={bs} skip={start} count={n} iflag=direct 2>/dev/null "
                          f"| base64", timeout)
            part = base64.b64decode("".join(out.split()))
            data += part
            if len(part) < n * bs:
                break  # past the end of the device
        return bytes(data)


def read_rbd_range(runner: Any, *, conf: str | None, pool: str, image_id: str, object_size: int, length: int,
                   scratch: Any, start: int = 0, timeout: float = 60.0) -> bytes:
    """Bytes ``[start, start + length)`` of a format 2 RBD image read from
    its RADOS objects with ``rados get`` (Ceph's own copy, not the guest's
    view); an object that does not exist reads as zeros, as RBD reads it.
    ``runner`` is a :class:`~octoprobe.shell.Runner` on this machine."""
    from pathlib import Path

    from octoprobe.shell import CommandError

    base = ["rados"] + (["--conf", conf] if conf else []) + ["-p", pool]
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    data = bytearray()
    for name, offset in rbd_object_names(image_id, start, length, object_size):
        path = scratch / f"{name}.read"
        path.unlink(missing_ok=True)
        try:
            runner.run([*base, "get", name, str(path)], timeout=timeout)
            part = path.read_bytes()
        except CommandError as exc:
            if "No such file" not in str(exc) and "(2)" not in str(exc):
                raise
            part = b""
        finally:
            path.unlink(missing_ok=True)
        data += part.ljust(object_size, b"\0")
    skip = start - (start // object_size) * object_size if object_size > 0 else 0
    return bytes(data[skip:skip + length])
