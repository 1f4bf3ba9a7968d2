"""Run-tagged resources: the run's tag, per-test cleanup, and the sweeper.

Everything a run creates in a cloud carries the run's tag, so that it can be
found and deleted afterwards, and so that nothing else ever is:

* **name prefix** ``octoprobe-<run id>-`` on every resource that has a name;
* **metadata** ``octoprobe-run: <run id>`` on servers, volumes and snapshots;
* **tags** ``octoprobe-run=<run id>`` on images and Neutron resources, and the
  same text in the ``description`` of Neutron resources (the tag extension is
  optional in Neutron; the description is not);
* keypairs have nothing but a name: for them the name prefix is the tag.

:class:`RunTag` produces these. :func:`run_id_of` reads them back: a resource
is *ours* when its metadata, image properties, tags or description carry a
well-formed ``octoprobe-run`` marker (keypairs: when the name has the prefix).
A name prefix alone is not enough for any other kind.

:class:`ResourceRegistry` is one test's list of finalizers: run last-in,
first-out, every one of them even when some fail, the failures collected
(the plugin reports them as a teardown error, which never hides the test's
own failure).

:class:`Sweeper` finds what carries our tag (of one run, or of any run) in a
connection's view of the cloud and deletes exactly that, in dependency
order, or only lists it (dry run). It is what ``octoprobe cleanup`` runs
after an interrupted run.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, TypeVar

from octoprobe.waiters import Waiter

__all__ = [
    "TAG_KEY",
    "NAME_PREFIX",
    "RUN_ID_PATTERN",
    "new_run_id",
    "check_run_id",
    "RunTag",
    "run_id_of",
    "CleanupFailure",
    "CleanupError",
    "ResourceRegistry",
    "KINDS",
    "Found",
    "SweepError",
    "SweepReport",
    "Sweeper",
]

TAG_KEY = "octoprobe-run"
NAME_PREFIX = "octoprobe-"
#: A run id: 4 to 32 lowercase letters and digits (no '-', so the name prefix
#: ``octoprobe-<run id>-`` can be read back unambiguously).
RUN_ID_PATTERN = r"[a-z0-9]{4,32}"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)
_MARKER_RE = re.compile(r"(?<![A-Za-z0-9_-])" + re.escape(TAG_KEY) + r"=(" + RUN_ID_PATTERN + r")(?![a-z0-9])")
_NAME_RE = re.compile(re.escape(NAME_PREFIX) + "(" + RUN_ID_PATTERN + ")-")
_KIND_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")

T = TypeVar("T")


def new_run_id(*, now: float | None = None) -> str:
    """A fresh run id: UTC date and time to the second, then 4 random hex digits,
    e.g. ``20261017t142233a9f1`` (sortable, unique enough for parallel runs)."""
    stamp = time.strftime("%Y%m%dt%H%M%S", time.gmtime(now))
    return stamp + secrets.token_hex(2)


def check_run_id(run_id: str) -> str:
    """``run_id`` if well formed; ValueError saying what is allowed otherwise."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"invalid run id {run_id!r}: use 4 to 32 lowercase letters and digits (no '-'), e.g. ci1234")
    return run_id


@dataclass(frozen=True)
class RunTag:
    """The tag of one run, in each form a resource can carry it."""

    run_id: str

    def __post_init__(self) -> None:
        check_run_id(self.run_id)

    @property
    def prefix(self) -> str:
        """``octoprobe-<run id>-``: every name we give starts with this."""
        return f"{NAME_PREFIX}{self.run_id}-"

    @property
    def tag(self) -> str:
        """``octoprobe-run=<run id>``, for tag lists and descriptions."""
        return f"{TAG_KEY}={self.run_id}"

    @property
    def tags(self) -> list[str]:
        return [self.tag]

    @property
    def metadata(self) -> dict[str, str]:
        """``{"octoprobe-run": <run id>}``, for server/volume/snapshot metadata."""
        return {TAG_KEY: self.run_id}

    def name(self, kind: str, *, suffix: str | None = None) -> str:
        """A resource name: ``octoprobe-<run id>-<kind>-<suffix>``; the suffix is
        random unless given, so names never collide between tests."""
        if not _KIND_RE.fullmatch(kind):
            raise ValueError(f"invalid resource kind {kind!r} for a name: lowercase letters, digits and '-'")
        return f"{self.prefix}{kind}-{suffix if suffix is not None else secrets.token_hex(3)}"

    def description(self, text: str = "") -> str:
        """A description carrying the tag (for Neutron resources)."""
        return f"{text} [{self.tag}]" if text else f"[{self.tag}]"

    def owns(self, kind: str, resource: Any) -> bool:
        return run_id_of(kind, resource) == self.run_id

    def __str__(self) -> str:
        return self.run_id


# ---------------------------------------------------------------- reading tags back


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def run_id_of(kind: str, resource: Any) -> str | None:
    """The run id of ours ``resource`` carries, or None when it is not ours.

    Looks at ``metadata`` and ``properties`` (key ``octoprobe-run``), ``tags``
    (``octoprobe-run=<id>``) and ``description`` (the same marker, as a word);
    for ``kind == "keypair"`` at the name prefix instead.
    """
    if kind == "keypair":
        match = _NAME_RE.match(str(_get(resource, "name") or ""))
        return match.group(1) if match else None
    for attribute in ("metadata", "properties"):
        mapping = _get(resource, attribute)
        if isinstance(mapping, Mapping):
            value = mapping.get(TAG_KEY)
            if isinstance(value, str) and _RUN_ID_RE.fullmatch(value):
                return value
    tags = _get(resource, "tags")
    if isinstance(tags, (list, tuple, set, frozenset)):
        for tag in tags:
            match = _MARKER_RE.fullmatch(tag) if isinstance(tag, str) else None
            if match:
                return match.group(1)
    description = _get(resource, "description")
    if isinstance(description, str):
        match = _MARKER_RE.search(description)
        if match:
            return match.group(1)
    return None


# ---------------------------------------------------------------- per-test cleanup


@dataclass(frozen=True)
class CleanupFailure:
    what: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.what}: {type(self.error).__name__}: {self.error}"


class CleanupError(Exception):
    """One or more finalizers failed; all of them ran."""

    def __init__(self, failures: list[CleanupFailure]):
        self.failures = list(failures)
        lines = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(f"cleanup failed for {len(self.failures)} resource(s):\n{lines}")


class ResourceRegistry:
    """Finalizers for what one test created, run last-in first-out."""

    def __init__(self, run: RunTag):
        self.run = run
        self._entries: list[tuple[str, Callable[[], Any]]] = []

    def add(self, what: str, finalizer: Callable[[], Any]) -> None:
        """Register ``finalizer`` (no arguments) to undo ``what``."""
        if not callable(finalizer):
            raise TypeError(f"finalizer for {what} is not callable")
        self._entries.append((what, finalizer))

    def track(self, resource: T, finalizer: Callable[[T], Any], what: str | None = None) -> T:
        """Register ``finalizer(resource)`` and return ``resource``, so creation
        and registration are one expression."""
        if what is None:
            label = _get(resource, "name") or _get(resource, "id") or repr(resource)
            what = f"{type(resource).__name__.lower()} {label}"
        self.add(what, lambda: finalizer(resource))
        return resource

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def pending(self) -> list[str]:
        return [what for what, _ in self._entries]

    def cleanup(self) -> list[CleanupFailure]:
        """Run every finalizer once, newest first; return the failures.

        A finalizer that raises does not stop the others. Finalizers
        registered while cleaning up run too. Calling again is harmless.
        """
        failures: list[CleanupFailure] = []
        while self._entries:
            what, finalizer = self._entries.pop()
            try:
                finalizer()
            except Exception as exc:  # collected, never raised from here
                failures.append(CleanupFailure(what, exc))
        return failures

    def __repr__(self) -> str:
        return f"ResourceRegistry(run={self.run.run_id!r}, pending={len(self)})"


# ---------------------------------------------------------------- the sweeper


@dataclass(frozen=True)
class Kind:
    """How to list and delete one kind of resource through openstacksdk."""

    name: str
    service: str  # attribute of the connection: compute, network, block_storage, image
    list_method: str
    delete_method: str
    list_kwargs: Mapping[str, Any] = field(default_factory=dict)
    wait_gone: bool = False  # deletion is asynchronous: wait before deleting what depends on it


#: Every kind the sweeper handles, in the order they are deleted: dependents
#: first (a server holds ports and volumes, a snapshot its volume, a router
#: interface its subnet, a volume or a VM disk its image).
KINDS: tuple[Kind, ...] = (
    Kind("server", "compute", "servers", "delete_server", {"details": True}, wait_gone=True),
    Kind("floating_ip", "network", "ips", "delete_ip"),
    Kind("router", "network", "routers", "delete_router"),
    Kind("port", "network", "ports", "delete_port"),
    Kind("subnet", "network", "subnets", "delete_subnet"),
    Kind("network", "network", "networks", "delete_network"),
    Kind("security_group", "network", "security_groups", "delete_security_group"),
    Kind("snapshot", "block_storage", "snapshots", "delete_snapshot", {"details": True}, wait_gone=True),
    Kind("volume", "block_storage", "volumes", "delete_volume", {"details": True}, wait_gone=True),
    Kind("image", "image", "images", "delete_image"),
    Kind("keypair", "compute", "keypairs", "delete_keypair"),
)
_KIND_BY_NAME = {k.name: k for k in KINDS}
_ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:ha_router_replicated_interface")


@dataclass(frozen=True)
class Found:
    """A resource of ours."""

    kind: str
    id: str
    name: str | None
    run_id: str

    def __str__(self) -> str:
        label = f" {self.name}" if self.name and self.name != self.id else ""
        return f"{self.kind} {self.id}{label} (run {self.run_id})"


@dataclass(frozen=True)
class SweepError:
    kind: str
    message: str
    resource: Found | None = None

    def __str__(self) -> str:
        where = str(self.resource) if self.resource else self.kind
        return f"{where}: {self.message}"


@dataclass
class SweepReport:
    dry_run: bool
    found: list[Found] = field(default_factory=list)
    deleted: list[Found] = field(default_factory=list)
    errors: list[SweepError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        lines = []
        verb = "would delete" if self.dry_run else "deleted"
        done = self.found if self.dry_run else self.deleted
        lines.append(f"{verb} {len(done)} of {len(self.found)} resource(s) carrying our tag")
        lines.extend(f"  {f}" for f in done)
        if self.errors:
            lines.append(f"{len(self.errors)} error(s):")
            lines.extend(f"  {e}" for e in self.errors)
        return "\n".join(lines)


def _id(resource: Any) -> str:
    value = _get(resource, "id")
    if value is None and _get(resource, "name") is not None:  # keypairs: the name is the id
        value = _get(resource, "name")
    return str(value)


class Sweeper:
    """Finds and deletes the resources that carry our tag, and nothing else.

    ``conn`` is an openstacksdk Connection (or anything with the same proxy
    methods). ``run_id`` limits the sweep to one run; None means every
    octoprobe run. ``kinds`` limits it to some kinds (names from
    :data:`KINDS`). Asynchronous deletions (servers, snapshots, volumes) are
    waited for, each kind at most ``timeout`` seconds, before the kinds that
    depend on them are deleted.
    """

    def __init__(
        self,
        conn: Any,
        *,
        run_id: str | None = None,
        kinds: Iterable[str] | None = None,
        timeout: float = 600.0,
        interval: float = 1.0,
        waiter: Waiter | None = None,
    ):
        self.conn = conn
        self.run_id = None if run_id is None else check_run_id(run_id)
        names = [k.name for k in KINDS] if kinds is None else list(kinds)
        unknown = sorted(set(names) - set(_KIND_BY_NAME))
        if unknown:
            raise ValueError(f"unknown resource kind(s) {', '.join(unknown)}; known: {', '.join(_KIND_BY_NAME)}")
        self.kinds = [k for k in KINDS if k.name in names]
        self.timeout = timeout
        self.interval = interval
        self.waiter = waiter or Waiter()

    # -- finding

    def _ours(self, kind: Kind, resource: Any) -> Found | None:
        run_id = run_id_of(kind.name, resource)
        if run_id is None or (self.run_id is not None and run_id != self.run_id):
            return None
        return Found(kind.name, _id(resource), _get(resource, "name"), run_id)

    def _list(self, kind: Kind) -> list[Any]:
        proxy = getattr(self.conn, kind.service)
        return list(getattr(proxy, kind.list_method)(**kind.list_kwargs))

    def _find_kind(self, kind: Kind, errors: list[SweepError]) -> list[tuple[Found, Any]]:
        try:
            resources = self._list(kind)
        except Exception as exc:
            errors.append(SweepError(kind.name, f"cannot list: {type(exc).__name__}: {exc}"))
            return []
        found = []
        for resource in resources:
            ours = self._ours(kind, resource)
            if ours is not None:
                found.append((ours, resource))
        return found

    def find(self) -> list[Found]:
        """What carries our tag, in the order it would be deleted."""
        report = SweepReport(dry_run=True)
        for kind in self.kinds:
            report.found.extend(f for f, _ in self._find_kind(kind, report.errors))
        return report.found

    # -- deleting

    def sweep(self, *, dry_run: bool = False) -> SweepReport:
        """Delete what carries our tag (or, with ``dry_run``, only list it)."""
        report = SweepReport(dry_run=dry_run)
        for kind in self.kinds:
            batch = self._find_kind(kind, report.errors)
            report.found.extend(f for f, _ in batch)
            if dry_run or not batch:
                continue
            proxy = getattr(self.conn, kind.service)
            deleting: list[Found] = []
            for found, resource in batch:
                try:
                    if kind.name == "router":
                        self._detach_router(resource)
                    getattr(proxy, kind.delete_method)(found.id, ignore_missing=True)
                except Exception as exc:
                    report.errors.append(SweepError(kind.name, f"{type(exc).__name__}: {exc}", found))
                    continue
                deleting.append(found)
            if kind.wait_gone and deleting:
                deleting = self._wait_gone(kind, deleting, report)
            report.deleted.extend(deleting)
        return report

    def _detach_router(self, router: Any) -> None:
        """Remove the interfaces of one of our routers (Neutron refuses to delete
        a router that has any); the router is ours, the subnets need not be."""
        router_id = _id(router)
        for port in list(self.conn.network.ports(device_id=router_id)):
            owner = str(_get(port, "device_owner") or "")
            if owner.startswith(_ROUTER_INTERFACE_OWNERS):
                self.conn.network.remove_interface_from_router(router_id, port_id=_id(port))

    def _wait_gone(self, kind: Kind, deleting: list[Found], report: SweepReport) -> list[Found]:
        ids = {f.id for f in deleting}

        def remaining() -> str:
            left = [r for r in self._list(kind) if _id(r) in ids]
            broken = [r for r in left if str(_get(r, "status") or "").lower() == "error_deleting"]
            if broken:
                return "error"
            return "deleting" if left else "gone"

        try:
            self.waiter.wait(
                f"{len(ids)} {kind.name}(s) deleted",
                remaining,
                ready={"gone"},
                failed={"error"},
                timeout=self.timeout,
                interval=min(self.interval, self.timeout),
                state=lambda s: s,
                fault=lambda s: None,
            )
            return deleting
        except Exception as exc:
            listed = self._safe_list(kind)
            still = ids if listed is None else {_id(r) for r in listed} & ids
            for found in deleting:
                if found.id in still:
                    report.errors.append(SweepError(kind.name, f"not deleted: {exc}", found))
            return [f for f in deleting if f.id not in still]

    def _safe_list(self, kind: Kind) -> list[Any] | None:
        try:
            return self._list(kind)
        except Exception:
            return None
