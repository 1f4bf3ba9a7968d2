"""Fuzzing every route of the live API (schemathesis, driven by the API's
own OpenAPI description): as a member of a project, and without a token.
Not one answer may be a 5xx."""

from __future__ import annotations

import schemathesis

from octoprobe.reference_impl.api.fuzz import fuzz_schema


def test_no_route_answers_5xx(api_cloud):
    schema = schemathesis.openapi.from_url(api_cloud.base_url + "/openapi.json")
    token = api_cloud.connection("octoprobe").auth_token
    report = fuzz_schema(schema, header_sets=[{"X-Auth-Token": token}, {}], max_examples=8)
    print(f"fuzz: {report.operations} operations, {report.calls} calls, {report.by_status}")
    assert report.operations >= 40 and report.calls > report.operations
    assert report.failures == []
