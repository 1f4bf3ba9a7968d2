"""Image bytes for Glance: into RBD on upload, out of RBD on download.

An uploaded image becomes the RBD image ``images/<image id>`` (the name real
Glance's RBD store uses) with a protected snapshot ``snap``, and is
registered in the compute library's store under the same id, so Nova boots
servers from it as a copy-on-write clone of that snapshot.

Upload (:meth:`ImageData.store`): the request body (already spooled by the
router) is copied to a work file under ``<state>/api/uploads/`` while its
size, MD5 and SHA-512 are computed; the work file is imported with
``rbd import`` into ``images/<id>.importing``, renamed when complete (so a
half-imported image is never seen under the final name), snapshotted and
protected. Work files are removed whatever happens.

Formats:

* ``raw``, ``iso`` and every other format except qcow2 are stored as they
  are (only raw and iso make sense to boot from RBD); data declared raw whose
  header is a qcow2 header is refused (400) — booting it as raw would expose
  its backing-file reference;
* ``qcow2`` is converted once to raw with ``qemu-img convert`` (qemu-utils)
  and the image's ``disk_format`` becomes ``raw``, as Glance's
  image-conversion import plugin does; size and checksums are those of the
  stored raw data, so a download verifies. A qcow2 image with a backing file
  or an external data file is refused (400). Without ``qemu-img`` on the API
  host a qcow2 upload is refused with a 400 that says so.

Download (:meth:`ImageData.export`): ``rbd export images/<id>@snap -`` is
streamed chunk by chunk; the snapshot is immutable, so a download is
consistent even while the image is being deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import errors as E

log = logging.getLogger("octoprobe.api.image")

IMAGES_POOL = "images"
IMAGE_SNAP = "snap"  # the compute library's snapshot name (compute.hypervisor.IMAGE_SNAP)
CHUNK = 1 << 20
RBD_TIMEOUT = 600.0
QEMU_IMG_TIMEOUT = 600.0
QCOW2_MAGIC = b"QFI\xfb"


class Hashes:
    """Size, MD5 (Glance's ``checksum``) and SHA-512 (``os_hash_value``) of a stream."""

    def __init__(self) -> None:
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.md5.update(chunk)
        self.sha512.update(chunk)


@dataclass(frozen=True)
class StoredData:
    pool: str
    rbd_name: str
    size: int
    virtual_size: int
    checksum: str
    os_hash_value: str
    disk_format: str  # as stored ("raw" after a qcow2 conversion)
    registered: bool  # in the compute store (bootable)


def qemu_img() -> str | None:
    return shutil.which("qemu-img")


def _hash_file(path: Path) -> Hashes:
    hashes = Hashes()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            hashes.update(chunk)
    return hashes


class ImageData:
    """Image data of one cloud, in RBD through the compute library's
    :class:`~octoprobe.ceph.RbdClient` (``compute.rbd``)."""

    def __init__(self, compute: Any, work_dir: Path):
        self.compute = compute
        self.rbd = compute.rbd
        self.work_dir = Path(work_dir)

    # -- upload ----------------------------------------------------------------------------
    def store(self, image_id: str, name: str | None, source: Any, *, disk_format: str,
              expected_size: int | None = None, min_ram_mb: int = 64) -> StoredData:
        """Store the bytes of ``source`` (a file object at its start) as image ``image_id``."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        upload = self.work_dir / f"{image_id}.{token}.upload"
        converted = self.work_dir / f"{image_id}.{token}.raw"
        try:
            hashes = Hashes()
            with open(upload, "wb") as out:
                while chunk := source.read(CHUNK):
                    hashes.update(chunk)
                    out.write(chunk)
            if expected_size is not None and expected_size != hashes.size:
                raise E.BadRequest(f"The image data is {hashes.size} bytes, but the request said "
                                   f"{expected_size} (X-OpenStack-Image-Size)")
            with open(upload, "rb") as handle:
                head = handle.read(4)
            stored_format = disk_format
            data_path = upload
            virtual_size = hashes.size
            if disk_format == "qcow2":
                if head != QCOW2_MAGIC:
                    raise E.BadRequest("The image data is not qcow2 (no qcow2 header), but disk_format is "
                                       "qcow2: upload the right file or set the right disk_format")
                virtual_size = self._convert_qcow2(upload, converted)
                upload.unlink()
                data_path = converted
                hashes = _hash_file(converted)
                stored_format = "raw"
            elif head == QCOW2_MAGIC and disk_format in ("raw", "iso"):
                raise E.BadRequest(f"The image data is a qcow2 image, but disk_format is {disk_format}: "
                                   "set disk_format qcow2 (it is converted to raw)")
            if hashes.size == 0:
                return StoredData(IMAGES_POOL, "", 0, 0, hashes.md5.hexdigest(), hashes.sha512.hexdigest(),
                                  stored_format, registered=False)
            rbd_name = image_id
            registered = self._import(data_path, rbd_name, name or image_id, image_id, min_ram_mb)
            return StoredData(IMAGES_POOL, rbd_name, hashes.size, virtual_size, hashes.md5.hexdigest(),
                              hashes.sha512.hexdigest(), stored_format, registered)
        finally:
            for path in (upload, converted):
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass

    def _convert_qcow2(self, src: Path, dst: Path) -> int:
        tool = qemu_img()
        if tool is None:
            raise E.BadRequest("qcow2 images need qemu-img (package qemu-utils) on the API host to be "
                               "converted to raw, and it is not installed: upload a raw image instead")
        info = subprocess.run([tool, "info", "--output=json", "-f", "qcow2", str(src)], capture_output=True,
                              text=True, timeout=QEMU_IMG_TIMEOUT, stdin=subprocess.DEVNULL)
        if info.returncode != 0:
            raise E.BadRequest(f"The image data is not a valid qcow2 image: {info.stderr.strip()[-300:]}")
        try:
            doc = json.loads(info.stdout)
        except ValueError:
            raise E.BadRequest("The image data is not a valid qcow2 image (qemu-img info failed)") from None
        if doc.get("backing-filename") or doc.get("full-backing-filename"):
            raise E.BadRequest("qcow2 images with a backing file are refused")
        specific = (doc.get("format-specific") or {}).get("data") or {}
        if specific.get("data-file"):
            raise E.BadRequest("qcow2 images with an external data file are refused")
        conv = subprocess.run([tool, "convert", "-f", "qcow2", "-O", "raw", str(src), str(dst)],
                              capture_output=True, text=True, timeout=QEMU_IMG_TIMEOUT,
                              stdin=subprocess.DEVNULL)
        if conv.returncode != 0:
            raise E.BadRequest(f"The qcow2 image could not be converted to raw: {conv.stderr.strip()[-300:]}")
        return int(doc.get("virtual-size") or dst.stat().st_size)

    def _import(self, path: Path, rbd_name: str, name: str, image_id: str, min_ram_mb: int) -> bool:
        tmp = f"{rbd_name}.importing"
        try:
            if self.rbd.exists(IMAGES_POOL, tmp):
                self.compute._remove_rbd(IMAGES_POOL, tmp)
            self.rbd.import_file(str(path), IMAGES_POOL, tmp, timeout=RBD_TIMEOUT)
            self.rbd.run("rename", f"{IMAGES_POOL}/{tmp}", f"{IMAGES_POOL}/{rbd_name}")
            self.rbd.snap_create(IMAGES_POOL, rbd_name, IMAGE_SNAP)
            self.rbd.snap_protect(IMAGES_POOL, rbd_name, IMAGE_SNAP)
        except E.ApiError:
            raise
        except Exception as exc:
            log.exception("importing image %s into RBD failed", image_id)
            self._cleanup(tmp)
            self._cleanup(rbd_name)
            raise E.ServiceUnavailable(f"The image data could not be stored in RBD: {exc}") from None
        kernel_from = self.kernel_source()
        if kernel_from is None:
            log.warning("image %s: no guest image in the compute store; not registered (not bootable)",
                        image_id)
            return False
        try:
            self.compute.register_rbd_image(name, IMAGES_POOL, rbd_name, kernel_from=kernel_from,
                                            image_id=image_id, min_ram_mb=min_ram_mb)
        except Exception as exc:
            log.exception("registering image %s with the compute store failed", image_id)
            self._cleanup(rbd_name)
            raise E.ServiceUnavailable(f"The image could not be registered with compute: {exc}") from None
        return True

    def kernel_source(self) -> str | None:
        """The compute image whose kernel and initramfs uploaded images boot
        with: the newest guest build (else any image)."""
        images = list(self.compute.list_images())
        guests = [i for i in images if str(getattr(i, "source", "")).startswith("guest-build")]
        pool = guests or images
        if not pool:
            return None
        return max(pool, key=lambda i: getattr(i, "created_at", 0.0)).id

    # -- delete ----------------------------------------------------------------------------
    def delete(self, image_id: str, pool: str | None, rbd_name: str | None) -> None:
        """Remove the image from the compute store and RBD; 409 while a
        server's clone uses it."""
        from ..compute import errors as CE
        try:
            self.compute.get_image(image_id)
            registered = True
        except CE.NotFound:
            registered = False
        if registered:
            try:
                self.compute.delete_image(image_id)
            except CE.Conflict as exc:
                raise E.Conflict(f"Image {image_id} could not be deleted because it is in use: {exc}") \
                    from None
            except CE.NotFound:
                pass  # gone meanwhile
            except Exception as exc:
                log.exception("deleting image %s from the compute store and RBD failed", image_id)
                raise E.ServiceUnavailable(f"The data of image {image_id} could not be deleted: {exc}") from None
            return
        if pool and rbd_name:
            self._cleanup(rbd_name, pool=pool, strict=True)

    def _cleanup(self, rbd_name: str, *, pool: str = IMAGES_POOL, strict: bool = False) -> None:
        try:
            if not self.rbd.exists(pool, rbd_name):
                return
            snaps = self.rbd.snap_list(pool, rbd_name)
            has_snap = any(s.name == IMAGE_SNAP for s in snaps)
            if has_snap and self.rbd.children(pool, rbd_name, IMAGE_SNAP):
                raise E.Conflict(f"Image {rbd_name} is in use: RBD clones of {pool}/{rbd_name}@{IMAGE_SNAP} "
                                 "exist")
            for snap in snaps:
                if snap.protected:
                    self.rbd.snap_unprotect(pool, rbd_name, snap.name)
            if snaps:
                self.rbd.snap_purge(pool, rbd_name)
            self.compute._remove_rbd(pool, rbd_name)
        except E.ApiError:
            raise
        except Exception:
            log.exception("removing RBD image %s/%s failed", pool, rbd_name)
            if strict:
                raise

    # -- download ------------------------------------------------------------------------------
    def export(self, pool: str, rbd_name: str, snap: str | None = IMAGE_SNAP) -> Iterator[bytes]:
        """The bytes of ``pool/rbd_name@snap``, streamed from ``rbd export``.
        The generator kills ``rbd`` when it is closed early (a client that
        went away)."""
        return self.export_with(self.rbd, pool, rbd_name, snap)

    @staticmethod
    def export_with(rbd: Any, pool: str, rbd_name: str, snap: str | None = IMAGE_SNAP) -> Iterator[bytes]:
        spec = f"{pool}/{rbd_name}" + (f"@{snap}" if snap else "")
        argv = rbd.argv("export", "--no-progress", spec, "-")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        return _stream(proc, spec)


def _stream(proc: subprocess.Popen, spec: str) -> Iterator[bytes]:
    assert proc.stdout is not None
    finished = False
    try:
        while chunk := proc.stdout.read(CHUNK):
            yield chunk
        finished = True
    finally:
        if not finished and proc.poll() is None:
            proc.kill()
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if finished and proc.returncode != 0:
            # the status line is sent already; a short body is what the client sees
            log.error("rbd export %s failed (%s): %s", spec, proc.returncode,
                      (err or b"").decode(errors="replace").strip()[-300:])
