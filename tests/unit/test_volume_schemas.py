"""The block-storage response schemas (octoprobe/schemas/volume/) against
responses recorded from the reference cloud's Cinder v3 API (microversion
3.0; as the demo user, and one as the admin), in both modes; and that they
refuse what they must.

The recorded bodies are inline (the extension list is cut to two)."""

from __future__ import annotations

import json

import pytest

from octoprobe.schemas import ResponseSchemaError, Schemas
from schema_cases import problem_paths, recorded_from

RECORDED = json.loads(r'''
{
 "volume_created": {
  "volume": {
   "id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
   "name": "octoprobe-rec1-vol-a",
   "description": "recorded",
   "size": 1,
   "status": "creating",
   "availability_zone": "nova",
   "bootable": "false",
   "created_at": "2026-11-24T10:50:57.000000",
   "updated_at": "2026-11-24T10:50:57.000000",
   "volume_type": "__DEFAULT__",
   "snapshot_id": null,
   "source_volid": null,
   "metadata": {
    "octoprobe-run": "rec1"
   },
   "attachments": [],
   "links": [
    {
     "rel": "self",
     "href": "http://198.18.84.1/volume/v3/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    },
    {
     "rel": "bookmark",
     "href": "http://198.18.84.1/volume/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    }
   ],
   "user_id": "19c749ee283f4257b58b8ab8e6ee7662",
   "encrypted": false,
   "multiattach": false,
   "replication_status": null,
   "consistencygroup_id": null,
   "migration_status": null
  }
 },
 "volume": {
  "volume": {
   "id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
   "name": "octoprobe-rec1-vol-a",
   "description": "recorded",
   "size": 1,
   "status": "available",
   "availability_zone": "nova",
   "bootable": "false",
   "created_at": "2026-11-24T10:50:57.000000",
   "updated_at": "2026-11-24T10:50:57.000000",
   "volume_type": "__DEFAULT__",
   "snapshot_id": null,
   "source_volid": null,
   "metadata": {
    "octoprobe-run": "rec1"
   },
   "attachments": [],
   "links": [
    {
     "rel": "self",
     "href": "http://198.18.84.1/volume/v3/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    },
    {
     "rel": "bookmark",
     "href": "http://198.18.84.1/volume/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    }
   ],
   "user_id": "19c749ee283f4257b58b8ab8e6ee7662",
   "encrypted": false,
   "multiattach": false,
   "replication_status": null,
   "consistencygroup_id": null,
   "migration_status": null,
   "os-vol-tenant-attr:tenant_id": "f0e9dfde66e94a17a978fa6014d2711d"
  }
 },
 "volume_admin": {
  "volume": {
   "id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
   "name": "octoprobe-rec1-vol-a",
   "description": "recorded",
   "size": 1,
   "status": "available",
   "availability_zone": "nova",
   "bootable": "false",
   "created_at": "2026-11-24T10:50:57.000000",
   "updated_at": "2026-11-24T10:50:57.000000",
   "volume_type": "__DEFAULT__",
   "snapshot_id": null,
   "source_volid": null,
   "metadata": {
    "octoprobe-run": "rec1"
   },
   "attachments": [],
   "links": [
    {
     "rel": "self",
     "href": "http://198.18.84.1/volume/v3/1f26a5a7871c40a1b7cb91be5194fbf5/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    },
    {
     "rel": "bookmark",
     "href": "http://198.18.84.1/volume/1f26a5a7871c40a1b7cb91be5194fbf5/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    }
   ],
   "user_id": "19c749ee283f4257b58b8ab8e6ee7662",
   "encrypted": false,
   "multiattach": false,
   "replication_status": null,
   "consistencygroup_id": null,
   "migration_status": null,
   "os-vol-tenant-attr:tenant_id": "f0e9dfde66e94a17a978fa6014d2711d",
   "os-vol-host-attr:host": "ctl@ceph#volumes",
   "os-vol-mig-status-attr:migstat": null,
   "os-vol-mig-status-attr:name_id": null
  }
 },
 "volumes": {
  "volumes": [
   {
    "id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
    "name": "octoprobe-rec1-vol-a",
    "links": [
     {
      "rel": "self",
      "href": "http://198.18.84.1/volume/v3/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
     },
     {
      "rel": "bookmark",
      "href": "http://198.18.84.1/volume/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
     }
    ]
   }
  ],
  "volumes_links": [
   {
    "rel": "next",
    "href": "http://198.18.84.1/volume/v3/volumes?limit=1&marker=12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
   }
  ]
 },
 "volumes_detail": {
  "volumes": [
   {
    "id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
    "name": "octoprobe-rec1-vol-a",
    "description": "recorded",
    "size": 1,
    "status": "available",
    "availability_zone": "nova",
    "bootable": "false",
    "created_at": "2026-11-24T10:50:57.000000",
    "updated_at": "2026-11-24T10:50:57.000000",
    "volume_type": "__DEFAULT__",
    "snapshot_id": null,
    "source_volid": null,
    "metadata": {
     "octoprobe-run": "rec1"
    },
    "attachments": [],
    "links": [
     {
      "rel": "self",
      "href": "http://198.18.84.1/volume/v3/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
     },
     {
      "rel": "bookmark",
      "href": "http://198.18.84.1/volume/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
     }
    ],
    "user_id": "19c749ee283f4257b58b8ab8e6ee7662",
    "encrypted": false,
    "multiattach": false,
    "replication_status": null,
    "consistencygroup_id": null,
    "migration_status": null,
    "os-vol-tenant-attr:tenant_id": "f0e9dfde66e94a17a978fa6014d2711d"
   }
  ]
 },
 "volume_updated": {
  "volume": {
   "id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
   "name": "octoprobe-rec1-vol-b",
   "description": "recorded",
   "size": 1,
   "status": "available",
   "availability_zone": "nova",
   "bootable": "false",
   "created_at": "2026-11-24T10:50:57.000000",
   "updated_at": "2026-11-24T10:50:58.000000",
   "volume_type": "__DEFAULT__",
   "snapshot_id": null,
   "source_volid": null,
   "metadata": {
    "octoprobe-run": "rec1"
   },
   "attachments": [],
   "links": [
    {
     "rel": "self",
     "href": "http://198.18.84.1/volume/v3/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    },
    {
     "rel": "bookmark",
     "href": "http://198.18.84.1/volume/f0e9dfde66e94a17a978fa6014d2711d/volumes/12da0423-1e8b-4dc0-aa10-37a0cee21d5e"
    }
   ],
   "user_id": "19c749ee283f4257b58b8ab8e6ee7662",
   "encrypted": false,
   "multiattach": false,
   "replication_status": null,
   "consistencygroup_id": null,
   "migration_status": null
  }
 },
 "metadata": {
  "metadata": {
   "key1": "value1",
   "octoprobe-run": "rec1"
  }
 },
 "meta": {
  "meta": {
   "key1": "value1"
  }
 },
 "snapshot_created": {
  "snapshot": {
   "id": "2cca7aee-4edc-4e70-b5c2-28818bd653ea",
   "name": "octoprobe-rec1-snap-a",
   "description": null,
   "volume_id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
   "size": 1,
   "status": "creating",
   "metadata": {
    "octoprobe-run": "rec1"
   },
   "created_at": "2026-11-24T10:50:58.000000",
   "updated_at": "2026-11-24T10:50:58.000000"
  }
 },
 "snapshot": {
  "snapshot": {
   "id": "2cca7aee-4edc-4e70-b5c2-28818bd653ea",
   "name": "octoprobe-rec1-snap-a",
   "description": null,
   "volume_id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
   "size": 1,
   "status": "available",
   "metadata": {
    "octoprobe-run": "rec1"
   },
   "created_at": "2026-11-24T10:50:58.000000",
   "updated_at": "2026-11-24T10:50:58.000000",
   "os-extended-snapshot-attributes:progress": "100%",
   "os-extended-snapshot-attributes:project_id": "f0e9dfde66e94a17a978fa6014d2711d"
  }
 },
 "snapshots": {
  "snapshots": [
   {
    "id": "2cca7aee-4edc-4e70-b5c2-28818bd653ea",
    "name": "octoprobe-rec1-snap-a",
    "description": null,
    "volume_id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
    "size": 1,
    "status": "available",
    "metadata": {
     "octoprobe-run": "rec1"
    },
    "created_at": "2026-11-24T10:50:58.000000",
    "updated_at": "2026-11-24T10:50:58.000000"
   }
  ]
 },
 "snapshots_detail": {
  "snapshots": [
   {
    "id": "2cca7aee-4edc-4e70-b5c2-28818bd653ea",
    "name": "octoprobe-rec1-snap-a",
    "description": null,
    "volume_id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
    "size": 1,
    "status": "available",
    "metadata": {
     "octoprobe-run": "rec1"
    },
    "created_at": "2026-11-24T10:50:58.000000",
    "updated_at": "2026-11-24T10:50:58.000000",
    "os-extended-snapshot-attributes:progress": "100%",
    "os-extended-snapshot-attributes:project_id": "f0e9dfde66e94a17a978fa6014d2711d"
   }
  ]
 },
 "error_404": {
  "itemNotFound": {
   "code": 404,
   "message": "Volume 00000000-0000-0000-0000-000000000000 could not be found."
  }
 },
 "error_400": {
  "badRequest": {
   "code": 400,
   "message": "Invalid volume: Volume 12da0423-1e8b-4dc0-aa10-37a0cee21d5e still has 1 dependent snapshots."
  }
 },
 "availability_zones": {
  "availabilityZoneInfo": [
   {
    "zoneName": "nova",
    "zoneState": {
     "available": true
    }
   }
  ]
 },
 "extensions": {
  "extensions": [
   {
    "alias": "os-availability-zone",
    "name": "AvailabilityZones",
    "description": "Describe Availability Zones.",
    "links": [],
    "namespace": "https://docs.openstack.org/volume/ext/os-availability-zone/api/v1",
    "updated": "2013-01-01T00:00:00+00:00"
   },
   {
    "alias": "os-extended-snapshot-attributes",
    "name": "ExtendedSnapshotAttributes",
    "description": "Extended SnapshotAttributes support.",
    "links": [],
    "namespace": "https://docs.openstack.org/volume/ext/os-extended-snapshot-attributes/api/v1",
    "updated": "2013-01-01T00:00:00+00:00"
   }
  ]
 },
 "versions": {
  "versions": [
   {
    "id": "v3.0",
    "status": "CURRENT",
    "version": "3.0",
    "min_version": "3.0",
    "updated": "2023-02-20T00:00:00Z",
    "links": [
     {
      "rel": "describedby",
      "type": "text/html",
      "href": "https://docs.openstack.org/"
     },
     {
      "rel": "self",
      "href": "http://198.18.84.1/volume/v3/"
     }
    ],
    "media-types": [
     {
      "base": "application/json",
      "type": "application/vnd.openstack.volume+json;version=3"
     }
    ]
   }
  ]
 },
 "upload_image": {
  "os-volume_upload_image": {
   "id": "12da0423-1e8b-4dc0-aa10-37a0cee21d5e",
   "updated_at": "2026-11-24T10:51:02.000000",
   "status": "uploading",
   "display_description": "recorded",
   "size": 1,
   "volume_type": null,
   "image_id": "4dee11a9-05a5-46e4-bffb-a7a439810713",
   "container_format": "bare",
   "disk_format": "raw",
   "image_name": "octoprobe-rec1-upload-a"
  }
 }
}
''')

#: recorded sample -> the schema it must match
CASES = {
    "volume_created": "volume/volume",
    "volume": "volume/volume",
    "volume_admin": "volume/volume",
    "volume_updated": "volume/volume",
    "volumes": "volume/volumes",
    "volumes_detail": "volume/volumes-detail",
    "metadata": "volume/metadata",
    "meta": "volume/meta",
    "snapshot_created": "volume/snapshot",
    "snapshot": "volume/snapshot",
    "snapshots": "volume/snapshots",
    "snapshots_detail": "volume/snapshots-detail",
    "error_404": "volume/error",
    "error_400": "volume/error",
    "availability_zones": "volume/availability-zones",
    "extensions": "volume/extensions",
    "versions": "volume/versions",
    "upload_image": "volume/upload-image",
}


recorded = recorded_from(RECORDED)
paths = problem_paths


@pytest.mark.parametrize("mode", ["strict", "lenient"])
@pytest.mark.parametrize("sample", sorted(CASES))
def test_recorded_responses_match(mode, sample):
    Schemas(mode).validate(CASES[sample], recorded(sample))


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_every_volume_schema_is_exercised(mode):
    schemas = Schemas(mode)
    names = {n for n in schemas.names() if n.startswith("volume/")}
    for name in names:
        schemas.validator(name)
    assert names == set(CASES.values()), sorted(names ^ set(CASES.values()))


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_attached_volume_from_an_image_as_cinder_shows_it(mode):
    """A volume with an attachment and image metadata (the shapes Cinder
    gives them at 3.0), without migration_status (Cinder shows it to admins
    only), never updated, and with a later microversion's fields matches."""
    body = recorded("volume")
    volume = body["volume"]
    del volume["migration_status"]
    volume["updated_at"] = None
    volume.update(status="in-use", bootable="true", group_id=None, shared_targets=True,
                  volume_image_metadata={"image_id": "bf9f9c7b-8826-56c1-9052-de9e26fbf1db", "min_ram": "0"})
    volume["attachments"] = [{
        "id": volume["id"], "attachment_id": "3b8b2f7e-5ac9-4d6f-9a6e-3f1a9a1d2c11", "volume_id": volume["id"],
        "server_id": "3b08516e-92f7-4576-8169-293de9a3a094", "host_name": None, "device": "/dev/vdb",
        "attached_at": "2026-11-24T07:20:26.000000"}]
    Schemas(mode).validate("volume/volume", body)


def test_strict_refuses_unknown_volume_fields_lenient_allows_them():
    body = recorded("volumes_detail")
    body["volumes"][0]["x_vendor_tier"] = "gold"
    body["volumes"][0]["links"][0]["x_note"] = "n"
    assert paths(Schemas("strict"), "volume/volumes-detail", body) == [
        "$.volumes[0].links[0].x_note", "$.volumes[0].x_vendor_tier"]
    Schemas("lenient").validate("volume/volumes-detail", body)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_missing_and_wrong_volume_fields_fail_in_both_modes(mode):
    body = recorded("volume")
    volume = body["volume"]
    del volume["status"]
    volume["size"] = "1"
    volume["bootable"] = True
    volume["metadata"]["count"] = 3
    volume["created_at"] = "yesterday"
    problems = paths(Schemas(mode), "volume/volume", body)
    assert problems == ["$.volume", "$.volume.bootable", "$.volume.created_at", "$.volume.metadata.count",
                        "$.volume.size"], problems


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_volume_status_must_be_cinders(mode):
    body = recorded("volume")
    body["volume"]["status"] = "ACTIVE"
    assert paths(Schemas(mode), "volume/volume", body) == ["$.volume.status"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_list_entries_need_id_name_links(mode):
    body = recorded("volumes")
    del body["volumes"][0]["links"]
    body["volumes_links"] = [{"rel": "next"}]
    assert paths(Schemas(mode), "volume/volumes", body) == ["$.volumes[0]", "$.volumes_links[0]"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_snapshot_fields(mode):
    schemas = Schemas(mode)
    snap = recorded("snapshot")
    del snap["snapshot"]["volume_id"]
    snap["snapshot"]["status"] = "ready"
    assert paths(schemas, "volume/snapshot", snap) == ["$.snapshot", "$.snapshot.status"]
    detail = recorded("snapshots_detail")
    del detail["snapshots"][0]["os-extended-snapshot-attributes:progress"]
    assert paths(schemas, "volume/snapshots-detail", detail) == ["$.snapshots[0]"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_metadata_values_must_be_strings(mode):
    schemas = Schemas(mode)
    body = recorded("metadata")
    body["metadata"]["count"] = 3
    assert paths(schemas, "volume/metadata", body) == ["$.metadata.count"]
    meta = recorded("meta")
    meta["meta"]["second"] = "x"
    assert paths(schemas, "volume/meta", meta) == ["$.meta"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
@pytest.mark.parametrize(
    "body",
    [
        {"itemNotFound": {"code": "404", "message": "x"}},
        {"itemNotFound": {"code": 404}},
        {"itemNotFound": {"code": 404, "message": ""}},
        {"itemNotFound": {"code": 404, "message": "x"}, "badRequest": {"code": 400, "message": "y"}},
        {"error": {"code": 404, "title": "Not Found", "message": "x"}, "extra": 1},
        {},
        {"message": "x"},
        {"NeutronError": "x"},
    ],
    ids=["code-string", "no-message", "empty-message", "two-faults", "two-keys", "empty", "no-fault-object",
         "fault-not-an-object"],
)
def test_error_schema_refuses_non_cinder_errors(mode, body):
    with pytest.raises(ResponseSchemaError):
        Schemas(mode).validate("volume/error", body)


def test_error_schema_strictness_of_the_fault():
    body = recorded("error_404")
    body["itemNotFound"]["request_id"] = "req-x"
    assert paths(Schemas("strict"), "volume/error", body) == ["$.itemNotFound.request_id"]
    Schemas("lenient").validate("volume/error", body)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_service_documents(mode):
    schemas = Schemas(mode)
    versions = recorded("versions")
    versions["versions"][0]["version"] = "latest"
    del versions["versions"][0]["media-types"]
    assert paths(schemas, "volume/versions", versions) == ["$.versions[0]", "$.versions[0].version"]
    assert paths(schemas, "volume/versions", {"versions": []}) == ["$.versions"]
    zones = recorded("availability_zones")
    zones["availabilityZoneInfo"][0]["zoneState"] = {"available": "yes"}
    assert paths(schemas, "volume/availability-zones", zones) == ["$.availabilityZoneInfo[0].zoneState.available"]
    extensions = recorded("extensions")
    del extensions["extensions"][0]["alias"]
    assert paths(schemas, "volume/extensions", extensions) == ["$.extensions[0]"]


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_upload_image_response(mode):
    """The upload names the new image; Cinder gives the volume's type as an object (or null)."""
    schemas = Schemas(mode)
    body = recorded("upload_image")
    body["os-volume_upload_image"]["volume_type"] = {"id": "5f7b4c3e-3c1a-4b44-8d0e-9c3f0c5b0a11",
                                                     "name": "__DEFAULT__", "extra_specs": {}}
    schemas.validate("volume/upload-image", body)
    del body["os-volume_upload_image"]["image_id"]
    body["os-volume_upload_image"]["size"] = "1"
    assert paths(schemas, "volume/upload-image", body) == ["$[\"os-volume_upload_image\"]",
                                                           "$[\"os-volume_upload_image\"].size"]
