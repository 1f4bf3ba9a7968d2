"""identity-v3-catalog: the service catalog, and that it needs a token."""

from __future__ import annotations

import re
import uuid

import pytest

from .keystone import check_error, check_status, json_body

CAPABILITY = "identity-v3-catalog"
#: service-types-authority names (and the aliases clouds still register)
REQUIRED_TYPES = {
    "identity": ("identity",),
    "compute": ("compute",),
    "image": ("image",),
    "network": ("network",),
    "block-storage": ("block-storage", "volumev3", "volume"),
}
_TYPE_RE = re.compile(r"[a-z][a-z0-9-]*")


def _catalog(keystone, schemas) -> list[dict]:
    resp = keystone.request("GET", "/auth/catalog")
    check_status(resp, 200)
    return schemas.validate("identity/catalog", json_body(resp))["catalog"]


@pytest.mark.capability(CAPABILITY, "56b57ced-22b8-4127-9b8a-565dfb0207e2")
def test_catalog_standardization(keystone, schemas):
    """GET /v3/auth/catalog lists identity, compute, image, network and block
    storage under their standard service types, each with a public endpoint."""
    catalog = _catalog(keystone, schemas)
    types = {s["type"] for s in catalog}
    missing = [name for name, aliases in REQUIRED_TYPES.items() if not set(aliases) & types]
    assert not missing, f"the catalog has no {', '.join(missing)} service (types: {sorted(types)})"
    odd = sorted(t for t in types if not _TYPE_RE.fullmatch(t))
    assert not odd, f"service types not in the standard form (lowercase, digits, '-'): {odd}"
    for service in catalog:
        if service["type"] in {a for aliases in REQUIRED_TYPES.values() for a in aliases}:
            public = [e for e in service["endpoints"] if e["interface"] == "public"]
            assert public, f"service {service['type']} has no public endpoint"


@pytest.mark.capability(CAPABILITY, "a90a991c-cebf-4f8c-bc33-adec129c19a8")
def test_token_catalog_matches_auth_catalog(keystone, schemas, resources):
    """The catalog in a new token is the one GET /v3/auth/catalog returns."""
    issued = keystone.issue(resources)
    in_token = schemas.validate("identity/token", issued.body)["token"].get("catalog")
    assert in_token, "a new project-scoped token has no catalog"
    catalog = _catalog(keystone, schemas)

    def shape(services: list[dict]) -> set:
        return {(s["id"], s["type"], frozenset((e["interface"], e["url"]) for e in s["endpoints"])) for s in services}

    assert shape(in_token) == shape(catalog), "the token's catalog differs from GET /v3/auth/catalog"


@pytest.mark.capability(CAPABILITY, "0b2e90f9-7216-45fb-86b6-78a3bcdd12b8")
@pytest.mark.parametrize("token", [None, "bogus"], ids=["no-token", "bogus-token"])
def test_catalog_needs_a_valid_token(keystone, schemas, token):
    """Without a token, or with one Keystone never issued: 401 with an error body."""
    if token is None:
        resp = keystone.request("GET", "/auth/catalog", authenticated=False)
    else:
        resp = keystone.request("GET", "/auth/catalog", token="gAAAAA" + uuid.uuid4().hex)
    check_error(schemas, resp, 401)
