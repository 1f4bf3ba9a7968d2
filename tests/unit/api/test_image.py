"""Glance v2 of the reference cloud's API: the real ASGI app (Keystone and
Glance) on a temporary SQLite database, driven by Starlette's TestClient,
with a fake compute library whose RBD stand-in keeps images as files (its
``rbd export`` is ``cat``)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from octoprobe.reference_impl.api import identity, image
from octoprobe.reference_impl.api.app import build_app
from octoprobe.reference_impl.api.backend import Backend
from octoprobe.reference_impl.api.db import Database
from octoprobe.reference_impl.api.identity_store import SCHEMA as IDENTITY_SCHEMA
from octoprobe.reference_impl.api.settings import ApiSettings
from octoprobe.reference_impl.compute import errors as CE
from octoprobe.reference_impl.compute.model import Image as ComputeImage

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTET = {"Content-Type": "application/octet-stream"}
GUEST_ID = "5b0e7c36-5f0b-5d43-9f5e-8a1b2c3d4e5f"


# -- the fake data plane -----------------------------------------------------------------------------
@dataclass
class FakeRbd:
    root: Path
    snaps: dict = field(default_factory=dict)  # (pool, name) -> {snap: protected}
    clones: dict = field(default_factory=dict)  # (pool, name, snap) -> [children]
    calls: list = field(default_factory=list)

    def _path(self, pool: str, name: str) -> Path:
        return self.root / pool / name

    def import_file(self, path: str, pool: str, name: str, *, timeout=None) -> None:
        self.calls.append(("import", pool, name))
        self._path(pool, name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, self._path(pool, name))

    def run(self, *args, timeout=None):
        self.calls.append(args)
        if args[0] == "rename":
            src, dst = (a.split("/") for a in args[1:3])
            self._path(*src).rename(self._path(*dst))
            self.snaps[tuple(dst)] = self.snaps.pop(tuple(src), {})
        elif args[0] == "rm":
            pool, name = args[-1].split("/")
            self._path(pool, name).unlink(missing_ok=True)
            self.snaps.pop((pool, name), None)
        return SimpleNamespace(stdout="", stderr="", returncode=0)

    def exists(self, pool: str, name: str) -> bool:
        return self._path(pool, name).exists()

    def info(self, pool: str, name: str):
        return SimpleNamespace(size=self._path(pool, name).stat().st_size)

    def snap_create(self, pool, name, snap):
        self.snaps.setdefault((pool, name), {})[snap] = False

    def snap_protect(self, pool, name, snap):
        self.snaps[(pool, name)][snap] = True

    def snap_unprotect(self, pool, name, snap):
        self.snaps[(pool, name)][snap] = False

    def snap_purge(self, pool, name, *, timeout=None):
        self.snaps[(pool, name)] = {s: p for s, p in self.snaps.get((pool, name), {}).items() if p}

    def snap_list(self, pool, name):
        return [SimpleNamespace(name=s, protected=p) for s, p in self.snaps.get((pool, name), {}).items()]

    def children(self, pool, name, snap):
        return list(self.clones.get((pool, name, snap), []))

    def argv(self, *args):
        assert args[:2] == ("export", "--no-progress") and args[3] == "-", args
        pool, rest = args[2].split("/")
        return ["cat", str(self._path(pool, rest.split("@")[0]))]


class FakeCompute:
    """The compute library's image methods, over :class:`FakeRbd`."""

    def __init__(self, root: Path):
        self.rbd = FakeRbd(root)
        self.images: dict[str, ComputeImage] = {}
        guest = root / "images" / "octoprobe-guest-abc"
        guest.parent.mkdir(parents=True, exist_ok=True)
        guest.write_bytes(b"G" * 4096)
        self.rbd.snaps[("images", "octoprobe-guest-abc")] = {"snap": True}
        self.images[GUEST_ID] = ComputeImage(GUEST_ID, "octoprobe-guest", "images", "octoprobe-guest-abc", "snap",
                                             4096, "/boot/vmlinuz", "/boot/initrd.img", min_disk_gb=1,
                                             source="guest-build abc", created_at=time.time())

    def list_images(self):
        return list(self.images.values())

    def get_image(self, image_id):
        if image_id not in self.images:
            raise CE.ImageNotFound(f"image {image_id} does not exist")
        return self.images[image_id]

    def register_rbd_image(self, name, pool, rbd_name, *, kernel_from, image_id=None, min_ram_mb=64):
        base = self.get_image(kernel_from)
        snaps = self.rbd.snaps.get((pool, rbd_name), {})
        assert snaps.get("snap") is True, "the image needs a protected snapshot before registration"
        img = ComputeImage(image_id, name, pool, rbd_name, "snap", self.rbd.info(pool, rbd_name).size,
                           base.kernel, base.initrd, min_ram_mb=min_ram_mb)
        self.images[img.id] = img
        return img

    def delete_image(self, image_id):
        img = self.get_image(image_id)
        if self.rbd.children(img.pool, img.rbd_name, img.snap):
            raise CE.Conflict(f"image {image_id} is in use by RBD clone(s)")
        self.rbd.snaps.pop((img.pool, img.rbd_name), None)
        self.rbd._path(img.pool, img.rbd_name).unlink(missing_ok=True)
        del self.images[image_id]

    def _remove_rbd(self, pool, name):
        self.rbd.run("rm", "--no-progress", f"{pool}/{name}")


# -- fixtures ----------------------------------------------------------------------------------------
@dataclass
class Who:
    user_id: str
    project_id: str
    token: str

    @property
    def h(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


@dataclass
class Glance:
    client: TestClient
    backend: Backend
    compute: FakeCompute
    admin: Who
    demo: Who
    alt: Who
    reader: Who

    def create(self, who: Who | None = None, **body) -> dict:
        body.setdefault("disk_format", "raw")
        body.setdefault("container_format", "bare")
        r = self.client.post("/image/v2/images", json=body, headers=(who or self.demo).h)
        assert r.status_code == 201, r.text
        return r.json()

    def upload(self, image_id: str, data: bytes, who: Who | None = None, **headers):
        return self.client.put(f"/image/v2/images/{image_id}/file", content=data,
                               headers={**(who or self.demo).h, **OCTET, **headers})

    def show(self, image_id: str, who: Who | None = None):
        return self.client.get(f"/image/v2/images/{image_id}", headers=(who or self.demo).h)

    def patch(self, image_id: str, ops: list, who: Who | None = None, **headers):
        return self.client.patch(f"/image/v2/images/{image_id}", json=ops,
                                 headers={**(who or self.demo).h, **PATCH, **headers})

    def list(self, who: Who | None = None, **params) -> list[dict]:
        r = self.client.get("/image/v2/images", params=params, headers=(who or self.demo).h)
        assert r.status_code == 200, r.text
        return r.json()["images"]


def _account(backend: Backend, name: str, role: str, project: str | None = None) -> Who:
    ids = backend.identity
    try:
        proj = ids.project_by_name(project or name, "default")
    except Exception:
        proj = ids.create_project(project or name, "default")
    user = ids.create_user(name, "default", password=f"{name}-pw", default_project_id=proj["id"])
    ids.assign(user["id"], proj["id"], ids.role_by_name(role)["id"])
    return Who(user["id"], proj["id"], ids.issue(user, proj, methods=["password"]).token)


@pytest.fixture
def glance(tmp_path: Path):
    settings = ApiSettings(state_dir=tmp_path / "state", prefix="octu", host="testserver", port=80)
    db = Database.open(tmp_path / "api.db", (IDENTITY_SCHEMA, image.SCHEMA))
    compute = FakeCompute(tmp_path / "rbd")
    backend = Backend(settings, db, cloud_factory=lambda: SimpleNamespace(compute=lambda: compute))
    backend.identity.ensure_defaults()
    client = TestClient(build_app(backend, [identity.service, image.service]), raise_server_exceptions=False)
    g = Glance(client, backend, compute, _account(backend, "admin", "admin"), _account(backend, "demo", "member"),
               _account(backend, "alt", "member"), _account(backend, "viewer", "reader", project="demo"))
    yield g
    client.close()
    db.close()


def _error(r) -> str:
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == r.status_code, body
    return body["error"]["message"]


# -- discovery ----------------------------------------------------------------------------------------
def test_version_discovery(glance):
    r = glance.client.get("/image/")
    assert r.status_code == 300
    versions = r.json()["versions"]
    assert versions[0]["status"] == "CURRENT" and versions[0]["id"].startswith("v2.")
    assert versions[0]["links"][0]["href"] == "http://testserver/image/v2/"
    assert {v["id"] for v in versions} >= {"v2.0", "v2.1"}
    assert glance.client.get("/image/versions").json() == r.json()


def test_schemas_and_info(glance):
    h = glance.demo.h
    assert glance.client.get("/image/v2/schemas/image", headers=h).json()["name"] == "image"
    assert glance.client.get("/image/v2/schemas/images", headers=h).json()["name"] == "images"
    assert glance.client.get("/image/v2/schemas/member", headers=h).json()["name"] == "member"
    assert glance.client.get("/image/v2/schemas/members", headers=h).json()["name"] == "members"
    info = glance.client.get("/image/v2/info/import", headers=h).json()
    assert info["import-methods"]["value"] == ["glance-direct"]
    r = glance.client.get("/image/v2/info/stores", headers=h)
    assert r.status_code == 404 and "Multi backend" in _error(r)
    assert glance.client.get("/image/v2/info/usage", headers=h).json()["usage"]["image_count_total"]["usage"] == 0


def test_needs_a_token(glance):
    r = glance.client.get("/image/v2/images")
    assert r.status_code == 401
    _error(r)


# -- create, upload, download ---------------------------------------------------------------------------
def test_create_shows_a_queued_image(glance):
    r = glance.client.post("/image/v2/images", headers=glance.demo.h,
                           json={"name": "img", "disk_format": "raw", "container_format": "bare",
                                 "tags": ["a", "b", "a"], "min_ram": 128, "hw_disk_bus": "virtio"})
    assert r.status_code == 201, r.text
    img = r.json()
    assert r.headers["Location"] == f"http://testserver/image/v2/images/{img['id']}"
    assert "glance-direct" in r.headers["OpenStack-image-import-methods"]
    assert img["status"] == "queued" and img["visibility"] == "shared" and img["owner"] == glance.demo.project_id
    assert img["size"] is None and img["checksum"] is None and img["protected"] is False
    assert img["tags"] == ["a", "b"] and img["min_ram"] == 128 and img["min_disk"] == 0
    assert img["hw_disk_bus"] == "virtio"
    assert img["self"] == f"/v2/images/{img['id']}" and img["file"] == f"/v2/images/{img['id']}/file"
    assert img["schema"] == "/v2/schemas/image"
    assert img["created_at"].endswith("Z")
    assert glance.show(img["id"]).json() == img
    r = glance.client.get(f"/image/v2/images/{img['id']}/file", headers=glance.demo.h)
    assert r.status_code == 204  # no data yet


def test_create_with_id_and_duplicates(glance):
    wanted = "6a1c7f52-1f0e-4c84-a1e4-2f6d1c7e0b11"
    assert glance.create(id=wanted)["id"] == wanted
    r = glance.client.post("/image/v2/images", json={"id": wanted}, headers=glance.demo.h)
    assert r.status_code == 409
    r = glance.client.post("/image/v2/images", json={"id": "not-a-uuid"}, headers=glance.demo.h)
    assert r.status_code == 400


@pytest.mark.parametrize("body,status,needle", [
    ({"status": "active"}, 403, "read-only"),
    ({"size": 5}, 403, "read-only"),
    ({"checksum": "x"}, 403, "read-only"),
    ({"os_glance_import_task": "x"}, 403, "reserved"),
    ({"locations": []}, 403, "reserved"),
    ({"disk_format": "floppy"}, 400, "disk_format"),
    ({"container_format": "zip"}, 400, "container_format"),
    ({"visibility": "everyone"}, 400, "visibility"),
    ({"min_ram": -1}, 400, "min_ram"),
    ({"min_disk": "big"}, 400, "min_disk"),
    ({"protected": "yes"}, 400, "protected"),
    ({"name": "n" * 256}, 400, "name"),
    ({"tags": ["t" * 256]}, 400, "tags"),
    ({"custom": 5}, 400, "strings"),
    ({"visibility": "public"}, 403, "publicize"),
    ({"owner": "someone-else"}, 403, "owner"),
])
def test_create_refuses_bad_attributes(glance, body, status, needle):
    r = glance.client.post("/image/v2/images", json=body, headers=glance.demo.h)
    assert r.status_code == status, r.text
    assert needle in _error(r)


def test_create_refuses_bad_bodies(glance):
    r = glance.client.post("/image/v2/images", content=b"{nope", headers={**glance.demo.h,
                                                                           "Content-Type": "application/json"})
    assert r.status_code == 400
    r = glance.client.post("/image/v2/images", json=[1, 2], headers=glance.demo.h)
    assert r.status_code == 400
    r = glance.client.post("/image/v2/images", json={"name": "x"}, headers=glance.reader.h)
    assert r.status_code == 403


def test_admin_may_create_public_images_for_others(glance):
    img = glance.create(glance.admin, visibility="public", owner=glance.demo.project_id)
    assert img["visibility"] == "public" and img["owner"] == glance.demo.project_id


def test_upload_download_round_trip(glance):
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4, more than one chunk
    img = glance.create(name="round")
    r = glance.upload(img["id"], data, **{"X-OpenStack-Image-Size": str(len(data))})
    assert r.status_code == 204, r.text
    shown = glance.show(img["id"]).json()
    assert shown["status"] == "active" and shown["size"] == len(data) and shown["virtual_size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512" and shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    # stored in RBD images/<id> with a protected snapshot, registered with compute under the same id
    assert glance.compute.rbd.snaps[("images", img["id"])] == {"snap": True}
    assert glance.compute.images[img["id"]].rbd_name == img["id"]
    assert glance.compute.images[img["id"]].kernel == "/boot/vmlinuz"
    assert ("import", "images", f"{img['id']}.importing") in glance.compute.rbd.calls
    r = glance.client.get(f"/image/v2/images/{img['id']}/file", headers=glance.demo.h)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-MD5"] == shown["checksum"]
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Content-Type"] == "application/octet-stream"
    # no work files left behind
    assert not list((glance.backend.settings.api_dir / "uploads").iterdir())


def test_upload_errors(glance):
    img = glance.create()
    r = glance.upload(img["id"], b"abc", **{"X-OpenStack-Image-Size": "4"})
    assert r.status_code == 400 and "X-OpenStack-Image-Size" in _error(r)
    assert glance.show(img["id"]).json()["status"] == "queued"
    r = glance.upload(img["id"], b"abc", **{"X-OpenStack-Image-Size": "many"})
    assert r.status_code == 400
    r = glance.client.put(f"/image/v2/images/{img['id']}/file", content=b"abc",
                          headers={**glance.demo.h, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert glance.upload(img["id"], b"abc").status_code == 204
    r = glance.upload(img["id"], b"again")
    assert r.status_code == 409 and "active" in _error(r)
    bare = glance.client.post("/image/v2/images", json={"name": "noformat"}, headers=glance.demo.h).json()
    r = glance.upload(bare["id"], b"abc")
    assert r.status_code == 400 and "disk_format" in _error(r)
    assert glance.upload("0e6f6e9c-2c1f-4f7b-9d68-000000000000", b"abc").status_code == 404
    assert glance.upload("not-a-uuid", b"abc").status_code == 404
    other = glance.create(glance.alt)
    assert glance.upload(other["id"], b"abc").status_code == 404  # not visible to demo
    r = glance.upload(img["id"], b"abc", who=glance.reader)
    assert r.status_code == 403


def test_upload_refuses_qcow2_data_declared_raw_and_the_reverse(glance):
    img = glance.create()
    r = glance.upload(img["id"], b"QFI\xfb" + b"\0" * 100)
    assert r.status_code == 400 and "qcow2" in _error(r)
    img2 = glance.create(disk_format="qcow2")
    r = glance.upload(img2["id"], b"plain raw bytes")
    assert r.status_code == 400 and "qcow2" in _error(r)
    assert glance.show(img2["id"]).json()["status"] == "queued"


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_qcow2_is_converted_to_raw(glance, tmp_path):
    src = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(src), "1M"], check=True, capture_output=True)
    img = glance.create(disk_format="qcow2")
    assert glance.upload(img["id"], src.read_bytes()).status_code == 204
    shown = glance.show(img["id"]).json()
    assert shown["disk_format"] == "raw" and shown["size"] == 1 << 20 and shown["virtual_size"] == 1 << 20
    assert shown["checksum"] == hashlib.md5(b"\0" * (1 << 20)).hexdigest()
    data = glance.client.get(f"/image/v2/images/{img['id']}/file", headers=glance.demo.h).content
    assert data == b"\0" * (1 << 20)
    backed = tmp_path / "backed.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-b", str(src), "-F", "qcow2", str(backed)], check=True,
                   capture_output=True)
    img = glance.create(disk_format="qcow2")
    r = glance.upload(img["id"], backed.read_bytes())
    assert r.status_code == 400 and "backing file" in _error(r)


def test_zero_byte_image(glance):
    img = glance.create()
    assert glance.upload(img["id"], b"").status_code == 204
    shown = glance.show(img["id"]).json()
    assert shown["status"] == "active" and shown["size"] == 0
    r = glance.client.get(f"/image/v2/images/{img['id']}/file", headers=glance.demo.h)
    assert r.status_code == 200 and r.content == b""
    assert glance.client.delete(f"/image/v2/images/{img['id']}", headers=glance.demo.h).status_code == 204


def test_glance_direct_import(glance):
    img = glance.create()
    h = glance.demo.h
    r = glance.client.put(f"/image/v2/images/{img['id']}/stage", content=b"staged!", headers={**h, **OCTET})
    assert r.status_code == 204
    assert glance.show(img["id"]).json()["status"] == "uploading"
    r = glance.client.post(f"/image/v2/images/{img['id']}/import", json={"method": {"name": "web-download"}},
                           headers=h)
    assert r.status_code == 400
    r = glance.client.post(f"/image/v2/images/{img['id']}/import", json={"method": {"name": "glance-direct"}},
                           headers=h)
    assert r.status_code == 202, r.text
    shown = glance.show(img["id"]).json()
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(b"staged!").hexdigest()
    r = glance.client.post(f"/image/v2/images/{img['id']}/import", json={"method": {"name": "glance-direct"}},
                           headers=h)
    assert r.status_code == 409
    assert glance.client.post(f"/image/v2/images/{img['id']}/import", json={}, headers=h).status_code == 400


def test_data_plane_absent_is_a_503(glance, tmp_path):
    def broken():
        raise RuntimeError("no cloud here")
    glance.backend._cloud_factory = broken
    glance.backend._cloud = None
    glance.backend._compute = None
    img = glance.create()
    r = glance.upload(img["id"], b"abc")
    assert r.status_code == 503 and "not available" in _error(r)
    assert glance.show(img["id"]).json()["status"] == "queued"


# -- list -------------------------------------------------------------------------------------------------
def _names(images: list[dict]) -> list[str]:
    return [i["name"] for i in images]


def test_list_filters(glance):
    a = glance.create(name="alpha", tags=["x", "y"], custom="1")
    b = glance.create(name="beta", tags=["x"], disk_format="qcow2", protected=True)
    c = glance.create(name="gamma", container_format="ovf", os_hidden=True)
    glance.upload(a["id"], b"a" * 10)
    assert set(_names(glance.list())) == {"alpha", "beta"}  # hidden images are not listed by default
    assert _names(glance.list(os_hidden="true")) == ["gamma"]
    assert _names(glance.list(name="alpha")) == ["alpha"]
    assert set(_names(glance.list(name="in:alpha,beta"))) == {"alpha", "beta"}
    assert _names(glance.list(status="active")) == ["alpha"]
    assert _names(glance.list(status="queued")) == ["beta"]
    assert set(_names(glance.list(tag="x"))) == {"alpha", "beta"}
    assert _names(glance.list(tag=["x", "y"])) == ["alpha"]
    assert _names(glance.list(disk_format="qcow2")) == ["beta"]
    assert _names(glance.list(container_format="ovf", os_hidden="true")) == ["gamma"]
    assert _names(glance.list(protected="true")) == ["beta"]
    assert _names(glance.list(protected="false")) == ["alpha"]
    assert _names(glance.list(size_min=5)) == ["alpha"]
    assert _names(glance.list(size_max=5)) == []
    assert _names(glance.list(id=f"in:{a['id']},{b['id']}", sort="name:asc")) == ["alpha", "beta"]
    assert _names(glance.list(owner=glance.demo.project_id, sort_key="name", sort_dir="asc")) == ["alpha", "beta"]
    assert _names(glance.list(custom="1")) == ["alpha"]
    assert _names(glance.list(visibility="shared", member_status="all", sort="name:asc")) == ["alpha", "beta"]
    assert _names(glance.list(created_at="gte:2000-01-01T00:00:00Z", sort="name")) == ["beta", "alpha"]
    assert glance.list(updated_at="lt:2000-01-01T00:00:00Z") == []
    assert c["id"] not in {i["id"] for i in glance.list()}


@pytest.mark.parametrize("params,needle", [
    ({"limit": "-1"}, "limit"),
    ({"limit": "x"}, "limit"),
    ({"sort_key": "nope"}, "sort key"),
    ({"sort_dir": "up"}, "sort direction"),
    ({"sort": "name:sideways"}, "sort direction"),
    ({"sort": "name", "sort_key": "id"}, "sort"),
    ({"sort_key": ["name", "id"], "sort_dir": ["asc", "desc", "asc"]}, "sort_dir"),
    ({"marker": "not-a-uuid"}, "marker"),
    ({"marker": "0e6f6e9c-2c1f-4f7b-9d68-000000000000"}, "marker"),
    ({"visibility": "everyone"}, "visibility"),
    ({"member_status": "maybe"}, "member_status"),
    ({"status": "sleeping"}, "status"),
    ({"protected": "perhaps"}, "protected"),
    ({"size_min": "-3"}, "size_min"),
    ({"created_at": "yesterday"}, "created_at"),
    ({"created_at": "gt:not-a-time"}, "created_at"),
])
def test_list_refuses_bad_parameters(glance, params, needle):
    r = glance.client.get("/image/v2/images", params=params, headers=glance.demo.h)
    assert r.status_code == 400, r.text
    assert needle in _error(r)


def test_list_sort_and_pagination(glance):
    for name in ("d", "b", "e", "a", "c"):
        glance.create(name=name)
    assert _names(glance.list(sort_key="name", sort_dir="asc")) == ["a", "b", "c", "d", "e"]
    assert _names(glance.list(sort="name:desc")) == ["e", "d", "c", "b", "a"]
    assert _names(glance.list()) == ["c", "a", "e", "b", "d"]  # created_at desc (the default)
    seen, url = [], "/image/v2/images?limit=2&sort=name:asc"
    pages = 0
    while url:
        body = glance.client.get(url, headers=glance.demo.h).json()
        assert len(body["images"]) <= 2
        seen += _names(body["images"])
        assert body["first"].startswith("/v2/images") and body["schema"] == "/v2/schemas/images"
        url = "/image" + body["next"] if "next" in body else None
        pages += 1
    assert seen == ["a", "b", "c", "d", "e"] and pages == 3
    assert glance.list(limit=0) == []
    first = glance.list(sort="name:asc", limit=1)[0]
    assert _names(glance.list(sort="name:asc", marker=first["id"])) == ["b", "c", "d", "e"]
    # the marker need not match the filters, only be visible
    assert _names(glance.list(sort="name:asc", marker=first["id"], name="in:a,d")) == ["d"]
    alien = glance.create(glance.alt, name="alien", visibility="private")
    r = glance.client.get("/image/v2/images", params={"marker": alien["id"]}, headers=glance.demo.h)
    assert r.status_code == 400


# -- update ---------------------------------------------------------------------------------------------
def test_patch_operations(glance):
    img = glance.create(name="before", extra="1")
    r = glance.patch(img["id"], [
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "add", "path": "/new_prop", "value": "v"},
        {"op": "replace", "path": "/extra", "value": "2"},
        {"op": "add", "path": "/min_disk", "value": 3},
        {"op": "replace", "path": "/tags", "value": ["t1", "t2", "t1"]},
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "replace", "path": "/visibility", "value": "community"},
        {"op": "add", "path": "/with~1slash", "value": "s"},
    ])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "after" and body["new_prop"] == "v" and body["extra"] == "2"
    assert body["min_disk"] == 3 and body["tags"] == ["t1", "t2"] and body["protected"] is True
    assert body["visibility"] == "community" and body["with/slash"] == "s"
    r = glance.patch(img["id"], [{"op": "remove", "path": "/new_prop"}])
    assert r.status_code == 200 and "new_prop" not in r.json()
    assert glance.show(img["id"]).json() == r.json()


@pytest.mark.parametrize("ops,status,needle", [
    ([{"op": "remove", "path": "/missing"}], 409, "does not exist"),
    ([{"op": "replace", "path": "/missing", "value": "x"}], 409, "does not exist"),
    ([{"op": "remove", "path": "/name"}], 403, "may not be removed"),
    ([{"op": "replace", "path": "/status", "value": "active"}], 403, "read-only"),
    ([{"op": "replace", "path": "/id", "value": "x"}], 403, "read-only"),
    ([{"op": "add", "path": "/checksum", "value": "x"}], 403, "read-only"),
    ([{"op": "add", "path": "/os_glance_x", "value": "x"}], 403, "reserved"),
    ([{"op": "add", "path": "/locations/-", "value": {"url": "x"}}], 403, "locations"),
    ([{"op": "replace", "path": "/visibility", "value": "public"}], 403, "publicize"),
    ([{"op": "replace", "path": "/owner", "value": "other"}], 403, "owner"),
    ([{"op": "replace", "path": "/min_ram", "value": -5}], 400, "min_ram"),
    ([{"op": "replace", "path": "/disk_format", "value": "tape"}], 400, "disk_format"),
    ([{"op": "add", "path": "/prop", "value": 7}], 400, "strings"),
    ([{"op": "test", "path": "/name", "value": "x"}], 400, "operation"),
    ([{"op": "move", "path": "/name", "from": "/x"}], 400, "operation"),
    ([{"op": "add", "path": "name", "value": "x"}], 400, "pointer"),
    ([{"op": "add", "path": "/a/b", "value": "x"}], 400, "Nested"),
    ([{"op": "add", "path": "/name"}], 400, "value"),
    ([{"op": "add", "path": "/name", "value": "x", "extra": 1}], 400, "Unknown"),
    (["replace"], 400, "JSON objects"),
    ({"op": "add"}, 400, "array"),
])
def test_patch_refusals(glance, ops, status, needle):
    img = glance.create(name="p")
    r = glance.patch(img["id"], ops)
    assert r.status_code == status, r.text
    assert needle in _error(r)
    assert glance.show(img["id"]).json() == img  # nothing changed


def test_patch_content_type_and_formats_after_upload(glance):
    img = glance.create()
    r = glance.client.patch(f"/image/v2/images/{img['id']}", json=[], headers=glance.demo.h)
    assert r.status_code == 415 and "json-patch" in r.headers["Accept-Patch"]
    r = glance.patch(img["id"], [], **{"Content-Type": "application/json-patch+json"})
    assert r.status_code == 415
    glance.upload(img["id"], b"data")
    r = glance.patch(img["id"], [{"op": "replace", "path": "/disk_format", "value": "iso"}])
    assert r.status_code == 403 and "queued" in _error(r)
    r = glance.patch(img["id"], [{"op": "replace", "path": "/disk_format", "value": "raw"}])
    assert r.status_code == 200  # no change is fine
    r = glance.patch(glance.create(glance.admin)["id"], [{"op": "replace", "path": "/visibility",
                                                          "value": "public"}], who=glance.admin)
    assert r.status_code == 200 and r.json()["visibility"] == "public"


# -- delete ----------------------------------------------------------------------------------------------
def test_delete(glance):
    img = glance.create()
    glance.upload(img["id"], b"bytes")
    h = glance.demo.h
    glance.patch(img["id"], [{"op": "replace", "path": "/protected", "value": True}])
    r = glance.client.delete(f"/image/v2/images/{img['id']}", headers=h)
    assert r.status_code == 403 and "protected" in _error(r)
    glance.patch(img["id"], [{"op": "replace", "path": "/protected", "value": False}])
    glance.compute.rbd.clones[("images", img["id"], "snap")] = ["vms/server_disk"]
    r = glance.client.delete(f"/image/v2/images/{img['id']}", headers=h)
    assert r.status_code == 409 and "in use" in _error(r)
    assert glance.show(img["id"]).json()["status"] == "active"
    glance.compute.rbd.clones.clear()
    r = glance.client.delete(f"/image/v2/images/{img['id']}", headers=h)
    assert r.status_code == 204
    assert glance.show(img["id"]).status_code == 404
    assert not glance.compute.rbd.exists("images", img["id"]) and img["id"] not in glance.compute.images
    assert glance.client.delete(f"/image/v2/images/{img['id']}", headers=h).status_code == 404
    assert glance.client.delete("/image/v2/images/garbage", headers=h).status_code == 404
    queued = glance.create()
    assert glance.client.delete(f"/image/v2/images/{queued['id']}", headers=glance.reader.h).status_code == 403
    assert glance.client.delete(f"/image/v2/images/{queued['id']}", headers=h).status_code == 204


# -- visibility and isolation ----------------------------------------------------------------------------------
def test_private_images_are_invisible_to_other_projects(glance):
    mine = glance.create(name="mine", visibility="private")
    glance.upload(mine["id"], b"secret")
    alt = glance.alt
    assert mine["id"] not in {i["id"] for i in glance.list(alt)}
    assert mine["id"] not in {i["id"] for i in glance.list(alt, visibility="private")}
    assert glance.show(mine["id"], alt).status_code == 404
    assert glance.client.get(f"/image/v2/images/{mine['id']}/file", headers=alt.h).status_code == 404
    assert glance.patch(mine["id"], [{"op": "replace", "path": "/name", "value": "x"}], alt).status_code == 404
    assert glance.client.delete(f"/image/v2/images/{mine['id']}", headers=alt.h).status_code == 404
    assert glance.client.put(f"/image/v2/images/{mine['id']}/tags/t", headers=alt.h).status_code == 404
    # the admin sees and may change everything
    assert mine["id"] in {i["id"] for i in glance.list(glance.admin)}
    assert glance.show(mine["id"], glance.admin).status_code == 200
    # readers of the owning project see it, but do not change it
    assert glance.show(mine["id"], glance.reader).status_code == 200
    assert glance.patch(mine["id"], [{"op": "replace", "path": "/name", "value": "x"}],
                        glance.reader).status_code == 403


def test_public_and_community_images(glance):
    public = glance.create(glance.admin, name="pub", visibility="public")
    community = glance.create(name="com", visibility="community")
    alt = glance.alt
    listed = {i["name"] for i in glance.list(alt)}
    assert "pub" in listed and "com" not in listed  # others' community images only on request
    assert _names(glance.list(alt, visibility="community")) == ["com"]
    assert {"pub", "com"} <= {i["name"] for i in glance.list(alt, visibility="all")}
    assert glance.show(community["id"], alt).status_code == 200
    r = glance.patch(public["id"], [{"op": "replace", "path": "/name", "value": "mine now"}], alt)
    assert r.status_code == 403
    assert glance.client.delete(f"/image/v2/images/{community['id']}", headers=alt.h).status_code == 403
    assert glance.upload(public["id"], b"x", who=alt).status_code == 403
    # the owner sees its community image in its default list
    assert "com" in {i["name"] for i in glance.list()}


def test_members_of_shared_images(glance):
    h, alt = glance.demo.h, glance.alt
    img = glance.create(name="shared-one")
    base = f"/image/v2/images/{img['id']}/members"
    assert glance.show(img["id"], alt).status_code == 404
    r = glance.client.post(base, json={"member": alt.project_id}, headers=h)
    assert r.status_code == 200, r.text
    member = r.json()
    assert member["status"] == "pending" and member["member_id"] == alt.project_id
    assert member["image_id"] == img["id"] and member["schema"] == "/v2/schemas/member"
    assert glance.client.post(base, json={"member": alt.project_id}, headers=h).status_code == 409
    assert glance.client.post(base, json={}, headers=h).status_code == 400
    # a pending member sees the image, but it is not in its default list
    assert glance.show(img["id"], alt).status_code == 200
    assert img["id"] not in {i["id"] for i in glance.list(alt)}
    assert img["id"] in {i["id"] for i in glance.list(alt, visibility="shared", member_status="pending")}
    # only the member changes its status
    r = glance.client.put(f"{base}/{alt.project_id}", json={"status": "accepted"}, headers=h)
    assert r.status_code == 403
    r = glance.client.put(f"{base}/{alt.project_id}", json={"status": "maybe"}, headers=alt.h)
    assert r.status_code == 400
    r = glance.client.put(f"{base}/{alt.project_id}", json={"status": "accepted"}, headers=alt.h)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert img["id"] in {i["id"] for i in glance.list(alt)}
    # a member sees its own membership only, and cannot share further or delete
    assert [m["member_id"] for m in glance.client.get(base, headers=alt.h).json()["members"]] == [alt.project_id]
    assert glance.client.post(base, json={"member": "x"}, headers=alt.h).status_code == 403
    assert glance.client.delete(f"{base}/{alt.project_id}", headers=alt.h).status_code == 403
    assert glance.client.get(f"{base}/{alt.project_id}", headers=alt.h).json()["status"] == "accepted"
    assert glance.client.get(f"{base}/nobody", headers=h).status_code == 404
    listed = glance.client.get(base, headers=h).json()
    assert listed["schema"] == "/v2/schemas/members" and len(listed["members"]) == 1
    assert glance.client.delete(f"{base}/{alt.project_id}", headers=h).status_code == 204
    assert glance.show(img["id"], alt).status_code == 404
    # only shared images have members
    private = glance.create(visibility="private")
    r = glance.client.post(f"/image/v2/images/{private['id']}/members", json={"member": alt.project_id}, headers=h)
    assert r.status_code == 403 and "shared" in _error(r)


# -- tags, actions --------------------------------------------------------------------------------------------
def test_tags(glance):
    img = glance.create(tags=["a"])
    base = f"/image/v2/images/{img['id']}/tags"
    assert glance.client.put(f"{base}/b", headers=glance.demo.h).status_code == 204
    assert glance.client.put(f"{base}/b", headers=glance.demo.h).status_code == 204
    assert glance.show(img["id"]).json()["tags"] == ["a", "b"]
    assert glance.client.delete(f"{base}/a", headers=glance.demo.h).status_code == 204
    assert glance.client.delete(f"{base}/a", headers=glance.demo.h).status_code == 404
    assert glance.show(img["id"]).json()["tags"] == ["b"]
    assert glance.client.put(f"{base}/{'x' * 256}", headers=glance.demo.h).status_code == 400


def test_deactivate_and_reactivate(glance):
    img = glance.create()
    base = f"/image/v2/images/{img['id']}/actions"
    assert glance.client.post(f"{base}/deactivate", headers=glance.demo.h).status_code == 400  # queued
    glance.upload(img["id"], b"data")
    assert glance.client.post(f"{base}/deactivate", headers=glance.demo.h).status_code == 204
    assert glance.show(img["id"]).json()["status"] == "deactivated"
    r = glance.client.get(f"/image/v2/images/{img['id']}/file", headers=glance.demo.h)
    assert r.status_code == 403
    assert glance.client.post(f"{base}/reactivate", headers=glance.demo.h).status_code == 204
    assert glance.client.get(f"/image/v2/images/{img['id']}/file", headers=glance.demo.h).content == b"data"


def test_unknown_paths_and_methods(glance):
    r = glance.client.get("/image/v2/nothing", headers=glance.demo.h)
    assert r.status_code == 404 and _error(r)
    r = glance.client.post("/image/v2/schemas/image", json={}, headers=glance.demo.h)
    assert r.status_code == 405
    assert glance.show("12345").status_code == 404


# -- register_existing_image ----------------------------------------------------------------------------------
def test_register_existing_image(glance):
    guest = glance.compute.images[GUEST_ID]
    view = image.register_existing_image(glance.backend, guest, name="cirros-like",
                                         owner_project_id=glance.admin.project_id,
                                         properties={"hw_rng_model": "virtio"})
    assert view["id"] == GUEST_ID and view["status"] == "active" and view["visibility"] == "public"
    assert view["size"] == 4096 and view["checksum"] is None and view["hw_rng_model"] == "virtio"
    again = image.register_existing_image(glance.backend.db, guest, name="renamed",
                                          owner_project_id=glance.admin.project_id)
    assert again["name"] == "cirros-like"  # idempotent: the record is kept
    # every project sees it; the first complete download records its checksums
    assert glance.show(GUEST_ID, glance.alt).json()["name"] == "cirros-like"
    r = glance.client.get(f"/image/v2/images/{GUEST_ID}/file", headers=glance.alt.h)
    assert r.status_code == 200 and r.content == b"G" * 4096 and "Content-MD5" not in r.headers
    shown = glance.show(GUEST_ID, glance.alt).json()
    assert shown["checksum"] == hashlib.md5(b"G" * 4096).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(b"G" * 4096).hexdigest()
    # protected from deletion by others; the owner (admin) may delete it, but not while it is in use
    assert glance.client.delete(f"/image/v2/images/{GUEST_ID}", headers=glance.alt.h).status_code == 403
    glance.compute.rbd.clones[("images", "octoprobe-guest-abc", "snap")] = ["vms/x_disk"]
    assert glance.client.delete(f"/image/v2/images/{GUEST_ID}", headers=glance.admin.h).status_code == 409


def test_register_existing_image_with_a_database_path(tmp_path):
    guest = ComputeImage(GUEST_ID, "g", "images", "octoprobe-guest-abc", "snap", 10, "k", "i")
    path = tmp_path / "api" / "api.db"
    view = image.register_existing_image(path, guest, name="g", owner_project_id="p", visibility="private")
    assert view["visibility"] == "private" and view["owner"] == "p"
    assert image.register_existing_image(path, guest, name="g", owner_project_id="p")["id"] == GUEST_ID
    with pytest.raises(ValueError):
        image.register_existing_image(path, guest, name="g", owner_project_id="p", visibility="open")
    with pytest.raises(ValueError):
        image.register_existing_image(path, guest, name="g", owner_project_id="p", properties={"size": "1"})


def test_register_existing_image_computes_checksums_with_rbd(glance):
    guest = glance.compute.images[GUEST_ID]
    view = image.register_existing_image(glance.backend, guest, name="g", owner_project_id=glance.admin.project_id,
                                         rbd=glance.compute.rbd)
    assert view["checksum"] == hashlib.md5(b"G" * 4096).hexdigest()
    assert view["os_hash_algo"] == "sha512" and view["os_hash_value"] == hashlib.sha512(b"G" * 4096).hexdigest()
    r = glance.client.get(f"/image/v2/images/{GUEST_ID}/file", headers=glance.demo.h)
    assert r.headers["Content-MD5"] == view["checksum"]


def test_download_of_missing_rbd_data_is_a_clean_error(glance):
    img = glance.create()
    glance.upload(img["id"], b"data")
    glance.compute.rbd._path("images", img["id"]).unlink()  # lost behind the API's back
    r = glance.client.get(f"/image/v2/images/{img['id']}/file", headers=glance.demo.h)
    assert r.status_code == 503 and "RBD" in _error(r)
