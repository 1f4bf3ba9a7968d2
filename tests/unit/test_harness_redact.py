"""octoprobe.redact: no token, password, secret or private key survives."""

from __future__ import annotations

import json

import pytest

from octoprobe.redact import REDACTED, is_sensitive_key, redact_headers, redact_json, redact_text, redact_url

FERNET = "gAAAAABl2x9yQk3mZ0FAKEfakeFAKEfakeFAKEfakeFAKEfake_-0123456789abcdef"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAfake\nline2\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "key",
    [
        "X-Auth-Token",
        "x-subject-token",
        "X-Service-Token",
        "Authorization",
        "password",
        "adminPass",
        "original_password",
        "secret",
        "application_credential_secret",
        "private_key",
        "client_secret",
        "Set-Cookie",
        "temp_url_sig",
        "api_key",
    ],
)
def test_sensitive_keys(key):
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "id",
        "Content-Type",
        "x-openstack-request-id",
        "public_key",
        "password_expires_at",
        "application_credential_id",
        "credentials",
        "status",
        None,
        3,
    ],
)
def test_ordinary_keys(key):
    assert not is_sensitive_key(key)


def test_headers():
    headers = {
        "X-Auth-Token": FERNET,
        "X-Subject-Token": FERNET,
        "Content-Type": "application/json",
        "x-openstack-request-id": "req-1",
    }
    out = redact_headers(headers)
    assert out == {
        "X-Auth-Token": REDACTED,
        "X-Subject-Token": REDACTED,
        "Content-Type": "application/json",
        "x-openstack-request-id": "req-1",
    }
    assert headers["X-Auth-Token"] == FERNET  # the argument is not changed
    assert redact_headers(None) == {}


def test_keystone_auth_request_body():
    body = {
        "auth": {
            "identity": {
                "methods": ["password", "token", "application_credential"],
                "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "pw-1"}},
                "token": {"id": FERNET},
                "application_credential": {"id": "ac-1", "secret": "ac-secret"},
            },
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
        }
    }
    out = redact_json(body)
    text = json.dumps(out)
    for secret in ("pw-1", FERNET, "ac-secret"):
        assert secret not in text
    identity = out["auth"]["identity"]
    assert identity["password"]["user"] == {"name": "admin", "domain": {"name": "Default"}, "password": REDACTED}
    assert identity["token"] == {"id": REDACTED}
    assert identity["application_credential"] == {"id": "ac-1", "secret": REDACTED}
    assert identity["methods"] == ["password", "token", "application_credential"]
    assert out["auth"]["scope"] == body["auth"]["scope"]


def test_nested_responses_keep_their_structure():
    body = {
        "server": {"id": "s-1", "adminPass": "Xyz123", "name": "vm"},
        "keypair": {"name": "kp", "private_key": PEM, "public_key": "ssh-ed25519 AAAA"},
        "users": [{"name": "a", "password": "p-a"}, {"name": "b", "password": None}],
        "token": {"expires_at": "2099-01-01T00:00:00Z", "user": {"id": "u-1", "name": "u"}},
        "credential": {"type": "ec2", "blob": json.dumps({"access": "AK", "secret": "SK-secret"})},
    }
    out = redact_json(body)
    assert out["server"] == {"id": "s-1", "adminPass": REDACTED, "name": "vm"}
    assert out["keypair"] == {"name": "kp", "private_key": REDACTED, "public_key": "ssh-ed25519 AAAA"}
    assert out["users"] == [{"name": "a", "password": REDACTED}, {"name": "b", "password": None}]
    assert out["token"] == body["token"]  # a token *response* body names no secret
    assert "SK-secret" not in out["credential"]["blob"] and '"access": "AK"' in out["credential"]["blob"]


def test_json_scalars_and_lists_pass_through():
    assert redact_json([1, "plain", None, True]) == [1, "plain", None, True]


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://h:5000/v3?password=p&limit=2", f"http://h:5000/v3?password={REDACTED}&limit=2"),
        (
            "https://swift.test/v1/a/c/o?temp_url_sig=abc&temp_url_expires=1",
            f"https://swift.test/v1/a/c/o?temp_url_sig={REDACTED}&temp_url_expires=1",
        ),
        ("http://admin:pw@h/v3", f"http://admin:{REDACTED}@h/v3"),
        ("http://h/v2.1/servers/detail?name=octoprobe", "http://h/v2.1/servers/detail?name=octoprobe"),
    ],
)
def test_urls(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "text, secret",
    [
        ("curl -H 'X-Auth-Token: abc123' http://h", "abc123"),
        ('{"password": "pw-9", "name": "x"}', "pw-9"),
        ("openstack --os-password hunter2 server list", "hunter2"),
        ("OS_PASSWORD=hunter3 openstack", "hunter3"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        (f"token is {FERNET} ok", FERNET),
        (f"key:\n{PEM}\nafter", "MIIEpAIBAAKCAQEAfake"),
        ("GET http://h/x?token=tok-1&a=1 failed", "tok-1"),
        ("secret='s p a c e'", "s p a c e"),
    ],
)
def test_free_text(text, secret):
    out = redact_text(text)
    assert secret not in out
    assert REDACTED in out


def test_free_text_keeps_what_is_not_secret():
    text = "server octoprobe-abcd-vm1 is ACTIVE (request req-42, status: 200)"
    assert redact_text(text) == text
    assert redact_text("") == ""


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "secret" * 20_000,
        "a-" * 50_000,
        "--" * 50_000,
        "http://" * 20_000,
        "password " * 10_000,
        ("secret-" * 10 + " ") * 5_000,
        "gAAAAA" + "b" * 100_000,
    ],
)
def test_large_inputs_take_linear_time(text):
    import time

    start = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - start < 0.5
