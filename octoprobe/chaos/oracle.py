"""The oracle: before a fault, predict what Ceph must do; after it, judge
what it did. Pure: cluster state in (as parsed by :mod:`octoprobe.ceph`),
a prediction out. Nothing here talks to a cluster (see :mod:`.inputs`).

Three outcomes, while the fault lasts:

``heal-to-full``            every PG returns to active+clean: the lost copies
                            are re-created elsewhere (re-replication);
``degraded-but-available``  every PG serves I/O, but some stay undersized /
                            degraded until the fault is healed;
``io-blocked``              some PGs have fewer than ``min_size`` copies up
                            and block client I/O.

The prediction says which outcome comes right after the fault (before the
monitor marks anything out) and which one the cluster settles in, and why,
from:

* the CRUSH tree (``ceph osd tree``) and each pool's rule (root, failure
  domain), ``size`` and ``min_size``; the PG mappings (``pg dump pgs_brief``)
  when given make the immediate effect exact;
* the monitor's rules for marking down OSDs out: ``mon_osd_down_out_interval``
  (0: never), the ``noout`` flag, ``mon_osd_down_out_subtree_limit`` (an OSD
  whose containing bucket of that type or larger is entirely down is not
  marked out), ``mon_osd_min_in_ratio`` (the monitor stops marking OSDs out
  once the share of in OSDs is below it; it goes through down OSDs by id);
* capacity (``ceph osd df``) and ``nearfull_ratio``: where the data of the
  OSDs marked out will go, and whether any OSD would end up past nearfull, in
  which case the prediction is a *refusal* with the reason.

Where data goes when an OSD is marked out is estimated per failure domain:
a lost copy goes back to the same domain when the pool uses every domain
there is (3 racks, size 3), else to the same domain or to a domain the PG does
not use yet, in proportion to their in weight; ``headroom_factor`` covers
CRUSH's uneven spread over few PGs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from octoprobe.ceph.model import (
    ClusterStatus,
    CrushRule,
    OsdTree,
    OsdUsage,
    PgInfo,
    PoolInfo,
    pg_state_words,
)
from octoprobe.faults.base import ADD_HOST, DISK, FLAP, NODE, PARTITION, RACK, FaultSpec

__all__ = [
    "HEAL_TO_FULL",
    "DEGRADED",
    "IO_BLOCKED",
    "OUTCOMES",
    "CRUSH_TYPE_IDS",
    "CephSettings",
    "OracleInputs",
    "FaultEffect",
    "PoolForecast",
    "Prediction",
    "effect_of",
    "predict",
    "classify_status",
    "blocked_pgs",
    "failure_domains_of",
]

HEAL_TO_FULL = "heal-to-full"
DEGRADED = "degraded-but-available"
IO_BLOCKED = "io-blocked"
OUTCOMES = (HEAL_TO_FULL, DEGRADED, IO_BLOCKED)

#: Ceph's default CRUSH bucket types and their ids.
CRUSH_TYPE_IDS: Mapping[str, int] = {
    "osd": 0, "host": 1, "chassis": 2, "rack": 3, "row": 4, "pdu": 5, "pod": 6,
    "room": 7, "datacenter": 8, "zone": 9, "region": 10, "root": 11,
}

GiB = 1024**3
#: how far apart the monitor may mark OSDs of one fault down (heartbeat grace, reporters)
DETECTION_JITTER = 20.0


@dataclass(frozen=True)
class CephSettings:
    """The settings that decide what the monitor does with down OSDs, and
    the capacity ratios. Defaults are Ceph's own."""

    down_out_interval: float = 600.0  # mon_osd_down_out_interval; 0 = never mark out
    down_out_subtree_limit: str = "rack"  # mon_osd_down_out_subtree_limit
    min_in_ratio: float = 0.75  # mon_osd_min_in_ratio
    nearfull_ratio: float = 0.85
    backfillfull_ratio: float = 0.90
    full_ratio: float = 0.95
    noout: bool = False  # the osdmap flag
    adjust_down_out_interval: bool = True  # mon_osd_adjust_down_out_interval


@dataclass(frozen=True)
class OracleInputs:
    tree: OsdTree
    pools: tuple[PoolInfo, ...]
    rules: tuple[CrushRule, ...]
    usage: tuple[OsdUsage, ...]
    settings: CephSettings
    pgs: tuple[PgInfo, ...] = ()
    type_ids: Mapping[str, int] = field(default_factory=lambda: dict(CRUSH_TYPE_IDS))
    #: OSD -> (laggy_probability, laggy_interval s) from ``osd dump``'s osd_xinfo
    laggy: Mapping[int, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultEffect:
    """What a fault does, as Ceph sees it.

    ``down``: OSDs that go down. ``transient_down_s``: for a flapping OSD, how
    long each down spell lasts (kill to up again), else None. ``added_osds``:
    new OSDs (added capacity), with ``added_weight`` each (CRUSH weight, TiB)
    in ``added_domain`` (a bucket of the pools' failure domain type)."""

    description: str
    down: frozenset[int] = frozenset()
    transient_down_s: float | None = None
    added_osds: int = 0
    added_weight: float = 0.0
    added_bytes: int = 0
    added_domain: str | None = None


@dataclass(frozen=True)
class PoolForecast:
    pool: str
    size: int
    min_size: int
    failure_domain: str
    domains: int  # domains with weight under the rule's root
    initial_worst_up: int  # copies up of the worst PG right after the fault
    initial_blocked_pgs: int | None  # PGs below min_size right after (exact when PG mappings were given)
    settled_domains: int  # domains with an in OSD after the outs
    settled_worst_up: int  # copies up of the worst PG once the cluster settled
    copies_placeable: int  # copies CRUSH can place once settled (min(size, settled_domains))
    initial: str
    settled: str


@dataclass(frozen=True)
class Prediction:
    fault: str
    initial: str  # right after the fault, before any OSD is marked out
    outcome: str  # once settled, while the fault lasts
    after_heal: str  # once the fault is healed
    marked_out: frozenset[int]  # the OSDs expected to be marked out
    stay_in: Mapping[int, str]  # down OSDs not marked out, and why
    pools: tuple[PoolForecast, ...]
    data_unavailable: bool  # some PG has no copy up while the fault lasts
    moved_bytes: int  # bytes re-replicated (or rebalanced) while the fault lasts
    projected_use: Mapping[int, float]  # OSD id -> used fraction once settled
    nearfull_ratio: float
    refused: str | None
    reasons: tuple[str, ...]
    out_count: int = 0  # how many OSDs the monitor marks out
    out_certain: frozenset[int] = frozenset()  # marked out whatever the order of detection
    out_candidates: frozenset[int] = frozenset()  # the out ones are among these
    out_after: Mapping[int, float] = field(default_factory=dict)  # s after marked down; laggy OSDs wait longer

    @property
    def heals_during_fault(self) -> bool:
        return self.outcome == HEAL_TO_FULL

    def check_marked_out(self, observed: set[int] | frozenset[int]) -> str | None:
        """None if the OSDs observed out fit the prediction, else what differs."""
        observed = frozenset(observed)
        if (len(observed) == self.out_count and self.out_certain <= observed <= self.out_candidates):
            return None
        if self.out_candidates == self.out_certain:
            expected = f"{sorted(self.out_certain)}"
        else:
            expected = (f"{self.out_count} of {sorted(self.out_candidates)}"
                        + (f" including {sorted(self.out_certain)}" if self.out_certain else ""))
        return f"marked out: expected {expected}, observed {sorted(observed)}"

    def describe(self) -> str:
        lines = [f"expected: {self.fault}: right after the fault {self.initial}; settles {self.outcome}; "
                 f"after heal {self.after_heal}"]
        lines += [f"  - {r}" for r in self.reasons]
        if self.refused:
            lines.append(f"  REFUSED: {self.refused}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "fault": self.fault,
            "initial": self.initial,
            "outcome": self.outcome,
            "after_heal": self.after_heal,
            "marked_out": sorted(self.marked_out),
            "out_count": self.out_count,
            "out_candidates": sorted(self.out_candidates),
            "stay_in": {str(k): v for k, v in sorted(self.stay_in.items())},
            "data_unavailable": self.data_unavailable,
            "moved_bytes": self.moved_bytes,
            "max_projected_use": max(self.projected_use.values(), default=0.0),
            "nearfull_ratio": self.nearfull_ratio,
            "refused": self.refused,
            "reasons": list(self.reasons),
            "pools": [p.__dict__ for p in self.pools],
        }


# ---------------------------------------------------------------- fault -> effect


def effect_of(spec: FaultSpec, tree: OsdTree, *, boot_s: float = 6.0) -> FaultEffect:
    """The OSDs a fault takes down, from the CRUSH tree. ``boot_s`` estimates
    how long a restarted OSD takes to be up again (for a flap's down spells)."""
    desc = spec.describe()
    if spec.kind in (DISK, FLAP):
        ids = frozenset(spec.osd_ids)
        missing = ids - {o.id for o in tree}
        if missing:
            raise ValueError(f"{desc}: no {', '.join(f'osd.{i}' for i in sorted(missing))} in the CRUSH tree")
        spell = float(spec.params.get("down", 2.0)) + boot_s if spec.kind == FLAP else None
        return FaultEffect(desc, ids, transient_down_s=spell)
    if spec.kind == ADD_HOST:
        return FaultEffect(desc, added_osds=int(spec.params.get("osd_count", 1)),
                           added_weight=float(spec.params.get("osd_weight", 0.0)),
                           added_bytes=int(spec.params.get("osd_size", 0)),
                           added_domain=spec.params.get("rack"))
    bucket_type = spec.target_kind if spec.kind == PARTITION else ("host" if spec.kind == NODE else "rack")
    assert spec.kind in (NODE, RACK, PARTITION)
    down: set[int] = set()
    for name in spec.targets:
        down |= {o.id for o in tree.osds_under(bucket_type, name)}
    return FaultEffect(desc, frozenset(down))


def failure_domains_of(spec: FaultSpec, tree: OsdTree, domain_type: str = "rack") -> tuple[str, ...]:
    """The failure domains (racks) a fault touches: its blast radius."""
    effect = effect_of(spec, tree)
    names = {tree.osd(i).location.get(domain_type) for i in effect.down}
    if spec.kind == RACK or (spec.kind == PARTITION and spec.scope == domain_type):
        names |= set(spec.targets)
    return tuple(sorted(n for n in names if n))


# ---------------------------------------------------------------- helpers


def _data_bytes(u: OsdUsage, baseline: int) -> int:
    data = u.kb_used_data * 1024
    return data if data > 0 else max(0, u.used_bytes - baseline)


def _ancestors(tree: OsdTree, osd: int, type_ids: Mapping[str, int]) -> list[tuple[str, str]]:
    """(type, name) of an OSD's buckets, nearest first."""
    loc = tree.osd(osd).location
    return sorted(loc.items(), key=lambda kv: type_ids.get(kv[0], 99))


@dataclass(frozen=True)
class _Outs:
    likely: frozenset[int]  # the OSDs expected out (by when they go out, then id)
    certain: frozenset[int]  # out whatever the order the monitor sees them down in
    candidates: frozenset[int]  # out or not depending on that order
    count: int  # how many go out
    after: Mapping[int, float]  # OSD -> seconds after it is marked down that it may go out
    stay: Mapping[int, str]  # OSDs that stay in while down, and why
    reasons: tuple[str, ...]


def _marking_out(inputs: OracleInputs, effect: FaultEffect) -> _Outs:
    s = inputs.settings
    tree = inputs.tree
    stay: dict[int, str] = {}
    already_down = {o.id for o in tree if not o.up}
    down_now = already_down | set(effect.down)
    candidates = sorted(i for i in effect.down if tree.osd(i).in_)

    def nothing(why: str | None, reasons: list[str]) -> _Outs:
        return _Outs(frozenset(), frozenset(), frozenset(), 0, {}, {i: why for i in candidates} if why else {},
                     tuple(reasons))

    if not candidates:
        return nothing(None, [])
    if s.noout:
        return nothing("the noout flag is set", ["noout is set: nothing is marked out"])
    if s.down_out_interval <= 0:
        why = "mon_osd_down_out_interval is 0 (never mark out)"
        return nothing(why, [why])
    if effect.transient_down_s is not None and effect.transient_down_s < s.down_out_interval:
        why = (f"each down spell (~{effect.transient_down_s:g}s) is shorter than mon_osd_down_out_interval "
               f"({s.down_out_interval:g}s)")
        return nothing(why, [f"not marked out: {why}"])
    limit = inputs.type_ids.get(s.down_out_subtree_limit)
    eligible = []
    for i in candidates:
        blocked_by = None
        if limit is not None:
            for btype, bname in _ancestors(tree, i, inputs.type_ids):
                if not all(o.id in down_now for o in tree.osds_under(btype, bname)):
                    break
                if inputs.type_ids.get(btype, -1) >= limit:
                    blocked_by = (btype, bname)
                    break
        if blocked_by:
            stay[i] = (f"its {blocked_by[0]} {blocked_by[1]} is entirely down and mon_osd_down_out_subtree_limit "
                       f"is {s.down_out_subtree_limit}")
        else:
            eligible.append(i)
    # mon_osd_adjust_down_out_interval: an OSD with a history of coming back
    # (laggy) gets a longer grace: interval + laggy_interval x laggy_probability
    after = {i: s.down_out_interval + (inputs.laggy.get(i, (0.0, 0.0))[0] * inputs.laggy.get(i, (0.0, 0.0))[1]
                                       if s.adjust_down_out_interval else 0.0) for i in eligible}
    ordered = sorted(eligible, key=lambda i: (after[i], i))
    num = len(tree.osds)
    in_count = sum(1 for o in tree if o.in_)
    allowed = 0
    for _ in ordered:  # the monitor checks the in ratio before each out
        if num and in_count / num < s.min_in_ratio:
            break
        allowed += 1
        in_count -= 1
    likely = ordered[:allowed]
    reasons: list[str] = []
    certain, undecided = list(likely), []
    if allowed < len(ordered):
        # which ones go out depends on when the monitor marks each one down,
        # which differs by up to the heartbeat grace: decided only by a
        # clear difference in their out times
        cut = after[ordered[allowed]]
        if likely and cut - after[likely[-1]] < DETECTION_JITTER:
            undecided = [i for i in ordered if abs(after[i] - cut) < DETECTION_JITTER
                         or abs(after[i] - after[likely[-1]]) < DETECTION_JITTER]
        certain = [i for i in likely if i not in undecided]
        left = len(tree.osds) - (sum(1 for o in tree if o.in_) - allowed)
        for i in ordered[allowed:]:
            stay[i] = (f"with {left} of {num} OSDs out, fewer than mon_osd_min_in_ratio {s.min_in_ratio:g} would "
                       "stay in")
    if likely and not undecided:
        reasons.append(f"{', '.join(f'osd.{i}' for i in likely)} will be marked out "
                       f"{min(after[i] for i in likely):g}s after being marked down (mon_osd_down_out_interval)")
    elif likely:
        reasons.append(f"{allowed} of {', '.join(f'osd.{i}' for i in sorted(undecided + certain))} will be "
                       f"marked out {s.down_out_interval:g}s after being marked down, then mon_osd_min_in_ratio "
                       f"{s.min_in_ratio:g} stops the monitor; which ones depends on the order it marks them down")
    for i, why in sorted(stay.items()):
        if i not in undecided:
            reasons.append(f"osd.{i} stays in while down: {why}")
        elif not likely:
            reasons.append(f"osd.{i} stays in while down: {why}")
    return _Outs(frozenset(likely), frozenset(certain), frozenset(certain) | frozenset(undecided), allowed,
                 after, stay, tuple(reasons))


@dataclass
class _Domain:
    name: str
    osds: list[int]


def _domains(inputs: OracleInputs, rule: CrushRule | None) -> tuple[str, list[_Domain]]:
    tree = inputs.tree
    dtype = (rule.failure_domain if rule and rule.failure_domain else "host")
    root = rule.root if rule and rule.root else None
    by_name: dict[str, list[int]] = {}
    for o in tree:
        if o.crush_weight <= 0:
            continue
        if root is not None and o.location.get("root") != root:
            continue
        name = o.name if dtype == "osd" else o.location.get(dtype)
        if name is None:
            continue
        by_name.setdefault(name, []).append(o.id)
    return dtype, [_Domain(n, ids) for n, ids in sorted(by_name.items())]


def _outcome(worst_up: int, size_placed: int, size: int, min_size: int, degraded: bool) -> str:
    if worst_up < min_size:
        return IO_BLOCKED
    if size_placed < size or degraded:
        return DEGRADED
    return HEAL_TO_FULL


# ---------------------------------------------------------------- predict


def predict(inputs: OracleInputs, effect: FaultEffect, *, headroom_factor: float = 1.25,
            extra_bytes: int = 0) -> Prediction:
    """Predict what ``effect`` does to the cluster ``inputs`` describes.

    ``extra_bytes``: logical bytes the scenario will write meanwhile (they
    count against capacity, times each pool's size)."""
    tree = inputs.tree
    s = inputs.settings
    reasons: list[str] = []
    if effect.added_osds:
        return _predict_added(inputs, effect)

    outs = _marking_out(inputs, effect)
    marked_out, stay = outs.likely, dict(outs.stay)
    reasons += outs.reasons
    down_now = {o.id for o in tree if not o.up} | set(effect.down)
    in_after = {o.id for o in tree if o.in_ and o.id not in marked_out}
    up_after = {o.id for o in tree if o.id not in down_now}
    rules = {r.id: r for r in inputs.rules}

    forecasts: list[PoolForecast] = []
    data_unavailable = False
    for pool in inputs.pools:
        rule = rules.get(pool.crush_rule)
        dtype, domains = _domains(inputs, rule)
        if not domains:
            continue
        in_before = {o.id for o in tree if o.in_}
        domains_in_before = [d for d in domains if any(i in in_before for i in d.osds)]
        placed_before = min(pool.size, len(domains_in_before))
        # right after the fault: copies on down OSDs are gone from the acting sets
        pool_pgs = [p for p in inputs.pgs if p.pool_id == pool.id]
        if pool_pgs:
            ups = [sum(1 for o in p.acting if o in up_after and o >= 0) for p in pool_pgs]
            initial_worst = min(ups)
            initial_blocked = sum(1 for u in ups if u < pool.min_size)
        else:
            hit = sum(1 for d in domains_in_before if any(i in down_now for i in d.osds))
            initial_worst = placed_before - min(placed_before, hit)
            initial_blocked = None
        if initial_worst == 0:
            data_unavailable = True
        initial = _outcome(initial_worst, placed_before, pool.size, pool.min_size,
                           degraded=bool(effect.down))
        # settled: out OSDs leave the mapping; down OSDs that stay in keep their place
        domains_in = [d for d in domains if any(i in in_after for i in d.osds)]
        placed = min(pool.size, len(domains_in))
        hit_after = sum(1 for d in domains_in if any(i in in_after and i not in up_after for i in d.osds))
        settled_worst = placed - min(placed, hit_after)
        if initial_worst == 0:
            settled_worst = 0  # no copy left to recover from until the fault heals
        settled = _outcome(settled_worst, placed, pool.size, pool.min_size, degraded=hit_after > 0)
        forecasts.append(PoolForecast(pool.name, pool.size, pool.min_size, dtype, len(domains), initial_worst,
                                      initial_blocked, len(domains_in), settled_worst, placed, initial, settled))

    rank = {HEAL_TO_FULL: 0, DEGRADED: 1, IO_BLOCKED: 2}
    initial = max((f.initial for f in forecasts), key=rank.__getitem__, default=HEAL_TO_FULL)
    outcome = max((f.settled for f in forecasts), key=rank.__getitem__, default=HEAL_TO_FULL)
    grouped: dict[str, list[str]] = {}
    for f in forecasts:
        if f.settled == HEAL_TO_FULL and f.initial == HEAL_TO_FULL:
            continue
        blocked = f", {f.initial_blocked_pgs} PGs below min_size" if f.initial_blocked_pgs else ""
        text = (f"(size {f.size}, min_size {f.min_size}, failure domain {f.failure_domain}): the worst PG keeps "
                f"{f.initial_worst_up} of {f.size} copies up right after{blocked}; {f.settled_domains} of "
                f"{f.domains} {f.failure_domain}s keep an in OSD, so {f.copies_placeable} copies can be placed "
                f"and the worst PG settles at {f.settled_worst_up} up")
        grouped.setdefault(text, []).append(f.pool)
    for text, names in grouped.items():
        reasons.append(f"pool{'s' if len(names) > 1 else ''} {', '.join(names)} {text}")
    if data_unavailable:
        reasons.append("some PGs lose every copy: their data is unavailable (not lost) until the fault heals")
    if outcome == HEAL_TO_FULL and marked_out:
        reasons.append("every lost copy can be re-created on the OSDs left: full redundancy while the fault lasts")

    moved, projected = _capacity(inputs, effect, marked_out, in_after, up_after, headroom_factor, extra_bytes)
    refused = None
    over = {i: u for i, u in projected.items() if u > s.nearfull_ratio}
    if over:
        worst = max(over, key=over.__getitem__)
        refused = (
            f"re-replicating {moved / GiB:.2f} GiB would put "
            + ", ".join(f"osd.{i} at {over[i]:.0%}" for i in sorted(over))
            + f" (nearfull_ratio {s.nearfull_ratio:.0%}, headroom factor {headroom_factor:g}); "
            f"worst: osd.{worst}. Free capacity or choose a smaller fault"
        )
    if moved:
        reasons.append(f"~{moved / GiB:.2f} GiB re-replicated; busiest OSD projected at "
                       f"{max(projected.values()):.0%} (nearfull {s.nearfull_ratio:.0%})")

    return Prediction(
        fault=effect.description,
        initial=initial,
        outcome=outcome,
        after_heal=HEAL_TO_FULL,
        marked_out=marked_out,
        stay_in=stay,
        out_count=outs.count,
        out_certain=outs.certain,
        out_candidates=outs.candidates,
        out_after=outs.after,
        pools=tuple(forecasts),
        data_unavailable=data_unavailable,
        moved_bytes=moved,
        projected_use=projected,
        nearfull_ratio=s.nearfull_ratio,
        refused=refused,
        reasons=tuple(reasons),
    )


def _capacity(inputs: OracleInputs, effect: FaultEffect, marked_out: frozenset[int], in_after: set[int],
              up_after: set[int], headroom: float, extra_bytes: int) -> tuple[int, dict[int, float]]:
    """Bytes moved by the outs, and each OSD's projected used fraction."""
    usage = {u.id: u for u in inputs.usage}
    if not usage:
        return 0, {}
    baseline = min(u.used_bytes for u in usage.values())
    weight = {o.id: o.crush_weight for o in inputs.tree}
    added: dict[int, float] = {i: 0.0 for i in usage}
    rules = {r.id: r for r in inputs.rules}
    # the domain layout of the first replicated pool decides (all pools share the rule here)
    pool = inputs.pools[0] if inputs.pools else None
    rule = rules.get(pool.crush_rule) if pool else None
    dtype, domains = _domains(inputs, rule)
    size = pool.size if pool else 3
    domain_of = {i: d.name for d in domains for i in d.osds}
    in_domains = [d for d in domains if any(i in in_after for i in d.osds)]
    t = len(in_domains)
    moved = 0
    w_in_before = sum(weight[i] for i in usage if inputs.tree.osd(i).in_) or 1.0
    for o in sorted(marked_out):
        if o not in usage:
            continue
        data = _data_bytes(usage[o], baseline)
        if pool:  # its share of what the scenario writes before the fault
            data += int(extra_bytes * pool.size * weight[o] / w_in_before)
        moved += data
        own = domain_of.get(o)
        shares: dict[int, float] = {}
        own_still_in = any(d.name == own for d in in_domains)
        for d in in_domains:
            w_in = sum(weight[i] for i in d.osds if i in in_after)
            if d.name == own:
                p_free = 1.0
            elif own_still_in:
                p_free = (t - size) / (t - 1) if t > 1 else 0.0
            else:
                p_free = (t - size + 1) / t if t else 0.0
            p_free = max(0.0, p_free)
            for i in d.osds:
                if i in in_after:
                    shares[i] = p_free * w_in * (weight[i] / w_in if w_in else 0.0)
        total = sum(shares.values())
        if total <= 0:
            continue
        for i, share in shares.items():
            if i in up_after and i in added:
                added[i] += data * share / total
    if extra_bytes and pool:
        w_total = sum(weight[i] for i in in_after if i in up_after) or 1.0
        for i in in_after:
            if i in up_after and i in added:
                added[i] += extra_bytes * pool.size * weight[i] / w_total
    projected = {}
    for i, u in usage.items():
        if i in marked_out or u.total_bytes <= 0:
            continue
        projected[i] = (u.used_bytes + added[i] * headroom) / u.total_bytes
    return moved, projected


def _predict_added(inputs: OracleInputs, effect: FaultEffect) -> Prediction:
    usage = inputs.usage
    stored = sum(_data_bytes(u, min((x.used_bytes for x in usage), default=0)) for u in usage)
    total_w = sum(o.crush_weight for o in inputs.tree if o.in_)
    new_w = effect.added_weight * effect.added_osds
    share = new_w / (total_w + new_w) if total_w + new_w > 0 else 0.0
    moved = int(stored * share)
    reasons = [
        f"{effect.added_osds} new OSD(s) join; CRUSH maps part of the PGs onto them and Ceph backfills "
        f"(~{moved / GiB:.2f} GiB, {share:.0%} of the data by weight); objects are misplaced (or degraded, "
        "on the new OSD) until backfilled",
        "I/O stays available throughout; every PG returns to active+clean with data on the new OSD(s)",
    ]
    return Prediction(effect.description, DEGRADED, HEAL_TO_FULL, HEAL_TO_FULL, frozenset(), {}, (), False,
                      moved, {}, inputs.settings.nearfull_ratio, None, tuple(reasons))


# ---------------------------------------------------------------- judging what happened

BLOCKING_WORDS = frozenset({"peered", "down", "incomplete", "stale"})


def blocked_pgs(by_state: Mapping[str, int]) -> int:
    """PGs that cannot serve I/O for want of copies (below min_size:
    ``undersized+peered``; ``down``, ``incomplete``, ``stale``) — not the
    brief ``peering`` every change of the OSD map causes."""
    total = 0
    for state, n in by_state.items():
        words = pg_state_words(state)
        if "active" not in words and words & BLOCKING_WORDS:
            total += n
    return total


def classify_status(status: ClusterStatus) -> str:
    """The outcome a cluster is in right now."""
    if blocked_pgs(status.pgs.by_state):
        return IO_BLOCKED
    if status.clean:
        return HEAL_TO_FULL
    return DEGRADED
