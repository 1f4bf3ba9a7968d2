"""Fuzzing every Cinder route in-process (schemathesis over the app's own
OpenAPI description) with a member's token and without one, over the real
block library on an in-memory RBD: not one answer may be a 5xx."""

from __future__ import annotations

import schemathesis

from octoprobe.reference_impl.api.fuzz import fuzz_schema
from test_volume_api import cinder  # noqa: F401  (the fixture)


def test_no_cinder_route_answers_5xx(cinder):  # noqa: F811
    vid = cinder.create(name="fuzz-target")["id"]
    cinder.wait(vid, "available")
    document = cinder.api.client.get("/openapi.json").json()
    document["paths"] = {p: ops for p, ops in document["paths"].items() if p.startswith("/volume")}
    schema = schemathesis.openapi.from_dict(document)
    member = cinder.api.member.headers

    def call(case, headers):
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        return cinder.api.client.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"),
                                         params=kwargs.get("params"), json=kwargs.get("json"),
                                         content=kwargs.get("data") if kwargs.get("json") is None else None)

    report = fuzz_schema(schema, header_sets=[member, {}], max_examples=6, call=call)
    assert report.operations >= 60 and report.calls > report.operations
    assert report.failures == [], "\n".join(report.failures[:10])


WEIRD = [None, 0, -1, 1.5, "", "x", "#$%", True, [], [1], {}, {"a": None}, {"a": {"b": 1}}, "9" * 40, 2 ** 70]


def test_actions_and_bodies_with_odd_values_never_answer_5xx(cinder):  # noqa: F811
    from octoprobe.reference_impl.api.volume_actions import ACTIONS
    vid = cinder.create(name="odd")["id"]
    cinder.wait(vid, "available")
    admin = cinder.api.admin
    failures = []
    keys = ("new_size", "bootable", "readonly", "image_name", "disk_format", "force", "instance_uuid",
            "mountpoint", "host_name", "mode", "attachment_id", "connector", "metadata", "key", "status")
    for action in set(ACTIONS) - {"os-force_delete"}:
        for value in WEIRD:
            for body in (value, *({k: value} for k in keys)):
                r = cinder.action(vid, action, body, admin)
                if r.status_code >= 500:
                    failures.append(f"{action} {body!r} -> {r.status_code} {r.text[:200]}")
                if r.status_code < 300 and action != "os-extend":
                    cinder.action(vid, "os-reset_status", {"status": "available", "attach_status": "detached"},
                                  admin)
            cinder.wait(vid, "available", admin)
    for method, path, wrapper in (("POST", "/volumes", "volume"), ("POST", "/snapshots", "snapshot"),
                                  ("PUT", f"/volumes/{vid}", "volume"), ("POST", f"/volumes/{vid}/metadata", "metadata"),
                                  ("PUT", f"/volumes/{vid}/metadata/a", "meta")):
        for key in ("size", "name", "metadata", "snapshot_id", "source_volid", "imageRef", "volume_type",
                    "availability_zone", "volume_id", "force", "description", "a"):
            for value in WEIRD:
                for body in ({wrapper: {key: value}}, {wrapper: value}, value):
                    r = cinder.call(method, path, json=body)
                    if r.status_code >= 500:
                        failures.append(f"{method} {path} {body!r} -> {r.status_code} {r.text[:200]}")
    for query in ("limit=-1", "limit=x", "marker=nope", "sort=x:y", "sort_key=size&sort_dir=up", "metadata=[1]",
                  "metadata={", "bootable=maybe", "offset=-3", "all_tenants=zzz", "sort=name:asc&sort_key=id"):
        for path in ("/volumes", "/volumes/detail", "/snapshots", "/snapshots/detail"):
            r = cinder.call("GET", f"{path}?{query}")
            if r.status_code >= 500:
                failures.append(f"GET {path}?{query} -> {r.status_code} {r.text[:200]}")
    assert failures == [], "\n".join(failures[:10])
