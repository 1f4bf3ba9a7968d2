"""Glance of the reference cloud, with the openstack CLI unchanged: image
data lands in RBD with a protected snapshot, private images stay private."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest


@pytest.fixture
def raw_file(tmp_path):
    path = tmp_path / "disk.raw"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def rbd_snaps(api_cloud, image_id: str) -> list[dict]:
    import json
    out = subprocess.run(["rbd", "--conf", str(api_cloud.state_dir / "ceph" / "ceph.conf"), "snap", "ls",
                          "--all", f"images/{image_id}", "--format", "json"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out)


def test_image_create_upload_show_save_delete(api_cloud, raw_file, tmp_path):
    image = api_cloud.openstack("image", "create", "--file", str(raw_file), "--disk-format", "raw",
                                "--container-format", "bare", "--private", "octoprobe-test-img")
    try:
        assert image["status"] == "active"
        assert image["checksum"] == hashlib.md5(raw_file.read_bytes()).hexdigest()
        shown = api_cloud.openstack("image", "show", image["id"])
        assert shown["size"] == raw_file.stat().st_size and shown["visibility"] == "private"
        # the data is an RBD image with a protected snapshot that servers clone
        snaps = rbd_snaps(api_cloud, image["id"])
        assert [s["name"] for s in snaps] == ["snap"]
        saved = tmp_path / "saved.raw"
        api_cloud.openstack("image", "save", "--file", str(saved), image["id"], json_out=False)
        assert saved.read_bytes() == raw_file.read_bytes()
        names = [i["Name"] for i in api_cloud.openstack("image", "list")]
        assert "octoprobe-test-img" in names
        # the other project does not see it, cannot show it or delete it
        alt_names = [i["Name"] for i in api_cloud.openstack("image", "list", cloud="octoprobe-alt")]
        assert "octoprobe-test-img" not in alt_names
        assert api_cloud.openstack("image", "show", image["id"], cloud="octoprobe-alt", check=False,
                                   json_out=False).returncode != 0
        assert api_cloud.openstack("image", "delete", image["id"], cloud="octoprobe-alt", check=False,
                                   json_out=False).returncode != 0
    finally:
        api_cloud.openstack("image", "delete", image["id"], json_out=False)
    assert api_cloud.openstack("image", "show", image["id"], check=False, json_out=False).returncode != 0
    gone = subprocess.run(["rbd", "--conf", str(api_cloud.state_dir / "ceph" / "ceph.conf"), "info",
                           f"images/{image['id']}"], capture_output=True, text=True, timeout=60)
    assert gone.returncode != 0


def test_guest_image_is_public(api_cloud):
    for cloud in ("octoprobe", "octoprobe-alt"):
        images = api_cloud.openstack("image", "list", "--public", "--long", cloud=cloud)
        assert any(i["Name"] == "octoprobe-guest" and i["Status"] == "active" for i in images), images


def test_qcow2_upload_is_converted_to_raw(api_cloud, tmp_path):
    qcow = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(qcow), "8M"], check=True, capture_output=True)
    image = api_cloud.openstack("image", "create", "--file", str(qcow), "--disk-format", "qcow2",
                                "--container-format", "bare", "octoprobe-test-qcow2")
    try:
        assert image["status"] == "active" and image["disk_format"] == "raw"
        assert image["size"] == 8 * 1024 * 1024
    finally:
        api_cloud.openstack("image", "delete", image["id"], json_out=False)
