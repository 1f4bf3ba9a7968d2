"""RBD images through the ``rbd`` CLI, locally or over SSH via a Runner.

Commands that report something (``info``, ``ls``, ``children``, ``snap ls``)
are run with ``--format json`` and parsed by :mod:`octoprobe.ceph.parse`;
commands that change something are run with ``--no-progress`` where ``rbd``
has it, so their output stays quiet. Pool usage comes from
:meth:`octoprobe.ceph.client.CephClient.df`.

Note that ``rbd`` blocks while the PGs it needs are inactive: every call has a
timeout (the client's, or one given per call) and fails with
:class:`~octoprobe.shell.CommandError` past it.
"""

from __future__ import annotations

import shlex
from typing import Any, Sequence

from ..shell import Result, Runner
from . import parse
from .client import CephTool, decode_json
from .model import ImageRef, RbdImageInfo, RbdSnapshot


def image_spec(pool: str, image: str, snap: str | None = None) -> str:
    """``pool/image`` or ``pool/image@snap``."""
    for what, value in (("pool", pool), ("image", image), ("snapshot", snap)):
        if value is not None and (not value or "@" in value or "/" in value):
            raise ValueError(f"invalid {what} name {value!r}")
    return f"{pool}/{image}" + (f"@{snap}" if snap is not None else "")


class RbdClient(CephTool):
    def __init__(
        self,
        runner: Runner,
        *,
        conf: str | None = None,
        name: str | None = "client.admin",
        keyring: str | None = None,
        timeout: float = 60.0,
        binary: str = "rbd",
    ):
        super().__init__(runner, conf=conf, name=name, keyring=keyring, timeout=timeout, binary=binary)

    def argv(self, *args: str) -> list[str]:
        return [*self.base_argv(), *args]

    def run(self, *args: str, timeout: float | None = None) -> Result:
        """Run ``rbd ARGS``; raises CommandError on failure."""
        return self.runner.run(self.argv(*args), timeout=timeout or self.timeout)

    def _json(self, *args: str, timeout: float | None = None) -> Any:
        result = self.run(*args, "--format", "json", timeout=timeout)
        return decode_json(f"{self.binary} {shlex.join(args)}", result.stdout)

    # -------------------------------------------------------------- images

    def create(
        self,
        pool: str,
        image: str,
        size_bytes: int,
        *,
        features: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> None:
        """``rbd create --size BYTES``; ``features`` e.g. ``["layering"]``
        (the cluster default when ``None``)."""
        if size_bytes <= 0:
            raise ValueError("size_bytes must be positive")
        args = ["create", "--no-progress", "--size", f"{int(size_bytes)}B"]
        for f in features or ():
            args += ["--image-feature", f]
        self.run(*args, image_spec(pool, image), timeout=timeout)

    def import_file(
        self, path: str, pool: str, image: str, *, timeout: float | None = None
    ) -> None:
        """``rbd import PATH POOL/IMAGE`` (``path`` on the runner's host)."""
        self.run("import", "--no-progress", path, image_spec(pool, image), timeout=timeout)

    def remove(self, pool: str, image: str, *, timeout: float | None = None) -> None:
        self.run("rm", "--no-progress", image_spec(pool, image), timeout=timeout)

    def flatten(self, pool: str, image: str, *, timeout: float | None = None) -> None:
        """Copy the parent's data into a clone, detaching it from its parent."""
        self.run("flatten", "--no-progress", image_spec(pool, image), timeout=timeout)

    def info(self, pool: str, image: str) -> RbdImageInfo:
        return parse.parse_rbd_info(self._json("info", image_spec(pool, image)), pool=pool)

    def list(self, pool: str) -> list[str]:
        doc = self._json("ls", pool)
        return list(parse.parse_rbd_ls(doc if doc is not None else []))

    def exists(self, pool: str, image: str) -> bool:
        return image in self.list(pool)

    # -------------------------------------------------------------- snapshots and clones

    def snap_create(self, pool: str, image: str, snap: str) -> None:
        self.run("snap", "create", "--no-progress", image_spec(pool, image, snap))

    def snap_protect(self, pool: str, image: str, snap: str) -> None:
        self.run("snap", "protect", image_spec(pool, image, snap))

    def snap_unprotect(self, pool: str, image: str, snap: str) -> None:
        self.run("snap", "unprotect", image_spec(pool, image, snap))

    def snap_remove(self, pool: str, image: str, snap: str) -> None:
        self.run("snap", "rm", "--no-progress", image_spec(pool, image, snap))

    def snap_purge(self, pool: str, image: str, *, timeout: float | None = None) -> None:
        """Remove every unprotected snapshot of the image."""
        self.run("snap", "purge", "--no-progress", image_spec(pool, image), timeout=timeout)

    def snap_list(self, pool: str, image: str) -> list[RbdSnapshot]:
        doc = self._json("snap", "ls", image_spec(pool, image))
        return list(parse.parse_rbd_snap_ls(doc if doc is not None else []))

    def clone(
        self,
        parent_pool: str,
        parent_image: str,
        snap: str,
        child_pool: str,
        child_image: str,
    ) -> None:
        """Copy-on-write clone of ``parent_pool/parent_image@snap``."""
        self.run(
            "clone",
            image_spec(parent_pool, parent_image, snap),
            image_spec(child_pool, child_image),
        )

    def children(self, pool: str, image: str, snap: str) -> list[ImageRef]:
        doc = self._json("children", image_spec(pool, image, snap))
        return list(parse.parse_rbd_children(doc if doc is not None else []))

    def __repr__(self) -> str:
        return f"RbdClient({self.runner!r}, conf={self.conf!r}, name={self.name!r})"
