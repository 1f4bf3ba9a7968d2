"""Cinder's snapshots: create (202 ``creating`` → ``available``; an in-use
volume needs ``force``), list/detail (filters ``name``, ``status``,
``volume_id``, sorting, pagination), show, update, delete (202
``deleting``; volumes cloned from the snapshot are flattened first, see
:mod:`..block.volumes`) and snapshot metadata."""

from __future__ import annotations

from typing import Any

from . import errors as E
from .db import new_id
from .routing import ApiRequest, Reply
from .volume_base import (all_projects, body_of, boolean, check_metadata, page, query_dict, route, sort_rows,
                          sort_spec, stamp, text)
from .volume_quotas import check as check_quota
from .volume_store import CinderRuntime, runtime
from .volume_volumes import find_volume

SORT_KEYS = frozenset("id name display_name status size created_at updated_at volume_id project_id".split())


def find_snapshot(req: ApiRequest, snapshot_id: str | None = None) -> dict:
    sid = snapshot_id if snapshot_id is not None else req.params["snapshot_id"]
    row = runtime(req.backend).store.snapshot(sid)
    if row is None or not req.context.owns(row["project_id"]):
        raise E.NotFound(f"Snapshot {sid} could not be found.")
    return row


def snapshot_view(req: ApiRequest, row: dict, *, detail: bool = True) -> dict:
    doc = {"id": row["id"], "name": row["name"], "description": row["description"], "volume_id": row["volume_id"],
           "size": int(row["size"]), "status": row["status"], "metadata": dict(row["metadata"]),
           "created_at": stamp(row["created_at"]), "updated_at": stamp(row["updated_at"])}
    if detail:
        doc["os-extended-snapshot-attributes:progress"] = "100%" if row["status"] == "available" else "0%"
        doc["os-extended-snapshot-attributes:project_id"] = row["project_id"]
    return doc


@route("POST", "/snapshots", status=202)
def create_snapshot(req: ApiRequest) -> Reply:
    """Snapshot a volume: 202 ``creating``; the RBD snapshot is made on a worker thread."""
    s = body_of(req, "snapshot")
    volume_id = s.get("volume_id")
    if not isinstance(volume_id, str):
        raise E.NotFound(f"Volume {volume_id} could not be found.")
    volume = find_volume(req, volume_id)
    force = boolean(s.get("force", False), "force")
    allowed = ("available", "in-use") if force else ("available",)
    if volume["status"] not in allowed:
        raise E.BadRequest(f"Invalid volume: the volume's status must be {' or '.join(allowed)} to snapshot it "
                           f"(it is {volume['status']}){'' if force else '; pass force for an in-use volume'}")
    name = text(s.get("name", s.get("display_name")), "name")
    description = text(s.get("description", s.get("display_description")), "description")
    metadata = check_metadata(s.get("metadata") or {})
    rt = runtime(req.backend)
    sid = new_id()
    ctx = req.context
    with rt.lock:
        check_quota(rt.store, ctx.project_id, snapshots=1, gigabytes=int(volume["size"]))
        rt.store.insert_snapshot({"id": sid, "project_id": ctx.project_id, "user_id": ctx.user_id,
                                  "volume_id": volume["id"], "name": name, "description": description,
                                  "size": int(volume["size"]), "status": "creating", "metadata": metadata})
    view = snapshot_view(req, rt.store.snapshot(sid), detail=False)
    rt.submit(_build, rt, volume["id"], sid)
    return Reply({"snapshot": view}, status=202)


def _build(rt: CinderRuntime, volume_id: str, sid: str) -> None:
    try:
        rt.blocks().create_snapshot(volume_id, sid)
    except Exception:
        rt.store.update_snapshot(sid, status="error")
        return
    rt.store.update_snapshot(sid, status="available")


def _list(req: ApiRequest, detail: bool) -> dict:
    rt = runtime(req.backend)
    rows = rt.store.snapshots(None if all_projects(req) else req.context.project_id)
    name = req.query_one("name", req.query_one("display_name"))
    status = req.query_one("status")
    volume_id = req.query_one("volume_id")
    metadata = query_dict(req, "metadata")
    rows = [r for r in rows
            if (name is None or r["name"] == name) and (status is None or r["status"] == status)
            and (volume_id is None or r["volume_id"] == volume_id)
            and (not metadata or all(r["metadata"].get(k) == v for k, v in metadata.items()))]
    rows = sort_rows(rows, sort_spec(req, SORT_KEYS), lambda k: "name" if k == "display_name" else k)
    shown, next_links = page(req, rows, "snapshots", path="/snapshots/detail" if detail else "/snapshots")
    body: dict = {"snapshots": [snapshot_view(req, r, detail=detail) for r in shown]}
    if next_links:
        body["snapshots_links"] = next_links
    return body


@route("GET", "/snapshots")
def list_snapshots(req: ApiRequest) -> dict:
    return _list(req, False)


@route("GET", "/snapshots/detail")
def list_snapshots_detail(req: ApiRequest) -> dict:
    return _list(req, True)


@route("GET", "/snapshots/{snapshot_id}")
def show_snapshot(req: ApiRequest) -> dict:
    return {"snapshot": snapshot_view(req, find_snapshot(req))}


@route("PUT", "/snapshots/{snapshot_id}")
def update_snapshot(req: ApiRequest) -> dict:
    row = find_snapshot(req)
    s = body_of(req, "snapshot")
    changes: dict[str, Any] = {}
    for key, column in (("name", "name"), ("display_name", "name"), ("description", "description"),
                        ("display_description", "description")):
        if key in s:
            changes[column] = text(s[key], key)
    unknown = set(s) - {"name", "display_name", "description", "display_description"}
    if unknown or not s:
        raise E.BadRequest(f"Invalid input received: cannot update {', '.join(sorted(unknown)) or 'nothing'}")
    runtime(req.backend).store.update_snapshot(row["id"], **changes)
    return {"snapshot": snapshot_view(req, find_snapshot(req), detail=False)}


@route("DELETE", "/snapshots/{snapshot_id}", status=202)
def delete_snapshot(req: ApiRequest) -> Reply:
    row = find_snapshot(req)
    if row["status"] not in ("available", "error", "error_deleting"):
        raise E.BadRequest(f"Invalid snapshot: Volume Snapshot status must be available or error (it is "
                           f"{row['status']})")
    rt = runtime(req.backend)
    rt.store.update_snapshot(row["id"], status="deleting")
    rt.submit(finish_delete_snapshot, rt, row["volume_id"], row["id"])
    return Reply(None, status=202)


def finish_delete_snapshot(rt: CinderRuntime, volume_id: str, sid: str) -> None:
    try:
        rt.blocks().delete_snapshot(volume_id, sid)
    except Exception:
        rt.store.update_snapshot(sid, status="error_deleting")
        return
    rt.store.delete_snapshot(sid)


@route("GET", "/snapshots/")
@route("PUT", "/snapshots/")
@route("DELETE", "/snapshots/")
def no_snapshot_id(req: ApiRequest) -> None:
    raise E.NotFound("Snapshot could not be found: no snapshot id in the URL")


# -- metadata -------------------------------------------------------------------------------------
def _meta_body(req: ApiRequest) -> dict:
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        raise E.BadRequest("Malformed request body: 'metadata' must be an object")
    return check_metadata(body["metadata"])


@route("GET", "/snapshots/{snapshot_id}/metadata")
def list_metadata(req: ApiRequest) -> dict:
    return {"metadata": dict(find_snapshot(req)["metadata"])}


@route("POST", "/snapshots/{snapshot_id}/metadata")
def merge_metadata(req: ApiRequest) -> dict:
    row = find_snapshot(req)
    merged = {**row["metadata"], **_meta_body(req)}
    runtime(req.backend).store.update_snapshot(row["id"], metadata=merged)
    return {"metadata": merged}


@route("PUT", "/snapshots/{snapshot_id}/metadata")
def replace_metadata(req: ApiRequest) -> dict:
    row = find_snapshot(req)
    new = _meta_body(req)
    runtime(req.backend).store.update_snapshot(row["id"], metadata=new)
    return {"metadata": new}


@route("GET", "/snapshots/{snapshot_id}/metadata/{key}")
def show_metadata_item(req: ApiRequest) -> dict:
    meta = find_snapshot(req)["metadata"]
    key = req.params["key"]
    if key not in meta:
        raise E.NotFound(f"Metadata item {key} was not found")
    return {"meta": {key: meta[key]}}


@route("PUT", "/snapshots/{snapshot_id}/metadata/{key}")
def set_metadata_item(req: ApiRequest) -> dict:
    row = find_snapshot(req)
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict) or len(body["meta"]) != 1:
        raise E.BadRequest("Malformed request body: 'meta' must be an object with one item")
    meta = check_metadata(body["meta"], "meta")
    if req.params["key"] not in meta:
        raise E.BadRequest("Request body and URI mismatch")
    runtime(req.backend).store.update_snapshot(row["id"], metadata={**row["metadata"], **meta})
    return {"meta": meta}


@route("DELETE", "/snapshots/{snapshot_id}/metadata/{key}")
def delete_metadata_item(req: ApiRequest) -> Reply:
    row = find_snapshot(req)
    key = req.params["key"]
    if key not in row["metadata"]:
        raise E.NotFound(f"Metadata item {key} was not found")
    runtime(req.backend).store.update_snapshot(row["id"],
                                               metadata={k: v for k, v in row["metadata"].items() if k != key})
    return Reply(None, status=200)
