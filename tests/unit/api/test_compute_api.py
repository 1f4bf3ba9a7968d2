"""Nova v2.1 of the reference cloud's API, against a fake compute service
(the real app, identity and SQLite; the compute and network libraries are
test doubles that keep servers in a dict)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from octoprobe.reference_impl.compute import errors as CE
from octoprobe.reference_impl.compute.hypervisor import DEFAULT_FLAVORS, ServerView
from octoprobe.reference_impl.compute.model import Flavor, Image
from octoprobe.reference_impl.compute.placement import HostLoad
from octoprobe.reference_impl.network import errors as NE

IMAGE_ID = "5b0c1e6a-3c55-4d1f-9a55-0d6d1f3b2c10"
C = "/compute/v2.1"


@dataclass
class FakeNetwork:
    id: str
    name: str
    project_id: str
    external: bool = False
    shared: bool = False


class FakePlane:
    def __init__(self):
        self.networks: dict[str, FakeNetwork] = {}
        self.groups: dict[str, SimpleNamespace] = {}
        self.rules: list = []
        self.ports: dict[str, SimpleNamespace] = {}

    def add_network(self, name: str, project_id: str, **kw) -> FakeNetwork:
        net = FakeNetwork(str(uuid.uuid4()), name, project_id, **kw)
        self.networks[net.id] = net
        return net

    def list_networks(self):
        return list(self.networks.values())

    def get_network(self, network_id):
        if network_id not in self.networks:
            raise NE.NetworkNotFound(network_id)
        return self.networks[network_id]

    def get_port(self, port_id):
        if port_id not in self.ports:
            raise NE.PortNotFound(port_id)
        return self.ports[port_id]

    def update_port(self, port_id, *, security_groups):
        self.get_port(port_id).security_groups = list(security_groups)
        return self.ports[port_id]

    def get_security_group(self, group_id):
        if group_id not in self.groups:
            raise NE.SecurityGroupNotFound(group_id)
        return self.groups[group_id]

    def list_security_group_rules(self, group_id=None):
        return [SimpleNamespace(id=str(i), direction=d, protocol=kw.get("protocol"), port_range_min=None,
                                port_range_max=None, remote_ip_prefix=None, remote_group_id=kw.get("remote_group_id"))
                for i, (g, d, kw) in enumerate(self.rules) if group_id in (None, g)]

    def list_security_groups(self):
        return list(self.groups.values())

    def create_security_group(self, name="", *, project_id="", description=""):
        group = SimpleNamespace(id=str(uuid.uuid4()), name=name, project_id=project_id, description=description)
        self.groups[group.id] = group
        return group

    def create_security_group_rule(self, group_id, direction, **kw):
        self.rules.append((group_id, direction, kw))

    def list_floating_ips(self):
        return []

    def list_ports(self, network_id=None):
        return list(self.ports.values())


class FakeCompute:
    """The ComputeService calls the API makes, on dicts."""

    def __init__(self):
        self.network = FakePlane()
        self.flavors = {fid: Flavor(fid, name, vcpus, ram, disk) for fid, name, vcpus, ram, disk in DEFAULT_FLAVORS}
        self.images = {IMAGE_ID: Image(IMAGE_ID, "octoprobe-guest", "images", "g", "snap", 200 << 20, "k", "i",
                                       min_disk_gb=1, min_ram_mb=64)}
        self.servers: dict[str, dict] = {}
        self.calls: list = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_next: Exception | None = None
        self.store = SimpleNamespace(update=self._update)
        self.console = "line1\nline2\nline3\n"

    @contextmanager
    def _update(self):
        yield SimpleNamespace(servers={})

    def list_flavors(self):
        return list(self.flavors.values())

    def create_flavor(self, name, vcpus, ram_mb, disk_gb, *, flavor_id=None):
        f = Flavor(flavor_id or str(uuid.uuid4()), name, vcpus, ram_mb, disk_gb)
        self.flavors[f.id] = f
        return f

    def delete_flavor(self, flavor_id):
        if self.flavors.pop(flavor_id, None) is None:
            raise CE.FlavorNotFound(f"flavor {flavor_id} does not exist")

    def get_image(self, image_id):
        if image_id not in self.images:
            raise CE.ImageNotFound(f"image {image_id} does not exist")
        return self.images[image_id]

    def availability_zones(self):
        return ["r1", "r2"]

    def host_loads(self):
        return [HostLoad("r1-c1", "r1", 4096, 0, 0), HostLoad("r2-c1", "r2", 4096, 0, 0)]

    def create_server(self, name, image_id, flavor_id, *, networks=(), ports=(), security_groups=None,
                      key_name=None, public_keys=None, admin_pass=None, user_data=None, metadata=None, host=None,
                      availability_zone=None, project_id="", server_id=None):
        self.calls.append(("create", name, dict(networks=list(networks), security_groups=security_groups,
                                                 public_keys=public_keys, user_data=user_data, host=host)))
        assert self.gate.wait(10)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        flavor = self.flavors[flavor_id]
        nics = [{"port_id": str(uuid.uuid4()), "network_id": n, "mac": f"fa:16:3e:00:00:{i:02x}"}
                for i, n in enumerate(networks)]
        for nic in nics:
            self.network.ports[nic["port_id"]] = SimpleNamespace(id=nic["port_id"],
                                                                 security_groups=list(security_groups or []))
        self.servers[server_id] = dict(
            id=server_id, name=name, hostname=name.lower(), status="ACTIVE", power_state=1, vm_state="active",
            task_state=None, host=host or "r1-c1", availability_zone=availability_zone or "r1",
            flavor={"id": flavor.id, "name": flavor.name, "vcpus": flavor.vcpus, "ram_mb": flavor.ram_mb,
                    "disk_gb": flavor.disk_gb},
            image_id=image_id,
            addresses={n["network_id"]: [{"addr": f"10.0.0.{10 + i}", "version": 4, "mac": n["mac"]},
                                         {"addr": f"fd00::{10 + i}", "version": 6, "mac": n["mac"]}]
                       for i, n in enumerate(nics)},
            nics=nics, volumes=[], disk=f"vms/{server_id}_disk", qemu_pid=1234, fault=None,
            created_at=time.time(), launched_at=time.time())
        return self.get_server(server_id)

    def _get(self, server_id):
        if server_id not in self.servers:
            raise CE.ServerNotFound(f"server {server_id} does not exist")
        return self.servers[server_id]

    def get_server(self, server_id):
        return self._view(self._get(server_id))

    def list_servers(self):
        return [self._view(s) for s in self.servers.values()]

    @staticmethod
    def _view(record):
        return ServerView(**{k: v for k, v in record.items() if k != "previous_flavor"})

    def _set(self, server_id, status, action):
        self.calls.append((action, server_id))
        self._get(server_id)["status"] = status

    def stop_server(self, server_id):
        self._set(server_id, "SHUTOFF", "stop")

    def start_server(self, server_id):
        self._set(server_id, "ACTIVE", "start")

    def reboot_server(self, server_id, *, hard=False):
        self._set(server_id, "ACTIVE", "reboot-hard" if hard else "reboot")

    def pause_server(self, server_id):
        self._set(server_id, "PAUSED", "pause")

    def unpause_server(self, server_id):
        self._set(server_id, "ACTIVE", "unpause")

    def rebuild_server(self, server_id, image_id=None, *, admin_pass=None, name=None):
        self._set(server_id, "ACTIVE", "rebuild")

    def get_flavor(self, flavor_id):
        if flavor_id not in self.flavors:
            raise CE.FlavorNotFound(f"flavor {flavor_id} does not exist")
        return self.flavors[flavor_id]

    def resize_server(self, server_id, flavor_id):
        f = self.get_flavor(flavor_id)
        server = self._get(server_id)
        server["previous_flavor"] = server["flavor"]
        server["flavor"] = {"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram_mb": f.ram_mb, "disk_gb": f.disk_gb}
        self._set(server_id, "VERIFY_RESIZE", "resize")

    def confirm_resize(self, server_id):
        self._get(server_id).pop("previous_flavor")
        self._set(server_id, "ACTIVE", "confirm")

    def revert_resize(self, server_id):
        server = self._get(server_id)
        server["flavor"] = server.pop("previous_flavor")
        self._set(server_id, "ACTIVE", "revert")

    def snapshot_server(self, server_id, name, *, image_id=None):
        self.calls.append(("snapshot", server_id, name, image_id))
        image = Image(image_id, name, "images", f"snapshot-{image_id}", "snap", 1 << 20, "k", "i")
        self.images[image_id] = image
        return image

    def delete_server(self, server_id):
        self._get(server_id)
        self.calls.append(("delete", server_id))
        del self.servers[server_id]

    def console_log(self, server_id, *, tail_bytes=None):
        self._get(server_id)
        return self.console


# -- helpers ---------------------------------------------------------------------------------------
def wait_for(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Nova:
    def __init__(self, api, compute):
        self.api = api
        self.client = api.client
        self.compute = compute
        self.net = compute.network.add_network("private", api.member.project_id)

    def call(self, method, path, account=None, version=None, **kw):
        headers = dict((account or self.api.member).headers)
        if version:
            headers["X-OpenStack-Nova-API-Version"] = version
        headers.update(kw.pop("headers", {}))
        return self.client.request(method, C + path, headers=headers, **kw)

    def boot(self, account=None, version="2.1", **server):
        body = {"name": "vm1", "imageRef": IMAGE_ID, "flavorRef": "1",
                "networks": [{"uuid": self.net.id}], **server}
        r = self.call("POST", "/servers", account, version, json={"server": body})
        assert r.status_code == 202, r.text
        return r.json()["server"]["id"]

    def status(self, sid, account=None, version="2.1"):
        r = self.call("GET", f"/servers/{sid}", account, version)
        return r.json()["server"]["status"] if r.status_code == 200 else r.status_code

    def wait_status(self, sid, wanted, account=None):
        def check():
            r = self.call("GET", f"/servers/{sid}", account)
            s = r.json()["server"]
            return s if s["status"] == wanted and s["OS-EXT-STS:task_state"] is None else None
        return wait_for(check)


@pytest.fixture
def nova(api_factory):
    compute = FakeCompute()
    api = api_factory(cloud_factory=lambda: SimpleNamespace(compute=lambda: compute))
    yield Nova(api, compute)
    runtime = getattr(api.backend, "_nova_runtime", None)
    if runtime is not None:
        runtime.pool.shutdown(wait=True)


# -- version discovery and microversions -----------------------------------------------------------
def test_version_documents(nova):
    r = nova.client.get("/compute/")
    assert r.status_code == 200
    ids = {v["id"]: v for v in r.json()["versions"]}
    assert ids["v2.1"]["status"] == "CURRENT" and ids["v2.1"]["min_version"] == "2.1"
    assert ids["v2.1"]["version"] == "2.89" and ids["v2.0"]["status"] == "SUPPORTED"
    r = nova.client.get("/compute/v2.1/")
    v = r.json()["version"]
    assert v["id"] == "v2.1" and v["version"] == "2.89" and v["links"][0]["href"].endswith("/compute/v2.1/")


def test_microversion_headers(nova):
    r = nova.call("GET", "/flavors")
    assert r.headers["OpenStack-API-Version"] == "compute 2.1"
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in r.headers["Vary"]
    r = nova.call("GET", "/flavors", headers={"OpenStack-API-Version": "compute latest"})
    assert r.headers["OpenStack-API-Version"] == "compute 2.89"
    r = nova.call("GET", "/flavors", version="2.47")
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.47"
    # the new header wins over the legacy one
    r = nova.call("GET", "/flavors", version="2.5", headers={"OpenStack-API-Version": "compute 2.60"})
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.60"


@pytest.mark.parametrize("value,status", [("2.200", 406), ("3.0", 406), ("2.0", 406), ("abc", 400),
                                          ("2.", 400), ("2.01x", 400)])
def test_microversion_refused(nova, value, status):
    r = nova.call("GET", "/flavors", version=value)
    assert r.status_code == status, r.text
    fault = "notAcceptable" if status == 406 else "badRequest"
    assert r.json()[fault]["code"] == status


# -- flavors -------------------------------------------------------------------------------------------
def test_flavors(nova):
    r = nova.call("GET", "/flavors")
    names = [f["name"] for f in r.json()["flavors"]]
    assert names[:2] == ["m1.nano", "m1.micro"] and set(r.json()["flavors"][0]) == {"id", "name", "links"}
    detail = nova.call("GET", "/flavors/detail").json()["flavors"]
    nano = detail[0]
    assert nano["ram"] == 128 and nano["vcpus"] == 1 and nano["disk"] == 1 and nano["swap"] == ""
    assert nano["os-flavor-access:is_public"] is True and nano["OS-FLV-EXT-DATA:ephemeral"] == 0
    latest = nova.call("GET", "/flavors/1", version="2.75").json()["flavor"]
    assert latest["swap"] == 0 and latest["extra_specs"] == {} and latest["description"] is None
    assert [f["ram"] for f in nova.call("GET", "/flavors/detail?minRam=512").json()["flavors"]] == [512, 1024]
    assert nova.call("GET", "/flavors?minDisk=3").json()["flavors"][0]["name"] == "m1.medium"
    assert nova.call("GET", "/flavors?is_public=false").json()["flavors"] == []
    page = nova.call("GET", "/flavors?limit=2").json()
    assert len(page["flavors"]) == 2 and "marker=2" in page["flavors_links"][0]["href"]
    rest = nova.call("GET", "/flavors?marker=2").json()["flavors"]
    assert [f["id"] for f in rest] == ["3", "4", "5"]
    assert nova.call("GET", "/flavors?marker=nope").status_code == 400
    assert nova.call("GET", "/flavors?limit=-1").status_code == 400
    assert nova.call("GET", "/flavors?minRam=x").status_code == 400
    r = nova.call("GET", "/flavors/99")
    assert r.status_code == 404 and "itemNotFound" in r.json()
    assert nova.call("GET", "/flavors/1/os-extra_specs").json() == {"extra_specs": {}}
    assert nova.call("GET", "/flavors/1/os-extra_specs/hw:cpu").status_code == 404


def test_flavor_create_is_admin_only(nova):
    body = {"flavor": {"name": "m1.test", "ram": 64, "vcpus": 1, "disk": 1, "id": "42"}}
    assert nova.call("POST", "/flavors", json=body).status_code == 403
    r = nova.call("POST", "/flavors", nova.api.admin, json=body)
    assert r.status_code == 200 and r.json()["flavor"]["id"] == "42"
    assert nova.call("DELETE", "/flavors/42", nova.api.admin).status_code == 202
    assert nova.call("GET", "/flavors/42").status_code == 404


# -- key pairs -------------------------------------------------------------------------------------------
def test_keypair_generate_and_import(nova):
    r = nova.call("POST", "/os-keypairs", version="2.2", json={"keypair": {"name": "k1"}})
    assert r.status_code == 201, r.text
    kp = r.json()["keypair"]
    assert kp["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert kp["public_key"].startswith("ssh-ed25519 ") and kp["type"] == "ssh" and len(kp["fingerprint"]) == 47
    shown = nova.call("GET", "/os-keypairs/k1", version="2.2").json()["keypair"]
    assert "private_key" not in shown and shown["public_key"] == kp["public_key"]
    assert shown["user_id"] == nova.api.member.user_id and isinstance(shown["id"], int)
    # v2.1: 200 on create, no type
    r = nova.call("POST", "/os-keypairs", json={"keypair": {"name": "k2", "public_key": kp["public_key"]}})
    assert r.status_code == 200 and "type" not in r.json()["keypair"]
    assert r.json()["keypair"]["fingerprint"] == kp["fingerprint"]
    assert nova.call("POST", "/os-keypairs", json={"keypair": {"name": "k2"}}).status_code == 409
    bad = nova.call("POST", "/os-keypairs", json={"keypair": {"name": "k3", "public_key": "ssh-rsa !!!"}})
    assert bad.status_code == 400
    assert nova.call("POST", "/os-keypairs", json={"keypair": {"name": "bad/name"}}).status_code == 400
    assert nova.call("POST", "/os-keypairs", version="2.2",
                     json={"keypair": {"name": "x", "type": "rsa"}}).status_code == 400
    names = [k["keypair"]["name"] for k in nova.call("GET", "/os-keypairs").json()["keypairs"]]
    assert names == ["k1", "k2"]  # x509 pairs: test_tempest_fixes_compute.py
    page = nova.call("GET", "/os-keypairs?limit=1", version="2.35").json()
    assert len(page["keypairs"]) == 1 and "keypairs_links" in page
    # per user
    other = nova.api.account("bob", "member", project="demo")
    assert nova.call("GET", "/os-keypairs", other).json()["keypairs"] == []
    assert nova.call("GET", "/os-keypairs/k1", other).status_code == 404
    assert nova.call("GET", f"/os-keypairs?user_id={nova.api.member.user_id}", other, "2.10").status_code == 403
    admin_view = nova.call("GET", f"/os-keypairs?user_id={nova.api.member.user_id}", nova.api.admin, "2.10")
    assert len(admin_view.json()["keypairs"]) == 2
    assert nova.call("DELETE", "/os-keypairs/k1", version="2.2").status_code == 204
    assert nova.call("DELETE", "/os-keypairs/k2").status_code == 202
    assert nova.call("DELETE", "/os-keypairs/k2").status_code == 404


# -- servers ------------------------------------------------------------------------------------------------
def test_server_lifecycle(nova):
    kp = nova.call("POST", "/os-keypairs", json={"keypair": {"name": "k"}}).json()["keypair"]
    nova.compute.gate.clear()
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    sid = nova.boot(version="2.52", key_name="k", user_data=user_data, metadata={"role": "web"},
                    tags=["a", "b"])
    building = nova.call("GET", f"/servers/{sid}").json()["server"]
    assert building["status"] == "BUILD" and building["OS-EXT-STS:vm_state"] == "building"
    nova.compute.gate.set()
    server = nova.wait_status(sid, "ACTIVE")
    create = nova.compute.calls[0][2]
    assert create["public_keys"] == {"k": kp["public_key"]} and create["user_data"] == b"#!/bin/sh\necho hi\n"
    assert create["networks"] == [nova.net.id] and len(create["security_groups"]) == 1
    assert nova.compute.network.groups[create["security_groups"][0]].name == "default"
    assert server["tenant_id"] == nova.api.member.project_id and server["key_name"] == "k"
    assert server["metadata"] == {"role": "web"} and server["OS-EXT-AZ:availability_zone"] == "r1"
    assert server["security_groups"] == [{"name": "default"}]
    addrs = server["addresses"]["private"]
    assert {a["version"] for a in addrs} == {4, 6}
    assert addrs[0]["OS-EXT-IPS:type"] == "fixed" and addrs[0]["OS-EXT-IPS-MAC:mac_addr"] == "fa:16:3e:00:00:00"
    assert server["OS-EXT-STS:power_state"] == 1 and server["hostId"] and "fault" not in server
    assert "OS-EXT-SRV-ATTR:host" not in server and server["flavor"]["id"] == "1"
    # microversioned fields
    v = nova.call("GET", f"/servers/{sid}", version="2.89").json()["server"]
    assert v["flavor"]["original_name"] == "m1.nano" and v["flavor"]["ram"] == 128
    assert v["tags"] == ["a", "b"] and v["locked"] is False and v["locked_reason"] is None
    assert v["server_groups"] == [] and v["description"] is None
    admin = nova.call("GET", f"/servers/{sid}", nova.api.admin, "2.16").json()["server"]
    assert admin["OS-EXT-SRV-ATTR:host"] == "r1-c1" and admin["host_status"] == "UP"
    assert admin["OS-EXT-SRV-ATTR:user_data"] == user_data
    # list and detail
    brief = nova.call("GET", "/servers").json()["servers"]
    assert brief == [{"id": sid, "name": "vm1", "links": brief[0]["links"]}]
    assert nova.call("GET", "/servers/detail").json()["servers"][0]["status"] == "ACTIVE"
    # update
    r = nova.call("PUT", f"/servers/{sid}", json={"server": {"name": "renamed"}})
    assert r.status_code == 200 and r.json()["server"]["name"] == "renamed"
    basic = r.json()["server"]  # before 2.75: Nova's basic view
    assert "key_name" not in basic and "OS-EXT-STS:vm_state" not in basic
    assert set(basic["addresses"]["private"][0]) == {"version", "addr"}
    full = nova.call("PUT", f"/servers/{sid}", version="2.75",
                     json={"server": {"name": "renamed", "description": "d"}}).json()["server"]
    assert full["key_name"] == "k" and full["description"] == "d" and full["server_groups"] == []
    assert nova.call("PUT", f"/servers/{sid}", json={"server": {"description": "d"}}).status_code == 400
    assert nova.call("PUT", f"/servers/{sid}", json={"server": {"name": "x" * 256}}).status_code == 400
    # actions
    assert nova.call("POST", f"/servers/{sid}/action", json={"os-start": None}).status_code == 409
    assert nova.call("POST", f"/servers/{sid}/action", json={"os-stop": None}).status_code == 202
    nova.wait_status(sid, "SHUTOFF")
    assert nova.call("POST", f"/servers/{sid}/action", json={"os-stop": None}).status_code == 409
    assert nova.call("POST", f"/servers/{sid}/action", json={"reboot": {"type": "SOFT"}}).status_code == 409
    assert nova.call("POST", f"/servers/{sid}/action", json={"os-start": None}).status_code == 202
    nova.wait_status(sid, "ACTIVE")
    assert nova.call("POST", f"/servers/{sid}/action", json={"reboot": {"type": "HARD"}}).status_code == 202
    nova.wait_status(sid, "ACTIVE")
    assert nova.call("POST", f"/servers/{sid}/action", json={"reboot": {"type": "nope"}}).status_code == 400
    assert nova.call("POST", f"/servers/{sid}/action", json={"pause": None}).status_code == 202
    nova.wait_status(sid, "PAUSED")
    assert nova.call("POST", f"/servers/{sid}/action", json={"unpause": None}).status_code == 202
    nova.wait_status(sid, "ACTIVE")
    r = nova.call("POST", f"/servers/{sid}/action", json={"rebuild": {"imageRef": IMAGE_ID, "name": "again"}})
    assert r.status_code == 202 and r.json()["server"]["name"] == "again" and r.json()["server"]["adminPass"]
    nova.wait_status(sid, "ACTIVE")
    out = nova.call("POST", f"/servers/{sid}/action", json={"os-getConsoleOutput": {"length": 2}})
    assert out.status_code == 200 and out.json() == {"output": "line2\nline3\n"}
    assert nova.call("POST", f"/servers/{sid}/action",
                     json={"os-getConsoleOutput": {"length": "x"}}).status_code == 400
    assert nova.call("POST", f"/servers/{sid}/action",
                     json={"os-getConsoleOutput": {}}).json()["output"] == nova.compute.console
    img = nova.call("POST", f"/servers/{sid}/action", version="2.45", json={"createImage": {"name": "snap"}})
    assert img.status_code == 202 and "Location" not in img.headers
    image_id = img.json()["image_id"]
    wait_for(lambda: image_id in nova.compute.images)
    glance = nova.client.get(f"/image/v2/images/{image_id}", headers=nova.api.member.headers)
    assert glance.status_code == 200 and glance.json()["name"] == "snap", glance.text
    assert glance.json()["visibility"] == "private" and glance.json()["image_type"] == "snapshot"
    nova.wait_status(sid, "ACTIVE")
    legacy = nova.call("POST", f"/servers/{sid}/action",
                       json={"createImage": {"name": "snap2", "metadata": {"image_type": "test", "k": "v"}}})
    assert legacy.status_code == 202 and "/image/v2/images/" in legacy.headers["Location"]
    snap2 = legacy.headers["Location"].rsplit("/", 1)[-1]
    wait_for(lambda: snap2 in nova.compute.images)
    shown = nova.client.get(f"/image/v2/images/{snap2}", headers=nova.api.member.headers).json()
    assert (shown["image_type"], shown["k"]) == ("test", "v")  # the request's metadata wins
    nova.wait_status(sid, "ACTIVE")
    assert nova.call("POST", f"/servers/{sid}/action", json={"migrate": None}).status_code == 400
    assert nova.call("POST", f"/servers/{sid}/action", json={"frobnicate": {}}).status_code == 400
    assert nova.call("POST", f"/servers/{sid}/action", json={}).status_code == 400
    # instance actions
    actions = nova.call("GET", f"/servers/{sid}/os-instance-actions", version="2.58").json()["instanceActions"]
    names = [a["action"] for a in actions]
    assert names[-1] == "create" and "stop" in names and "reboot" in names and actions[0]["updated_at"]
    create_req = actions[-1]["request_id"]
    shown = nova.call("GET", f"/servers/{sid}/os-instance-actions/{create_req}", version="2.84").json()
    event = shown["instanceAction"]["events"][0]
    assert event["event"] == "compute__do_build_and_run_instance" and event["result"] == "Success"
    assert "traceback" not in event and event["hostId"] and event["details"] is None
    assert nova.call("GET", f"/servers/{sid}/os-instance-actions/req-nope").status_code == 404
    # delete: shown with task_state deleting until it is gone, then 404; a deleted server is listed
    # (DELETED) with changes-since, and its instance actions stay readable
    nova.compute.gate.clear()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 204
    wait_for(lambda: nova.call("GET", f"/servers/{sid}").status_code == 404)
    assert sid not in nova.compute.servers
    assert nova.call("GET", "/servers").json()["servers"] == []
    gone = nova.call("GET", f"/servers/detail?changes-since={since}").json()["servers"]
    assert [(s["id"], s["status"], s["OS-EXT-STS:vm_state"]) for s in gone] == [(sid, "DELETED", "deleted")]
    actions = nova.call("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert actions[0]["action"] == "delete"
    nova.compute.gate.set()


def test_isolation_between_projects(nova):
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    alt = nova.api.account("alt", "member")
    assert nova.call("GET", "/servers", alt).json()["servers"] == []
    assert nova.call("GET", "/servers/detail", alt).json()["servers"] == []
    for method, path, body in (("GET", f"/servers/{sid}", None), ("DELETE", f"/servers/{sid}", None),
                               ("PUT", f"/servers/{sid}", {"server": {"name": "x"}}),
                               ("POST", f"/servers/{sid}/action", {"os-stop": None}),
                               ("GET", f"/servers/{sid}/metadata", None),
                               ("GET", f"/servers/{sid}/os-instance-actions", None)):
        r = nova.call(method, path, alt, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert "itemNotFound" in r.json()
    # alt cannot boot on demo's network
    r = nova.call("POST", "/servers", alt, json={"server": {"name": "x", "imageRef": IMAGE_ID, "flavorRef": "1",
                                                            "networks": [{"uuid": nova.net.id}]}})
    assert r.status_code == 400 and "could not be found" in r.text
    assert nova.call("GET", "/servers?all_tenants=1", alt).status_code == 403
    admin_all = nova.call("GET", "/servers?all_tenants=1", nova.api.admin).json()["servers"]
    assert [s["id"] for s in admin_all] == [sid]
    assert nova.call("GET", "/servers", nova.api.admin).json()["servers"] == []
    assert nova.call("GET", f"/servers/{sid}", nova.api.admin).status_code == 200
    reader = nova.api.account("reader", "reader", project="demo")
    assert nova.call("GET", f"/servers/{sid}", reader).status_code == 200
    assert nova.call("POST", f"/servers/{sid}/action", reader, json={"os-stop": None}).status_code == 403


def test_lock(nova):
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    r = nova.call("POST", f"/servers/{sid}/action", version="2.73", json={"lock": {"locked_reason": "maint"}})
    assert r.status_code == 202
    shown = nova.call("GET", f"/servers/{sid}", version="2.73").json()["server"]
    assert shown["locked"] is True and shown["locked_reason"] == "maint"
    assert nova.call("GET", "/servers?locked=true", version="2.73").json()["servers"][0]["id"] == sid
    for body in ({"os-stop": None}, {"reboot": {"type": "HARD"}}, {"rebuild": {"imageRef": IMAGE_ID}}):
        r = nova.call("POST", f"/servers/{sid}/action", json=body)
        assert r.status_code == 409 and "locked" in r.json()["conflictingRequest"]["message"]
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 409
    assert nova.call("POST", f"/servers/{sid}/metadata", json={"metadata": {"a": "b"}}).status_code == 409
    assert nova.call("POST", f"/servers/{sid}/action", version="2.1",
                     json={"lock": {"locked_reason": "x"}}).status_code == 400
    # an admin may act on a locked server
    assert nova.call("POST", f"/servers/{sid}/action", nova.api.admin, json={"os-stop": None}).status_code == 202
    nova.wait_status(sid, "SHUTOFF")
    assert nova.call("POST", f"/servers/{sid}/action", json={"unlock": None}).status_code == 202
    assert nova.call("POST", f"/servers/{sid}/action", json={"os-start": None}).status_code == 202
    # an admin's lock is for the admin to lift
    nova.wait_status(sid, "ACTIVE")
    nova.call("POST", f"/servers/{sid}/action", nova.api.admin, json={"lock": None})
    assert nova.call("POST", f"/servers/{sid}/action", json={"unlock": None}).status_code == 403


def test_metadata_and_tags(nova):
    sid = nova.boot(metadata={"a": "1"})
    nova.wait_status(sid, "ACTIVE")
    assert nova.call("POST", f"/servers/{sid}/metadata", json={"metadata": {"b": "2"}}).json() == \
        {"metadata": {"a": "1", "b": "2"}}
    assert nova.call("GET", f"/servers/{sid}/metadata/b").json() == {"meta": {"b": "2"}}
    assert nova.call("PUT", f"/servers/{sid}/metadata/c", json={"meta": {"c": "3"}}).status_code == 200
    assert nova.call("PUT", f"/servers/{sid}/metadata/c", json={"meta": {"d": "3"}}).status_code == 400
    assert nova.call("DELETE", f"/servers/{sid}/metadata/a").status_code == 204
    assert nova.call("DELETE", f"/servers/{sid}/metadata/a").status_code == 404
    assert nova.call("PUT", f"/servers/{sid}/metadata", json={"metadata": {"z": "9"}}).json() == \
        {"metadata": {"z": "9"}}
    assert nova.call("GET", f"/servers/{sid}/tags").status_code == 404  # tags need 2.26
    v = "2.26"
    assert nova.call("PUT", f"/servers/{sid}/tags/web", version=v).status_code == 201
    assert nova.call("PUT", f"/servers/{sid}/tags/web", version=v).status_code == 204
    assert nova.call("GET", f"/servers/{sid}/tags/web", version=v).status_code == 204
    assert nova.call("GET", f"/servers/{sid}/tags/db", version=v).status_code == 404
    assert nova.call("PUT", f"/servers/{sid}/tags", version=v, json={"tags": ["x", "y"]}).json() == \
        {"tags": ["x", "y"]}
    assert [s["id"] for s in nova.call("GET", "/servers?tags=x,y", version=v).json()["servers"]] == [sid]
    assert nova.call("GET", "/servers?tags=x,z", version=v).json()["servers"] == []
    assert [s["id"] for s in nova.call("GET", "/servers?tags-any=z,x", version=v).json()["servers"]] == [sid]
    assert nova.call("GET", "/servers?not-tags-any=x", version=v).json()["servers"] == []
    assert nova.call("PUT", f"/servers/{sid}/tags", version=v, json={"tags": ["a,b"]}).status_code == 400
    assert nova.call("DELETE", f"/servers/{sid}/tags/x", version=v).status_code == 204
    assert nova.call("DELETE", f"/servers/{sid}/tags", version=v).status_code == 204
    assert nova.call("GET", f"/servers/{sid}/tags", version=v).json() == {"tags": []}


def test_list_filters_and_pagination(nova):
    ids = [nova.boot(name=f"web-{i}") for i in range(3)]
    other = nova.boot(name="db", flavorRef="2")
    for sid in ids + [other]:
        nova.wait_status(sid, "ACTIVE")
    names = lambda r: sorted(s["name"] for s in r.json()["servers"])  # noqa: E731
    assert names(nova.call("GET", "/servers?name=^web")) == ["web-0", "web-1", "web-2"]
    assert names(nova.call("GET", "/servers?flavor=2")) == ["db"]
    assert names(nova.call("GET", f"/servers?image={IMAGE_ID}")) == ["db", "web-0", "web-1", "web-2"]
    assert names(nova.call("GET", "/servers/detail?status=SHUTOFF")) == []
    assert len(nova.call("GET", "/servers/detail?status=ACTIVE").json()["servers"]) == 4
    assert nova.call("GET", "/servers?status=bogus", version="2.38").status_code == 400
    assert nova.call("GET", "/servers?status=bogus").json()["servers"] == []
    assert nova.call("GET", "/servers?name=(").status_code == 400
    assert nova.call("GET", "/servers?changes-since=2000-01-01T00:00:00Z").json()["servers"]
    assert nova.call("GET", "/servers?changes-since=2999-01-01T00:00:00Z").json()["servers"] == []
    assert nova.call("GET", "/servers?changes-since=yesterday").status_code == 400
    assert names(nova.call("GET", "/servers/detail?ip=10.0.0")) == ["db", "web-0", "web-1", "web-2"]
    assert nova.call("GET", "/servers?foo=1").status_code == 200
    assert nova.call("GET", "/servers?foo=1", version="2.75").status_code == 400
    first = nova.call("GET", "/servers?limit=2").json()
    assert len(first["servers"]) == 2 and first["servers_links"][0]["rel"] == "next"
    marker = first["servers"][-1]["id"]
    second = nova.call("GET", f"/servers?limit=2&marker={marker}").json()
    assert len(second["servers"]) == 2 and "servers_links" not in second
    seen = {s["id"] for s in first["servers"] + second["servers"]}
    assert seen == set(ids + [other])
    assert nova.call("GET", "/servers?marker=nope").status_code == 400
    assert nova.call("GET", "/servers?limit=abc").status_code == 400
    assert nova.call("GET", "/servers?sort_key=bogus").status_code == 400
    asc = nova.call("GET", "/servers?sort_key=display_name&sort_dir=asc").json()["servers"]
    assert [s["name"] for s in asc] == ["db", "web-0", "web-1", "web-2"]


def test_create_errors(nova):
    def create(version="2.1", account=None, **server):
        body = {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "1", "networks": [{"uuid": nova.net.id}]}
        body.update(server)
        body = {k: v for k, v in body.items() if v is not None}
        return nova.call("POST", "/servers", account, version, json={"server": body})

    cases = [
        ({"imageRef": str(uuid.uuid4())}, 400, "image"),
        ({"imageRef": "not-a-uuid"}, 400, "imageRef"),
        ({"flavorRef": "99"}, 400, "Flavor"),
        ({"name": "x" * 256}, 400, "name"),
        ({"name": " padded"}, 400, "name"),
        ({"name": ""}, 400, "name"),
        ({"user_data": "not base64!"}, 400, "base 64"),
        ({"min_count": 3, "max_count": 2}, 400, "min_count"),
        ({"min_count": 0}, 400, "min_count"),
        ({"key_name": "nokey"}, 400, "key_name"),
        ({"networks": [{"uuid": "not-a-uuid"}]}, 400, "uuid"),
        ({"networks": [{"uuid": str(uuid.uuid4())}]}, 400, "could not be found"),
        ({"networks": [{"uuid": nova.net.id, "fixed_ip": "10.0.0.5"}]}, 400, "fixed_ip"),
        ({"networks": "auto"}, 400, "2.37"),
        ({"accessIPv6": "notvalid"}, 400, "accessIPv6"),
        ({"accessIPv4": "2001:db8::1"}, 400, "accessIPv4"),
        ({"accessIPv4": "1.2.3"}, 400, "accessIPv4"),
        ({"availability_zone": "nowhere"}, 400, "availability zone"),
        ({"security_groups": [{"name": "nosuch"}]}, 400, "Security group"),
        ({"block_device_mapping_v2": [{"boot_index": 0}]}, 400, "block"),
        ({"block_device_mapping_v2": [{"boot_index": 0, "uuid": IMAGE_ID, "source_type": "image",
                                       "destination_type": "volume", "volume_size": 1}]}, 400, "image"),
        ({"description": "d"}, 400, "2.19"),
        ({"bogus": 1}, 400, "bogus"),
        ({"host": "r1-c1"}, 400, "2.74"),
    ]
    for change, status, text in cases:
        r = create(**change)
        assert r.status_code == status, (change, r.text)
        assert text.lower() in r.text.lower(), (change, r.text)
        assert "badRequest" in r.json()
    assert create("2.37", networks=None).status_code == 400
    assert create("2.37", networks="none").status_code == 400
    assert create("2.74", host="r1-c1").status_code == 403
    assert nova.call("POST", "/servers", content=b"{not json", headers={"Content-Type": "application/json"}) \
        .status_code == 400
    assert nova.compute.calls == []
    # auto: one network of the project is used; two are ambiguous
    r = create("2.37", networks="auto")
    assert r.status_code == 202
    nova.compute.network.add_network("second", nova.api.member.project_id)
    r = create("2.37", networks="auto")
    assert r.status_code == 409 and "Multiple possible networks" in r.json()["conflictingRequest"]["message"]
    assert nova.call("GET", f"/servers/{uuid.uuid4()}").status_code == 404
    assert nova.call("GET", "/servers/not-a-uuid").status_code == 404
    assert nova.call("DELETE", "/servers/not-a-uuid").status_code == 404


def test_build_failure_is_error_with_fault(nova):
    nova.compute.fail_next = CE.NoValidHost("no host has 128 MiB of RAM free")
    sid = nova.boot()
    server = nova.wait_status(sid, "ERROR")
    assert server["fault"]["code"] == 500 and "No valid host" in server["fault"]["message"]
    assert server["fault"]["created"] and "details" not in server["fault"]
    assert server["OS-EXT-STS:vm_state"] == "error" and server["OS-EXT-STS:power_state"] == 0
    admin = nova.call("GET", f"/servers/{sid}", nova.api.admin).json()["server"]
    assert "Traceback" in admin["fault"]["details"]
    actions = nova.call("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert actions[0]["message"] == "Error"
    assert nova.call("POST", f"/servers/{sid}/action", json={"os-start": None}).status_code == 409
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 204
    assert nova.call("GET", f"/servers/{sid}").status_code == 404


def test_delete_while_building(nova):
    nova.compute.gate.clear()
    sid = nova.boot()
    assert nova.call("POST", f"/servers/{sid}/action", json={"os-stop": None}).status_code == 409
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 204
    shown = nova.call("GET", f"/servers/{sid}").json()["server"]
    assert shown["status"] == "BUILD"
    assert nova.call("DELETE", f"/servers/{sid}").status_code == 204  # again: still 204
    nova.compute.gate.set()
    wait_for(lambda: ("delete", sid) in nova.compute.calls)
    wait_for(lambda: nova.call("GET", f"/servers/{sid}").status_code == 404)
    assert sid not in nova.compute.servers


def test_multiple_create_and_reservation(nova):
    r = nova.call("POST", "/servers", json={"server": {
        "name": "many", "imageRef": IMAGE_ID, "flavorRef": "1", "networks": [{"uuid": nova.net.id}],
        "min_count": 2, "max_count": 2, "return_reservation_id": True}})
    assert r.status_code == 202
    rid = r.json()["reservation_id"]
    servers = nova.call("GET", f"/servers?reservation_id={rid}").json()["servers"]
    assert sorted(s["name"] for s in servers) == ["many-1", "many-2"]
    for s in servers:
        nova.wait_status(s["id"], "ACTIVE")


def test_quotas_and_limits(nova):
    admin = nova.api.admin
    project = nova.api.member.project_id
    q = nova.call("GET", f"/os-quota-sets/{project}").json()["quota_set"]
    assert q["instances"] == 10 and q["id"] == project and "floating_ips" in q
    q = nova.call("GET", f"/os-quota-sets/{project}", version="2.57").json()["quota_set"]
    assert "floating_ips" not in q and "injected_files" not in q
    assert nova.call("GET", f"/os-quota-sets/{admin.project_id}").status_code == 403
    assert nova.call("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 1}}).status_code == 403
    r = nova.call("PUT", f"/os-quota-sets/{project}", admin, json={"quota_set": {"instances": 1}})
    assert r.status_code == 200 and r.json()["quota_set"]["instances"] == 1
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    r = nova.call("POST", "/servers", json={"server": {"name": "two", "imageRef": IMAGE_ID, "flavorRef": "1",
                                                       "networks": [{"uuid": nova.net.id}]}})
    assert r.status_code == 403 and "Quota exceeded for instances" in r.json()["forbidden"]["message"]
    detail = nova.call("GET", f"/os-quota-sets/{project}/detail").json()["quota_set"]
    assert detail["instances"] == {"in_use": 1, "limit": 1, "reserved": 0}
    assert detail["ram"]["in_use"] == 128
    limits = nova.call("GET", "/limits").json()["limits"]
    assert limits["absolute"]["totalInstancesUsed"] == 1 and limits["absolute"]["maxTotalInstances"] == 1
    assert limits["rate"] == [] and "maxTotalFloatingIps" in limits["absolute"]
    assert "maxTotalFloatingIps" not in nova.call("GET", "/limits", version="2.57").json()["limits"]["absolute"]
    assert nova.call("DELETE", f"/os-quota-sets/{project}", admin).status_code == 202
    defaults = nova.call("GET", f"/os-quota-sets/{project}/defaults").json()["quota_set"]
    assert defaults["instances"] == 10


def test_availability_zones_and_volume_attachments(nova):
    zones = nova.call("GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    assert [z["zoneName"] for z in zones] == ["r1", "r2"] and zones[0]["zoneState"] == {"available": True}
    assert nova.call("GET", "/os-availability-zone/detail").status_code == 403
    detail = nova.call("GET", "/os-availability-zone/detail", nova.api.admin).json()["availabilityZoneInfo"]
    assert "r1-c1" in detail[0]["hosts"]
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    assert nova.call("GET", f"/servers/{sid}/os-volume_attachments").json() == {"volumeAttachments": []}
    vol = str(uuid.uuid4())
    r = nova.call("POST", f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {"volumeId": vol}})
    assert r.status_code == 404 and "could not be found" in r.text
    assert nova.call("GET", f"/servers/{sid}/os-volume_attachments/{vol}").status_code == 404
    assert nova.call("DELETE", f"/servers/{sid}/os-volume_attachments/{vol}").status_code == 404
    assert nova.call("GET", f"/servers/{uuid.uuid4()}/os-volume_attachments").status_code == 404


def test_unauthenticated_and_unknown_routes(nova):
    assert nova.client.get(C + "/servers").status_code == 401
    r = nova.call("GET", "/os-hypervisors")
    assert r.status_code == 404 and "itemNotFound" in r.json()


def test_image_boot_as_openstackclient_sends_it(nova):
    """openstackclient sends the image both as imageRef and as a local block device mapping."""
    bdm = [{"uuid": IMAGE_ID, "boot_index": 0, "source_type": "image", "destination_type": "local",
            "delete_on_termination": True}]
    r = nova.call("POST", "/servers", version="2.89", json={"server": {
        "name": "osc", "imageRef": IMAGE_ID, "flavorRef": "1", "networks": "auto", "block_device_mapping_v2": bdm}})
    assert r.status_code == 202, r.text
    nova.wait_status(r.json()["server"]["id"], "ACTIVE")
    r = nova.call("POST", "/servers", version="2.89", json={"server": {
        "name": "osc2", "flavorRef": "1", "networks": "auto", "block_device_mapping_v2": bdm}})
    assert r.status_code == 202, r.text


def test_restart_recovers_unfinished_work(api_factory):
    """A new API process finds builds, deletes and tasks its predecessor left."""
    from octoprobe.reference_impl.api.compute_store import NovaStore
    compute = FakeCompute()
    api = api_factory(cloud_factory=lambda: SimpleNamespace(compute=lambda: compute))
    store = NovaStore(api.backend.db)
    net = compute.network.add_network("private", api.member.project_id)
    common = dict(project_id=api.member.project_id, user_id=api.member.user_id, image_id=IMAGE_ID,
                  flavor={"id": "1", "name": "m1.nano", "vcpus": 1, "ram_mb": 128, "disk_gb": 1},
                  reservation_id="r-1")
    compute.create_server("built", IMAGE_ID, "1", networks=[net.id], server_id="a" * 8 + "-0000-4000-8000-" + "0" * 12)
    built = compute.list_servers()[0].id
    store.insert_server(dict(common, id=built, name="built", build_state="building"))
    store.insert_server(dict(common, id=str(uuid.uuid4()), name="lost", build_state="building"))
    store.insert_server(dict(common, id=str(uuid.uuid4()), name="busy", build_state="done",
                             task_state="powering-off"))
    headers = api.member.headers
    servers = {s["name"]: s for s in api.client.get(C + "/servers/detail", headers=headers).json()["servers"]}
    assert servers["built"]["status"] == "ACTIVE"
    assert servers["lost"]["status"] == "ERROR" and "restarted" in servers["lost"]["fault"]["message"]
    assert servers["busy"]["OS-EXT-STS:task_state"] is None
    api.backend._nova_runtime.pool.shutdown(wait=True)


def test_malformed_action_bodies_are_400(nova):
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    for body in ({"rebuild": {"imageRef": IMAGE_ID, "name": 5}}, {"rebuild": {"imageRef": 5}},
                 {"rebuild": {"imageRef": IMAGE_ID, "user_data": 5}}, {"rebuild": {"imageRef": IMAGE_ID,
                                                                                    "metadata": {"a": 1}}},
                 {"rebuild": {}}, {"rebuild": {"imageRef": str(uuid.uuid4())}}, {"reboot": None},
                 {"lock": "x"}, {"createImage": {"name": ""}}, {"createImage": {"name": "x", "metadata": []}},
                 {"os-getConsoleOutput": {"length": True}}, {"os-getConsoleOutput": "x"},
                 {"os-stop": None, "os-start": None}):
        r = nova.call("POST", f"/servers/{sid}/action", json=body)
        assert r.status_code == 400, (body, r.text)
    for path, body in ((f"/servers/{sid}/metadata", {"metadata": {"k": 1}}),
                       (f"/servers/{sid}/metadata", {"metadata": {"bad/key": "v"}}),
                       (f"/servers/{sid}/metadata", {"meta": {}}),
                       ("/os-keypairs", {"keypair": {"name": 5}}),
                       ("/os-keypairs", {"keypair": {"name": "k", "public_key": "ssh-ed25519"}}),
                       ("/servers", {"server": {"name": "x", "flavorRef": "1", "imageRef": IMAGE_ID,
                                                "networks": [{"uuid": None}]}}),
                       ("/servers", {"server": {"name": "x", "flavorRef": "1", "imageRef": IMAGE_ID,
                                                "min_count": "many"}}),
                       ("/servers", {"server": {"name": "x", "flavorRef": "1", "imageRef": IMAGE_ID,
                                                "metadata": {"k": ["v"]}}}),
                       ("/servers", ["not", "an", "object"])):
        r = nova.call("POST", path, json=body)
        assert r.status_code == 400, (path, body, r.text)
    assert nova.call("PUT", f"/os-quota-sets/{nova.api.member.project_id}", nova.api.admin,
                     json={"quota_set": {"instances": -5}}).status_code == 400


def test_security_groups_of_a_server(nova):
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")
    plane = nova.compute.network
    web = plane.create_security_group("web", project_id=nova.api.member.project_id)
    port = next(iter(plane.ports.values()))
    default_id = port.security_groups[0]
    act = lambda body: nova.call("POST", f"/servers/{sid}/action", json=body)  # noqa: E731
    assert act({"addSecurityGroup": {"name": "web"}}).status_code == 202
    assert port.security_groups == [default_id, web.id]
    assert act({"addSecurityGroup": {"name": "web"}}).status_code == 400
    assert act({"addSecurityGroup": {"name": "nosuch"}}).status_code == 400
    groups = nova.call("GET", f"/servers/{sid}/os-security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default", "web"]
    assert groups[0]["rules"] and groups[0]["rules"][0]["group"]["name"] == "default"
    shown = nova.call("GET", f"/servers/{sid}").json()["server"]["security_groups"]
    assert shown == [{"name": "default"}, {"name": "web"}]
    assert act({"removeSecurityGroup": {"name": "default"}}).status_code == 202
    assert port.security_groups == [web.id]
    assert act({"removeSecurityGroup": {"name": "default"}}).status_code == 400
    assert act({"removeSecurityGroup": {"name": "nosuch"}}).status_code == 404
    assert act({"removeSecurityGroup": {}}).status_code == 400


def test_access_addresses_are_checked_on_update(nova):
    sid = nova.boot(accessIPv4="192.0.2.7", accessIPv6="2001:db8::7")
    r = nova.call("PUT", f"/servers/{sid}", json={"server": {"accessIPv4": "not-an-address"}})
    assert r.status_code == 400 and "accessIPv4" in r.json()["badRequest"]["message"]
    r = nova.call("PUT", f"/servers/{sid}", json={"server": {"accessIPv6": "2001:0db8:0:0::0008"}})
    assert r.status_code == 200 and r.json()["server"]["accessIPv6"] == "2001:db8::8"  # compressed, as Nova
    assert r.json()["server"]["accessIPv4"] == "192.0.2.7"


def test_interfaces_are_the_servers_ports(nova):
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")  # the build adds the fake's NIC record: not after the clear below
    port = SimpleNamespace(id=str(uuid.uuid4()), network_id=nova.net.id, mac_address="fa:16:3e:00:00:01",
                           device_id=sid, index=1, security_groups=[],
                           fixed_ips=[SimpleNamespace(subnet_id="s4", ip_address="10.0.0.5")])
    other = SimpleNamespace(**{**vars(port), "id": str(uuid.uuid4()), "device_id": "someone-else"})
    nova.compute.network.ports.clear()  # the fake's own NIC records are not Neutron ports
    nova.compute.network.ports.update({port.id: port, other.id: other})
    listed = nova.call("GET", f"/servers/{sid}/os-interface").json()["interfaceAttachments"]
    assert listed == [{"port_state": "ACTIVE", "port_id": port.id, "net_id": nova.net.id,
                       "mac_addr": "fa:16:3e:00:00:01", "fixed_ips": [{"subnet_id": "s4", "ip_address": "10.0.0.5"}]}]
    shown = nova.call("GET", f"/servers/{sid}/os-interface/{port.id}", version="2.70").json()
    assert shown["interfaceAttachment"]["tag"] is None
    assert nova.call("GET", f"/servers/{sid}/os-interface/{other.id}").status_code == 404
    assert nova.call("GET", f"/servers/{sid}/os-interface", nova.api.account("stranger")).status_code == 404


def test_resize_confirm_and_revert(nova):
    sid = nova.boot()
    nova.wait_status(sid, "ACTIVE")

    def act(body, account=None):
        return nova.call("POST", f"/servers/{sid}/action", account, json=body)

    def flavor_id():
        return nova.call("GET", f"/servers/{sid}").json()["server"]["flavor"]["id"]

    assert act({"resize": {"flavorRef": "1"}}).status_code == 400  # its own flavor
    assert "Unable to find flavor" in act({"resize": {"flavorRef": "nope"}}).json()["badRequest"]["message"]
    assert act({"resize": {}}).status_code == 400
    assert act({"confirmResize": None}).status_code == 409  # nothing to confirm
    assert act({"resize": {"flavorRef": "4"}}).status_code == 202
    server = nova.wait_status(sid, "VERIFY_RESIZE")
    assert server["OS-EXT-STS:vm_state"] == "resized" and flavor_id() == "4"
    assert act({"confirmResize": {}}).status_code == 204  # Tempest sends {}
    nova.wait_status(sid, "ACTIVE")
    assert flavor_id() == "4"
    assert "disk down" in act({"resize": {"flavorRef": "1"}}).json()["badRequest"]["message"]
    assert act({"resize": {"flavorRef": "5"}}).status_code == 202
    nova.wait_status(sid, "VERIFY_RESIZE")
    assert act({"revertResize": None}).status_code == 202
    nova.wait_status(sid, "ACTIVE")
    assert flavor_id() == "4"
    actions = [a["action"] for a in nova.call("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]]
    assert {"resize", "confirmResize", "revertResize"} <= set(actions)
    stranger = nova.api.account("stranger")
    assert act({"resize": {"flavorRef": "3"}}, stranger).status_code == 404
