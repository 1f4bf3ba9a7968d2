"""The API's plumbing: clouds.yaml merging, error formats, request bodies,
request ids, settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from octoprobe.config_yaml import ConfigError
from octoprobe.reference_impl.api import errors as E
from octoprobe.reference_impl.api.clouds_yaml import cloud_entry, merge_clouds_yaml
from octoprobe.reference_impl.api.lifecycle import clouds_yaml_path
from octoprobe.reference_impl.api.provision import project_ipv6
from octoprobe.reference_impl.api.routing import Service, validate
from octoprobe.reference_impl.api.settings import ApiSettings
from octoprobe.reference_impl.topology import default_topology_path, load_topology

USER_FILE = """\
# my clouds -- keep this comment
clouds:
  mylab:   # the lab
    auth:
      auth_url: https://lab.example:5000/v3
      username: ops
      password: s3cret
    region_name: Lab1
  octoprobe:
    auth: {auth_url: http://old/identity/v3, username: demo, password: old}
"""


def entries() -> dict:
    return {name: cloud_entry("http://198.18.0.1/identity/v3", "RegionOne", name, "pw", "p")
            for name in ("octoprobe-admin", "octoprobe", "octoprobe-alt")}


def test_merge_keeps_other_entries_and_comments(tmp_path: Path):
    path = tmp_path / "clouds.yaml"
    path.write_text(USER_FILE)
    os.chmod(path, 0o640)
    merge_clouds_yaml(path, entries())
    text = path.read_text()
    assert "# my clouds -- keep this comment" in text and "# the lab" in text
    data = yaml.safe_load(text)
    assert data["clouds"]["mylab"]["auth"]["password"] == "s3cret"
    assert data["clouds"]["mylab"]["region_name"] == "Lab1"
    assert data["clouds"]["octoprobe"]["auth"]["auth_url"] == "http://198.18.0.1/identity/v3"
    assert set(data["clouds"]) == {"mylab", "octoprobe", "octoprobe-admin", "octoprobe-alt"}
    assert path.stat().st_mode & 0o777 == 0o640
    merge_clouds_yaml(path, entries())  # a second merge changes nothing
    assert path.read_text() == text


def test_merge_creates_a_private_file(tmp_path: Path):
    path = tmp_path / "sub" / "clouds.yaml"
    merge_clouds_yaml(path, entries())
    assert path.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(path.read_text())["clouds"]["octoprobe-alt"]["auth"]["username"] == "octoprobe-alt"


def test_merge_refuses_a_broken_file_and_leaves_it(tmp_path: Path):
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds: [\n")
    with pytest.raises(ConfigError, match="clouds.yaml"):
        merge_clouds_yaml(path, entries())
    assert path.read_text() == "clouds: [\n"
    path.write_text("clouds: 3\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        merge_clouds_yaml(path, entries())


def test_clouds_yaml_path_from_environment(tmp_path: Path):
    assert clouds_yaml_path({"OCTOPROBE_CLOUDS_YAML": "none"}) is None
    assert clouds_yaml_path({"OCTOPROBE_CLOUDS_YAML": str(tmp_path / "c.yaml")}) == tmp_path / "c.yaml"
    assert clouds_yaml_path({}).name == "clouds.yaml"


@pytest.mark.parametrize("service, status, key", [
    ("keystone", 404, "error"), ("glance", 409, "error"), ("nova", 404, "itemNotFound"),
    ("nova", 409, "conflictingRequest"), ("nova", 500, "computeFault"), ("cinder", 400, "badRequest"),
    ("neutron", 404, "NeutronError"),
])
def test_error_formats(service, status, key):
    svc = Service(service, "/x")
    response = svc.error_response(E.ApiError("boom", status=status), "req-1")
    assert response.status_code == status
    import json
    body = json.loads(response.body)
    assert list(body) == [key]
    assert "boom" in json.dumps(body)
    assert response.headers["x-openstack-request-id"] == "req-1"


def test_validation_message_names_the_field():
    schema = {"type": "object", "properties": {"server": {"type": "object", "required": ["name"],
                                                          "properties": {"name": {"type": "string"}}}}}
    with pytest.raises(E.BadRequest, match="server/name"):
        validate({"server": {"name": 3}}, schema)
    with pytest.raises(E.BadRequest, match="'name' is a required property"):
        validate({"server": {}}, schema)
    validate({"server": {"name": "ok"}}, schema)


def test_settings_urls():
    s = ApiSettings(state_dir=Path("/s"), prefix="octo", host="198.18.0.1")
    assert s.base_url == "http://198.18.0.1" and s.db_path == Path("/s/api/api.db")
    assert ApiSettings(state_dir=Path("/s"), prefix="octo", host="h", port=8080).base_url == "http://h:8080"


def test_project_ipv6_is_distinct_per_project_and_outside_the_underlay():
    topology = load_topology(default_topology_path())
    nets = {project_ipv6(topology, i) for i in range(3)}
    assert len(nets) == 3
    for net in nets:
        assert net.prefixlen == 64
        assert not net.overlaps(topology.underlay.ipv6) and not net.overlaps(topology.external.ipv6)


def test_request_body_limits_and_content(api):
    big = b"{" + b" " * (2 << 20) + b"}"
    r = api.client.post("/identity/v3/auth/tokens", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = api.client.post("/identity/v3/auth/tokens", content=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_every_response_has_a_request_id(api):
    for path in ("/", "/openapi.json", "/identity/", "/nowhere", "/identity/v3/projects"):
        r = api.client.get(path)
        assert r.headers["x-openstack-request-id"].startswith("req-"), path


def test_a_runtime_factory_may_ask_for_another_runtime(tmp_path):
    """Cinder's runtime is made while Nova's is asked for (and the other way
    round): making one runtime inside another's factory must not deadlock."""
    import threading

    from octoprobe.reference_impl.api.backend import Backend
    from octoprobe.reference_impl.api.db import Database
    from octoprobe.reference_impl.api.settings import ApiSettings

    settings = ApiSettings(state_dir=tmp_path / "s", prefix="octu", host="testserver", port=80)
    backend = Backend(settings, Database.open(tmp_path / "a.db", ()))
    made = []

    def outer(b):
        made.append(b.runtime("inner", lambda _: "inner-runtime"))
        return "outer-runtime"

    worker = threading.Thread(target=lambda: made.append(backend.runtime("outer", outer)), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "making a runtime inside another's factory deadlocked"
    assert made == ["inner-runtime", "outer-runtime"] and backend.runtime("outer", outer) == "outer-runtime"
