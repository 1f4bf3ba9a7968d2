"""tempest.conf rendered from what discovery learnt about a cloud."""

from __future__ import annotations

import configparser
import stat
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from octoprobe.tempest import config as C

SECRET = "s3cr3t-Adm1n-pw"
ADMIN = C.AdminCredentials("admin", SECRET, "admin")

FACTS = C.CloudFacts(
    identity_uri_v3="https://cloud.example/identity/v3",
    region="RegionTwo",
    catalog=frozenset({"identity", "compute", "image", "network", "block-storage", "volumev3"}),
    image_ref="img-1",
    image_ref_alt="img-2",
    image_ssh_user="cirros",
    flavor_ref="f1",
    flavor_ref_alt="f2",
    fixed_network_name="private",
    public_network_id="pub-id",
    floating_network_name="public",
    network_extensions=("external-net", "router", "security-group"),
    volume_extensions=("os-volume-actions",),
    compute_microversions=("2.1", "2.89"),
    volume_microversions=("3.0", "3.60"),
    image_disk_formats=("ami", "raw", "qcow2", "vmdk"),
    image_container_formats=("ami", "bare", "ovf"),
    image_import_methods=("glance-direct",),
    bogus_data_formats=("raw", "ami"),
    compute_hosts=2,
)


def _conf(facts=FACTS, **options) -> configparser.ConfigParser:
    text = C.render_text(C.render(facts, ADMIN, C.ConfigOptions(**options)))
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf.read_string(text)
    return conf


def test_everything_comes_from_the_facts_and_the_admin_credentials():
    conf = _conf(workdir=Path("/w"))
    assert conf["auth"]["use_dynamic_credentials"] == "True"
    assert conf["auth"]["admin_username"] == "admin" and conf["auth"]["admin_password"] == SECRET
    assert conf["auth"]["admin_project_name"] == "admin" and conf["auth"]["admin_domain_name"] == "Default"
    assert conf["identity"]["uri_v3"] == "https://cloud.example/identity/v3"
    assert conf["identity"]["auth_version"] == "v3" and conf["identity"]["region"] == "RegionTwo"
    assert conf["compute"]["image_ref"] == "img-1" and conf["compute"]["image_ref_alt"] == "img-2"
    assert conf["compute"]["flavor_ref"] == "f1" and conf["compute"]["flavor_ref_alt"] == "f2"
    assert conf["compute"]["fixed_network_name"] == "private"
    assert conf["compute"]["max_microversion"] == "2.89" and conf["compute"]["min_compute_nodes"] == "2"
    assert conf["network"]["public_network_id"] == "pub-id" and conf["network"]["floating_network_name"] == "public"
    assert conf["network-feature-enabled"]["api_extensions"] == "external-net,router,security-group"
    assert conf["volume-feature-enabled"]["api_extensions"] == "os-volume-actions"
    assert conf["volume"]["catalog_type"] == "block-storage" and conf["volume"]["max_microversion"] == "3.60"
    assert conf["validation"]["image_ssh_user"] == "cirros" and conf["validation"]["auth_method"] == "keypair"
    assert conf["DEFAULT"]["log_dir"] == "/w/logs" and conf["DEFAULT"]["debug"] == "False"
    services = ("nova", "glance", "neutron", "cinder", "swift", "horizon")
    assert {k: conf["service_available"][k] for k in services} == {"nova": "True", "glance": "True", "neutron": "True",
                                               "cinder": "True", "swift": "False", "horizon": "False"}


def test_the_admin_password_appears_once_and_only_under_auth():
    text = C.render_text(C.render(FACTS, ADMIN))
    assert text.count(SECRET) == 1
    assert SECRET not in repr(ADMIN) and SECRET not in repr(FACTS)


def test_nothing_is_fetched_from_the_internet():
    conf = _conf()
    assert conf["image"]["http_image"] == "" and conf["image"]["http_qcow2_image"] == ""


def test_image_formats_that_take_random_bytes_go_first():
    conf = _conf()
    assert conf["image"]["disk_formats"] == "raw,ami,qcow2,vmdk"
    assert conf["image"]["container_formats"] == "bare,ami,ovf"
    assert conf["image-feature-enabled"]["image_format_enforcement"] == "False"
    enforced = _conf(replace(FACTS, bogus_data_formats=()))
    assert enforced["image-feature-enabled"]["image_format_enforcement"] == "True"
    assert enforced["image"]["disk_formats"] == "raw,qcow2,ami,vmdk"
    unprobed = _conf(replace(FACTS, bogus_data_formats=None))
    assert "image_format_enforcement" not in unprobed["image-feature-enabled"]  # Tempest's default


def test_floating_ips_or_fixed_addresses_for_ssh():
    conf = _conf()
    assert conf["validation"]["connect_method"] == "floating" and conf["validation"]["ip_version_for_ssh"] == "4"
    assert conf["network-feature-enabled"]["floating_ips"] == "True"
    no_router = _conf(replace(FACTS, network_extensions=("external-net",)))
    assert no_router["validation"]["connect_method"] == "fixed"
    assert no_router["validation"]["ip_version_for_ssh"] == "6"
    assert no_router["network-feature-enabled"]["floating_ips"] == "False"
    assert _conf(ssh_ip_version=4, facts=replace(FACTS, public_network_id=None))["validation"]["ip_version_for_ssh"] \
        == "4"


def test_a_service_that_does_not_answer_is_unavailable_and_validation_follows_neutron():
    facts = replace(FACTS, unavailable={"network": "404", "block-storage": "404", "volumev3": "404"},
                    network_extensions=None, public_network_id=None, floating_network_name=None,
                    fixed_network_name=None, volume_extensions=None)
    conf = _conf(facts)
    assert conf["service_available"]["neutron"] == "False" and conf["service_available"]["cinder"] == "False"
    assert conf["auth"]["create_isolated_networks"] == "False"
    assert conf["validation"]["run_validation"] == "False" and conf["validation"]["connect_method"] == "fixed"
    assert "api_extensions" not in conf["network-feature-enabled"]
    assert "public_network_id" not in conf["network"] and "fixed_network_name" not in conf["compute"]
    # one catalog type of cinder answering is enough
    assert replace(FACTS, unavailable={"block-storage": "404"}).service_available()["cinder"] is True


def test_features_without_discovery_are_the_basic_ones_and_overrides_win():
    conf = _conf()
    features = conf["compute-feature-enabled"]
    assert features["resize"] == "False" and features["shelve"] == "False" and features["rescue"] == "False"
    assert features["suspend"] == "False" and features["vnc_console"] == "False"
    assert features["pause"] == "True" and features["console_output"] == "True"
    over = _conf(overrides={"compute-feature-enabled": {"resize": "True"}, "new-section": {"k": "v"}})
    assert over["compute-feature-enabled"]["resize"] == "True" and over["new-section"]["k"] == "v"


def test_write_config_is_owner_only(tmp_path):
    path = tmp_path / "etc" / "tempest.conf"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    C.write_config(C.render(FACTS, ADMIN), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SECRET in path.read_text()


@pytest.mark.parametrize("url,expected", [
    ("http://h/identity/v3", "http://h/identity/v3"),
    ("http://h/identity/v3/", "http://h/identity/v3"),
    ("http://h:5000", "http://h:5000/v3"),
    ("http://h/identity/", "http://h/identity/v3"),
])
def test_identity_uri_v3(url, expected):
    assert C.identity_uri_v3(url) == expected


def test_pick_flavors():
    flavors = [
        {"id": "big", "ram": 4096, "disk": 40, "vcpus": 2},
        {"id": "nano", "ram": 128, "disk": 1, "vcpus": 1},
        {"id": "private", "ram": 64, "disk": 1, "vcpus": 1, "is_public": False},
        {"id": "micro", "ram": 192, "disk": 1, "vcpus": 1},
    ]
    assert C.pick_flavors(flavors) == ("nano", "micro")
    assert C.pick_flavors(flavors, min_disk=2) == ("big", "big")
    assert C.pick_flavors(flavors, min_ram=150) == ("micro", "big")
    with pytest.raises(C.ConfigDiscoveryError, match="no public flavor fits"):
        C.pick_flavors(flavors, min_disk=100)


def test_admin_credentials_from_an_sdk_config():
    creds = C.admin_credentials({"auth_type": "password", "auth": {
        "username": "root", "password": SECRET, "project_name": "ops", "user_domain_name": "corp",
        "project_domain_name": "corp-projects", "auth_url": "x"}})
    assert (creds.username, creds.project_name, creds.user_domain_name, creds.project_domain_name) == \
        ("root", "ops", "corp", "corp-projects")
    with pytest.raises(C.ConfigDiscoveryError, match="password auth"):
        C.admin_credentials({"auth_type": "v3applicationcredential", "auth": {}})
    with pytest.raises(C.ConfigDiscoveryError, match="lacks password") as err:
        C.admin_credentials({"auth": {"username": "u", "project_name": "p"}})
    assert SECRET not in str(err.value)


class _Response:
    def __init__(self, status, body=None):
        self.status_code, self._body = status, body

    def json(self):
        return self._body


def test_probe_bogus_data_creates_and_always_deletes_its_image():
    calls = []

    class Image:
        def post(self, path, json):
            calls.append(("post", json["disk_format"]))
            return _Response(201, {"id": "p1"})

        def put(self, path, data, headers):
            calls.append(("put", len(data)))
            return _Response(400 if path and calls[0][1] == "qcow2" else 204)

        def get(self, path):
            return _Response(200, {"status": "active"})

        def delete(self, path):
            calls.append(("delete", path))

    conn = SimpleNamespace(image=Image())
    assert C.probe_bogus_data(conn, "raw", "bare") is True
    assert calls == [("post", "raw"), ("put", 1024), ("delete", "/images/p1")]
    calls.clear()
    assert C.probe_bogus_data(conn, "qcow2", "bare") is False
    assert calls[-1] == ("delete", "/images/p1")


class _FakeImageApi:
    def __init__(self, images):
        self.images = images

    def find_image(self, name, ignore_missing=True):
        return self.images.get(name)

    def get(self, path):
        if path == "/schemas/image":
            return _Response(200, {"properties": {"disk_format": {"enum": [None, "qcow2", "raw"]},
                                                  "container_format": {"enum": ["ovf", "bare"]}}})
        if path == "/info/import":
            return _Response(200, {"import-methods": {"value": ["glance-direct"]}})
        return _Response(200, {"status": "active"})

    def post(self, path, json):
        return _Response(201, {"id": "probe", "disk_format": json["disk_format"]})

    def put(self, path, data, headers):
        return _Response(204)

    def delete(self, path):
        pass


def _fake_conns(network_ok: bool):
    image = SimpleNamespace(id="img-id", min_disk=1, min_ram=0, properties={"os_admin_user": "cirros"})
    flavor = SimpleNamespace(id="1", ram=128, disk=1, vcpus=1, is_public=True)

    def no_network():
        raise RuntimeError("404 Not Found: /network/v2.0/extensions")

    catalog = {"identity": [], "compute": [], "image": [], "network": [], "volumev3": [], "block-storage": []}
    access = SimpleNamespace(service_catalog=SimpleNamespace(get_endpoints=lambda interface: catalog))
    auth = SimpleNamespace(get_access=lambda session: access)
    network = SimpleNamespace(
        extensions=(lambda: [SimpleNamespace(alias="router"), SimpleNamespace(alias="external-net")])
        if network_ok else no_network,
        networks=lambda **kw: [SimpleNamespace(id="pub", name="public", is_router_external=True)]
        if kw.get("is_router_external") else [  # an empty, unnamed network first: not the one servers use
            SimpleNamespace(id="e", name="", is_router_external=False, subnet_ids=[]),
            SimpleNamespace(id="p", name="private", is_router_external=False, subnet_ids=["s4", "s6"])],
    )
    block = SimpleNamespace(get=lambda path: _Response(404, None))
    compute = SimpleNamespace(flavors=lambda: [flavor], get=lambda path: _Response(
        200, {"version": {"version": "2.89", "min_version": "2.1"}}), hypervisors=lambda: [1, 2])
    conn = SimpleNamespace(image=_FakeImageApi({"guest": image}), compute=compute, network=network,
                           block_storage=block, current_project_id="proj")
    admin = SimpleNamespace(
        config=SimpleNamespace(config={"auth": {"auth_url": "http://c/identity"}}, region_name="R1"),
        session=SimpleNamespace(auth=auth), compute=compute, network=network)
    return admin, conn


def test_discover_from_fake_connections():
    admin, conn = _fake_conns(network_ok=True)
    facts = C.discover(admin, conn, image_name="guest")
    assert facts.identity_uri_v3 == "http://c/identity/v3" and facts.region == "R1"
    assert facts.image_ref == facts.image_ref_alt == "img-id" and facts.image_ssh_user == "cirros"
    assert (facts.flavor_ref, facts.flavor_ref_alt) == ("1", "1") and facts.compute_hosts == 2
    assert facts.compute_microversions == ("2.1", "2.89")
    assert facts.network_extensions == ("external-net", "router")
    assert (facts.public_network_id, facts.floating_network_name, facts.fixed_network_name) == \
        ("pub", "public", "private")
    assert facts.image_disk_formats == ("qcow2", "raw") and facts.bogus_data_formats == ("raw", "qcow2")
    # Cinder's extension list answers 404: every catalog type of it is unavailable
    assert set(facts.unavailable) == {"block-storage", "volumev3"}
    assert facts.service_available()["cinder"] is False and facts.service_available()["neutron"] is True
    assert any("block-storage: not usable" in n for n in facts.notes)


def test_discover_without_neutron_and_without_the_image():
    admin, conn = _fake_conns(network_ok=False)
    facts = C.discover(admin, conn, image_name="guest")
    assert "network" in facts.unavailable and facts.network_extensions is None
    assert facts.public_network_id is None and facts.fixed_network_name is None
    with pytest.raises(C.ConfigDiscoveryError, match="no image named 'missing'"):
        C.discover(admin, conn, image_name="missing")
