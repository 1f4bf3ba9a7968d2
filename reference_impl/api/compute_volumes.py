"""Nova's side of block storage: volume attachments and boot from volume,
over the Cinder records (:mod:`.volume_store`) and the compute library.

* attach: the volume (the caller's, ``available``) is reserved (attaching),
  hot-plugged into the server's QEMU by the compute library
  (``attach_volume``), then recorded in Cinder as an attachment (server id,
  host, device ``/dev/vdX``: the name the guest's kernel gives it, the
  lowest free after vda (root) and vdb (config drive)) and ``in-use``; a failure puts it back to
  ``available``;
* detach: 202 at once, the volume ``detaching``; a worker unplugs it and
  it becomes ``available`` (``in-use`` again if the unplug fails);
* boot from volume (``block_device_mapping_v2`` with boot_index 0 and
  destination ``volume``): from an existing bootable volume, or from an image
  (a new volume of ``volume_size`` GiB cloned from the image on the build
  worker); the volume's RBD image is the server's root disk, which the
  server does not own, booted with the kernel of the image the volume came
  from; it is attached as ``/dev/vda``;
* server delete: its volumes are detached in Cinder (the QEMU is gone) and
  those marked ``delete_on_termination`` are deleted.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from typing import Any

from . import errors as E
from .compute_base import library_errors, mv
from .db import is_uuid
from .routing import ApiRequest
from .volume_actions import attach_record, detach_record, kernel_image_id
from .volume_store import runtime as cinder_runtime
from .volume_volumes import build_volume, finish_delete, image_metadata, source_image

log = logging.getLogger("octoprobe.api.compute")

ROOT_DEVICE = "/dev/vda"
CONFIG_DRIVE_DEVICE = "/dev/vdb"  # every server's config drive is its second virtio disk
ATTACHABLE = ("ACTIVE", "SHUTOFF", "PAUSED")


# -- views ----------------------------------------------------------------------------------------
def server_volumes(backend: Any, server_id: str) -> list[dict]:
    """Cinder's attachments of a server, oldest first: {volume_id, device, delete_on_termination, …}."""
    found = []
    for row in cinder_runtime(backend).store.attached_to(server_id):
        for a in row["attachments"]:
            if a.get("server_id") == server_id:
                found.append({**a, "volume_id": row["id"]})
    return sorted(found, key=lambda a: a.get("attached_at") or 0)


def volumes_attached(req: ApiRequest, server_id: str) -> list[dict]:
    """``os-extended-volumes:volumes_attached`` of a server view."""
    return [({"id": a["volume_id"], "delete_on_termination": bool(a.get("delete_on_termination"))}
             if mv(req, "2.3") else {"id": a["volume_id"]}) for a in server_volumes(req.backend, server_id)]


def attachment_doc(req: ApiRequest, server_id: str, a: dict) -> dict:
    doc = {"id": a["volume_id"], "serverId": server_id, "volumeId": a["volume_id"], "device": a.get("device")}
    if mv(req, "2.70"):
        doc["tag"] = None
    if mv(req, "2.79"):
        doc["delete_on_termination"] = bool(a.get("delete_on_termination"))
    if mv(req, "2.89"):
        del doc["id"]
        doc["attachment_id"] = a.get("attachment_id")
        doc["bdm_uuid"] = a.get("attachment_id")
    return doc


def _next_device(taken: list[str | None]) -> str:
    used = {d for d in taken if d}
    for letter in string.ascii_lowercase[1:]:
        device = f"/dev/vd{letter}"
        if device not in used:
            return device
    raise E.BadRequest("The server has no free device name for another volume")


# -- attach / detach ------------------------------------------------------------------------------
def _volume_for(req: ApiRequest, volume_id: Any) -> dict:
    if not is_uuid(volume_id):
        raise E.BadRequest(f"Invalid input for field/attribute volumeId: {volume_id!r} is not a UUID")
    row = cinder_runtime(req.backend).store.volume(volume_id)
    if row is None or not req.context.owns(row["project_id"]):
        raise E.NotFound(f"Volume {volume_id} could not be found.")
    return row


def attach(req: ApiRequest, server_id: str, host: str | None, status: str, body: Any) -> dict:
    """Attach a volume to a server whose status is ``status``; returns the attachment document."""
    from ..block.volumes import VOLUMES_POOL, volume_name
    va = body.get("volumeAttachment") if isinstance(body, dict) else None
    if not isinstance(va, dict) or "volumeId" not in va:
        raise E.BadRequest("Invalid input for field/attribute volumeAttachment: 'volumeId' is a required property")
    unknown = set(va) - {"volumeId", "device", "tag", "delete_on_termination"}
    if unknown:
        raise E.BadRequest(f"Invalid input for field/attribute volumeAttachment: Additional properties are not "
                           f"allowed ({', '.join(sorted(unknown))})")
    if va.get("device") is not None and not isinstance(va["device"], str):
        raise E.BadRequest("Invalid input for field/attribute device: it must be a string")
    dot = va.get("delete_on_termination", False)
    if "delete_on_termination" in va and (not mv(req, "2.79") or not isinstance(dot, bool)):
        raise E.BadRequest("Invalid input for field/attribute delete_on_termination: a boolean, since 2.79")
    volume = _volume_for(req, va["volumeId"])
    if status not in ATTACHABLE:
        raise E.Conflict(f"Cannot 'attach_volume' instance {server_id} while it is in vm_state {status.lower()}")
    store = cinder_runtime(req.backend).store
    if any(a.get("server_id") == server_id for a in volume["attachments"]):
        raise E.BadRequest(f"Invalid volume: volume {volume['id']} is attached to instance {server_id} already")
    before = store.set_volume_status_if(volume["id"], ("available",), "attaching")
    if before != "available":
        raise E.BadRequest(f"Invalid volume: volume {volume['id']} status must be 'available' (it is {before})")
    try:
        device = _next_device([a.get("device") for a in server_volumes(req.backend, server_id)]
                              + [ROOT_DEVICE, CONFIG_DRIVE_DEVICE])
        with library_errors():
            req.backend.compute().attach_volume(server_id, volume_name(volume["id"]), pool=VOLUMES_POOL,
                                                volume_id=volume["id"])
    except BaseException:
        store.set_volume_status_if(volume["id"], ("attaching",), "available")
        raise
    attachment = attach_record(store, volume["id"], server_id, host_name=host, device=device, allowed=("attaching",),
                               extra={"delete_on_termination": bool(dot)})
    return attachment_doc(req, server_id, {**attachment, "volume_id": volume["id"]})


def find_attachment(req: ApiRequest, server_id: str, volume_id: str) -> dict:
    found = next((a for a in server_volumes(req.backend, server_id) if a["volume_id"] == volume_id), None)
    if found is None:
        raise E.NotFound(f"Volume {volume_id} is not attached to instance {server_id}.")
    return found


def detach(req: ApiRequest, server_id: str, volume_id: str, root_volume_id: str | None) -> None:
    """Start unplugging a volume (202): detaching now, available when the guest let it go."""
    attachment = find_attachment(req, server_id, volume_id)
    if volume_id == root_volume_id or attachment.get("device") == ROOT_DEVICE:
        raise E.BadRequest(f"Cannot detach a root device volume ({volume_id})")
    rt = cinder_runtime(req.backend)
    if rt.store.set_volume_status_if(volume_id, ("in-use",), "detaching") != "in-use":
        raise E.BadRequest(f"Invalid volume: volume {volume_id} is busy (not in-use)")
    rt.submit(_finish_detach, req.backend, server_id, volume_id)


def _finish_detach(backend: Any, server_id: str, volume_id: str) -> None:
    from ..compute import errors as CE
    store = cinder_runtime(backend).store
    try:
        backend.compute().detach_volume(server_id, volume_id)
    except (CE.VolumeNotFound, CE.ServerNotFound):
        pass  # not plugged in (any more): only the record is left
    except Exception:
        log.exception("detaching volume %s from server %s failed", volume_id, server_id)
        store.set_volume_status_if(volume_id, ("detaching",), "in-use")
        return
    detach_record(store, volume_id, server_id=server_id)


def update_attachment(req: ApiRequest, server_id: str, volume_id: str, body: Any) -> None:
    """``PUT``: only ``delete_on_termination`` (2.85); swapping volumes is not supported."""
    va = body.get("volumeAttachment") if isinstance(body, dict) else None
    if not isinstance(va, dict) or va.get("volumeId") is None:
        raise E.BadRequest("Invalid input for field/attribute volumeAttachment: 'volumeId' is a required property")
    attachment = find_attachment(req, server_id, volume_id)
    if va["volumeId"] != volume_id:
        raise E.BadRequest("Swapping the volume of an attachment is not supported by the reference cloud")
    if "delete_on_termination" not in va or not mv(req, "2.85"):
        raise E.BadRequest("Only delete_on_termination may be updated, since microversion 2.85")
    if not isinstance(va["delete_on_termination"], bool):
        raise E.BadRequest("Invalid input for field/attribute delete_on_termination: a boolean is required")
    store = cinder_runtime(req.backend).store
    row = store.volume(volume_id)
    attachments = [({**a, "delete_on_termination": va["delete_on_termination"]}
                    if a.get("attachment_id") == attachment.get("attachment_id") else a) for a in row["attachments"]]
    store.update_volume(volume_id, attachments=attachments)


def release_server_volumes(backend: Any, server_id: str) -> None:
    """After a server is gone: its volumes are detached; those to delete on termination are deleted."""
    rt = cinder_runtime(backend)
    for a in server_volumes(backend, server_id):
        try:
            detach_record(rt.store, a["volume_id"], server_id=server_id)
            if a.get("delete_on_termination"):
                row = rt.store.volume(a["volume_id"])
                snaps = rt.store.snapshots(volume_id=a["volume_id"])
                if row is not None and not row["attachments"] and not snaps:
                    rt.store.update_volume(a["volume_id"], status="deleting")
                    rt.submit(finish_delete, rt, a["volume_id"], [])
        except Exception:  # the server is gone whatever happens to the record of one volume
            log.exception("releasing volume %s of deleted server %s failed", a["volume_id"], server_id)


# -- boot from volume -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BootVolume:
    """What the build worker needs to boot from a volume."""

    volume_id: str
    kernel_image_id: str
    delete_on_termination: bool
    create: tuple | None = None  # the RBD work of a volume made for this boot (see volume_volumes.build_volume)
    size: int = 0


def _bdm_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise E.BadRequest("Invalid input for field/attribute delete_on_termination: a boolean is required")


def parse_bdms(s: dict) -> tuple[str | None, dict | None]:
    """The server's ``block_device_mapping_v2``: (image of a local root disk, None) or
    (None, the boot-from-volume mapping). Only a boot mapping is understood."""
    if s.get("block_device_mapping"):
        raise E.BadRequest("Block device mappings (v1) are not supported: use block_device_mapping_v2")
    bdms = s.get("block_device_mapping_v2") or []
    image = volume = None
    for bdm in bdms:
        if not isinstance(bdm, dict):
            raise E.BadRequest("Invalid input for field/attribute block_device_mapping_v2: objects are required")
        source = bdm.get("source_type")
        destination = bdm.get("destination_type", "local" if source == "image" else "volume")
        boot = str(bdm.get("boot_index", "")) == "0"
        if not boot:
            raise E.BadRequest("Only the boot device (boot_index 0) may be given in block_device_mapping_v2: "
                               "attach more volumes after the server is built")
        if image is not None or volume is not None:
            raise E.BadRequest("Invalid input for block_device_mapping_v2: more than one boot device")
        if not isinstance(bdm.get("uuid"), str):
            raise E.BadRequest("Invalid input for block_device_mapping_v2: 'uuid' of the source is required")
        if source == "image" and destination == "local":
            image = bdm["uuid"]
        elif source in ("image", "volume") and destination == "volume":
            volume = bdm
        else:
            raise E.BadRequest(f"Block device mapping from {source} to {destination} is not supported by the "
                               "reference cloud (image→local, image→volume and volume→volume are)")
    return image, volume


def plan_boot_volume(req: ApiRequest, bdm: dict, flavor: Any) -> tuple[BootVolume, str | None]:
    """Check a boot-from-volume mapping and claim its volume (reserved, or a
    new row ``creating``). Returns the plan and the image id Nova shows ("" for a volume)."""
    from .db import new_id
    from .volume_base import AVAILABILITY_ZONE, whole
    from .volume_quotas import check as check_quota
    from .volume_types import TYPES
    ctx = req.context
    rt = cinder_runtime(req.backend)
    compute = req.backend.compute()
    dot = _bdm_bool(bdm.get("delete_on_termination", False))
    if bdm.get("source_type") == "volume":
        volume = _volume_for(req, bdm["uuid"])
        if not volume["bootable"]:
            raise E.BadRequest(f"Block Device {volume['id']} is not bootable.")
        if flavor.ram_mb < 64:
            raise E.BadRequest("Flavor's memory is too small for requested image.")
        kernel = kernel_image_id(compute, volume["image_id"])
        if rt.store.set_volume_status_if(volume["id"], ("available",), "attaching") != "available":
            raise E.BadRequest(f"Invalid volume: volume {volume['id']} status must be 'available' "
                               f"(it is {volume['status']})")
        return BootVolume(volume["id"], kernel, dot), None
    image, compute_image = source_image(req, bdm["uuid"])
    if bdm.get("volume_size") in (None, "", 0, "0"):
        raise E.BadRequest("Images with destination_type 'volume' need to have a non-zero size specified")
    size = whole(bdm["volume_size"], "volume_size")
    least = max(int(image.get("min_disk") or 0), -(-int(compute_image.size_bytes) // (1 << 30)), 1)
    if size < least:
        raise E.BadRequest(f"Volume is smaller than the minimum size specified in image metadata. Volume size is "
                           f"{size << 30} bytes, minimum size is {least << 30} bytes.")
    if flavor.ram_mb < compute_image.min_ram_mb:
        raise E.BadRequest("Flavor's memory is too small for requested image.")
    vid = new_id()
    with rt.lock:
        with library_errors():
            check_quota(rt.store, ctx.project_id, volumes=1, gigabytes=size, volume_size=size)
        rt.store.insert_volume({"id": vid, "project_id": ctx.project_id, "user_id": ctx.user_id, "name": "",
                                "description": None, "size": size, "status": "creating", "bootable": 1,
                                "volume_type": TYPES[0].name, "availability_zone": AVAILABILITY_ZONE,
                                "image_id": image["id"], "image_metadata": image_metadata(image), "metadata": {}})
    work = ("image", compute_image.pool, compute_image.rbd_name, compute_image.snap)
    return BootVolume(vid, compute_image.id, dot, create=work, size=size), image["id"]


def prepare_boot_volume(backend: Any, server_id: str, host_hint: str | None, plan: BootVolume) -> Any:
    """On the build worker: make the volume if the plan says so, record it
    attached as the root device; returns the compute library's RootVolume."""
    from ..block.volumes import VOLUMES_POOL, volume_name
    from ..compute.model import RootVolume
    rt = cinder_runtime(backend)
    if plan.create is not None:
        if not build_volume(rt, plan.volume_id, plan.size, plan.create):
            row = rt.store.volume(plan.volume_id)
            raise E.ApiError(f"Build of instance {server_id} aborted: Volume {plan.volume_id} did not finish "
                             f"being created: {(row or {}).get('error')}", status=500)
        allowed: tuple[str, ...] = ("available",)
    else:
        allowed = ("attaching",)
    attach_record(rt.store, plan.volume_id, server_id, host_name=host_hint, device=ROOT_DEVICE, allowed=allowed,
                  extra={"delete_on_termination": plan.delete_on_termination})
    return RootVolume(plan.volume_id, VOLUMES_POOL, volume_name(plan.volume_id))


def boot_failed(backend: Any, server_id: str, plan: BootVolume) -> None:
    """A build from volume failed: the volume is released (and deleted if it
    was made for this server and is to go with it)."""
    rt = cinder_runtime(backend)
    detach_record(rt.store, plan.volume_id, server_id=server_id)
    rt.store.set_volume_status_if(plan.volume_id, ("attaching",), "available")
    if plan.create is not None and plan.delete_on_termination:
        row = rt.store.volume(plan.volume_id)
        if row is not None and row["status"] in ("available", "error"):
            rt.store.update_volume(plan.volume_id, status="deleting")
            rt.submit(finish_delete, rt, plan.volume_id, [])


def set_host(backend: Any, server_id: str, volume_id: str, host: str) -> None:
    """The root volume's attachment learns the host once the server is placed."""
    store = cinder_runtime(backend).store
    row = store.volume(volume_id)
    if row is None:
        return
    store.update_volume(volume_id, attachments=[({**a, "host_name": host} if a.get("server_id") == server_id else a)
                                                for a in row["attachments"]])
