"""Neutron's tags (standard-attr-tag): ``/v2.0/{collection}/{id}/tags``
for networks, subnets, ports, routers, floating IPs, security groups and
subnet pools. Reading needs the resource to be visible, changing it needs
ownership; tags are API records (the library keeps none)."""

from __future__ import annotations

from typing import Any, Callable

from . import errors as E
from . import network_schemas as S
from .network_base import V2, bad_request, check_owner, library_errors, not_found, owns, plane, route
from .network_routes_l2 import visible_network, visible_port, visible_subnet
from .network_routes_l3 import visible_fip, visible_router
from .network_routes_sg import visible_group
from .network_store import store
from .routing import ApiRequest, Reply

MAX_TAG = 255

# collection → (kind in the store, how to find a visible one in the library's state)
LOOKUPS: dict[str, tuple[str, Callable[[ApiRequest, Any, str], Any]]] = {
    "networks": ("network", visible_network),
    "subnets": ("subnet", visible_subnet),
    "ports": ("port", visible_port),
    "routers": ("router", visible_router),
    "floatingips": ("floatingip", visible_fip),
    "security-groups": ("security_group", visible_group),
}


class _Target:
    """One taggable resource: its tags, and how to save new ones."""

    def __init__(self, req: ApiRequest, collection: str, ident: str):
        self.req = req
        if collection == "subnetpools":
            pool = store(req).subnetpool(ident)
            if pool is None or not (owns(req, pool["project_id"]) or pool.get("shared")):
                raise not_found("subnetpool", ident)
            self.kind, self.project_id, self.pool = "subnetpool", pool["project_id"], pool
            self.tags = list(pool.get("tags") or [])
        elif collection in LOOKUPS:
            self.kind, find = LOOKUPS[collection]
            with library_errors():
                state = plane(req).state()
            item = find(req, state, ident)
            self.project_id, self.pool = item.project_id, None
            self.tags = store(req).one(self.kind, ident).tags
        else:
            raise E.NotFound(f"The resource could not be found: {collection} has no tags", kind="NotFound")
        self.ident = ident

    def save(self, tags: list[str]) -> list[str]:
        check_owner(self.req, self.kind, self.ident, self.project_id)
        tags = sorted(set(tags))
        if self.pool is not None:
            self.pool["tags"] = tags
            store(self.req).save_subnetpool(self.pool)
        else:
            store(self.req).touch(self.kind, self.ident, tags=tags)
        return tags


def _check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG or "," in tag or "/" in tag:
        raise bad_request(f"Invalid input for tags: {tag!r} is not a tag (1 to {MAX_TAG} characters, no ',' or '/')")
    return tag


PATH = V2 + "/{collection}/{ident}/tags"


@route("GET", PATH)
def list_tags(req: ApiRequest) -> dict:
    return {"tags": sorted(_Target(req, req.params["collection"], req.params["ident"]).tags)}


@route("PUT", PATH, schema=S.TAGS_REPLACE)
def replace_tags(req: ApiRequest) -> dict:
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list) or set(body) != {"tags"}:
        raise bad_request("Resource body required: {\"tags\": [...]}")
    tags = [_check_tag(t) for t in body["tags"]]
    return {"tags": _Target(req, req.params["collection"], req.params["ident"]).save(tags)}


@route("DELETE", PATH)
def delete_tags(req: ApiRequest) -> None:
    _Target(req, req.params["collection"], req.params["ident"]).save([])


@route("GET", PATH + "/{tag}")
def check_tag(req: ApiRequest) -> Reply:
    target = _Target(req, req.params["collection"], req.params["ident"])
    if req.params["tag"] not in target.tags:
        raise E.NotFound(f"Tag {req.params['tag']} could not be found.", kind="TagNotFound")
    return Reply(None, status=204)


@route("PUT", PATH + "/{tag}")
def add_tag(req: ApiRequest) -> Reply:
    tag = _check_tag(req.params["tag"])
    target = _Target(req, req.params["collection"], req.params["ident"])
    target.save(target.tags + [tag])
    return Reply(None, status=201)


@route("DELETE", PATH + "/{tag}")
def remove_tag(req: ApiRequest) -> None:
    target = _Target(req, req.params["collection"], req.params["ident"])
    if req.params["tag"] not in target.tags:
        raise E.NotFound(f"Tag {req.params['tag']} could not be found.", kind="TagNotFound")
    target.save([t for t in target.tags if t != req.params["tag"]])
