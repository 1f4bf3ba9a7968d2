"""Cinder's responses against the JSON schemas Tempest validates them with
(tempest.lib.api_schema.response.volume), as the fake-backed API answers them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("tempest")

from tempest.lib.api_schema.response.volume import extensions as ext_schema  # noqa: E402
from tempest.lib.api_schema.response.volume import quotas as quota_schema  # noqa: E402
from tempest.lib.api_schema.response.volume import snapshots as snap_schema  # noqa: E402
from tempest.lib.api_schema.response.volume import versions as version_schema  # noqa: E402
from tempest.lib.api_schema.response.volume import volume_types as type_schema  # noqa: E402
from tempest.lib.api_schema.response.volume import volumes as vol_schema  # noqa: E402
from tempest.lib.common.rest_client import RestClient  # noqa: E402

from test_volume_api import IMAGE_ID, cinder  # noqa: E402,F401  (the fixture)


def check(schema, response):
    body = response.json() if response.content else None
    RestClient.validate_response(schema, SimpleNamespace(status=response.status_code), body)


def test_volume_and_snapshot_responses_match_tempest(cinder):  # noqa: F811
    created = cinder.call("POST", "/volumes", json={"volume": {"size": 1, "imageRef": IMAGE_ID}})
    check(vol_schema.create_volume, created)
    vid = created.json()["volume"]["id"]
    cinder.wait(vid, "available")
    for account in (cinder.api.member, cinder.api.admin):
        query = "all_tenants=1&limit=1" if account is cinder.api.admin else "limit=1"
        check(vol_schema.show_volume, cinder.call("GET", f"/volumes/{vid}", account))
        check(vol_schema.list_volumes_with_detail, cinder.call("GET", f"/volumes/detail?{query}", account))
    check(vol_schema.list_volumes_no_detail, cinder.call("GET", "/volumes?limit=1"))
    check(vol_schema.update_volume, cinder.call("PUT", f"/volumes/{vid}", json={"volume": {"name": "n"}}))
    check(vol_schema.create_volume_metadata,
          cinder.call("POST", f"/volumes/{vid}/metadata", json={"metadata": {"a": "b"}}))
    check(vol_schema.show_volume_metadata_item, cinder.call("GET", f"/volumes/{vid}/metadata/a"))
    check(vol_schema.extend_volume, cinder.action(vid, "os-extend", {"new_size": 2}))
    cinder.wait(vid, "available")
    check(vol_schema.set_bootable_volume, cinder.action(vid, "os-set_bootable", {"bootable": True}))
    check(vol_schema.update_volume_readonly, cinder.action(vid, "os-update_readonly_flag", {"readonly": True}))
    check(vol_schema.reserve_volume, cinder.action(vid, "os-reserve"))
    check(vol_schema.unreserve_volume, cinder.action(vid, "os-unreserve"))
    check(vol_schema.attach_volume, cinder.action(vid, "os-attach", {"instance_uuid": IMAGE_ID, "mode": "ro",
                                                                      "mountpoint": "/dev/vdc"}))
    check(vol_schema.show_volume, cinder.call("GET", f"/volumes/{vid}"))
    check(vol_schema.detach_volume, cinder.action(vid, "os-detach", {}))
    snap = cinder.call("POST", "/snapshots", json={"snapshot": {"volume_id": vid, "metadata": {"k": "v"}}})
    check(snap_schema.create_snapshot, snap)
    sid = snap.json()["snapshot"]["id"]
    cinder.wait(sid, "available", kind="snapshots")
    check(snap_schema.show_snapshot, cinder.call("GET", f"/snapshots/{sid}"))
    check(snap_schema.list_snapshots_with_detail, cinder.call("GET", "/snapshots/detail"))
    check(snap_schema.list_snapshots_no_detail, cinder.call("GET", "/snapshots"))
    check(snap_schema.update_snapshot, cinder.call("PUT", f"/snapshots/{sid}", json={"snapshot": {"name": "s"}}))
    check(snap_schema.delete_snapshot, cinder.call("DELETE", f"/snapshots/{sid}"))
    cinder.wait(sid, 404, kind="snapshots")
    check(vol_schema.delete_volume, cinder.call("DELETE", f"/volumes/{vid}"))


def test_small_resources_match_tempest(cinder):  # noqa: F811
    check(version_schema.list_versions, cinder.api.client.get("/volume/"))
    check(ext_schema.list_extensions, cinder.call("GET", "/extensions"))
    check(type_schema.list_volume_types, cinder.call("GET", "/types"))
    check(type_schema.list_volume_types, cinder.call("GET", "/types", cinder.api.admin))
    check(type_schema.show_volume_type, cinder.call("GET", "/types/default"))
    project = cinder.api.member.project_id
    check(quota_schema.show_quota_set, cinder.call("GET", f"/os-quota-sets/{project}"))
    check(quota_schema.show_quota_set_usage, cinder.call("GET", f"/os-quota-sets/{project}?usage=true"))
    check(quota_schema.show_quota_set, cinder.call("GET", f"/os-quota-sets/{project}/defaults"))
    check(version_schema.volume_api_version_details, cinder.api.client.get("/volume/v3/"))
