"""Nova v2.1: version discovery, flavors, key pairs, availability zones,
limits and quota sets here; servers, their actions, metadata, tags, instance
actions and console output in :mod:`.compute_servers`.

Mounted at ``/compute``; the catalog's URL is ``<base>/compute/v2.1``.

Microversions: 2.1 to **2.89**. 2.89 is the last version before 2.90, whose
``hostname`` request parameter the compute library cannot honour (it derives
the guest hostname from the name at boot); everything up to 2.89 that touches
an implemented route behaves per Nova's API reference:

* 2.2 key pair ``type`` (ssh, or x509: a self-signed certificate), create 201 / delete 204;
  2.10 ``user_id`` for admins; 2.35 key pair pagination;
* 2.3 extended server attributes (reservation_id, launch_index, hostname,
  kernel_id, ramdisk_id, root_device_name, user_data) for admins;
* 2.9 ``locked``; 2.73 ``locked_reason``, lock with a reason and the
  ``locked`` filter; 2.16 ``host_status`` for admins; 2.19 ``description``;
* 2.26 server tags (and the tags filters); 2.52 tags at create;
* 2.37 ``networks`` required at create (``auto``/``none``/a list);
* 2.38 an unknown ``status`` filter is a 400;
* 2.36/2.39/2.57 fields removed from limits and quota sets;
* 2.45 createImage answers ``{"image_id"}`` and no Location header;
* 2.47 the flavor embedded in the server, 2.61 with its extra specs;
* 2.54 / 2.57 rebuild with ``key_name`` / ``user_data``; 2.57 no personality;
* 2.55 flavor ``description``, 2.61 flavor ``extra_specs``, 2.75 ``swap`` 0;
* 2.58 instance action pagination and ``updated_at``; 2.62 event host/hostId;
  2.84 event ``details``; 2.66 ``changes-before``;
* 2.63 ``trusted_image_certificates`` (always null: not supported, refused at create);
* 2.71 ``server_groups`` in show/update/rebuild; 2.74 ``host`` at create (admins);
* 2.75 unknown list query parameters are 400, update and rebuild answer the
  whole server;
* 2.83 more server list filters for non-admins.

* the image proxy (``/images``: list, detail, show, delete, the image's
  metadata), deprecated by Nova at 2.36 and 404 from there on, shows
  Glance's images in Nova's format;

Servers boot from images, or from a volume through a
``block_device_mapping_v2`` root mapping (see :mod:`.compute_volumes`, which
also serves the volume attachments); ``resize`` / ``confirmResize`` /
``revertResize`` happen on the server's host.

Routes of features the reference cloud does not have (server groups,
hypervisors, services …) answer 404. Unknown server actions and the ones it
does not implement (migrate, shelve, rescue, suspend, 2.17's
trigger_crash_dump …) are a 400.
"""

from __future__ import annotations

import base64
import hashlib

from . import compute_servers  # noqa: F401  (registers the server routes)
from . import errors as E
from .compute_base import MAX_VERSION, MIN_VERSION, library_errors, mv, next_link, paginate, route, self_links
from .compute_base import service as service  # noqa: PLC0414  (the service services.py mounts)
from .compute_base import vstr
from .compute_store import SCHEMA as SCHEMA  # noqa: PLC0414
from .compute_store import runtime
from .db import iso
from .routing import ApiRequest, Reply

VERSION_UPDATED = "2013-07-23T11:33:21Z"


# -- version discovery -----------------------------------------------------------------------
def _version_doc(req: ApiRequest, ident: str) -> dict:
    root = req.base_url
    v21 = ident == "v2.1"
    return {
        "id": ident, "status": "CURRENT" if v21 else "SUPPORTED",
        "version": vstr(MAX_VERSION) if v21 else "", "min_version": vstr(MIN_VERSION) if v21 else "",
        "updated": VERSION_UPDATED if v21 else "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{root}/{ident}/"},
                  {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}],
        "media-types": [{"base": "application/json",
                         "type": f"application/vnd.openstack.compute+json;version={ident[1:]}"}],
    }


@route("GET", "/", public=True)
def versions(req: ApiRequest) -> dict:
    """Version discovery: v2.0 (supported) and v2.1 (current)."""
    return {"versions": [_version_doc(req, "v2.0"), _version_doc(req, "v2.1")]}


@route("GET", "/v2.1", public=True)
@route("GET", "/v2.1/", public=True)
def version_v21(req: ApiRequest) -> dict:
    """The v2.1 version document with the microversion range."""
    return {"version": _version_doc(req, "v2.1")}


@route("GET", "/v2.0", public=True)
@route("GET", "/v2.0/", public=True)
def version_v20(req: ApiRequest) -> dict:
    """The legacy v2.0 version document (its API is not served: use v2.1)."""
    return {"version": _version_doc(req, "v2.0")}


# -- flavors ---------------------------------------------------------------------------------------
def _flavor_doc(req: ApiRequest, f, *, detail: bool) -> dict:
    doc = {"id": f.id, "name": f.name, "links": self_links(req, "flavors", f.id)}
    if mv(req, "2.55"):
        doc["description"] = None
    if not detail:
        return doc
    doc.update({
        "ram": f.ram_mb, "disk": f.disk_gb, "vcpus": f.vcpus, "OS-FLV-EXT-DATA:ephemeral": 0,
        "OS-FLV-DISABLED:disabled": False, "swap": 0 if mv(req, "2.75") else "", "rxtx_factor": 1.0,
        "os-flavor-access:is_public": True,
    })
    if mv(req, "2.61"):
        doc["extra_specs"] = {}
    return doc


def _flavors(req: ApiRequest) -> list:
    with library_errors():
        flavors = list(req.backend.compute().list_flavors())
    is_public = req.query_one("is_public")
    if is_public is not None and is_public.lower() not in ("none",):
        wanted = req.query_bool("is_public")
        if not wanted:  # every flavor of the reference cloud is public
            flavors = []
    min_ram = req.query_int("minRam", None)
    min_disk = req.query_int("minDisk", None)
    if min_ram is not None:
        flavors = [f for f in flavors if f.ram_mb >= min_ram]
    if min_disk is not None:
        flavors = [f for f in flavors if f.disk_gb >= min_disk]
    sort_key = req.query_one("sort_key", "flavorid")
    keys = {"flavorid": lambda f: (f.id.zfill(36) if f.id.isdigit() else f.id), "id": lambda f: f.id,
            "name": lambda f: f.name, "memory_mb": lambda f: f.ram_mb, "ram": lambda f: f.ram_mb,
            "vcpus": lambda f: f.vcpus, "root_gb": lambda f: f.disk_gb, "disk": lambda f: f.disk_gb,
            "created_at": lambda f: f.id, "updated_at": lambda f: f.id, "swap": lambda f: 0,
            "ephemeral_gb": lambda f: 0, "rxtx_factor": lambda f: 1, "description": lambda f: "",
            "flavor_id": lambda f: f.id}
    if sort_key not in keys:
        raise E.BadRequest(f"Invalid input for query parameters sort_key. Value: {sort_key}.")
    sort_dir = req.query_one("sort_dir", "asc")
    if sort_dir not in ("asc", "desc"):
        raise E.BadRequest(f"Invalid input for query parameters sort_dir. Value: {sort_dir}.")
    return sorted(flavors, key=keys[sort_key], reverse=sort_dir == "desc")


def _flavor_list(req: ApiRequest, detail: bool) -> dict:
    flavors = _flavors(req)
    rows = [{"id": f.id, "obj": f} for f in flavors]
    page, more = paginate(req, rows)
    body: dict = {"flavors": [_flavor_doc(req, r["obj"], detail=detail) for r in page]}
    if more and page:
        body["flavors_links"] = next_link(req, "flavors/detail" if detail else "flavors", page[-1]["id"])
    return body


@route("GET", "/v2.1/flavors")
def list_flavors(req: ApiRequest) -> dict:
    """Flavors: id, name and links."""
    return _flavor_list(req, False)


@route("GET", "/v2.1/flavors/detail")
def list_flavors_detail(req: ApiRequest) -> dict:
    """Flavors with their sizes."""
    return _flavor_list(req, True)


def _flavor(req: ApiRequest, flavor_id: str):
    for f in req.backend.compute().list_flavors():
        if f.id == flavor_id:
            return f
    raise E.NotFound(f"Flavor {flavor_id} could not be found.")


@route("GET", "/v2.1/flavors/{flavor_id}")
def show_flavor(req: ApiRequest) -> dict:
    """One flavor."""
    with library_errors():
        return {"flavor": _flavor_doc(req, _flavor(req, req.params["flavor_id"]), detail=True)}


@route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs")
def flavor_extra_specs(req: ApiRequest) -> dict:
    """A flavor's extra specs (the reference cloud's flavors have none)."""
    with library_errors():
        _flavor(req, req.params["flavor_id"])
    return {"extra_specs": {}}


@route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def flavor_extra_spec(req: ApiRequest) -> dict:
    """One extra spec (always 404: there are none)."""
    with library_errors():
        _flavor(req, req.params["flavor_id"])
    raise E.NotFound(f"Flavor {req.params['flavor_id']} has no extra specs with key {req.params['key']}.")


@route("GET", "/v2.1/flavors/{flavor_id}/os-flavor-access")
def flavor_access(req: ApiRequest) -> dict:
    """Flavor access: every flavor is public (Nova answers 404 for public flavors)."""
    with library_errors():
        _flavor(req, req.params["flavor_id"])
    raise E.NotFound("Access list not available for public flavors.")


FLAVOR_CREATE_SCHEMA = {
    "type": "object", "required": ["flavor"], "additionalProperties": False,
    "properties": {"flavor": {
        "type": "object", "required": ["name", "ram", "vcpus", "disk"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?! )[^\x00-\x1f]+(?<! )$"},
            "id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
            "ram": {"type": ["integer", "string"], "pattern": r"^[0-9]+$", "minimum": 1},
            "vcpus": {"type": ["integer", "string"], "pattern": r"^[0-9]+$", "minimum": 1},
            "disk": {"type": ["integer", "string"], "pattern": r"^[0-9]+$", "minimum": 0},
            "OS-FLV-EXT-DATA:ephemeral": {"type": ["integer", "string"], "pattern": r"^0$", "enum": [0, "0"]},
            "swap": {"type": ["integer", "string"], "enum": [0, "0", ""]},
            "rxtx_factor": {"type": ["number", "string"]},
            "os-flavor-access:is_public": {"type": "boolean", "enum": [True]},
            "description": {"type": ["string", "null"], "maxLength": 65535},
        },
    }},
}


@route("POST", "/v2.1/flavors", schema=FLAVOR_CREATE_SCHEMA, policy="admin")
def create_flavor(req: ApiRequest) -> dict:
    """Create a (public) flavor: admin only."""
    f = req.body["flavor"]
    if "description" in f and not mv(req, "2.55"):
        raise E.BadRequest("Invalid input for field/attribute flavor: 'description' needs microversion 2.55")
    with library_errors():
        flavor = req.backend.compute().create_flavor(f["name"], int(f["vcpus"]), int(f["ram"]), int(f["disk"]),
                                                     flavor_id=f.get("id") or None)
    return {"flavor": _flavor_doc(req, flavor, detail=True)}


@route("DELETE", "/v2.1/flavors/{flavor_id}", policy="admin", status=202)
def delete_flavor(req: ApiRequest) -> Reply:
    """Delete a flavor: admin only (servers keep their copy)."""
    with library_errors():
        req.backend.compute().delete_flavor(req.params["flavor_id"])
    return Reply(None, status=202)


# -- key pairs --------------------------------------------------------------------------------------
KEYPAIR_NAME = r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"  # 2.92 adds '@' (beyond this API's maximum)
KEYPAIR_SCHEMA = {
    "type": "object", "required": ["keypair"], "additionalProperties": False,
    "properties": {"keypair": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "public_key": {"type": "string"},
            "type": {"type": "string", "enum": ["ssh", "x509"]},
            "user_id": {"type": "string"},
        },
    }},
}
SSH_KEY_TYPES = ("ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                 "ssh-dss", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an ssh public key: MD5 of the key blob, colon-separated hex."""
    words = public_key.strip().split()
    if len(words) < 2 or words[0] not in SSH_KEY_TYPES:
        raise E.BadRequest("Keypair data is invalid: failed to generate fingerprint")
    try:
        blob = base64.b64decode(words[1].encode(), validate=True)
    except ValueError:
        raise E.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    try:
        from cryptography.hazmat.primitives.serialization import load_ssh_public_key
        load_ssh_public_key(f"{words[0]} {words[1]}".encode())
    except Exception:  # cryptography refuses a malformed key (or an exotic type): check the blob's own type
        if not blob[4:4 + len(words[0])] == words[0].encode():
            raise E.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    digest = hashlib.md5(blob).hexdigest()  # noqa: S324 (Nova's fingerprint format, not security)
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def x509_fingerprint(certificate: str) -> str:
    """Nova's fingerprint of an x509 key pair: SHA-1 of the certificate's DER, colon-separated hex."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_pem_x509_certificate(certificate.strip().encode())
    except ValueError:
        raise E.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    return ":".join(f"{b:02x}" for b in cert.fingerprint(hashes.SHA1()))  # noqa: S303 (Nova's format)


def generate_x509_keypair(name: str) -> tuple[str, str]:
    """A new RSA key and a self-signed certificate for it: (private key PEM, certificate PEM)."""
    import datetime as _dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + _dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


def generate_keypair(name: str) -> tuple[str, str]:
    """A new Ed25519 key: (private key in OpenSSH PEM, public key line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return private, f"{public} Generated-by-Nova"


def _keypair_user(req: ApiRequest, given: str | None) -> str:
    ctx = req.context
    if given is None or given == ctx.user_id:
        return ctx.user_id
    if not mv(req, "2.10"):
        raise E.BadRequest("user_id needs microversion 2.10")
    if not ctx.is_admin:
        raise E.Forbidden("Policy doesn't allow os_compute_api:os-keypairs to be performed for another user.")
    return given


def _keypair_doc(req: ApiRequest, k: dict, *, full: bool) -> dict:
    doc = {"name": k["name"], "public_key": k["public_key"], "fingerprint": k["fingerprint"]}
    if mv(req, "2.2"):
        doc["type"] = k["type"]
    if full:
        doc.update({"user_id": k["user_id"], "created_at": iso(k["created_at"]).rstrip("Z") + ".000000",
                    "deleted": False, "deleted_at": None, "updated_at": None, "id": k["id"]})
    return doc


@route("GET", "/v2.1/os-keypairs")
def list_keypairs(req: ApiRequest) -> dict:
    """The caller's key pairs (an admin may ask for another user's, 2.10)."""
    user = _keypair_user(req, req.query_one("user_id"))
    rows = runtime(req.backend).store.keypairs(user)
    if mv(req, "2.35"):
        rows = [dict(r, _key=r["name"]) for r in rows]
        page, more = paginate(req, rows, key="_key")
    else:
        page, more = rows, False
    body: dict = {"keypairs": [{"keypair": _keypair_doc(req, k, full=False)} for k in page]}
    if more and page:
        body["keypairs_links"] = next_link(req, "os-keypairs", page[-1]["name"])
    return body


@route("POST", "/v2.1/os-keypairs", schema=KEYPAIR_SCHEMA)
def create_keypair(req: ApiRequest) -> Reply:
    """Import a public key, or generate one and return its private key once
    (Nova stops generating at 2.92, beyond this API's maximum)."""
    import re
    k = req.body["keypair"]
    name = k["name"]
    if not re.match(KEYPAIR_NAME, name):
        raise E.BadRequest("Keypair data is invalid: Keypair name contains unsafe characters")
    key_type = k.get("type", "ssh")
    if "type" in k and not mv(req, "2.2"):
        raise E.BadRequest("Invalid input for field/attribute keypair: 'type' needs microversion 2.2")
    if key_type not in ("ssh", "x509"):
        raise E.BadRequest(f"Invalid input for field/attribute type. Value: {key_type}. "
                           "'type' must be one of ssh, x509")
    if "user_id" in k and not mv(req, "2.10"):
        raise E.BadRequest("Invalid input for field/attribute keypair: 'user_id' needs microversion 2.10")
    user = _keypair_user(req, k.get("user_id"))
    private = None
    if k.get("public_key") is not None:
        public = k["public_key"].strip()
    elif key_type == "x509":
        private, public = generate_x509_keypair(name)
    else:
        private, public = generate_keypair(name)
    fp = x509_fingerprint(public) if key_type == "x509" else fingerprint(public)
    store = runtime(req.backend).store
    quota = quota_limits(req, req.context.project_id)["key_pairs"]
    if quota >= 0 and len(store.keypairs(user)) >= quota:
        raise E.Forbidden("Quota exceeded, too many key pairs.")
    row = store.create_keypair(user, name, key_type, public, fp)
    if row is None:
        raise E.Conflict(f"Key pair '{name}' already exists.")
    doc = {"name": name, "public_key": public, "fingerprint": fp, "user_id": user}
    if mv(req, "2.2"):
        doc["type"] = key_type
    if private is not None:
        doc["private_key"] = private
    return Reply({"keypair": doc}, status=201 if mv(req, "2.2") else 200)


@route("GET", "/v2.1/os-keypairs/{name}")
def show_keypair(req: ApiRequest) -> dict:
    """One key pair."""
    user = _keypair_user(req, req.query_one("user_id"))
    row = runtime(req.backend).store.keypair(user, req.params["name"])
    if row is None:
        raise E.NotFound(f"Keypair {req.params['name']} not found for user {user}")
    return {"keypair": _keypair_doc(req, row, full=True)}


@route("DELETE", "/v2.1/os-keypairs/{name}")
def delete_keypair(req: ApiRequest) -> Reply:
    """Delete a key pair (servers booted with it keep the key)."""
    user = _keypair_user(req, req.query_one("user_id"))
    if not runtime(req.backend).store.delete_keypair(user, req.params["name"]):
        raise E.NotFound(f"Keypair {req.params['name']} not found for user {user}")
    return Reply(None, status=204 if mv(req, "2.2") else 202)


# -- availability zones ----------------------------------------------------------------------------
@route("GET", "/v2.1/os-availability-zone")
def availability_zones(req: ApiRequest) -> dict:
    """The availability zones: one per rack."""
    with library_errors():
        zones = req.backend.compute().availability_zones()
    return {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": True}, "hosts": None}
                                     for z in zones]}


@route("GET", "/v2.1/os-availability-zone/detail", policy="admin")
def availability_zones_detail(req: ApiRequest) -> dict:
    """The zones with their compute hosts (admin)."""
    from .db import now
    with library_errors():
        loads = req.backend.compute().host_loads()
    zones: dict[str, dict] = {}
    stamp = iso(now()).rstrip("Z") + ".000000"
    for h in loads:
        zones.setdefault(h.availability_zone, {})[h.name] = {
            "nova-compute": {"available": True, "active": True, "updated_at": stamp}}
    return {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": True}, "hosts": hosts}
                                     for z, hosts in sorted(zones.items())]}


# -- quotas and limits ----------------------------------------------------------------------------
DEFAULT_QUOTAS = {
    "instances": 10, "cores": 20, "ram": 51200, "metadata_items": 128, "key_pairs": 100,
    "server_groups": 10, "server_group_members": 10,
    "injected_files": 5, "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255,
    "floating_ips": 10, "fixed_ips": -1, "security_groups": 10, "security_group_rules": 20,
}
NETWORK_QUOTAS = ("fixed_ips", "floating_ips", "security_group_rules", "security_groups")  # gone in 2.36
FILE_QUOTAS = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")  # gone in 2.57


def quota_limits(req: ApiRequest, project_id: str) -> dict[str, int]:
    return {**DEFAULT_QUOTAS, **runtime(req.backend).store.quota_overrides(project_id)}


def _visible_quotas(req: ApiRequest, values: dict) -> dict:
    hidden = set()
    if mv(req, "2.36"):
        hidden |= set(NETWORK_QUOTAS)
    if mv(req, "2.57"):
        hidden |= set(FILE_QUOTAS)
    return {k: v for k, v in values.items() if k not in hidden}


def project_usage(req: ApiRequest, project_id: str, user_id: str | None = None) -> dict[str, int]:
    store = runtime(req.backend).store
    servers = store.servers(project_id)
    return {
        "instances": len(servers),
        "cores": sum(int(s["flavor"].get("vcpus", 0)) for s in servers),
        "ram": sum(int(s["flavor"].get("ram_mb", 0)) for s in servers),
        "key_pairs": len(store.keypairs(user_id)) if user_id else 0,
    }


def _quota_project(req: ApiRequest) -> str:
    project = req.params["project_id"]
    ctx = req.context
    if project != ctx.project_id and not ctx.is_admin:
        raise E.Forbidden("Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
    return project


@route("GET", "/v2.1/os-quota-sets/{project_id}/defaults")
def quota_defaults(req: ApiRequest) -> dict:
    """The default quotas."""
    return {"quota_set": {"id": req.params["project_id"], **_visible_quotas(req, DEFAULT_QUOTAS)}}


@route("GET", "/v2.1/os-quota-sets/{project_id}/detail")
def quota_detail(req: ApiRequest) -> dict:
    """A project's quotas with what is in use."""
    project = _quota_project(req)
    limits = _visible_quotas(req, quota_limits(req, project))
    used = project_usage(req, project, req.context.user_id)
    return {"quota_set": {"id": project, **{k: {"in_use": used.get(k, 0), "limit": v, "reserved": 0}
                                            for k, v in limits.items()}}}


@route("GET", "/v2.1/os-quota-sets/{project_id}")
def quota_show(req: ApiRequest) -> dict:
    """A project's quotas."""
    project = _quota_project(req)
    return {"quota_set": {"id": project, **_visible_quotas(req, quota_limits(req, project))}}


QUOTA_UPDATE_SCHEMA = {
    "type": "object", "required": ["quota_set"], "additionalProperties": False,
    "properties": {"quota_set": {
        "type": "object", "additionalProperties": False,
        "properties": {**{k: {"type": ["integer", "string"], "pattern": r"^-?[0-9]+$", "minimum": -1}
                          for k in DEFAULT_QUOTAS},
                       "force": {"type": ["boolean", "string"]}},
    }},
}


@route("PUT", "/v2.1/os-quota-sets/{project_id}", schema=QUOTA_UPDATE_SCHEMA, policy="admin")
def quota_update(req: ApiRequest) -> dict:
    """Set a project's quotas (admin)."""
    project = req.params["project_id"]
    changes = {k: v for k, v in req.body["quota_set"].items() if k != "force"}
    hidden = set(_visible_quotas(req, DEFAULT_QUOTAS)) ^ set(DEFAULT_QUOTAS)
    for k, v in changes.items():
        if k in hidden:
            raise E.BadRequest(f"Invalid input for field/attribute quota_set: '{k}' was removed in this "
                               "microversion")
        value = int(v)
        if value < -1:
            raise E.BadRequest(f"Quota limit {value} for {k} must be -1 or greater.")
        runtime(req.backend).store.set_quota(project, k, value)
    return {"quota_set": _visible_quotas(req, quota_limits(req, project))}


@route("DELETE", "/v2.1/os-quota-sets/{project_id}", policy="admin", status=202)
def quota_delete(req: ApiRequest) -> Reply:
    """Revert a project's quotas to the defaults (admin)."""
    runtime(req.backend).store.clear_quotas(req.params["project_id"])
    return Reply(None, status=202)


@route("GET", "/v2.1/limits")
def limits(req: ApiRequest) -> dict:
    """Absolute limits and usage of the caller's project (rate limits: none)."""
    ctx = req.context
    project = req.query_one("tenant_id") or ctx.project_id
    if project != ctx.project_id and not ctx.is_admin:
        project = ctx.project_id  # Nova ignores tenant_id for non-admins
    q = quota_limits(req, project)
    used = project_usage(req, project)
    absolute = {
        "maxImageMeta": q["metadata_items"], "maxPersonality": q["injected_files"],
        "maxPersonalitySize": q["injected_file_content_bytes"], "maxSecurityGroupRules": q["security_group_rules"],
        "maxSecurityGroups": q["security_groups"], "maxServerMeta": q["metadata_items"],
        "maxTotalCores": q["cores"], "maxTotalFloatingIps": q["floating_ips"],
        "maxTotalInstances": q["instances"], "maxTotalKeypairs": q["key_pairs"], "maxTotalRAMSize": q["ram"],
        "maxServerGroups": q["server_groups"], "maxServerGroupMembers": q["server_group_members"],
        "totalCoresUsed": used["cores"], "totalInstancesUsed": used["instances"], "totalRAMUsed": used["ram"],
        "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0, "totalServerGroupsUsed": 0,
    }
    drop = set()
    if mv(req, "2.36"):
        drop |= {"maxSecurityGroupRules", "maxSecurityGroups", "maxTotalFloatingIps", "totalSecurityGroupsUsed",
                 "totalFloatingIpsUsed"}
    if mv(req, "2.39"):
        drop.add("maxImageMeta")
    if mv(req, "2.57"):
        drop |= {"maxPersonality", "maxPersonalitySize"}
    return {"limits": {"rate": [], "absolute": {k: v for k, v in absolute.items() if k not in drop}}}


# -- image proxy (Nova's view of Glance's images, until 2.35) ------------------------------------
# Glance status -> (Nova status, progress), as Nova's image view maps them
_PROXY_STATUS = {
    "queued": ("SAVING", 25), "saving": ("SAVING", 50), "uploading": ("SAVING", 50),
    "importing": ("SAVING", 50), "active": ("ACTIVE", 100), "killed": ("ERROR", 0),
    "deleted": ("DELETED", 0), "pending_delete": ("DELETED", 0), "deactivated": ("UNKNOWN", 0),
}


def _proxy_available(req: ApiRequest) -> None:
    if mv(req, "2.36"):
        raise E.NotFound("The image proxy API was removed in microversion 2.36: use the Image service")


def _proxy_image_doc(req: ApiRequest, row: dict) -> dict:
    from .db import loads

    status, progress = _PROXY_STATUS.get(row["status"], ("UNKNOWN", 0))
    links = self_links(req, "images", row["id"])
    links.append({"rel": "alternate", "type": "application/vnd.openstack.image",
                  "href": f"{req.backend.public_url('/image')}/images/{row['id']}"})
    doc = {
        "id": row["id"], "name": row["name"], "status": status, "progress": progress,
        "minDisk": int(row["min_disk"] or 0), "minRam": int(row["min_ram"] or 0),
        "metadata": {str(k): str(v) for k, v in loads(row["properties"], {}).items()},
        "created": iso(row["created_at"]), "updated": iso(row["updated_at"]),
        "links": links, "OS-EXT-IMG-SIZE:size": row["size"],
    }
    server_id = doc["metadata"].get("instance_uuid")
    if server_id:
        doc["server"] = {"id": server_id, "links": self_links(req, "servers", server_id)}
    return doc


def _proxy_rows(req: ApiRequest) -> list[dict]:
    from . import image as glance

    rows = req.backend.db.all("SELECT * FROM images ORDER BY created_at DESC, id DESC")
    ctx = req.context
    visible = [r for r in rows
               if glance._visible(ctx, r, glance._member_status(req.backend.db, r["id"], ctx.project_id))
               and not r["os_hidden"]]
    name, status = req.query_one("name"), req.query_one("status")
    if name is not None:
        visible = [r for r in visible if r["name"] == name]
    if status is not None:
        visible = [r for r in visible if _PROXY_STATUS.get(r["status"], ("UNKNOWN", 0))[0] == status.upper()]
    return visible


def _proxy_list(req: ApiRequest, detail: bool) -> dict:
    _proxy_available(req)
    page, more = paginate(req, _proxy_rows(req))
    if detail:
        items = [_proxy_image_doc(req, r) for r in page]
    else:
        items = [{"id": r["id"], "name": r["name"], "links": _proxy_image_doc(req, r)["links"]} for r in page]
    body: dict = {"images": items}
    if more and page:
        body["images_links"] = next_link(req, "images", page[-1]["id"])
    return body


@route("GET", "/v2.1/images")
def proxy_list_images(req: ApiRequest) -> dict:
    """The images the caller sees (id, name, links); until 2.35."""
    return _proxy_list(req, detail=False)


@route("GET", "/v2.1/images/detail")
def proxy_list_images_detail(req: ApiRequest) -> dict:
    """The images the caller sees, in Nova's image view; until 2.35."""
    return _proxy_list(req, detail=True)


@route("GET", "/v2.1/images/{image_id}")
def proxy_show_image(req: ApiRequest) -> dict:
    """One image in Nova's view (404 when the caller cannot see it); until 2.35."""
    from . import image as glance

    _proxy_available(req)
    try:
        row = glance._find(req)
    except E.NotFound:
        raise E.NotFound("Image not found.") from None
    return {"image": _proxy_image_doc(req, row)}


@route("GET", "/v2.1/images/{image_id}/metadata")
def proxy_image_metadata(req: ApiRequest) -> dict:
    """An image's custom properties; until 2.35."""
    return {"metadata": proxy_show_image(req)["image"]["metadata"]}


@route("DELETE", "/v2.1/images/{image_id}")
def proxy_delete_image(req: ApiRequest) -> Reply:
    """Delete an image through Glance's own rules (owner only, not protected,
    not in use); until 2.35."""
    from . import image as glance

    _proxy_available(req)
    try:
        glance.delete_image(req)
    except E.NotFound:
        raise E.NotFound("Image not found.") from None
    return Reply(None, status=204)
