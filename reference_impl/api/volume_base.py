"""What every Cinder route shares: the service, microversion negotiation,
routes served with and without the project id, the mapping of the block
library's exceptions, lists (filters, sorting, pagination) and the views.

Microversions: ``OpenStack-API-Version: volume 3.X``; ``latest`` is the
maximum; no header is 3.0. Only 3.0 is claimed: the fields and behaviours of
later microversions (group_id, counts, in-use extend, the attachments API …)
are not served, so a client asking for more gets 406 and falls back.
"""

from __future__ import annotations

import ast
import json
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

from . import errors as E
from . import microversions
from .microversions import VERSION_HEADER, vstr
from .db import iso
from .routing import ApiRequest, Handler, Service

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 0)
BACKEND_HOST = "ctl@ceph#volumes"  # Cinder's host@backend#pool, shown to admins
AVAILABILITY_ZONE = "nova"  # Cinder's default storage zone: Ceph spans every rack
VOLUME_STATUSES = frozenset(
    "creating available reserved attaching detaching in-use maintenance deleting awaiting-transfer error "
    "error_deleting backing-up restoring-backup error_backing-up error_restoring error_extending downloading "
    "uploading retyping extending".split())


def requested_version(headers: Any) -> tuple[int, int]:
    return microversions.requested_version(headers, "volume", MIN_VERSION, MAX_VERSION)


def negotiate(req: ApiRequest) -> None:
    """The service's ``before`` hook: the microversion, and a project id in
    the URL that must be the caller's."""
    version = requested_version(req.headers)
    req.microversion = version
    req.response_headers[VERSION_HEADER] = f"volume {vstr(version)}"
    req.response_headers["Vary"] = VERSION_HEADER
    project = req.params.get("project_id")
    if project is not None and req.ctx is not None and project != req.ctx.project_id:
        raise E.BadRequest(f"Malformed request url: the URL's project_id {project!r} does not match the "
                           "token's project")


service = Service("cinder", "/volume", title="block-storage", before=negotiate)


def route(method: str, path: str, **kw: Any) -> Callable[[Handler], Handler]:
    """A v3 route at ``/v3<path>`` and ``/v3/{project_id}<path>`` (the
    catalog's endpoint has no project id; older clients add one)."""
    def register(handler: Handler) -> Handler:
        service.route(method, f"/v3{path}", **kw)(handler)
        service.route(method, f"/v3/{{project_id}}{path}", **kw)(handler)
        return handler
    return register


def v3_base(req: ApiRequest) -> str:
    """``<base>/v3`` or ``<base>/v3/<project>``, as the request was addressed."""
    project = req.params.get("project_id")
    return f"{req.base_url}/v3" + (f"/{project}" if project else "")


def links(req: ApiRequest, kind: str, ident: str) -> list[dict]:
    project = req.context.project_id
    return [{"rel": "self", "href": f"{req.base_url}/v3/{project}/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{req.base_url}/{project}/{kind}/{ident}"}]


def body_of(req: ApiRequest, key: str) -> dict:
    """``req.body[key]`` as an object, else 400."""
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise E.BadRequest(f"Missing required element '{key}' in request body.")
    return body[key]


def whole(value: Any, what: str, *, minimum: int = 1) -> int:
    """An integer (or its decimal string) of at least ``minimum``, else 400."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise E.BadRequest(f"Invalid input received: {what} must be an integer, not {value!r}")
    if value < minimum:
        raise E.BadRequest(f"Invalid input received: {what} must be an integer of at least {minimum}, "
                           f"not {value}")
    if value > 2 ** 31 - 1:
        raise E.BadRequest(f"Invalid input received: {what} is too large")
    return value


def boolean(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "y", "t"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", "n", "f"):
        return False
    raise E.BadRequest(f"Invalid input received: {what} must be a boolean, not {value!r}")


def check_metadata(value: Any, what: str = "metadata") -> dict[str, str]:
    if not isinstance(value, dict):
        raise E.BadRequest(f"Invalid input received: {what} must be an object of strings")
    for key, item in value.items():
        if not key or len(key) > 255:
            raise E.BadRequest(f"Invalid input received: {what} keys must be 1 to 255 characters")
        if not isinstance(item, str) or len(item) > 255:
            raise E.BadRequest(f"Invalid input received: {what} value of {key!r} must be a string of at most "
                               "255 characters")
    return dict(value)


def text(value: Any, what: str, *, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise E.BadRequest(f"Invalid input received: {what} must be a string of at most {limit} characters")
    return value


@contextmanager
def library_errors(what: str = "") -> Iterator[None]:
    """The block and compute libraries' exceptions as Cinder responses."""
    from ..block.volumes import BlockError
    from ..compute.errors import ComputeError
    try:
        yield
    except E.ApiError:
        raise
    except BlockError as exc:
        raise E.ApiError(f"{what}{exc}", status=exc.http_status) from exc
    except ComputeError as exc:
        raise E.ApiError(f"{what}{exc}", status=getattr(exc, "http_status", 500)) from exc


# -- lists ------------------------------------------------------------------------------------
def query_dict(req: ApiRequest, name: str) -> dict | None:
    """A dict-valued filter (``metadata={'k': 'v'}``, JSON or a Python literal)."""
    raw = req.query_one(name)
    if raw is None:
        return None
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    raise E.BadRequest(f"Invalid filter {name}: {raw!r} is not a dictionary")


def sort_spec(req: ApiRequest, keys: frozenset[str]) -> list[tuple[str, str]]:
    """``sort=k1:asc,k2`` or ``sort_key``/``sort_dir``; default created_at desc, id desc."""
    spec: list[tuple[str, str]] = []
    if req.query_one("sort"):
        if req.query_one("sort_key") or req.query_one("sort_dir"):
            raise E.BadRequest("The 'sort' parameter cannot be used with 'sort_key' or 'sort_dir'")
        for part in req.query_one("sort").split(","):
            key, _, direction = part.strip().partition(":")
            spec.append((key, direction or "desc"))
    elif req.query_one("sort_key") or req.query_one("sort_dir"):
        keys_given = (req.query_one("sort_key") or "created_at").split(",")
        dirs = (req.query_one("sort_dir") or "desc").split(",")
        spec = [(k, dirs[min(i, len(dirs) - 1)]) for i, k in enumerate(keys_given)]
    for key, direction in spec:
        if key not in keys:
            raise E.BadRequest(f"Invalid input received: sort key {key!r} is not one of {', '.join(sorted(keys))}")
        if direction not in ("asc", "desc"):
            raise E.BadRequest(f"Invalid input received: sort direction {direction!r} is not asc or desc")
    if not any(k == "created_at" for k, _ in spec):
        spec.append(("created_at", spec[-1][1] if spec else "desc"))
    if not any(k == "id" for k, _ in spec):
        spec.append(("id", spec[-1][1]))
    return spec


def sort_rows(rows: list[dict], spec: list[tuple[str, str]], column: Callable[[str], str]) -> list[dict]:
    for key, direction in reversed(spec):
        col = column(key)
        rows = sorted(rows, key=lambda r: (r.get(col) is not None, r.get(col) if r.get(col) is not None else 0),
                      reverse=direction == "desc")
    return rows


def page(req: ApiRequest, rows: list[dict], kind: str, *, path: str) -> tuple[list[dict], list[dict] | None]:
    """``marker``/``limit``/``offset`` over sorted rows; a ``next`` link when the page is full."""
    limit = req.query_int("limit", None, minimum=0)
    offset = req.query_int("offset", 0, minimum=0)
    marker = req.query_one("marker")
    if marker is not None:
        index = next((i for i, r in enumerate(rows) if r["id"] == marker), None)
        if index is None:
            raise E.NotFound(f"Marker {marker} could not be found.")
        rows = rows[index + 1:]
    rows = rows[offset:]
    max_limit = 1000
    effective = min(limit, max_limit) if limit is not None else max_limit
    shown = rows[:effective]
    next_links = None
    if shown and (len(shown) == effective) and (limit is not None or len(rows) > max_limit):
        params = [(k, v) for k, v in req.query.multi_items() if k not in ("marker", "offset")]
        params.append(("marker", shown[-1]["id"]))
        next_links = [{"rel": "next", "href": f"{v3_base(req)}{path}?{urlencode(params)}"}]
    return shown, next_links


def all_projects(req: ApiRequest) -> bool:
    """``all_tenants`` (admins only; ignored for others, as Cinder)."""
    return req.context.is_admin and req.query_bool("all_tenants", False)


def stamp(ts: float | None) -> str | None:
    """Cinder's timestamps: ``2026-11-24T04:02:24.000000``."""
    value = iso(ts)
    return value[:-1] + ".000000" if value else None
