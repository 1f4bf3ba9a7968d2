"""Pure parsers: decoded JSON of one Ceph command in, model objects out.

Each ``parse_*`` function takes what ``json.loads`` made of one command's
``--format json`` output and returns :mod:`octoprobe.ceph.model` objects. On a
shape it does not expect it raises :class:`CephParseError` naming the command
and the missing or mistyped field (``pgmap.num_pgs``, ``nodes[3].children``),
never a bare ``KeyError``.

Differences between releases that are handled (the recorded outputs under
``tests/unit/data/ceph`` are Pacific 16.2.15):

- ``pg dump pgs_brief``: a bare list up to Nautilus, ``{"pg_ready": …,
  "pg_stats": [...]}`` from Octopus on.
- health: ``{"status", "checks": {NAME: {"severity", "summary": {"message",
  "count"}}}}`` since Luminous (``summary`` a plain string in some builds,
  ``count`` absent in early Luminous); pre-Luminous ``{"overall_status",
  "summary": [{"severity", "summary"}]}``.
- ``status``: ``osdmap`` flat (Nautilus on) or nested as ``osdmap.osdmap``
  (Luminous, Mimic); degraded/misplaced/unfound counters and I/O rates are
  omitted when zero.
- ``osd pool ls detail``: ``pool_id`` (``pool`` before Nautilus),
  ``crush_rule`` (``crush_ruleset`` before Luminous).
- ``df``: per-pool ``stored`` (Nautilus on; before that ``bytes_used`` was the
  logical size and ``raw_bytes_used`` the raw one), ``total_used_raw_bytes``
  (Nautilus on) or ``total_used_bytes``.
- ``rbd children``: a list of ``{"pool", "pool_namespace", "image"}`` objects
  (Mimic on) or of ``"pool/image"`` strings.
"""

from __future__ import annotations

from typing import Any, Mapping, NoReturn, Sequence

from .model import (
    ERASURE,
    REPLICATED,
    Capacity,
    ClusterStatus,
    CrushNode,
    CrushRule,
    DfReport,
    Health,
    HealthCheck,
    ImageRef,
    IoRates,
    ObjectCounters,
    OsdCounts,
    OsdInfo,
    OsdTree,
    OsdUsage,
    ParentRef,
    PgInfo,
    PgSummary,
    PoolInfo,
    PoolStats,
    RbdImageInfo,
    RbdSnapshot,
)


class CephError(RuntimeError):
    """Base of the errors raised by :mod:`octoprobe.ceph`."""


class CephParseError(CephError, ValueError):
    """Output of a Ceph command did not have the shape we expected."""

    def __init__(self, command: str, problem: str):
        self.command = command
        self.problem = problem
        super().__init__(f"unexpected output from `{command}`: {problem}")


_MISSING = object()

_KINDS: dict[type, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "a boolean",
    dict: "an object",
    list: "a list",
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


class _Reader:
    """Field access that reports the command and the path of what is wrong."""

    def __init__(self, command: str):
        self.command = command

    def fail(self, problem: str) -> NoReturn:
        raise CephParseError(self.command, problem)

    def coerce(self, value: Any, kind: type, path: str) -> Any:
        if kind is int:
            if isinstance(value, bool):
                pass
            elif isinstance(value, int):
                return value
            elif isinstance(value, float) and value.is_integer():
                return int(value)
            elif isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    pass
        elif kind is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        elif kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return value != 0
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        elif isinstance(value, kind):
            return value
        self.fail(f"{path} should be {_KINDS[kind]}, got {_type_name(value)}: {value!r:.80}")

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        return self.coerce(value, dict, path or "the document")

    def sequence(self, value: Any, path: str) -> Sequence[Any]:
        return self.coerce(value, list, path or "the document")

    def req(self, obj: Mapping[str, Any], key: str, kind: type, path: str = "") -> Any:
        where = f"{path}.{key}" if path else key
        if key not in obj:
            self.fail(f"missing {where}")
        return self.coerce(obj[key], kind, where)

    def opt(
        self, obj: Mapping[str, Any], key: str, kind: type, default: Any, path: str = ""
    ) -> Any:
        value = obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            return default
        return self.coerce(value, kind, f"{path}.{key}" if path else key)

    def first(
        self, obj: Mapping[str, Any], keys: Sequence[str], kind: type, path: str = ""
    ) -> Any:
        """The first of ``keys`` present (fields renamed between releases)."""
        for key in keys:
            if key in obj:
                return self.req(obj, key, kind, path)
        where = " or ".join(f"{path}.{k}" if path else k for k in keys)
        self.fail(f"missing {where}")

    def int_list(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[int, ...]:
        items = self.req(obj, key, list, path)
        return tuple(self.coerce(v, int, f"{path}.{key}[{i}]") for i, v in enumerate(items))


# ---------------------------------------------------------------- health


def _parse_health(r: _Reader, doc: Any, path: str) -> Health:
    h = r.mapping(doc, path)
    status = h.get("status") or h.get("overall_status")
    if status is None:
        r.fail(f"missing {path + '.' if path else ''}status")
    status = r.coerce(status, str, f"{path}.status" if path else "status")

    checks: list[HealthCheck] = []
    if "checks" in h:
        raw = r.req(h, "checks", dict, path)
        for name, c in raw.items():
            cpath = f"{path}.checks.{name}" if path else f"checks.{name}"
            c = r.mapping(c, cpath)
            severity = r.req(c, "severity", str, cpath)
            summary_raw = c.get("summary", "")
            count = 0
            if isinstance(summary_raw, dict):
                summary = r.opt(summary_raw, "message", str, "", f"{cpath}.summary")
                count = r.opt(summary_raw, "count", int, 0, f"{cpath}.summary")
            else:
                summary = r.coerce(summary_raw, str, f"{cpath}.summary")
            detail = []
            for i, d in enumerate(r.opt(c, "detail", list, [], cpath)):
                dpath = f"{cpath}.detail[{i}]"
                if isinstance(d, dict):
                    detail.append(r.req(d, "message", str, dpath))
                else:
                    detail.append(r.coerce(d, str, dpath))
            checks.append(
                HealthCheck(
                    name=name,
                    severity=severity,
                    summary=summary,
                    count=count,
                    muted=r.opt(c, "muted", bool, False, cpath),
                    detail=tuple(detail),
                )
            )
    elif isinstance(h.get("summary"), list):
        # pre-Luminous: a list of {"severity", "summary"} without check names
        for i, s in enumerate(h["summary"]):
            spath = f"{path}.summary[{i}]" if path else f"summary[{i}]"
            s = r.mapping(s, spath)
            checks.append(
                HealthCheck(
                    name="LEGACY_SUMMARY",
                    severity=r.req(s, "severity", str, spath),
                    summary=r.req(s, "summary", str, spath),
                )
            )
    return Health(status=status, checks=tuple(checks))


def parse_health_detail(doc: Any) -> Health:
    """``ceph health detail --format json``."""
    return _parse_health(_Reader("ceph health detail"), doc, "")


# ---------------------------------------------------------------- status


def parse_status(doc: Any) -> ClusterStatus:
    """``ceph status --format json`` (alias ``ceph -s``)."""
    r = _Reader("ceph status")
    d = r.mapping(doc, "")
    fsid = r.req(d, "fsid", str)
    health = _parse_health(r, r.req(d, "health", dict), "health")
    quorum = tuple(
        r.coerce(n, str, f"quorum_names[{i}]")
        for i, n in enumerate(r.opt(d, "quorum_names", list, []))
    )

    osdmap = r.req(d, "osdmap", dict)
    opath = "osdmap"
    if "osdmap" in osdmap:  # Luminous / Mimic nest it once more
        osdmap = r.req(osdmap, "osdmap", dict, "osdmap")
        opath = "osdmap.osdmap"
    osds = OsdCounts(
        num_osds=r.req(osdmap, "num_osds", int, opath),
        up=r.req(osdmap, "num_up_osds", int, opath),
        in_=r.req(osdmap, "num_in_osds", int, opath),
        epoch=r.opt(osdmap, "epoch", int, 0, opath),
        remapped_pgs=r.opt(osdmap, "num_remapped_pgs", int, 0, opath),
    )

    p = r.req(d, "pgmap", dict)
    by_state: dict[str, int] = {}
    for i, s in enumerate(r.opt(p, "pgs_by_state", list, [], "pgmap")):
        spath = f"pgmap.pgs_by_state[{i}]"
        s = r.mapping(s, spath)
        name = r.req(s, "state_name", str, spath)
        by_state[name] = by_state.get(name, 0) + r.req(s, "count", int, spath)
    pgs = PgSummary(total=r.req(p, "num_pgs", int, "pgmap"), by_state=by_state)

    def zero(key: str) -> int:
        return r.opt(p, key, int, 0, "pgmap")

    objects = ObjectCounters(
        degraded=zero("degraded_objects"),
        degraded_total=zero("degraded_total"),
        misplaced=zero("misplaced_objects"),
        misplaced_total=zero("misplaced_total"),
        unfound=zero("unfound_objects"),
        num_objects=zero("num_objects"),
    )
    io = IoRates(
        read_bytes_sec=zero("read_bytes_sec"),
        write_bytes_sec=zero("write_bytes_sec"),
        read_op_per_sec=zero("read_op_per_sec"),
        write_op_per_sec=zero("write_op_per_sec"),
        recovering_bytes_per_sec=zero("recovering_bytes_per_sec"),
        recovering_objects_per_sec=zero("recovering_objects_per_sec"),
    )
    capacity = Capacity(
        total_bytes=r.req(p, "bytes_total", int, "pgmap"),
        used_bytes=r.req(p, "bytes_used", int, "pgmap"),
        avail_bytes=r.req(p, "bytes_avail", int, "pgmap"),
        data_bytes=zero("data_bytes"),
    )
    return ClusterStatus(
        fsid=fsid,
        health=health,
        quorum=quorum,
        osds=osds,
        pgs=pgs,
        objects=objects,
        io=io,
        capacity=capacity,
        num_pools=zero("num_pools"),
    )


# ---------------------------------------------------------------- OSD tree


def _osd_info(
    r: _Reader, n: Mapping[str, Any], path: str, location: Mapping[str, str]
) -> OsdInfo:
    reweight = r.opt(n, "reweight", float, 0.0, path)
    return OsdInfo(
        id=r.req(n, "id", int, path),
        name=r.req(n, "name", str, path),
        host=location.get("host"),
        rack=location.get("rack"),
        root=location.get("root"),
        up=r.opt(n, "status", str, "", path) == "up",
        in_=reweight > 0,
        reweight=reweight,
        crush_weight=r.opt(n, "crush_weight", float, 0.0, path),
        device_class=r.opt(n, "device_class", str, None, path),
        status=r.opt(n, "status", str, "", path),
        location=dict(location),
    )


def parse_osd_tree(doc: Any) -> OsdTree:
    """``ceph osd tree --format json``: walks each OSD up to its root."""
    r = _Reader("ceph osd tree")
    d = r.mapping(doc, "")
    nodes = r.req(d, "nodes", list)

    by_id: dict[int, tuple[Mapping[str, Any], str]] = {}
    parent: dict[int, int] = {}
    order: list[int] = []
    for i, n in enumerate(nodes):
        path = f"nodes[{i}]"
        n = r.mapping(n, path)
        nid = r.req(n, "id", int, path)
        r.req(n, "name", str, path)
        r.req(n, "type", str, path)
        by_id[nid] = (n, path)
        order.append(nid)
        for child in r.int_list(n, "children", path) if "children" in n else ():
            parent[child] = nid

    buckets: list[CrushNode] = []
    osds: list[OsdInfo] = []
    for nid in order:
        n, path = by_id[nid]
        if n["type"] != "osd":
            buckets.append(
                CrushNode(
                    id=nid,
                    name=n["name"],
                    type=n["type"],
                    children=r.int_list(n, "children", path) if "children" in n else (),
                )
            )
            continue
        location: dict[str, str] = {}
        seen = {nid}
        up = parent.get(nid)
        while up is not None:
            if up in seen:
                r.fail(f"CRUSH tree has a cycle through id {up}")
            seen.add(up)
            if up not in by_id:
                r.fail(f"node {nid} has parent id {up} that is not in nodes")
            pnode = by_id[up][0]
            location.setdefault(pnode["type"], pnode["name"])
            up = parent.get(up)
        osds.append(_osd_info(r, n, path, location))

    for i, n in enumerate(r.opt(d, "stray", list, [])):
        path = f"stray[{i}]"
        osds.append(_osd_info(r, r.mapping(n, path), path, {}))
    return OsdTree(buckets=tuple(buckets), osds=tuple(osds))


# ---------------------------------------------------------------- PGs


def parse_pgs_brief(doc: Any) -> tuple[PgInfo, ...]:
    """``ceph pg dump pgs_brief --format json``: a bare list (≤ Nautilus) or
    ``{"pg_stats": [...]}`` (Octopus on)."""
    r = _Reader("ceph pg dump pgs_brief")
    if isinstance(doc, dict):
        items = r.req(doc, "pg_stats", list)
        prefix = "pg_stats"
    else:
        items = r.sequence(doc, "")
        prefix = ""
    pgs = []
    for i, p in enumerate(items):
        path = f"{prefix}[{i}]"
        p = r.mapping(p, path)
        pgid = r.req(p, "pgid", str, path)
        pool, dot, seed = pgid.partition(".")
        if not dot or not pool.isdigit() or not seed:
            r.fail(f"{path}.pgid {pgid!r} is not of the form POOL.SEED")
        pgs.append(
            PgInfo(
                pgid=pgid,
                pool_id=int(pool),
                state=r.req(p, "state", str, path),
                up=r.int_list(p, "up", path),
                acting=r.int_list(p, "acting", path),
                primary=r.first(p, ("acting_primary", "primary"), int, path),
                up_primary=r.opt(p, "up_primary", int, -1, path),
            )
        )
    return tuple(pgs)


# ---------------------------------------------------------------- pools


_POOL_TYPES = {1: REPLICATED, 3: ERASURE}


def parse_pool_ls_detail(doc: Any) -> tuple[PoolInfo, ...]:
    """``ceph osd pool ls detail --format json``."""
    r = _Reader("ceph osd pool ls detail")
    pools = []
    for i, p in enumerate(r.sequence(doc, "")):
        path = f"[{i}]"
        p = r.mapping(p, path)
        apps = tuple(r.opt(p, "application_metadata", dict, {}, path))
        raw_type = p.get("type", 1)
        if isinstance(raw_type, str) and raw_type in (REPLICATED, ERASURE):
            kind = raw_type
        else:
            kind = _POOL_TYPES.get(r.coerce(raw_type, int, f"{path}.type"), str(raw_type))
        pools.append(
            PoolInfo(
                id=r.first(p, ("pool_id", "pool"), int, path),
                name=r.req(p, "pool_name", str, path),
                size=r.req(p, "size", int, path),
                min_size=r.req(p, "min_size", int, path),
                pg_num=r.req(p, "pg_num", int, path),
                crush_rule=r.first(p, ("crush_rule", "crush_ruleset"), int, path),
                application=apps[0] if apps else None,
                applications=apps,
                type=kind,
            )
        )
    return tuple(pools)


def parse_df(doc: Any) -> DfReport:
    """``ceph df --format json``."""
    r = _Reader("ceph df")
    d = r.mapping(doc, "")
    stats = r.req(d, "stats", dict)
    pools = []
    for i, p in enumerate(r.req(d, "pools", list)):
        path = f"pools[{i}]"
        p = r.mapping(p, path)
        s = r.req(p, "stats", dict, path)
        spath = f"{path}.stats"
        if "stored" in s:
            stored = r.req(s, "stored", int, spath)
            used = r.req(s, "bytes_used", int, spath)
        else:  # before Nautilus: bytes_used was logical, raw_bytes_used raw
            stored = r.req(s, "bytes_used", int, spath)
            used = r.opt(s, "raw_bytes_used", int, stored, spath)
        pools.append(
            PoolStats(
                name=r.req(p, "name", str, path),
                id=r.req(p, "id", int, path),
                stored_bytes=stored,
                objects=r.req(s, "objects", int, spath),
                used_bytes=used,
                max_avail=r.req(s, "max_avail", int, spath),
                used_fraction=r.opt(s, "percent_used", float, 0.0, spath),
            )
        )
    return DfReport(
        total_bytes=r.req(stats, "total_bytes", int, "stats"),
        avail_bytes=r.req(stats, "total_avail_bytes", int, "stats"),
        used_bytes=r.first(stats, ("total_used_raw_bytes", "total_used_bytes"), int, "stats"),
        pools=tuple(pools),
    )


def parse_osd_df(doc: Any) -> tuple[OsdUsage, ...]:
    """``ceph osd df --format json``."""
    r = _Reader("ceph osd df")
    d = r.mapping(doc, "")
    out = []
    for i, n in enumerate(r.req(d, "nodes", list)):
        path = f"nodes[{i}]"
        n = r.mapping(n, path)
        out.append(
            OsdUsage(
                id=r.req(n, "id", int, path),
                name=r.req(n, "name", str, path),
                kb=r.req(n, "kb", int, path),
                kb_used=r.req(n, "kb_used", int, path),
                kb_avail=r.req(n, "kb_avail", int, path),
                utilization=r.req(n, "utilization", float, path),
                pgs=r.opt(n, "pgs", int, 0, path),
                status=r.opt(n, "status", str, "", path),
                kb_used_data=r.opt(n, "kb_used_data", int, 0, path),
            )
        )
    return tuple(out)


def parse_crush_rule_dump(doc: Any) -> tuple[CrushRule, ...]:
    """``ceph osd crush rule dump --format json`` (a list, or one rule as an
    object when a rule name was given)."""
    r = _Reader("ceph osd crush rule dump")
    items = [doc] if isinstance(doc, dict) else r.sequence(doc, "")
    rules = []
    for i, rule in enumerate(items):
        path = f"[{i}]"
        rule = r.mapping(rule, path)
        root = failure_domain = None
        for j, step in enumerate(r.req(rule, "steps", list, path)):
            spath = f"{path}.steps[{j}]"
            step = r.mapping(step, spath)
            op = r.req(step, "op", str, spath)
            if op == "take" and root is None:
                root = r.opt(step, "item_name", str, None, spath)
            elif op.startswith("choose") and failure_domain is None:
                failure_domain = r.opt(step, "type", str, None, spath)
        rules.append(
            CrushRule(
                id=r.first(rule, ("rule_id", "ruleset"), int, path),
                name=r.req(rule, "rule_name", str, path),
                type=r.opt(rule, "type", int, 1, path),
                root=root,
                failure_domain=failure_domain,
            )
        )
    return tuple(rules)


# ---------------------------------------------------------------- RBD


def parse_rbd_info(doc: Any, pool: str | None = None) -> RbdImageInfo:
    """``rbd info --format json POOL/IMAGE``; rbd does not print the pool, so
    the caller passes it."""
    r = _Reader("rbd info")
    d = r.mapping(doc, "")
    parent = None
    if d.get("parent") is not None:
        p = r.req(d, "parent", dict)
        parent = ParentRef(
            pool=r.req(p, "pool", str, "parent"),
            image=r.req(p, "image", str, "parent"),
            snapshot=r.req(p, "snapshot", str, "parent"),
            namespace=r.opt(p, "pool_namespace", str, "", "parent"),
            overlap=r.opt(p, "overlap", int, 0, "parent"),
        )
    features = r.opt(d, "features", list, [])
    return RbdImageInfo(
        name=r.req(d, "name", str),
        pool=pool,
        size=r.req(d, "size", int),
        format=r.req(d, "format", int),
        features=tuple(r.coerce(f, str, f"features[{i}]") for i, f in enumerate(features)),
        parent=parent,
        objects=r.req(d, "objects", int),
        order=r.req(d, "order", int),
        object_size=r.opt(d, "object_size", int, 0),
        id=r.opt(d, "id", str, ""),
        snapshot_count=r.opt(d, "snapshot_count", int, 0),
    )


def parse_rbd_ls(doc: Any) -> tuple[str, ...]:
    """``rbd ls --format json POOL``: a list of image names."""
    r = _Reader("rbd ls")
    return tuple(r.coerce(n, str, f"[{i}]") for i, n in enumerate(r.sequence(doc, "")))


def parse_rbd_children(doc: Any) -> tuple[ImageRef, ...]:
    """``rbd children --format json POOL/IMAGE@SNAP``."""
    r = _Reader("rbd children")
    out = []
    for i, c in enumerate(r.sequence(doc, "")):
        path = f"[{i}]"
        if isinstance(c, str):
            pool, slash, image = c.partition("/")
            if not slash or not image:
                r.fail(f"{path} {c!r} is not of the form POOL/IMAGE")
            namespace = ""
            if "/" in image:
                namespace, _, image = image.partition("/")
            out.append(ImageRef(pool=pool, image=image, namespace=namespace))
            continue
        c = r.mapping(c, path)
        out.append(
            ImageRef(
                pool=r.req(c, "pool", str, path),
                image=r.req(c, "image", str, path),
                namespace=r.opt(c, "pool_namespace", str, "", path),
            )
        )
    return tuple(out)


def parse_rbd_snap_ls(doc: Any) -> tuple[RbdSnapshot, ...]:
    """``rbd snap ls --format json POOL/IMAGE``."""
    r = _Reader("rbd snap ls")
    out = []
    for i, s in enumerate(r.sequence(doc, "")):
        path = f"[{i}]"
        s = r.mapping(s, path)
        out.append(
            RbdSnapshot(
                id=r.req(s, "id", int, path),
                name=r.req(s, "name", str, path),
                size=r.req(s, "size", int, path),
                protected=r.opt(s, "protected", bool, False, path),
            )
        )
    return tuple(out)


# ---------------------------------------------------------------- PG stats flush


def parse_flush_pg_stats(doc: Any, osd: int | str = "N") -> int:
    """``ceph tell osd.N flush_pg_stats --format json``: the sequence number
    of the PG stats the OSD has just sent to the manager.

    Pacific prints the bare number (a newline, then e.g. ``51539607563``);
    the value is also accepted as ``{"stat_seq": N}``, the shape the XML
    output (``<stat_seq>…</stat_seq>``) suggests other releases may use.
    """
    r = _Reader(f"ceph tell osd.{osd} flush_pg_stats")
    if doc is None:
        r.fail("no output (expected a stat sequence number)")
    if isinstance(doc, dict):
        seq = r.req(doc, "stat_seq", int)
    else:
        seq = r.coerce(doc, int, "the stat sequence number")
    if seq < 0:
        r.fail(f"negative stat sequence number {seq}")
    return seq


def parse_last_stat_seq(text: str, osd: int | str = "N") -> int:
    """``ceph osd last-stat-seq osd.N`` (plain output): the sequence number
    of the last PG stats from that OSD that the monitors have; ``0`` for an
    OSD that never reported.

    It takes the *plain* text: with ``--format json`` Pacific prints nothing
    but a newline (see ``tests/unit/data/ceph/osd_last_stat_seq_json.txt``).
    """
    r = _Reader(f"ceph osd last-stat-seq osd.{osd}")
    value = text.strip()
    if not value:
        r.fail("no output (expected a stat sequence number)")
    if not value.isdigit():
        r.fail(f"expected a stat sequence number, got {value[:80]!r}")
    return int(value)
