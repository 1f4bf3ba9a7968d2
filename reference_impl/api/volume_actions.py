"""``POST /volumes/{id}/action``: one handler per action (the body's one key).

Attachment bookkeeping (what Nova calls on real Cinder, and what Nova's
volume attachments here use through :func:`attach_record` and
:func:`detach_record`): ``os-reserve`` (available → attaching),
``os-unreserve``, ``os-attach`` (→ in-use with an attachment),
``os-begin_detaching`` (in-use → detaching), ``os-roll_detaching``,
``os-detach`` (→ available when no attachment is left),
``os-initialize_connection`` (the RBD connection info) and
``os-terminate_connection``. These only record: they do not plug anything
into a server (Nova's ``os-volume_attachments`` does).

The rest: ``os-extend`` (available only: 3.42's in-use extend is not
claimed), ``os-set_bootable``, ``os-update_readonly_flag``,
``os-volume_upload_image`` (a raw copy in RBD ``images/<image id>``,
registered in the compute store and in Glance, active when the response is
sent; or a qcow2 conversion, in Glance only: downloadable, not bootable),
image metadata (``os-set_image_metadata``, ``os-unset_image_metadata``,
``os-show_image_metadata``) and, for admins, ``os-reset_status`` and
``os-force_delete``.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from . import errors as E
from .routing import ApiRequest, Reply
from .volume_base import VOLUME_STATUSES, boolean, check_metadata, library_errors, route, stamp, text, whole
from .volume_quotas import check as check_quota
from .volume_store import CinderRuntime, CinderStore, runtime
from .volume_types import find_type, type_view
from .volume_volumes import find_volume, start_delete

IMAGES_POOL = "images"


# -- bookkeeping shared with Nova ---------------------------------------------------------------------
def attach_record(store: CinderStore, volume_id: str, server_id: str | None, *, host_name: str | None,
                  device: str | None, allowed: tuple[str, ...] = ("available", "attaching", "reserved"),
                  extra: dict | None = None) -> dict:
    """Record an attachment and move the volume to in-use; 400 when its status does not allow it."""
    row = store.volume(volume_id)
    if row is None:
        raise E.NotFound(f"Volume {volume_id} could not be found.")
    if server_id is not None and any(a.get("server_id") == server_id for a in row["attachments"]):
        raise E.BadRequest(f"Invalid volume: volume {volume_id} is attached to server {server_id} already")
    attachment = {"id": volume_id, "attachment_id": str(uuid.uuid4()), "volume_id": volume_id,
                  "server_id": server_id, "host_name": host_name, "device": device, "attached_at": time.time(),
                  **(extra or {})}
    before = store.set_volume_status_if(volume_id, allowed, "in-use",
                                        attachments=[*row["attachments"], attachment])
    if before not in allowed:
        raise E.BadRequest(f"Invalid volume: volume {volume_id} status must be {' or '.join(allowed)} to attach "
                           f"(it is {before})")
    return attachment


def detach_record(store: CinderStore, volume_id: str, *, attachment_id: str | None = None,
                  server_id: str | None = None) -> None:
    """Drop the attachment(s) (all, or the one named); available when none is left."""
    row = store.volume(volume_id)
    if row is None:
        return
    kept = [a for a in row["attachments"]
            if (attachment_id is not None and a.get("attachment_id") != attachment_id)
            or (server_id is not None and a.get("server_id") != server_id)]
    store.update_volume(volume_id, attachments=kept, status="in-use" if kept else "available")


def _move(req: ApiRequest, row: dict, allowed: tuple[str, ...], status: str, verb: str) -> None:
    before = runtime(req.backend).store.set_volume_status_if(row["id"], allowed, status)
    if before not in allowed:
        raise E.BadRequest(f"Invalid volume: volume status must be {' or '.join(allowed)} to {verb} "
                           f"(it is {before})")


# -- actions --------------------------------------------------------------------------------------
def _reserve(req: ApiRequest, row: dict, body: Any) -> Reply:
    _move(req, row, ("available",), "attaching", "reserve")
    return Reply(None, status=202)


def _unreserve(req: ApiRequest, row: dict, body: Any) -> Reply:
    _move(req, row, ("attaching", "reserved"), "available" if not row["attachments"] else "in-use", "unreserve")
    return Reply(None, status=202)


def _begin_detaching(req: ApiRequest, row: dict, body: Any) -> Reply:
    _move(req, row, ("in-use",), "detaching", "begin detaching")
    return Reply(None, status=202)


def _roll_detaching(req: ApiRequest, row: dict, body: Any) -> Reply:
    if row["status"] == "detaching":
        _move(req, row, ("detaching",), "in-use" if row["attachments"] else "available", "roll detaching")
    return Reply(None, status=202)


def _attach(req: ApiRequest, row: dict, body: Any) -> Reply:
    body = body if isinstance(body, dict) else {}
    server = body.get("instance_uuid")
    host = body.get("host_name")
    if server is None and host is None:
        raise E.BadRequest("Invalid request to attach volume to an invalid target: instance_uuid or host_name "
                           "is required")
    mountpoint = text(body.get("mountpoint"), "mountpoint")
    mode = body.get("mode", "rw")
    if mode not in ("rw", "ro"):
        raise E.BadRequest("Invalid request to attach volume with an invalid mode: must be 'rw' or 'ro'")
    if row.get("readonly") and mode == "rw":
        raise E.BadRequest("Invalid volume: the volume is read-only, attach it with mode 'ro'")
    attach_record(runtime(req.backend).store, row["id"], server, host_name=host, device=mountpoint)
    return Reply(None, status=202)


def _detach(req: ApiRequest, row: dict, body: Any) -> Reply:
    body = body if isinstance(body, dict) else {}
    if row["status"] not in ("in-use", "detaching"):
        raise E.BadRequest(f"Invalid volume: volume {row['id']} is not attached (it is {row['status']})")
    attachment_id = body.get("attachment_id")
    if attachment_id is not None and not any(a.get("attachment_id") == attachment_id for a in row["attachments"]):
        raise E.NotFound(f"Volume attachment {attachment_id} could not be found.")
    detach_record(runtime(req.backend).store, row["id"], attachment_id=attachment_id)
    return Reply(None, status=202)


def connection_info(row: dict) -> dict:
    from ..block.volumes import VOLUMES_POOL, volume_name
    return {"driver_volume_type": "rbd",
            "data": {"name": f"{VOLUMES_POOL}/{volume_name(row['id'])}", "cluster_name": "ceph",
                     "auth_enabled": True, "auth_username": "admin", "volume_id": row["id"],
                     "access_mode": "ro" if row.get("readonly") else "rw", "discard": True}}


def _initialize_connection(req: ApiRequest, row: dict, body: Any) -> Reply:
    if not isinstance(body, dict) or not isinstance(body.get("connector"), dict):
        raise E.BadRequest("Malformed request body: 'connector' must be an object")
    return Reply({"connection_info": connection_info(row)}, status=200)


def _terminate_connection(req: ApiRequest, row: dict, body: Any) -> Reply:
    if not isinstance(body, dict) or not isinstance(body.get("connector"), dict):
        raise E.BadRequest("Malformed request body: 'connector' must be an object")
    return Reply(None, status=202)


def _extend(req: ApiRequest, row: dict, body: Any) -> Reply:
    new_size = whole(body.get("new_size") if isinstance(body, dict) else None, "new_size")
    if new_size <= row["size"]:
        raise E.BadRequest(f"Invalid input received: New size for extend must be greater than current size. "
                           f"(current: {row['size']}, extended: {new_size}).")
    rt = runtime(req.backend)
    with rt.lock:
        check_quota(rt.store, row["project_id"], gigabytes=new_size - row["size"], volume_size=new_size)
        _move(req, row, ("available",), "extending", "extend")
    rt.submit(_finish_extend, rt, row["id"], new_size)
    return Reply(None, status=202)


def _finish_extend(rt: CinderRuntime, vid: str, new_size: int) -> None:
    try:
        rt.blocks().extend(vid, new_size)
    except Exception as exc:
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:255]
        rt.store.set_volume_status_if(vid, ("extending",), "error_extending", error=message)
        return
    rt.store.set_volume_status_if(vid, ("extending",), "available", size=new_size, error=None)


def _set_bootable(req: ApiRequest, row: dict, body: Any) -> Reply:
    if not isinstance(body, dict) or "bootable" not in body:
        raise E.BadRequest("Must specify bootable in request.")
    runtime(req.backend).store.update_volume(row["id"], bootable=int(boolean(body["bootable"], "bootable")))
    return Reply(None, status=200)


def _update_readonly(req: ApiRequest, row: dict, body: Any) -> Reply:
    if not isinstance(body, dict) or "readonly" not in body:
        raise E.BadRequest("Must specify readonly in request.")
    readonly = boolean(body["readonly"], "readonly")
    if row["status"] != "available":
        raise E.BadRequest(f"Invalid volume: volume status must be available to change its read-only flag "
                           f"(it is {row['status']})")
    runtime(req.backend).store.update_volume(row["id"], readonly=int(readonly))
    return Reply(None, status=202)


def kernel_image_id(compute: Any, image_id: str | None) -> str:
    """The image whose kernel boots a volume: the one it came from, else the guest image."""
    from ..compute import errors as CE
    if image_id:
        try:
            return compute.get_image(image_id).id
        except CE.ImageNotFound:
            pass
    images = compute.list_images()
    guest = next((i for i in images if str(getattr(i, "source", "")).startswith("guest-build")), None)
    if guest is None and images:
        guest = images[0]
    if guest is None:
        raise E.ApiError("The compute store has no image to take a kernel from", status=500)
    return guest.id


def _upload_image(req: ApiRequest, row: dict, body: Any) -> Reply:
    from . import image as glance
    if not isinstance(body, dict):
        raise E.BadRequest("Malformed request body: 'os-volume_upload_image' must be an object")
    name = body.get("image_name")
    if not isinstance(name, str) or not name or len(name) > 255:
        raise E.BadRequest("Invalid input received: image_name must be a string of 1 to 255 characters")
    disk_format = body.get("disk_format", "raw")
    container_format = body.get("container_format", "bare")
    if disk_format not in ("raw", "qcow2") or container_format != "bare":
        raise E.BadRequest(f"Invalid input received: the reference cloud uploads volumes as raw or qcow2 images in "
                           f"a bare container, not {disk_format}/{container_format}")
    force = boolean(body.get("force", False), "force")
    allowed = ("available", "in-use") if force else ("available",)
    if row["status"] == "in-use" and not force:
        raise E.BadRequest("Invalid volume: the volume is in-use: pass force to upload it anyway")
    rt = runtime(req.backend)
    compute = req.backend.compute()
    back_to = "in-use" if row["attachments"] else "available"
    _move(req, row, allowed, "uploading", "upload it to an image")
    image_id = str(uuid.uuid4())
    blocks = rt.blocks()
    try:
        with library_errors("uploading the volume failed: "):
            if disk_format == "raw":
                blocks.copy_to_image(row["id"], image_id, pool=IMAGES_POOL)
            else:
                size = blocks.convert_to_image(row["id"], image_id, _work_dir(req), disk_format=disk_format,
                                               pool=IMAGES_POOL)
            try:
                if disk_format == "raw":  # bootable: in the compute store, with its kernel
                    cimage = compute.register_rbd_image(name, IMAGES_POOL, image_id,
                                                        kernel_from=kernel_image_id(compute, row["image_id"]),
                                                        image_id=image_id)
                else:  # kept as converted: downloaded, not booted
                    cimage = SimpleNamespace(id=image_id, size_bytes=size, pool=IMAGES_POOL, rbd_name=image_id,
                                             snap="snap", min_disk_gb=int(row["size"]), min_ram_mb=0,
                                             created_at=time.time())
                glance.register_existing_image(req.backend, cimage, name=name,
                                               owner_project_id=req.context.project_id, visibility="private",
                                               disk_format=disk_format, container_format="bare")
            except BaseException:
                try:
                    compute.delete_image(image_id)
                except Exception:
                    pass
                blocks.remove_image(image_id, pool=IMAGES_POOL)
                raise
    finally:
        rt.store.set_volume_status_if(row["id"], ("uploading",), back_to)
    return Reply({"os-volume_upload_image": {
        "id": row["id"], "updated_at": stamp(time.time()), "status": "uploading",
        "display_description": row["description"], "size": row["size"],
        "volume_type": _type_of(req, row),
        "image_id": image_id, "container_format": "bare", "disk_format": disk_format, "image_name": name}},
        status=202)


def _type_of(req: ApiRequest, row: dict) -> dict | None:
    """The volume's type as Cinder's upload answer carries it (an object), or None."""
    found = find_type(row["volume_type"])
    return type_view(found, admin=req.context.is_admin) if found is not None else None


def _work_dir(req: ApiRequest) -> Path:
    return Path(req.backend.settings.state_dir) / "api" / "volume-uploads"


def _set_image_metadata(req: ApiRequest, row: dict, body: Any) -> Reply:
    meta = check_metadata(body.get("metadata") if isinstance(body, dict) else None)
    merged = {**(row["image_metadata"] or {}), **meta}
    runtime(req.backend).store.update_volume(row["id"], image_metadata=merged)
    return Reply({"metadata": merged}, status=200)


def _unset_image_metadata(req: ApiRequest, row: dict, body: Any) -> Reply:
    key = body.get("key") if isinstance(body, dict) else None
    current = dict(row["image_metadata"] or {})
    if not isinstance(key, str) or key not in current:
        raise E.NotFound(f"Glance metadata {key} for volume {row['id']} could not be found.")
    del current[key]
    runtime(req.backend).store.update_volume(row["id"], image_metadata=current)
    return Reply(None, status=200)


def _show_image_metadata(req: ApiRequest, row: dict, body: Any) -> Reply:
    return Reply({"metadata": dict(row["image_metadata"] or {})}, status=200)


def _admin(req: ApiRequest, action: str) -> None:
    if not req.context.is_admin:
        raise E.Forbidden(f"Policy doesn't allow volume_extension:volume_admin_actions:{action} to be performed.")


def _reset_status(req: ApiRequest, row: dict, body: Any) -> Reply:
    _admin(req, "reset_status")
    if not isinstance(body, dict) or not body:
        raise E.BadRequest("Must specify 'status', 'attach_status' or 'migration_status' for update.")
    status = body.get("status")
    if status is not None:
        if not isinstance(status, str) or status not in VOLUME_STATUSES:
            raise E.BadRequest(f"Invalid input received: status {status!r} is not a volume status")
        runtime(req.backend).store.update_volume(row["id"], status=status)
    if body.get("attach_status") == "detached":
        runtime(req.backend).store.update_volume(row["id"], attachments=[])
    return Reply(None, status=202)


def _force_delete(req: ApiRequest, row: dict, body: Any) -> Reply:
    _admin(req, "force_delete")
    start_delete(req, row, cascade=False, force=True)
    return Reply(None, status=202)


ACTIONS: dict[str, Callable[[ApiRequest, dict, Any], Reply]] = {
    "os-reserve": _reserve, "os-unreserve": _unreserve, "os-attach": _attach, "os-detach": _detach,
    "os-begin_detaching": _begin_detaching, "os-roll_detaching": _roll_detaching,
    "os-initialize_connection": _initialize_connection, "os-terminate_connection": _terminate_connection,
    "os-extend": _extend, "os-set_bootable": _set_bootable, "os-update_readonly_flag": _update_readonly,
    "os-volume_upload_image": _upload_image, "os-set_image_metadata": _set_image_metadata,
    "os-unset_image_metadata": _unset_image_metadata, "os-show_image_metadata": _show_image_metadata,
    "os-reset_status": _reset_status, "os-force_delete": _force_delete,
}
UNSUPPORTED = ("os-retype", "os-migrate_volume", "os-migrate_volume_completion", "os-force_detach",
               "os-update_volume_admin_metadata", "revert", "os-reimage", "os-unmanage")


@route("POST", "/volumes/{volume_id}/action")
def volume_action(req: ApiRequest) -> Reply:
    """A volume action: the body's one key names it."""
    row = find_volume(req)
    body = req.body
    if not isinstance(body, dict) or len(body) != 1:
        raise E.BadRequest("Malformed request body: an action is an object with exactly one key")
    (action, args), = body.items()
    handler = ACTIONS.get(action)
    if handler is None:
        if action in UNSUPPORTED:
            raise E.BadRequest(f"The action {action!r} is not supported by the reference cloud")
        raise E.BadRequest(f"There is no such action: {action}")
    return handler(req, row, args)
