"""Helpers of the identity tests: Keystone calls through the run's
keystoneauth sessions (so every call is traced), and the checks the tests
share (status, error body, schema).

The calls go through the openstacksdk identity proxy (a keystoneauth
Adapter on the connection's Session) with ``raise_exc=False``: the tests
judge status codes and bodies themselves. ``authenticated=False`` sends no
token, for requests that carry their own (or none on purpose).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from octoprobe.resources import ResourceRegistry
from octoprobe.schemas import Schemas

JSON = "application/json"


def auth_settings(conn: Any) -> Mapping[str, Any]:
    """The ``auth`` section of a connection's clouds.yaml entry."""
    return conn.config.config.get("auth") or {}


def _domain(auth: Mapping[str, Any], kind: str) -> dict[str, str]:
    if auth.get(f"{kind}_domain_id"):
        return {"id": auth[f"{kind}_domain_id"]}
    if auth.get(f"{kind}_domain_name"):
        return {"name": auth[f"{kind}_domain_name"]}
    if auth.get("domain_id"):
        return {"id": auth["domain_id"]}
    return {"name": auth.get("domain_name") or "Default"}


def password_auth(
    conn: Any, *, password: str | None = None, project: Mapping[str, Any] | None = None, scoped: bool = True
) -> dict[str, Any]:
    """A password authentication body for the user of ``conn``'s cloud,
    scoped to its project (or ``project``), with ``password`` if given."""
    auth = auth_settings(conn)
    if "password" not in auth or not (auth.get("username") or auth.get("user_id")):
        raise LookupError(
            f"cloud {conn.config.name!r} does not authenticate with a user name and password "
            f"(auth_type {conn.config.config.get('auth_type')!r})"
        )
    user: dict[str, Any] = {"password": auth["password"] if password is None else password}
    if auth.get("user_id"):
        user["id"] = auth["user_id"]
    else:
        user["name"] = auth["username"]
        user["domain"] = _domain(auth, "user")
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    if project is not None:
        body["auth"]["scope"] = {"project": dict(project)}
    elif scoped:
        if auth.get("project_id"):
            body["auth"]["scope"] = {"project": {"id": auth["project_id"]}}
        elif auth.get("project_name"):
            body["auth"]["scope"] = {
                "project": {"name": auth["project_name"], "domain": _domain(auth, "project")}
            }
    return body


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def describe(resp: Any) -> str:
    """One line about a response, for assertion messages."""
    rid = resp.headers.get("x-openstack-request-id") or resp.headers.get("x-compute-request-id") or "-"
    body = (resp.text or "")[:300]
    return f"{resp.request.method} {resp.url} -> {resp.status_code} (request id {rid}): {body}"


def check_status(resp: Any, *expected: int) -> None:
    assert resp.status_code in expected, f"expected HTTP {' or '.join(map(str, expected))}; got {describe(resp)}"


def json_body(resp: Any) -> Any:
    ctype = resp.headers.get("content-type", "")
    assert ctype.split(";")[0].strip() == JSON, f"expected a JSON body ({JSON}), got {ctype!r}: {describe(resp)}"
    try:
        return resp.json()
    except ValueError:
        raise AssertionError(f"the body is not valid JSON: {describe(resp)}") from None


def check_error(schemas: Schemas, resp: Any, status: int) -> dict[str, Any]:
    """The response is HTTP ``status`` with Keystone's error body
    ``{"error": {"code": status, "message": ...}}``; returns the error."""
    check_status(resp, status)
    body = schemas.validate("identity/error", json_body(resp))
    error = body["error"]
    assert error["code"] == status, f"error.code is {error['code']!r}, the status is {status}: {describe(resp)}"
    return error


@dataclass
class Issued:
    token: str
    body: dict[str, Any]
    response: Any


class Keystone:
    """Token operations against one connection's identity endpoint."""

    def __init__(self, conn: Any, schemas: Schemas):
        self.conn = conn
        self.api = conn.identity
        self.schemas = schemas

    def request(self, method: str, path: str, *, token: str | None = None, subject: str | None = None,
                authenticated: bool | None = None, **kwargs: Any) -> Any:
        """``method path`` on the identity v3 endpoint; with ``token`` as
        X-Auth-Token instead of the connection's own; ``subject`` as
        X-Subject-Token."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept", JSON)
        if token is not None:
            headers["X-Auth-Token"] = token
            authenticated = False
        if subject is not None:
            headers["X-Subject-Token"] = subject
        if authenticated is None:
            authenticated = True
        # skip_cache: a clouds.yaml may enable openstacksdk's GET cache; a test must reach the cloud
        return self.api.request(path, method, headers=headers, authenticated=authenticated,
                                raise_exc=False, skip_cache=True, **kwargs)

    def authenticate(self, body: Mapping[str, Any], **kwargs: Any) -> Any:
        """POST /v3/auth/tokens with ``body``, without any token."""
        return self.request("POST", "/auth/tokens", json=body, authenticated=False, **kwargs)

    def issue(self, resources: ResourceRegistry | None = None, **auth: Any) -> Issued:
        """A new token for the connection's user (201 checked); revoked after
        the test when ``resources`` is given."""
        resp = self.authenticate(password_auth(self.conn, **auth))
        check_status(resp, 201)
        token = resp.headers.get("X-Subject-Token")
        assert token, f"a 201 from POST /v3/auth/tokens has no X-Subject-Token header: {describe(resp)}"
        if resources is not None:
            resources.add("identity token", lambda: self.revoke_quietly(token))
        return Issued(token, json_body(resp), resp)

    def revoke_quietly(self, token: str) -> None:
        resp = self.request("DELETE", "/auth/tokens", subject=token)
        if resp.status_code not in (204, 404):  # 404: the test revoked it already
            raise RuntimeError(f"revoking a token of the run failed: {describe(resp)}")
