"""An in-memory stand-in for octoprobe.ceph.RbdClient: images with sizes,
snapshots (protected or not), clone parents, and the rbd CLI's refusals
(remove with snapshots or watchers-free only, unprotect with children,
clone of an unprotected snapshot)."""

from __future__ import annotations

from dataclasses import dataclass, field

from octoprobe.ceph.model import ImageRef, RbdSnapshot
from octoprobe.shell import CommandError


def _fail(msg: str) -> CommandError:
    return CommandError(["rbd"], msg)


@dataclass
class FakeImage:
    size: int
    parent: tuple[str, str, str] | None = None
    snaps: dict = field(default_factory=dict)  # name -> protected


@dataclass
class FakeInfo:
    size: int


class FakeRbd:
    def __init__(self):
        self.images: dict[tuple[str, str], FakeImage] = {}
        self.calls: list[tuple] = []
        self.timeouts: list[float | None] = []

    def _img(self, pool, name) -> FakeImage:
        try:
            return self.images[(pool, name)]
        except KeyError:
            raise _fail(f"rbd: error opening image {name}: (2) No such file or directory") from None

    def exists(self, pool, image):
        return (pool, image) in self.images

    def list(self, pool):
        return [n for p, n in self.images if p == pool]

    def info(self, pool, image):
        return FakeInfo(self._img(pool, image).size)

    def import_file(self, path, pool, image, *, timeout=None):
        self.calls.append(("import", path, pool, image))
        self.timeouts.append(timeout)
        if (pool, image) in self.images:
            raise _fail("rbd: import error: (17) File exists")
        with open(path, "rb") as f:
            self.images[(pool, image)] = FakeImage(len(f.read()))

    def create(self, pool, image, size_bytes, *, features=None, timeout=None):
        self.calls.append(("create", pool, image, size_bytes))
        self.timeouts.append(timeout)
        if (pool, image) in self.images:
            raise _fail("rbd: create error: (17) File exists")
        self.images[(pool, image)] = FakeImage(size_bytes)

    def remove(self, pool, image, *, timeout=None):
        self.calls.append(("rm", pool, image))
        self.timeouts.append(timeout)
        img = self._img(pool, image)
        if img.snaps:
            raise _fail("rbd: image has snapshots - these must be deleted with 'rbd snap purge'")
        del self.images[(pool, image)]

    def run(self, *args, timeout=None):
        self.calls.append(args)
        self.timeouts.append(timeout)
        if args[0] == "resize":
            size = int(args[args.index("--size") + 1].rstrip("B"))
            pool, name = args[-1].split("/")
            self._img(pool, name).size = size
            return None
        if args[0] == "rm":
            pool, name = args[-1].split("/")
            self.remove(pool, name, timeout=timeout)
            return None
        raise AssertionError(f"unexpected rbd {args}")

    def flatten(self, pool, image, *, timeout=None):
        self.calls.append(("flatten", pool, image))
        self.timeouts.append(timeout)
        self._img(pool, image).parent = None

    def snap_create(self, pool, image, snap):
        self.calls.append(("snap create", pool, image, snap))
        img = self._img(pool, image)
        if snap in img.snaps:
            raise _fail("rbd: failed to create snapshot: (17) File exists")
        img.snaps[snap] = False

    def snap_protect(self, pool, image, snap):
        self._img(pool, image).snaps[snap] = True

    def snap_unprotect(self, pool, image, snap):
        if self.children(pool, image, snap):
            raise _fail("rbd: unprotecting snap failed: (16) Device or resource busy")
        self._img(pool, image).snaps[snap] = False

    def snap_remove(self, pool, image, snap):
        img = self._img(pool, image)
        if img.snaps.get(snap):
            raise _fail("rbd: snapshot is protected")
        img.snaps.pop(snap, None)

    def snap_purge(self, pool, image, *, timeout=None):
        img = self._img(pool, image)
        img.snaps = {k: v for k, v in img.snaps.items() if v}

    def snap_list(self, pool, image):
        return [RbdSnapshot(i, n, self._img(pool, image).size, p)
                for i, (n, p) in enumerate(self._img(pool, image).snaps.items())]

    def clone(self, parent_pool, parent_image, snap, child_pool, child_image):
        self.calls.append(("clone", parent_pool, parent_image, snap, child_pool, child_image))
        parent = self._img(parent_pool, parent_image)
        if not parent.snaps.get(snap):
            raise _fail("rbd: parent snapshot must be protected")
        if (child_pool, child_image) in self.images:
            raise _fail("rbd: clone error: (17) File exists")
        self.images[(child_pool, child_image)] = FakeImage(parent.size, (parent_pool, parent_image, snap))

    def children(self, pool, image, snap):
        return [ImageRef(p, n) for (p, n), img in self.images.items() if img.parent == (pool, image, snap)]
