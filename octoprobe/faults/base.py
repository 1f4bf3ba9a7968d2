"""The fault interface: what a fault is, and the three things a driver does with it.

A :class:`FaultSpec` says *what* fails, independent of how it is done: a disk
(one OSD), a node, a rack, a network partition of hosts or racks, a flapping
OSD, or a storage host that joins (added capacity, "healed" by leaving again).
A driver turns a spec into a :class:`Fault` for one kind of cloud — the
bundled reference cloud (:mod:`octoprobe.faults.reference`), later a lab over
SSH, IPMI/Redfish or switch ports — and every fault has the same small
interface:

* :meth:`Fault.plan` — what inject and heal will do, step by step, without
  doing it (``--chaos-dry-run`` prints it);
* :meth:`Fault.inject` — make it happen;
* :meth:`Fault.heal` — undo it; idempotent, and safe to call on a fault that
  was never injected or was injected by an earlier, crashed process (heal
  works from the spec alone, never from state kept in memory);
* :meth:`Fault.status` — each component the fault touches, healthy or not.

Specs are plain data (``to_dict`` / ``from_dict``), so a journal can record
what was injected and a later run can heal it (:mod:`octoprobe.faults.guard`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

__all__ = [
    "DISK",
    "NODE",
    "RACK",
    "PARTITION",
    "FLAP",
    "ADD_HOST",
    "KINDS",
    "FaultError",
    "FaultUnsupported",
    "FaultSpec",
    "FaultPlan",
    "ComponentState",
    "FaultStatus",
    "Fault",
    "FaultDriver",
]

DISK = "disk"  # one OSD's daemon killed and its device made unusable
NODE = "node"  # every daemon of a host killed, its link down (a power loss)
RACK = "rack"  # every daemon of every host of a rack killed, the rack's uplink down
PARTITION = "partition"  # hosts' links or racks' uplinks down; daemons keep running
FLAP = "flap"  # one OSD killed and restarted on a schedule
ADD_HOST = "add-host"  # a storage host joins (added capacity); heal = it leaves again
KINDS = (DISK, NODE, RACK, PARTITION, FLAP, ADD_HOST)

_TARGET_KIND = {DISK: "osd", NODE: "host", RACK: "rack", FLAP: "osd", ADD_HOST: "host"}


class FaultError(RuntimeError):
    """A fault cannot be planned, injected or healed; the message says why."""


class FaultUnsupported(FaultError):
    """This driver cannot do this fault on this cloud at all (a lab node
    without a BMC, no hardware to add): a scenario needing it is refused,
    not failed."""


@dataclass(frozen=True)
class FaultSpec:
    """What fails. ``targets`` are OSD ids as ``"osd.N"`` (disk, flap), host
    names (node, add-host, partition of hosts) or rack names (rack, partition
    of racks); ``scope`` tells a partition's targets apart (``"host"`` or
    ``"rack"``); ``params`` holds kind-specific settings (a flap's schedule,
    an added host's rack and OSD size)."""

    kind: str
    targets: tuple[str, ...]
    scope: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        if not self.targets:
            raise ValueError(f"a {self.kind} fault needs at least one target")
        object.__setattr__(self, "targets", tuple(self.targets))
        if self.kind == PARTITION and self.scope not in ("host", "rack"):
            raise ValueError("a partition's scope is 'host' or 'rack'")
        if self.kind in (DISK, FLAP):
            for t in self.targets:
                if not (t.startswith("osd.") and t[4:].isdigit()):
                    raise ValueError(f"a {self.kind} fault targets OSDs as 'osd.N', not {t!r}")
        object.__setattr__(self, "params", dict(self.params))

    @property
    def target_kind(self) -> str:
        """``osd``, ``host`` or ``rack``."""
        return self.scope if self.kind == PARTITION else _TARGET_KIND[self.kind]

    @property
    def osd_ids(self) -> tuple[int, ...]:
        """The OSD ids of a disk or flap fault."""
        if self.target_kind != "osd":
            return ()
        return tuple(int(t[4:]) for t in self.targets)

    def describe(self) -> str:
        """``"disk osd.3"``, ``"rack r2+r3"``, ``"partition of host r1-s1"``."""
        names = "+".join(self.targets)
        if self.kind == PARTITION:
            return f"partition of {self.scope} {names}"
        return f"{self.kind} {names}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "targets": list(self.targets), "scope": self.scope, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FaultSpec":
        return cls(
            kind=data["kind"],
            targets=tuple(data["targets"]),
            scope=data.get("scope", ""),
            params=data.get("params") or {},
        )


@dataclass(frozen=True)
class FaultPlan:
    """What a fault will do, for ``--chaos-dry-run`` and for reports.

    ``osds`` and ``hosts`` are what it takes down (or adds), ``failure_domains``
    the racks it touches (its blast radius)."""

    spec: FaultSpec
    driver: str
    inject: tuple[str, ...]
    heal: tuple[str, ...]
    osds: tuple[int, ...] = ()
    hosts: tuple[str, ...] = ()
    failure_domains: tuple[str, ...] = ()

    def render(self) -> str:
        lines = [f"fault: {self.spec.describe()} (driver {self.driver})"]
        if self.failure_domains:
            lines.append(f"  blast radius: {len(self.failure_domains)} rack(s): {', '.join(self.failure_domains)}")
        lines.append("  inject:")
        lines += [f"    - {step}" for step in self.inject]
        lines.append("  heal:")
        lines += [f"    - {step}" for step in self.heal]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "driver": self.driver,
            "inject": list(self.inject),
            "heal": list(self.heal),
            "osds": list(self.osds),
            "hosts": list(self.hosts),
            "failure_domains": list(self.failure_domains),
        }


@dataclass(frozen=True)
class ComponentState:
    """One thing a fault touches (``osd.3 daemon``, ``rack r2 uplink``) and
    whether it is as a healthy cloud has it."""

    name: str
    healthy: bool
    detail: str = ""


@dataclass(frozen=True)
class FaultStatus:
    spec: FaultSpec
    injected: bool  # injected by this object and not healed since
    components: tuple[ComponentState, ...]

    @property
    def healthy(self) -> bool:
        """Every component is as a healthy cloud has it (the fault is healed)."""
        return all(c.healthy for c in self.components)

    def unhealthy(self) -> tuple[ComponentState, ...]:
        return tuple(c for c in self.components if not c.healthy)

    def describe(self) -> str:
        state = "healthy" if self.healthy else "faulty: " + "; ".join(
            f"{c.name} ({c.detail})" if c.detail else c.name for c in self.unhealthy()
        )
        return f"{self.spec.describe()}: {state}"


class Fault(abc.ABC):
    """One fault on one cloud. See the module docstring."""

    def __init__(self, spec: FaultSpec):
        self.spec = spec
        self.injected = False

    @abc.abstractmethod
    def plan(self) -> FaultPlan: ...

    @abc.abstractmethod
    def inject(self) -> None: ...

    @abc.abstractmethod
    def heal(self) -> None:
        """Undo the fault. Idempotent; works without a prior inject."""

    @abc.abstractmethod
    def status(self) -> FaultStatus: ...

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.describe()}{' injected' if self.injected else ''}>"


class FaultDriver(Protocol):
    """Turns specs into faults for one kind of cloud."""

    name: str

    def fault(self, spec: FaultSpec) -> Fault:
        """The fault for ``spec``; FaultError if this driver cannot do it here."""
        ...

    def heal_everything(self) -> list[str]:
        """Undo every fault of every kind this driver can find on the cloud
        (after a crash lost the journal); returns what it did."""
        ...
