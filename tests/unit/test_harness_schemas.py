"""octoprobe.schemas: strict and lenient modes, errors with JSON paths, microversions."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from octoprobe.schemas import (
    APIVersion,
    MicroversionUnsupported,
    ResponseSchemaError,
    SchemaFileError,
    SchemaNotFound,
    Schemas,
    advertised_range,
    apply_mode,
    negotiate,
)

DATA = Path(__file__).parent / "data" / "harness"
FLAVOR = json.loads((DATA / "nova_flavor.json").read_text())
VERSIONS = json.loads((DATA / "keystone_versions.json").read_text())


def demo(mode: str) -> Schemas:
    return Schemas(mode, root=DATA / "schemas")


THING = {
    "thing": {
        "id": "t1",
        "metadata": {"any": "key"},
        "open": {"a": 1, "vendor": True},
        "closed": {"b": 2},
        "items": [{"n": 1}],
        "links": {"href": "http://x"},
    }
}


# ---------------------------------------------------------------- modes


def test_strict_closes_objects_that_say_nothing():
    schema = apply_mode(json.loads((DATA / "schemas/demo/thing.json").read_text()), "strict")
    thing = schema["properties"]["thing"]
    assert schema["additionalProperties"] is False
    assert thing["additionalProperties"] is False
    assert thing["properties"]["items"]["items"]["additionalProperties"] is False
    assert thing["properties"]["metadata"]["additionalProperties"] == {"type": "string"}  # said otherwise
    assert thing["properties"]["open"]["additionalProperties"] is True


def test_lenient_opens_every_object():
    raw = json.loads((DATA / "schemas/demo/thing.json").read_text())
    before = copy.deepcopy(raw)
    schema = apply_mode(raw, "lenient")
    assert raw == before  # not modified in place
    assert "additionalProperties" not in schema["properties"]["thing"]["properties"]["closed"]
    assert schema["properties"]["thing"]["properties"]["metadata"]["additionalProperties"] == {"type": "string"}


def test_unknown_mode():
    with pytest.raises(ValueError):
        apply_mode({}, "loose")
    with pytest.raises(ValueError):
        Schemas("loose")


def test_a_matching_document_passes_in_both_modes():
    for mode in ("strict", "lenient"):
        assert demo(mode).validate("demo/thing", THING) is THING


def test_extra_fields_fail_strict_with_their_paths_and_pass_lenient():
    doc = copy.deepcopy(THING)
    doc["vendor:top"] = 1
    doc["thing"]["items"][0]["extra"] = "x"
    doc["thing"]["links"]["rel"] = "self"  # in a $ref'd schema from another file
    doc["thing"]["closed"]["c"] = 3  # written additionalProperties: false, which lenient removes
    with pytest.raises(ResponseSchemaError) as info:
        demo("strict").validate("demo/thing", doc)
    err = info.value
    assert [p.path for p in err.problems] == [
        "$.thing.closed.c",
        "$.thing.items[0].extra",
        "$.thing.links.rel",
        '$["vendor:top"]',
    ]
    assert all("unexpected field" in p.message for p in err.problems)
    assert str(err).startswith("response does not match schema demo/thing (strict mode): 4 problem(s)")
    assert "--schema-mode lenient" in str(err)
    assert isinstance(err, AssertionError)
    demo("lenient").validate("demo/thing", doc)


def test_wrong_types_and_missing_fields_fail_in_both_modes():
    doc = copy.deepcopy(THING)
    doc["thing"]["items"][0]["n"] = "one"
    del doc["thing"]["id"]
    doc["thing"]["metadata"]["k"] = 5
    for mode in ("strict", "lenient"):
        with pytest.raises(ResponseSchemaError) as info:
            demo(mode).validate("demo/thing", doc)
        assert [str(p) for p in info.value.problems] == [
            "$.thing: 'id' is a required property",
            "$.thing.items[0].n: 'one' is not of type 'integer'",
            "$.thing.metadata.k: 5 is not of type 'string'",
        ]


def test_problem_messages_hide_secrets_and_stay_short():
    doc = {"thing": {"id": ["x" * 50] * 100, "metadata": {"password": ["hunter2"], "token": "gAAAAAB" + "z" * 60}}}
    with pytest.raises(ResponseSchemaError) as info:
        demo("lenient").validate("demo/thing", doc)
    text = str(info.value)
    assert "hunter2" not in text
    assert "$.thing.metadata.password: fails the schema's 'type' check (value not shown" in text
    assert max(len(line) for line in text.splitlines()) < 300


def test_many_problems_are_capped():
    doc = {"thing": {"id": "x", "items": [{"n": "bad"}] * 30}}
    with pytest.raises(ResponseSchemaError) as info:
        demo("strict").validate("demo/thing", doc)
    assert len(info.value.problems) == 20
    assert "... and 10 more" in str(info.value)


def test_schema_file_errors():
    schemas = demo("strict")
    with pytest.raises(SchemaNotFound):
        schemas.validate("demo/none", {})
    with pytest.raises(SchemaNotFound):
        schemas.load("../escape")
    with pytest.raises(SchemaFileError, match=r"demo/broken.json: .*no-such-type"):
        schemas.load("demo/broken")
    with pytest.raises(SchemaFileError, match="invalid JSON"):
        schemas.load("demo/notjson")
    with pytest.raises(SchemaFileError, match="unresolvable"):
        schemas.validate("demo/badref", {"a": 1})  # never fetched from the network


# ---------------------------------------------------------------- the shipped schemas


def test_shipped_schemas_are_valid_and_listed():
    schemas = Schemas("strict")
    names = schemas.names()
    assert {"compute/flavor", "identity/versions", "identity/version", "common/links"} <= set(names)
    for name in names:
        schemas.load(name)


def test_nova_flavor():
    Schemas("strict").validate("compute/flavor", FLAVOR)
    old = copy.deepcopy(FLAVOR)
    old["flavor"]["swap"] = ""  # before microversion 2.75
    Schemas("strict").validate("compute/flavor", old)
    vendor = copy.deepcopy(FLAVOR)
    vendor["flavor"]["x-vendor:gpu"] = "none"
    with pytest.raises(ResponseSchemaError, match=r'\$\.flavor\["x-vendor:gpu"\]: unexpected field'):
        Schemas("strict").validate("compute/flavor", vendor)
    Schemas("lenient").validate("compute/flavor", vendor)
    bad = copy.deepcopy(FLAVOR)
    bad["flavor"]["ram"] = "2048"
    bad["flavor"]["swap"] = "none"
    del bad["flavor"]["links"][0]["href"]
    with pytest.raises(ResponseSchemaError) as info:
        Schemas("lenient").validate("compute/flavor", bad)
    assert [p.path for p in info.value.problems] == ["$.flavor.links[0]", "$.flavor.ram", "$.flavor.swap"]


def test_keystone_version_discovery():
    schemas = Schemas("strict")
    schemas.validate("identity/versions", VERSIONS)
    schemas.validate("identity/version", {"version": VERSIONS["versions"]["values"][0]})
    wrong = copy.deepcopy(VERSIONS)
    wrong["versions"]["values"][0]["status"] = "CURRENT"
    wrong["versions"]["values"][0]["id"] = "3"
    with pytest.raises(ResponseSchemaError) as info:
        schemas.validate("identity/versions", wrong)
    assert [p.path for p in info.value.problems] == ["$.versions.values[0].id", "$.versions.values[0].status"]


# ---------------------------------------------------------------- microversions


def test_api_version_parsing_and_order():
    assert APIVersion.parse("2.79") == APIVersion(2, 79)
    assert APIVersion.parse("v2.1") < APIVersion.parse("2.10")
    assert str(APIVersion(3, 70)) == "3.70"
    with pytest.raises(ValueError):
        APIVersion.parse("latest")


def test_advertised_range():
    nova = {"version": {"id": "v2.1", "version": "2.95", "min_version": "2.1"}}
    assert advertised_range(nova) == (APIVersion(2, 1), APIVersion(2, 95))
    assert advertised_range({"version": {"id": "v2.0", "version": "", "min_version": ""}}) is None
    with pytest.raises(ValueError):
        advertised_range({"version": "2.1"})


@pytest.mark.parametrize(
    "advertised, kwargs, expected",
    [
        (("2.1", "2.95"), {}, None),
        (("2.1", "2.95"), dict(needs_min="2.26"), "2.26"),
        (("2.1", "2.95"), dict(needs_min="2.26", prefer="highest"), "2.95"),
        (("2.1", "2.95"), dict(needs_min="2.26", needs_max="2.89", prefer="highest"), "2.89"),
        (("2.10", "2.95"), dict(needs_max="2.60"), "2.10"),
        (None, {}, None),
    ],
)
def test_negotiate_picks(advertised, kwargs, expected):
    version = negotiate(advertised, **kwargs)
    assert (None if version is None else str(version)) == expected


@pytest.mark.parametrize(
    "advertised, kwargs, reason",
    [
        (
            ("2.1", "2.20"),
            dict(needs_min="2.26"),
            "compute supports microversions 2.1 to 2.20; the test needs at least 2.26",
        ),
        (
            ("2.30", "2.95"),
            dict(needs_max="2.20"),
            "compute supports microversions 2.30 to 2.95; the test needs at most 2.20",
        ),
        (None, dict(needs_min="2.26"), "compute supports no microversions; the test needs at least 2.26"),
        (("3.0", "3.70"), dict(needs_min="2.26"), "compute speaks major version 3; the test needs at least 2.26"),
    ],
)
def test_negotiate_explains_why_not(advertised, kwargs, reason):
    with pytest.raises(MicroversionUnsupported) as info:
        negotiate(advertised, service="compute", **kwargs)
    assert info.value.reason == reason


def test_negotiate_bad_arguments():
    with pytest.raises(ValueError):
        negotiate(("2.1", "2.9"), needs_min="2.5", needs_max="2.3")
    with pytest.raises(ValueError):
        negotiate(("2.1", "2.9"), needs_min="2.5", prefer="newest")
