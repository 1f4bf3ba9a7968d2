"""The perf suite's side of the cloud: servers booted for measuring, through
openstacksdk, every resource run-tagged and registered for deletion.

:class:`PerfCloud` resolves the image, flavor and network once, makes a
keypair and a security group that lets the prober in (ICMP, SSH, iperf3),
and hands out :class:`ServerBoot` objects — the :class:`~octoprobe.perf.boot.BootSteps`
of one server — and the volume, floating IP and placement helpers the
storage and network tests need. Placement uses Nova's scheduler hints
(``same_host`` / ``different_host``) and is checked with ``hostId``, which
every user sees: a cloud that ignores the hints makes the test skip, saying so.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import paramiko

from octoprobe.perf.guest import GuestShell, ssh_ready
from octoprobe.remote import load_private_key
from octoprobe.resources import ResourceRegistry, RunTag

__all__ = ["PerfSettings", "PerfCloud", "ServerBoot", "PerfError", "IPERF_PORT", "USERDATA_MARKER"]

IPERF_PORT = 5201
USERDATA_MARKER = "/run/octoprobe-perf-userdata-done"
API_WAIT = 300.0


class PerfError(AssertionError):
    pass


@dataclass(frozen=True)
class PerfSettings:
    image: str | None = None  # name or id; None: the first active image named like octoprobe-perf, else error
    flavor: str | None = None  # name or id; None: the smallest that fits the image
    network: str | None = None  # name or id; None: the project's network with subnets
    ssh_user: str = "root"
    address: str = "auto"  # auto | ipv4 | ipv6
    boot_timeout: float = 300.0
    poll: float = 0.25


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _ping(address: str, timeout: float = 1.0) -> bool:
    family = "-6" if ipaddress.ip_address(address).version == 6 else "-4"
    try:
        proc = subprocess.run(["ping", family, "-c", "1", "-W", f"{timeout:g}", address],
                              capture_output=True, timeout=timeout + 2)
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return False
    return proc.returncode == 0


def addresses(server: Any, kind: str | None = None) -> list[str]:
    """The server's addresses (``fixed`` or ``floating`` when kind is given)."""
    out = []
    for entries in (_get(server, "addresses") or {}).values():
        for entry in entries:
            if kind is None or entry.get("OS-EXT-IPS:type", "fixed") == kind:
                out.append(entry["addr"])
    return out


def pick_address(server: Any, preference: str) -> str | None:
    """The fixed address the prober uses: IPv6 first for ``auto`` (the
    reference cloud routes its tenants' IPv6 prefixes to the machine), IPv4
    otherwise; a floating IP wins when the server has one."""
    floating = addresses(server, "floating")
    if floating:
        return floating[0]
    fixed = addresses(server, "fixed")
    v4 = [a for a in fixed if ipaddress.ip_address(a).version == 4]
    v6 = [a for a in fixed if ipaddress.ip_address(a).version == 6 and not ipaddress.ip_address(a).is_link_local]
    order = {"auto": v6 + v4, "ipv6": v6, "ipv4": v4}[preference]
    return order[0] if order else None


class PerfCloud:
    def __init__(self, conn: Any, run: RunTag, registry: ResourceRegistry, settings: PerfSettings):
        self.conn = conn
        self.run = run
        self.registry = registry
        self.settings = settings
        self.image = self._image()
        self.flavor = self._flavor()
        self.network = self._network()
        self.keypair, self.pkey = self._keypair()
        self.security_group = self._security_group()

    def using(self, registry: ResourceRegistry) -> "PerfCloud":
        """The same cloud, registering what it makes in ``registry`` (a test's or a module's)."""
        clone = copy.copy(self)
        clone.registry = registry
        return clone

    # -- resolution -------------------------------------------------------------
    def _image(self) -> Any:
        wanted = self.settings.image
        images = [i for i in self.conn.image.images() if _get(i, "status") == "active"]
        if wanted:
            match = [i for i in images if wanted in (i.id, i.name)]
            if not match:
                raise PerfError(f"no active image {wanted!r} on the cloud (images: "
                                f"{', '.join(sorted({i.name for i in images})) or 'none'})")
            return match[0]
        match = [i for i in images if (i.name or "").startswith("octoprobe-perf")]
        if not match:
            raise PerfError("no perf image: give --perf-image NAME (an image with fio and iperf3 whose user "
                            "logs in with the keypair); the reference cloud ships `octoprobe-perf`")
        return match[0]

    def _flavor(self) -> Any:
        flavors = list(self.conn.compute.flavors(details=True))
        wanted = self.settings.flavor
        if wanted:
            match = [f for f in flavors if wanted in (f.id, f.name)]
            if not match:
                raise PerfError(f"no flavor {wanted!r} (flavors: {', '.join(sorted(f.name for f in flavors))})")
            return match[0]
        min_disk = _get(self.image, "min_disk") or 0
        min_ram = _get(self.image, "min_ram") or 0
        size_gb = -(-(_get(self.image, "size") or 0) // 2**30)
        fits = [f for f in flavors if f.disk >= max(min_disk, size_gb) and f.ram >= max(min_ram, 128)]
        if not fits:
            raise PerfError(f"no flavor fits image {self.image.name}: give --perf-flavor")
        return min(fits, key=lambda f: (f.ram, f.vcpus, f.disk))

    def _network(self) -> Any:
        wanted = self.settings.network
        project = self.conn.current_project_id
        nets = [n for n in self.conn.network.networks() if not _get(n, "is_router_external")]
        if wanted:
            match = [n for n in nets if wanted in (n.id, n.name)]
            if not match:
                raise PerfError(f"no network {wanted!r} visible to the project")
            return match[0]
        own = [n for n in nets if n.project_id == project and n.subnet_ids]
        if len(own) != 1:
            raise PerfError(f"the project has {len(own)} networks with subnets: give --perf-network NAME")
        return own[0]

    # -- run-tagged resources ---------------------------------------------------
    def _keypair(self) -> tuple[Any, paramiko.PKey]:
        key = new_ed25519_key()
        public = f"{key.get_name()} {key.get_base64()}"
        keypair = self.conn.compute.create_keypair(name=self.run.name("perf-key"), public_key=public)
        self.registry.track(keypair, lambda k: self.conn.compute.delete_keypair(k, ignore_missing=True),
                            f"keypair {keypair.name}")
        return keypair, key

    def _security_group(self) -> Any:
        net = self.conn.network
        group = net.create_security_group(name=self.run.name("perf-sg"),
                                          description=self.run.description("perf: ICMP, SSH, iperf3"))
        self.registry.track(group, lambda g: net.delete_security_group(g, ignore_missing=True),
                            f"security group {group.name}")
        for ethertype in ("IPv4", "IPv6"):
            icmp = "icmp" if ethertype == "IPv4" else "ipv6-icmp"
            net.create_security_group_rule(security_group_id=group.id, direction="ingress", ethertype=ethertype,
                                           protocol=icmp)
            for port in (22, IPERF_PORT):
                net.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                               ethertype=ethertype, protocol="tcp", port_range_min=port,
                                               port_range_max=port)
        return group

    # -- servers ------------------------------------------------------------------
    def boot(self, kind: str, *, user_data: str | None = None, boot_volume_gb: int | None = None,
             hints: Mapping[str, Any] | None = None) -> "ServerBoot":
        return ServerBoot(self, kind, user_data=user_data, boot_volume_gb=boot_volume_gb, hints=hints)

    def server(self, server_id: str) -> Any:
        return self.conn.compute.get_server(server_id)

    def shell(self, server: Any) -> GuestShell:
        address = pick_address(server, self.settings.address)
        if address is None:
            raise PerfError(f"server {server.id} has no {self.settings.address} address")
        return GuestShell(address, self.settings.ssh_user, self.pkey)

    def delete_server(self, server_id: str) -> None:
        compute = self.conn.compute
        compute.delete_server(server_id, ignore_missing=True)
        deadline = time.monotonic() + API_WAIT
        while compute.find_server(server_id, ignore_missing=True) is not None:
            if time.monotonic() > deadline:
                raise PerfError(f"server {server_id} still there {API_WAIT:g} s after its delete")
            time.sleep(0.5)

    # -- volumes ------------------------------------------------------------------
    def attach_volume(self, server: Any, size_gb: int) -> tuple[Any, str]:
        """A new run-tagged volume attached to ``server``; (volume, device as the API says)."""
        bs = self.conn.block_storage
        volume = bs.create_volume(size=size_gb, name=self.run.name("perf-vol"),
                                  description=self.run.description("perf"), metadata=self.run.metadata)
        self.registry.track(volume, self._delete_volume, f"volume {volume.id}")
        bs.wait_for_status(volume, status="available", failures=["error"], interval=0.5, wait=API_WAIT)
        attachment = self.conn.compute.create_volume_attachment(server, volume_id=volume.id)
        self.registry.add(f"attachment of {volume.id}", lambda: self._detach(server.id, volume.id))
        bs.wait_for_status(volume, status="in-use", failures=["error", "error_attaching"], interval=0.5,
                           wait=API_WAIT)
        return volume, attachment.device

    def _detach(self, server_id: str, volume_id: str) -> None:
        try:
            self.conn.compute.delete_volume_attachment(server_id, volume_id, ignore_missing=True)
        except Exception:
            pass  # the server may be gone already, which detaches it
        bs = self.conn.block_storage
        deadline = time.monotonic() + API_WAIT
        while time.monotonic() < deadline:
            volume = bs.get_volume(volume_id)
            if volume.status in ("available", "error"):
                return
            time.sleep(0.5)

    def _delete_volume(self, volume: Any) -> None:
        bs = self.conn.block_storage
        bs.delete_volume(volume, ignore_missing=True)
        bs.wait_for_delete(volume, interval=0.5, wait=API_WAIT)

    # -- floating IPs -------------------------------------------------------------
    def floating_ip(self, server: Any) -> str:
        """A run-tagged floating IP from the (only) external network, on the server's port."""
        net = self.conn.network
        externals = [n for n in net.networks(is_router_external=True)]
        if not externals:
            raise PerfError("the cloud has no external network: no floating IP")
        ports = list(net.ports(device_id=server.id))
        if not ports:
            raise PerfError(f"server {server.id} has no port")
        fip = net.create_ip(floating_network_id=externals[0].id, port_id=ports[0].id,
                            description=self.run.description("perf"))
        self.registry.track(fip, lambda f: net.delete_ip(f, ignore_missing=True),
                            f"floating IP {fip.floating_ip_address}")
        return fip.floating_ip_address


class ServerBoot:
    """The boot steps of one server (see :class:`octoprobe.perf.boot.BootSteps`)."""

    def __init__(self, cloud: PerfCloud, kind: str, *, user_data: str | None = None,
                 boot_volume_gb: int | None = None, hints: Mapping[str, Any] | None = None,
                 ping: Callable[[str], bool] = _ping):
        self.cloud = cloud
        self.kind = kind
        self.user_data = user_data
        self.boot_volume_gb = boot_volume_gb
        self.hints = dict(hints or {})
        self._ping = ping
        self.server_id: str | None = None

    def create(self) -> str:
        c = self.cloud
        attrs: dict[str, Any] = dict(
            name=c.run.name(f"perf-{self.kind}"), flavor_id=c.flavor.id, key_name=c.keypair.name,
            networks=[{"uuid": c.network.id}], security_groups=[{"name": c.security_group.name}],
            metadata=c.run.metadata)
        if self.boot_volume_gb:
            attrs["block_device_mapping"] = [{
                "boot_index": 0, "uuid": c.image.id, "source_type": "image", "destination_type": "volume",
                "volume_size": self.boot_volume_gb, "delete_on_termination": True}]
        else:
            attrs["image_id"] = c.image.id
        if self.user_data is not None:
            attrs["user_data"] = base64.b64encode(self.user_data.encode()).decode()
        if self.hints:
            attrs["scheduler_hints"] = self.hints
        server = c.conn.compute.create_server(**attrs)
        self.server_id = server.id
        c.registry.add(f"server {server.id}", lambda sid=server.id: c.delete_server(sid))
        return server.id

    def server(self, server_id: str) -> Mapping[str, Any]:
        server = self.cloud.conn.compute.get_server(server_id)
        fault = _get(server, "fault")
        return {"status": server.status, "fault": fault, "addresses": server.addresses, "_obj": server}

    def address(self, server: Mapping[str, Any]) -> str | None:
        return pick_address(server, self.cloud.settings.address)

    def ping(self, address: str) -> bool:
        return self._ping(address)

    def ssh(self, address: str) -> bool:
        return ssh_ready(address, self.cloud.settings.ssh_user, self.cloud.pkey)

    def userdata_done(self, address: str) -> bool | None:
        if self.user_data is None:
            return None
        try:
            code, _, _ = GuestShell(address, self.cloud.settings.ssh_user, self.cloud.pkey,
                                    connect_timeout=5)(["test", "-e", USERDATA_MARKER], 10)
        except (paramiko.SSHException, OSError, EOFError, TimeoutError):
            return False
        return code == 0


def userdata_script() -> str:
    """User data that marks when it ran (what the ``userdata`` phase waits for)."""
    return f"#!/bin/sh\ntouch {USERDATA_MARKER}\n"


def new_ed25519_key() -> paramiko.PKey:
    """A fresh Ed25519 key for the run's keypair (the private half never leaves the process)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return load_private_key(pem.decode())
