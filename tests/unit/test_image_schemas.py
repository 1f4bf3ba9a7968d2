"""The image response schemas (octoprobe/schemas/image/) against responses
recorded from the reference cloud's Glance v2 API, in both modes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from octoprobe.schemas import ResponseSchemaError, Schemas

DATA = Path(__file__).parent / "data" / "harness"


def sample(name: str) -> dict:
    return json.loads((DATA / name).read_text())


IMAGE = sample("glance_image.json")
QUEUED = sample("glance_image_queued.json")
IMAGES = sample("glance_images.json")
ERROR = sample("glance_error.json")
SCHEMA_IMAGE = sample("glance_schema_image.json")
SCHEMA_IMAGES = sample("glance_schema_images.json")
WEBOB_ERROR = {"code": "404 Not Found", "title": "Not Found", "message": "No image found with ID x"}


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_recorded_responses_match(mode):
    schemas = Schemas(mode)
    schemas.validate("image/image", IMAGE)
    schemas.validate("image/image", QUEUED)
    schemas.validate("image/images", IMAGES)
    schemas.validate("image/error", ERROR)
    schemas.validate("image/error", WEBOB_ERROR)
    schemas.validate("image/schema", SCHEMA_IMAGE)
    schemas.validate("image/schema", SCHEMA_IMAGES)
    paged = copy.deepcopy(IMAGES)
    paged["next"] = "/v2/images?marker=" + IMAGE["id"]
    schemas.validate("image/images", paged)


def test_custom_properties_are_strings_in_both_modes():
    """Glance puts custom properties at the top level, as strings: a string
    extra is fine in both modes, a non-string one in neither."""
    extra = copy.deepcopy(IMAGE)
    extra["os_distro"] = "debian"
    for mode in ("strict", "lenient"):
        Schemas(mode).validate("image/image", extra)
    extra["hw_cpu_cores"] = 4
    for mode in ("strict", "lenient"):
        with pytest.raises(ResponseSchemaError) as info:
            Schemas(mode).validate("image/image", extra)
        assert [p.path for p in info.value.problems] == ["$.hw_cpu_cores"]


def test_strict_refuses_unknown_list_fields_lenient_allows_them():
    vendor = copy.deepcopy(IMAGES)
    vendor["x_vendor_total"] = 12
    with pytest.raises(ResponseSchemaError) as info:
        Schemas("strict").validate("image/images", vendor)
    assert [p.path for p in info.value.problems] == ["$.x_vendor_total"]
    Schemas("lenient").validate("image/images", vendor)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_missing_and_wrong_fields_fail_in_both_modes(mode):
    bad = copy.deepcopy(IMAGES)
    del bad["images"][0]["id"]
    bad["images"][0]["status"] = "ready"
    bad["images"][0]["size"] = "4096"
    with pytest.raises(ResponseSchemaError) as info:
        Schemas(mode).validate("image/images", bad)
    paths = [p.path for p in info.value.problems]
    assert paths == ["$.images[0]", "$.images[0].size", "$.images[0].status"], paths
    assert "'id' is a required property" in str(info.value)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
@pytest.mark.parametrize(
    "body",
    [
        "404 Not Found\n\nThe resource could not be found.",
        {"error": {"code": 404}},
        {"error": {"code": "404", "message": "x"}},
        {"message": "no code"},
        {"code": "200 OK", "message": "not an error"},
    ],
    ids=["plain-text", "no-message", "code-as-string", "no-code", "not-an-error-code"],
)
def test_non_glance_error_bodies_fail(mode, body):
    with pytest.raises(ResponseSchemaError):
        Schemas(mode).validate("image/error", body)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_image_schema_document_needs_name_and_properties(mode):
    bad = copy.deepcopy(SCHEMA_IMAGE)
    del bad["properties"]
    with pytest.raises(ResponseSchemaError):
        Schemas(mode).validate("image/schema", bad)
