"""The cloud's API versions for the report, from version documents as the
services answer them (shapes of Nova, Cinder, Keystone, Glance, Neutron)."""

from octoprobe.discovery import describe_versions

NOVA = {"version": {"id": "v2.1", "status": "CURRENT", "version": "2.89", "min_version": "2.1",
                    "links": [{"rel": "self", "href": "http://h/compute/v2.1/"}]}}
CINDER_V3 = {"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.0", "min_version": "3.0"}]}
KEYSTONE_ROOT = {"versions": {"values": [{"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z"}]}}
GLANCE = {"versions": [{"id": "v2.15", "status": "CURRENT"}, {"id": "v2.9", "status": "SUPPORTED"}]}
NEUTRON = {"versions": [{"id": "v2.0", "status": "CURRENT", "links": []}]}


def test_microversion_ranges_and_current_versions():
    assert describe_versions("compute", NOVA) == "v2.1 (microversions 2.1–2.89)"
    assert describe_versions("block-storage", CINDER_V3) == "v3.0 (microversions 3.0–3.0)"
    assert describe_versions("identity", KEYSTONE_ROOT) == "v3.14"
    assert describe_versions("image", GLANCE) == "v2.15"
    assert describe_versions("network", NEUTRON) == "v2.0"


def test_what_is_not_a_version_document_gives_none():
    assert describe_versions("compute", {"error": "nope"}) is None
    assert describe_versions("compute", "<html>") is None
    assert describe_versions("image", {"versions": []}) is None
