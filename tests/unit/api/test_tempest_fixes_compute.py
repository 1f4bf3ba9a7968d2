"""Nova behaviours Tempest's required compute tests rely on, found by running
them against the reference cloud (``octoprobe tempest --service compute``)."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from test_compute_api import nova  # noqa: F401  (the fixture)


def _fingerprint(pem: str) -> str:
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha1(der).hexdigest()  # noqa: S324
    return ":".join(digest[i:i + 2] for i in range(0, 40, 2))


def test_x509_keypair_is_generated_with_a_certificate_and_shown_with_its_type(nova):
    r = nova.call("POST", "/os-keypairs", version="2.2", json={"keypair": {"name": "cert", "type": "x509"}})
    assert r.status_code == 201, r.text
    kp = r.json()["keypair"]
    assert kp["type"] == "x509"
    assert kp["public_key"].startswith("-----BEGIN CERTIFICATE-----")
    assert kp["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    cert = x509.load_pem_x509_certificate(kp["public_key"].encode())
    assert cert.subject.rfc4514_string() == "CN=cert"
    assert kp["fingerprint"] == _fingerprint(kp["public_key"])
    shown = nova.call("GET", "/os-keypairs/cert", version="2.2").json()["keypair"]
    assert shown["type"] == "x509" and shown["public_key"] == kp["public_key"] and "private_key" not in shown
    listed = nova.call("GET", "/os-keypairs", version="2.2").json()["keypairs"]
    assert [k["keypair"]["type"] for k in listed if k["keypair"]["name"] == "cert"] == ["x509"]


def test_x509_keypair_import_and_refusals(nova):
    made = nova.call("POST", "/os-keypairs", version="2.2", json={"keypair": {"name": "a", "type": "x509"}})
    pem = made.json()["keypair"]["public_key"]
    r = nova.call("POST", "/os-keypairs", version="2.2",
                  json={"keypair": {"name": "b", "type": "x509", "public_key": pem}})
    assert r.status_code == 201, r.text
    assert r.json()["keypair"]["fingerprint"] == made.json()["keypair"]["fingerprint"]
    assert "private_key" not in r.json()["keypair"]
    # an ssh key declared x509, and a certificate declared ssh, are refused
    ssh = nova.call("POST", "/os-keypairs", version="2.2", json={"keypair": {"name": "s"}}).json()["keypair"]
    r = nova.call("POST", "/os-keypairs", version="2.2",
                  json={"keypair": {"name": "c", "type": "x509", "public_key": ssh["public_key"]}})
    assert r.status_code == 400
    r = nova.call("POST", "/os-keypairs", version="2.2", json={"keypair": {"name": "d", "public_key": pem}})
    assert r.status_code == 400
    # the type needs 2.2
    assert nova.call("POST", "/os-keypairs", json={"keypair": {"name": "e", "type": "x509"}}).status_code == 400


# -- the image proxy (Tempest's compute images client waits on it after createImage) -------------------
def _glance_image(nova, account=None, **body):
    body = {"name": "img", "disk_format": "raw", "container_format": "bare", **body}
    r = nova.client.post("/image/v2/images", json=body, headers=(account or nova.api.member).headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_image_proxy_shows_glance_images_in_novas_view(nova):
    img = _glance_image(nova, name="snap", min_ram=64, min_disk=1, image_type="test",
                        instance_uuid="9e8f2d44-1c6a-4b6e-8f3e-0d0d2d7c1a11")
    r = nova.call("GET", f"/images/{img['id']}")
    assert r.status_code == 200, r.text
    doc = r.json()["image"]
    assert doc["id"] == img["id"] and doc["name"] == "snap"
    assert doc["status"] == "SAVING" and doc["progress"] == 25  # queued: no data yet
    assert doc["minRam"] == 64 and doc["minDisk"] == 1 and doc["metadata"]["image_type"] == "test"
    assert doc["server"]["id"] == "9e8f2d44-1c6a-4b6e-8f3e-0d0d2d7c1a11"
    assert doc["created"].endswith("Z") and doc["links"][0]["rel"] == "self"
    assert set(doc) <= {"id", "status", "updated", "links", "name", "created", "minDisk", "minRam", "progress",
                        "metadata", "server", "OS-EXT-IMG-SIZE:size", "OS-DCF:diskConfig"}
    assert nova.call("GET", f"/images/{img['id']}/metadata").json()["metadata"]["image_type"] == "test"
    listed = nova.call("GET", "/images").json()["images"]
    assert [(i["id"], i["name"]) for i in listed] == [(img["id"], "snap")] and set(listed[0]) == {"id", "name",
                                                                                                 "links"}
    detail = nova.call("GET", "/images/detail?status=SAVING").json()["images"]
    assert [i["id"] for i in detail] == [img["id"]]
    assert nova.call("GET", "/images/detail?status=ACTIVE").json()["images"] == []


def test_image_proxy_delete_visibility_and_removal_at_2_36(nova):
    img = _glance_image(nova)
    other = nova.api.account("eve", "member")
    assert nova.call("GET", f"/images/{img['id']}", other).status_code == 404  # private to its project
    assert nova.call("DELETE", f"/images/{img['id']}", other).status_code == 404
    assert nova.call("GET", f"/images/{img['id']}", version="2.36").status_code == 404
    assert nova.call("GET", "/images", version="2.36").status_code == 404
    r = nova.call("DELETE", f"/images/{img['id']}")
    assert r.status_code == 204, r.text
    assert nova.call("GET", f"/images/{img['id']}").status_code == 404
    assert nova.call("DELETE", f"/images/{img['id']}").status_code == 404
    assert nova.call("GET", "/images/not-a-uuid").status_code == 404
