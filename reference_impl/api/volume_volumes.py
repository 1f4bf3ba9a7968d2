"""Cinder's volumes: create (empty, from an image, a snapshot or a volume;
202 ``creating``, the RBD work on a worker thread, then ``available`` or
``error``), list/detail with filters, sorting and pagination, show, update,
delete (202 ``deleting``; refused with 400 while attached, busy or with
snapshots unless ``cascade``) and volume metadata.

Policy: a project sees its own volumes; admins see every project's with
``all_tenants``; another project's volume is a 404. Readers only read.
"""

from __future__ import annotations

from typing import Any

from . import errors as E
from .db import new_id
from .routing import ApiRequest, Reply
from .volume_base import (AVAILABILITY_ZONE, BACKEND_HOST, VOLUME_STATUSES, all_projects, body_of, boolean,
                          check_metadata, links, page, query_dict, route, sort_rows,
                          sort_spec, stamp, text, whole)
from .volume_quotas import check as check_quota
from .volume_store import CinderRuntime, runtime
from .volume_types import find_type

GiB = 1024 ** 3
DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_deleting")
ATTACHMENT_KEYS = ("id", "attachment_id", "volume_id", "server_id", "host_name", "device", "attached_at")


def _rt(req: ApiRequest) -> CinderRuntime:
    return runtime(req.backend)


def find_volume(req: ApiRequest, volume_id: str | None = None) -> dict:
    """The volume if the caller may see it; else 404 (foreign ones too)."""
    vid = volume_id if volume_id is not None else req.params["volume_id"]
    row = _rt(req).store.volume(vid) if isinstance(vid, str) else None
    if row is None or not req.context.owns(row["project_id"]):
        raise E.NotFound(f"Volume {vid} could not be found.")
    return row


def attachment_view(a: dict) -> dict:
    doc = {k: a.get(k) for k in ATTACHMENT_KEYS}
    doc["attached_at"] = stamp(a.get("attached_at"))
    return doc


def visible_metadata(row: dict) -> dict:
    meta = dict(row["metadata"])
    if row.get("readonly") is not None:
        meta["readonly"] = "True" if row["readonly"] else "False"
    return meta


def volume_view(req: ApiRequest, row: dict, *, extended: bool = True) -> dict:
    """A volume; ``extended``: with what Cinder's extensions add to show and
    list (project, image metadata, and for admins host and migration), which
    create and update responses do not carry."""
    doc = {
        "id": row["id"], "name": row["name"], "description": row["description"], "size": int(row["size"]),
        "status": row["status"], "availability_zone": row["availability_zone"],
        "bootable": "true" if row["bootable"] else "false", "created_at": stamp(row["created_at"]),
        "updated_at": stamp(row["updated_at"]), "volume_type": row["volume_type"],
        "snapshot_id": row["snapshot_id"], "source_volid": row["source_volid"],
        "metadata": visible_metadata(row), "attachments": [attachment_view(a) for a in row["attachments"]],
        "links": links(req, "volumes", row["id"]), "user_id": row["user_id"], "encrypted": False,
        "multiattach": False, "replication_status": None, "consistencygroup_id": None,
    }
    if not extended:
        return doc
    doc["os-vol-tenant-attr:tenant_id"] = row["project_id"]
    if row["image_metadata"] is not None:
        doc["volume_image_metadata"] = dict(row["image_metadata"])
    if req.context.is_admin:  # Cinder shows migration to admins only
        doc["migration_status"] = None
        doc["os-vol-host-attr:host"] = BACKEND_HOST
        doc["os-vol-mig-status-attr:migstat"] = None
        doc["os-vol-mig-status-attr:name_id"] = None
    return doc


# -- create ---------------------------------------------------------------------------------------
def _source_snapshot(req: ApiRequest, snapshot_id: Any) -> dict:
    snap = _rt(req).store.snapshot(snapshot_id) if isinstance(snapshot_id, str) else None
    if snap is None or not req.context.owns(snap["project_id"]):
        raise E.NotFound(f"Snapshot {snapshot_id} could not be found.")
    if snap["status"] != "available":
        raise E.BadRequest(f"Invalid snapshot: Originating snapshot status must be one of 'available' values "
                           f"(it is {snap['status']})")
    return snap


def _source_volume(req: ApiRequest, volume_id: Any) -> dict:
    if not isinstance(volume_id, str):
        raise E.NotFound(f"Volume {volume_id} could not be found.")
    vol = find_volume(req, volume_id)
    if vol["status"] not in ("available", "in-use"):
        raise E.BadRequest(f"Invalid volume: the source volume's status must be available or in-use "
                           f"(it is {vol['status']})")
    return vol


def source_image(req: ApiRequest, image_ref: Any) -> tuple[dict, Any]:
    """The Glance image (as the caller sees it) and the compute library's image
    (its RBD snapshot and kernel); 400 when it is unknown, not active or has no data."""
    from . import image as glance
    if not isinstance(image_ref, str) or not image_ref:
        raise E.BadRequest(f"Invalid image identifier or unable to access requested image: {image_ref!r}")
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        image = glance.visible_image(req.backend, req.context, image_id)
    except E.NotFound:
        raise E.BadRequest(f"Invalid image identifier or unable to access requested image: {image_id}") from None
    if image.get("status") != "active":
        raise E.BadRequest(f"Image {image_id} is not active (it is {image.get('status')})")
    from ..compute import errors as CE
    try:
        compute_image = req.backend.compute().get_image(image["id"])
    except CE.ImageNotFound:
        raise E.BadRequest(f"Image {image_id} has no data the block storage can copy") from None
    return image, compute_image


def image_metadata(image: dict) -> dict:
    meta = {"image_id": image["id"], "image_name": image.get("name") or "",
            "checksum": image.get("checksum") or "", "container_format": image.get("container_format") or "",
            "disk_format": image.get("disk_format") or "", "min_disk": str(image.get("min_disk") or 0),
            "min_ram": str(image.get("min_ram") or 0), "size": str(image.get("size") or 0)}
    return meta


def _image_min_gb(image: dict, compute_image: Any) -> int:
    return max(int(image.get("min_disk") or 0), -(-int(compute_image.size_bytes) // GiB), 1)


@route("POST", "/volumes", status=202)
def create_volume(req: ApiRequest) -> Reply:
    """Create a volume: 202 ``creating``; the RBD work runs on a worker thread."""
    v = body_of(req, "volume")
    ctx = req.context
    name = text(v.get("name", v.get("display_name")), "name")
    description = text(v.get("description", v.get("display_description")), "description")
    metadata = check_metadata(v.get("metadata") or {})
    zone = v.get("availability_zone")
    if zone is not None and zone != AVAILABILITY_ZONE:
        raise E.BadRequest(f"Invalid input received: Availability zone '{zone}' is invalid (zones: "
                           f"{AVAILABILITY_ZONE})")
    vtype = find_type(v.get("volume_type"))
    if vtype is None:
        raise E.NotFound(f"Volume type with name {v.get('volume_type')} could not be found.")
    if v.get("multiattach") not in (None, False, "false", "False"):
        raise E.BadRequest("Invalid input received: multiattach volumes are not supported by the reference cloud")
    image_ref = v.get("imageRef", v.get("image_id"))
    sources = [k for k, given in (("snapshot_id", v.get("snapshot_id")), ("source_volid", v.get("source_volid")),
                                  ("imageRef", image_ref)) if given is not None]
    if len(sources) > 1:
        raise E.BadRequest(f"Invalid input received: only one of {', '.join(sources)} may be given")
    size = v.get("size")
    work: tuple
    row: dict[str, Any] = {"snapshot_id": None, "source_volid": None, "image_id": None, "image_metadata": None,
                           "bootable": 0}
    if v.get("snapshot_id") is not None:
        snap = _source_snapshot(req, v["snapshot_id"])
        size = snap["size"] if size is None else whole(size, "size")
        if size < snap["size"]:
            raise E.BadRequest(f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                               f"snapshot size {snap['size']}GB.")
        source_vol = _rt(req).store.volume(snap["volume_id"])
        row.update(snapshot_id=snap["id"], bootable=source_vol["bootable"] if source_vol else 0,
                   image_id=source_vol["image_id"] if source_vol else None,
                   image_metadata=source_vol["image_metadata"] if source_vol else None)
        work = ("snapshot", snap["volume_id"], snap["id"])
    elif v.get("source_volid") is not None:
        src = _source_volume(req, v["source_volid"])
        size = src["size"] if size is None else whole(size, "size")
        if size < src["size"]:
            raise E.BadRequest(f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                               f"source volume size {src['size']}GB.")
        row.update(source_volid=src["id"], bootable=src["bootable"], image_id=src["image_id"],
                   image_metadata=src["image_metadata"])
        work = ("volume", src["id"])
    elif image_ref is not None:
        image, compute_image = source_image(req, image_ref)
        least = _image_min_gb(image, compute_image)
        size = least if size is None else whole(size, "size")
        if size < least:
            raise E.BadRequest(f"Invalid input received: Volume size {size}GB cannot be smaller than the image "
                               f"minDisk size {least}GB.")
        row.update(image_id=image["id"], image_metadata=image_metadata(image), bootable=1)
        work = ("image", compute_image.pool, compute_image.rbd_name, compute_image.snap)
    else:
        if size is None:
            raise E.BadRequest("Invalid input received: size is required to create an empty volume")
        size = whole(size, "size")
        work = ("empty",)
    rt = _rt(req)
    vid = new_id()
    with rt.lock:
        check_quota(rt.store, ctx.project_id, volumes=1, gigabytes=size, volume_size=size)
        rt.store.insert_volume({**row, "id": vid, "project_id": ctx.project_id, "user_id": ctx.user_id,
                                "name": name, "description": description, "size": size, "status": "creating",
                                "volume_type": vtype.name, "availability_zone": AVAILABILITY_ZONE,
                                "metadata": metadata})
    view = volume_view(req, rt.store.volume(vid), extended=False)
    rt.submit(build_volume, rt, vid, size, work)
    return Reply({"volume": view}, status=202)


def build_volume(rt: CinderRuntime, vid: str, size: int, work: tuple) -> bool:
    """The RBD work of a create; the volume ends ``available`` or ``error``. True if it worked."""
    from ..block.volumes import ImageSource
    try:
        blocks = rt.blocks()
        kind = work[0]
        if kind == "empty":
            blocks.create_empty(vid, size)
        elif kind == "image":
            blocks.create_from_image(vid, ImageSource(work[1], work[2], work[3]), size)
        elif kind == "snapshot":
            blocks.create_from_snapshot(vid, work[1], work[2], size)
        elif kind == "volume":
            blocks.create_from_volume(vid, work[1], size)
        else:
            raise ValueError(f"unknown volume source {kind!r}")
    except Exception as exc:
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:255]
        rt.store.set_volume_status_if(vid, ("creating",), "error", error=message)
        return False
    rt.store.set_volume_status_if(vid, ("creating",), "available", error=None)
    return True


# -- list / show / update / delete ----------------------------------------------------------------
SORT_KEYS = frozenset("id name display_name status size created_at updated_at availability_zone bootable "
                      "volume_type project_id user_id".split())
_COLUMNS = {"display_name": "name"}


def _matches(req: ApiRequest, row: dict, metadata: dict | None) -> bool:
    name = req.query_one("name", req.query_one("display_name"))
    if name is not None and row["name"] != name:
        return False
    status = req.query_one("status")
    if status is not None and row["status"] != status:
        return False
    zone = req.query_one("availability_zone")
    if zone is not None and row["availability_zone"] != zone:
        return False
    bootable = req.query_one("bootable")
    if bootable is not None and bool(row["bootable"]) != boolean(bootable, "bootable"):
        return False
    vtype = req.query_one("volume_type")
    if vtype is not None:
        wanted = find_type(vtype)
        if row["volume_type"] != (wanted.name if wanted is not None else vtype):
            return False
    size = req.query_one("size")
    if size is not None and str(row["size"]) != size:
        return False
    if metadata and not all(visible_metadata(row).get(k) == v for k, v in metadata.items()):
        return False
    project = req.query_one("project_id")
    if project is not None and all_projects(req) and row["project_id"] != project:
        return False
    return True


def _list(req: ApiRequest, detail: bool) -> dict:
    ctx = req.context
    rows = _rt(req).store.volumes(None if all_projects(req) else ctx.project_id)
    metadata = query_dict(req, "metadata")
    rows = [r for r in rows if _matches(req, r, metadata)]
    rows = sort_rows(rows, sort_spec(req, SORT_KEYS), lambda k: _COLUMNS.get(k, k))
    shown, next_links = page(req, rows, "volumes", path="/volumes/detail" if detail else "/volumes")
    if detail:
        items = [volume_view(req, r) for r in shown]
    else:
        items = [{"id": r["id"], "name": r["name"], "links": links(req, "volumes", r["id"])} for r in shown]
    body: dict = {"volumes": items}
    if next_links:
        body["volumes_links"] = next_links
    return body


@route("GET", "/volumes")
def list_volumes(req: ApiRequest) -> dict:
    """Volumes (id, name, links), filtered, sorted and paged."""
    return _list(req, False)


@route("GET", "/volumes/detail")
def list_volumes_detail(req: ApiRequest) -> dict:
    """Volumes in full, filtered, sorted and paged."""
    return _list(req, True)


@route("GET", "/volumes/{volume_id}")
def show_volume(req: ApiRequest) -> dict:
    return {"volume": volume_view(req, find_volume(req))}


@route("PUT", "/volumes/{volume_id}")
def update_volume(req: ApiRequest) -> dict:
    """Change a volume's name, description or metadata."""
    row = find_volume(req)
    v = body_of(req, "volume")
    changes: dict[str, Any] = {}
    for key, column in (("name", "name"), ("display_name", "name"), ("description", "description"),
                        ("display_description", "description")):
        if key in v:
            changes[column] = text(v[key], key)
    if "metadata" in v:
        changes["metadata"] = check_metadata(v["metadata"])
    unknown = set(v) - {"name", "display_name", "description", "display_description", "metadata"}
    if unknown:
        raise E.BadRequest(f"Invalid input received: cannot update {', '.join(sorted(unknown))}")
    if changes:
        _rt(req).store.update_volume(row["id"], **changes)
    return {"volume": volume_view(req, find_volume(req), extended=False)}


@route("DELETE", "/volumes/{volume_id}", status=202)
def delete_volume(req: ApiRequest) -> Reply:
    """Delete a volume: 202 ``deleting``; with ``cascade=true`` its snapshots go too."""
    row = find_volume(req)
    cascade = req.query_bool("cascade", False)
    start_delete(req, row, cascade=cascade, force=False)
    return Reply(None, status=202)


def start_delete(req: ApiRequest, row: dict, *, cascade: bool, force: bool) -> None:
    rt = _rt(req)
    if not force:
        if row["attachments"] or row["status"] not in DELETABLE:
            raise E.BadRequest(f"Invalid volume: Volume status must be available or error or error_restoring or "
                               f"error_extending or error_managing and must not be migrating, attached, belong "
                               f"to a group, have snapshots or be disassociated from snapshots after volume "
                               f"transfer (it is {row['status']}"
                               f"{', attached' if row['attachments'] else ''}).")
    snaps = rt.store.snapshots(volume_id=row["id"])
    if snaps and not cascade:
        raise E.BadRequest(f"Invalid volume: Volume {row['id']} still has {len(snaps)} dependent snapshots.")
    if any(s["status"] not in ("available", "error") for s in snaps):
        raise E.BadRequest("Invalid volume: a snapshot of the volume is busy")
    allowed = tuple(VOLUME_STATUSES) if force else DELETABLE
    if rt.store.set_volume_status_if(row["id"], allowed, "deleting") not in allowed:
        raise E.BadRequest(f"Invalid volume: volume {row['id']} changed status meanwhile")
    for snap in snaps:
        rt.store.update_snapshot(snap["id"], status="deleting")
    rt.submit(finish_delete, rt, row["id"], [s["id"] for s in snaps])


def finish_delete(rt: CinderRuntime, vid: str, snapshot_ids: list[str]) -> None:
    try:
        blocks = rt.blocks()
        for sid in snapshot_ids:
            blocks.delete_snapshot(vid, sid)
            rt.store.delete_snapshot(sid)
        blocks.delete_volume(vid)
    except Exception as exc:
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:255]
        rt.store.update_volume(vid, status="error_deleting", error=message)
        return
    rt.store.delete_volume(vid)


# -- metadata -------------------------------------------------------------------------------------
def _meta_body(req: ApiRequest) -> dict:
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        raise E.BadRequest("Malformed request body: 'metadata' must be an object")
    return check_metadata(body["metadata"])


@route("GET", "/volumes/{volume_id}/metadata")
def list_metadata(req: ApiRequest) -> dict:
    return {"metadata": visible_metadata(find_volume(req))}


@route("POST", "/volumes/{volume_id}/metadata")
def merge_metadata(req: ApiRequest) -> dict:
    row = find_volume(req)
    merged = {**row["metadata"], **_meta_body(req)}
    _rt(req).store.update_volume(row["id"], metadata=merged)
    return {"metadata": visible_metadata(find_volume(req))}


@route("PUT", "/volumes/{volume_id}/metadata")
def replace_metadata(req: ApiRequest) -> dict:
    row = find_volume(req)
    new = _meta_body(req)
    _rt(req).store.update_volume(row["id"], metadata=new)
    return {"metadata": new}


@route("GET", "/volumes/{volume_id}/metadata/{key}")
def show_metadata_item(req: ApiRequest) -> dict:
    meta = visible_metadata(find_volume(req))
    key = req.params["key"]
    if key not in meta:
        raise E.NotFound(f"Metadata item {key} was not found")
    return {"meta": {key: meta[key]}}


@route("PUT", "/volumes/{volume_id}/metadata/{key}")
def set_metadata_item(req: ApiRequest) -> dict:
    row = find_volume(req)
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict) or len(body["meta"]) != 1:
        raise E.BadRequest("Malformed request body: 'meta' must be an object with one item")
    meta = check_metadata(body["meta"], "meta")
    key = req.params["key"]
    if key not in meta:
        raise E.BadRequest("Request body and URI mismatch")
    _rt(req).store.update_volume(row["id"], metadata={**row["metadata"], **meta})
    return {"meta": meta}


@route("DELETE", "/volumes/{volume_id}/metadata/{key}")
def delete_metadata_item(req: ApiRequest) -> Reply:
    row = find_volume(req)
    key = req.params["key"]
    if key not in row["metadata"]:
        raise E.NotFound(f"Metadata item {key} was not found")
    _rt(req).store.update_volume(row["id"], metadata={k: v for k, v in row["metadata"].items() if k != key})
    return Reply(None, status=200)


# -- ``DELETE /volumes/`` and friends: no id is no such volume (not a redirect to the list) ----------
@route("GET", "/volumes/")
@route("PUT", "/volumes/")
@route("DELETE", "/volumes/")
def no_volume_id(req: ApiRequest) -> None:
    raise E.NotFound("Volume could not be found: no volume id in the URL")
