"""octoprobe.target: clouds.yaml entries resolved, errors naming file and key, no secrets shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from octoprobe.target import CloudTarget, Target, TargetError, cloud_config_files, default_cloud_name, resolve_cloud

DATA = Path(__file__).parent / "data" / "harness"
CLOUDS = str(DATA / "clouds.yaml")
SECURE = str(DATA / "secure.yaml")
SECRETS = ("lab-password-1", "admin-password-2", "alt-password-3", "from-secure-yaml-7", "app-cred-secret-6")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE", "OS_AUTH_URL", "OS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def resolve(name, **kwargs):
    kwargs.setdefault("config_files", [CLOUDS])
    kwargs.setdefault("secure_files", [SECURE])
    kwargs.setdefault("env", {})
    return resolve_cloud(name, **kwargs)


def fails(name, **kwargs) -> TargetError:
    with pytest.raises(TargetError) as info:
        resolve(name, **kwargs)
    return info.value


def test_resolves_a_cloud():
    cloud = resolve("lab", api_timeout=12.5)
    assert (cloud.role, cloud.name, cloud.config_file) == ("cloud", "lab", CLOUDS)
    assert (cloud.auth_url, cloud.project, cloud.user, cloud.region_name) == (
        "http://keystone.test/v3",
        "qual",
        "tester",
        "RegionOne",
    )
    assert cloud.auth_type == "password"
    assert cloud.api_timeout == 12.5
    assert float(cloud.region.config["api_timeout"]) == 12.5


def test_no_secret_in_repr_or_str():
    for name in ("lab", "secure-password", "app-cred"):
        cloud = resolve(name)
        text = repr(cloud) + str(cloud) + cloud.describe() + repr(Target(cloud, cloud))
        for secret in SECRETS:
            assert secret not in text


def test_secure_yaml_supplies_the_password():
    cloud = resolve("secure-password")
    assert cloud.region.config["auth"]["password"] == "from-secure-yaml-7"


def test_default_name_from_os_cloud_then_octoprobe():
    assert default_cloud_name({}) == ("octoprobe", "the default")
    assert default_cloud_name({"OS_CLOUD": "lab"}) == ("lab", "$OS_CLOUD")
    assert resolve(None, env={"OS_CLOUD": "lab-alt"}).name == "lab-alt"
    err = fails(None, env={})
    assert err.key == "clouds.octoprobe"
    assert "no cloud named 'octoprobe' (the default)" in str(err)


def test_unknown_cloud_names_file_line_key_and_suggests():
    err = fails("lab-admn", env={})
    assert str(err).startswith(f"{CLOUDS}:3: clouds.lab-admn: no cloud named 'lab-admn' (chosen by --cloud)")
    assert "did you mean 'lab-admin'?" in str(err)
    assert "lab, lab-admin, lab-alt" in str(err)


def test_unknown_cloud_from_os_cloud_says_so():
    err = fails(None, env={"OS_CLOUD": "nope"})
    assert "(chosen by $OS_CLOUD)" in str(err)


def test_missing_clouds_yaml_lists_every_path_searched(tmp_path):
    paths = [str(tmp_path / "a" / "clouds.yaml"), str(tmp_path / "b" / "clouds.yml")]
    err = fails("lab", config_files=paths)
    assert err.key == "clouds.lab" and err.path is None
    assert "no clouds.yaml found; searched: " + ", ".join(paths) in str(err)


def test_default_search_path_is_openstacksdks(tmp_path):
    paths = cloud_config_files({"OS_CLIENT_CONFIG_FILE": "/x/my.yaml"})
    assert paths[0] == "/x/my.yaml"
    assert any(p.endswith("/openstack/clouds.yaml") for p in paths)
    assert "/etc/openstack/clouds.yaml" in paths


def test_os_client_config_file_that_does_not_exist(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(TargetError) as info:
        resolve_cloud("lab", env={"OS_CLIENT_CONFIG_FILE": missing})
    assert f"$OS_CLIENT_CONFIG_FILE names {missing}, which does not exist" in str(info.value)


def test_os_client_config_file_is_used(tmp_path):
    path = tmp_path / "mine.yaml"
    shutil.copy(CLOUDS, path)
    cloud = resolve_cloud("lab", env={"OS_CLIENT_CONFIG_FILE": str(path)}, secure_files=[])
    assert cloud.config_file == str(path)


@pytest.mark.parametrize(
    "name, key, line, words",
    [
        ("no-password", "clouds.no-password.auth.password", 38, "missing auth key 'password'"),
        ("no-auth-url", "clouds.no-auth-url.auth.auth_url", 48, "missing auth key 'auth_url'"),
        (
            "app-cred-no-secret",
            "clouds.app-cred-no-secret.auth.application_credential_secret",
            63,
            "missing auth key 'application_credential_secret'",
        ),
        ("bad-auth-type", "clouds.bad-auth-type.auth_type", 52, "unknown auth_type"),
    ],
)
def test_auth_errors_name_file_line_and_key(name, key, line, words):
    err = fails(name)
    assert (err.path, err.line, err.key) == (CLOUDS, line, key)
    assert words in str(err)
    for secret in SECRETS:
        assert secret not in str(err)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text("clouds:\n  lab:\n    auth: [unclosed\n")
    err = fails("lab", config_files=[str(path)])
    assert err.path == str(path) and err.line is not None
    assert "invalid YAML" in str(err)


def test_merge_keys_are_accepted_in_clouds_yaml(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(
        "base: &base\n  auth_url: http://keystone.test/v3\n  username: u\n  password: p-merge\n  project_name: q\n"
        "clouds:\n  lab:\n    auth:\n      <<: *base\n"
    )
    assert resolve("lab", config_files=[str(path)], secure_files=[]).user == "u"


def test_bad_arguments():
    with pytest.raises(ValueError):
        resolve("lab", role="owner")
    with pytest.raises(ValueError):
        resolve("lab", api_timeout=0)


class FakeConn:
    def __init__(self, name):
        self.name = name
        self.closed = False

    def close(self):
        self.closed = True


def test_target_connects_lazily_once_per_role(monkeypatch):
    opened = []

    def connect(self):
        opened.append(self.role)
        return FakeConn(self.name)

    monkeypatch.setattr(CloudTarget, "connect", connect)
    seen = []
    target = Target(resolve("lab"), resolve("lab-admin", role="admin"), on_connect=seen.append)
    assert opened == []
    conn = target.connection()
    assert target.connection("cloud") is conn and opened == ["cloud"]
    assert target.connection("admin").name == "lab-admin"
    assert [c.name for c in seen] == ["lab", "lab-admin"]
    assert target.has("admin") and not target.has("alt")
    with pytest.raises(LookupError, match="--alt-cloud"):
        target.connection("alt")
    with pytest.raises(ValueError):
        target.connection("root")
    target.close()
    assert conn.closed
    assert repr(target) == "Target(cloud='lab', admin='lab-admin')"


def test_connect_gives_an_openstacksdk_connection_without_network():
    conn = resolve("lab", api_timeout=7).connect()
    assert conn.session.timeout == 7.0
    conn.close()


def test_a_file_without_clouds(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text("client:\n  force_ipv4: true\n")
    err = fails("lab", config_files=[str(path)], secure_files=[])
    assert "no cloud named 'lab' (chosen by --cloud); the file defines no clouds" in str(err)


def test_envvars_cloud(monkeypatch):
    for name, value in {
        "OS_AUTH_URL": "http://keystone.test/v3",
        "OS_USERNAME": "env-user",
        "OS_PASSWORD": "env-password-8",
        "OS_PROJECT_NAME": "envp",
    }.items():
        monkeypatch.setenv(name, value)
    cloud = resolve("envvars", config_files=[], secure_files=[])
    assert (cloud.name, cloud.config_file, cloud.user, cloud.project) == ("envvars", None, "env-user", "envp")
    assert "env-password-8" not in repr(cloud) + str(cloud)
    monkeypatch.delenv("OS_AUTH_URL")
    monkeypatch.delenv("OS_PASSWORD")
    monkeypatch.delenv("OS_USERNAME")
    monkeypatch.delenv("OS_PROJECT_NAME")
    assert "$OS_AUTH_URL and friends are not set" in str(fails("envvars", config_files=[], secure_files=[]))
