"""Keystone of the reference cloud, driven by the standard clients unchanged."""

from __future__ import annotations

import time
import urllib.request

import yaml


def test_cloud_up_merged_three_clouds(api_cloud):
    clouds = yaml.safe_load(api_cloud.clouds_yaml.read_text())["clouds"]
    assert set(clouds) >= {"octoprobe-admin", "octoprobe", "octoprobe-alt"}
    assert clouds["octoprobe"]["auth"]["project_name"] == "demo"


def test_token_issue_and_catalog_list(api_cloud):
    token = api_cloud.openstack("token", "issue")
    assert token["id"] and token["project_id"] and token["expires"]
    catalog = api_cloud.openstack("catalog", "list")
    types = {entry["Type"] for entry in catalog}
    assert {"identity", "compute", "image", "network", "volumev3"} <= types


def test_projects_are_isolated_and_admin_sees_all(api_cloud):
    alt = api_cloud.openstack("project", "list", "--my-projects", cloud="octoprobe-alt")
    assert [p["Name"] for p in alt] == ["alt_demo"]
    admin = api_cloud.openstack("project", "list", cloud="octoprobe-admin")
    assert {p["Name"] for p in admin} >= {"admin", "demo", "alt_demo"}
    denied = api_cloud.openstack("user", "list", cloud="octoprobe", check=False, json_out=False)
    assert denied.returncode != 0 and "403" in denied.stderr


def test_openstacksdk_token_revocation(api_cloud):
    conn = api_cloud.connection()
    token = conn.auth_token
    assert conn.identity.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 200
    assert conn.identity.delete("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 204
    request = urllib.request.Request(api_cloud.base_url + "/identity/v3/auth/catalog",
                                     headers={"X-Auth-Token": token})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a revoked token still works")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401


def test_every_response_carries_a_request_id_and_the_log_has_no_secrets(api_cloud):
    with urllib.request.urlopen(api_cloud.base_url + "/identity/v3", timeout=10) as response:
        request_id = response.headers["X-Openstack-Request-Id"]
    assert request_id.startswith("req-")
    log_file = api_cloud.state_dir / "api" / "api.log"
    deadline = time.monotonic() + 10  # the access line is written once the response has gone
    while request_id not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = log_file.read_text()
    assert request_id in log
    passwords = [c["auth"]["password"] for c in yaml.safe_load(api_cloud.clouds_yaml.read_text())["clouds"].values()]
    assert not [p for p in passwords if p in log]
