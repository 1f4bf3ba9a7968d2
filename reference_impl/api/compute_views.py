"""How Nova shows a server: the SQLite record (ownership, request, tags,
lock, task) merged with what the compute library says now (status, host,
addresses), shaped per microversion."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from .compute_base import mv, self_links
from .db import iso
from .routing import ApiRequest

# Nova's status for a vm_state and a task_state (nova.api.openstack.common)
TASK_STATUS = {
    "rebooting": "REBOOT", "reboot_pending": "REBOOT", "reboot_started": "REBOOT",
    "rebooting_hard": "HARD_REBOOT", "reboot_pending_hard": "HARD_REBOOT", "reboot_started_hard": "HARD_REBOOT",
    "rebuilding": "REBUILD", "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD",
    "resize_prep": "RESIZE", "resize_migrating": "RESIZE", "resize_migrated": "RESIZE", "resize_finish": "RESIZE",
    "resize_reverting": "REVERT_RESIZE",
}
VM_STATE = {"ACTIVE": "active", "BUILD": "building", "SHUTOFF": "stopped", "PAUSED": "paused", "ERROR": "error",
            "DELETED": "deleted", "VERIFY_RESIZE": "resized"}
VALID_STATUSES = ("ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "MIGRATING", "PASSWORD", "PAUSED",
                  "REBOOT", "REBUILD", "RESCUE", "RESIZE", "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED",
                  "SHUTOFF", "SOFT_DELETED", "SUSPENDED", "UNKNOWN", "VERIFY_RESIZE")


def iso_usec(ts: float | None) -> str | None:
    """Nova's ``2013-09-23T13:53:12.000000`` (launched_at, actions)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e6):06d}"


class Merged:
    """One server: its row and the compute library's view (None while it is
    being built or when the build failed)."""

    def __init__(self, row: dict, view: Any, tags: list[str]):
        self.row = row
        self.view = view
        self.tags = tags

    @property
    def id(self) -> str:
        return self.row["id"]

    @property
    def base_status(self) -> str:
        row, view = self.row, self.view
        if row["deleted"] == 2:
            return "DELETED"
        if row["build_state"] == "failed":
            return "ERROR"
        if row["build_state"] == "building" or view is None:
            return "BUILD" if row["build_state"] == "building" else "ERROR"
        return view.status

    @property
    def status(self) -> str:
        base = self.base_status
        task = self.task_state
        if base in ("ACTIVE", "SHUTOFF", "ERROR", "PAUSED", "VERIFY_RESIZE") and task in TASK_STATUS:
            return TASK_STATUS[task]
        return base

    @property
    def vm_state(self) -> str:
        return VM_STATE.get(self.base_status, "error")

    @property
    def task_state(self) -> str | None:
        row = self.row
        if row["build_state"] == "building":
            return "spawning" if self.view is not None else "scheduling"
        if row["task_state"]:
            return row["task_state"]
        return self.view.task_state if self.view is not None else None

    @property
    def power_state(self) -> int:
        if self.view is None or self.row["build_state"] != "done" or self.row["deleted"] == 2:
            return 0
        return self.view.power_state

    @property
    def host(self) -> str | None:
        return self.view.host if self.view is not None else None

    @property
    def fault(self) -> dict | None:
        if self.base_status != "ERROR":
            return None
        if self.row["fault"]:
            return self.row["fault"]
        message = (self.view.fault if self.view is not None else None) or \
            "the server's compute record is gone"
        return {"code": 500, "message": message, "created": iso(self.row["updated_at"]), "details": message}


def network_names(req: ApiRequest) -> dict[str, str]:
    try:
        return {n.id: n.name or n.id for n in req.backend.network().list_networks()}
    except Exception:  # the network library unreachable: show ids
        return {}


def floating_by_port(req: ApiRequest) -> dict[str, list]:
    result: dict[str, list] = {}
    try:
        for fip in req.backend.network().list_floating_ips():
            if fip.port_id:
                result.setdefault(fip.port_id, []).append(fip.floating_ip_address)
    except Exception:
        pass
    return result


def addresses(m: Merged, names: dict[str, str], fips: dict[str, list]) -> dict:
    if m.view is None:
        return {}
    result: dict[str, list] = {}
    port_of_mac = {n.get("mac"): n.get("port_id") for n in (m.view.nics or [])}
    for net_id, addrs in m.view.addresses.items():
        label = names.get(net_id, net_id)
        out = result.setdefault(label, [])
        for a in addrs:
            out.append({"version": a["version"], "addr": a["addr"], "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": a["mac"]})
        for mac in dict.fromkeys(a["mac"] for a in addrs):
            for fip in fips.get(port_of_mac.get(mac), []):
                out.append({"version": 4, "addr": fip, "OS-EXT-IPS:type": "floating",
                            "OS-EXT-IPS-MAC:mac_addr": mac})
    return result


def _volumes_attached(req: Any, server_id: str) -> list[dict]:
    from .compute_volumes import volumes_attached
    return volumes_attached(req, server_id)


def host_id(project_id: str, host: str | None) -> str:
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def flavor_doc(req: ApiRequest, flavor: dict) -> dict:
    if not mv(req, "2.47"):
        fid = str(flavor.get("id", ""))
        return {"id": fid, "links": [{"rel": "bookmark", "href": f"{req.base_url}/flavors/{fid}"}]}
    doc = {"vcpus": int(flavor.get("vcpus", 0)), "ram": int(flavor.get("ram_mb", 0)),
           "disk": int(flavor.get("disk_gb", 0)), "ephemeral": 0, "swap": 0,
           "original_name": flavor.get("name", "")}
    if mv(req, "2.61"):
        doc["extra_specs"] = {}
    return doc


def server_brief(req: ApiRequest, m: Merged) -> dict:
    return {"id": m.id, "name": m.row["name"], "links": self_links(req, "servers", m.id)}


def server_detail(req: ApiRequest, m: Merged, *, names: dict | None = None, fips: dict | None = None,
                  show: bool = False) -> dict:
    """The full server document (show, list detail, update and rebuild)."""
    row, view = m.row, m.view
    ctx = req.context
    names = network_names(req) if names is None else names
    fips = floating_by_port(req) if fips is None else fips
    status = m.status
    image_id = row["image_id"]
    doc: dict[str, Any] = {
        "id": m.id, "name": row["name"], "status": status, "tenant_id": row["project_id"],
        "user_id": row["user_id"], "metadata": dict(row["metadata"]), "hostId": host_id(row["project_id"], m.host),
        "image": ({"id": image_id, "links": [{"rel": "bookmark", "href": f"{req.base_url}/images/{image_id}"}]}
                  if image_id else ""),  # "" for a server booted from a volume, as Nova
        "flavor": flavor_doc(req, row["flavor"]),
        "created": iso(row["created_at"]), "updated": iso(row["updated_at"]),
        "addresses": addresses(m, names, fips),
        "accessIPv4": row["access_ipv4"], "accessIPv6": row["access_ipv6"],
        "links": self_links(req, "servers", m.id),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": (view.availability_zone if view is not None
                                        else (row["availability_zone"] or "")),
        "config_drive": "True",
        "key_name": row["key_name"],
        "OS-SRV-USG:launched_at": iso_usec(view.launched_at) if view is not None else None,
        "OS-SRV-USG:terminated_at": None,
        "OS-EXT-STS:task_state": m.task_state,
        "OS-EXT-STS:vm_state": m.vm_state,
        "OS-EXT-STS:power_state": m.power_state,
        "os-extended-volumes:volumes_attached": _volumes_attached(req, m.id),
    }
    if row["security_groups"] is not None and m.base_status != "ERROR":
        doc["security_groups"] = [{"name": n} for n in row["security_groups"]]
    if status in ("ACTIVE", "BUILD", "REBUILD"):
        doc["progress"] = 0
    fault = m.fault
    if fault is not None:
        shown = {"code": fault.get("code", 500), "message": fault.get("message", ""),
                 "created": fault.get("created")}
        if ctx.is_admin and fault.get("details"):
            shown["details"] = fault["details"]
        doc["fault"] = shown
    if ctx.is_admin:
        doc["OS-EXT-SRV-ATTR:host"] = m.host
        doc["OS-EXT-SRV-ATTR:hypervisor_hostname"] = m.host
        doc["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{m.id[:8]}"
        if mv(req, "2.3"):
            doc.update({
                "OS-EXT-SRV-ATTR:reservation_id": row["reservation_id"],
                "OS-EXT-SRV-ATTR:launch_index": row["launch_index"],
                "OS-EXT-SRV-ATTR:hostname": view.hostname if view is not None else None,
                "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": row["user_data"],
            })
        if mv(req, "2.16"):
            doc["host_status"] = "UP" if m.host else ""
    if mv(req, "2.9"):
        doc["locked"] = bool(row["locked"])
    if mv(req, "2.73"):
        doc["locked_reason"] = row["locked_reason"] if row["locked"] else None
    if mv(req, "2.19"):
        doc["description"] = row["description"]
    if mv(req, "2.26"):
        doc["tags"] = list(m.tags)
    if mv(req, "2.63"):
        doc["trusted_image_certificates"] = None
    if show and mv(req, "2.71"):
        doc["server_groups"] = []
    return doc


# what update and rebuild answer before 2.75 (Nova's view without the extensions)
_UPDATE_KEYS = ("id", "name", "status", "image", "flavor", "fault", "user_id", "tenant_id", "created", "updated",
                "progress", "metadata", "links", "addresses", "hostId", "OS-DCF:diskConfig", "accessIPv4",
                "accessIPv6", "locked", "locked_reason", "description", "tags", "trusted_image_certificates",
                "server_groups")


def server_update_doc(req: ApiRequest, m: Merged) -> dict:
    """The server as PUT /servers/{id} and rebuild answer: everything GET
    shows from 2.75 on, Nova's basic view before."""
    doc = server_detail(req, m, show=True)
    if mv(req, "2.75"):
        return doc
    doc = {k: v for k, v in doc.items() if k in _UPDATE_KEYS}
    if not mv(req, "2.71"):
        doc.pop("server_groups", None)
    doc["addresses"] = {net: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
                        for net, addrs in doc["addresses"].items()}
    return doc
