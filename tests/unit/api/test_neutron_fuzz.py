"""Fuzzing every Neutron route of the API in-process (schemathesis over the
app's own OpenAPI description) over a real
NetworkPlane on a recording fake kernel, with a member's and an admin's token:
not one answer may be a 5xx."""

from __future__ import annotations

import schemathesis

from octoprobe.reference_impl.api.fuzz import fuzz_schema


def test_no_neutron_route_answers_5xx(neutron):
    document = neutron.client.get("/openapi.json").json()
    document["paths"] = {p: ops for p, ops in document["paths"].items() if p.startswith("/network")}
    schema = schemathesis.openapi.from_dict(document)
    member = neutron.member.headers  # and an admin's below: admins reach more of each route

    def call(case, headers):
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        return neutron.client.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"),
                                      params=kwargs.get("params"), json=kwargs.get("json"),
                                      content=kwargs.get("data") if kwargs.get("json") is None else None)

    report = fuzz_schema(schema, header_sets=[member, neutron.admin.headers], max_examples=6, call=call)
    assert report.operations >= 40 and report.calls > report.operations
    assert report.failures == [], "\n".join(report.failures[:10])
