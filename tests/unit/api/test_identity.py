"""Keystone v3 of the reference cloud's API, through the ASGI app."""

from __future__ import annotations

import time

import pytest

PW = {"methods": ["password"]}


def password_auth(user: str, password: str, project: str | None = "demo") -> dict:
    auth: dict = {"identity": {**PW, "password": {"user": {"name": user, "domain": {"id": "default"},
                                                           "password": password}}}}
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    return {"auth": auth}


def issue(api, user="demo", password="demo-pw", project="demo"):
    return api.client.post("/identity/v3/auth/tokens", json=password_auth(user, password, project))


def test_version_discovery(api):
    root = api.client.get("/identity/")
    assert root.status_code == 300
    assert root.json()["versions"]["values"][0]["id"].startswith("v3")
    v3 = api.client.get("/identity/v3")
    assert v3.status_code == 200 and v3.json()["version"]["status"] == "stable"
    assert v3.headers["x-openstack-request-id"].startswith("req-")


def test_password_auth_gives_token_header_expiry_and_catalog(api):
    r = issue(api)
    assert r.status_code == 201, r.text
    token = r.headers["X-Subject-Token"]
    body = r.json()["token"]
    assert body["project"]["name"] == "demo"
    assert {role["name"] for role in body["roles"]} == {"member", "reader"}
    assert body["expires_at"].endswith("Z") and body["expires_at"] > body["issued_at"]
    types = {entry["type"] for entry in body["catalog"]}
    assert {"identity", "compute", "image", "volumev3", "block-storage", "network"} <= types
    for entry in body["catalog"]:
        assert {e["interface"] for e in entry["endpoints"]} == {"public", "internal", "admin"}
        assert {e["region"] for e in entry["endpoints"]} == {"RegionOne"}
    assert token not in r.text  # the token is only in the header


def test_wrong_password_unknown_user_and_no_access_are_401(api):
    assert issue(api, password="nope").status_code == 401
    assert issue(api, user="ghost").status_code == 401
    other = api.account("eve")
    r = api.client.post("/identity/v3/auth/tokens", json=password_auth("eve", "eve-pw", "demo"))
    assert r.status_code == 401 and "no access" in r.json()["error"]["message"]
    assert other.project_id


def test_validate_and_revoke(api):
    token = issue(api).headers["X-Subject-Token"]
    headers = {"X-Auth-Token": token, "X-Subject-Token": token}
    ok = api.client.get("/identity/v3/auth/tokens", headers=headers)
    assert ok.status_code == 200 and ok.headers["X-Subject-Token"] == token
    assert api.client.head("/identity/v3/auth/tokens", headers=headers).status_code == 200
    assert api.client.delete("/identity/v3/auth/tokens", headers=headers).status_code == 204
    assert api.client.get("/identity/v3/auth/catalog", headers={"X-Auth-Token": token}).status_code == 401


def test_expired_token_is_401(api_factory):
    api = api_factory(token_ttl=0.2)
    token = issue(api).headers["X-Subject-Token"]
    time.sleep(0.3)
    r = api.client.get("/identity/v3/auth/catalog", headers={"X-Auth-Token": token})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401


def test_missing_and_garbage_tokens_are_401(api):
    assert api.client.get("/identity/v3/projects").status_code == 401
    assert api.client.get("/identity/v3/projects", headers={"X-Auth-Token": "x" * 5000}).status_code == 401


def test_rescope_with_token(api):
    unscoped = issue(api, project=None)
    assert unscoped.status_code == 201
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped.headers["X-Subject-Token"]}},
                     "scope": {"project": {"id": api.member.project_id}}}}
    r = api.client.post("/identity/v3/auth/tokens", json=body)
    assert r.status_code == 201 and r.json()["token"]["project"]["id"] == api.member.project_id


@pytest.mark.parametrize("body, fragment", [
    ("{not json", "Malformed"),
    ({"auth": {}}, "identity"),
    ({"auth": {"identity": {"methods": ["kerberos"]}}}, "methods"),
    ([], "body"),
])
def test_malformed_auth_requests_are_400(api, body, fragment):
    if isinstance(body, str):
        r = api.client.post("/identity/v3/auth/tokens", content=body, headers={"Content-Type": "application/json"})
    else:
        r = api.client.post("/identity/v3/auth/tokens", json=body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"]


def test_admin_manages_projects_users_and_roles(api):
    h = api.admin.headers
    p = api.client.post("/identity/v3/projects", json={"project": {"name": "p1"}}, headers=h)
    assert p.status_code == 201
    pid = p.json()["project"]["id"]
    assert api.client.post("/identity/v3/projects", json={"project": {"name": "p1"}}, headers=h).status_code == 409
    # Keystone's limit on a project's name is 64 characters (Tempest's test_create_project_with_name_length_over_64)
    long = api.client.post("/identity/v3/projects", json={"project": {"name": "a" * 65}}, headers=h)
    assert long.status_code == 400 and long.json()["error"]["code"] == 400, long.text
    assert api.client.post("/identity/v3/projects", json={"project": {"name": "b" * 64}}, headers=h).status_code == 201
    u = api.client.post("/identity/v3/users", json={"user": {"name": "u1", "password": "pw1"}}, headers=h)
    assert u.status_code == 201 and "password" not in u.json()["user"]
    uid = u.json()["user"]["id"]
    reader = [r for r in api.client.get("/identity/v3/roles", headers=h).json()["roles"] if r["name"] == "reader"][0]
    grant = f"/identity/v3/projects/{pid}/users/{uid}/roles/{reader['id']}"
    assert api.client.put(grant, headers=h).status_code == 204
    assert api.client.head(grant, headers=h).status_code == 204
    listed = api.client.get(f"/identity/v3/role_assignments?user.id={uid}&include_names=1", headers=h).json()
    assert [a["role"]["name"] for a in listed["role_assignments"]] == ["reader"]
    r = api.client.post("/identity/v3/auth/tokens", json=password_auth("u1", "pw1", "p1"))
    assert r.status_code == 201 and [x["name"] for x in r.json()["token"]["roles"]] == ["reader"]
    # a reader may read but not write
    token = {"X-Auth-Token": r.headers["X-Subject-Token"]}
    assert api.client.get("/identity/v3/auth/projects", headers=token).status_code == 200
    assert api.client.post("/identity/v3/projects", json={"project": {"name": "x"}}, headers=token).status_code == 403
    # removing the role ends the token's access at once
    assert api.client.delete(grant, headers=h).status_code == 204
    assert api.client.get("/identity/v3/auth/projects", headers=token).status_code == 401
    assert api.client.delete(f"/identity/v3/users/{uid}", headers=h).status_code == 204
    assert api.client.get(f"/identity/v3/users/{uid}", headers=h).status_code == 404


def test_members_cannot_administer(api):
    h = api.member.headers
    assert api.client.post("/identity/v3/projects", json={"project": {"name": "p2"}}, headers=h).status_code == 403
    assert api.client.get("/identity/v3/users", headers=h).status_code == 403
    assert api.client.get(f"/identity/v3/users/{api.admin.user_id}", headers=h).status_code == 403
    assert api.client.get("/identity/v3/projects", headers=h).status_code == 403
    own = api.client.get("/identity/v3/auth/projects", headers=h).json()["projects"]
    assert [p["name"] for p in own] == ["demo"]
    assert api.client.get(f"/identity/v3/projects/{api.member.project_id}", headers=h).status_code == 200
    assert api.client.get(f"/identity/v3/projects/{api.admin.project_id}", headers=h).status_code == 403
    assert api.client.get("/identity/v3/projects/no-such-project", headers=h).status_code == 403


def test_application_credentials(api):
    h = api.member.headers
    uid = api.member.user_id
    r = api.client.post(f"/identity/v3/users/{uid}/application_credentials",
                        json={"application_credential": {"name": "ci"}}, headers=h)
    assert r.status_code == 201, r.text
    cred = r.json()["application_credential"]
    listed = api.client.get(f"/identity/v3/users/{uid}/application_credentials", headers=h).json()
    assert "secret" not in listed["application_credentials"][0]
    auth = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": cred["id"], "secret": cred["secret"]}}}}
    t = api.client.post("/identity/v3/auth/tokens", json=auth)
    assert t.status_code == 201 and t.json()["token"]["project"]["id"] == api.member.project_id
    bad = {"auth": {"identity": {"methods": ["application_credential"],
                                 "application_credential": {"id": cred["id"], "secret": "wrong"}}}}
    assert api.client.post("/identity/v3/auth/tokens", json=bad).status_code == 401
    assert api.client.delete(f"/identity/v3/users/{uid}/application_credentials/{cred['id']}",
                             headers=h).status_code == 204
    assert api.client.get("/identity/v3/auth/catalog",
                          headers={"X-Auth-Token": t.headers["X-Subject-Token"]}).status_code == 401


def test_unknown_route_and_method_use_keystone_errors(api):
    r = api.client.get("/identity/v3/nothing-here", headers=api.member.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    r = api.client.put("/identity/v3/auth/catalog", headers=api.member.headers)
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_openapi_lists_every_route(api):
    doc = api.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/identity/v3/auth/tokens"]
    assert "security" not in doc["paths"]["/identity/v3/auth/tokens"]["post"]
    assert doc["paths"]["/identity/v3/projects/{project_id}"]["delete"]["security"] == [{"token": []}]
