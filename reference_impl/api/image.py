"""Glance v2: images, their data, tags, members, schemas and the import API.

Mounted at ``/image`` (catalog URL ``<base>/image``). What it serves:

* version discovery (``GET /image/`` → 300, ``GET /image/versions``);
* ``/v2/images``: create (queued), list (filters, sorting, pagination with
  ``next`` links; exact filters on size, virtual_size, min_ram, min_disk
  and checksum), show, update (JSON patch, Content-Type
  ``application/openstack-images-v2.1-json-patch``, or the older
  ``…-v2.0-json-patch`` with its ``{"replace": "/name", …}`` operations),
  delete; ``/v2/images/`` (an empty id) is 404;
* ``/v2/images/{id}/file``: upload (queued → saving → active) and download
  (streamed from RBD, with ``Content-MD5``; 204 while there is no data);
* the interoperable import API with the ``glance-direct`` method
  (``PUT …/stage`` then ``POST …/import``; ``GET /v2/info/import``);
* tags, members (for ``shared`` images), deactivate/reactivate, the JSON
  schemas (``/v2/schemas/image(s)``, ``/v2/schemas/member(s)``) and
  ``/v2/info/usage``. ``/v2/info/stores`` answers 404 like a Glance without
  multiple stores.

Image data lives in RBD (``images/<id>`` with a protected snapshot, see
:mod:`.image_data`) and is registered in the compute library's store under
the image's id, so servers boot from it as copy-on-write clones. qcow2
uploads are converted to raw once with ``qemu-img`` (the image's
``disk_format`` becomes ``raw``); without qemu-img they are refused (400).

Access, as Glance's default policy: a project sees its own images, public
and community images, and shared images it is a member of (the list shows
others' community images only with ``visibility=community``, and shared
ones whose membership is not accepted only with ``member_status``); admins
see everything. Only the owner (or an admin) changes an image; an image one
cannot see is 404, one that one may see but not change is 403. Only admins
make images public. Readers only read.

:func:`register_existing_image` records an image that is already in RBD and
the compute store (the guest image ``octoprobe cloud up`` builds).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import jsonschema
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from . import errors as E
from .db import Database, dumps, iso, loads, now
from .image_data import IMAGE_SNAP, Hashes, ImageData
from .routing import ApiRequest, Reply, Service

log = logging.getLogger("octoprobe.api.image")

service = Service("glance", "/image", title="image")
route = service.route

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, visibility TEXT NOT NULL, owner TEXT,
    protected INTEGER NOT NULL DEFAULT 0, os_hidden INTEGER NOT NULL DEFAULT 0,
    checksum TEXT, os_hash_algo TEXT, os_hash_value TEXT, size INTEGER, virtual_size INTEGER,
    disk_format TEXT, container_format TEXT, min_disk INTEGER NOT NULL DEFAULT 0,
    min_ram INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '[]',
    properties TEXT NOT NULL DEFAULT '{}', created_at REAL NOT NULL, updated_at REAL NOT NULL,
    rbd_pool TEXT, rbd_name TEXT, staged INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS image_members (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, member_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', created_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (image_id, member_id));
"""

VERSIONS = ("2.16", "2.15", "2.14", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.7", "2.6", "2.5", "2.4",
            "2.3", "2.2", "2.1", "2.0")
HASH_ALGO = "sha512"
PATCH_TYPES = ("application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch")
# v2.0 is Glance's older patch format (JSON patch draft 10): {"replace": "/name", "value": ...}
DRAFT10_PATCH_TYPE = "application/openstack-images-v2.0-json-patch"
UPLOAD_TYPES = ("application/octet-stream",)
IMPORT_METHODS = ("glance-direct",)
LIMIT_DEFAULT = 25
LIMIT_MAX = 1000
TAG_QUOTA = 128
PROPERTY_QUOTA = 128
MEMBER_QUOTA = 128

STATUSES = ("queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete",
            "deactivated")
VISIBILITIES = ("public", "private", "shared", "community")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")

# (other members of these bodies are ignored, as Glance does)
# attributes a client sets (JSON schema of each value)
WRITABLE = {
    "name": {"type": ["null", "string"], "maxLength": 255},
    "visibility": {"type": "string", "enum": list(VISIBILITIES)},
    "protected": {"type": "boolean"},
    "os_hidden": {"type": "boolean"},
    "owner": {"type": ["null", "string"], "maxLength": 255},
    "container_format": {"enum": [None, *CONTAINER_FORMATS]},
    "disk_format": {"enum": [None, *DISK_FORMATS]},
    "min_ram": {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1},
    "min_disk": {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1},
    "tags": {"type": "array", "maxItems": TAG_QUOTA,
             "items": {"type": "string", "minLength": 1, "maxLength": 255}},
}
READ_ONLY = ("id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at",
             "updated_at", "self", "file", "schema", "direct_url", "stores")
RESERVED = ("deleted", "deleted_at", "location", "locations")
CUSTOM_VALUE = {"type": "string", "maxLength": 65535}
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "virtual_size", "id", "created_at",
             "updated_at", "visibility", "owner", "min_disk", "min_ram", "protected", "os_hidden")
LIST_PARAMS = {"limit", "marker", "sort_key", "sort_dir", "sort", "name", "status", "visibility", "owner", "tag",
               "disk_format", "container_format", "member_status", "size_min", "size_max", "protected",
               "os_hidden", "id", "created_at", "updated_at", "size", "virtual_size", "min_ram", "min_disk",
               "checksum"}
IN_FILTERS = ("id", "name", "status", "container_format", "disk_format", "owner")
INT_FILTERS = ("size", "virtual_size", "min_ram", "min_disk")  # exact match on the column, as Glance


# -- version discovery ----------------------------------------------------------------------
def _versions(req: ApiRequest) -> dict:
    return {"versions": [
        {"id": f"v{v}", "status": "CURRENT" if i == 0 else "SUPPORTED",
         "links": [{"rel": "self", "href": f"{req.base_url}/v2/"}]}
        for i, v in enumerate(VERSIONS)
    ]}


@route("GET", "/", public=True)
@route("GET", "/v2", public=True)
@route("GET", "/v2/", public=True)
def versions(req: ApiRequest) -> Reply:
    """Version discovery (300 Multiple Choices, as Glance)."""
    return Reply(_versions(req), status=300)


@route("GET", "/versions", public=True)
def versions_list(req: ApiRequest) -> dict:
    """The API versions."""
    return _versions(req)


# -- records and views ----------------------------------------------------------------------
def _db(req: ApiRequest) -> Database:
    return req.backend.db


def image_view(row: dict) -> dict:
    """An image as Glance shows it: core attributes, then custom properties at the top level."""
    view: dict[str, Any] = dict(loads(row["properties"], {}))
    view.update({
        "id": row["id"], "name": row["name"], "status": row["status"], "visibility": row["visibility"],
        "protected": bool(row["protected"]), "os_hidden": bool(row["os_hidden"]),
        "checksum": row["checksum"],
        "os_hash_algo": row["os_hash_algo"] if row["os_hash_value"] else None,
        "os_hash_value": row["os_hash_value"],
        "owner": row["owner"], "size": row["size"], "virtual_size": row["virtual_size"],
        "min_ram": row["min_ram"], "min_disk": row["min_disk"],
        "disk_format": row["disk_format"], "container_format": row["container_format"],
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
        "tags": loads(row["tags"], []),
        "self": f"/v2/images/{row['id']}", "file": f"/v2/images/{row['id']}/file",
        "schema": "/v2/schemas/image",
    })
    return view


def member_view(row: dict) -> dict:
    return {"image_id": row["image_id"], "member_id": row["member_id"], "status": row["status"],
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
            "schema": "/v2/schemas/member"}


def _member_status(db: Database, image_id: str, project_id: str) -> str | None:
    row = db.one("SELECT status FROM image_members WHERE image_id = ? AND member_id = ?", image_id, project_id)
    return row["status"] if row else None


def _visible(ctx, row: dict, member_status: str | None) -> bool:
    if ctx.is_admin or (ctx.project_id and row["owner"] == ctx.project_id):
        return True
    if row["visibility"] in ("public", "community"):
        return True
    return row["visibility"] == "shared" and member_status is not None


def _owns(ctx, row: dict) -> bool:
    return ctx.is_admin or bool(ctx.project_id and row["owner"] == ctx.project_id)


def _find(req: ApiRequest, image_id: str | None = None) -> dict:
    """The image of the path (404 when it does not exist or is not visible to the caller)."""
    image_id = image_id or req.params["image_id"]
    row = None
    if UUID_RE.match(image_id):
        row = _db(req).one("SELECT * FROM images WHERE id = ?", _canonical(image_id))
    if row is None or not _visible(req.context, row, _member_status(_db(req), row["id"], req.context.project_id)):
        raise E.NotFound(f"No image found with ID {image_id}")
    return row


def _find_owned(req: ApiRequest, action: str = "modify") -> dict:
    row = _find(req)
    if not _owns(req.context, row):
        raise E.Forbidden(f"You are not permitted to {action} image {row['id']}: it belongs to another project")
    return row


def _canonical(image_id: str) -> str:
    return str(uuid.UUID(image_id))


def _touch(db: Database, image_id: str, **changes: Any) -> None:
    changes["updated_at"] = now()
    columns = ", ".join(f"{k} = ?" for k in changes)
    db.execute(f"UPDATE images SET {columns} WHERE id = ?", *changes.values(), image_id)


def _check_attributes(body: dict, *, creating: bool, ctx) -> None:
    """Refuse read-only/reserved attributes (403) and bad values (400)."""
    for key, value in body.items():
        if key == "id" and creating:
            if not isinstance(value, str) or not UUID_RE.match(value):
                raise E.BadRequest(f"Invalid input for field/attribute id. Value: {value!r}. "
                                   "It is not a UUID")
            continue
        _check_attribute(key, value, ctx)


def _check_attribute(key: str, value: Any, ctx) -> None:
    if key in READ_ONLY:
        raise E.Forbidden(f"Attribute '{key}' is read-only.")
    if key in RESERVED or key.startswith("os_glance"):
        raise E.Forbidden(f"Attribute '{key}' is reserved.")
    if not key or len(key) > 255:
        raise E.BadRequest("Property names must be 1 to 255 characters long")
    schema = WRITABLE.get(key, CUSTOM_VALUE)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is not None:
        what = "custom property values must be strings" if key not in WRITABLE else error.message
        raise E.BadRequest(f"Invalid input for field/attribute {key}. Value: {value!r}. {what}")
    if key == "visibility" and value == "public" and not ctx.is_admin:
        raise E.Forbidden("You are not authorized to complete publicize_image action.")
    if key == "owner" and not ctx.is_admin and value != ctx.project_id:
        raise E.Forbidden(f"You are not permitted to set the owner of an image to {value!r}")


# -- create, show, list -----------------------------------------------------------------------
@route("POST", "/v2/images", status=201)
def create_image(req: ApiRequest) -> Reply:
    """Create an image record (status queued); upload its data next."""
    ctx = req.context
    body = req.body
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise E.BadRequest("The request body must be a JSON object")
    if not ctx.project_id:
        raise E.Forbidden("Creating an image needs a project-scoped token")
    _check_attributes(body, creating=True, ctx=ctx)
    image_id = _canonical(body["id"]) if "id" in body else str(uuid.uuid4())
    core = {k: body[k] for k in WRITABLE if k in body}
    props = {k: v for k, v in body.items() if k not in WRITABLE and k != "id"}
    if len(props) > PROPERTY_QUOTA:
        raise E.RequestTooLarge(f"Maximum number of properties exceeded ({PROPERTY_QUOTA})")
    tags = _unique(core.get("tags", []))
    stamp = now()
    with _db(req).tx() as c:
        if c.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
            raise E.Conflict(f"Image with identifier {image_id} already exists!")
        c.execute("INSERT INTO images (id, name, status, visibility, owner, protected, os_hidden, os_hash_algo, "
                  "disk_format, container_format, min_disk, min_ram, tags, properties, created_at, updated_at) "
                  "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (image_id, core.get("name"), core.get("visibility", "shared"),
                   core.get("owner") or ctx.project_id, int(core.get("protected", False)),
                   int(core.get("os_hidden", False)), HASH_ALGO, core.get("disk_format"),
                   core.get("container_format"), core.get("min_disk", 0), core.get("min_ram", 0), dumps(tags),
                   dumps(props), stamp, stamp))
    row = _db(req).one("SELECT * FROM images WHERE id = ?", image_id)
    return Reply(image_view(row), status=201,
                 headers={"Location": f"{req.base_url}/v2/images/{image_id}",
                          "OpenStack-image-import-methods": ",".join(IMPORT_METHODS)})


def _unique(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


@route("GET", "/v2/images/{image_id}")
def show_image(req: ApiRequest) -> dict:
    """One image."""
    return image_view(_find(req))


@route("GET", "/v2/images/")
@route("DELETE", "/v2/images/")
def empty_image_id(req: ApiRequest) -> None:
    """``/v2/images/`` names an image with an empty id: there is none (Glance
    answers 404; without this route the router would redirect to the list)."""
    raise E.NotFound("No image found with ID ")


def _parse_time_filter(name: str, text: str) -> tuple[str, float]:
    op, _, value = text.partition(":")
    if op not in ("gt", "gte", "lt", "lte", "eq", "neq") or not value:
        raise E.BadRequest(f"Invalid {name} filter {text!r}: use OP:TIME with OP one of gt, gte, lt, lte, "
                           "eq, neq")
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise E.BadRequest(f"Invalid {name} filter {text!r}: {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return op, when.timestamp()


def _compare(op: str, a: float, b: float) -> bool:
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b, "eq": int(a) == int(b),
            "neq": int(a) != int(b)}[op]


def _sort_spec(req: ApiRequest) -> list[tuple[str, str]]:
    sort = req.query_one("sort")
    keys = req.query.getlist("sort_key")
    dirs = req.query.getlist("sort_dir")
    spec: list[tuple[str, str]] = []
    if sort is not None:
        if keys or dirs:
            raise E.BadRequest("The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'")
        for part in sort.split(","):
            key, _, direction = part.strip().partition(":")
            spec.append((key.strip(), (direction or "desc").strip()))
    else:
        keys = keys or ["created_at"]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise E.BadRequest("The number of sort_dir values must be 1 or match the number of sort_key values")
        dirs = dirs or ["desc"]
        spec = [(k, dirs[i] if len(dirs) > 1 else dirs[0]) for i, k in enumerate(keys)]
    for key, direction in spec:
        if key not in SORT_KEYS:
            raise E.BadRequest(f"Invalid sort key: {key!r}. It must be one of: {', '.join(SORT_KEYS)}")
        if direction not in ("asc", "desc"):
            raise E.BadRequest(f"Invalid sort direction: {direction!r}. It must be asc or desc")
    if len({k for k, _ in spec}) != len(spec):
        raise E.BadRequest("A sort key is given more than once")
    if "id" not in {k for k, _ in spec}:
        spec.append(("id", spec[-1][1]))
    return spec


def _sorted(rows: list[dict], spec: list[tuple[str, str]]) -> list[dict]:
    result = list(rows)
    for key, direction in reversed(spec):
        # None sorts first ascending (as SQL NULLs do in Glance's MySQL/SQLite)
        result.sort(key=lambda r: (r[key] is not None, r[key] if r[key] is not None else 0),
                    reverse=direction == "desc")
    return result


def _in_filter(req: ApiRequest, name: str) -> set[str] | None:
    value = req.query_one(name)
    if value is None:
        return None
    if value.startswith("in:"):
        items = value[3:]
        if items.startswith('"') and items.endswith('"') and len(items) > 1:
            return {items[1:-1]}
        return {v.strip().strip('"') for v in items.split(",")}
    return {value}


@route("GET", "/v2/images")
def list_images(req: ApiRequest) -> dict:
    """Images the caller may see, filtered, sorted and paginated."""
    ctx = req.context
    db = _db(req)
    limit = req.query_int("limit", LIMIT_DEFAULT, minimum=0)
    limit = min(limit, LIMIT_MAX)
    spec = _sort_spec(req)
    visibility = req.query_one("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise E.BadRequest(f"Invalid visibility value: {visibility!r}. It must be one of "
                           f"{', '.join((*VISIBILITIES, 'all'))}")
    member_status = req.query_one("member_status", "accepted")
    if member_status not in (*MEMBER_STATUSES, "all"):
        raise E.BadRequest(f"Invalid member_status value: {member_status!r}. It must be one of "
                           "pending, accepted, rejected, all")
    for name in ("status",):
        for value in _in_filter(req, name) or ():
            if value not in STATUSES:
                raise E.BadRequest(f"Invalid status value: {value!r}")
    memberships = {r["image_id"]: r["status"] for r in db.all(
        "SELECT image_id, status FROM image_members WHERE member_id = ?", ctx.project_id)} \
        if ctx.project_id else {}

    def listed(row: dict) -> bool:
        own = bool(ctx.project_id) and row["owner"] == ctx.project_id
        vis = row["visibility"]
        shared_ok = vis == "shared" and row["id"] in memberships and (
            member_status == "all" or memberships[row["id"]] == member_status)
        if visibility is not None and visibility != "all" and vis != visibility:
            return False
        if ctx.is_admin:
            return True
        if visibility == "community":
            return True
        if visibility == "public":
            return True
        if visibility == "all":
            return own or vis in ("public", "community") or shared_ok
        return own or vis == "public" or shared_ok

    matches = _row_filter(req)
    rows = [r for r in db.all("SELECT * FROM images") if listed(r)]
    marker = req.query_one("marker")
    marker_row = None
    if marker is not None:
        marker_row = db.one("SELECT * FROM images WHERE id = ?", _canonical(marker)) \
            if UUID_RE.match(marker) else None
        if marker_row is None or not _visible(ctx, marker_row, memberships.get(marker_row["id"])):
            raise E.BadRequest(f"Invalid marker. Image {marker} could not be found.")
    rows = [r for r in rows if matches(r)]
    if marker_row is not None:
        ordered = _sorted([r for r in rows if r["id"] != marker_row["id"]] + [marker_row], spec)
        index = next(i for i, r in enumerate(ordered) if r["id"] == marker_row["id"])
        ordered = ordered[index + 1:]
    else:
        ordered = _sorted(rows, spec)
    page = ordered[:limit]
    body: dict[str, Any] = {"images": [image_view(r) for r in page], "schema": "/v2/schemas/images",
                            "first": "/v2/images" + (f"?{_query_without(req, 'marker')}"
                                                     if _query_without(req, "marker") else "")}
    if page and len(ordered) > limit:
        rest = _query_without(req, "marker")
        body["next"] = f"/v2/images?{rest + '&' if rest else ''}marker={page[-1]['id']}"
    return body


def _query_without(req: ApiRequest, drop: str) -> str:
    return urlencode([(k, v) for k, v in req.query.multi_items() if k != drop])


def _row_filter(req: ApiRequest):
    """The query's filters as one predicate; every parameter is checked here,
    before any row is (a bad one is a 400 even when nothing would match)."""
    wanted_in = {name: _in_filter(req, name) for name in IN_FILTERS}
    flags = {name: req.query_bool(name) for name in ("protected", "os_hidden") if req.query_one(name) is not None}
    tags = req.query.getlist("tag")
    size_min = req.query_int("size_min", None, minimum=0)
    size_max = req.query_int("size_max", None, minimum=0)
    exact = {name: req.query_int(name, None, minimum=0) for name in INT_FILTERS if req.query_one(name) is not None}
    checksum = req.query_one("checksum")
    times = {name: _parse_time_filter(name, req.query_one(name)) for name in ("created_at", "updated_at")
             if req.query_one(name) is not None}
    props_wanted = [(k, v) for k, v in req.query.multi_items() if k not in LIST_PARAMS]

    def matches(row: dict) -> bool:
        for name, wanted in wanted_in.items():
            if wanted is not None and str(row[name]) not in wanted:
                return False
        for name, value in flags.items():
            if bool(row[name]) != value:
                return False
        if "os_hidden" not in flags and row["os_hidden"]:
            return False
        if tags and not set(tags) <= set(loads(row["tags"], [])):
            return False
        if size_min is not None and (row["size"] is None or row["size"] < size_min):
            return False
        if size_max is not None and (row["size"] is None or row["size"] > size_max):
            return False
        for name, value in exact.items():
            if row[name] != value:
                return False
        if checksum is not None and row["checksum"] != checksum:
            return False
        for name, (op, when) in times.items():
            if not _compare(op, row[name], when):
                return False
        props = loads(row["properties"], {})
        return all(props.get(k) == v for k, v in props_wanted)

    return matches


# -- update ---------------------------------------------------------------------------------------
def _draft10_op(item: dict) -> dict:
    """``{"replace": "/name", "value": v}`` (v2.0 patch) as ``{"op": "replace", "path": "/name", "value": v}``."""
    ops = [k for k in item if k in ("add", "replace", "remove")]
    if len(ops) != 1:
        raise E.BadRequest("Operations must have exactly one of add, replace or remove as a member "
                           "(application/openstack-images-v2.0-json-patch)")
    extra = set(item) - {ops[0], "value"}
    if extra:
        raise E.BadRequest(f"Unknown members in a patch operation: {', '.join(sorted(extra))}")
    out = {"op": ops[0], "path": item[ops[0]]}
    if "value" in item:
        out["value"] = item["value"]
    return out


def _patch_ops(req: ApiRequest, draft10: bool = False) -> list[tuple[str, str, Any]]:
    body = req.body
    if not isinstance(body, list):
        raise E.BadRequest("The request body must be a JSON array of operations (JSON patch)")
    ops = []
    for item in body:
        if not isinstance(item, dict):
            raise E.BadRequest("Operations must be JSON objects.")
        if draft10:
            item = _draft10_op(item)
        op = item.get("op")
        if op not in ("add", "replace", "remove"):
            raise E.BadRequest(f"Invalid operation: {op!r}. It must be add, replace or remove")
        path = item.get("path")
        if not isinstance(path, str) or not path.startswith("/") or len(path) < 2:
            raise E.BadRequest(f"Invalid JSON pointer for this resource: {path!r}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
        if re.search(r"~(?![01])", path):
            raise E.BadRequest(f"Invalid JSON pointer: {path!r} ('~' must be followed by 0 or 1)")
        if parts[0] == "locations":
            raise E.Forbidden("It's not allowed to update locations if locations are invisible.")
        if len(parts) != 1:
            raise E.BadRequest(f"Nested paths are not allowed: {path!r}")
        if op in ("add", "replace"):
            if "value" not in item:
                raise E.BadRequest(f"Operation {op} on {path!r} needs a 'value'")
        extra = set(item) - {"op", "path", "value"}
        if extra:
            raise E.BadRequest(f"Unknown members in a patch operation: {', '.join(sorted(extra))}")
        ops.append((op, parts[0], item.get("value")))
    return ops


@route("PATCH", "/v2/images/{image_id}")
def update_image(req: ApiRequest) -> Reply:
    """Change an image with a JSON patch (add/replace/remove)."""
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in PATCH_TYPES:
        raise E.UnsupportedMediaType(
            f"Unsupported Content-Type {content_type or '(none)'!r}: use {PATCH_TYPES[0]}",
            headers={"Accept-Patch": ", ".join(PATCH_TYPES)})
    row = _find_owned(req)
    ops = _patch_ops(req, draft10=content_type == DRAFT10_PATCH_TYPE)
    ctx = req.context
    core = {k: row[k] for k in ("name", "visibility", "owner", "container_format", "disk_format", "min_ram",
                                 "min_disk")}
    core["protected"] = bool(row["protected"])
    core["os_hidden"] = bool(row["os_hidden"])
    core["tags"] = loads(row["tags"], [])
    props = dict(loads(row["properties"], {}))
    for op, key, value in ops:
        if key in READ_ONLY:
            raise E.Forbidden(f"Attribute '{key}' is read-only.")
        if key in RESERVED or key.startswith("os_glance"):
            raise E.Forbidden(f"Attribute '{key}' is reserved.")
        if op == "remove":
            if key in WRITABLE:
                raise E.Forbidden(f"Property {key} may not be removed.")
            if key not in props:
                raise E.Conflict(f"Property {key} does not exist.")
            del props[key]
            continue
        if op == "replace" and key not in WRITABLE and key not in props:
            raise E.Conflict(f"Property {key} does not exist.")
        if key in ("visibility", "owner") and value == core[key]:
            pass  # no change: no policy check
        else:
            _check_attribute(key, value, ctx)
        if key in ("disk_format", "container_format") and value != core[key] and row["status"] != "queued":
            raise E.Forbidden(f"Attribute {key} can be only replaced for a queued image.")
        if key in WRITABLE:
            core[key] = _unique(value) if key == "tags" else value
        else:
            props[key] = value
    if len(props) > PROPERTY_QUOTA:
        raise E.RequestTooLarge(f"Maximum number of properties exceeded ({PROPERTY_QUOTA})")
    _touch(_db(req), row["id"], name=core["name"], visibility=core["visibility"], owner=core["owner"],
           container_format=core["container_format"], disk_format=core["disk_format"], min_ram=core["min_ram"],
           min_disk=core["min_disk"], protected=int(core["protected"]), os_hidden=int(core["os_hidden"]),
           tags=dumps(core["tags"]), properties=dumps(props))
    return Reply(image_view(_db(req).one("SELECT * FROM images WHERE id = ?", row["id"])))


# -- delete ---------------------------------------------------------------------------------------
def _data(req: ApiRequest) -> ImageData:
    try:
        compute = req.backend.compute()
    except E.ApiError:
        raise
    except Exception as exc:
        log.exception("the compute library is not available")
        raise E.ServiceUnavailable(f"The image store (RBD) is not available: {exc}") from None
    return ImageData(compute, Path(req.backend.settings.api_dir) / "uploads")


def _staging_path(req: ApiRequest, image_id: str) -> Path:
    return Path(req.backend.settings.api_dir) / "staging" / image_id


@route("DELETE", "/v2/images/{image_id}")
def delete_image(req: ApiRequest) -> None:
    """Delete an image and its data (403 when protected, 409 while a server uses it)."""
    row = _find_owned(req, "delete")
    if row["protected"]:
        raise E.Forbidden(f"Image {row['id']} is protected and cannot be deleted.")
    if row["rbd_name"]:
        _data(req).delete(row["id"], row["rbd_pool"], row["rbd_name"])
    _db(req).execute("DELETE FROM images WHERE id = ?", row["id"])
    _staging_path(req, row["id"]).unlink(missing_ok=True)


# -- data -----------------------------------------------------------------------------------------
def _expected_size(req: ApiRequest) -> int | None:
    text = req.headers.get("x-openstack-image-size")
    if text is None or text == "":
        return None
    try:
        size = int(text)
    except ValueError:
        raise E.BadRequest(f"Invalid X-OpenStack-Image-Size {text!r}: not an integer") from None
    if size < 0:
        raise E.BadRequest("Invalid X-OpenStack-Image-Size: must not be negative")
    return size


def _check_upload_type(req: ApiRequest) -> None:
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type not in UPLOAD_TYPES:
        raise E.UnsupportedMediaType(f"Unsupported Content-Type {content_type!r} for image data: use "
                                     "application/octet-stream")


def _claim(req: ApiRequest, row: dict, wanted: tuple[str, ...], new_status: str, verb: str) -> None:
    if not row["disk_format"] or not row["container_format"]:
        raise E.BadRequest("Properties disk_format, container_format must be set prior to saving data.")
    with _db(req).tx() as c:
        status = c.execute("SELECT status FROM images WHERE id = ?", (row["id"],)).fetchone()
        if status is None:
            raise E.NotFound(f"No image found with ID {row['id']}")
        if status["status"] not in wanted:
            raise E.Conflict(f"Image status transition from {status['status']} to {new_status} is not allowed "
                             f"({verb} needs a {' or '.join(wanted)} image)")
        c.execute("UPDATE images SET status = ?, updated_at = ? WHERE id = ?", (new_status, now(), row["id"]))


def _store(req: ApiRequest, row: dict, source: Any, expected_size: int | None, *, revert_to: str) -> None:
    """Store ``source`` as the image's data; the status becomes active, or
    ``revert_to`` when storing fails."""
    db = _db(req)
    try:
        stored = _data(req).store(row["id"], row["name"], source, disk_format=row["disk_format"],
                                  expected_size=expected_size, min_ram_mb=max(64, row["min_ram"] or 0))
    except BaseException:
        db.execute("UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status IN "
                   "('saving', 'importing')", revert_to, now(), row["id"])
        raise
    with db.tx() as c:
        alive = c.execute("SELECT 1 FROM images WHERE id = ?", (row["id"],)).fetchone()
        if alive:
            c.execute("UPDATE images SET status = 'active', size = ?, virtual_size = ?, checksum = ?, "
                      "os_hash_algo = ?, os_hash_value = ?, disk_format = ?, rbd_pool = ?, rbd_name = ?, "
                      "staged = 0, updated_at = ? WHERE id = ?",
                      (stored.size, stored.virtual_size, stored.checksum, HASH_ALGO, stored.os_hash_value,
                       stored.disk_format, stored.pool if stored.rbd_name else None, stored.rbd_name or None,
                       now(), row["id"]))
    if not alive and stored.rbd_name:  # deleted while uploading
        _data(req).delete(row["id"], stored.pool, stored.rbd_name)
        raise E.NotFound(f"Image {row['id']} was deleted during the upload")


@route("PUT", "/v2/images/{image_id}/file", body="raw")
def upload_image(req: ApiRequest) -> Reply:
    """Upload an image's data (queued → saving → active)."""
    _check_upload_type(req)
    row = _find_owned(req, "upload data to")
    expected = _expected_size(req)
    _claim(req, row, ("queued",), "saving", "an upload")
    _store(req, row, req.raw, expected, revert_to="queued")
    return Reply(None, status=204)


@route("GET", "/v2/images/{image_id}/file")
def download_image(req: ApiRequest) -> Response:
    """Download an image's data (streamed; 204 when it has none)."""
    row = _find(req)
    if row["status"] == "deactivated" and not req.context.is_admin:
        raise E.Forbidden("The requested image has been deactivated. Image data download is forbidden.")
    if row["status"] not in ("active", "deactivated") or row["size"] is None:
        return Response(status_code=204)
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(row["size"])}
    if row["checksum"]:
        headers["Content-MD5"] = row["checksum"]
    if req.method == "HEAD" or not row["rbd_name"]:
        return Response(b"", status_code=200, headers=headers)
    chunks = _data(req).export(row["rbd_pool"], row["rbd_name"], IMAGE_SNAP)
    first = next(chunks, None)  # rbd failing at once is a clean error, not a short body
    if first is None:
        raise E.ServiceUnavailable(f"The data of image {row['id']} could not be read from RBD "
                                   f"{row['rbd_pool']}/{row['rbd_name']}")
    chunks = _prepend(first, chunks)
    db = _db(req)
    if row["checksum"] is None:
        chunks = _fill_checksums(db, row, chunks)
    return _Download(chunks, status_code=200, headers=headers)


class _Download(StreamingResponse):
    """A streamed download that stops ``rbd export`` as soon as the response
    ends, also when the client went away half-way (instead of when the
    abandoned generator is garbage-collected)."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                try:
                    await run_in_threadpool(close)
                except ValueError:  # still running in a worker thread: it ends with its pipe
                    log.warning("a download generator could not be closed at once")

    def __init__(self, chunks: Iterator[bytes], **kwargs: Any):
        self._chunks = chunks
        super().__init__(chunks, **kwargs)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


def _fill_checksums(db: Database, row: dict, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Pass the data through, and record its checksums once it was all read
    (images registered without them, see :func:`register_existing_image`)."""
    hashes = Hashes()
    try:
        for chunk in chunks:
            hashes.update(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if hashes.size == row["size"]:
        db.execute("UPDATE images SET checksum = ?, os_hash_algo = ?, os_hash_value = ? WHERE id = ? AND "
                   "checksum IS NULL", hashes.md5.hexdigest(), HASH_ALGO, hashes.sha512.hexdigest(), row["id"])


# -- the import API (glance-direct) ---------------------------------------------------------------
@route("GET", "/v2/info/import")
def import_info(req: ApiRequest) -> dict:
    """The import methods this cloud supports."""
    return {"import-methods": {"description": "Import methods available.", "type": "array",
                               "value": list(IMPORT_METHODS)}}


@route("GET", "/v2/info/stores")
def stores_info(req: ApiRequest) -> dict:
    """Multiple stores are not supported (404, as Glance without enabled_backends)."""
    raise E.NotFound("Multi backend is not supported at this site.")


@route("GET", "/v2/info/usage")
def usage_info(req: ApiRequest) -> dict:
    """The caller's project's image usage (no limits)."""
    rows = _db(req).all("SELECT status, size FROM images WHERE owner = ?", req.context.project_id)
    total = sum(r["size"] or 0 for r in rows)
    staging = sum(1 for r in rows if r["status"] in ("uploading", "importing"))
    return {"usage": {"image_size_total": {"limit": -1, "usage": total // (1 << 20)},
                      "image_stage_total": {"limit": -1, "usage": 0},
                      "image_count_total": {"limit": -1, "usage": len(rows)},
                      "image_count_uploading": {"limit": -1, "usage": staging}}}


@route("PUT", "/v2/images/{image_id}/stage", body="raw")
def stage_image(req: ApiRequest) -> Reply:
    """Stage image data for a glance-direct import (queued → uploading)."""
    _check_upload_type(req)
    row = _find_owned(req, "stage data for")
    expected = _expected_size(req)
    _claim(req, row, ("queued",), "uploading", "staging")
    path = _staging_path(req, row["id"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with open(path, "wb") as out:
            while chunk := req.raw.read(1 << 20):
                size += len(chunk)
                out.write(chunk)
        if expected is not None and expected != size:
            raise E.BadRequest(f"The image data is {size} bytes, but the request said {expected} "
                               "(X-OpenStack-Image-Size)")
    except BaseException:
        path.unlink(missing_ok=True)
        _db(req).execute("UPDATE images SET status = 'queued', updated_at = ? WHERE id = ?", now(), row["id"])
        raise
    _touch(_db(req), row["id"], staged=1)
    return Reply(None, status=204)


IMPORT_SCHEMA = {
    "type": "object", "required": ["method"],
    "properties": {
        "method": {"type": "object", "required": ["name"],
                   "properties": {"name": {"type": "string"}, "uri": {"type": "string"}}},
        "stores": {"type": "array", "items": {"type": "string"}},
        "all_stores": {"type": "boolean"},
        "all_stores_must_succeed": {"type": "boolean"},
    },
}


@route("POST", "/v2/images/{image_id}/import", schema=IMPORT_SCHEMA, status=202)
def import_image(req: ApiRequest) -> Reply:
    """Import staged data (glance-direct): uploading → importing → active."""
    method = req.body["method"]["name"]
    if method not in IMPORT_METHODS:
        raise E.BadRequest(f"Import method {method!r} is not supported: this cloud supports "
                           f"{', '.join(IMPORT_METHODS)}")
    row = _find_owned(req, "import data into")
    if row["status"] != "uploading" or not row["staged"]:
        raise E.Conflict(f"Image {row['id']} is not ready for import: its status is {row['status']} "
                         "(stage the data first: PUT /v2/images/{id}/stage)")
    _claim(req, row, ("uploading",), "importing", "an import")
    path = _staging_path(req, row["id"])
    try:
        with open(path, "rb") as source:
            _store(req, row, source, None, revert_to="queued")
    except FileNotFoundError:
        _db(req).execute("UPDATE images SET status = 'queued', staged = 0 WHERE id = ?", row["id"])
        raise E.Conflict(f"The staged data of image {row['id']} is gone: stage it again") from None
    finally:
        path.unlink(missing_ok=True)
        _db(req).execute("UPDATE images SET staged = 0 WHERE id = ?", row["id"])
    return Reply(None, status=202)


# -- actions --------------------------------------------------------------------------------------
@route("POST", "/v2/images/{image_id}/actions/deactivate", body="none")
def deactivate_image(req: ApiRequest) -> None:
    """Deactivate an active image (its data can no longer be downloaded)."""
    row = _find_owned(req, "deactivate")
    if row["status"] not in ("active", "deactivated"):
        raise E.BadRequest(f"Not allowed to deactivate image in status '{row['status']}'")
    _touch(_db(req), row["id"], status="deactivated")


@route("POST", "/v2/images/{image_id}/actions/reactivate", body="none")
def reactivate_image(req: ApiRequest) -> None:
    """Reactivate a deactivated image."""
    row = _find_owned(req, "reactivate")
    if row["status"] not in ("active", "deactivated"):
        raise E.BadRequest(f"Not allowed to reactivate image in status '{row['status']}'")
    _touch(_db(req), row["id"], status="active")


# -- tags -----------------------------------------------------------------------------------------
@route("PUT", "/v2/images/{image_id}/tags/{tag}", body="none")
def add_tag(req: ApiRequest) -> None:
    """Add a tag (idempotent)."""
    row = _find_owned(req)
    tag = req.params["tag"]
    if len(tag) > 255:
        raise E.BadRequest("Tags are at most 255 characters long")
    tags = loads(row["tags"], [])
    if tag not in tags:
        if len(tags) >= TAG_QUOTA:
            raise E.RequestTooLarge(f"Maximum number of tags exceeded ({TAG_QUOTA})")
        tags.append(tag)
        _touch(_db(req), row["id"], tags=dumps(tags))


@route("DELETE", "/v2/images/{image_id}/tags/{tag}")
def delete_tag(req: ApiRequest) -> None:
    """Remove a tag."""
    row = _find_owned(req)
    tags = loads(row["tags"], [])
    if req.params["tag"] not in tags:
        raise E.NotFound(f"Tag {req.params['tag']} not found on image {row['id']}")
    tags.remove(req.params["tag"])
    _touch(_db(req), row["id"], tags=dumps(tags))


# -- members --------------------------------------------------------------------------------------
MEMBER_CREATE_SCHEMA = {"type": "object", "required": ["member"],
                        "properties": {"member": {"type": "string", "minLength": 1, "maxLength": 255}}}
MEMBER_UPDATE_SCHEMA = {"type": "object", "required": ["status"],
                        "properties": {"status": {"type": "string", "enum": list(MEMBER_STATUSES)}}}


def _shared(row: dict) -> None:
    if row["visibility"] != "shared":
        raise E.Forbidden("Only shared images have members.")


def _member(req: ApiRequest, row: dict) -> dict:
    member = _db(req).one("SELECT * FROM image_members WHERE image_id = ? AND member_id = ?", row["id"],
                          req.params["member_id"])
    ctx = req.context
    if member is None or not (_owns(ctx, row) or member["member_id"] == ctx.project_id):
        raise E.NotFound(f"Member {req.params['member_id']} not found for image {row['id']}")
    return member


@route("POST", "/v2/images/{image_id}/members", schema=MEMBER_CREATE_SCHEMA)
def create_member(req: ApiRequest) -> dict:
    """Share an image with a project (its membership starts pending)."""
    row = _find_owned(req, "share")
    _shared(row)
    member_id = req.body["member"]
    db = _db(req)
    stamp = now()
    with db.tx() as c:
        if c.execute("SELECT 1 FROM image_members WHERE image_id = ? AND member_id = ?",
                     (row["id"], member_id)).fetchone():
            raise E.Conflict(f"Member {member_id} already associated with image {row['id']}")
        count = c.execute("SELECT COUNT(*) FROM image_members WHERE image_id = ?", (row["id"],)).fetchone()[0]
        if count >= MEMBER_QUOTA:
            raise E.RequestTooLarge(f"Maximum number of image members exceeded ({MEMBER_QUOTA})")
        c.execute("INSERT INTO image_members (image_id, member_id, status, created_at, updated_at) "
                  "VALUES (?, ?, 'pending', ?, ?)", (row["id"], member_id, stamp, stamp))
    return member_view(db.one("SELECT * FROM image_members WHERE image_id = ? AND member_id = ?", row["id"],
                              member_id))


@route("GET", "/v2/images/{image_id}/members")
def list_members(req: ApiRequest) -> dict:
    """The image's members (a member sees only its own membership)."""
    row = _find(req)
    _shared(row)
    rows = _db(req).all("SELECT * FROM image_members WHERE image_id = ? ORDER BY created_at, member_id", row["id"])
    if not _owns(req.context, row):
        rows = [m for m in rows if m["member_id"] == req.context.project_id]
    return {"members": [member_view(m) for m in rows], "schema": "/v2/schemas/members"}


@route("GET", "/v2/images/{image_id}/members/{member_id}")
def show_member(req: ApiRequest) -> dict:
    """One membership."""
    return member_view(_member(req, _find(req)))


@route("PUT", "/v2/images/{image_id}/members/{member_id}", schema=MEMBER_UPDATE_SCHEMA)
def update_member(req: ApiRequest) -> dict:
    """Accept, reject or reset a membership (only the member itself does that)."""
    row = _find(req)
    member = _member(req, row)
    ctx = req.context
    if member["member_id"] != ctx.project_id and not ctx.is_admin:
        raise E.Forbidden("Only the member can change the status of its membership")
    _db(req).execute("UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member_id = ?",
                     req.body["status"], now(), row["id"], member["member_id"])
    return member_view(_db(req).one("SELECT * FROM image_members WHERE image_id = ? AND member_id = ?",
                                    row["id"], member["member_id"]))


@route("DELETE", "/v2/images/{image_id}/members/{member_id}")
def delete_member(req: ApiRequest) -> None:
    """Stop sharing an image with a project (the owner does that)."""
    row = _find(req)
    member = _member(req, row)
    if not _owns(req.context, row):
        raise E.Forbidden("Only the image's owner can remove its members")
    _db(req).execute("DELETE FROM image_members WHERE image_id = ? AND member_id = ?", row["id"],
                     member["member_id"])


# -- schemas --------------------------------------------------------------------------------------
def image_schema() -> dict:
    props: dict[str, Any] = {
        "id": {"type": "string", "description": "An identifier for the image",
               "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
        "name": {"type": ["null", "string"], "maxLength": 255,
                 "description": "Descriptive name for the image"},
        "status": {"type": "string", "readOnly": True, "enum": list(STATUSES),
                   "description": "Status of the image"},
        "visibility": {"type": "string", "enum": list(VISIBILITIES), "description": "Scope of image accessibility"},
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list "
                                                          "response."},
        "checksum": {"type": ["null", "string"], "readOnly": True, "maxLength": 32,
                     "description": "md5 hash of image contents."},
        "os_hash_algo": {"type": ["null", "string"], "readOnly": True, "maxLength": 64,
                         "description": "Algorithm to calculate the os_hash_value"},
        "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128,
                          "description": "Hexdigest of the image contents using the algorithm specified by the "
                                         "os_hash_algo"},
        "owner": {"type": ["null", "string"], "maxLength": 255, "description": "Owner of the image"},
        "size": {"type": ["null", "integer"], "readOnly": True, "description": "Size of image file in bytes"},
        "virtual_size": {"type": ["null", "integer"], "readOnly": True, "description": "Virtual size of image in "
                                                                                        "bytes"},
        "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS],
                             "description": "Format of the container"},
        "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS],
                        "description": "Format of the disk"},
        "created_at": {"type": "string", "readOnly": True, "description": "Date and time of image registration"},
        "updated_at": {"type": "string", "readOnly": True,
                       "description": "Date and time of the last image modification"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
                 "description": "List of strings related to the image"},
        "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
    }
    return {"name": "image", "properties": props, "additionalProperties": {"type": "string"},
            "links": [{"href": "{self}", "rel": "self"}, {"href": "{file}", "rel": "enclosure"},
                      {"href": "{schema}", "rel": "describedby"}]}


def member_schema() -> dict:
    return {"name": "member", "properties": {
        "created_at": {"type": "string", "description": "Date and time of image member creation"},
        "image_id": {"type": "string", "description": "An identifier for the image"},
        "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
        "schema": {"type": "string", "readOnly": True},
        "status": {"type": "string", "enum": list(MEMBER_STATUSES), "description": "The status of this image member"},
        "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
    }}


@route("GET", "/v2/schemas/image")
def schema_image(req: ApiRequest) -> dict:
    """The JSON schema of an image."""
    return image_schema()


@route("GET", "/v2/schemas/images")
def schema_images(req: ApiRequest) -> dict:
    """The JSON schema of an image list."""
    return {"name": "images", "properties": {
        "images": {"type": "array", "items": image_schema()},
        "schema": {"type": "string"}, "first": {"type": "string"}, "next": {"type": "string"}},
        "links": [{"href": "{first}", "rel": "first"}, {"href": "{next}", "rel": "next"},
                  {"href": "{schema}", "rel": "describedby"}]}


@route("GET", "/v2/schemas/member")
def schema_member(req: ApiRequest) -> dict:
    """The JSON schema of an image member."""
    return member_schema()


@route("GET", "/v2/schemas/members")
def schema_members(req: ApiRequest) -> dict:
    """The JSON schema of a member list."""
    return {"name": "members", "properties": {"members": {"type": "array", "items": member_schema()},
                                              "schema": {"type": "string"}},
            "links": [{"href": "{schema}", "rel": "describedby"}]}


# -- for `octoprobe cloud up` ----------------------------------------------------------------------
def register_existing_image(backend_or_db: Any, compute_image: Any, *, name: str, owner_project_id: str,
                            visibility: str = "public", disk_format: str = "raw",
                            container_format: str = "bare", properties: dict[str, str] | None = None,
                            rbd: Any = None) -> dict:
    """Record in Glance an image that is already in RBD and in the compute
    store (``compute_image``: a :class:`~..compute.model.Image`, e.g. the
    guest image from ``ComputeService.ensure_guest_image()``), under the same
    id, active, owned by ``owner_project_id``.

    ``backend_or_db``: the API :class:`~.backend.Backend`, a
    :class:`~.db.Database`, or the path of the API's database (opened and
    closed here); the image tables are created if missing. Idempotent: when
    the image is recorded already, nothing changes and it is returned.

    Checksums: with ``rbd`` (an :class:`~octoprobe.ceph.RbdClient`, e.g.
    ``compute.rbd``) they are computed now, by reading the image's snapshot
    once (about a second for the 64 MiB guest image); without it the first
    complete download records them. Returns the image as
    ``GET /v2/images/{id}`` shows it (links relative to the endpoint).
    """
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}, not {visibility!r}")
    if disk_format not in DISK_FORMATS or container_format not in CONTAINER_FORMATS:
        raise ValueError(f"unknown disk_format {disk_format!r} or container_format {container_format!r}")
    props = {str(k): str(v) for k, v in (properties or {}).items()}
    bad = [k for k in props if k in WRITABLE or k in READ_ONLY or k in RESERVED or k.startswith("os_glance")]
    if bad:
        raise ValueError(f"properties may not set core or reserved attributes: {', '.join(bad)}")
    db, close = _open_db(backend_or_db)
    try:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        image_id = str(compute_image.id)
        row = db.one("SELECT * FROM images WHERE id = ?", image_id)
        if row is None:
            stamp = float(getattr(compute_image, "created_at", 0.0) or now())
            size = int(compute_image.size_bytes)
            db.execute("INSERT OR IGNORE INTO images (id, name, status, visibility, owner, protected, "
                       "os_hash_algo, size, virtual_size, disk_format, container_format, min_disk, min_ram, "
                       "tags, properties, created_at, updated_at, rbd_pool, rbd_name) "
                       "VALUES (?, ?, 'active', ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?)",
                       image_id, name, visibility, owner_project_id, HASH_ALGO, size, size, disk_format,
                       container_format, int(getattr(compute_image, "min_disk_gb", 0) or 0),
                       int(getattr(compute_image, "min_ram_mb", 0) or 0), dumps(props), stamp, now(),
                       compute_image.pool, compute_image.rbd_name)
            row = db.one("SELECT * FROM images WHERE id = ?", image_id)
        if rbd is not None and row["checksum"] is None and row["rbd_name"]:
            hashes = Hashes()
            for chunk in ImageData.export_with(rbd, row["rbd_pool"], row["rbd_name"],
                                               getattr(compute_image, "snap", IMAGE_SNAP)):
                hashes.update(chunk)
            if hashes.size != row["size"]:
                raise RuntimeError(f"reading RBD image {row['rbd_pool']}/{row['rbd_name']} gave {hashes.size} "
                                   f"bytes, expected {row['size']}")
            db.execute("UPDATE images SET checksum = ?, os_hash_algo = ?, os_hash_value = ? WHERE id = ?",
                       hashes.md5.hexdigest(), HASH_ALGO, hashes.sha512.hexdigest(), image_id)
            row = db.one("SELECT * FROM images WHERE id = ?", image_id)
        return image_view(row)
    finally:
        if close:
            db.close()


def hide_superseded(db: Database, name: str, image_ids: list[str]) -> None:
    """Images ``image_ids`` still called ``name`` become ``<name>-superseded``
    and hidden (``os_hidden``): usable by id, while ``name`` names one image."""
    for image_id in image_ids:
        db.execute("UPDATE images SET name = ?, os_hidden = 1 WHERE id = ? AND name = ?",
                   f"{name}-superseded", image_id, name)


def _open_db(backend_or_db: Any) -> tuple[Database, bool]:
    if isinstance(backend_or_db, Database):
        return backend_or_db, False
    db = getattr(backend_or_db, "db", None)
    if isinstance(db, Database):
        return db, False
    if isinstance(backend_or_db, (str, Path)):
        return Database.open(backend_or_db, (SCHEMA,)), True
    raise TypeError(f"expected a Backend, a Database or a database path, not {type(backend_or_db).__name__}")


def visible_image(backend_or_db: Any, ctx: Any, image_id: str) -> dict:
    """The image ``image_id`` as ``GET /v2/images/{id}`` shows it to ``ctx``
    (a :class:`~.context.RequestContext`), for other services (Nova's server
    create and image proxy); raises :class:`~.errors.NotFound` (404) when it
    does not exist or ``ctx`` may not see it."""
    db, close = _open_db(backend_or_db)
    try:
        row = db.one("SELECT * FROM images WHERE id = ?", _canonical(image_id)) if UUID_RE.match(image_id) \
            else None
        if row is None or not _visible(ctx, row, _member_status(db, row["id"], ctx.project_id)):
            raise E.NotFound(f"No image found with ID {image_id}")
        return image_view(row)
    finally:
        if close:
            db.close()
