"""Fuzzing every route of the live API (schemathesis, driven by the API's
own OpenAPI description): as a member of a project of its own (what the
fuzzer manages to create stays there, out of the other tests' way), and
without a token. Not one answer may be a 5xx."""

from __future__ import annotations

import secrets

import requests
import schemathesis

from octoprobe.reference_impl.api.fuzz import fuzz_schema


def fuzz_member_token(api_cloud) -> str:
    """A token of a new user with the member role on a new project ``fuzz``."""
    password = secrets.token_urlsafe(16)
    admin = dict(cloud="octoprobe-admin")
    api_cloud.openstack("project", "create", "fuzz", **admin)
    api_cloud.openstack("user", "create", "--project", "fuzz", "--password", password, "fuzzer", **admin)
    api_cloud.openstack("role", "add", "--user", "fuzzer", "--project", "fuzz", "member", json_out=False, **admin)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "fuzzer", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "fuzz", "domain": {"id": "default"}}}}}
    resp = requests.post(api_cloud.base_url + "/identity/v3/auth/tokens", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def test_no_route_answers_5xx(api_cloud):
    schema = schemathesis.openapi.from_url(api_cloud.base_url + "/openapi.json")
    token = fuzz_member_token(api_cloud)
    report = fuzz_schema(schema, header_sets=[{"X-Auth-Token": token}, {}], max_examples=8)
    print(f"fuzz: {report.operations} operations, {report.calls} calls, {report.by_status}")
    assert report.operations >= 40 and report.calls > report.operations
    assert report.failures == []
