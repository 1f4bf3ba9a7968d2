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
from typing import Any, Callable

from ..shell import Runner
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
from .parse import CephParseError


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

    def __repr__(self) -> str:
        return f"CephClient({self.runner!r}, conf={self.conf!r}, name={self.name!r})"
