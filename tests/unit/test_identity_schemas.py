"""The identity response schemas (octoprobe/schemas/identity/) against
Keystone's documented responses, in both modes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from octoprobe.schemas import ResponseSchemaError, Schemas

DATA = Path(__file__).parent / "data" / "harness"


def sample(name: str) -> dict:
    return json.loads((DATA / name).read_text())


TOKEN = sample("keystone_token.json")
PROJECTS = sample("keystone_projects.json")
USERS = sample("keystone_users.json")
ERROR = sample("keystone_error.json")


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_documented_responses_match(mode):
    schemas = Schemas(mode)
    schemas.validate("identity/token", TOKEN)
    schemas.validate("identity/catalog", {"catalog": TOKEN["token"]["catalog"], "links": {"self": "http://x/"}})
    schemas.validate("identity/projects", PROJECTS)
    schemas.validate("identity/project", {"project": PROJECTS["projects"][0]})
    schemas.validate("identity/users", USERS)
    schemas.validate("identity/error", ERROR)
    unscoped = copy.deepcopy(TOKEN)
    for key in ("project", "roles", "catalog", "is_domain"):
        del unscoped["token"][key]
    schemas.validate("identity/token", unscoped)


def test_strict_refuses_unknown_fields_lenient_allows_them():
    vendor = copy.deepcopy(TOKEN)
    vendor["token"]["x_vendor"] = 1
    vendor["token"]["catalog"][0]["endpoints"][0]["weight"] = 3
    with pytest.raises(ResponseSchemaError) as info:
        Schemas("strict").validate("identity/token", vendor)
    assert [p.path for p in info.value.problems] == ["$.token.catalog[0].endpoints[0].weight", "$.token.x_vendor"]
    Schemas("lenient").validate("identity/token", vendor)


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_missing_and_wrong_fields_fail_in_both_modes(mode):
    bad = copy.deepcopy(TOKEN)
    del bad["token"]["expires_at"]
    bad["token"]["catalog"][0]["endpoints"][0]["interface"] = "private"
    bad["token"]["user"]["id"] = ""
    with pytest.raises(ResponseSchemaError) as info:
        Schemas(mode).validate("identity/token", bad)
    assert [p.path for p in info.value.problems] == [
        "$.token",
        "$.token.catalog[0].endpoints[0].interface",
        "$.token.user.id",
    ]
    assert "'expires_at' is a required property" in str(info.value)


@pytest.mark.parametrize(
    "body, path",
    [
        ({"error": {"code": "401", "message": "no"}}, "$.error.code"),
        ({"error": {"code": 401}}, "$.error"),
        ({"error": {"code": 200, "message": "ok"}}, "$.error.code"),
        ({"badRequest": {"code": 400, "message": "nova's format, not keystone's"}}, "$"),
    ],
)
def test_error_bodies(body, path):
    with pytest.raises(ResponseSchemaError) as info:
        Schemas("lenient").validate("identity/error", body)
    assert path in [p.path for p in info.value.problems]


def test_users_list_needs_links_and_ids():
    bad = copy.deepcopy(USERS)
    del bad["links"]
    del bad["users"][0]["id"]
    with pytest.raises(ResponseSchemaError) as info:
        Schemas("strict").validate("identity/users", bad)
    assert [p.path for p in info.value.problems] == ["$", "$.users[0]"]
