"""Cinder v3, mounted at ``/volume`` (the catalog's ``block-storage`` and
``volumev3`` entries point at ``/volume/v3``; every route is also served
under ``/volume/v3/{project_id}``).

* version discovery: ``GET /volume/`` (300, the versions) and ``GET /volume/v3/``;
* volumes, their actions and metadata (:mod:`.volume_volumes`, :mod:`.volume_actions`);
* snapshots and their metadata (:mod:`.volume_snapshots`);
* availability zones, types, extensions, quota sets, limits (:mod:`.volume_misc`).

Volumes are RBD images ``volumes/volume-<id>`` made by the block library
(:mod:`..block.volumes`); Cinder's records are in the API's database
(:mod:`.volume_store`). Microversions: see :mod:`.volume_base`.
"""

from __future__ import annotations

from . import volume_actions, volume_misc, volume_snapshots, volume_volumes  # noqa: F401  (routes)
from .routing import ApiRequest, Reply
from .volume_base import MAX_VERSION, MIN_VERSION, service, vstr
from .volume_store import SCHEMA

__all__ = ["service", "SCHEMA"]


def _version_doc(req: ApiRequest) -> dict:
    return {"id": "v3.0", "status": "CURRENT", "version": vstr(MAX_VERSION), "min_version": vstr(MIN_VERSION),
            "updated": "2023-02-20T00:00:00Z",
            "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": f"{req.base_url}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


@service.route("GET", "/", public=True)
def versions(req: ApiRequest) -> Reply:
    """Version discovery: v3 only (300 Multiple Choices, as Cinder)."""
    return Reply({"versions": [_version_doc(req)]}, status=300)


@service.route("GET", "/v3", public=True)
@service.route("GET", "/v3/", public=True)
def version_v3(req: ApiRequest) -> dict:
    """The v3 version document with the microversion range."""
    return {"versions": [_version_doc(req)]}
