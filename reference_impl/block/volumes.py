"""Volumes and their snapshots as RBD images: the block storage library.

A volume ``<id>`` is the RBD image ``volumes/volume-<id>``; a snapshot
``<sid>`` of it is the RBD snapshot ``volumes/volume-<id>@snapshot-<sid>``,
protected as soon as it is made (so it can be cloned). What each operation
does in RBD — the same choices as Cinder's RBD driver where it has one:

* empty volume: ``rbd create`` of the size (thin: nothing is written);
* from an image: a copy-on-write clone of the image's protected snapshot
  (``images/<rbd name>@snap``), grown to the volume's size;
* from a snapshot: a clone of that protected snapshot, grown;
* from a volume: a temporary snapshot of the source, cloned, the clone
  flattened (so the new volume depends on nothing and the source can be
  deleted at once), the temporary snapshot removed;
* extend: ``rbd resize`` to a larger size (shrinking is refused);
* delete: refused while the volume has snapshots (:class:`VolumeHasSnapshots`);
  a volume that is a clone is removed like any other (its parent stays);
* delete a snapshot: clones made from it are flattened first (they become
  independent volumes), then the snapshot is unprotected and removed;
* copy to an image: like "from a volume", into ``images/<name>``, which gets
  its own protected snapshot ``snap`` so servers and volumes clone from it;
  as qcow2: ``qemu-img convert`` of a temporary snapshot (read through
  QEMU's rbd driver) into a work file, imported into ``images/<name>`` as
  it is (with the same protected snapshot; such an image is downloaded, not
  booted — the compute library boots raw images).

Every ``rbd`` call runs with a timeout (:data:`RBD_TIMEOUT`, longer for
copies: :func:`copy_timeout`). Errors are :class:`BlockError` subclasses
that carry an HTTP status for the API layer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octoprobe.shell import CommandError, LocalRunner

GiB = 1024 ** 3
VOLUMES_POOL = "volumes"
IMAGES_POOL = "images"
IMAGE_SNAP = "snap"  # the compute library's image snapshot (compute.hypervisor.IMAGE_SNAP)
RBD_TIMEOUT = 120.0
COPY_SECONDS_PER_GIB = 60.0


class BlockError(Exception):
    http_status = 500


class InvalidSize(BlockError):
    http_status = 400


class VolumeNotFound(BlockError):
    http_status = 404


class SnapshotNotFound(BlockError):
    http_status = 404


class VolumeHasSnapshots(BlockError):
    http_status = 409


class VolumeExists(BlockError):
    http_status = 409


@dataclass(frozen=True)
class ImageSource:
    """The protected snapshot a volume is cloned from (a Glance image in RBD)."""

    pool: str
    rbd_name: str
    snap: str = IMAGE_SNAP


def volume_name(volume_id: str) -> str:
    return f"volume-{volume_id}"


def snapshot_name(snapshot_id: str) -> str:
    return f"snapshot-{snapshot_id}"


def copy_timeout(size_gb: int) -> float:
    """Seconds allowed to flatten (copy) ``size_gb`` GiB."""
    return max(RBD_TIMEOUT, COPY_SECONDS_PER_GIB * max(1, size_gb))


def check_size(size_gb: Any) -> int:
    if isinstance(size_gb, bool) or not isinstance(size_gb, int) or size_gb < 1:
        raise InvalidSize(f"a volume's size must be a whole number of GiB of at least 1, not {size_gb!r}")
    return size_gb


def _missing(exc: CommandError) -> bool:
    text = str(exc)
    return "No such file" in text or "does not exist" in text or "error opening" in text


class BlockStore:
    """Volumes in one RBD pool, through an :class:`~octoprobe.ceph.RbdClient`."""

    def __init__(self, rbd: Any, *, pool: str = VOLUMES_POOL, timeout: float = RBD_TIMEOUT, runner: Any = None):
        self.rbd = rbd
        self.pool = pool
        self.timeout = timeout
        self.runner = runner or LocalRunner()  # runs qemu-img

    # -- reads -----------------------------------------------------------------------------
    def exists(self, volume_id: str) -> bool:
        return self.rbd.exists(self.pool, volume_name(volume_id))

    def size_bytes(self, volume_id: str) -> int:
        try:
            return self.rbd.info(self.pool, volume_name(volume_id)).size
        except CommandError as exc:
            if _missing(exc):
                raise VolumeNotFound(f"volume {volume_id} has no RBD image") from exc
            raise

    def snapshots(self, volume_id: str) -> list[str]:
        """The snapshot ids of a volume (RBD snapshots named ``snapshot-<id>``)."""
        self._require(volume_id)
        return [s.name[len("snapshot-"):] for s in self.rbd.snap_list(self.pool, volume_name(volume_id))
                if s.name.startswith("snapshot-")]

    # -- create ----------------------------------------------------------------------------
    def create_empty(self, volume_id: str, size_gb: int) -> None:
        check_size(size_gb)
        self._absent(volume_id)
        self.rbd.create(self.pool, volume_name(volume_id), size_gb * GiB, features=["layering"],
                        timeout=self.timeout)

    def create_from_image(self, volume_id: str, source: ImageSource, size_gb: int) -> None:
        check_size(size_gb)
        self._absent(volume_id)
        self.rbd.clone(source.pool, source.rbd_name, source.snap, self.pool, volume_name(volume_id))
        self._grow_new(volume_id, size_gb)

    def create_from_snapshot(self, volume_id: str, source_volume_id: str, snapshot_id: str, size_gb: int) -> None:
        check_size(size_gb)
        self._absent(volume_id)
        self._require_snapshot(source_volume_id, snapshot_id)
        self.rbd.clone(self.pool, volume_name(source_volume_id), snapshot_name(snapshot_id), self.pool,
                       volume_name(volume_id))
        self._grow_new(volume_id, size_gb)

    def create_from_volume(self, volume_id: str, source_volume_id: str, size_gb: int) -> None:
        """A full copy (clone + flatten through a temporary snapshot of the source)."""
        check_size(size_gb)
        self._absent(volume_id)
        self._require(source_volume_id)
        self._copy(self.pool, volume_name(source_volume_id), self.pool, volume_name(volume_id),
                   f"clone-{volume_id[:8]}", size_gb)
        self._grow_new(volume_id, size_gb)

    def _grow_new(self, volume_id: str, size_gb: int) -> None:
        """Grow a volume just made to ``size_gb``; removes it if that fails or it would shrink."""
        try:
            current = self.size_bytes(volume_id)
            if size_gb * GiB < current:
                raise InvalidSize(f"the requested size ({size_gb} GiB) is smaller than the source "
                                  f"({-(-current // GiB)} GiB)")
            if size_gb * GiB > current:
                self._resize(volume_id, size_gb)
        except BaseException:
            self._remove_image(self.pool, volume_name(volume_id))
            raise

    # -- change ----------------------------------------------------------------------------
    def extend(self, volume_id: str, new_size_gb: int) -> None:
        check_size(new_size_gb)
        current = self.size_bytes(volume_id)
        if new_size_gb * GiB <= current:
            raise InvalidSize(f"a volume only grows: {new_size_gb} GiB is not more than its "
                              f"{-(-current // GiB)} GiB")
        self._resize(volume_id, new_size_gb)

    def _resize(self, volume_id: str, size_gb: int) -> None:
        self.rbd.run("resize", "--no-progress", "--size", f"{size_gb * GiB}B",
                     f"{self.pool}/{volume_name(volume_id)}", timeout=self.timeout)

    # -- delete ----------------------------------------------------------------------------
    def delete_volume(self, volume_id: str) -> None:
        """Remove a volume; gone already is fine; refused while it has snapshots."""
        name = volume_name(volume_id)
        if not self.rbd.exists(self.pool, name):
            return
        snaps = self.rbd.snap_list(self.pool, name)
        if snaps:
            raise VolumeHasSnapshots(f"volume {volume_id} has {len(snaps)} snapshot(s): delete them first")
        self._remove_image(self.pool, name)

    def _remove_image(self, pool: str, name: str) -> None:
        try:
            self.rbd.remove(pool, name, timeout=self.timeout)
        except CommandError as exc:
            if not _missing(exc):
                raise

    # -- snapshots -------------------------------------------------------------------------
    def create_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._require(volume_id)
        name, snap = volume_name(volume_id), snapshot_name(snapshot_id)
        self.rbd.snap_create(self.pool, name, snap)
        try:
            self.rbd.snap_protect(self.pool, name, snap)
        except BaseException:
            self.rbd.snap_remove(self.pool, name, snap)
            raise

    def delete_snapshot(self, volume_id: str, snapshot_id: str) -> list[str]:
        """Remove a snapshot (gone already is fine); clones of it are flattened
        first. Returns the ``pool/image`` names flattened."""
        name, snap = volume_name(volume_id), snapshot_name(snapshot_id)
        if not self.rbd.exists(self.pool, name):
            return []
        found = {s.name: s for s in self.rbd.snap_list(self.pool, name)}
        if snap not in found:
            return []
        flattened = []
        if found[snap].protected:
            for child in self.rbd.children(self.pool, name, snap):
                self.rbd.flatten(child.pool, child.image, timeout=copy_timeout(self._gib(child.pool, child.image)))
                flattened.append(f"{child.pool}/{child.image}")
            self.rbd.snap_unprotect(self.pool, name, snap)
        self.rbd.snap_remove(self.pool, name, snap)
        return flattened

    # -- images ----------------------------------------------------------------------------
    def copy_to_image(self, volume_id: str, image_rbd_name: str, *, pool: str = IMAGES_POOL) -> int:
        """Copy a volume into ``pool/image_rbd_name`` with a protected snapshot
        ``snap`` (what the compute library clones). Returns the image's size in bytes."""
        self._require(volume_id)
        size_gb = self._gib(self.pool, volume_name(volume_id))
        self._copy(self.pool, volume_name(volume_id), pool, image_rbd_name, f"to-image-{volume_id[:8]}", size_gb)
        try:
            self.rbd.snap_create(pool, image_rbd_name, IMAGE_SNAP)
            self.rbd.snap_protect(pool, image_rbd_name, IMAGE_SNAP)
            return self.rbd.info(pool, image_rbd_name).size
        except BaseException:
            try:
                self.rbd.snap_unprotect(pool, image_rbd_name, IMAGE_SNAP)
            except Exception:
                pass
            try:
                self.rbd.snap_purge(pool, image_rbd_name, timeout=self.timeout)
            except Exception:
                pass
            self._remove_image(pool, image_rbd_name)
            raise

    def convert_to_image(self, volume_id: str, image_rbd_name: str, work_dir: Path, *, disk_format: str = "qcow2",
                         pool: str = IMAGES_POOL) -> int:
        """Copy a volume into ``pool/image_rbd_name`` in ``disk_format`` (qemu-img's
        output format), with a protected snapshot ``snap``. Returns the image's size in bytes."""
        self._require(volume_id)
        name = volume_name(volume_id)
        size_gb = self._gib(self.pool, name)
        tmp_snap = f"convert-{volume_id[:8]}"
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        out = work_dir / f"{image_rbd_name}.{uuid.uuid4().hex[:8]}.{disk_format}"
        user = (getattr(self.rbd, "name", None) or "client.admin").removeprefix("client.")
        source = f"rbd:{self.pool}/{name}@{tmp_snap}:id={user}"
        if getattr(self.rbd, "conf", None):
            source += f":conf={self.rbd.conf}"
        self.rbd.snap_create(self.pool, name, tmp_snap)
        try:
            self.runner.run(["qemu-img", "convert", "-f", "raw", "-O", disk_format, source, str(out)],
                            timeout=copy_timeout(size_gb))
            self.rbd.import_file(str(out), pool, image_rbd_name, timeout=copy_timeout(size_gb))
        except BaseException:
            self.remove_image(image_rbd_name, pool=pool)
            raise
        finally:
            out.unlink(missing_ok=True)
            self.rbd.snap_remove(self.pool, name, tmp_snap)
        try:
            self.rbd.snap_create(pool, image_rbd_name, IMAGE_SNAP)
            self.rbd.snap_protect(pool, image_rbd_name, IMAGE_SNAP)
            return self.rbd.info(pool, image_rbd_name).size
        except BaseException:
            self.remove_image(image_rbd_name, pool=pool)
            raise

    def remove_image(self, image_rbd_name: str, *, pool: str = IMAGES_POOL) -> None:
        """Undo :meth:`copy_to_image` (gone already is fine)."""
        if not self.rbd.exists(pool, image_rbd_name):
            return
        for snap in self.rbd.snap_list(pool, image_rbd_name):
            if snap.protected:
                self.rbd.snap_unprotect(pool, image_rbd_name, snap.name)
        self.rbd.snap_purge(pool, image_rbd_name, timeout=self.timeout)
        self._remove_image(pool, image_rbd_name)

    # -- helpers ---------------------------------------------------------------------------
    def _copy(self, src_pool: str, src: str, dst_pool: str, dst: str, tmp_snap: str, size_gb: int) -> None:
        """Full copy of ``src`` to ``dst``: snapshot, clone, flatten; the snapshot goes whatever happens."""
        self.rbd.snap_create(src_pool, src, tmp_snap)
        try:
            self.rbd.snap_protect(src_pool, src, tmp_snap)
            try:
                self.rbd.clone(src_pool, src, tmp_snap, dst_pool, dst)
                self.rbd.flatten(dst_pool, dst, timeout=copy_timeout(size_gb))
            except BaseException:
                self._remove_image(dst_pool, dst)
                raise
            finally:
                self.rbd.snap_unprotect(src_pool, src, tmp_snap)
        finally:
            self.rbd.snap_remove(src_pool, src, tmp_snap)

    def _gib(self, pool: str, name: str) -> int:
        return -(-self.rbd.info(pool, name).size // GiB)

    def _require(self, volume_id: str) -> None:
        if not self.rbd.exists(self.pool, volume_name(volume_id)):
            raise VolumeNotFound(f"volume {volume_id} has no RBD image {self.pool}/{volume_name(volume_id)}")

    def _absent(self, volume_id: str) -> None:
        if self.rbd.exists(self.pool, volume_name(volume_id)):
            raise VolumeExists(f"RBD image {self.pool}/{volume_name(volume_id)} exists already")

    def _require_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._require(volume_id)
        names = {s.name for s in self.rbd.snap_list(self.pool, volume_name(volume_id))}
        if snapshot_name(snapshot_id) not in names:
            raise SnapshotNotFound(f"snapshot {snapshot_id} of volume {volume_id} does not exist in RBD")
