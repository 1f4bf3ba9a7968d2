"""compute-servers-create (a server of its own), -verify, -get and -list
on the shared server (booted once per session by the conftest; these tests
only read it), and the create requests a cloud must refuse (no server is
booted for those).

Tempest's ServersTestJSON / ServersNegativeTestJSON prove the same things;
their ids are reused where the test proves what theirs does."""

from __future__ import annotations

import secrets
import uuid

import pytest

from .nova import check_error, check_status, json_body

CREATE = "compute-servers-create"
VERIFY = "compute-servers-verify"
GET = "compute-servers-get"
LIST = "compute-servers-list"
NAME = "compute-servers-name"
INVALID = "compute-servers-invalid"


# ---------------------------------------------------------------- create


@pytest.mark.capability(CREATE, "b92d5ec7-b1dd-44a2-87e4-45e888c46ef0")
def test_create_server_with_admin_password(nova, image, flavor, resources):
    """POST /servers with adminPass (a server of its own, deleted after the
    test): 202, the new server's id and links, and the password given (a
    cloud that sets none returns it as sent); the server becomes ACTIVE."""
    password = "Op-" + secrets.token_urlsafe(12)
    booted = nova.boot(resources, image["id"], flavor["id"], adminPass=password)
    assert booted.response.status_code == 202
    assert booted.created.get("adminPass") == password, "POST /servers with adminPass answers another adminPass"
    rels = {link["rel"] for link in booted.created["links"]}
    assert {"self", "bookmark"} <= rels, f"the new server's links are {sorted(rels)}, not self and bookmark"
    self_link = next(link["href"] for link in booted.created["links"] if link["rel"] == "self")
    assert self_link.rstrip("/").endswith(f"/servers/{booted.id}"), f"the self link {self_link} is not the server"


@pytest.mark.capability(VERIFY, "5de47127-9977-400a-936f-abcfbec1218f")
def test_verify_server_details(nova, server, image, flavor, server_keypair):
    """GET /servers/{id} of the new server: ACTIVE, its name, image,
    flavor, key, metadata and owner as created; empty access addresses."""
    shown = nova.show(server.id)
    expected = {"id": server.id, "name": server.name, "status": "ACTIVE", "key_name": server_keypair["name"],
                "tenant_id": nova.project_id, "user_id": nova.user_id}
    actual = {key: shown.get(key) for key in expected}
    assert actual == expected, f"GET /servers/{server.id} shows {actual}; expected {expected}"
    assert shown["image"] and shown["image"]["id"] == image["id"], f"the server's image is {shown['image']}"
    assert shown["flavor"]["id"] == flavor["id"], f"the server's flavor is {shown['flavor']}"
    assert shown["metadata"] == server.request["metadata"], (
        f"the server's metadata is {shown['metadata']}, it was created with {server.request['metadata']}")
    assert (shown.get("accessIPv4", ""), shown.get("accessIPv6", "")) == ("", ""), "access addresses were set"
    assert shown["hostId"], "an ACTIVE server has an empty hostId"
    assert shown["created"] <= shown["updated"], f"created {shown['created']} is after updated {shown['updated']}"


@pytest.mark.capability(VERIFY, "e7842709-3db4-42e5-bff2-5109b746b558")
def test_server_addresses(nova, server, schemas):
    """An ACTIVE server has an address; GET /servers/{id}/ips lists the same
    addresses as the server, and .../ips/{network} one network's."""
    shown = nova.show(server.id)
    assert any(shown["addresses"].values()), f"ACTIVE server {server.id} has no address: {shown['addresses']}"
    resp = nova.request("GET", f"/servers/{server.id}/ips")
    check_status(resp, 200)
    ips = json_body(resp)["addresses"]
    flat = lambda a: sorted((net, e["addr"]) for net, entries in a.items() for e in entries)  # noqa: E731
    assert flat(ips) == flat(shown["addresses"]), f"/ips lists {flat(ips)}, the server {flat(shown['addresses'])}"
    network = next(iter(ips))
    resp = nova.request("GET", f"/servers/{server.id}/ips/{network}")
    check_status(resp, 200)
    assert flat(json_body(resp)) == flat({network: ips[network]}), f"/ips/{network} differs from /ips"
    check_error(schemas, nova.request("GET", f"/servers/{server.id}/ips/octoprobe-no-such-network"), 404)


# ---------------------------------------------------------------- get


@pytest.mark.capability(GET, "3436b02f-1b1e-4f03-881e-c6a602327439")
def test_get_non_existent_server(nova, schemas):
    """GET /servers/{an id that does not exist}: 404 with Nova's error body."""
    check_error(schemas, nova.request("GET", f"/servers/{uuid.uuid4()}"), 404)


@pytest.mark.capability(GET, "55e7d004-c5d1-4936-aeb2-ab566fdfa88c")
def test_get_server_matches_detail_list(nova, server):
    """GET /servers/{id} and the server's entry in GET /servers/detail agree."""
    shown = nova.show(server.id)
    listed = [s for s in nova.list_ours(detail=True) if s["id"] == server.id]
    assert len(listed) == 1, f"GET /servers/detail lists the server {len(listed)} times"
    for key in ("name", "status", "image", "flavor", "metadata", "addresses", "tenant_id", "user_id", "key_name"):
        assert listed[0].get(key) == shown.get(key), (
            f"the detailed list says {key} {listed[0].get(key)!r}, GET says {shown.get(key)!r}")


# ---------------------------------------------------------------- list


@pytest.mark.capability(LIST, "9a438d88-10c6-4bcd-8b5b-5b6e25e1346f")
def test_list_servers(nova, server):
    """GET /servers: 200, the server with its id, name and links; only the
    project's own servers (all of which GET shows)."""
    servers = nova.list()
    listed = [s for s in servers if s["id"] == server.id]
    assert listed, f"GET /servers lacks server {server.id}"
    assert listed[0]["name"] == server.name, f"GET /servers names it {listed[0]['name']!r}"
    ids = [s["id"] for s in servers]
    assert len(ids) == len(set(ids)), "GET /servers lists a server twice"


@pytest.mark.capability(LIST, "585e934c-448e-43c4-acbf-d06a9b899997")
def test_list_servers_with_detail(nova, server):
    """GET /servers/detail: every server in full, all of the caller's
    project, the shared server among them."""
    servers = nova.list(detail=True)
    assert server.id in {s["id"] for s in servers}, f"GET /servers/detail lacks server {server.id}"
    strangers = [s["id"] for s in servers if s["tenant_id"] != nova.project_id]
    assert not strangers, f"GET /servers/detail shows servers of other projects to a user: {strangers}"


# ---------------------------------------------------------------- refused creations (nothing boots)


def _refused(nova, resources, schemas, image, flavor, status: int = 400, **attrs):
    body = nova.server_body(image["id"], flavor["id"], **attrs)
    for key in [k for k, v in attrs.items() if v is None]:
        del body[key]
    resp = nova.post_server(resources, body)
    return check_error(schemas, resp, status)


@pytest.mark.capability(CREATE, "fd57f159-68d6-4c2a-902b-03070828a87e")
def test_create_numeric_server_name(nova, resources, schemas, image, flavor):
    """A server name that is a JSON number, not a string: 400."""
    _refused(nova, resources, schemas, image, flavor, name=12345)


@pytest.mark.capability(CREATE, "7fc74810-0bd2-4cd7-8244-4f33a9db865a")
def test_create_server_metadata_exceeds_length_limit(nova, resources, schemas, image, flavor):
    """A metadata value (or key) longer than 255 characters: 400."""
    _refused(nova, resources, schemas, image, flavor, metadata={"octoprobe-long": "b" * 260})
    _refused(nova, resources, schemas, image, flavor, metadata={"k" * 260: "v"})


@pytest.mark.capability(CREATE, "c3e0fb12-07fc-4d76-a22e-37409887afe8")
def test_create_server_name_length_exceeds_256(nova, resources, schemas, image, flavor):
    """A name of 256 characters: 400."""
    _refused(nova, resources, schemas, image, flavor, name=nova.run.prefix + "a" * (256 - len(nova.run.prefix)))


@pytest.mark.capability(CREATE, "18f5227f-d155-4429-807c-ccb103887537")
def test_create_with_invalid_flavor(nova, resources, schemas, image, flavor):
    """A flavorRef that names no flavor: 400."""
    body = nova.server_body(image["id"], "-1")
    check_error(schemas, nova.post_server(resources, body), 400)
    body = nova.server_body(image["id"], str(uuid.uuid4()))
    check_error(schemas, nova.post_server(resources, body), 400)


@pytest.mark.capability(CREATE, "fcba1052-0a50-4cf3-b1ac-fae241edf02f")
def test_create_with_invalid_image(nova, resources, schemas, flavor):
    """An imageRef that names no image: 400."""
    check_error(schemas, nova.post_server(resources, nova.server_body("-1", flavor["id"])), 400)
    check_error(schemas, nova.post_server(resources, nova.server_body(str(uuid.uuid4()), flavor["id"])), 400)


@pytest.mark.capability(CREATE, "4e72dc2d-44c5-4336-9667-f7972e95c402")
def test_create_with_invalid_network_uuid(nova, resources, schemas, image, flavor):
    """A network that is not a UUID: 400."""
    _refused(nova, resources, schemas, image, flavor,
             networks=[{"fixed_ip": "10.0.1.1", "uuid": "a-b-c-d-e-f-g-h-i-j"}])


@pytest.mark.capability(NAME, "dbbfd247-c40c-449e-8f6c-d2aa7c7da7cf")
def test_server_name_blank(nova, resources, schemas, image, flavor):
    """An empty server name: 400; a name of blanks only: 400."""
    _refused(nova, resources, schemas, image, flavor, name="")
    _refused(nova, resources, schemas, image, flavor, name="   ")


@pytest.mark.capability(INVALID, "5226dd80-1e9c-4d8a-b5f9-b26ca4763fd0")
def test_invalid_ip_v6_address(nova, resources, schemas, image, flavor):
    """An accessIPv6 that is not an IPv6 address: 400; an accessIPv4 that is
    an IPv6 address: 400."""
    _refused(nova, resources, schemas, image, flavor, accessIPv6="notvalid")
    _refused(nova, resources, schemas, image, flavor, accessIPv4="2001:db8::1")


@pytest.mark.capability(INVALID, "09e45cc3-5590-42fc-8e9b-2e037a9c8e91")
@pytest.mark.parametrize("attrs", [{"imageRef": None}, {"flavorRef": None}, {"name": None},
                                   {"min_count": 0}, {"max_count": "many"}],
                         ids=["no-image", "no-flavor", "no-name", "min-count-0", "max-count-string"])
def test_create_malformed_request_is_400(nova, resources, schemas, image, flavor, attrs):
    """A creation without an image (at 2.1, booting from an image), without a
    flavor or a name, or with invalid counts: 400."""
    _refused(nova, resources, schemas, image, flavor, **attrs)
