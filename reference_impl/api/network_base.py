"""What every Neutron route shares: the service object, the mapping of the
network library's exceptions to Neutron's errors, who may see and change
what, and the list machinery (filters, ``fields``, sorting, pagination).

Neutron's policy, as the reference cloud applies it:

* a project sees its own resources; networks that are shared or external
  (and their subnets) are visible to every project; an admin sees all;
* a resource the caller cannot see is a 404 (never a 403), one it can see
  but does not own is a 403 on writes;
* ``tenant_id`` and ``project_id`` are the same thing, both shown and both
  accepted; only an admin may name another project.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

from . import errors as E
from .routing import ApiRequest, Service

service = Service("neutron", "/network", title="network")
route = service.route

V2 = "/v2.0"
MAX_LIMIT = 1000
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "t", "y"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "f", "n"})
CONTROL_PARAMS = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tags",
                            "tags-any", "not-tags", "not-tags-any"})


# -- errors -----------------------------------------------------------------------------------
@contextmanager
def library_errors() -> Iterator[None]:
    """Turn the network library's exceptions into Neutron's errors: status
    and type from the exception, its message as the message."""
    from ..network import errors as NE
    try:
        yield
    except E.ApiError:
        raise
    except NE.NetworkError as exc:
        raise E.ApiError(str(exc), status=exc.status, kind=exc.neutron_type) from exc
    except OverflowError as exc:
        raise E.Conflict(str(exc), kind="OverQuota") from exc


def not_found(kind: str, ident: Any) -> E.NotFound:
    names = {"network": "Network", "subnet": "Subnet", "port": "Port", "router": "Router",
             "floatingip": "FloatingIP", "security_group": "SecurityGroup",
             "security_group_rule": "SecurityGroupRule", "subnetpool": "SubnetPool"}
    name = names.get(kind, kind)
    label = kind.replace("_", " ").replace("floatingip", "floating IP")
    return E.NotFound(f"{label[0].upper()}{label[1:]} {ident} could not be found.", kind=f"{name}NotFound")


def bad_request(message: str) -> E.BadRequest:
    return E.BadRequest(message, kind="HTTPBadRequest")


def plane(req: ApiRequest) -> Any:
    """The reference cloud's NetworkPlane."""
    try:
        return req.backend.network()
    except E.ApiError:
        raise
    except Exception as exc:  # the data plane is not there (no cloud up)
        raise E.ServiceUnavailable(f"the network data plane is not available: {exc}") from exc


def default_group(req: ApiRequest, project_id: str) -> Any:
    """The project's ``default`` security group, made when missing. Making it
    holds the database's write lock, so two first requests of one project
    make one group."""
    from . import provision
    p = plane(req)
    with library_errors():
        for group in p.list_security_groups():
            if group.project_id == project_id and group.name == provision.DEFAULT_GROUP:
                return group
        with req.backend.db.tx():
            return provision.ensure_default_group(p, project_id)


# -- policy ------------------------------------------------------------------------------------
def owns(req: ApiRequest, project_id: str | None) -> bool:
    return req.context.owns(project_id)


def check_owner(req: ApiRequest, kind: str, ident: str, project_id: str | None, visible: bool = True) -> None:
    """Writes: a resource the caller cannot see is a 404; one it sees but does
    not own is a 403."""
    if owns(req, project_id):
        return
    if not visible:
        raise not_found(kind, ident)
    raise E.Forbidden(f"Policy does not allow this operation on {kind} {ident}: it belongs to another project",
                      kind="PolicyNotAuthorized")


def target_project(req: ApiRequest, body: dict) -> str:
    """The project a new resource belongs to: the caller's, or (admins only)
    the one named by ``project_id``/``tenant_id``."""
    ctx = req.context
    pid = body.get("project_id")
    tid = body.get("tenant_id")
    if pid is not None and tid is not None and pid != tid:
        raise bad_request("'project_id' and 'tenant_id' do not match")
    wanted = pid if pid is not None else tid
    if wanted is None or wanted == ctx.project_id:
        return ctx.project_id
    if not isinstance(wanted, str) or not wanted:
        raise bad_request(f"Invalid input for project_id: {wanted!r}")
    if not ctx.is_admin:
        raise E.Forbidden("Policy does not allow creating a resource for another project",
                          kind="PolicyNotAuthorized")
    return wanted


def admin_only(req: ApiRequest, body: dict, names: tuple[str, ...]) -> None:
    """Attributes only an admin may set (provider:*, binding:*, router:external …)."""
    if req.context.is_admin:
        return
    given = [n for n in names if n in body]
    if given:
        raise E.Forbidden(f"Policy does not allow setting {', '.join(given)}: admin role required",
                          kind="PolicyNotAuthorized")


# -- request bodies ------------------------------------------------------------------------
def envelope(req: ApiRequest, key: str) -> dict:
    """``{"network": {...}}`` → the inner dict (400 when missing)."""
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise bad_request(f"Resource body required: a JSON object with a '{key}' object")
    return body[key]


def check_attributes(body: dict, allowed: frozenset[str] | set[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(unknown)}'")


def object_schema(properties: dict, required: tuple[str, ...] = ()) -> dict:
    """An object with typed properties. Unknown ones are left to the handler,
    which refuses them in Neutron's words ("Unrecognized attribute(s)")."""
    return {"type": "object", "properties": properties, "required": list(required)}


def wrapped(key: str, properties: dict, required: tuple[str, ...] = (), *, bulk: bool = False) -> dict:
    """``{key: {...}}``; with ``bulk``, also ``{key + "s": [{...}, ...]}``."""
    inner = object_schema(properties, required)
    if not bulk:
        return {"type": "object", "properties": {key: inner}, "required": [key]}
    return {"type": "object", "minProperties": 1,
            "properties": {key: inner, key + "s": {"type": "array", "items": inner, "minItems": 1}}}


# -- lists -----------------------------------------------------------------------------------
def _as_text(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false", "True" if value else "False", "1" if value else "0"]
    if value is None:
        return ["", "None", "null"]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, dict):
                out.extend(str(v) for v in item.values())
            else:
                out.append(str(item))
        return out
    return [str(value)]


def _matches(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        lowered = {w.lower() for w in wanted}
        return bool(lowered & (TRUE_WORDS if value else FALSE_WORDS))
    texts = _as_text(value)
    return any(w in texts for w in wanted)


def filter_items(req: ApiRequest, items: list[dict], *, extra: dict[str, Callable[[dict, list[str]], bool]]
                 | None = None) -> list[dict]:
    """Every query parameter that is not a control parameter filters on the
    attribute of that name; repeated values are alternatives. ``fixed_ips``
    takes ``ip_address=…``/``subnet_id=…``; tags filters follow Neutron."""
    extra = extra or {}
    names = {k for k, _ in req.query.multi_items()}
    for name in sorted(names - CONTROL_PARAMS):
        wanted = req.query.getlist(name)
        if name in extra:
            items = [i for i in items if extra[name](i, wanted)]
        elif name == "fixed_ips":
            items = [i for i in items if _match_fixed_ips(i.get("fixed_ips") or [], wanted)]
        elif items and name not in items[0]:
            continue  # Neutron ignores filters on unknown attributes
        else:
            items = [i for i in items if _matches(i.get(name), wanted)]
    for name in ("tags", "tags-any", "not-tags", "not-tags-any"):
        values = [t for v in req.query.getlist(name) for t in v.split(",") if t]
        if not values:
            continue
        if name == "tags":
            items = [i for i in items if set(values) <= set(i.get("tags") or [])]
        elif name == "tags-any":
            items = [i for i in items if set(values) & set(i.get("tags") or [])]
        elif name == "not-tags":
            items = [i for i in items if not set(values) <= set(i.get("tags") or [])]
        else:
            items = [i for i in items if not set(values) & set(i.get("tags") or [])]
    return items


def _match_fixed_ips(fixed: list[dict], wanted: list[str]) -> bool:
    for want in wanted:
        key, _, value = want.partition("=")
        if not _:
            return False
        if not any(str(f.get(key)) == value for f in fixed):
            return False
    return True


def sort_items(req: ApiRequest, items: list[dict]) -> list[dict]:
    keys = req.query.getlist("sort_key")
    dirs = req.query.getlist("sort_dir")
    if not keys:
        return items
    if len(dirs) > len(keys) or (dirs and len(dirs) != len(keys)):
        if len(dirs) != 1:
            raise bad_request("The number of sort_keys and sort_dirs must be same")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise bad_request(f"{d} is invalid attribute for sort_dir, it must be 'asc' or 'desc'")
    known = set(items[0]) if items else set()
    for key in keys:
        if items and key not in known:
            raise bad_request(f"{key} is invalid attribute for sort_key")
    result = list(items)
    for index in range(len(keys) - 1, -1, -1):
        key = keys[index]
        direction = dirs[index] if index < len(dirs) else (dirs[0] if dirs else "asc")
        result.sort(key=lambda i, k=key: _sort_value(i.get(k)), reverse=direction == "desc")
    return result


def _sort_value(value: Any) -> tuple:
    if value is None:
        return (0, "")
    if isinstance(value, (bool, int, float)):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def select_fields(req: ApiRequest, doc: dict) -> dict:
    fields = [f for v in req.query.getlist("fields") for f in v.split(",") if f]
    if not fields:
        return doc
    return {k: v for k, v in doc.items() if k in fields}


def list_reply(req: ApiRequest, collection: str, items: list[dict]) -> dict:
    """Filter, sort, paginate and trim a collection; ``<collection>_links``
    carries the next/previous pages."""
    items = sort_items(req, filter_items(req, items))
    limit = req.query_int("limit", None, minimum=0)
    marker = req.query_one("marker")
    reverse = req.query_bool("page_reverse", False)
    links: list[dict] = []
    if marker is not None:
        index = next((i for i, item in enumerate(items) if item.get("id") == marker), None)
        if index is None:
            raise E.NotFound(f"Marker {marker} could not be found.", kind="NotFound")
        before, after = items[:index], items[index + 1:]
    else:
        before, after = [], items
    if reverse:
        page_source = before if marker is not None else items
        page = page_source[-limit:] if limit else page_source
    else:
        page = after[:limit] if limit else after
    if limit:
        params = [(k, v) for k, v in req.query.multi_items() if k not in ("marker", "page_reverse")]
        url = f"{req.base_url}{V2}/{collection}"
        if page and (len(after) > len(page) if not reverse else True):
            links.append({"rel": "next", "href": f"{url}?{urlencode(params + [('marker', page[-1]['id'])])}"})
        if page and (marker is not None or reverse):
            back = params + [("marker", page[0]["id"]), ("page_reverse", "True")]
            links.append({"rel": "previous", "href": f"{url}?{urlencode(back)}"})
    reply: dict = {collection: [select_fields(req, i) for i in page]}
    if links:
        reply[f"{collection}_links"] = links
    return reply


def show_reply(req: ApiRequest, key: str, doc: dict) -> dict:
    return {key: select_fields(req, doc)}
