"""identity-v3-tokens-create / -validate / -delete: password authentication,
token validation and revocation, and how each fails.

Every token a test issues is revoked after it (the ``resources`` fixture)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from .keystone import auth_settings, check_error, check_status, json_body, parse_time, password_auth

CREATE = "identity-v3-tokens-create"
VALIDATE = "identity-v3-tokens-validate"
DELETE = "identity-v3-tokens-delete"


def _check_token(token: dict, conn) -> None:
    auth = auth_settings(conn)
    assert "password" in token["methods"], f"methods {token['methods']} lack 'password'"
    if auth.get("username"):
        assert token["user"]["name"] == auth["username"], "the token is for another user"
    assert token["user"]["id"] == conn.current_user_id, "the token's user id is not the connection's user"
    assert "project" in token, "a project-scoped token has no project"
    assert token["project"]["id"] == conn.current_project_id, "the token is scoped to another project"
    assert token.get("roles"), "a project-scoped token carries no roles"
    issued, expires = parse_time(token["issued_at"]), parse_time(token["expires_at"])
    now = dt.datetime.now(dt.timezone.utc)
    assert expires > issued, f"expires_at {token['expires_at']} is not after issued_at {token['issued_at']}"
    assert expires > now, f"a new token expires in the past ({token['expires_at']})"
    assert abs((issued - now).total_seconds()) < 600, f"issued_at {token['issued_at']} is far from now ({now})"


# ---------------------------------------------------------------- create


@pytest.mark.capability(CREATE, "6f8e4436-fc96-4282-8122-e41df57197a9")
def test_create_token(keystone, conn, schemas, resources):
    """POST /v3/auth/tokens (password, project scope): 201, X-Subject-Token,
    a token for this user and project with roles and a catalog."""
    issued = keystone.issue(resources)
    token = schemas.validate("identity/token", issued.body)["token"]
    _check_token(token, conn)
    assert token.get("catalog"), "a project-scoped token without ?nocatalog has no catalog"


@pytest.mark.capability(CREATE, "7d3c2b8e-5f61-4e0a-9c47-1b2d8e6f3a90")
def test_create_unscoped_token(keystone, conn, schemas, resources):
    """An explicitly unscoped password token (Tempest's test_create_token asks
    for one): 201, this user, no project, no roles."""
    resp = keystone.authenticate({"auth": {**password_auth(conn, scoped=False)["auth"], "scope": "unscoped"}})
    check_status(resp, 201)
    token_id = resp.headers.get("X-Subject-Token")
    assert token_id, "a 201 from POST /v3/auth/tokens has no X-Subject-Token header"
    resources.add("identity token", lambda: keystone.revoke_quietly(token_id))
    token = schemas.validate("identity/token", json_body(resp))["token"]
    assert token["methods"][0] == "password"
    assert token["user"]["id"] == conn.current_user_id
    assert "project" not in token and "domain" not in token, "an unscoped token carries a scope"
    assert not token.get("roles"), "an unscoped token carries roles"
    assert parse_time(token["expires_at"]) > max(parse_time(token["issued_at"]), dt.datetime.now(dt.timezone.utc))


@pytest.mark.capability(CREATE, "bd381cb4-dcd4-4310-b7fa-95d78b520db6")
def test_create_token_wrong_password_is_401(keystone, schemas):
    """A wrong password: 401 with an error body, and no token."""
    resp = keystone.authenticate(password_auth(keystone.conn, password="wrong-" + uuid.uuid4().hex))
    check_error(schemas, resp, 401)
    assert "X-Subject-Token" not in resp.headers, "a failed authentication returned a token"


@pytest.mark.capability(CREATE, "e238486a-3818-4fa1-9d3a-3adccac1925b")
def test_create_token_unknown_user_is_401(keystone, schemas):
    """An unknown user name: 401 like a wrong password (no user enumeration), not 404."""
    body = password_auth(keystone.conn)
    user = body["auth"]["identity"]["password"]["user"]
    user.pop("id", None)
    user["name"] = "octoprobe-no-such-user-" + uuid.uuid4().hex[:12]
    user.setdefault("domain", {"name": "Default"})
    check_error(schemas, keystone.authenticate(body), 401)


@pytest.mark.capability(CREATE, "0643f229-4094-4997-909b-48b6f1d771a6")
def test_create_token_unknown_project_scope_is_401(keystone, schemas):
    """Scoping to a project that does not exist: 401, and no token."""
    resp = keystone.authenticate(password_auth(keystone.conn, project={"id": uuid.uuid4().hex}))
    check_error(schemas, resp, 401)
    assert "X-Subject-Token" not in resp.headers


@pytest.mark.capability(CREATE, "16f0f20b-990f-49d6-aafd-44ef1dd01d77")
def test_create_token_malformed_request_is_400(keystone, schemas):
    """An auth request without an identity: 400 with an error body."""
    check_error(schemas, keystone.authenticate({"auth": {"scope": "unscoped"}}), 400)


@pytest.mark.needs_alt
@pytest.mark.capability(CREATE, "09a616be-a693-4b7b-86da-fee2eb0565e0")
def test_create_token_for_a_project_not_ours_is_401(keystone, alt_conn, schemas):
    """Scoping to another tenant's (existing) project: 401, no token."""
    resp = keystone.authenticate(password_auth(keystone.conn, project={"id": alt_conn.current_project_id}))
    check_error(schemas, resp, 401)
    assert "X-Subject-Token" not in resp.headers


# ---------------------------------------------------------------- validate


@pytest.mark.capability(VALIDATE, "a9512ac3-3909-48a4-b395-11f438e16260")
def test_validate_token(keystone, conn, schemas, resources):
    """GET /v3/auth/tokens with X-Subject-Token: 200, the same token (ids,
    expiry, audit ids), the subject echoed back."""
    issued = keystone.issue(resources)
    resp = keystone.request("GET", "/auth/tokens", token=issued.token, subject=issued.token)
    check_status(resp, 200)
    assert resp.headers.get("X-Subject-Token") == issued.token, "validation does not echo X-Subject-Token"
    shown = schemas.validate("identity/token", json_body(resp))["token"]
    created = issued.body["token"]
    _check_token(shown, conn)
    for key in ("expires_at", "audit_ids"):
        assert shown[key] == created[key], f"validation shows {key} {shown[key]!r}, creation said {created[key]!r}"
    assert parse_time(shown["issued_at"]) == parse_time(created["issued_at"])
    resp = keystone.request("HEAD", "/auth/tokens", token=issued.token, subject=issued.token)
    check_status(resp, 200, 204)


@pytest.mark.capability(VALIDATE, "e01a4b3e-1a7d-40b5-8c8d-17f241041482")
def test_validate_nocatalog(keystone, schemas, resources):
    """?nocatalog: the validated token comes without its catalog."""
    issued = keystone.issue(resources)
    resp = keystone.request("GET", "/auth/tokens?nocatalog", subject=issued.token)
    check_status(resp, 200)
    token = schemas.validate("identity/token", json_body(resp))["token"]
    assert "catalog" not in token, "?nocatalog still returned a catalog"


@pytest.mark.capability(VALIDATE, "2372d789-331c-474d-a217-f4c6be32ce97")
def test_validate_unknown_token_is_404(keystone, schemas):
    """A subject token that was never issued: 404 with an error body."""
    check_error(schemas, keystone.request("GET", "/auth/tokens", subject="gAAAAA" + uuid.uuid4().hex), 404)


@pytest.mark.capability(VALIDATE, "3571cd57-3936-4126-9b2a-499c4524b359")
def test_validate_without_subject_is_400(keystone, schemas):
    """GET /v3/auth/tokens without X-Subject-Token: 400 (or 404), with an error body."""
    resp = keystone.request("GET", "/auth/tokens")
    check_error(schemas, resp, resp.status_code if resp.status_code in (400, 404) else 400)


@pytest.mark.needs_alt
@pytest.mark.capability(VALIDATE, "1a89cafe-d184-4723-b32a-ba07a4d74d3e")
def test_validate_another_users_token_is_403(keystone, alt_keystone, schemas, resources):
    """A member may not validate another tenant's user's token: 403."""
    theirs = alt_keystone.issue(resources)
    check_error(schemas, keystone.request("GET", "/auth/tokens", subject=theirs.token), 403)


# ---------------------------------------------------------------- delete


@pytest.mark.capability(DELETE, "0f9f5a5f-d5cd-4a86-8a5b-c5ded151f212")
def test_token_auth_creation_existence_deletion(keystone, schemas, resources):
    """Create a token, see it exist (HEAD 200), revoke it (DELETE 204); then
    it does not exist (HEAD/GET 404) and authenticates nothing (401)."""
    issued = keystone.issue(resources)
    check_status(keystone.request("HEAD", "/auth/tokens", subject=issued.token), 200, 204)
    resp = keystone.request("DELETE", "/auth/tokens", token=issued.token, subject=issued.token)
    check_status(resp, 204)
    assert not resp.content, "DELETE /v3/auth/tokens answered 204 with a body"
    check_status(keystone.request("HEAD", "/auth/tokens", subject=issued.token), 404)
    check_error(schemas, keystone.request("GET", "/auth/tokens", subject=issued.token), 404)
    check_error(schemas, keystone.request("GET", "/auth/catalog", token=issued.token), 401)


@pytest.mark.capability(DELETE, "19d42a67-dc38-4235-ad42-f9671ec8b8a0")
def test_delete_unknown_token_is_404(keystone, schemas):
    """Revoking a token that was never issued: 404 with an error body."""
    check_error(schemas, keystone.request("DELETE", "/auth/tokens", subject="gAAAAA" + uuid.uuid4().hex), 404)


@pytest.mark.needs_alt
@pytest.mark.capability(DELETE, "3874e108-7d1e-42ba-8e59-91470576299c")
def test_delete_another_users_token_is_403(keystone, alt_keystone, schemas, resources):
    """A member may not revoke another tenant's user's token: 403, and it stays valid."""
    theirs = alt_keystone.issue(resources)
    check_error(schemas, keystone.request("DELETE", "/auth/tokens", subject=theirs.token), 403)
    check_status(alt_keystone.request("GET", "/auth/tokens", token=theirs.token, subject=theirs.token), 200)
