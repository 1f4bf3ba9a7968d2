"""Cinder's small resources: availability zones, volume types (fixed, see
:mod:`.volume_types`), extensions, quota sets and absolute limits."""

from __future__ import annotations

from . import errors as E
from .routing import ApiRequest, Reply
from .volume_base import AVAILABILITY_ZONE, route, whole
from .volume_quotas import DEFAULTS, limits, usage
from .volume_store import runtime
from .volume_types import TYPES, find_type, type_view

EXTENSIONS = (
    ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Extended SnapshotAttributes support."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "Expose the internal project_id as an attribute of a volume."),
    ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
    ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."),
    ("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ("os-admin-actions", "AdminActions", "Enable admin actions."),
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("os-types-manage", "TypesManage", "Types manage support."),
    ("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
)


@route("GET", "/os-availability-zone")
def availability_zones(req: ApiRequest) -> dict:
    """One zone: Ceph's pools span every rack."""
    return {"availabilityZoneInfo": [{"zoneName": AVAILABILITY_ZONE, "zoneState": {"available": True}}]}


@route("GET", "/types")
def list_types(req: ApiRequest) -> dict:
    return {"volume_types": [type_view(t, admin=req.context.is_admin) for t in TYPES]}


@route("GET", "/types/default")
def default_type(req: ApiRequest) -> dict:
    return {"volume_type": type_view(TYPES[0], admin=req.context.is_admin)}


@route("GET", "/types/{type_id}")
def show_type(req: ApiRequest) -> dict:
    t = find_type(req.params["type_id"])
    if t is None:
        raise E.NotFound(f"Volume type {req.params['type_id']} could not be found.")
    return {"volume_type": type_view(t, admin=req.context.is_admin)}


@route("GET", "/types/{type_id}/extra_specs")
def type_extra_specs(req: ApiRequest) -> dict:
    t = find_type(req.params["type_id"])
    if t is None:
        raise E.NotFound(f"Volume type {req.params['type_id']} could not be found.")
    return {"extra_specs": dict(t.extra_specs) if req.context.is_admin else {}}


@route("GET", "/extensions")
def list_extensions(req: ApiRequest) -> dict:
    return {"extensions": [{"alias": alias, "name": name, "description": description, "links": [],
                            "namespace": f"https://docs.openstack.org/volume/ext/{alias}/api/v1",
                            "updated": "2013-01-01T00:00:00+00:00"}
                           for alias, name, description in EXTENSIONS]}


# -- quotas -----------------------------------------------------------------------------------------
def _target(req: ApiRequest) -> str:
    target = req.params["target_project"]
    if target != req.context.project_id and not req.context.is_admin:
        raise E.Forbidden("Policy doesn't allow volume_extension:quotas:show to be performed.")
    return target


@route("GET", "/os-quota-sets/{target_project}")
def show_quota_set(req: ApiRequest) -> dict:
    """A project's limits; with ``usage=true`` each as {limit, in_use, reserved}."""
    target = _target(req)
    store = runtime(req.backend).store
    limit = limits(store, target)
    if req.query_bool("usage", False):
        used = usage(store, target)
        return {"quota_set": {"id": target, **{k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0}
                                               for k, v in limit.items()}}}
    return {"quota_set": {"id": target, **limit}}


@route("GET", "/os-quota-sets/{target_project}/defaults")
def default_quota_set(req: ApiRequest) -> dict:
    return {"quota_set": {"id": req.params["target_project"], **DEFAULTS}}


@route("PUT", "/os-quota-sets/{target_project}", policy="admin")
def update_quota_set(req: ApiRequest) -> dict:
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("quota_set"), dict):
        raise E.BadRequest("Missing required element 'quota_set' in request body.")
    changes: dict[str, int] = {}
    for key, value in body["quota_set"].items():
        if key in ("tenant_id", "id"):
            continue
        if key not in DEFAULTS:
            raise E.BadRequest(f"Bad key(s) in quota set: {key}")
        changes[key] = whole(value, key, minimum=-1)
    store = runtime(req.backend).store
    target = req.params["target_project"]
    for key, value in changes.items():
        store.set_quota(target, key, value)
    return {"quota_set": limits(store, target)}


@route("DELETE", "/os-quota-sets/{target_project}", policy="admin")
def delete_quota_set(req: ApiRequest) -> Reply:
    runtime(req.backend).store.clear_quotas(req.params["target_project"])
    return Reply(None, status=200)


@route("GET", "/limits")
def absolute_limits(req: ApiRequest) -> dict:
    store = runtime(req.backend).store
    project = req.context.project_id
    limit, used = limits(store, project), usage(store, project)
    return {"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": limit["volumes"], "maxTotalSnapshots": limit["snapshots"],
        "maxTotalVolumeGigabytes": limit["gigabytes"], "maxTotalBackups": limit["backups"],
        "maxTotalBackupGigabytes": limit["backup_gigabytes"], "totalVolumesUsed": used["volumes"],
        "totalSnapshotsUsed": used["snapshots"], "totalGigabytesUsed": used["gigabytes"],
        "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}}}
