"""compute-keypairs-create and compute-keypairs-create-type: generate,
import, show, list and delete SSH keypairs; a server booted with one.

Every keypair a test creates has the run's name prefix (a keypair carries
nothing else) and is deleted after the test."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .nova import check_error, check_status

CREATE = "compute-keypairs-create"
CREATE_TYPE = "compute-keypairs-create-type"


def _public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _md5_fingerprint(public_key: str) -> str:
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


@pytest.mark.capability(CREATE, "f9e15296-d7f9-4e62-b53f-a04e89160833")
def test_create_specify_keypair(nova, server, server_keypair):
    """A server booted with key_name shows that key_name."""
    shown = nova.show(server.id)
    assert shown["key_name"] == server_keypair["name"], (
        f"the server booted with key {server_keypair['name']!r} shows key_name {shown.get('key_name')!r}")


@pytest.mark.capability(CREATE, "919e426e-43be-4f5f-99f2-660fd22ed519")
def test_generate_show_list_delete_keypair(nova, resources, schemas):
    """POST /os-keypairs without a public key (2.1): 200 with a generated
    private and public key; GET shows it (same fingerprint), the list has
    it, DELETE (202) removes it and GET is then 404."""
    created = nova.create_keypair(resources)
    assert created.get("private_key", "").startswith("-----BEGIN"), "a generated keypair has no PEM private key"
    assert created["public_key"].startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")), created["public_key"][:40]
    assert created["fingerprint"] == _md5_fingerprint(created["public_key"]), (
        f"fingerprint {created['fingerprint']} is not the MD5 of the public key")
    shown = nova.get(f"/os-keypairs/{created['name']}", "compute/keypair")["keypair"]
    assert (shown["name"], shown["public_key"], shown["fingerprint"]) == (
        created["name"], created["public_key"], created["fingerprint"]), "GET shows another keypair than was created"
    assert "private_key" not in shown, "GET /os-keypairs/{name} discloses the private key"
    listed = {k["keypair"]["name"]: k["keypair"] for k in nova.get("/os-keypairs", "compute/keypairs")["keypairs"]}
    assert created["name"] in listed, f"the new keypair {created['name']} is not listed"
    assert listed[created["name"]]["fingerprint"] == created["fingerprint"]
    resp = nova.request("DELETE", f"/os-keypairs/{created['name']}")
    check_status(resp, 202)
    check_error(schemas, nova.request("GET", f"/os-keypairs/{created['name']}"), 404)
    listed = {k["keypair"]["name"] for k in nova.get("/os-keypairs", "compute/keypairs")["keypairs"]}
    assert created["name"] not in listed, "a deleted keypair is still listed"


@pytest.mark.capability(CREATE, "949495f1-035e-4185-b462-67f1b2854a16")
def test_import_keypair(nova, resources):
    """POST /os-keypairs with a public key: the key as given, its MD5
    fingerprint, and no private key."""
    public_key = _public_key()
    created = nova.create_keypair(resources, public_key=public_key)
    assert created["public_key"].split()[:2] == public_key.split()[:2], "the imported public key was changed"
    assert "private_key" not in created, "an imported keypair comes with a private key"
    assert created["fingerprint"] == _md5_fingerprint(public_key), (
        f"fingerprint {created['fingerprint']} is not the MD5 fingerprint {_md5_fingerprint(public_key)}")


@pytest.mark.capability(CREATE, "f3b2dacf-e1b4-4814-9d5e-f1053af640a4")
def test_keypair_errors(nova, resources, schemas):
    """A second keypair with a taken name: 409; a malformed public key, a
    name with forbidden characters, an empty name: 400; an unknown name:
    404 — each with Nova's error body, and nothing created."""
    taken = nova.create_keypair(resources, public_key=_public_key())
    post = lambda body: nova.request("POST", "/os-keypairs", json={"keypair": body})  # noqa: E731
    check_error(schemas, post({"name": taken["name"], "public_key": _public_key()}), 409)
    bad_name = nova.run.name("key") + "-bad"
    resources.add(f"keypair {bad_name}", lambda: nova.delete_keypair_quietly(bad_name))
    check_error(schemas, post({"name": bad_name, "public_key": "ssh-rsa not-a-key"}), 400)
    check_error(schemas, post({"name": nova.run.prefix + "bad/name*"}), 400)
    check_error(schemas, post({"name": ""}), 400)
    check_error(schemas, nova.request("GET", f"/os-keypairs/{nova.run.name('key')}-absent"), 404)
    check_error(schemas, nova.request("DELETE", f"/os-keypairs/{nova.run.name('key')}-absent"), 404)
    listed = {k["keypair"]["name"] for k in nova.get("/os-keypairs", "compute/keypairs")["keypairs"]}
    assert bad_name not in listed, "a keypair refused with 400 was created"


@pytest.mark.capability(CREATE_TYPE, "89d59d43-f735-441a-abcf-0601727f47b6")
def test_keypairsv22_create_list_show_with_type(nova, resources):
    """Microversion 2.2: POST /os-keypairs with type ssh is 201 and says
    type ssh; GET and the list say so too; DELETE is 204."""
    version = nova.microversion("2.2")
    created = nova.create_keypair(resources, type="ssh", microversion=version)
    assert created.get("type") == "ssh", f"a keypair created with type ssh has type {created.get('type')!r}"
    shown = nova.get(f"/os-keypairs/{created['name']}", "compute/keypair", microversion=version)["keypair"]
    assert shown.get("type") == "ssh", f"GET shows type {shown.get('type')!r}"
    listed = {k["keypair"]["name"]: k["keypair"]
              for k in nova.get("/os-keypairs", "compute/keypairs", microversion=version)["keypairs"]}
    assert listed.get(created["name"], {}).get("type") == "ssh", "the list does not show the keypair with type ssh"
    imported = nova.create_keypair(resources, public_key=_public_key(), type="ssh", microversion=version)
    assert imported.get("type") == "ssh"
    check_status(nova.request("DELETE", f"/os-keypairs/{imported['name']}", microversion=version), 204)


@pytest.mark.capability(CREATE_TYPE, "a3e719e4-68ad-4196-921c-d6e7a7c95ec5")
def test_keypair_unknown_type_is_400(nova, resources, schemas):
    """Microversion 2.2: a keypair type other than ssh or x509: 400 with Nova's error body."""
    version = nova.microversion("2.2")
    name = nova.run.name("key")
    resources.add(f"keypair {name}", lambda: nova.delete_keypair_quietly(name))
    resp = nova.request("POST", "/os-keypairs", microversion=version,
                        json={"keypair": {"name": name, "type": "pgp", "public_key": _public_key()}})
    check_error(schemas, resp, 400)
