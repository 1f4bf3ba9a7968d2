"""identity-v3-list-projects, and octoprobe's identity-v3-projects-get and
identity-v3-rbac: which projects and users a caller may see."""

from __future__ import annotations

import uuid

import pytest

from .keystone import check_error, check_status, json_body

LIST = "identity-v3-list-projects"
GET = "identity-v3-projects-get"
RBAC = "identity-v3-rbac"


def _project_ids(keystone, schemas, path: str) -> set[str]:
    resp = keystone.request("GET", path)
    check_status(resp, 200)
    return {p["id"] for p in schemas.validate("identity/projects", json_body(resp))["projects"]}


@pytest.mark.capability(LIST, "c5c296cc-49be-44b9-9508-cb911258d2f5")
def test_list_my_projects(keystone, conn, schemas):
    """GET /v3/auth/projects and GET /v3/users/{me}/projects list the
    caller's project."""
    mine = conn.current_project_id
    assert mine in _project_ids(keystone, schemas, "/auth/projects"), "GET /v3/auth/projects lacks my project"
    assert mine in _project_ids(keystone, schemas, f"/users/{conn.current_user_id}/projects"), (
        "GET /v3/users/{me}/projects lacks my project"
    )


@pytest.mark.needs_alt
@pytest.mark.capability(LIST, "86128d46-e170-4644-866a-cc487f699e1d")
def test_list_projects_returns_only_authorized_projects(keystone, conn, alt_conn, schemas):
    """A user's project lists include their project and never another tenant's."""
    theirs = alt_conn.current_project_id
    for path in ("/auth/projects", f"/users/{conn.current_user_id}/projects"):
        ids = _project_ids(keystone, schemas, path)
        assert conn.current_project_id in ids, f"GET /v3{path} lacks my project"
        assert theirs not in ids, f"GET /v3{path} shows the other tenant's project {theirs}"


@pytest.mark.capability(LIST, "8823129c-7ead-4a4c-a0b1-318703f3ff4e")
def test_list_projects_needs_a_token(keystone, schemas):
    """GET /v3/auth/projects without a token: 401 with an error body."""
    check_error(schemas, keystone.request("GET", "/auth/projects", authenticated=False), 401)


@pytest.mark.capability(GET, "7a6760b7-a593-45f2-94d3-053d797dc060")
def test_show_my_project(keystone, conn, schemas):
    """A member can show their own project: GET /v3/projects/{id} 200."""
    resp = keystone.request("GET", f"/projects/{conn.current_project_id}")
    check_status(resp, 200)
    project = schemas.validate("identity/project", json_body(resp))["project"]
    assert project["id"] == conn.current_project_id


@pytest.mark.needs_admin
@pytest.mark.capability(GET, "fa83a728-14d4-44a6-bdaa-c9a0e6c37874")
def test_show_unknown_project_is_404(admin_keystone, schemas):
    """GET /v3/projects/{an id that does not exist}: 404 with an error body."""
    check_error(schemas, admin_keystone.request("GET", f"/projects/{uuid.uuid4().hex}"), 404)


@pytest.mark.needs_alt
@pytest.mark.capability(RBAC, "f58e6e2d-34e5-41fd-881f-adf48e24a3f2")
def test_show_another_tenants_project_is_403(keystone, alt_conn, schemas):
    """A member may not show another tenant's project: 403 with an error body."""
    check_error(schemas, keystone.request("GET", f"/projects/{alt_conn.current_project_id}"), 403)


@pytest.mark.capability(RBAC, "de229782-6290-4efa-be33-01990b60679f")
def test_member_cannot_list_users(keystone, schemas):
    """A project member may not list the users of the cloud: 403 with an error body."""
    check_error(schemas, keystone.request("GET", "/users"), 403)


@pytest.mark.needs_admin
@pytest.mark.capability(RBAC, "6d0c1a3e-7f44-4c52-9e8b-2f5a1d9b7c31")
def test_admin_lists_users(admin_keystone, conn, schemas):
    """An admin lists users (GET /v3/users 200), the member among them."""
    resp = admin_keystone.request("GET", "/users")
    check_status(resp, 200)
    users = schemas.validate("identity/users", json_body(resp))["users"]
    assert conn.current_user_id in {u["id"] for u in users}, "GET /v3/users (admin) lacks the member user"
