"""Nova's servers: create (202 at once, the boot runs on a worker thread),
list/detail with filters and pagination, show, update, delete, the actions
(reboot, os-stop, os-start, pause, unpause, rebuild, lock, unlock,
createImage, os-getConsoleOutput, addSecurityGroup, removeSecurityGroup),
metadata, tags, addresses, security groups, instance actions and volume
attachments (with boot from volume: see :mod:`.compute_volumes`).

A deleted server stays visible with task_state ``deleting`` until the
compute library has removed it (then 404); ``changes-since`` lists it as
DELETED afterwards and its instance actions stay readable. If the API
process restarts, builds and deletes it left are finished or failed on the
first server request (:func:`_recover`).

Policy: a project sees its own servers only, an admin sees every project's
with ``all_tenants``; a server that does not exist or belongs to another
project is a 404. A locked server refuses actions from non-admins (409).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import secrets
import string
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from . import errors as E
from .compute_base import library_errors, mv, next_link, paginate, route
from .compute_store import NovaRuntime, format_tb, runtime
from .compute_views import VALID_STATUSES, Merged, floating_by_port, iso_usec, network_names, server_brief, \
    server_detail, server_update_doc
from .db import is_uuid, iso, now
from .routing import ApiRequest, Reply

NAME = {"type": "string", "minLength": 1, "maxLength": 255}
METADATA = {"type": "object", "maxProperties": 128,
            "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
            "additionalProperties": False}
TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
MAX_TAGS = 50
USER_DATA_MAX = 65535
_name_re = re.compile(r"^(?!\s)[^\x00-\x1f\x7f]+(?<!\s)$")

CREATE_SCHEMA = {
    "type": "object", "required": ["server"],
    "properties": {
        "server": {
            "type": "object", "required": ["name", "flavorRef"], "additionalProperties": False,
            "properties": {
                "name": NAME,
                "imageRef": {"type": "string"},
                "flavorRef": {"type": ["string", "integer"], "minLength": 1},
                "networks": {"oneOf": [
                    {"type": "string", "enum": ["auto", "none"]},
                    {"type": "array", "items": {
                        "type": "object", "additionalProperties": False,
                        "properties": {"uuid": {"type": "string"}, "port": {"type": ["string", "null"]},
                                       "fixed_ip": {"type": "string"}, "tag": {"type": "string", "maxLength": 60}},
                    }},
                ]},
                "key_name": NAME,
                "security_groups": {"type": "array", "items": {
                    "type": "object", "required": ["name"], "additionalProperties": False,
                    "properties": {"name": NAME}}},
                "user_data": {"type": "string"},
                "metadata": METADATA,
                "availability_zone": NAME,
                "min_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
                "max_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
                "return_reservation_id": {"type": ["boolean", "string"]},
                "description": {"type": ["string", "null"], "maxLength": 255},
                "tags": {"type": "array", "items": TAG, "maxItems": MAX_TAGS},
                "config_drive": {"type": ["boolean", "string"]},
                "accessIPv4": {"type": "string"},
                "accessIPv6": {"type": "string"},
                "adminPass": {"type": "string"},
                "personality": {"type": "array"},
                "block_device_mapping": {"type": "array"},
                "block_device_mapping_v2": {"type": "array"},
                "host": NAME,
                "hypervisor_hostname": NAME,
                "trusted_image_certificates": {"type": ["array", "null"]},
                "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
            },
        },
        "os:scheduler_hints": {"type": "object"},
        "OS-SCH-HNT:scheduler_hints": {"type": "object"},
    },
    "additionalProperties": False,
}
UPDATE_SCHEMA = {
    "type": "object", "required": ["server"], "additionalProperties": False,
    "properties": {"server": {
        "type": "object", "additionalProperties": False,
        "properties": {"name": NAME, "description": {"type": ["string", "null"], "maxLength": 255},
                       "accessIPv4": {"type": "string"}, "accessIPv6": {"type": "string"},
                       "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}},
    }},
}
ACTION_SCHEMA = {"type": "object", "minProperties": 1, "maxProperties": 1}
METADATA_SCHEMA = {"type": "object", "required": ["metadata"], "additionalProperties": False,
                   "properties": {"metadata": METADATA}}
META_ITEM_SCHEMA = {"type": "object", "required": ["meta"], "additionalProperties": False,
                    "properties": {"meta": {**METADATA, "minProperties": 1}}}
TAGS_SCHEMA = {"type": "object", "required": ["tags"], "additionalProperties": False,
               "properties": {"tags": {"type": "array", "items": TAG, "maxItems": MAX_TAGS}}}


# -- helpers ---------------------------------------------------------------------------------------
def _rt(req: ApiRequest) -> NovaRuntime:
    rt = runtime(req.backend)
    rt.ensure_recovered(lambda: _recover(req.backend))
    return rt


def _recover(backend: Any) -> None:
    """What a previous API process left unfinished (its worker threads died
    with it): a build becomes done (the compute library has the server) or
    failed; a delete is redone; a task in progress is cleared."""
    from ..compute import errors as CE
    rt = runtime(backend)
    store = rt.store
    rows = store.unfinished()
    if not rows:
        return
    compute = backend.compute()
    for row in rows:
        sid = row["id"]
        try:
            view = compute.get_server(sid)
        except CE.ServerNotFound:
            view = None
        if row["deleted"]:
            if view is None:
                store.purge_server(sid)
            else:
                rt.submit(_finish_delete, backend, sid, None)
            continue
        if row["build_state"] == "building":
            if view is not None and view.status != "BUILD":
                store.finish_build(sid)
            else:
                store.finish_build(sid, failed_fault={
                    "code": 500, "message": "The API restarted while the server was being built",
                    "created": iso(now())})
        if row["task_state"]:
            store.update_server(sid, task_state=None)


def _row(req: ApiRequest, server_id: str | None = None) -> dict:
    """The server's row if the caller may see it; else 404 (as Nova, for foreign ones too)."""
    sid = server_id or req.params["server_id"]
    row = _rt(req).store.server(sid)
    if row is None or not req.context.owns(row["project_id"]):
        raise E.NotFound(f"Instance {sid} could not be found.")
    return row


def _view_of(req: ApiRequest, row: dict) -> Any:
    if row["build_state"] == "failed":
        return None
    try:
        return req.backend.compute().get_server(row["id"])
    except Exception as exc:
        from ..compute import errors as CE
        if isinstance(exc, CE.ServerNotFound):
            return None
        raise


def _merged(req: ApiRequest, row: dict) -> Merged:
    with library_errors():
        return Merged(row, _view_of(req, row), _rt(req).store.tags(row["id"]))


def _check_lock(req: ApiRequest, row: dict) -> None:
    if row["locked"] and not req.context.is_admin:
        raise E.Conflict(f"Instance {row['id']} is locked")


def _conflict(action: str, row: dict, what: str, value: str) -> E.ApiError:
    return E.Conflict(f"Cannot '{action}' instance {row['id']} while it is in {what} {value}")


def _check_idle(action: str, m: Merged) -> None:
    if m.row["build_state"] == "building":
        raise _conflict(action, m.row, "vm_state", "building")
    if m.task_state:
        raise _conflict(action, m.row, "task_state", m.task_state)


def _check_state(action: str, m: Merged, allowed: tuple[str, ...]) -> None:
    _check_idle(action, m)
    if m.base_status not in allowed:
        raise _conflict(action, m.row, "vm_state", m.vm_state)


def _parse_time(name: str, value: str) -> float:
    text = value.strip().replace(" ", "+")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise E.BadRequest(f"Invalid input for query parameters {name}. Value: {value}. "
                           "It must be an ISO 8601 timestamp.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _ref_id(ref: Any) -> str:
    """An id, or the last path segment of a URL to the resource (Nova accepts both)."""
    text = str(ref).strip()
    return text.rstrip("/").rsplit("/", 1)[-1] if "/" in text else text


# -- create ---------------------------------------------------------------------------------------
def _count(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise E.BadRequest(f"Invalid input for field/attribute {name}: {value!r} is not an integer") from None
    if number < 1:
        raise E.BadRequest(f"Invalid input for field/attribute {name}: {number} is less than the minimum of 1")
    return number


def _visible_network(req: ApiRequest, net: Any) -> bool:
    return req.context.is_admin or net.shared or net.project_id == req.context.project_id


def _resolve_networks(req: ApiRequest, spec: Any, count: int) -> tuple[list[str], list[str]]:
    """(network ids, port ids) for the request's ``networks``."""
    plane = req.backend.network()
    ctx = req.context
    if spec is None and mv(req, "2.37"):
        raise E.BadRequest("Invalid input for field/attribute server: 'networks' is a required property "
                           "(microversion 2.37 and later)")
    if isinstance(spec, str):
        if not mv(req, "2.37"):
            raise E.BadRequest(f"Invalid input for field/attribute networks: {spec!r} needs microversion 2.37")
        if spec == "none":
            raise E.BadRequest("The reference cloud cannot boot a server without a network: give a network "
                               "or port, or 'auto'")
    if spec is None or spec == "auto":
        candidates = [n for n in plane.list_networks() if not n.external
                      and (n.project_id == ctx.project_id or n.shared)]
        if not candidates:
            raise E.BadRequest(f"Unable to automatically allocate a network for project {ctx.project_id}: it "
                               "has no network and none is shared")
        if len(candidates) > 1:
            raise E.Conflict("Multiple possible networks found, use a Network ID to be more specific.")
        return [candidates[0].id], []
    if not spec:
        raise E.BadRequest("The reference cloud cannot boot a server without a network: give a network "
                           "or port, or 'auto'")
    nets: list[str] = []
    ports: list[str] = []
    for item in spec:
        if item.get("port"):
            port_id = item["port"]
            if not is_uuid(port_id):
                raise E.BadRequest(f"Bad networks format: port uuid is not in proper format ({port_id})")
            try:
                port = plane.get_port(port_id)
            except Exception:
                raise E.BadRequest(f"Port {port_id} could not be found.") from None
            if not ctx.owns(port.project_id):
                raise E.BadRequest(f"Port {port_id} could not be found.")
            if port.binding_host or port.device_id:
                raise E.Conflict(f"Port {port_id} is still in use.")
            if count > 1:
                raise E.BadRequest("Unable to launch multiple instances with a single configured port ID. "
                                   "Please launch your instance one by one with different ports.")
            if port_id in ports:
                raise E.BadRequest(f"Port {port_id} is given twice")
            ports.append(port_id)
            continue
        net_id = item.get("uuid")
        if not net_id:
            raise E.BadRequest("Bad networks format: each entry needs a 'uuid' or a 'port'")
        if not is_uuid(net_id):
            raise E.BadRequest(f"Bad networks format: network uuid is not in proper format ({net_id})")
        if "fixed_ip" in item:
            raise E.BadRequest("fixed_ip is not supported by the reference cloud: create a port with the address "
                               "and pass it as 'port'")
        try:
            net = plane.get_network(net_id)
        except Exception:
            raise E.BadRequest(f"Network {net_id} could not be found.") from None
        if not _visible_network(req, net):
            raise E.BadRequest(f"Network {net_id} could not be found.")
        if net.external:
            raise E.BadRequest(f"Network {net_id} is external: attach servers to tenant networks "
                               "(and use a floating IP)")
        nets.append(net_id)
    return nets, ports


def _resolve_security_groups(req: ApiRequest, names: list[str]) -> list[str]:
    """Security group ids for names (or ids) of the caller's project; the
    project's ``default`` group is made the way Neutron makes it if missing."""
    plane = req.backend.network()
    project = req.context.project_id
    groups = [g for g in plane.list_security_groups() if g.project_id == project]
    ids = []
    for name in names:
        match = [g for g in groups if g.id == name] or [g for g in groups if g.name == name]
        if not match and name == "default":
            match = [_make_default_group(plane, project)]
            groups.append(match[0])
        if not match:
            raise E.BadRequest(f"Security group {name} not found for project {project}.")
        if len(match) > 1:
            raise E.Conflict(f"Multiple security groups named {name} in project {project}: use an id")
        ids.append(match[0].id)
    return list(dict.fromkeys(ids))


def _make_default_group(plane: Any, project: str) -> Any:
    group = plane.create_security_group("default", project_id=project, description="Default security group")
    for ethertype in ("IPv4", "IPv6"):
        plane.create_security_group_rule(group.id, "ingress", ethertype=ethertype, remote_group_id=group.id,
                                         project_id=project)
    return group


def _user_data(value: str | None) -> bytes | None:
    if value is None:
        return None
    if len(value) > USER_DATA_MAX:
        raise E.BadRequest(f"User data is too large: at most {USER_DATA_MAX} bytes of base64")
    try:
        return base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise E.BadRequest("User data needs to be valid base 64.") from None


def _admin_pass() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


def _check_name(name: str) -> str:
    if not _name_re.match(name):
        raise E.BadRequest("Invalid input for field/attribute name: it must be 1 to 255 printable characters "
                           "without leading or trailing whitespace")
    return name


def _image_from_bdm(s: dict) -> tuple[str | None, dict | None]:
    """The block device mappings: (the image of a local root disk, None) —
    what openstackclient sends with ``--image`` — or (None, the boot-from-volume
    mapping); see :mod:`.compute_volumes`."""
    from .compute_volumes import parse_bdms
    image, boot_volume = parse_bdms(s)
    if image is not None and s.get("imageRef") and _ref_id(s["imageRef"]) != image:
        raise E.BadRequest("The block device mapping's image differs from imageRef")
    return image, boot_volume


def _check_flavor_fits(image: Any, flavor: Any) -> None:
    gib = 1024 ** 3
    if flavor.disk_gb and (flavor.disk_gb * gib < image.size_bytes or flavor.disk_gb < image.min_disk_gb):
        raise E.BadRequest(f"Flavor's disk is too small for requested image. Flavor disk is {flavor.disk_gb * gib} "
                           f"bytes, image is {image.size_bytes} bytes.")
    if flavor.ram_mb < image.min_ram_mb:
        raise E.BadRequest("Flavor's memory is too small for requested image.")


def _hinted_host(req: ApiRequest, loads: list, zone: str | None) -> str | None:
    """Nova's SameHostFilter and DifferentHostFilter: the scheduler hints
    ``same_host`` / ``different_host`` (a server id or a list of them, of the
    caller's project) pin the new server next to, or away from, those servers.
    None: no hint, the scheduler chooses as usual."""
    hints = req.body.get("os:scheduler_hints") or req.body.get("OS-SCH-HNT:scheduler_hints") or {}
    if not isinstance(hints, dict):
        raise E.BadRequest("os:scheduler_hints must be an object")

    def hosts_of(key: str) -> set[str] | None:
        value = hints.get(key)
        if value is None:
            return None
        ids = [value] if isinstance(value, str) else value
        if not isinstance(ids, list) or not all(isinstance(i, str) and is_uuid(i) for i in ids):
            raise E.BadRequest(f"Invalid input for field/attribute {key}: expected a server UUID or a list of them")
        found = set()
        for sid in ids:
            try:
                view = _view_of(req, _row(req, sid))
            except E.NotFound:
                raise E.BadRequest(f"Invalid input for field/attribute {key}: server {sid} could not be "
                                   "found") from None
            if view is not None and view.host:
                found.add(view.host)
        return found

    same, different = hosts_of("same_host"), hosts_of("different_host")
    if same is None and different is None:
        return None
    candidates = [h for h in loads if zone is None or h.availability_zone == zone]
    if same is not None:
        candidates = [h for h in candidates if h.name in same]
    if different:
        candidates = [h for h in candidates if h.name not in different]
    if not candidates:
        raise E.BadRequest("No valid host was found: no compute host satisfies the scheduler hints "
                           f"{', '.join(k for k in ('same_host', 'different_host') if k in hints)}")
    return min(candidates, key=lambda h: (h.servers, h.ram_used_mb)).name


@route("POST", "/v2.1/servers", schema=CREATE_SCHEMA, status=202)
def create_server(req: ApiRequest) -> Reply:
    """Boot one or more servers: 202 with BUILD at once; the boot runs on a worker thread."""
    from .compute_api import project_usage, quota_limits
    ctx = req.context
    s = req.body["server"]
    rt = _rt(req)
    store = rt.store
    compute = req.backend.compute()
    # microversion gates
    for key, version in (("description", "2.19"), ("tags", "2.52"), ("trusted_image_certificates", "2.63"),
                         ("host", "2.74"), ("hypervisor_hostname", "2.74")):
        if key in s and not mv(req, version):
            raise E.BadRequest(f"Invalid input for field/attribute server: Additional properties are not allowed "
                               f"('{key}' needs microversion {version})")
    if "personality" in s and mv(req, "2.57"):
        raise E.BadRequest("Invalid input for field/attribute server: Additional properties are not allowed "
                           "('personality' was removed in microversion 2.57)")
    if s.get("personality"):
        raise E.BadRequest("Personality files are not supported by the reference cloud: use user_data")
    if s.get("trusted_image_certificates"):
        raise E.BadRequest("Image certificate validation is not supported by the reference cloud")
    bdm_image, boot_bdm = _image_from_bdm(s)
    if ("host" in s or "hypervisor_hostname" in s) and not ctx.is_admin:
        raise E.Forbidden("Policy doesn't allow compute:servers:create:requested_destination to be performed.")
    name = _check_name(s["name"])
    min_count = _count(s.get("min_count", 1), "min_count")
    max_count = _count(s.get("max_count", min_count), "max_count")
    if min_count > max_count:
        raise E.BadRequest("min_count must be <= max_count")
    image_ref = s.get("imageRef") or bdm_image
    if boot_bdm is not None:
        if max_count > 1:
            raise E.BadRequest("Booting more than one server from one block device mapping is not supported")
        image_ref = None  # the root disk is the volume; its image's kernel boots it
    elif not image_ref:
        raise E.BadRequest("Missing imageRef attribute: the reference cloud boots servers from images")
    image_id = _ref_id(image_ref) if image_ref else None
    if image_id is not None and not is_uuid(image_id):
        raise E.BadRequest(f"Invalid imageRef provided: {image_ref}")
    flavor_id = _ref_id(s["flavorRef"])
    image = None
    with library_errors():
        try:
            image = compute.get_image(image_id) if image_id is not None else None
        except Exception as exc:
            if getattr(exc, "http_status", None) == 404:
                raise E.BadRequest(f"Can not find requested image {image_id}") from None
            raise
        flavor = next((f for f in compute.list_flavors() if f.id == flavor_id), None)
        if flavor is None:
            raise E.BadRequest(f"Flavor {flavor_id} could not be found.")
        if image is not None:
            _check_flavor_fits(image, flavor)
        zone = s.get("availability_zone")
        host = s.get("host")
        if zone and ":" in zone:
            zone, _, forced = zone.partition(":")
            zone = zone or None
            if forced:
                if not ctx.is_admin:
                    raise E.Forbidden("Policy doesn't allow os_compute_api:servers:create:forced_host to be "
                                      "performed.")
                host = forced.split(":")[0]
        zones = compute.availability_zones()
        if zone and zone not in zones:
            raise E.BadRequest(f"The requested availability zone is not available: {zone} (zones: "
                               f"{', '.join(zones)})")
        loads = compute.host_loads()
        hosts = {h.name for h in loads}
        if host and host not in hosts:
            raise E.BadRequest(f"Compute host {host} could not be found.")
        host = host or _hinted_host(req, loads, zone)
        nets, ports = _resolve_networks(req, s.get("networks"), max_count)
        sg_names = [g["name"] for g in s.get("security_groups") or [{"name": "default"}]]
        sg_ids = _resolve_security_groups(req, sg_names) if nets else []
    access = {"access_ipv4": "", "access_ipv6": ""} | _access_ips(s)
    key_name = s.get("key_name")
    key_data = None
    if key_name is not None:
        kp = store.keypair(ctx.user_id, key_name)
        if kp is None:
            raise E.BadRequest(f"Invalid key_name provided: {key_name}")
        key_data = kp["public_key"]
    user_data = _user_data(s.get("user_data"))
    metadata = dict(s.get("metadata") or {})
    tags = list(dict.fromkeys(s.get("tags") or []))
    admin_pass = s.get("adminPass") or _admin_pass()
    return_reservation = str(s.get("return_reservation_id", False)).lower() in ("true", "1", "yes")
    reservation_id = "r-" + secrets.token_hex(4)
    quotas = quota_limits(req, ctx.project_id)
    if quotas["metadata_items"] >= 0 and len(metadata) > quotas["metadata_items"]:
        raise E.Forbidden(f"Quota exceeded for metadata_items: at most {quotas['metadata_items']} items")
    created: list[str] = []
    with rt.lock:
        used = project_usage(req, ctx.project_id)
        allowed = max_count
        for resource, per in (("instances", 1), ("cores", flavor.vcpus), ("ram", flavor.ram_mb)):
            limit = quotas[resource]
            if limit < 0:
                continue
            fits = (limit - used[resource]) // per if per else max_count
            if fits < min_count:
                raise E.Forbidden(f"Quota exceeded for {resource}: Requested {min_count * per}, but already used "
                                  f"{used[resource]} of {limit} {resource}")
            allowed = min(allowed, fits)
        boot_plan = None  # the volume a boot from volume claims (quota checked, reserved or made)
        if boot_bdm is not None:
            from .compute_volumes import plan_boot_volume
            boot_plan, _ = plan_boot_volume(req, boot_bdm, flavor)
        for index in range(allowed):
            sid = str(uuid.uuid4())
            server_name = name if allowed == 1 else f"{name}-{index + 1}"
            store.insert_server({
                "id": sid, "project_id": ctx.project_id, "user_id": ctx.user_id, "name": server_name,
                "description": s.get("description"),
                "image_id": image.id if image is not None else "",
                "flavor": {"id": flavor.id, "name": flavor.name, "vcpus": flavor.vcpus, "ram_mb": flavor.ram_mb,
                           "disk_gb": flavor.disk_gb},
                "key_name": key_name, "key_data": key_data, "metadata": metadata, "user_data": s.get("user_data"),
                "availability_zone": zone, "security_groups": sg_names if nets else [],
                "reservation_id": reservation_id, "launch_index": index, "build_state": "building",
                "access_ipv4": access["access_ipv4"], "access_ipv6": access["access_ipv6"],
            })
            if tags:
                store.set_tags(sid, tags)
            created.append(sid)
    for index, sid in enumerate(created):
        request_id = req.request_id if index == 0 else f"{req.request_id}-{index}"
        store.start_action(sid, request_id, "create", ctx.project_id, ctx.user_id,
                           event="compute__do_build_and_run_instance")
        kwargs = dict(networks=nets, ports=ports, security_groups=sg_ids or None, key_name=key_name,
                      public_keys={key_name: key_data} if key_name else None, admin_pass=admin_pass,
                      user_data=user_data, metadata=metadata, host=host, availability_zone=zone,
                      project_id=ctx.project_id, server_id=sid)
        if boot_plan is not None:
            kwargs["boot_volume"] = boot_plan
        server_name = name if len(created) == 1 else f"{name}-{index + 1}"
        rt.submit(_build, req.backend, sid, request_id, server_name,
                  image.id if image is not None else boot_plan.kernel_image_id, flavor.id, kwargs)
    if return_reservation:
        return Reply({"reservation_id": reservation_id}, status=202)
    sid = created[0]
    body = {"id": sid, "links": [{"rel": "self", "href": f"{req.base_url}/v2.1/servers/{sid}"},
                                 {"rel": "bookmark", "href": f"{req.base_url}/servers/{sid}"}],
            "OS-DCF:diskConfig": "MANUAL", "adminPass": admin_pass}
    if nets:
        body["security_groups"] = [{"name": n} for n in sg_names]
    return Reply({"server": body}, status=202)


def _build(backend: Any, sid: str, request_id: str, name: str, image_id: str, flavor_id: str,
           kwargs: dict) -> None:
    """On a worker thread: boot the server, then record how it went."""
    store = runtime(backend).store
    compute = backend.compute()
    fault = None
    host = None
    boot_plan = kwargs.pop("boot_volume", None)
    try:
        if boot_plan is not None:
            from .compute_volumes import prepare_boot_volume
            kwargs["root_volume"] = prepare_boot_volume(backend, sid, None, boot_plan)
        view = compute.create_server(name, image_id, flavor_id, **kwargs)
        host = view.host
        if boot_plan is not None:
            from .compute_volumes import set_host
            set_host(backend, sid, boot_plan.volume_id, host)
    except Exception as exc:
        if boot_plan is not None:
            from .compute_volumes import boot_failed
            boot_failed(backend, sid, boot_plan)
        code = getattr(exc, "http_status", None) or getattr(exc, "status", None) or 500
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if type(exc).__name__ in ("NoValidHost", "HostFull"):
            message = f"No valid host was found. {message}"
        fault = {"code": int(code) if isinstance(code, int) else 500, "message": message[:255],
                 "details": format_tb(), "created": iso(now())}
    deleted = store.finish_build(sid, failed_fault=fault)
    store.finish_action(sid, request_id, error=fault["message"] if fault else None,
                        tb=fault["details"] if fault else None, host=host)
    if deleted:
        _finish_delete(backend, sid, None, built=fault is None)


def _finish_delete(backend: Any, sid: str, request_id: str | None, *, built: bool = True) -> None:
    store = runtime(backend).store
    if built:
        try:
            backend.compute().delete_server(sid)
        except Exception as exc:
            from ..compute import errors as CE
            if not isinstance(exc, CE.ServerNotFound):
                store.update_server(sid, deleted=0, task_state=None)
                if request_id:
                    store.finish_action(sid, request_id, error=str(exc), tb=format_tb())
                return
    from .compute_volumes import release_server_volumes
    release_server_volumes(backend, sid)
    store.purge_server(sid)
    if request_id:
        store.finish_action(sid, request_id)


def _access_ips(body: dict) -> dict[str, str]:
    """The request's accessIPv4 / accessIPv6 as columns, each an address of
    its family (Nova: 400 otherwise); an empty string clears one."""
    out = {}
    for name, column, version in (("accessIPv4", "access_ipv4", 4), ("accessIPv6", "access_ipv6", 6)):
        if name not in body:
            continue
        value = body[name] or ""
        if value:
            try:
                valid = ipaddress.ip_address(value).version == version
            except ValueError:
                valid = False
            if not valid:
                raise E.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. "
                                   f"'{value}' is not a 'ipv{version}'")
            value = ipaddress.ip_address(value).compressed  # as Nova stores it
        out[column] = value
    return out


# -- list -----------------------------------------------------------------------------------------
KNOWN_FILTERS = frozenset("""
user_id project_id tenant_id launch_index image_ref image kernel_id ramdisk_id hostname key_name power_state
vm_state task_state host node flavor reservation_id launched_at terminated_at availability_zone name display_name
description display_description locked_by uuid root_device_name config_drive access_ip_v4 access_ip_v6
auto_disk_config progress sort_key sort_dir all_tenants soft_deleted deleted status changes-since changes-before
ip ip6 tag tag-any not-tag not-tag-any tags tags-any not-tags not-tags-any limit marker created_at updated_at
locked accessIPv4 accessIPv6
""".split())
NON_ADMIN_2_83 = frozenset("availability_zone config_drive key_name created_at launched_at terminated_at "
                           "power_state task_state vm_state progress user_id".split())
SORT_KEYS = {"created_at": "created_at", "display_name": "name", "updated_at": "updated_at", "uuid": "id",
             "launched_at": "created_at", "display_description": "description", "hostname": "name",
             "key_name": "key_name", "project_id": "project_id", "user_id": "user_id", "image_ref": "image_id",
             "availability_zone": "availability_zone", "locked": "locked"}


def _split_tags(value: str) -> set[str]:
    return {t for t in value.split(",") if t}


def _list_servers(req: ApiRequest, detail: bool) -> dict:
    ctx = req.context
    store = _rt(req).store
    params = {k for k, _ in req.query.multi_items()}
    if mv(req, "2.75"):
        unknown = sorted(params - KNOWN_FILTERS)
        if unknown:
            raise E.BadRequest(f"Invalid input for query parameters {unknown[0]}. Additional properties are not "
                               "allowed.")
    all_tenants = req.query_one("all_tenants")
    all_projects = False
    if all_tenants is not None:
        if not ctx.is_admin:
            raise E.Forbidden("Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.")
        all_projects = all_tenants.lower() not in ("0", "false", "off", "no", "f", "n")
    project_filter = req.query_one("project_id") or req.query_one("tenant_id")
    since = req.query_one("changes-since")
    since_ts = _parse_time("changes-since", since) if since is not None else None  # also lists deleted ones
    if ctx.is_admin and project_filter:
        rows = store.servers(project_filter, gone_since=since_ts)
    elif all_projects:
        rows = store.servers(gone_since=since_ts)
    else:
        rows = store.servers(ctx.project_id, gone_since=since_ts)
    admin_filters = ctx.is_admin or mv(req, "2.83")
    # filters on the rows
    name = req.query_one("name") or req.query_one("display_name")
    if name:
        try:
            pattern = re.compile(name)
        except re.error:
            raise E.BadRequest(f"Invalid input for query parameters name. Value: {name}. Not a valid regular "
                               "expression.") from None
        rows = [r for r in rows if pattern.search(r["name"])]
    image = req.query_one("image") or req.query_one("image_ref")
    if image:
        rows = [r for r in rows if r["image_id"] == _ref_id(image)]
    flavor = req.query_one("flavor")
    if flavor:
        rows = [r for r in rows if str(r["flavor"].get("id")) == _ref_id(flavor)]
    if req.query_one("reservation_id"):
        rows = [r for r in rows if r["reservation_id"] == req.query_one("reservation_id")]
    if req.query_one("uuid") and ctx.is_admin:
        rows = [r for r in rows if r["id"] == req.query_one("uuid")]
    for param, op in (("changes-since", "ge"), ("changes-before", "le")):
        value = req.query_one(param)
        if value is None:
            continue
        if param == "changes-before" and not mv(req, "2.66"):
            continue
        ts = _parse_time(param, value)
        rows = [r for r in rows if (r["updated_at"] >= ts if op == "ge" else r["updated_at"] <= ts)]
    if req.query_one("locked") is not None and mv(req, "2.73"):
        wanted = req.query_bool("locked")
        rows = [r for r in rows if bool(r["locked"]) == wanted]
    if admin_filters:
        for param, column in (("key_name", "key_name"), ("user_id", "user_id")):
            value = req.query_one(param)
            if value:
                rows = [r for r in rows if r[column] == value]
    if mv(req, "2.26"):
        all_tags = store.all_tags()
        for param, test in (("tags", lambda have, want: want <= have), ("tags-any", lambda have, want: have & want),
                            ("not-tags", lambda have, want: not want <= have),
                            ("not-tags-any", lambda have, want: not have & want)):
            value = req.query_one(param)
            if value:
                want = _split_tags(value)
                rows = [r for r in rows if test(all_tags.get(r["id"], set()), want)]
    statuses = [v.upper() for v in req.query.getlist("status") if v]
    for value in statuses:
        if value not in VALID_STATUSES:
            if mv(req, "2.38"):
                raise E.BadRequest(f"Invalid status value: {value}")
    # sort (before merging: cheap), then merge with the compute library's views
    sort_key = req.query_one("sort_key", "created_at")
    sort_dir = req.query_one("sort_dir", "desc")
    if sort_key not in SORT_KEYS:
        raise E.BadRequest(f"Invalid input for query parameters sort_key. Value: {sort_key}.")
    if sort_dir not in ("asc", "desc"):
        raise E.BadRequest(f"Invalid input for query parameters sort_dir. Value: {sort_dir}.")
    column = SORT_KEYS[sort_key]
    rows.sort(key=lambda r: (r[column] is None, r[column] if r[column] is not None else "", r["id"]),
              reverse=sort_dir == "desc")
    need_views = detail or statuses or any(req.query_one(p) for p in ("ip", "ip6", "host", "node",
                                                                      "availability_zone", "vm_state",
                                                                      "task_state", "power_state"))
    views: dict[str, Any] = {}
    if need_views and rows:
        with library_errors():
            views = {v.id: v for v in req.backend.compute().list_servers()}
    tags = store.all_tags()
    merged = [Merged(r, views.get(r["id"]) if r["build_state"] != "failed" else None,
                     sorted(tags.get(r["id"], set()))) for r in rows]
    if statuses:
        merged = [m for m in merged if m.status in statuses]
    if need_views:
        names = network_names(req)
        for param, version in (("ip", 4), ("ip6", 6)):
            value = req.query_one(param)
            if value:
                try:
                    pattern = re.compile(value)
                except re.error:
                    raise E.BadRequest(f"Invalid input for query parameters {param}.") from None
                merged = [m for m in merged if m.view is not None and any(
                    a["version"] == version and pattern.search(a["addr"])
                    for addrs in m.view.addresses.values() for a in addrs)]
        if ctx.is_admin:
            for param in ("host", "node"):
                if req.query_one(param):
                    merged = [m for m in merged if m.host == req.query_one(param)]
        if admin_filters:
            for param, attr in (("availability_zone", None), ("vm_state", "vm_state"), ("task_state", "task_state"),
                                ("power_state", "power_state")):
                value = req.query_one(param)
                if not value:
                    continue
                if attr is None:
                    merged = [m for m in merged if m.view is not None and m.view.availability_zone == value]
                else:
                    merged = [m for m in merged if str(getattr(m, attr)) in req.query.getlist(param)]
    items = [{"id": m.id, "m": m} for m in merged]
    page, more = paginate(req, items)
    if detail:
        names = network_names(req)
        fips = floating_by_port(req)
        docs = [server_detail(req, i["m"], names=names, fips=fips) for i in page]
    else:
        docs = [server_brief(req, i["m"]) for i in page]
    body: dict = {"servers": docs}
    if more and page:
        body["servers_links"] = next_link(req, "servers/detail" if detail else "servers", page[-1]["id"])
    return body


@route("GET", "/v2.1/servers")
def list_servers(req: ApiRequest) -> dict:
    """Servers: id, name and links."""
    return _list_servers(req, False)


@route("GET", "/v2.1/servers/detail")
def list_servers_detail(req: ApiRequest) -> dict:
    """Servers in full."""
    return _list_servers(req, True)


# -- show, update, delete ---------------------------------------------------------------------------
@route("GET", "/v2.1/servers/{server_id}")
def show_server(req: ApiRequest) -> dict:
    """One server."""
    return {"server": server_detail(req, _merged(req, _row(req)), show=True)}


@route("PUT", "/v2.1/servers/{server_id}", schema=UPDATE_SCHEMA)
def update_server(req: ApiRequest) -> dict:
    """Rename a server (and its description, access IPs)."""
    row = _row(req)
    s = req.body["server"]
    if "description" in s and not mv(req, "2.19"):
        raise E.BadRequest("Invalid input for field/attribute server: 'description' needs microversion 2.19")
    changes: dict[str, Any] = {}
    if "name" in s:
        changes["name"] = _check_name(s["name"])
    if "description" in s:
        changes["description"] = s["description"]
    changes.update(_access_ips(s))
    _rt(req).store.update_server(row["id"], **changes)
    return {"server": server_update_doc(req, _merged(req, _row(req)))}


@route("DELETE", "/v2.1/servers/{server_id}", status=204)
def delete_server(req: ApiRequest) -> Reply:
    """Delete a server: 204 at once, the VM goes on a worker thread."""
    row = _row(req)
    if row["deleted"]:  # being deleted already
        return Reply(None, status=204)
    _check_lock(req, row)
    rt = _rt(req)
    rt.store.start_action(row["id"], req.request_id, "delete", req.context.project_id, req.context.user_id)
    build_state = rt.store.request_delete(row["id"])
    if build_state == "failed":
        rt.store.purge_server(row["id"])
    elif build_state == "done":
        rt.submit(_finish_delete, req.backend, row["id"], req.request_id)
    # building: the build thread deletes it when the boot ends
    return Reply(None, status=204)


# -- actions ----------------------------------------------------------------------------------------
def _background(req: ApiRequest, m: Merged, action: str, task: str | None, event: str,
                fn: Callable[[], Any]) -> threading.Event:
    """Claim the server with ``task``, record the action and run ``fn`` on a
    worker; the event is set when it is over."""
    rt = _rt(req)
    ctx = req.context
    if task is not None:
        busy = rt.store.set_task_if_idle(m.id, task)
        if busy:
            raise _conflict(action, m.row, "task_state", busy)
    rt.store.start_action(m.id, req.request_id, action, ctx.project_id, ctx.user_id, event=event, host=m.host)
    sid, request_id = m.id, req.request_id
    done = threading.Event()

    def run() -> None:
        error = tb = None
        try:
            fn()
        except Exception as exc:
            error, tb = str(exc) or type(exc).__name__, format_tb()
        finally:
            if task is not None:
                rt.store.clear_task(sid, task)
            rt.store.finish_action(sid, request_id, error=error, tb=tb)
            done.set()

    rt.submit(run)
    return done


def _action_reboot(req: ApiRequest, m: Merged, body: Any) -> Reply:
    if not isinstance(body, dict) or str(body.get("type", "")).upper() not in ("SOFT", "HARD"):
        raise E.BadRequest("Invalid input for field/attribute reboot: 'type' must be SOFT or HARD")
    hard = str(body["type"]).upper() == "HARD"
    _check_lock(req, m.row)
    _check_state("reboot", m, ("ACTIVE", "SHUTOFF", "ERROR", "PAUSED") if hard else ("ACTIVE",))
    compute = req.backend.compute()
    _background(req, m, "reboot", "rebooting_hard" if hard else "rebooting", "compute_reboot_instance",
                lambda: compute.reboot_server(m.id, hard=hard))
    return Reply(None, status=202)


def _power_action(action: str, allowed: tuple[str, ...], task: str, event: str, method: str):
    """An action that only changes the power state: refused on a locked server
    or in the wrong state, else run by the compute library's ``method``."""

    def handler(req: ApiRequest, m: Merged, body: Any) -> Reply:
        _check_lock(req, m.row)
        _check_state(action, m, allowed)
        run = getattr(req.backend.compute(), method)
        _background(req, m, action, task, event, lambda: run(m.id))
        return Reply(None, status=202)

    return handler


_action_stop = _power_action("stop", ("ACTIVE", "PAUSED", "ERROR"), "powering-off", "compute_stop_instance",
                             "stop_server")
_action_start = _power_action("start", ("SHUTOFF",), "powering-on", "compute_start_instance", "start_server")
_action_pause = _power_action("pause", ("ACTIVE",), "pausing", "compute_pause_instance", "pause_server")
_action_unpause = _power_action("unpause", ("PAUSED",), "unpausing", "compute_unpause_instance", "unpause_server")


def _action_lock(req: ApiRequest, m: Merged, body: Any) -> Reply:
    reason = None
    if body is not None:
        if not isinstance(body, dict) or set(body) - {"locked_reason"}:
            raise E.BadRequest("Invalid input for field/attribute lock: only 'locked_reason' is allowed")
        if "locked_reason" in body:
            if not mv(req, "2.73"):
                raise E.BadRequest("Invalid input for field/attribute lock: 'locked_reason' needs microversion 2.73")
            reason = body["locked_reason"]
            if not isinstance(reason, str) or len(reason) > 255:
                raise E.BadRequest("Invalid input for field/attribute locked_reason: a string of at most 255 "
                                   "characters")
    ctx = req.context
    store = _rt(req).store
    store.start_action(m.id, req.request_id, "lock", ctx.project_id, ctx.user_id)
    store.update_server(m.id, locked=1, locked_reason=reason,
                        locked_by="admin" if ctx.is_admin and ctx.project_id != m.row["project_id"] else "owner")
    store.finish_action(m.id, req.request_id)
    return Reply(None, status=202)


def _action_unlock(req: ApiRequest, m: Merged, body: Any) -> Reply:
    ctx = req.context
    if m.row["locked"] and m.row["locked_by"] == "admin" and not ctx.is_admin:
        raise E.Forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be "
                          "performed.")
    store = _rt(req).store
    store.start_action(m.id, req.request_id, "unlock", ctx.project_id, ctx.user_id)
    store.update_server(m.id, locked=0, locked_reason=None, locked_by=None)
    store.finish_action(m.id, req.request_id)
    return Reply(None, status=202)


REBUILD_SCHEMA = {
    "type": "object", "required": ["imageRef"],
    "properties": {
        "imageRef": {"type": "string", "minLength": 1}, "name": NAME, "adminPass": {"type": "string"},
        "metadata": METADATA, "preserve_ephemeral": {"type": "boolean"}, "accessIPv4": {"type": "string"},
        "accessIPv6": {"type": "string"}, "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        "personality": {"type": "array"}, "description": {"type": ["string", "null"], "maxLength": 255},
        "key_name": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
        "user_data": {"type": ["string", "null"]}, "trusted_image_certificates": {"type": ["array", "null"]},
    },
}
REBUILD_KEYS = set(REBUILD_SCHEMA["properties"])


def _action_rebuild(req: ApiRequest, m: Merged, body: Any) -> Reply:
    if not isinstance(body, dict) or not body.get("imageRef"):
        raise E.BadRequest("Invalid input for field/attribute rebuild: 'imageRef' is a required property")
    from .routing import validate
    validate(body, REBUILD_SCHEMA)
    extra = set(body) - REBUILD_KEYS
    for key, version in (("description", "2.19"), ("key_name", "2.54"), ("user_data", "2.57"),
                         ("trusted_image_certificates", "2.63")):
        if key in body and not mv(req, version):
            extra.add(key)
    if "personality" in body and mv(req, "2.57"):
        extra.add("personality")
    if extra:
        raise E.BadRequest(f"Invalid input for field/attribute rebuild: Additional properties are not allowed "
                           f"({', '.join(sorted(extra))})")
    if body.get("personality"):
        raise E.BadRequest("Personality files are not supported by the reference cloud: use user_data")
    if body.get("trusted_image_certificates"):
        raise E.BadRequest("Image certificate validation is not supported by the reference cloud")
    name = _check_name(body["name"]) if "name" in body else None
    image_id = _ref_id(body["imageRef"])
    if not is_uuid(image_id):
        raise E.BadRequest(f"Invalid imageRef provided: {body['imageRef']}")
    _check_lock(req, m.row)
    _check_state("rebuild", m, ("ACTIVE", "SHUTOFF", "ERROR"))
    compute = req.backend.compute()
    store = _rt(req).store
    with library_errors():
        try:
            image = compute.get_image(image_id)
        except Exception as exc:
            if getattr(exc, "http_status", None) == 404:
                raise E.BadRequest(f"Cannot find requested image {image_id}") from None
            raise
        _check_flavor_fits(image, type("F", (), {"disk_gb": int(m.row["flavor"].get("disk_gb", 0)),
                                                  "ram_mb": int(m.row["flavor"].get("ram_mb", 0))})())
    changes: dict[str, Any] = {"image_id": image.id}
    key_name, key_data = m.row["key_name"], m.row["key_data"]
    if "key_name" in body:
        key_name = body["key_name"]
        key_data = None
        if key_name is not None:
            kp = store.keypair(req.context.user_id, key_name)
            if kp is None:
                raise E.BadRequest(f"Invalid key_name provided: {key_name}")
            key_data = kp["public_key"]
        changes.update(key_name=key_name, key_data=key_data)
    user_data = m.row["user_data"]
    if "user_data" in body:
        user_data = body["user_data"]
        _user_data(user_data)
        changes["user_data"] = user_data
    if "metadata" in body:
        changes["metadata"] = dict(body["metadata"])
    if name is not None:
        changes["name"] = name
    if "description" in body:
        changes["description"] = body["description"]
    changes.update(_access_ips(body))
    admin_pass = body.get("adminPass") or _admin_pass()
    metadata = changes.get("metadata", m.row["metadata"])
    sid = m.id

    def rebuild() -> None:
        # what the config drive carries comes from the compute record: update it first
        with compute.store.update() as state:
            server = state.servers.get(sid)
            if server is not None:
                server.key_name = key_name
                server.public_keys = {key_name: key_data} if key_name and key_data else {}
                server.metadata = dict(metadata)
                ud = _user_data(user_data)
                server.user_data = ud.hex() if ud is not None else None
        compute.rebuild_server(sid, image.id, admin_pass=admin_pass, name=name)

    _background(req, m, "rebuild", "rebuilding", "compute_rebuild_instance", rebuild)
    store.update_server(sid, **changes)
    doc = server_update_doc(req, _merged(req, _row(req)))
    doc["adminPass"] = admin_pass
    return Reply({"server": doc}, status=202)


def _action_create_image(req: ApiRequest, m: Merged, body: Any) -> Reply:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip() \
            or len(body["name"]) > 255:
        raise E.BadRequest("Invalid input for field/attribute createImage: 'name' must be 1 to 255 characters")
    if "metadata" in body:
        from .routing import validate
        validate(body["metadata"], METADATA)
    extra = set(body) - {"name", "metadata"}
    if extra:
        raise E.BadRequest(f"Invalid input for field/attribute createImage: Additional properties are not allowed "
                           f"({', '.join(sorted(extra))})")
    _check_state("createImage", m, ("ACTIVE", "SHUTOFF", "PAUSED"))
    compute = req.backend.compute()
    backend = req.backend
    image_id = str(uuid.uuid4())
    name = body["name"]
    row = m.row
    properties = {"image_type": "snapshot", "instance_uuid": m.id, "base_image_ref": row["image_id"],
                  "user_id": req.context.user_id, "owner_project_name": req.context.project_name,
                  "owner_user_name": req.context.user_name}
    properties.update({str(k): str(v) for k, v in (body.get("metadata") or {}).items()})  # the request wins

    def snapshot() -> None:
        image = compute.snapshot_server(m.id, name, image_id=image_id)
        _register_in_glance(backend, image, name, row["project_id"], properties)

    done = _background(req, m, "createImage", "image_snapshot", "compute_snapshot_instance", snapshot)
    # Nova records the image in Glance before it answers; here the image
    # exists once the snapshot is taken (a few seconds): wait for it, so a
    # client that looks the image up at once finds it
    done.wait(SNAPSHOT_WAIT)
    if mv(req, "2.45"):
        return Reply({"image_id": image_id}, status=202)
    return Reply(None, status=202,
                 headers={"Location": f"{req.backend.public_url('/image')}/v2/images/{image_id}"})


def _action_console_output(req: ApiRequest, m: Merged, body: Any) -> dict:
    length = None
    if isinstance(body, dict) and body.get("length") is not None:
        raw = body["length"]
        try:
            if isinstance(raw, bool) or isinstance(raw, float):
                raise ValueError
            length = int(raw)
        except (TypeError, ValueError):
            raise E.BadRequest(f"Invalid input for field/attribute length: {raw!r} is not an integer") from None
        if length < -1:
            raise E.BadRequest("Invalid input for field/attribute length: it must be -1 or greater")
        if length == -1:
            length = None
    elif body is not None and not isinstance(body, dict):
        raise E.BadRequest("Invalid input for field/attribute os-getConsoleOutput: an object is required")
    if m.row["build_state"] != "done" or m.view is None:
        raise E.Conflict(f"Cannot 'get console output' of instance {m.id} while it is in vm_state {m.vm_state}")
    with library_errors():
        text = req.backend.compute().console_log(m.id, tail_bytes=1 << 20)
    if length is not None:
        lines = text.splitlines(keepends=True)
        text = "".join(lines[-length:]) if length > 0 else ""
    return {"output": text}


def _group_name(body: Any, action: str) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise E.BadRequest(f"Invalid input for field/attribute {action}: 'name' (a security group) is required")
    return body["name"].strip()


def _server_port_ids(m: Merged) -> list[str]:
    return [n["port_id"] for n in (m.view.nics if m.view is not None else []) if n.get("port_id")]


def _set_port_groups(req: ApiRequest, m: Merged, change: Callable[[list[str]], list[str]]) -> None:
    plane = req.backend.network()
    with library_errors():
        for port_id in _server_port_ids(m):
            port = plane.get_port(port_id)
            plane.update_port(port_id, security_groups=change(list(port.security_groups)))


def _action_add_security_group(req: ApiRequest, m: Merged, body: Any) -> Reply:
    name = _group_name(body, "addSecurityGroup")
    if m.row["build_state"] != "done" or m.view is None:
        raise _conflict("addSecurityGroup", m.row, "vm_state", m.vm_state)
    with library_errors():
        group_id = _resolve_security_groups(req, [name])[0]
        group = req.backend.network().get_security_group(group_id)
    names = list(m.row["security_groups"] or [])
    if group.name in names or group_id in names:
        raise E.BadRequest(f"Security group {name} is already associated with the instance {m.id}")
    _set_port_groups(req, m, lambda groups: groups + [group_id] if group_id not in groups else groups)
    _rt(req).store.update_server(m.id, security_groups=names + [group.name or group_id])
    return Reply(None, status=202)


def _action_remove_security_group(req: ApiRequest, m: Merged, body: Any) -> Reply:
    name = _group_name(body, "removeSecurityGroup")
    names = list(m.row["security_groups"] or [])
    plane = req.backend.network()
    groups = [g for g in plane.list_security_groups() if g.project_id == m.row["project_id"]]
    match = [g for g in groups if g.id == name] or [g for g in groups if g.name == name]
    if not match:
        raise E.NotFound(f"Security group {name} not found for project {m.row['project_id']}.")
    group = match[0]
    label = group.name if group.name in names else group.id
    if label not in names:
        raise E.BadRequest(f"Security group {name} not associated with the instance {m.id}")
    _set_port_groups(req, m, lambda gs: [g for g in gs if g != group.id])
    _rt(req).store.update_server(m.id, security_groups=[n for n in names if n != label])
    return Reply(None, status=202)


SNAPSHOT_WAIT = 60.0


def _register_in_glance(backend: Any, image: Any, name: str, project_id: str, properties: dict) -> None:
    """Record a snapshot in Glance under the compute image's id (private to the server's project)."""
    from . import image as glance
    register = getattr(glance, "register_existing_image", None)
    if register is None:
        return
    try:
        register(backend, image, name=name, owner_project_id=project_id, visibility="private",
                 properties=properties)
    except ValueError:  # a property Glance reserves: record the image without them
        register(backend, image, name=name, owner_project_id=project_id, visibility="private")


def _flavor_record(flavor: dict) -> dict:
    """The row's copy of a flavor (what views embed)."""
    return {k: flavor[k] for k in ("id", "name", "vcpus", "ram_mb", "disk_gb") if k in flavor}


def _action_resize(req: ApiRequest, m: Merged, body: Any) -> Reply:
    """Another flavor on the same host: RESIZE, then VERIFY_RESIZE until confirmed or reverted."""
    if not isinstance(body, dict) or set(body) - {"flavorRef", "OS-DCF:diskConfig"}:
        raise E.BadRequest("Invalid input for field/attribute resize: only 'flavorRef' and 'OS-DCF:diskConfig' "
                           "are allowed")
    ref = body.get("flavorRef")
    if not isinstance(ref, (str, int)) or not _ref_id(ref):
        raise E.BadRequest("Invalid input for field/attribute resize: 'flavorRef' is a required property and "
                           "names a flavor")
    _check_lock(req, m.row)
    _check_state("resize", m, ("ACTIVE", "SHUTOFF"))
    compute = req.backend.compute()
    try:
        flavor = compute.get_flavor(_ref_id(ref))
    except Exception as exc:
        if getattr(exc, "http_status", None) == 404:
            raise E.BadRequest(f"Unable to find flavor {_ref_id(ref)}") from None
        raise
    current = m.row["flavor"]
    if flavor.id == current.get("id"):
        raise E.BadRequest("When resizing, instances must change flavor!")
    if flavor.disk_gb and flavor.disk_gb < int(current.get("disk_gb") or 0) and m.row["image_id"]:
        raise E.BadRequest("Resize error: Unable to resize disk down.")
    store = _rt(req).store

    def resize() -> None:
        compute.resize_server(m.id, flavor.id)
        store.update_server(m.id, flavor=_flavor_record(compute.get_server(m.id).flavor))

    _background(req, m, "resize", "resize_prep", "compute_resize_instance", resize)
    return Reply(None, status=202)


def _action_confirm_resize(req: ApiRequest, m: Merged, body: Any) -> Reply:
    if body not in (None, {}):
        raise E.BadRequest("Invalid input for field/attribute confirmResize: the value must be null or {}")
    _check_state("confirmResize", m, ("VERIFY_RESIZE",))
    ctx, store = req.context, _rt(req).store
    store.start_action(m.id, req.request_id, "confirmResize", ctx.project_id, ctx.user_id)
    with library_errors():
        req.backend.compute().confirm_resize(m.id)
    store.finish_action(m.id, req.request_id)
    return Reply(None, status=204)


def _action_revert_resize(req: ApiRequest, m: Merged, body: Any) -> Reply:
    if body not in (None, {}):
        raise E.BadRequest("Invalid input for field/attribute revertResize: the value must be null or {}")
    _check_state("revertResize", m, ("VERIFY_RESIZE",))
    compute, store = req.backend.compute(), _rt(req).store

    def revert() -> None:
        compute.revert_resize(m.id)
        store.update_server(m.id, flavor=_flavor_record(compute.get_server(m.id).flavor))

    _background(req, m, "revertResize", "resize_reverting", "compute_revert_resize", revert)
    return Reply(None, status=202)


ACTIONS: dict[str, Callable[[ApiRequest, Merged, Any], Any]] = {
    "reboot": _action_reboot, "os-stop": _action_stop, "os-start": _action_start, "pause": _action_pause,
    "unpause": _action_unpause, "lock": _action_lock, "unlock": _action_unlock, "rebuild": _action_rebuild,
    "createImage": _action_create_image, "os-getConsoleOutput": _action_console_output,
    "addSecurityGroup": _action_add_security_group, "removeSecurityGroup": _action_remove_security_group,
    "resize": _action_resize, "confirmResize": _action_confirm_resize, "revertResize": _action_revert_resize,
}
UNSUPPORTED_ACTIONS = ("migrate", "os-migrateLive", "evacuate",
                       "suspend", "resume", "shelve", "shelveOffload", "unshelve", "rescue", "unrescue",
                       "changePassword", "createBackup",
                       "trigger_crash_dump", "os-resetState", "resetNetwork", "injectNetworkInfo",
                       "os-getVNCConsole", "os-getSerialConsole", "os-getSPICEConsole", "restore", "forceDelete",
                       "addFloatingIp", "removeFloatingIp", "addFixedIp", "removeFixedIp")


@route("POST", "/v2.1/servers/{server_id}/action", schema=ACTION_SCHEMA)
def server_action(req: ApiRequest) -> Any:
    """A server action: the body's one key names it."""
    row = _row(req)
    (action, body), = req.body.items()
    handler = ACTIONS.get(action)
    if handler is None:
        if action in UNSUPPORTED_ACTIONS:
            raise E.BadRequest(f"The action {action!r} is not supported by the reference cloud")
        raise E.BadRequest(f"There is no such action: {action}")
    return handler(req, _merged(req, row), body)


@route("GET", "/v2.1/servers/{server_id}/os-security-groups")
def server_security_groups(req: ApiRequest) -> dict:
    """The security groups of a server, with their ingress rules."""
    row = _row(req)
    plane = req.backend.network()
    with library_errors():
        groups = [g for g in plane.list_security_groups() if g.project_id == row["project_id"]]
        result = []
        for label in row["security_groups"] or []:
            group = next((g for g in groups if g.id == label), None) or \
                next((g for g in groups if g.name == label), None)
            if group is None:
                continue
            rules = []
            for r in plane.list_security_group_rules(group.id):
                if r.direction != "ingress":
                    continue
                rules.append({"id": r.id, "parent_group_id": group.id, "ip_protocol": r.protocol,
                              "from_port": r.port_range_min if r.port_range_min is not None else -1,
                              "to_port": r.port_range_max if r.port_range_max is not None else -1,
                              "ip_range": {"cidr": r.remote_ip_prefix} if r.remote_ip_prefix else {},
                              "group": ({"name": next((g.name for g in groups if g.id == r.remote_group_id), ""),
                                         "tenant_id": row["project_id"]} if r.remote_group_id else {})})
            result.append({"id": group.id, "name": group.name, "description": group.description,
                           "tenant_id": group.project_id, "rules": rules})
    return {"security_groups": result}


# -- addresses, metadata, tags ------------------------------------------------------------------------
@route("GET", "/v2.1/servers/{server_id}/ips")
def server_ips(req: ApiRequest) -> dict:
    """A server's addresses by network."""
    doc = server_detail(req, _merged(req, _row(req)))
    return {"addresses": doc["addresses"]}


@route("GET", "/v2.1/servers/{server_id}/ips/{network}")
def server_ips_network(req: ApiRequest) -> dict:
    """A server's addresses on one network."""
    doc = server_detail(req, _merged(req, _row(req)))
    label = req.params["network"]
    if label not in doc["addresses"]:
        raise E.NotFound(f"Instance is not a member of specified network {label}")
    return {label: doc["addresses"][label]}


def _writable(req: ApiRequest, action: str) -> dict:
    row = _row(req)
    _check_lock(req, row)
    if row["build_state"] == "building":
        raise _conflict(action, row, "vm_state", "building")
    return row


def _check_meta_quota(req: ApiRequest, metadata: dict) -> None:
    from .compute_api import quota_limits
    limit = quota_limits(req, req.context.project_id)["metadata_items"]
    if 0 <= limit < len(metadata):
        raise E.Forbidden(f"Quota exceeded for metadata_items: at most {limit} items")


@route("GET", "/v2.1/servers/{server_id}/metadata")
def list_metadata(req: ApiRequest) -> dict:
    """A server's metadata."""
    return {"metadata": _row(req)["metadata"]}


@route("POST", "/v2.1/servers/{server_id}/metadata", schema=METADATA_SCHEMA)
def merge_metadata(req: ApiRequest) -> dict:
    """Add or change metadata items."""
    row = _writable(req, "update metadata")
    metadata = {**row["metadata"], **req.body["metadata"]}
    _check_meta_quota(req, metadata)
    _rt(req).store.update_server(row["id"], metadata=metadata)
    return {"metadata": metadata}


@route("PUT", "/v2.1/servers/{server_id}/metadata", schema=METADATA_SCHEMA)
def replace_metadata(req: ApiRequest) -> dict:
    """Replace all metadata."""
    row = _writable(req, "update metadata")
    metadata = dict(req.body["metadata"])
    _check_meta_quota(req, metadata)
    _rt(req).store.update_server(row["id"], metadata=metadata)
    return {"metadata": metadata}


@route("GET", "/v2.1/servers/{server_id}/metadata/{key}")
def show_metadata_item(req: ApiRequest) -> dict:
    """One metadata item."""
    row = _row(req)
    key = req.params["key"]
    if key not in row["metadata"]:
        raise E.NotFound("Metadata item was not found")
    return {"meta": {key: row["metadata"][key]}}


@route("PUT", "/v2.1/servers/{server_id}/metadata/{key}", schema=META_ITEM_SCHEMA)
def set_metadata_item(req: ApiRequest) -> dict:
    """Set one metadata item."""
    meta = req.body["meta"]
    key = req.params["key"]
    if len(meta) > 1:
        raise E.BadRequest("Request body contains too many items")
    if key not in meta:
        raise E.BadRequest("Request body and URI mismatch")
    row = _writable(req, "update metadata")
    metadata = {**row["metadata"], key: meta[key]}
    _check_meta_quota(req, metadata)
    _rt(req).store.update_server(row["id"], metadata=metadata)
    return {"meta": {key: meta[key]}}


@route("DELETE", "/v2.1/servers/{server_id}/metadata/{key}", status=204)
def delete_metadata_item(req: ApiRequest) -> Reply:
    """Delete one metadata item."""
    row = _writable(req, "delete metadata")
    key = req.params["key"]
    if key not in row["metadata"]:
        raise E.NotFound("Metadata item was not found")
    metadata = {k: v for k, v in row["metadata"].items() if k != key}
    _rt(req).store.update_server(row["id"], metadata=metadata)
    return Reply(None, status=204)


def _tags_row(req: ApiRequest, *, write: bool = False) -> dict:
    if not mv(req, "2.26"):
        raise E.NotFound("The resource could not be found (server tags need microversion 2.26).")
    row = _row(req)
    if write and row["build_state"] == "building":
        raise _conflict("update tags", row, "vm_state", "building")
    return row


def _check_tag(tag: str) -> None:
    if not 1 <= len(tag) <= 60 or "," in tag or "/" in tag:
        raise E.BadRequest(f"Invalid tag {tag!r}: 1 to 60 characters, no ',' or '/'")


@route("GET", "/v2.1/servers/{server_id}/tags")
def list_tags(req: ApiRequest) -> dict:
    """A server's tags (2.26)."""
    return {"tags": _rt(req).store.tags(_tags_row(req)["id"])}


@route("PUT", "/v2.1/servers/{server_id}/tags", schema=TAGS_SCHEMA)
def replace_tags(req: ApiRequest) -> dict:
    """Replace a server's tags (2.26)."""
    row = _tags_row(req, write=True)
    tags = list(dict.fromkeys(req.body["tags"]))
    _rt(req).store.set_tags(row["id"], tags)
    return {"tags": _rt(req).store.tags(row["id"])}


@route("DELETE", "/v2.1/servers/{server_id}/tags", status=204)
def delete_tags(req: ApiRequest) -> Reply:
    """Remove every tag (2.26)."""
    row = _tags_row(req, write=True)
    _rt(req).store.set_tags(row["id"], [])
    return Reply(None, status=204)


@route("GET", "/v2.1/servers/{server_id}/tags/{tag}", status=204)
def check_tag(req: ApiRequest) -> Reply:
    """204 if the server has the tag, else 404 (2.26)."""
    row = _tags_row(req)
    if req.params["tag"] not in _rt(req).store.tags(row["id"]):
        raise E.NotFound(f"Tag {req.params['tag']} could not be found for instance {row['id']}.")
    return Reply(None, status=204)


@route("PUT", "/v2.1/servers/{server_id}/tags/{tag}", status=201)
def add_tag(req: ApiRequest) -> Reply:
    """Add a tag: 201 (new) or 204 (had it) (2.26)."""
    row = _tags_row(req, write=True)
    tag = req.params["tag"]
    _check_tag(tag)
    store = _rt(req).store
    have = store.tags(row["id"])
    if tag in have:
        return Reply(None, status=204)
    if len(have) >= MAX_TAGS:
        raise E.BadRequest(f"Instance {row['id']} has the maximum of {MAX_TAGS} tags already")
    store.add_tag(row["id"], tag)
    return Reply(None, status=201, headers={"Location": f"{req.base_url}/v2.1/servers/{row['id']}/tags/{tag}"})


@route("DELETE", "/v2.1/servers/{server_id}/tags/{tag}", status=204)
def delete_tag(req: ApiRequest) -> Reply:
    """Remove a tag (2.26)."""
    row = _tags_row(req, write=True)
    if not _rt(req).store.remove_tag(row["id"], req.params["tag"]):
        raise E.NotFound(f"Tag {req.params['tag']} could not be found for instance {row['id']}.")
    return Reply(None, status=204)


# -- instance actions ---------------------------------------------------------------------------------
def _action_doc(req: ApiRequest, a: dict) -> dict:
    doc = {"action": a["action"], "instance_uuid": a["server_id"], "message": a["message"],
           "project_id": a["project_id"], "request_id": a["request_id"], "start_time": iso_usec(a["start_time"]),
           "user_id": a["user_id"]}
    if mv(req, "2.58"):
        doc["updated_at"] = iso_usec(a["updated_at"])
    return doc


def _actions_row(req: ApiRequest) -> dict:
    sid = req.params["server_id"]
    row = _rt(req).store.server(sid, gone=True)
    if row is None or not req.context.owns(row["project_id"]):
        raise E.NotFound(f"Instance {sid} could not be found.")
    return row


@route("GET", "/v2.1/servers/{server_id}/os-instance-actions")
def list_instance_actions(req: ApiRequest) -> dict:
    """What was done to a server, newest first."""
    row = _actions_row(req)
    actions = _rt(req).store.actions(row["id"])
    if mv(req, "2.58"):
        for param, op in (("changes-since", "ge"), ("changes-before", "le")):
            value = req.query_one(param)
            if value is None or (param == "changes-before" and not mv(req, "2.66")):
                continue
            ts = _parse_time(param, value)
            actions = [a for a in actions if (a["updated_at"] >= ts if op == "ge" else a["updated_at"] <= ts)]
        items = [dict(a, id=a["request_id"]) for a in actions]
        page, more = paginate(req, items)
    else:
        page, more = actions, False
    body: dict = {"instanceActions": [_action_doc(req, a) for a in page]}
    if more and page:
        body["links"] = next_link(req, f"servers/{row['id']}/os-instance-actions", page[-1]["request_id"])
    return body


@route("GET", "/v2.1/servers/{server_id}/os-instance-actions/{request_id}")
def show_instance_action(req: ApiRequest) -> dict:
    """One action with its events."""
    row = _actions_row(req)
    store = _rt(req).store
    action = store.action(row["id"], req.params["request_id"])
    if action is None:
        raise E.NotFound(f"Action for request_id {req.params['request_id']} on instance {row['id']} not found")
    doc = _action_doc(req, action)
    ctx = req.context
    if ctx.is_admin or mv(req, "2.51"):
        events = []
        for e in store.events(row["id"], action["request_id"]):
            ev = {"event": e["event"], "start_time": iso_usec(e["start_time"]),
                  "finish_time": iso_usec(e["finish_time"]), "result": e["result"]}
            if ctx.is_admin:
                ev["traceback"] = e["traceback"]
            if mv(req, "2.62"):
                ev["hostId"] = _host_id(row["project_id"], e["host"])
                if ctx.is_admin:
                    ev["host"] = e["host"] or ""
            if mv(req, "2.84"):
                ev["details"] = e["details"] if e["result"] == "Error" else None
            events.append(ev)
        doc["events"] = events
    return {"instanceAction": doc}


def _host_id(project: str, host: str | None) -> str:
    from .compute_views import host_id
    return host_id(project, host)


# -- port interfaces (read-only: the reference cloud does not hot-plug NICs) ------------------------
def _interface(req: ApiRequest, port: Any) -> dict:
    doc = {"port_state": "ACTIVE", "port_id": port.id, "net_id": port.network_id, "mac_addr": port.mac_address,
           "fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address} for f in port.fixed_ips]}
    if mv(req, "2.70"):
        doc["tag"] = None
    return doc


def _server_ports(req: ApiRequest, server_id: str) -> list[Any]:
    with library_errors():
        return sorted((p for p in req.backend.network().list_ports() if p.device_id == server_id),
                      key=lambda p: p.index)


@route("GET", "/v2.1/servers/{server_id}/os-interface")
def list_interfaces(req: ApiRequest) -> dict:
    """The server's ports (Neutron's), as Nova's interface attachments."""
    row = _row(req)
    return {"interfaceAttachments": [_interface(req, p) for p in _server_ports(req, row["id"])]}


@route("GET", "/v2.1/servers/{server_id}/os-interface/{port_id}")
def show_interface(req: ApiRequest) -> dict:
    row = _row(req)
    for port in _server_ports(req, row["id"]):
        if port.id == req.params["port_id"]:
            return {"interfaceAttachment": _interface(req, port)}
    raise E.NotFound(f"Port {req.params['port_id']} is not attached to instance {row['id']}.")


# -- volume attachments (block storage: see compute_volumes) ------------------------------------------
def _attachable(req: ApiRequest) -> Merged:
    row = _row(req)
    m = _merged(req, row)
    _check_lock(req, row)
    _check_idle("attach_volume" if req.method == "POST" else "detach_volume", m)
    return m


@route("GET", "/v2.1/servers/{server_id}/os-volume_attachments")
def list_volume_attachments(req: ApiRequest) -> dict:
    """A server's volume attachments (the root volume of a server booted from one too)."""
    from .compute_volumes import attachment_doc, server_volumes
    row = _row(req)
    found = server_volumes(req.backend, row["id"])
    limit = req.query_int("limit", None, minimum=0)
    offset = req.query_int("offset", 0, minimum=0)
    found = found[offset:] if limit is None else found[offset:offset + limit]
    return {"volumeAttachments": [attachment_doc(req, row["id"], a) for a in found]}


@route("POST", "/v2.1/servers/{server_id}/os-volume_attachments")
def attach_volume(req: ApiRequest) -> dict:
    """Attach a volume: hot-plugged at once; the volume is in-use when this answers."""
    from .compute_volumes import attach
    m = _attachable(req)
    with library_errors():
        return {"volumeAttachment": attach(req, m.id, m.host, m.base_status, req.body)}


@route("GET", "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}")
def show_volume_attachment(req: ApiRequest) -> dict:
    from .compute_volumes import attachment_doc, find_attachment
    row = _row(req)
    return {"volumeAttachment": attachment_doc(req, row["id"],
                                               find_attachment(req, row["id"], req.params["volume_id"]))}


@route("PUT", "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}")
def update_volume_attachment(req: ApiRequest) -> Reply:
    """Only delete_on_termination (2.85); swapping volumes is not supported."""
    from .compute_volumes import update_attachment
    row = _row(req)
    _check_lock(req, row)
    update_attachment(req, row["id"], req.params["volume_id"], req.body)
    return Reply(None, status=202)


@route("DELETE", "/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}", status=202)
def detach_volume(req: ApiRequest) -> Reply:
    """Detach a volume: 202, the volume detaching until the guest lets it go, then available."""
    from .compute_volumes import detach
    m = _attachable(req)
    view = m.view
    detach(req, m.id, req.params["volume_id"], getattr(view, "root_volume_id", None))
    return Reply(None, status=202)


# keep the time helper importable for tests
__all__ = ["iso_usec"]
