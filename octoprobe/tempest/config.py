"""``tempest.conf`` for a cloud, derived from the cloud itself.

Two steps, so the second can be tested without a cloud:

* :func:`discover` asks the cloud (through openstacksdk connections opened
  from clouds.yaml entries) what Tempest needs to know: the catalog, the
  identity v3 URL and region, the guest image (by name), the two smallest
  flavors that fit it, the external network, the Neutron and Cinder
  extension lists, the microversion ranges, the image formats Glance
  accepts, the number of compute hosts. Each service in the catalog is also
  probed: one whose API does not answer is reported unavailable (with why),
  so Tempest skips its tests instead of failing every class set-up. It
  also uploads a few KiB of random bytes as small private images (deleted
  at once, named ``tempest-...``) to learn which disk formats the cloud
  takes without checking the data: Tempest's image listing tests upload
  such data and skip themselves on a cloud that enforces formats.
  Returns :class:`CloudFacts` (no secret in it).
* :func:`render` turns facts + the admin credentials + options into a
  :class:`configparser.ConfigParser`; :func:`write_config` writes it 0600.

What cannot be discovered without creating servers (which server actions a
cloud implements) comes from :data:`COMPUTE_FEATURES`: the basic
operations only; a cloud with more says so with ``overrides``
(``{"compute-feature-enabled": {"resize": "True"}}``).

The admin password goes into tempest.conf and nowhere else: not into
:class:`CloudFacts`, not into the notes, not into any message.
"""

from __future__ import annotations

import configparser
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = [
    "AdminCredentials",
    "CloudFacts",
    "ConfigOptions",
    "COMPUTE_FEATURES",
    "TEMPEST_SERVICES",
    "ConfigDiscoveryError",
    "admin_credentials",
    "identity_uri_v3",
    "pick_flavors",
    "discover",
    "render",
    "render_text",
    "write_config",
]

#: Tempest's [service_available] keys -> the catalog types that provide them.
TEMPEST_SERVICES: dict[str, tuple[str, ...]] = {
    "nova": ("compute",),
    "glance": ("image",),
    "neutron": ("network",),
    "cinder": ("block-storage", "volumev3", "volume"),
    "swift": ("object-store",),
    "horizon": ("dashboard",),
}

#: Server features a cloud is assumed to have (the interop guideline's
#: basic operations); the rest are off unless overridden.
COMPUTE_FEATURES: dict[str, bool] = {
    "console_output": True,
    "pause": True,
    "snapshot": True,
    "config_drive": True,
    "metadata_service": False,
    "disk_config": False,
    "change_password": False,
    "resize": False,
    "shelve": False,
    "shelve_migrate": False,
    "suspend": False,
    "cold_migration": False,
    "live_migration": False,
    "live_migrate_back_and_forth": False,
    "block_migration_for_live_migration": False,
    "can_migrate_between_any_hosts": False,
    "vnc_console": False,
    "spice_console": False,
    "serial_console": False,
    "rescue": False,
    "stable_rescue": False,
    "enable_instance_password": True,  # Nova's default: create answers adminPass
    "interface_attach": False,
    "personality": False,
    "attach_encrypted_volume": False,
    "swap_volume": False,
    "volume_backed_live_migration": False,
    "volume_multiattach": False,
    "ide_bus": False,
    "unified_limits": False,
    "hostname_fqdn_sanitization": False,
}


class ConfigDiscoveryError(RuntimeError):
    """The cloud lacks something Tempest cannot run without (e.g. the guest image)."""


@dataclass(frozen=True)
class AdminCredentials:
    """The admin cloud's password credentials. The repr hides the password."""

    username: str
    password: str = field(repr=False)
    project_name: str
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"


@dataclass(frozen=True)
class CloudFacts:
    """What :func:`discover` learnt about a cloud; holds no secret."""

    identity_uri_v3: str
    region: str | None
    catalog: frozenset[str]  # the service types of the catalog
    unavailable: Mapping[str, str] = field(default_factory=dict)  # catalog type -> why not usable
    image_ref: str | None = None
    image_ref_alt: str | None = None
    image_ssh_user: str | None = None
    flavor_ref: str | None = None
    flavor_ref_alt: str | None = None
    fixed_network_name: str | None = None
    public_network_id: str | None = None
    floating_network_name: str | None = None
    network_extensions: tuple[str, ...] | None = None
    volume_extensions: tuple[str, ...] | None = None
    compute_microversions: tuple[str, str] | None = None  # (min, max)
    volume_microversions: tuple[str, str] | None = None
    image_disk_formats: tuple[str, ...] = ()
    image_container_formats: tuple[str, ...] = ()
    image_import_methods: tuple[str, ...] = ()
    bogus_data_formats: tuple[str, ...] | None = None  # disk formats accepting any bytes (None: not probed)
    compute_hosts: int | None = None
    notes: tuple[str, ...] = ()  # what discovery could not find, for the user

    def available(self, catalog_type: str) -> bool:
        return catalog_type in self.catalog and catalog_type not in self.unavailable

    def service_available(self) -> dict[str, bool]:
        """Tempest's [service_available]: a service is there when one of its
        catalog types is and answers."""
        return {key: any(self.available(t) for t in types) for key, types in TEMPEST_SERVICES.items()}

    def volume_catalog_type(self) -> str | None:
        for t in TEMPEST_SERVICES["cinder"]:
            if t in self.catalog:
                return t
        return None


@dataclass(frozen=True)
class ConfigOptions:
    """Choices of the run, not properties of the cloud."""

    workdir: Path | None = None  # for log_dir / lock_path
    ssh_ip_version: int | None = None  # None: 4 with floating IPs, else 6
    build_timeout: int = 300
    http_timeout: int = 60
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


# ------------------------------------------------------------------ pure helpers


def identity_uri_v3(auth_url: str) -> str:
    """The v3 URL from a clouds.yaml ``auth_url`` (with or without ``/v3``)."""
    url = auth_url.rstrip("/")
    return url if url.endswith("/v3") else url + "/v3"


def admin_credentials(config: Mapping[str, Any]) -> AdminCredentials:
    """From an openstacksdk CloudRegion's ``config`` (password auth only:
    dynamic credentials need a user/password to create users with)."""
    auth = config.get("auth") or {}
    auth_type = str(config.get("auth_type") or "password")
    if auth_type not in ("password", "v3password"):
        raise ConfigDiscoveryError(
            f"the admin cloud must use password auth for Tempest's dynamic credentials (it uses {auth_type!r})"
        )
    missing = [k for k in ("username", "password", "project_name") if not auth.get(k)]
    if missing:
        raise ConfigDiscoveryError(f"the admin cloud's auth lacks {', '.join(missing)}")
    domain = auth.get("user_domain_name") or auth.get("domain_name") or "Default"
    return AdminCredentials(
        username=auth["username"],
        password=auth["password"],
        project_name=auth["project_name"],
        user_domain_name=domain,
        project_domain_name=auth.get("project_domain_name") or domain,
    )


def pick_flavors(flavors: Iterable[Mapping[str, Any]], min_disk: int = 0, min_ram: int = 0) -> tuple[str, str]:
    """The two smallest public flavors (by RAM, disk, vCPUs) the image fits
    in; the same one twice when only one fits."""
    fit = [
        f for f in flavors
        if (f.get("disk") or 0) >= min_disk and (f.get("ram") or 0) >= min_ram and f.get("is_public", True)
    ]
    if not fit:
        raise ConfigDiscoveryError(f"no public flavor fits the image (min_disk {min_disk} GiB, min_ram {min_ram} MiB)")
    fit.sort(key=lambda f: (f.get("ram") or 0, f.get("disk") or 0, f.get("vcpus") or 0, str(f["id"])))
    return str(fit[0]["id"]), str(fit[1 if len(fit) > 1 else 0]["id"])


def _formats_first(values: Iterable[str], preferred: Iterable[str]) -> tuple[str, ...]:
    """Tempest uses the first format of its lists to create images."""
    values = list(dict.fromkeys(v for v in values if v))
    first = [p for p in dict.fromkeys(preferred) if p in values]
    return tuple(first + [v for v in values if v not in first])


def _bool(value: bool) -> str:
    return "True" if value else "False"


def render(facts: CloudFacts, admin: AdminCredentials,
           options: ConfigOptions | None = None) -> configparser.ConfigParser:
    """tempest.conf as a ConfigParser (no I/O)."""
    options = options or ConfigOptions()
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str  # Tempest's keys are case-sensitive
    available = facts.service_available()
    region = facts.region or ""

    def section(name: str, values: Mapping[str, Any]) -> None:
        if name != "DEFAULT" and not conf.has_section(name):
            conf.add_section(name)
        for key, value in values.items():
            if value is None:
                continue
            conf.set(name, key, _bool(value) if isinstance(value, bool) else str(value))

    workdir = options.workdir
    section("DEFAULT", {
        "debug": False,  # debug logs request bodies; Tempest masks passwords but not everything
        "log_dir": str(workdir / "logs") if workdir else None,
        "log_file": "tempest.log",
        "lock_path": str(workdir / "lock") if workdir else None,
    })
    section("oslo_concurrency", {"lock_path": str(workdir / "lock") if workdir else None})
    section("auth", {
        "use_dynamic_credentials": True,
        "create_isolated_networks": available["neutron"],
        "admin_username": admin.username,
        "admin_password": admin.password,
        "admin_project_name": admin.project_name,
        "admin_domain_name": admin.user_domain_name,
        "admin_user_domain_name": admin.user_domain_name,
        "admin_project_domain_name": admin.project_domain_name,
        "default_credentials_domain_name": admin.project_domain_name,
    })
    section("service-clients", {"http_timeout": options.http_timeout})
    section("identity", {
        "catalog_type": "identity",
        "uri_v3": facts.identity_uri_v3,
        "auth_version": "v3",
        "region": region,
        "v3_endpoint_type": "public",
    })
    section("identity-feature-enabled", {
        "api_v2": False,
        "api_v2_admin": False,
        "api_v3": True,
        "trust": False,
        "access_rules": False,
        "security_compliance": False,
        "domain_specific_drivers": False,
    })
    section("service_available", available)
    section("enforce_scope", {k: False for k in ("nova", "neutron", "glance", "cinder", "keystone", "placement")})

    # compute
    micro = facts.compute_microversions
    section("compute", {
        "catalog_type": "compute",
        "region": region,
        "endpoint_type": "publicURL",
        "image_ref": facts.image_ref,
        "image_ref_alt": facts.image_ref_alt,
        "flavor_ref": facts.flavor_ref,
        "flavor_ref_alt": facts.flavor_ref_alt,
        "fixed_network_name": facts.fixed_network_name,
        "build_timeout": options.build_timeout,
        "build_interval": 1,
        "min_compute_nodes": facts.compute_hosts,
        "min_microversion": micro[0] if micro else None,
        "max_microversion": micro[1] if micro else None,
    })
    section("compute-feature-enabled", {**COMPUTE_FEATURES, "api_extensions": "all"})

    # image
    section("image", {
        "catalog_type": "image",
        "region": region,
        "endpoint_type": "publicURL",
        "build_timeout": options.build_timeout,
        "build_interval": 1,
        "image_caching_enabled": False,
        # nothing may download at run time: no test of ours may fetch a remote image
        "http_image": "",
        "http_qcow2_image": "",
        "container_formats": ",".join(_formats_first(facts.image_container_formats, ("bare",))) or None,
        # Tempest uploads random bytes under its first formats: the ones the cloud takes so go first
        "disk_formats": ",".join(_formats_first(facts.image_disk_formats,
                                                (*(facts.bogus_data_formats or ()), "raw", "qcow2"))) or None,
    })
    section("image-feature-enabled", {
        "api_v2": True,
        "import_image": bool(facts.image_import_methods),
        "os_glance_reserved": False,
        "manage_locations": False,
        "image_conversion": False,
        "http_store_enabled": False,
        # enforced: the cloud refuses data that is not of the declared format (then Tempest's
        # tests that upload random bytes skip themselves)
        "image_format_enforcement": (not facts.bogus_data_formats) if facts.bogus_data_formats is not None
        else None,
    })

    # network
    ext = facts.network_extensions
    floating = bool(available["neutron"] and facts.public_network_id and ext is not None and "router" in ext)
    section("network", {
        "catalog_type": "network",
        "region": region,
        "endpoint_type": "publicURL",
        "public_network_id": facts.public_network_id,
        "floating_network_name": facts.floating_network_name,
        "build_timeout": options.build_timeout,
        "build_interval": 1,
    })
    section("network-feature-enabled", {
        "api_extensions": ",".join(ext) if ext is not None else None,
        "ipv6": True,
        "floating_ips": floating,
        "port_admin_state_change": False,
    })

    # volume
    vmicro = facts.volume_microversions
    vext = facts.volume_extensions
    section("volume", {
        "catalog_type": facts.volume_catalog_type(),
        "region": region,
        "endpoint_type": "publicURL",
        "build_timeout": options.build_timeout,
        "build_interval": 1,
        "volume_size": 1,
        "min_microversion": vmicro[0] if vmicro else None,
        "max_microversion": vmicro[1] if vmicro else None,
    })
    section("volume-feature-enabled", {
        "api_extensions": ",".join(vext) if vext is not None else None,
        "backup": False,
        "multi_backend": False,
        "snapshot": True,
        "clone": True,
        "manage_snapshot": False,
        "manage_volume": False,
        "extend_attached_volume": False,
    })

    # validation: log into guests over SSH; needs Neutron to open the port
    ssh_version = options.ssh_ip_version or (4 if floating else 6)
    section("validation", {
        "run_validation": available["neutron"],
        "security_group": available["neutron"],
        "security_group_rules": available["neutron"],
        "connect_method": "floating" if floating else "fixed",
        "ip_version_for_ssh": ssh_version,
        "auth_method": "keypair",
        "image_ssh_user": facts.image_ssh_user,
        "network_for_ssh": facts.fixed_network_name,
        "ssh_timeout": options.build_timeout,
        "connect_timeout": 30,
        "ping_timeout": 120,
    })

    for name, values in options.overrides.items():
        section(name, dict(values))
    return conf


def render_text(conf: configparser.ConfigParser) -> str:
    buf = io.StringIO()
    conf.write(buf)
    return buf.getvalue()


def write_config(conf: configparser.ConfigParser, path: Path) -> Path:
    """Write tempest.conf readable by its owner only (it holds the admin password)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # when the file existed with wider rights
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        conf.write(handle)
    return path


# ------------------------------------------------------------------ discovery

#: Tempest creates up to this many images of random bytes, one per disk format.
BOGUS_FORMATS_WANTED = 6
PROBE_IMAGE_NAME = "tempest-octoprobe-format-probe"  # Tempest's prefix: a leftover is swept with its own


def probe_bogus_data(conn: Any, disk_format: str, container_format: str, *, size: int = 1024) -> bool:
    """Does the cloud take ``size`` random bytes as an image of ``disk_format``?
    Creates one private image and deletes it."""
    created = conn.image.post("/images", json={
        "name": PROBE_IMAGE_NAME, "disk_format": disk_format, "container_format": container_format,
        "visibility": "private"})
    if created.status_code != 201:
        raise ConfigDiscoveryError(f"cannot create a probe image ({disk_format}): HTTP {created.status_code}")
    image_id = created.json()["id"]
    try:
        upload = conn.image.put(f"/images/{image_id}/file", data=os.urandom(size),
                                headers={"Content-Type": "application/octet-stream"})
        if upload.status_code >= 500:
            raise ConfigDiscoveryError(f"uploading a probe image ({disk_format}) failed: HTTP {upload.status_code}")
        if upload.status_code != 204:
            return False
        return (conn.image.get(f"/images/{image_id}").json() or {}).get("status") == "active"
    finally:
        conn.image.delete(f"/images/{image_id}")


def probe_formats(conn: Any, disk_formats: Iterable[str], container_format: str, notes: list[str]) -> tuple[str, ...]:
    """The disk formats (in order, up to :data:`BOGUS_FORMATS_WANTED`) that take random bytes."""
    accepted, refused = [], []
    for fmt in disk_formats:
        if len(accepted) >= BOGUS_FORMATS_WANTED:
            break
        (accepted if probe_bogus_data(conn, fmt, container_format) else refused).append(fmt)
    if refused:
        notes.append(f"image: data of disk format(s) {', '.join(refused)} is checked (random bytes refused)")
    return tuple(accepted)


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _version_range(doc: Any) -> tuple[str, str] | None:
    """(min, max) microversion from a version document; None for an unversioned API."""
    version = (doc or {}).get("version") if isinstance(doc, Mapping) else None
    if version is None and isinstance(doc, Mapping) and isinstance(doc.get("versions"), list):
        current = [v for v in doc["versions"] if isinstance(v, Mapping) and v.get("status") == "CURRENT"]
        version = current[0] if current else None
    if isinstance(version, Mapping) and version.get("version"):
        return str(version.get("min_version") or "") or None, str(version["version"])  # type: ignore[return-value]
    return None


def _catalog_types(conn: Any) -> frozenset[str]:
    access = conn.session.auth.get_access(conn.session)
    return frozenset((access.service_catalog.get_endpoints(interface="public") or {}).keys())


def _probe(notes: list[str], unavailable: dict[str, str], catalog_type: str, call) -> Any:
    """Run one discovery call; a failure marks the service unavailable."""
    try:
        response = call()
    except Exception as exc:  # sdk exceptions, connection errors
        unavailable[catalog_type] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        notes.append(f"{catalog_type}: not usable ({unavailable[catalog_type]}); its tests will be skipped")
        return None
    return response


def discover(
    admin_conn: Any,
    conn: Any,
    *,
    image_name: str,
    image_alt_name: str | None = None,
    image_ssh_user: str | None = None,
) -> CloudFacts:
    """Ask the cloud; ``conn`` is the tested (member) cloud's connection,
    ``admin_conn`` the admin one's (hypervisors, all networks)."""
    notes: list[str] = []
    unavailable: dict[str, str] = {}
    config = admin_conn.config.config
    auth_url = (config.get("auth") or {}).get("auth_url")
    if not auth_url:
        raise ConfigDiscoveryError("the admin cloud has no auth_url")
    catalog = _catalog_types(admin_conn)
    region = admin_conn.config.region_name or None

    # image
    image = conn.image.find_image(image_name, ignore_missing=True)
    if image is None:
        raise ConfigDiscoveryError(f"no image named {image_name!r} visible to the tested cloud's project")
    alt = conn.image.find_image(image_alt_name, ignore_missing=True) if image_alt_name else image
    if alt is None:
        raise ConfigDiscoveryError(f"no image named {image_alt_name!r} visible to the tested cloud's project")
    if alt.id == image.id:
        notes.append("image_ref_alt is image_ref (give --image-alt): tests needing two images skip themselves")
    props = dict(image.properties or {})
    ssh_user = image_ssh_user or props.get("os_admin_user") or props.get("ssh_user")
    if not ssh_user:
        ssh_user = "root"
        notes.append("image has no os_admin_user property: SSH user root (give --image-ssh-user otherwise)")

    schema = _json(conn.image.get("/schemas/image")) or {}
    schema_props = schema.get("properties") or {}
    disk_formats = tuple(v for v in (schema_props.get("disk_format") or {}).get("enum") or () if v)
    container_formats = tuple(v for v in (schema_props.get("container_format") or {}).get("enum") or () if v)
    import_methods: tuple[str, ...] = ()
    info = conn.image.get("/info/import")
    if info.status_code == 200:
        body = _json(info) or {}
        import_methods = tuple((body.get("import-methods") or {}).get("value") or ())

    container = next(iter(_formats_first(container_formats, ("bare",))), "bare")
    bogus = probe_formats(conn, _formats_first(disk_formats, ("raw", "qcow2")), container, notes)

    # compute
    flavors = [
        {"id": f.id, "ram": f.ram, "disk": f.disk, "vcpus": f.vcpus, "is_public": f.is_public}
        for f in conn.compute.flavors()
    ]
    # Tempest boots either image with either flavor: both must fit both images
    flavor_ref, flavor_ref_alt = pick_flavors(flavors, max(image.min_disk or 0, alt.min_disk or 0),
                                              max(image.min_ram or 0, alt.min_ram or 0))
    compute_micro = _version_range(_json(conn.compute.get("/")))
    hosts = None
    try:
        hosts = len(list(admin_conn.compute.hypervisors())) or None
    except Exception as exc:
        notes.append(f"compute: cannot count hypervisors ({type(exc).__name__}); min_compute_nodes left at 1")

    # network
    network_ext = public_id = public_name = fixed_name = None
    if "network" in catalog:
        exts = _probe(notes, unavailable, "network", lambda: list(conn.network.extensions()))
        if exts is not None:
            network_ext = tuple(sorted(e.alias for e in exts))
            public = [n for n in admin_conn.network.networks(is_router_external=True)]
            if public:
                public_id, public_name = public[0].id, public[0].name
            own = [n for n in conn.network.networks(project_id=conn.current_project_id) if not n.is_router_external]
            # a named network with subnets (servers need addresses), else whatever the project has
            usable = [n for n in own if n.name and getattr(n, "subnet_ids", None)] or own
            if usable:
                fixed_name = usable[0].name

    # volume
    volume_ext = volume_micro = None
    vtype = next((t for t in TEMPEST_SERVICES["cinder"] if t in catalog), None)
    if vtype:
        def volume_extensions():
            response = conn.block_storage.get("/extensions")
            if response.status_code != 200:
                raise RuntimeError(f"GET extensions answered {response.status_code}")
            return response

        response = _probe(notes, unavailable, vtype, volume_extensions)
        if response is None:  # one API behind all its catalog types
            for other in TEMPEST_SERVICES["cinder"]:
                if other in catalog:
                    unavailable.setdefault(other, unavailable[vtype])
        else:
            volume_ext = tuple(sorted(e.get("alias", "") for e in (_json(response) or {}).get("extensions") or ()))
            try:
                volume_micro = _version_range(_json(conn.block_storage.get("/")))
            except Exception as exc:
                notes.append(f"{vtype}: no version document ({type(exc).__name__}); microversions left unset")

    return CloudFacts(
        identity_uri_v3=identity_uri_v3(auth_url),
        region=region,
        catalog=catalog,
        unavailable=unavailable,
        image_ref=image.id,
        image_ref_alt=alt.id,
        image_ssh_user=ssh_user,
        flavor_ref=flavor_ref,
        flavor_ref_alt=flavor_ref_alt,
        fixed_network_name=fixed_name,
        public_network_id=public_id,
        floating_network_name=public_name,
        network_extensions=network_ext,
        volume_extensions=volume_ext,
        compute_microversions=compute_micro,
        volume_microversions=volume_micro,
        image_disk_formats=disk_formats,
        image_container_formats=container_formats,
        image_import_methods=import_methods,
        bogus_data_formats=bogus,
        compute_hosts=hosts,
        notes=tuple(notes),
    )
