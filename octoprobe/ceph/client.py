"""Read Ceph cluster state through the ``ceph`` CLI.

:class:`CephClient` runs ``ceph … --format json`` through a
:class:`~octoprobe.shell.Runner`, so the same code works on this machine
(:class:`~octoprobe.shell.LocalRunner`, optionally inside a network namespace)
and on a lab node over SSH. It decodes the JSON and hands it to the pure
parsers in :mod:`octoprobe.ceph.parse`.

A command that exits non-zero or times out raises
:class:`~octoprobe.shell.CommandError` from the runner; output that is not
JSON, or JSON of an unexpected shape, raises
:class:`~octoprobe.ceph.parse.CephParseError`.
"""

from __future__ import annotations

import json
import math
import shlex
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..shell import CommandError, Runner
from . import parse
from .model import (
    ClusterStatus,
    CrushRule,
    DfReport,
    Health,
    OsdTree,
    OsdUsage,
    PgInfo,
    PoolInfo,
)
from .parse import CephError, CephParseError


def decode_json(command: str, stdout: str) -> Any:
    """Decode one command's stdout; empty output decodes to ``None``."""
    text = stdout.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        head = text[:200] + ("…" if len(text) > 200 else "")
        raise CephParseError(command, f"output is not JSON ({exc.msg}): {head!r}") from None


def auth_args(conf: str | None, name: str | None, keyring: str | None) -> list[str]:
    """The connection options ``ceph`` and ``rbd`` share."""
    argv: list[str] = []
    if conf:
        argv += ["--conf", conf]
    if name:
        argv += ["--name", name]
    if keyring:
        argv += ["--keyring", keyring]
    return argv


class CephTool:
    """What the ``ceph`` and ``rbd`` wrappers share: the runner, the
    connection options (``--conf``, ``--name``, ``--keyring``) and the
    timeout every command gets."""

    def __init__(
        self,
        runner: Runner,
        *,
        conf: str | None,
        name: str | None,
        keyring: str | None,
        timeout: float,
        binary: str,
    ):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.runner = runner
        self.conf = conf
        self.name = name
        self.keyring = keyring
        self.timeout = timeout
        self.binary = binary

    def base_argv(self) -> list[str]:
        return [self.binary, *auth_args(self.conf, self.name, self.keyring)]


class PgStatsFlushTimeout(CephError, TimeoutError):
    """:meth:`CephClient.flush_pg_stats` ran out of time: the monitors have
    not seen the flushed PG stats of every OSD. ``pending`` maps each OSD
    still behind to ``(needed, last seen)`` sequence numbers (``last seen`` is
    ``None`` when ``ceph osd last-stat-seq`` never answered for it);
    ``last_error`` is the last failure of that command, if any."""

    def __init__(self, message: str, *, pending: dict[int, tuple[int, int | None]],
                 timeout: float, last_error: str | None = None):
        super().__init__(message)
        self.pending = pending
        self.timeout = timeout
        self.last_error = last_error


@dataclass(frozen=True)
class ClusterSnapshot:
    """What a chaos test wants to know at one moment, taken in one go.

    ``taken_at`` is wall-clock time (``time.time()``) when the first of the
    three commands started.
    """

    status: ClusterStatus
    osds: OsdTree
    pgs: tuple[PgInfo, ...]
    taken_at: float

    def pgs_on_osd(self, osd_id: int) -> tuple[PgInfo, ...]:
        """PGs whose acting set includes ``osd_id``."""
        return tuple(p for p in self.pgs if osd_id in p.acting)

    def pgs_not_clean(self) -> tuple[PgInfo, ...]:
        return tuple(p for p in self.pgs if not p.active_clean)

    def pgs_inactive(self) -> tuple[PgInfo, ...]:
        return tuple(p for p in self.pgs if p.inactive)


class CephClient(CephTool):
    """Read-only access to one cluster through the ``ceph`` CLI.

    ``conf``, ``name`` and ``keyring`` become ``--conf``, ``--name`` and
    ``--keyring``; ``timeout`` bounds every command (the runner kills it after
    that) and is also given to ``ceph`` as ``--connect-timeout`` so an
    unreachable monitor fails with Ceph's own message.
    """

    def __init__(
        self,
        runner: Runner,
        *,
        conf: str | None = None,
        name: str | None = "client.admin",
        keyring: str | None = None,
        timeout: float = 30.0,
        binary: str = "ceph",
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(runner, conf=conf, name=name, keyring=keyring, timeout=timeout, binary=binary)
        self._clock = clock

    def argv(self, *args: str) -> list[str]:
        """The full command line for ``ceph ARGS --format json``."""
        return [
            *self.base_argv(),
            "--connect-timeout",
            str(max(1, math.ceil(self.timeout))),
            *args,
            "--format",
            "json",
        ]

    def command(self, *args: str, timeout: float | None = None) -> Any:
        """Run ``ceph ARGS --format json`` and return the decoded JSON
        (``None`` for a command that printed nothing)."""
        result = self.runner.run(self.argv(*args), timeout=timeout or self.timeout)
        return decode_json(f"{self.binary} {shlex.join(args)}", result.stdout)

    def text(self, *args: str, timeout: float | None = None) -> str:
        """Run ``ceph ARGS`` with Ceph's plain output and return its stdout,
        for the few commands whose JSON output is empty or useless."""
        argv = [*self.base_argv(), "--connect-timeout", str(max(1, math.ceil(self.timeout))), *args]
        return self.runner.run(argv, timeout=timeout or self.timeout).stdout

    # -------------------------------------------------------------- models

    def status(self) -> ClusterStatus:
        return parse.parse_status(self.command("status"))

    def health_detail(self) -> Health:
        return parse.parse_health_detail(self.command("health", "detail"))

    def osd_tree(self) -> OsdTree:
        return parse.parse_osd_tree(self.command("osd", "tree"))

    def pgs(self) -> tuple[PgInfo, ...]:
        return parse.parse_pgs_brief(self.command("pg", "dump", "pgs_brief"))

    def pools(self) -> tuple[PoolInfo, ...]:
        return parse.parse_pool_ls_detail(self.command("osd", "pool", "ls", "detail"))

    def pool(self, name: str) -> PoolInfo:
        for p in self.pools():
            if p.name == name:
                return p
        raise KeyError(f"no pool named {name!r}")

    def df(self) -> DfReport:
        return parse.parse_df(self.command("df"))

    def osd_df(self) -> tuple[OsdUsage, ...]:
        return parse.parse_osd_df(self.command("osd", "df"))

    def crush_rules(self) -> tuple[CrushRule, ...]:
        return parse.parse_crush_rule_dump(self.command("osd", "crush", "rule", "dump"))

    def snapshot(self) -> ClusterSnapshot:
        """Status, OSD tree and every PG, taken one right after the other."""
        taken_at = self._clock()
        return ClusterSnapshot(
            status=self.status(),
            osds=self.osd_tree(),
            pgs=self.pgs(),
            taken_at=taken_at,
        )

    # ------------------------------------------------------------- PG stats

    def flush_pg_stats(
        self,
        osd_ids: Iterable[int] | None = None,
        *,
        timeout: float = 60.0,
        poll_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> dict[int, int]:
        """Make ``ceph status`` current: every OSD in ``osd_ids`` (default:
        every OSD that is up now) sends its PG stats to the manager, and this
        waits until the monitors have them — as Ceph's QA does
        (teuthology's ``ceph_manager.flush_pg_stats``).

        Without it, the PG map in ``ceph status`` can lag the OSD map by a
        stats period: just after an OSD restarted its PGs are still shown
        active+clean from the stats of before, though they are peering.

        Runs ``ceph tell osd.N flush_pg_stats`` for each OSD (it answers with a
        sequence number), then polls ``ceph osd last-stat-seq osd.N`` until it
        reaches that number. Returns ``{osd: sequence number}``.

        ``timeout`` is one deadline for all of it. A ``tell`` that fails (the
        OSD is down or unknown) raises :class:`~octoprobe.shell.CommandError`;
        a failing ``last-stat-seq`` (the manager restarting) is retried until
        the deadline; past the deadline :class:`PgStatsFlushTimeout` is raised.
        """
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if poll_interval < 0:
            raise ValueError("poll_interval must not be negative")
        start = clock()
        deadline = start + timeout
        if osd_ids is None:
            osd_ids = [o.id for o in self.osd_tree() if o.up]
        osds = sorted(set(int(i) for i in osd_ids))

        def remaining() -> float:
            return deadline - clock()

        def command_timeout() -> float:
            return max(1.0, min(self.timeout, remaining()))

        def timed_out(pending: dict[int, tuple[int, int | None]], last_error: str | None) -> PgStatsFlushTimeout:
            behind = ", ".join(
                f"osd.{o} at {'?' if got is None else got} < {need}" for o, (need, got) in sorted(pending.items())
            )
            message = (f"the monitors did not get the flushed PG stats within {timeout:g}s "
                       f"({clock() - start:.1f}s elapsed): {behind}")
            if last_error:
                message += f"; last error: {last_error}"
            return PgStatsFlushTimeout(message, pending=pending, timeout=timeout, last_error=last_error)

        needed: dict[int, int] = {}
        for osd in osds:
            if remaining() <= 0:
                raise timed_out({o: (0, None) for o in osds if o not in needed}, None)
            doc = self.command("tell", f"osd.{osd}", "flush_pg_stats", timeout=command_timeout())
            needed[osd] = parse.parse_flush_pg_stats(doc, osd)

        pending: dict[int, tuple[int, int | None]] = {o: (need, None) for o, need in needed.items()}
        last_error: str | None = None
        while True:
            for osd in sorted(pending):
                need, _ = pending[osd]
                try:
                    out = self.text("osd", "last-stat-seq", f"osd.{osd}", timeout=command_timeout())
                except CommandError as exc:
                    last_error = str(exc)
                    continue
                got = parse.parse_last_stat_seq(out, osd)
                if got >= need:
                    del pending[osd]
                else:
                    pending[osd] = (need, got)
            if not pending:
                return needed
            left = remaining()
            if left <= 0:
                raise timed_out(pending, last_error)
            sleep(max(0.0, min(poll_interval, left)))

    def __repr__(self) -> str:
        return f"CephClient({self.runner!r}, conf={self.conf!r}, name={self.name!r})"
