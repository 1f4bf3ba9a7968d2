"""The checker: after the fault is healed, read back every write and judge.

* every **acknowledged** write must be readable and intact: one that is not
  there is **lost**, one whose bytes differ (size or SHA-256) is **corrupt**,
  one whose read fails or blocks past its timeout is **unreadable**;
* an **indeterminate** write (failed or timed out) may be present or absent,
  but if present it must be intact (else it is corrupt too);
* **unfound** is Ceph's own count of objects it knows exist but cannot find
  a copy of (``ceph status``), taken when the check runs.

Lost, corrupt, unfound and unreadable must all be 0 for a scenario to pass.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from octoprobe.shell import CommandError

from .workload import History, ObjectMissing, RadosObjects, WriteRecord

__all__ = ["CheckResult", "check"]


@dataclass(frozen=True)
class CheckResult:
    acknowledged: int
    verified: int
    lost: tuple[str, ...]
    corrupt: tuple[str, ...]
    unreadable: tuple[str, ...]
    unfound: int
    indeterminate: int
    indeterminate_present: int
    indeterminate_absent: int
    bytes_verified: int = 0
    elapsed: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.corrupt and not self.unreadable and self.unfound == 0

    def counts(self) -> dict[str, int]:
        return {
            "acknowledged": self.acknowledged,
            "verified": self.verified,
            "lost": len(self.lost),
            "corrupt": len(self.corrupt),
            "unfound": self.unfound,
            "unreadable": len(self.unreadable),
            "indeterminate": self.indeterminate,
            "indeterminate_present": self.indeterminate_present,
            "indeterminate_absent": self.indeterminate_absent,
        }

    def summary(self) -> str:
        c = self.counts()
        text = (f"{c['verified']}/{c['acknowledged']} acknowledged writes verified; lost {c['lost']}, corrupt "
                f"{c['corrupt']}, unfound {c['unfound']}, unreadable {c['unreadable']}; indeterminate "
                f"{c['indeterminate']} ({c['indeterminate_present']} present, {c['indeterminate_absent']} absent)")
        bad = [*self.lost[:5], *self.corrupt[:5], *self.unreadable[:5]]
        if bad:
            text += "; e.g. " + ", ".join(f"{n}: {self.errors.get(n, '?')}" for n in bad)
        return text

    def to_dict(self) -> dict:
        return {**self.counts(), "lost_names": list(self.lost), "corrupt_names": list(self.corrupt),
                "unreadable_names": list(self.unreadable), "bytes_verified": self.bytes_verified,
                "elapsed": round(self.elapsed, 3), "errors": dict(list(self.errors.items())[:50])}


def _read(objects: RadosObjects, record: WriteRecord, timeout: float) -> tuple[str, str]:
    """(verdict, detail): verdict is ok, missing, corrupt or unreadable."""
    try:
        data = objects.get(record.name, timeout=timeout)
    except ObjectMissing:
        return "missing", "no such object"
    except CommandError as exc:
        return "unreadable", str(exc)[-200:]
    if len(data) != record.size:
        return "corrupt", f"{len(data)} bytes, expected {record.size}"
    if hashlib.sha256(data).hexdigest() != record.sha256:
        return "corrupt", "SHA-256 differs"
    return "ok", ""


def check(objects: RadosObjects, history: History, *, unfound: int = 0, read_timeout: float = 60.0,
          concurrency: int = 4, max_seconds: float | None = None) -> CheckResult:
    """Read back every write in ``history``; see the module docstring.
    Past ``max_seconds`` in all (a cluster whose reads block), the writes not
    read yet count as unreadable."""
    started = time.monotonic()
    records = history.records

    def one(record: WriteRecord) -> tuple[WriteRecord, str, str]:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            return record, "unreadable", f"not read: the check ran past {max_seconds:g}s"
        return (record, *_read(objects, record, read_timeout))

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        verdicts = list(pool.map(one, records))
    lost, corrupt, unreadable = [], [], []
    errors: dict[str, str] = {}
    verified = present = absent = 0
    bytes_ok = 0
    for record, verdict, detail in verdicts:
        if detail:
            errors[record.name] = detail
        if record.ok:
            if verdict == "ok":
                verified += 1
                bytes_ok += record.size
            elif verdict == "missing":
                lost.append(record.name)
            elif verdict == "corrupt":
                corrupt.append(record.name)
            else:
                unreadable.append(record.name)
        else:
            if verdict == "ok":
                present += 1
            elif verdict == "missing":
                absent += 1
            elif verdict == "corrupt":
                corrupt.append(record.name)
            else:
                unreadable.append(record.name)
    return CheckResult(
        acknowledged=sum(1 for r in records if r.ok),
        verified=verified,
        lost=tuple(lost),
        corrupt=tuple(corrupt),
        unreadable=tuple(unreadable),
        unfound=unfound,
        indeterminate=sum(1 for r in records if not r.ok),
        indeterminate_present=present,
        indeterminate_absent=absent,
        bytes_verified=bytes_ok,
        elapsed=time.monotonic() - started,
        errors=errors,
    )
