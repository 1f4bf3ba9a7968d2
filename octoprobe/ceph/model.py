"""Read-only model of Ceph cluster state.

Every class here is a frozen dataclass built by :mod:`octoprobe.ceph.parse`
from the JSON that ``ceph … --format json`` and ``rbd … --format json`` print.
Nothing here talks to a cluster; see :mod:`octoprobe.ceph.client` for that.

Counters that Ceph leaves out of its output when they are zero (degraded,
misplaced and unfound objects, I/O and recovery rates) are zero here, never
missing, so callers can compare numbers without guarding against ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping

# ---------------------------------------------------------------- health

HEALTH_OK = "HEALTH_OK"
HEALTH_WARN = "HEALTH_WARN"
HEALTH_ERR = "HEALTH_ERR"


@dataclass(frozen=True)
class HealthCheck:
    """One named health check, e.g. ``OSD_DOWN`` / ``HEALTH_WARN`` / "1 osds down".

    ``detail`` holds the per-item lines of ``ceph health detail``; it is empty
    when the check came from ``ceph status``.
    """

    name: str
    severity: str
    summary: str
    count: int = 0
    muted: bool = False
    detail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Health:
    status: str
    checks: tuple[HealthCheck, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == HEALTH_OK

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks)

    def check(self, name: str) -> HealthCheck | None:
        for c in self.checks:
            if c.name == name:
                return c
        return None

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.checks)


# ---------------------------------------------------------------- placement groups

# State words that may accompany "active+clean" without the PG being unsettled:
# scrubbing and snapshot trimming are routine background work.
BENIGN_CLEAN_STATES = frozenset({"scrubbing", "deep", "snaptrim", "snaptrim_wait"})


def pg_state_words(state: str) -> frozenset[str]:
    """``"active+undersized+degraded"`` → ``{"active", "undersized", "degraded"}``."""
    return frozenset(w for w in state.split("+") if w)


def is_active_clean_state(state: str) -> bool:
    """True for ``active+clean`` and for ``active+clean`` plus only routine
    background work (scrubbing, snaptrim). ``active+clean+remapped`` is *not*
    settled: its data is still to move."""
    words = pg_state_words(state)
    return {"active", "clean"} <= words and words - {"active", "clean"} <= BENIGN_CLEAN_STATES


def is_inactive_state(state: str) -> bool:
    """A PG that cannot serve I/O: its state lacks ``active`` (peering,
    undersized+peered, unknown, down, incomplete, …)."""
    return "active" not in pg_state_words(state)


@dataclass(frozen=True)
class PgSummary:
    """How many PGs are in each state, as ``ceph status`` reports them."""

    total: int
    by_state: Mapping[str, int] = field(default_factory=dict)

    @property
    def active_clean(self) -> int:
        return sum(n for s, n in self.by_state.items() if is_active_clean_state(s))

    @property
    def inactive(self) -> int:
        return sum(n for s, n in self.by_state.items() if is_inactive_state(s))

    @property
    def all_active_clean(self) -> bool:
        return self.active_clean == self.total

    def count_with(self, word: str) -> int:
        """PGs whose state contains ``word``, e.g. ``count_with("degraded")``."""
        return sum(n for s, n in self.by_state.items() if word in pg_state_words(s))

    def describe(self) -> str:
        """``"15 active+undersized+degraded, 2 active+clean"`` (largest first)."""
        if not self.by_state:
            return f"{self.total} pgs, no state reported"
        parts = sorted(self.by_state.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"{n} {s}" for s, n in parts)


@dataclass(frozen=True)
class PgInfo:
    """One PG from ``ceph pg dump pgs_brief``."""

    pgid: str
    pool_id: int
    state: str
    up: tuple[int, ...]
    acting: tuple[int, ...]
    primary: int
    up_primary: int = -1

    @property
    def states(self) -> frozenset[str]:
        return pg_state_words(self.state)

    @property
    def active_clean(self) -> bool:
        return is_active_clean_state(self.state)

    @property
    def inactive(self) -> bool:
        return is_inactive_state(self.state)


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class ObjectCounters:
    """Object redundancy counters; zero where Ceph omitted them."""

    degraded: int = 0
    degraded_total: int = 0
    misplaced: int = 0
    misplaced_total: int = 0
    unfound: int = 0
    num_objects: int = 0

    @property
    def clean(self) -> bool:
        return self.degraded == 0 and self.misplaced == 0 and self.unfound == 0

    @property
    def degraded_ratio(self) -> float:
        return self.degraded / self.degraded_total if self.degraded_total else 0.0

    @property
    def misplaced_ratio(self) -> float:
        return self.misplaced / self.misplaced_total if self.misplaced_total else 0.0


@dataclass(frozen=True)
class IoRates:
    """Client and recovery rates the manager computed; zero where omitted."""

    read_bytes_sec: int = 0
    write_bytes_sec: int = 0
    read_op_per_sec: int = 0
    write_op_per_sec: int = 0
    recovering_bytes_per_sec: int = 0
    recovering_objects_per_sec: int = 0

    @property
    def recovering(self) -> bool:
        return self.recovering_bytes_per_sec > 0 or self.recovering_objects_per_sec > 0


@dataclass(frozen=True)
class Capacity:
    """Raw capacity of the cluster (all replicas), and the logical data stored."""

    total_bytes: int
    used_bytes: int
    avail_bytes: int
    data_bytes: int

    @property
    def used_ratio(self) -> float:
        return self.used_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True)
class OsdCounts:
    num_osds: int
    up: int
    in_: int
    epoch: int = 0
    remapped_pgs: int = 0

    @property
    def down(self) -> int:
        return self.num_osds - self.up

    @property
    def out(self) -> int:
        return self.num_osds - self.in_


@dataclass(frozen=True)
class ClusterStatus:
    """``ceph status``: the numbers a chaos test watches."""

    fsid: str
    health: Health
    quorum: tuple[str, ...]
    osds: OsdCounts
    pgs: PgSummary
    objects: ObjectCounters
    io: IoRates
    capacity: Capacity
    num_pools: int = 0

    @property
    def clean(self) -> bool:
        """Every PG active+clean and no degraded, misplaced or unfound object:
        full redundancy, nothing left to move."""
        return self.pgs.all_active_clean and self.objects.clean

    def describe(self) -> str:
        """One line for logs and error messages."""
        o = self.objects
        parts = [
            self.health.status,
            f"osds {self.osds.up}/{self.osds.num_osds} up, {self.osds.in_} in",
            f"pgs: {self.pgs.describe()}",
        ]
        if o.degraded:
            parts.append(f"degraded {o.degraded}/{o.degraded_total}")
        if o.misplaced:
            parts.append(f"misplaced {o.misplaced}/{o.misplaced_total}")
        if o.unfound:
            parts.append(f"unfound {o.unfound}")
        if self.io.recovering:
            parts.append(
                f"recovering {self.io.recovering_objects_per_sec} obj/s "
                f"{self.io.recovering_bytes_per_sec} B/s"
            )
        return "; ".join(parts)


# ---------------------------------------------------------------- OSDs and CRUSH


@dataclass(frozen=True)
class CrushNode:
    """A CRUSH bucket (root, rack, host, …) from ``ceph osd tree``."""

    id: int
    name: str
    type: str
    children: tuple[int, ...] = ()


@dataclass(frozen=True)
class OsdInfo:
    """One OSD from ``ceph osd tree`` with its place in the CRUSH tree.

    ``location`` maps every ancestor bucket type to its name
    (``{"host": "host1", "rack": "rack1", "root": "default"}``); ``host``,
    ``rack`` and ``root`` are the usual ones of those, ``None`` when absent
    (an OSD outside the tree, under ``stray``, has none).
    """

    id: int
    name: str
    host: str | None
    rack: str | None
    root: str | None
    up: bool
    in_: bool
    reweight: float
    crush_weight: float
    device_class: str | None
    status: str = ""
    location: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OsdTree:
    """``ceph osd tree``: the buckets and the OSDs, iterable over the OSDs."""

    buckets: tuple[CrushNode, ...]
    osds: tuple[OsdInfo, ...]

    def __iter__(self) -> Iterator[OsdInfo]:
        return iter(self.osds)

    def __len__(self) -> int:
        return len(self.osds)

    def osd(self, osd_id: int) -> OsdInfo:
        for o in self.osds:
            if o.id == osd_id:
                return o
        raise KeyError(f"osd.{osd_id} is not in the tree")

    def bucket(self, name: str) -> CrushNode:
        for b in self.buckets:
            if b.name == name:
                return b
        raise KeyError(f"no CRUSH bucket named {name!r}")

    def buckets_of_type(self, type_: str) -> tuple[CrushNode, ...]:
        return tuple(b for b in self.buckets if b.type == type_)

    def osds_under(self, type_: str, name: str) -> tuple[OsdInfo, ...]:
        """OSDs below the bucket ``name`` of type ``type_`` (e.g. "rack", "rack1")."""
        return tuple(o for o in self.osds if o.location.get(type_) == name)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.buckets_of_type("host"))

    @property
    def racks(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.buckets_of_type("rack"))

    @property
    def down(self) -> tuple[OsdInfo, ...]:
        return tuple(o for o in self.osds if not o.up)

    @property
    def out(self) -> tuple[OsdInfo, ...]:
        return tuple(o for o in self.osds if not o.in_)


@dataclass(frozen=True)
class OsdUsage:
    """One OSD from ``ceph osd df``. Sizes in KiB, as Ceph reports them."""

    id: int
    name: str
    kb: int
    kb_used: int
    kb_avail: int
    utilization: float  # percent, 0–100
    pgs: int = 0
    status: str = ""
    kb_used_data: int = 0  # object data only (no BlueStore metadata); 0 where Ceph does not report it

    @property
    def total_bytes(self) -> int:
        return self.kb * 1024

    @property
    def used_bytes(self) -> int:
        return self.kb_used * 1024


@dataclass(frozen=True)
class CrushRule:
    """A CRUSH rule; ``failure_domain`` is the bucket type of its
    chooseleaf/choose step (``"rack"``, ``"host"``, …) and ``root`` the bucket
    its ``take`` step starts from."""

    id: int
    name: str
    type: int
    root: str | None
    failure_domain: str | None


# ---------------------------------------------------------------- pools


REPLICATED = "replicated"
ERASURE = "erasure"


@dataclass(frozen=True)
class PoolInfo:
    """A pool from ``ceph osd pool ls detail``."""

    id: int
    name: str
    size: int
    min_size: int
    pg_num: int
    crush_rule: int
    application: str | None
    applications: tuple[str, ...] = ()
    type: str = REPLICATED


@dataclass(frozen=True)
class PoolStats:
    """A pool from ``ceph df``: ``stored_bytes`` is logical data, ``used_bytes``
    is raw use (all replicas)."""

    name: str
    id: int
    stored_bytes: int
    objects: int
    used_bytes: int
    max_avail: int
    used_fraction: float = 0.0  # Ceph's "percent_used": a fraction 0–1 since Nautilus


@dataclass(frozen=True)
class DfReport:
    """``ceph df``: raw totals and per-pool statistics."""

    total_bytes: int
    avail_bytes: int
    used_bytes: int
    pools: tuple[PoolStats, ...]

    def pool(self, name: str) -> PoolStats:
        for p in self.pools:
            if p.name == name:
                return p
        raise KeyError(f"no pool named {name!r} in ceph df")


# ---------------------------------------------------------------- RBD


@dataclass(frozen=True)
class ParentRef:
    """The snapshot an RBD clone was made from."""

    pool: str
    image: str
    snapshot: str
    namespace: str = ""
    overlap: int = 0

    @property
    def spec(self) -> str:
        return f"{self.pool}/{self.image}@{self.snapshot}"


@dataclass(frozen=True)
class ImageRef:
    """An RBD image named by pool (and namespace)."""

    pool: str
    image: str
    namespace: str = ""

    @property
    def spec(self) -> str:
        if self.namespace:
            return f"{self.pool}/{self.namespace}/{self.image}"
        return f"{self.pool}/{self.image}"

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True)
class RbdImageInfo:
    """``rbd info``. ``pool`` comes from the caller: rbd does not print it."""

    name: str
    pool: str | None
    size: int
    format: int
    features: tuple[str, ...]
    parent: ParentRef | None
    objects: int
    order: int
    object_size: int = 0
    id: str = ""
    snapshot_count: int = 0

    @property
    def is_clone(self) -> bool:
        return self.parent is not None


@dataclass(frozen=True)
class RbdSnapshot:
    """One snapshot from ``rbd snap ls``."""

    id: int
    name: str
    size: int
    protected: bool
