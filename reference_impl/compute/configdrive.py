"""The config drive: the instance data an OpenStack guest reads at boot.

An ISO 9660 file system labelled ``config-2`` with, as Nova writes it,
``openstack/latest/meta_data.json`` (uuid, name, hostname, availability zone,
the keypair's public keys, the optional admin password), ``network_data.json``
(the NICs by MAC and MTU, and how each gets its addresses: ``ipv4_dhcp``,
``ipv6_slaac``) and ``user_data`` (verbatim). The rendering is pure; only
:func:`write_config_drive` runs a tool (``genisoimage``, else ``xorriso``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .errors import ComputeError, InvalidInput

LABEL = "config-2"
VERSION_DIRS = ("latest", "2018-08-27")
ISO_TIMEOUT = 60.0
MAX_USER_DATA = 65535  # Nova's limit (after base64 decoding)
_HOSTNAME_BAD = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class NicInfo:
    """What the guest needs to know about one of its NICs."""

    port_id: str
    mac: str
    mtu: int
    network_id: str
    ipv4_dhcp: bool = True
    ipv6_slaac: bool = False
    ipv4_address: str | None = None
    ipv6_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstanceData:
    uuid: str
    name: str
    hostname: str
    availability_zone: str = "nova"
    project_id: str = ""
    public_keys: Mapping[str, str] = field(default_factory=dict)
    admin_pass: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    user_data: bytes | None = None
    nics: Sequence[NicInfo] = ()
    dns_nameservers: Sequence[str] = ()


def hostname_for(name: str) -> str:
    """The guest hostname Nova derives from a server name: lower case, runs
    of characters other than letters, digits and '-' become '-', at most 63
    characters, never empty."""
    host = _HOSTNAME_BAD.sub("-", name.lower()).strip("-.")
    host = host[:63].strip("-")
    return host or "server"


def render_meta_data(data: InstanceData) -> dict:
    doc = {
        "uuid": data.uuid,
        "name": data.name,
        "hostname": data.hostname,
        "availability_zone": data.availability_zone,
        "project_id": data.project_id,
        "launch_index": 0,
        "meta": dict(data.metadata),
        "public_keys": dict(data.public_keys),
        "keys": [{"name": k, "type": "ssh", "data": v} for k, v in sorted(data.public_keys.items())],
        "devices": [],
    }
    if data.admin_pass is not None:
        doc["admin_pass"] = data.admin_pass
    return doc


def render_network_data(nics: Sequence[NicInfo], dns_nameservers: Sequence[str] = ()) -> dict:
    links, networks = [], []
    for i, nic in enumerate(nics):
        link_id = f"tap{nic.port_id.replace('-', '')[:11]}"
        links.append({"id": link_id, "vif_id": nic.port_id, "type": "bridge",
                      "ethernet_mac_address": nic.mac, "mtu": nic.mtu})
        if nic.ipv4_dhcp:
            net = {"id": f"network{len(networks)}", "type": "ipv4_dhcp", "link": link_id,
                   "network_id": nic.network_id}
            if nic.ipv4_address:
                net["ip_address"] = nic.ipv4_address
            networks.append(net)
        if nic.ipv6_slaac:
            net = {"id": f"network{len(networks)}", "type": "ipv6_slaac", "link": link_id,
                   "network_id": nic.network_id}
            if nic.ipv6_addresses:
                net["ip_address"] = nic.ipv6_addresses[0]
            networks.append(net)
    services = [{"type": "dns", "address": a} for a in dns_nameservers]
    return {"links": links, "networks": networks, "services": services}


def render_files(data: InstanceData) -> dict[str, bytes]:
    """Every file of the drive, by path."""
    if data.user_data is not None and len(data.user_data) > MAX_USER_DATA:
        raise InvalidInput(f"user data is {len(data.user_data)} bytes; at most {MAX_USER_DATA} are allowed")
    meta = json.dumps(render_meta_data(data), sort_keys=True).encode()
    net = json.dumps(render_network_data(data.nics, data.dns_nameservers), sort_keys=True).encode()
    files: dict[str, bytes] = {}
    for version in VERSION_DIRS:
        base = f"openstack/{version}"
        files[f"{base}/meta_data.json"] = meta
        files[f"{base}/network_data.json"] = net
        files[f"{base}/vendor_data.json"] = b"{}"
        files[f"{base}/vendor_data2.json"] = b"{}"
        if data.user_data is not None:
            files[f"{base}/user_data"] = data.user_data
    return files


def write_config_drive(data: InstanceData, output: Path) -> Path:
    """Write the drive as an ISO 9660 image at ``output``."""
    tool = shutil.which("genisoimage") or shutil.which("xorriso")
    if tool is None:
        raise ComputeError("neither genisoimage nor xorriso is installed (Debian package genisoimage): "
                           "the config drive is an ISO 9660 image")
    with tempfile.TemporaryDirectory(prefix="configdrive-") as tmp:
        root = Path(tmp)
        for path, content in render_files(data).items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        tmp_out = output.with_suffix(".tmp")
        argv = ["-o", str(tmp_out), "-V", LABEL, "-J", "-r", "-quiet", "-input-charset", "utf-8", str(root)]
        argv = [tool, *argv] if tool.endswith("genisoimage") else [tool, "-as", "mkisofs", *argv]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=ISO_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise ComputeError(f"{tool} timed out after {ISO_TIMEOUT:g} s") from exc
        if proc.returncode != 0:
            raise ComputeError(f"{tool} failed: {proc.stderr.strip()[-500:]}")
        tmp_out.replace(output)
    return output
