"""The hypervisor driver: servers as QEMU processes booted from RBD clones.

:class:`ComputeService` is what the API layer drives (Nova's operations, in
the shapes of its library): flavors, images, servers and their actions. For
each server

* placement chooses a compute host (:mod:`.placement`),
* its root disk is an RBD copy-on-write clone ``vms/<server id>_disk`` of its
  image's protected snapshot, grown to the flavor's disk, read by QEMU's rbd
  driver — never copied to a local disk; or, booted from a volume, that
  volume's RBD image as it is (``root_volume``: not owned by the server,
  neither cloned nor removed with it),
* its NICs are the ports' taps on the tenant bridges of that host (the network
  library makes them when the port is bound there), with the ports' MACs,
* a config drive (:mod:`.configdrive`) carries its instance data,
* one QEMU runs inside the host's namespace, with its serial console in a
  log file and a QMP socket for every action; the server's status is read
  back from QEMU (``query-status``), and a QEMU that died on its own shows as
  ERROR.

Records live in ``<state>/compute/state.json`` (:mod:`.model`), so separate
processes agree; every operation on one server holds that server's lock.
Bad input raises an exception from :mod:`.errors` before anything is made; a
failure half-way undoes what the operation made.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from octoprobe.ceph import RbdClient
from octoprobe.shell import CommandError, LocalRunner

from .. import processes
from ..topology import Topology
from . import errors as E
from .configdrive import InstanceData, NicInfo, hostname_for, write_config_drive
from .guest_image import (
    DEFAULT_VARIANT,
    GUEST_VARIANTS,
    GuestArtifacts,
    GuestImageBuilder,
    GuestVariant,
    default_cache_dir,
    image_label,
)
from .model import (
    ACTIVE,
    BUILDING,
    ERROR,
    GiB,
    PAUSED,
    RESIZED,
    STOPPED,
    ComputeState,
    ComputeStore,
    Flavor,
    Image,
    NicRecord,
    RootVolume,
    Server,
    VolumeAttachment,
)
from .placement import HostLoad, choose_host
from .qemu import (
    DriveSpec,
    NicSpec,
    VmSpec,
    choose_accel,
    find_qemu_under,
    qemu_argv,
    qemu_pid,
    rbd_file,
)
from .qmp import QMPClient

IMAGES_POOL = "images"
VMS_POOL = "vms"
VOLUMES_POOL = "volumes"
IMAGE_SNAP = "snap"
GUEST_IMAGE_NAME = DEFAULT_VARIANT.name  # "octoprobe-guest"
GUEST_BUILD_SOURCE = "guest-build"  # Image.source of a build of the default guest: "guest-build <key>"
VARIANT_BUILD_SOURCE = "variant-build"  # of another variant: "variant-build <name> <key>"
DEFAULT_HOST_RAM_MB = 4096
HOST_RAM_ENV = "OCTOPROBE_COMPUTE_RAM_MB"
QEMU_START_TIMEOUT = 60.0
QMP_TIMEOUT = 10.0
STOP_TIMEOUT = 60.0
POWERDOWN_RETRY = 5.0  # seconds between two presses of the ACPI power button
RBD_TIMEOUT = 120.0
UNPLUG_RETRY = 5.0  # seconds between device_del requests to a guest that has not released a disk
READY_MARK = "OCTOPROBE-GUEST-READY"
DEFAULT_FLAVORS = (
    # id, name, vCPUs, RAM MiB, disk GiB
    ("1", "m1.nano", 1, 128, 1),
    ("2", "m1.micro", 1, 192, 1),
    ("3", "m1.tiny", 1, 256, 1),
    ("4", "m1.small", 1, 512, 2),
    ("5", "m1.medium", 2, 1024, 4),
)

# Nova's power states
NOSTATE, RUNNING, PAUSED_POWER, SHUTDOWN, CRASHED = 0, 1, 3, 4, 6
POWER_NAMES = {NOSTATE: "NOSTATE", RUNNING: "RUNNING", PAUSED_POWER: "PAUSED", SHUTDOWN: "SHUTDOWN",
               CRASHED: "CRASHED"}


@dataclass(frozen=True)
class ServerStatus:
    status: str  # Nova's: BUILD, ACTIVE, PAUSED, SHUTOFF, ERROR
    power_state: int
    fault: str | None = None


def derive_status(vm_state: str, qemu_alive: bool, run_state: str | None, fault: str | None = None,
                  task_state: str | None = None) -> ServerStatus:
    """The server's status from its record and what QEMU says (pure).

    ``run_state`` is QMP's ``query-status`` status, None when QMP did not answer.
    While a task that stops QEMU runs (``task_state``, e.g. powering-off), a
    QEMU that is exiting or gone is that task at work, not a crash."""
    if vm_state == ERROR:
        return ServerStatus("ERROR", RUNNING if qemu_alive else SHUTDOWN, fault)
    if vm_state == RESIZED and task_state is None:
        return ServerStatus("VERIFY_RESIZE", RUNNING if qemu_alive and run_state == "running" else SHUTDOWN)
    if task_state is not None and (not qemu_alive or run_state is None) and vm_state != BUILDING:
        return ServerStatus({STOPPED: "SHUTOFF", RESIZED: "VERIFY_RESIZE"}.get(vm_state, "ACTIVE"), NOSTATE)
    if not qemu_alive:
        if vm_state == BUILDING:
            return ServerStatus("BUILD", NOSTATE)
        if vm_state == STOPPED:
            return ServerStatus("SHUTOFF", SHUTDOWN)
        return ServerStatus("ERROR", CRASHED, fault or "the QEMU process of this server exited on its own")
    if run_state is None:
        return ServerStatus("BUILD" if vm_state == BUILDING else "ERROR", NOSTATE,
                            None if vm_state == BUILDING else "QEMU does not answer on its QMP socket")
    if run_state in ("internal-error", "io-error", "guest-panicked"):
        return ServerStatus("ERROR", CRASHED, f"QEMU reports {run_state}")
    if run_state == "shutdown":
        return ServerStatus("SHUTOFF", SHUTDOWN)
    if vm_state == BUILDING:
        return ServerStatus("BUILD", RUNNING if run_state == "running" else NOSTATE)
    if run_state == "running":
        return ServerStatus("ACTIVE", RUNNING)
    if run_state in ("paused", "suspended"):
        return ServerStatus("PAUSED", PAUSED_POWER)
    return ServerStatus("ACTIVE" if vm_state == ACTIVE else "BUILD", NOSTATE)


@dataclass
class ServerView:
    """A server as the API shows it: the record plus what QEMU says now."""

    id: str
    name: str
    hostname: str
    status: str
    power_state: int
    vm_state: str
    task_state: str | None
    host: str
    availability_zone: str
    flavor: dict
    image_id: str
    addresses: dict  # network id -> [{"addr", "version", "mac"}]
    nics: list
    volumes: list
    disk: str  # pool/image of the root disk
    qemu_pid: int | None
    fault: str | None
    created_at: float
    launched_at: float | None
    phases: dict = field(default_factory=dict)
    key_name: str | None = None
    metadata: dict = field(default_factory=dict)
    root_volume_id: str | None = None  # booted from this volume (its RBD image is the root disk)

    @property
    def ipv4(self) -> list[str]:
        return [a["addr"] for addrs in self.addresses.values() for a in addrs if a["version"] == 4]

    @property
    def ipv6(self) -> list[str]:
        return [a["addr"] for addrs in self.addresses.values() for a in addrs if a["version"] == 6]


def parse_ready_line(line: str) -> dict[str, str]:
    """``OCTOPROBE-GUEST-READY hostname=h uptime=2.8 ipv4=a/24 ipv6=b/64`` → fields."""
    fields = {}
    for word in line.split()[1:]:
        key, sep, value = word.partition("=")
        if sep:
            fields[key] = value
    return fields


_PHASE_RE = re.compile(r"octoprobe-guest: (userspace started|network up|sshd started)[^\n]* at ([0-9.]+)s")


def parse_guest_phases(console: str) -> dict[str, float]:
    """The guest's own timestamps (seconds of guest uptime) from the last boot
    in a console log: userspace, network, sshd, ready."""
    last = console.rfind("octoprobe-guest: userspace started")
    if last < 0:
        return {}
    text = console[last:]
    names = {"userspace started": "userspace", "network up": "network", "sshd started": "sshd"}
    phases = {names[m.group(1)]: float(m.group(2)) for m in _PHASE_RE.finditer(text)}
    for line in text.splitlines():
        if line.startswith(READY_MARK):
            up = parse_ready_line(line).get("uptime")
            if up:
                phases["ready"] = float(up)
            break
    return phases


class ComputePaths:
    def __init__(self, state_dir: Path):
        self.root = Path(state_dir) / "compute"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def boot(self) -> Path:
        return self.root / "boot"

    def vm_dir(self, server_id: str) -> Path:
        return self.root / "vms" / server_id

    def qmp(self, server_id: str) -> Path:
        return self.vm_dir(server_id) / "qmp.sock"

    def console(self, server_id: str) -> Path:
        return self.vm_dir(server_id) / "console.log"

    def pid_file(self, server_id: str) -> Path:
        return self.vm_dir(server_id) / "qemu.pid"

    def config_drive(self, server_id: str) -> Path:
        return self.vm_dir(server_id) / "config-drive.iso"

    def vm_lock(self, server_id: str) -> Path:
        return self.root / "locks" / f"{server_id}.lock"


class ComputeService:
    """The compute layer of one reference cloud."""

    def __init__(
        self,
        topology: Topology,
        prefix: str,
        state_dir: str | Path,
        *,
        ceph_conf: str | Path | None = None,
        network=None,
        cache_dir: Path | None = None,
        progress: Callable[[str], None] = lambda msg: None,
    ):
        self.topology = topology
        self.prefix = prefix
        self.state_dir = Path(state_dir)
        self.paths = ComputePaths(self.state_dir)
        self.store = ComputeStore(self.paths.state, self.paths.lock)
        self.ceph_conf = str(ceph_conf or self.state_dir / "ceph" / "ceph.conf")
        self.rbd = RbdClient(LocalRunner(), conf=self.ceph_conf, timeout=RBD_TIMEOUT)
        self._network = network
        self.cache_dir = cache_dir
        self.progress = progress
        self._accel: str | None = None
        self._vm_locks: dict[str, threading.Lock] = {}
        self._vm_locks_guard = threading.Lock()

    # ------------------------------------------------------------------ plumbing
    @property
    def network(self):
        if self._network is None:
            from ..network import NetworkPlane
            self._network = NetworkPlane(self.topology, self.prefix, self.state_dir)
        return self._network

    def netns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def _host_ram_default(self) -> int:
        value = os.environ.get(HOST_RAM_ENV)
        return int(value) if value and value.isdigit() else DEFAULT_HOST_RAM_MB

    @contextmanager
    def _server_lock(self, server_id: str, timeout: float = 600.0) -> Iterator[None]:
        """One operation at a time on a server: across threads and processes."""
        with self._vm_locks_guard:
            tlock = self._vm_locks.setdefault(server_id, threading.Lock())
        if not tlock.acquire(timeout=timeout):
            raise E.Conflict(f"server {server_id} is busy with another operation")
        try:
            path = self.paths.vm_lock(server_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise E.Conflict(f"server {server_id} is busy with another operation") from None
                        time.sleep(0.05)
                yield
            finally:
                os.close(fd)
        finally:
            tlock.release()

    def _record(self, server_id: str) -> Server:
        server = self.store.load().servers.get(server_id)
        if server is None:
            raise E.ServerNotFound(f"server {server_id} does not exist")
        return server

    @contextmanager
    def _task(self, server: Server, task_state: str) -> Iterator[None]:
        """Record a task that stops or resets QEMU while it runs, so a view taken
        meanwhile does not read the exiting QEMU as a crash; cleared if it fails."""
        server.task_state = task_state
        self._save_server(server)
        try:
            yield
        except BaseException:
            server.task_state = None
            self._save_server(server)
            raise

    def _save_server(self, server: Server) -> None:
        with self.store.update() as state:
            if server.id in state.servers:
                state.servers[server.id] = server

    def accel(self) -> str:
        """KVM or TCG, detected once (see :func:`.qemu.choose_accel`)."""
        if self._accel is None:
            image = next(iter(self.store.load().images.values()), None)
            if image is None:
                raise E.ComputeError("no image registered yet: run ensure_guest_image() first")
            choice = choose_accel(image.kernel, image.initrd)
            self.progress(f"compute: accelerator {choice.accel} ({choice.reason})")
            self._accel = choice.accel
        return self._accel

    # ------------------------------------------------------------------ flavors
    def _seed_flavors(self, state: ComputeState) -> None:
        if not state.flavors:
            for fid, name, vcpus, ram, disk in DEFAULT_FLAVORS:
                state.flavors[fid] = Flavor(fid, name, vcpus, ram, disk)

    def list_flavors(self) -> list[Flavor]:
        with self.store.update() as state:
            self._seed_flavors(state)
            return list(state.flavors.values())

    def get_flavor(self, flavor_id: str) -> Flavor:
        for f in self.list_flavors():
            if f.id == flavor_id or f.name == flavor_id:
                return f
        raise E.FlavorNotFound(f"flavor {flavor_id} does not exist")

    def create_flavor(self, name: str, vcpus: int, ram_mb: int, disk_gb: int, *,
                      flavor_id: str | None = None) -> Flavor:
        for what, value, low in (("vcpus", vcpus, 1), ("ram_mb", ram_mb, 16), ("disk_gb", disk_gb, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise E.InvalidInput(f"flavor {what} must be an integer of at least {low}, not {value!r}")
        if not name or not isinstance(name, str):
            raise E.InvalidInput("a flavor needs a name")
        with self.store.update() as state:
            self._seed_flavors(state)
            fid = flavor_id or str(uuid.uuid4())
            if fid in state.flavors or any(f.name == name for f in state.flavors.values()):
                raise E.Conflict(f"a flavor with id {fid} or name {name} exists already")
            flavor = Flavor(fid, name, vcpus, ram_mb, disk_gb)
            state.flavors[fid] = flavor
            return flavor

    def delete_flavor(self, flavor_id: str) -> None:
        with self.store.update() as state:
            self._seed_flavors(state)
            if state.flavors.pop(flavor_id, None) is None:
                raise E.FlavorNotFound(f"flavor {flavor_id} does not exist")

    # ------------------------------------------------------------------ hosts
    def set_host_ram_mb(self, host: str, ram_mb: int | None) -> None:
        """The RAM servers may use on a compute host (None: the default,
        ``$OCTOPROBE_COMPUTE_RAM_MB`` or 4096 MiB)."""
        if host not in {h.name for h in self.topology.compute_hosts()}:
            raise E.HostNotFound(f"compute host {host!r} does not exist")
        with self.store.update() as state:
            if ram_mb is None:
                state.host_ram_mb.pop(host, None)
            else:
                state.host_ram_mb[host] = int(ram_mb)

    def host_loads(self, state: ComputeState | None = None) -> list[HostLoad]:
        state = state or self.store.load()
        loads = []
        for host in self.topology.compute_hosts():
            mine = [s for s in state.servers.values() if s.host == host.name]
            loads.append(HostLoad(host.name, host.rack or "nova",
                                  state.host_ram_mb.get(host.name, self._host_ram_default()),
                                  sum(s.ram_mb for s in mine), len(mine)))
        return loads

    def availability_zones(self) -> list[str]:
        return sorted({h.rack or "nova" for h in self.topology.compute_hosts()})

    # ------------------------------------------------------------------ images
    def list_images(self) -> list[Image]:
        return list(self.store.load().images.values())

    def get_image(self, image_id: str) -> Image:
        image = self.store.load().images.get(image_id)
        if image is None:
            matches = [i for i in self.store.load().images.values() if i.name == image_id]
            if len(matches) == 1:
                return matches[0]
            raise E.ImageNotFound(f"image {image_id} does not exist")
        return image

    def ensure_guest_image(self, *, builder: GuestImageBuilder | None = None,
                           variant: GuestVariant | None = None) -> Image:
        """Build the guest image (or another ``variant`` of it) if needed,
        import it into RBD ``images`` with a protected snapshot, and register
        it. Idempotent: the image is named by the build's cache key, so the
        same build is imported once."""
        builder = builder or GuestImageBuilder(self.cache_dir or default_cache_dir(), progress=self.progress,
                                               variant=variant)
        art = builder.build()
        return self.register_guest_build(art)

    def ensure_guest_images(self, variants: Sequence[GuestVariant] = GUEST_VARIANTS) -> list[Image]:
        """:meth:`ensure_guest_image` for each variant: what ``cloud up`` does
        (the guest image ``octoprobe-guest`` and the perf image ``octoprobe-perf``)."""
        return [self.ensure_guest_image(variant=variant) for variant in variants]

    def register_guest_build(self, art: GuestArtifacts) -> Image:
        image_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{art.name}:{art.key}"))
        rbd_name = f"{art.name}-{art.key[:16]}"
        boot = self.paths.boot / art.key
        boot.mkdir(parents=True, exist_ok=True)
        for src in (art.kernel, art.initrd):
            dst = boot / src.name
            if not dst.exists() or dst.stat().st_size != src.stat().st_size:
                shutil.copyfile(src, dst.with_suffix(".tmp"))
                dst.with_suffix(".tmp").replace(dst)
        with self.store.locked():
            if not self.rbd.exists(IMAGES_POOL, rbd_name):
                self.progress(f"compute: importing the {image_label(art.name)} into RBD {IMAGES_POOL}/{rbd_name}")
                tmp_name = f"{rbd_name}.importing"
                if self.rbd.exists(IMAGES_POOL, tmp_name):
                    self._remove_rbd(IMAGES_POOL, tmp_name)
                self.rbd.import_file(str(art.root_image), IMAGES_POOL, tmp_name, timeout=RBD_TIMEOUT)
                self.rbd.run("rename", f"{IMAGES_POOL}/{tmp_name}", f"{IMAGES_POOL}/{rbd_name}")
            snaps = {s.name: s for s in self.rbd.snap_list(IMAGES_POOL, rbd_name)}
            if IMAGE_SNAP not in snaps:
                self.rbd.snap_create(IMAGES_POOL, rbd_name, IMAGE_SNAP)
                snaps = {s.name: s for s in self.rbd.snap_list(IMAGES_POOL, rbd_name)}
            if not snaps[IMAGE_SNAP].protected:
                self.rbd.snap_protect(IMAGES_POOL, rbd_name, IMAGE_SNAP)
            size = self.rbd.info(IMAGES_POOL, rbd_name).size
            with self.store.update() as state:
                self._seed_flavors(state)
                image = state.images.get(image_id)
                if image is None:
                    image = Image(image_id, art.name, IMAGES_POOL, rbd_name, IMAGE_SNAP, size,
                                  str(boot / "vmlinuz"), str(boot / "initrd.img"),
                                  min_disk_gb=max(1, -(-size // GiB)), min_ram_mb=art.min_ram_mb,
                                  source=build_source(art.name, art.key), created_at=time.time())
                    state.images[image_id] = image
                return image

    def register_rbd_image(self, name: str, pool: str, rbd_name: str, *, kernel_from: str,
                           image_id: str | None = None, min_ram_mb: int = 64) -> Image:
        """Register an RBD image someone imported (it gets a protected snapshot
        if it has none); it boots with the kernel of the image ``kernel_from``."""
        base = self.get_image(kernel_from)
        if not self.rbd.exists(pool, rbd_name):
            raise E.ImageNotFound(f"RBD image {pool}/{rbd_name} does not exist")
        snaps = {s.name: s for s in self.rbd.snap_list(pool, rbd_name)}
        if IMAGE_SNAP not in snaps:
            self.rbd.snap_create(pool, rbd_name, IMAGE_SNAP)
        if not snaps.get(IMAGE_SNAP) or not snaps[IMAGE_SNAP].protected:
            self.rbd.snap_protect(pool, rbd_name, IMAGE_SNAP)
        size = self.rbd.info(pool, rbd_name).size
        image = Image(image_id or str(uuid.uuid4()), name, pool, rbd_name, IMAGE_SNAP, size, base.kernel,
                      base.initrd, min_disk_gb=max(1, -(-size // GiB)), min_ram_mb=min_ram_mb,
                      source=f"registered {pool}/{rbd_name}", created_at=time.time())
        with self.store.update() as state:
            state.images[image.id] = image
        return image

    def delete_image(self, image_id: str) -> None:
        image = self.get_image(image_id)
        state = self.store.load()
        users = [s.id for s in state.servers.values() if s.image_id == image.id]
        children = self.rbd.children(image.pool, image.rbd_name, image.snap) \
            if self.rbd.exists(image.pool, image.rbd_name) else []
        if users or children:
            raise E.Conflict(f"image {image.id} is in use by server(s) {', '.join(users) or '-'} "
                             f"and RBD clone(s) {', '.join(str(c) for c in children) or '-'}")
        if self.rbd.exists(image.pool, image.rbd_name):
            if any(s.protected for s in self.rbd.snap_list(image.pool, image.rbd_name) if s.name == image.snap):
                self.rbd.snap_unprotect(image.pool, image.rbd_name, image.snap)
            self.rbd.snap_purge(image.pool, image.rbd_name)
            self._remove_rbd(image.pool, image.rbd_name)
        with self.store.update() as state:
            state.images.pop(image.id, None)

    # ------------------------------------------------------------------ RBD helpers
    def _remove_rbd(self, pool: str, name: str) -> None:
        """Remove an RBD image; a watcher left by a QEMU that was killed is
        blocklisted first (its watch would otherwise hold the image ~30 s)."""
        for attempt in range(3):
            try:
                self.rbd.run("rm", "--no-progress", f"{pool}/{name}", timeout=RBD_TIMEOUT)
                return
            except CommandError as exc:
                text = str(exc)
                if "No such file" in text or "does not exist" in text:
                    return
                if "watchers" not in text or attempt == 2:
                    raise E.ComputeError(f"cannot remove RBD image {pool}/{name}: {text}") from exc
            status = self.rbd._json("status", f"{pool}/{name}") or {}
            for watcher in status.get("watchers", []):
                address = watcher.get("address")
                if address:
                    LocalRunner().run(["ceph", "--conf", self.ceph_conf, "osd", "blocklist", "add", address],
                                      timeout=60, check=False)

    def _clone_root_disk(self, image: Image, disk: str, size_bytes: int) -> None:
        self.rbd.clone(image.pool, image.rbd_name, image.snap, VMS_POOL, disk)
        if size_bytes > image.size_bytes:
            self.rbd.run("resize", "--no-progress", "--size", f"{size_bytes}B", f"{VMS_POOL}/{disk}")

    # ------------------------------------------------------------------ servers: reads
    def list_servers(self) -> list[ServerView]:
        return self._views(self.store.load().servers.values())

    def _views(self, servers: Iterable[Server]) -> list[ServerView]:
        """Views of many servers, reading the network state once (not once per NIC)."""
        servers = list(servers)
        ports = {p.id: p for p in self.network.list_ports()} if servers else {}
        return [self._view(s, ports) for s in servers]

    def get_server(self, server_id: str) -> ServerView:
        return self._view(self._record(server_id))

    def _run_state(self, server_id: str) -> tuple[int | None, str | None]:
        pid = qemu_pid(self.paths.pid_file(server_id))
        if pid is None:
            return None, None
        try:
            with QMPClient(self.paths.qmp(server_id), timeout=QMP_TIMEOUT) as qmp:
                return pid, qmp.execute("query-status")["status"]
        except E.QMPError:
            return (pid, None) if processes.alive(pid) else (None, None)

    def _view(self, server: Server, ports: Mapping[str, Any] | None = None) -> ServerView:
        """``ports``: port id → port, read once by the caller; else looked up here."""
        pid, run_state = self._run_state(server.id)
        status = derive_status(server.vm_state, pid is not None, run_state, server.fault, server.task_state)
        addresses: dict[str, list] = {}
        try:
            for nic in server.nic_records():
                port = ports[nic.port_id] if ports is not None else self.network.get_port(nic.port_id)
                addresses.setdefault(nic.network_id, []).extend(
                    {"addr": f.ip_address, "version": 6 if ":" in f.ip_address else 4, "mac": nic.mac}
                    for f in port.fixed_ips)
        except Exception:  # a port deleted behind our back: show what we know
            pass
        return ServerView(
            id=server.id, name=server.name, hostname=server.hostname, status=status.status,
            power_state=status.power_state, vm_state=server.vm_state, task_state=server.task_state,
            host=server.host, availability_zone=server.availability_zone, flavor=dict(server.flavor),
            image_id=server.image_id, addresses=addresses, nics=list(server.nics), volumes=list(server.volumes),
            disk=f"{server.disk_pool}/{server.disk_name}", qemu_pid=pid, fault=status.fault,
            created_at=server.created_at, launched_at=server.launched_at, phases=dict(server.phases),
            key_name=server.key_name, metadata=dict(server.metadata), root_volume_id=server.root_volume_id,
        )

    # ------------------------------------------------------------------ console
    def console_log(self, server_id: str, *, tail_bytes: int | None = None) -> str:
        self._record(server_id)
        path = self.paths.console(server_id)
        try:
            with open(path, "rb") as f:
                if tail_bytes is not None:
                    f.seek(max(0, path.stat().st_size - tail_bytes))
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def console_offset(self, server_id: str) -> int:
        try:
            return self.paths.console(server_id).stat().st_size
        except FileNotFoundError:
            return 0

    def wait_for_console(self, server_id: str, needle: str = READY_MARK, *, after: int = 0,
                         timeout: float = 120.0, poll: float = 0.2) -> str:
        """The first console line containing ``needle`` written after byte
        ``after``; fails early if QEMU is gone, with the console's tail."""
        path = self.paths.console(server_id)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(path, "rb") as f:
                    f.seek(after)
                    text = f.read().decode(errors="replace")
            except FileNotFoundError:
                text = ""
            for line in text.splitlines():
                if needle in line:
                    return line.strip()
                if "OCTOPROBE-BOOT-FAILED" in line:
                    raise E.ComputeError(f"server {server_id} failed to boot: {line.strip()}")
            if qemu_pid(self.paths.pid_file(server_id)) is None:
                raise E.ComputeError(f"server {server_id}: QEMU is not running; console tail:\n{text[-2000:]}")
            if time.monotonic() > deadline:
                raise E.ComputeError(f"server {server_id}: no {needle!r} on the console within {timeout:g} s; "
                                     f"console tail:\n{text[-2000:]}")
            time.sleep(poll)

    # ------------------------------------------------------------------ create
    def create_server(
        self,
        name: str,
        image_id: str,
        flavor_id: str,
        *,
        networks: Sequence[str] = (),
        ports: Sequence[str] = (),
        security_groups: Sequence[str] | None = None,
        key_name: str | None = None,
        public_keys: dict[str, str] | None = None,
        admin_pass: str | None = None,
        user_data: bytes | None = None,
        metadata: dict[str, str] | None = None,
        host: str | None = None,
        availability_zone: str | None = None,
        project_id: str = "",
        server_id: str | None = None,
        root_volume: RootVolume | None = None,
    ) -> ServerView:
        """Boot a server. Returns once QEMU runs (status ACTIVE); the guest
        is ready when :meth:`wait_for_console` sees its ready line.

        ``root_volume``: boot from this RBD image (a volume) instead of a
        clone of the image; the server does not own it (it is neither cloned
        nor removed) and the flavor's disk does not apply. ``image_id`` then
        only names the image whose kernel and initramfs boot it.

        ``networks``: tenant network ids, a port is made on each (and deleted
        with the server), with ``security_groups``; ``ports``: existing unbound
        port ids. ``public_keys``: keypair name → public key (``key_name``
        picks the name shown)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise E.InvalidInput("a server needs a name of 1 to 255 characters")
        image = self.get_image(image_id)
        flavor = self.get_flavor(flavor_id)
        disk_bytes = flavor.disk_bytes or max(image.size_bytes, image.min_disk_gb * GiB)
        if root_volume is not None:
            if not self.rbd.exists(root_volume.pool, root_volume.rbd_name):
                raise E.VolumeNotFound(f"RBD image {root_volume.pool}/{root_volume.rbd_name} does not exist")
        elif disk_bytes < image.size_bytes or (flavor.disk_gb and flavor.disk_gb < image.min_disk_gb):
            raise E.FlavorTooSmall(f"flavor {flavor.name}'s disk ({flavor.disk_gb} GiB) is smaller than image "
                                   f"{image.name} needs ({max(image.min_disk_gb, -(-image.size_bytes // GiB))} GiB)")
        if flavor.ram_mb < image.min_ram_mb:
            raise E.FlavorTooSmall(f"flavor {flavor.name}'s RAM ({flavor.ram_mb} MiB) is less than image "
                                   f"{image.name} needs ({image.min_ram_mb} MiB)")
        if not networks and not ports:
            raise E.InvalidInput("a server needs at least one network or port")
        for net_id in networks:
            net = self.network.get_network(net_id)  # NetworkNotFound when unknown
            if net.external:
                raise E.InvalidInput(f"network {net_id} is external: attach servers to tenant networks")
        for port_id in ports:
            port = self.network.get_port(port_id)
            if port.binding_host or (port.device_id and port.device_id != server_id):
                raise E.Conflict(f"port {port_id} is in use (device {port.device_id or '-'}, "
                                 f"host {port.binding_host or '-'})")
        if user_data is not None and not isinstance(user_data, (bytes, bytearray)):
            raise E.InvalidInput("user_data must be bytes")
        sid = server_id or str(uuid.uuid4())
        accel = self.accel()
        # reserve a host (RAM accounting counts servers being built)
        with self.store.update() as state:
            if sid in state.servers:
                raise E.Conflict(f"server {sid} exists already")
            if root_volume is not None:
                self._check_volume_free(root_volume.pool, root_volume.rbd_name, state.servers.values())
            chosen = choose_host(self.host_loads(state), flavor.ram_mb, host=host,
                                 availability_zone=availability_zone)
            server = Server(
                id=sid, name=name, hostname=hostname_for(name), flavor=asdict(flavor), image_id=image.id,
                host=chosen.name, availability_zone=chosen.availability_zone, project_id=project_id,
                key_name=key_name, public_keys=dict(public_keys or {}), admin_pass=admin_pass,
                user_data=bytes(user_data).hex() if user_data is not None else None,
                metadata=dict(metadata or {}), disk_name=f"{sid}_disk", vm_state=BUILDING,
                task_state="spawning", created_at=time.time(),
            )
            if root_volume is not None:
                server.disk_pool, server.disk_name = root_volume.pool, root_volume.rbd_name
                server.disk_owned, server.root_volume_id = False, root_volume.volume_id
            state.servers[sid] = server
        self.progress(f"compute: server {name} ({sid}) on {server.host}")
        with self._server_lock(sid):
            try:
                self._bind_nics(server, networks, ports, security_groups)
                self._save_server(server)
                self._spawn(server, image, disk_bytes, accel)
            except BaseException as exc:
                self._undo_create(server)
                if isinstance(exc, E.ComputeError) or not isinstance(exc, Exception):
                    raise
                raise E.HypervisorError(f"creating server {name} failed, nothing was left behind: {exc}") from exc
        return self.get_server(sid)

    def _bind_nics(self, server: Server, networks: Sequence[str], ports: Sequence[str],
                   security_groups: Sequence[str] | None) -> None:
        plane = self.network
        owner = f"compute:{server.availability_zone}"
        for port_id in ports:
            port = plane.update_port(port_id, binding_host=server.host, binding_kind="tap", device_id=server.id)
            server.nics.append(asdict(NicRecord(port.id, port.network_id, port.mac_address,
                                                plane.tap_name(port.id), False)))
        for i, net_id in enumerate(networks):
            port = plane.create_port(net_id, name=f"{server.name}-{i}", device_id=server.id, device_owner=owner,
                                     binding_host=server.host, binding_kind="tap",
                                     security_groups=list(security_groups) if security_groups else None,
                                     project_id=server.project_id or None)
            server.nics.append(asdict(NicRecord(port.id, port.network_id, port.mac_address,
                                                plane.tap_name(port.id), True)))

    def _unbind_nics(self, server: Server) -> None:
        plane = self.network
        for nic in server.nic_records():
            try:
                if nic.created_here:
                    plane.delete_port(nic.port_id)
                else:
                    plane.update_port(nic.port_id, binding_host=None, device_id="")
            except Exception as exc:
                if type(exc).__name__ != "PortNotFound":
                    raise

    def _instance_data(self, server: Server) -> InstanceData:
        plane = self.network
        nics = []
        dns: list[str] = []
        for nic in server.nic_records():
            port = plane.get_port(nic.port_id)
            net = plane.get_network(nic.network_id)
            v4 = v6 = None
            v6s = []
            dhcp4 = False
            for f in port.fixed_ips:
                subnet = plane.get_subnet(f.subnet_id)
                if subnet.ip_version == 4:
                    v4 = v4 or f.ip_address
                    dhcp4 = dhcp4 or subnet.enable_dhcp
                    dns += [d for d in subnet.dns_nameservers if d not in dns]
                else:
                    v6s.append(f.ip_address)
            nics.append(NicInfo(nic.port_id, nic.mac, net.mtu, nic.network_id, ipv4_dhcp=dhcp4,
                                ipv6_slaac=bool(v6s), ipv4_address=v4, ipv6_addresses=tuple(v6s)))
        return InstanceData(
            uuid=server.id, name=server.name, hostname=server.hostname,
            availability_zone=server.availability_zone, project_id=server.project_id,
            public_keys=server.public_keys, admin_pass=server.admin_pass, metadata=server.metadata,
            user_data=bytes.fromhex(server.user_data) if server.user_data is not None else None,
            nics=tuple(nics), dns_nameservers=tuple(dns),
        )

    def _spawn(self, server: Server, image: Image, disk_bytes: int, accel: str) -> None:
        """Clone the root disk, write the config drive, start QEMU."""
        t0 = time.monotonic()
        if server.disk_owned:
            self._clone_root_disk(image, server.disk_name, disk_bytes)
        t1 = time.monotonic()
        vm_dir = self.paths.vm_dir(server.id)
        vm_dir.mkdir(parents=True, exist_ok=True)
        write_config_drive(self._instance_data(server), self.paths.config_drive(server.id))
        t2 = time.monotonic()
        self._start_qemu(server, image, accel)
        t3 = time.monotonic()
        server.phases = {"clone": round(t1 - t0, 3), "config_drive": round(t2 - t1, 3),
                         "qemu_start": round(t3 - t2, 3), "started_at": time.time()}
        server.vm_state, server.task_state, server.fault = ACTIVE, None, None
        server.launched_at = time.time()
        self._save_server(server)

    def _vm_spec(self, server: Server, image: Image, accel: str) -> VmSpec:
        root = DriveSpec("root-disk", "root", rbd_file(server.disk_pool, server.disk_name, self.ceph_conf))
        volumes = tuple(
            DriveSpec(a.device_id, a.node_name, rbd_file(a.pool, a.rbd_name, self.ceph_conf), serial=a.serial)
            for a in server.attachments())
        nics = tuple(NicSpec(f"nic{i}", n.tap, n.mac) for i, n in enumerate(server.nic_records()))
        return VmSpec(
            uuid=server.id, name=server.hostname, vcpus=server.vcpus, ram_mb=server.ram_mb,
            kernel=image.kernel, initrd=image.initrd, root=root,
            config_drive=str(self.paths.config_drive(server.id)), nics=nics, volumes=volumes,
            qmp_socket=str(self.paths.qmp(server.id)), console_log=str(self.paths.console(server.id)),
            pid_file=str(self.paths.pid_file(server.id)), accel=accel,
        )

    def _start_qemu(self, server: Server, image: Image, accel: str) -> int:
        if qemu_pid(self.paths.pid_file(server.id)) is not None:
            raise E.InvalidState(f"server {server.id} has a running QEMU already")
        self.paths.qmp(server.id).unlink(missing_ok=True)
        self.paths.pid_file(server.id).unlink(missing_ok=True)
        argv = qemu_argv(self._vm_spec(server, image, accel))
        try:
            LocalRunner(self.netns(server.host)).run(argv, timeout=QEMU_START_TIMEOUT)
        except CommandError as exc:
            pid = processes.read_pid_file(self.paths.pid_file(server.id))
            if pid is not None and qemu_pid(self.paths.pid_file(server.id)):
                processes.stop([pid], timeout=5)
            raise E.HypervisorError(f"QEMU did not start for server {server.id}: {exc}") from exc
        pid = qemu_pid(self.paths.pid_file(server.id))
        if pid is None:
            raise E.HypervisorError(f"QEMU for server {server.id} exited right after starting")
        return pid

    def _undo_create(self, server: Server) -> None:
        """Remove whatever a failed create made (best effort, errors reported
        through progress), then the record."""
        for step in (lambda: self._kill_qemu(server.id), lambda: self._unbind_nics(server),
                     lambda: server.disk_owned and self._remove_rbd(server.disk_pool, server.disk_name),
                     lambda: shutil.rmtree(self.paths.vm_dir(server.id), ignore_errors=True)):
            try:
                step()
            except Exception as exc:
                self.progress(f"compute: clean-up after a failed create of {server.id}: {exc}")
        with self.store.update() as state:
            state.servers.pop(server.id, None)

    # ------------------------------------------------------------------ QEMU control
    def _qmp(self, server_id: str, command: str, arguments: dict | None = None, *,
             timeout: float = QMP_TIMEOUT):
        with QMPClient(self.paths.qmp(server_id), timeout=timeout) as qmp:
            return qmp.execute(command, arguments)

    def _kill_qemu(self, server_id: str, *, timeout: float = 10.0) -> bool:
        """Stop QEMU at once (QMP quit, so librbd closes its images cleanly;
        SIGTERM/SIGKILL if it does not). True if one was running."""
        pid = qemu_pid(self.paths.pid_file(server_id))
        if pid is None:
            return False
        try:
            self._qmp(server_id, "quit", timeout=5)
        except E.QMPError:
            pass
        deadline = time.monotonic() + timeout
        while processes.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if processes.alive(pid):
            processes.stop([pid], timeout=5)
        self.paths.qmp(server_id).unlink(missing_ok=True)
        return True

    def _wait_run_state(self, server_id: str, wanted: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, state = self._run_state(server_id)
            if state == wanted:
                return True
            if state is None and qemu_pid(self.paths.pid_file(server_id)) is None:
                return False
            time.sleep(0.2)
        return False

    def _powerdown(self, server_id: str, timeout: float) -> bool:
        """ACPI power button, pressed again every ``POWERDOWN_RETRY`` seconds (a
        guest still booting has no one listening yet; Nova's libvirt driver
        retries the same way); True if the guest shut down within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._qmp(server_id, "system_powerdown")
            except E.QMPError:
                return False
            left = deadline - time.monotonic()
            if self._wait_run_state(server_id, "shutdown", max(0.0, min(POWERDOWN_RETRY, left))):
                return True
            if time.monotonic() >= deadline:
                return False

    def _require(self, server: Server, allowed: Sequence[str], action: str) -> str:
        view = self._view(server)
        if view.status not in allowed:
            raise E.InvalidState(f"cannot {action} server {server.id} while it is {view.status} "
                                 f"(allowed: {', '.join(allowed)})")
        return view.status

    # ------------------------------------------------------------------ actions
    def stop_server(self, server_id: str, *, timeout: float = STOP_TIMEOUT) -> None:
        """Graceful power off (ACPI, then QEMU quits); forced after ``timeout``."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            self._require(server, ("ACTIVE", "SHUTOFF", "ERROR", "PAUSED"), "stop")
            if qemu_pid(self.paths.pid_file(server_id)) is not None:
                with self._task(server, "powering-off"):
                    _, state = self._run_state(server_id)
                    if state == "running":
                        self._powerdown(server_id, timeout)
                    self._kill_qemu(server_id)
            server.vm_state, server.task_state, server.fault = STOPPED, None, None
            self._save_server(server)

    def start_server(self, server_id: str) -> None:
        with self._server_lock(server_id):
            server = self._record(server_id)
            status = self._require(server, ("SHUTOFF", "ERROR"), "start")
            self._kill_qemu(server_id)  # a QEMU whose guest powered off
            self._start_qemu(server, self.get_image(server.image_id), self.accel())
            server.vm_state, server.task_state, server.fault = ACTIVE, None, None
            self._save_server(server)
            self.progress(f"compute: started server {server_id} (was {status})")

    def reboot_server(self, server_id: str, *, hard: bool = False, timeout: float = STOP_TIMEOUT) -> None:
        """Soft: the guest shuts down by ACPI and the machine is reset and
        resumed (a hard reset if the guest does not shut down in ``timeout``).
        Hard: ``system_reset`` at once; a server whose QEMU is gone (ERROR)
        gets a new QEMU."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            allowed = ("ACTIVE", "SHUTOFF", "ERROR", "PAUSED") if hard else ("ACTIVE",)
            self._require(server, allowed, "hard reboot" if hard else "reboot")
            with self._task(server, "rebooting_hard" if hard else "rebooting"):
                if qemu_pid(self.paths.pid_file(server_id)) is None:
                    self._start_qemu(server, self.get_image(server.image_id), self.accel())
                else:
                    if not hard:
                        if not self._powerdown(server_id, timeout):
                            self.progress(f"compute: server {server_id} did not shut down in {timeout:g} s; "
                                          "resetting it")
                    self._qmp(server_id, "system_reset")
                    _, state = self._run_state(server_id)
                    if state != "running":
                        self._qmp(server_id, "cont")
            server.vm_state, server.task_state, server.fault = ACTIVE, None, None
            self._save_server(server)

    def pause_server(self, server_id: str) -> None:
        with self._server_lock(server_id):
            server = self._record(server_id)
            self._require(server, ("ACTIVE",), "pause")
            self._qmp(server_id, "stop")
            server.vm_state = PAUSED
            self._save_server(server)

    def unpause_server(self, server_id: str) -> None:
        with self._server_lock(server_id):
            server = self._record(server_id)
            self._require(server, ("PAUSED",), "unpause")
            self._qmp(server_id, "cont")
            server.vm_state = ACTIVE
            self._save_server(server)

    def rebuild_server(self, server_id: str, image_id: str | None = None, *, admin_pass: str | None = None,
                       name: str | None = None) -> ServerView:
        """A fresh root disk (a new clone of the image's snapshot) and a new
        config drive; the server keeps its id, host, ports and volumes."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            self._require(server, ("ACTIVE", "SHUTOFF", "ERROR"), "rebuild")
            if not server.disk_owned:
                raise E.InvalidState(f"server {server_id} boots from volume {server.root_volume_id}: rebuilding "
                                     "it is not supported")
            image = self.get_image(image_id or server.image_id)
            flavor = server.flavor
            disk_bytes = int(flavor["disk_gb"]) * GiB or max(image.size_bytes, image.min_disk_gb * GiB)
            if disk_bytes < image.size_bytes:
                raise E.FlavorTooSmall(f"the server's disk ({flavor['disk_gb']} GiB) is smaller than image "
                                       f"{image.name}")
            server.task_state = "rebuilding"
            self._save_server(server)
            self._kill_qemu(server_id)
            self._remove_rbd(server.disk_pool, server.disk_name)
            server.image_id = image.id
            if admin_pass is not None:
                server.admin_pass = admin_pass
            if name:
                server.name, server.hostname = name, hostname_for(name)
            try:
                self._spawn(server, image, disk_bytes, self.accel())
            except Exception as exc:
                server.vm_state, server.task_state, server.fault = ERROR, None, f"rebuild failed: {exc}"
                self._save_server(server)
                raise
        return self.get_server(server_id)

    def snapshot_server(self, server_id: str, name: str, *, image_id: str | None = None) -> Image:
        """A new image from the server's root disk: an RBD snapshot of the
        disk, cloned into ``images`` and flattened (so the new image depends
        on neither the server nor its image), with its own protected snapshot."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            self._require(server, ("ACTIVE", "SHUTOFF", "PAUSED"), "snapshot")
            source = self.get_image(server.image_id)
            new_id = image_id or str(uuid.uuid4())
            rbd_name = f"snapshot-{new_id}"
            tmp_snap = f"to-image-{new_id[:8]}"
            disk = (server.disk_pool, server.disk_name)
            self.rbd.snap_create(*disk, tmp_snap)
            try:
                self.rbd.snap_protect(*disk, tmp_snap)
                self.rbd.clone(*disk, tmp_snap, IMAGES_POOL, rbd_name)
                self.rbd.flatten(IMAGES_POOL, rbd_name, timeout=RBD_TIMEOUT * 5)
            except Exception:
                try:
                    self._remove_rbd(IMAGES_POOL, rbd_name)
                finally:
                    self._drop_snap(disk, tmp_snap)
                raise
            self._drop_snap(disk, tmp_snap)
            self.rbd.snap_create(IMAGES_POOL, rbd_name, IMAGE_SNAP)
            self.rbd.snap_protect(IMAGES_POOL, rbd_name, IMAGE_SNAP)
            size = self.rbd.info(IMAGES_POOL, rbd_name).size
            image = Image(new_id, name, IMAGES_POOL, rbd_name, IMAGE_SNAP, size, source.kernel, source.initrd,
                          min_disk_gb=max(1, -(-size // GiB)), min_ram_mb=source.min_ram_mb,
                          source=f"snapshot of server {server_id}", created_at=time.time())
            with self.store.update() as state:
                state.images[new_id] = image
            return image

    def _drop_snap(self, disk: tuple[str, str], snap: str) -> None:
        try:
            self.rbd.snap_unprotect(*disk, snap)
        except CommandError:
            pass
        self.rbd.snap_remove(*disk, snap)

    # ------------------------------------------------------------------ resize
    RESIZE_SNAP = "resize-revert"

    def resize_server(self, server_id: str, flavor_id: str, *, timeout: float = STOP_TIMEOUT) -> None:
        """Give a server another flavor on its host, as Nova's resize does:
        the guest is shut down, its root disk snapshotted (for a revert) and
        grown if the new flavor's disk is larger, then started again with the
        new vCPUs and RAM (a stopped server stays stopped). The server is
        VERIFY_RESIZE until :meth:`confirm_resize` or :meth:`revert_resize`.
        A root disk that is a volume is neither snapshotted nor grown."""
        flavor = self.get_flavor(flavor_id)
        with self._server_lock(server_id):
            server = self._record(server_id)
            status = self._require(server, ("ACTIVE", "SHUTOFF"), "resize")
            old = dict(server.flavor)
            if flavor.id == old.get("id"):
                raise E.InvalidInput("when resizing, a server must change flavor")
            old_disk = int(old.get("disk_gb") or 0)
            if server.disk_owned and flavor.disk_gb and flavor.disk_gb < old_disk:
                raise E.FlavorTooSmall(f"flavor {flavor.name}'s disk ({flavor.disk_gb} GiB) is smaller than the "
                                       f"server's ({old_disk} GiB): a disk cannot shrink")
            image = self.get_image(server.image_id)
            if flavor.ram_mb < image.min_ram_mb:
                raise E.FlavorTooSmall(f"flavor {flavor.name}'s RAM ({flavor.ram_mb} MiB) is less than image "
                                       f"{image.name} needs ({image.min_ram_mb} MiB)")
            load = next(h for h in self.host_loads() if h.name == server.host)
            if flavor.ram_mb - server.ram_mb > load.ram_free_mb:
                raise E.HostFull(f"host {server.host} has {load.ram_free_mb} MiB free; flavor {flavor.name} needs "
                                 f"{flavor.ram_mb - server.ram_mb} MiB more")
            disk = (server.disk_pool, server.disk_name)
            with self._task(server, "resize_migrating"):
                try:
                    self._shut_down(server_id, timeout)
                    if server.disk_owned:
                        if any(s.name == self.RESIZE_SNAP for s in self.rbd.snap_list(*disk)):
                            self._drop_snap(disk, self.RESIZE_SNAP)
                        self.rbd.snap_create(*disk, self.RESIZE_SNAP)
                        if flavor.disk_bytes > self.rbd.info(*disk).size:
                            self.rbd.run("resize", "--no-progress", "--size", f"{flavor.disk_bytes}B",
                                         f"{disk[0]}/{disk[1]}", timeout=RBD_TIMEOUT)
                    server.previous_flavor, server.flavor = old, asdict(flavor)
                    server.resized_while_stopped = status == "SHUTOFF"
                    server.vm_state = RESIZED
                    self._save_server(server)
                    if status == "ACTIVE":
                        self._start_qemu(server, image, self.accel())
                except Exception as exc:
                    server.vm_state, server.fault = ERROR, f"resize failed: {exc}"
                    raise
            server.task_state, server.fault = None, None
            self._save_server(server)
            self.progress(f"compute: resized server {server_id} from {old.get('name')} to {flavor.name}")

    def confirm_resize(self, server_id: str) -> None:
        """Keep the new flavor: drop the revert snapshot."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            self._require(server, ("VERIFY_RESIZE",), "confirm the resize of")
            if server.disk_owned:
                self._drop_snap((server.disk_pool, server.disk_name), self.RESIZE_SNAP)
            self._end_resize(server)

    def revert_resize(self, server_id: str, *, timeout: float = STOP_TIMEOUT) -> None:
        """Back to the old flavor and the root disk as it was before the resize."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            self._require(server, ("VERIFY_RESIZE",), "revert the resize of")
            disk = (server.disk_pool, server.disk_name)
            with self._task(server, "resize_reverting"):
                self._shut_down(server_id, timeout)
                if server.disk_owned:
                    old_bytes = int(server.previous_flavor.get("disk_gb") or 0) * GiB
                    if old_bytes and self.rbd.info(*disk).size > old_bytes:
                        self.rbd.run("resize", "--no-progress", "--allow-shrink", "--size", f"{old_bytes}B",
                                     f"{disk[0]}/{disk[1]}", timeout=RBD_TIMEOUT)
                    self.rbd.run("snap", "rollback", "--no-progress", f"{disk[0]}/{disk[1]}@{self.RESIZE_SNAP}",
                                 timeout=RBD_TIMEOUT)
                    self._drop_snap(disk, self.RESIZE_SNAP)
                server.flavor = dict(server.previous_flavor or server.flavor)
                if not server.resized_while_stopped:
                    self._start_qemu(server, self.get_image(server.image_id), self.accel())
                self._end_resize(server)

    def _shut_down(self, server_id: str, timeout: float) -> None:
        """Power the guest off (ACPI, forced after ``timeout``) if QEMU runs."""
        if qemu_pid(self.paths.pid_file(server_id)) is not None:
            _, state = self._run_state(server_id)
            if state == "running":
                self._powerdown(server_id, timeout)
            self._kill_qemu(server_id)

    def _end_resize(self, server: Server) -> None:
        server.vm_state = STOPPED if server.resized_while_stopped else ACTIVE
        server.previous_flavor, server.resized_while_stopped = None, False
        server.task_state, server.fault = None, None
        self._save_server(server)

    # ------------------------------------------------------------------ volumes
    def attach_volume(self, server_id: str, rbd_name: str, *, pool: str = VOLUMES_POOL,
                      volume_id: str | None = None) -> VolumeAttachment:
        """Hot-plug an RBD image as a virtio disk (``blockdev-add`` +
        ``device_add``); its serial is the volume id's first 20 characters, so
        the guest finds it in /sys/block/vd*/serial. A stopped server gets it
        at its next start."""
        volume_id = volume_id or rbd_name
        with self._server_lock(server_id):
            server = self._record(server_id)
            status = self._require(server, ("ACTIVE", "SHUTOFF", "PAUSED"), "attach a volume to")
            if not self.rbd.exists(pool, rbd_name):
                raise E.VolumeNotFound(f"RBD image {pool}/{rbd_name} does not exist")
            if any(a.volume_id == volume_id for a in server.attachments()):
                raise E.VolumeInUse(f"volume {volume_id} is attached to server {server_id} already")
            self._check_volume_free(pool, rbd_name)
            short = uuid.uuid5(uuid.NAMESPACE_URL, volume_id).hex[:12]
            att = VolumeAttachment(volume_id, pool, rbd_name, device_id=f"vol-{short}", node_name=f"vol{short}",
                                   serial=volume_id.replace("-", "")[:20])
            if status != "SHUTOFF" and qemu_pid(self.paths.pid_file(server_id)) is not None:
                with QMPClient(self.paths.qmp(server_id), timeout=QMP_TIMEOUT) as qmp:
                    qmp.execute("blockdev-add", {
                        "driver": "raw", "node-name": att.node_name, "discard": "unmap",
                        "file": {"driver": "rbd", "pool": pool, "image": rbd_name, "conf": self.ceph_conf,
                                 "user": "admin", "node-name": f"{att.node_name}-rbd"},
                    }, timeout=60)
                    try:
                        qmp.execute("device_add", {"driver": "virtio-blk-pci", "drive": att.node_name,
                                                   "id": att.device_id, "serial": att.serial})
                    except E.QMPError:
                        qmp.execute("blockdev-del", {"node-name": att.node_name})
                        raise
            server.volumes.append(asdict(att))
            self._save_server(server)
            return att

    def _check_volume_free(self, pool: str, rbd_name: str, servers: Iterable[Server] | None = None) -> None:
        """VolumeInUse when an RBD image is attached to, or the root disk of, a server
        (``servers``: those of a state the caller holds locked; else the stored ones)."""
        for other in (servers if servers is not None else self.store.load().servers.values()):
            if any(a.pool == pool and a.rbd_name == rbd_name for a in other.attachments()):
                raise E.VolumeInUse(f"volume {pool}/{rbd_name} is attached to server {other.id}")
            if other.disk_pool == pool and other.disk_name == rbd_name:
                raise E.VolumeInUse(f"volume {pool}/{rbd_name} is the root disk of server {other.id}")

    def detach_volume(self, server_id: str, volume_id: str, *, timeout: float = 60.0) -> None:
        """Unplug a volume: ``device_del``, wait for the guest to release it
        (DEVICE_DELETED), then ``blockdev-del``."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            att = next((a for a in server.attachments() if a.volume_id == volume_id), None)
            if att is None:
                raise E.VolumeNotFound(f"volume {volume_id} is not attached to server {server_id}")
            if qemu_pid(self.paths.pid_file(server_id)) is not None:
                with QMPClient(self.paths.qmp(server_id), timeout=QMP_TIMEOUT) as qmp:
                    try:
                        self._unplug(qmp, att.device_id, timeout)
                    except E.QMPError as exc:
                        if "not found" not in str(exc).lower():
                            raise E.HypervisorError(f"the guest did not release volume {volume_id}: {exc}") from exc
                    try:
                        qmp.execute("blockdev-del", {"node-name": att.node_name})
                    except E.QMPError as exc:
                        if "not found" not in str(exc).lower() and "Failed to find" not in str(exc):
                            raise
            server.volumes = [v for v in server.volumes if v["volume_id"] != volume_id]
            self._save_server(server)

    @staticmethod
    def _unplug(qmp: QMPClient, device_id: str, timeout: float, *, every: float = UNPLUG_RETRY) -> None:
        """``device_del`` until the guest releases the device (DEVICE_DELETED):
        a guest that is still booting misses the ACPI eject request, so it is
        sent again every ``every`` seconds (as libvirt's users do) until
        ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                qmp.execute("device_del", {"id": device_id})
            except E.QMPError as exc:
                if "in progress" not in str(exc).lower():
                    raise
            left = deadline - time.monotonic()
            try:
                qmp.wait_event("DEVICE_DELETED", timeout=max(0.1, min(every, left)), match={"device": device_id})
                return
            except E.QMPError:
                if time.monotonic() >= deadline:
                    raise

    # ------------------------------------------------------------------ delete
    def delete_server(self, server_id: str) -> None:
        """Stop QEMU, unbind (or delete, if made here) its ports — their taps
        and filter rules go — and remove its RBD clone and files."""
        with self._server_lock(server_id):
            server = self._record(server_id)
            with self._task(server, "deleting"):  # a view meanwhile is not a crash
                self._kill_qemu(server_id)
                self._unbind_nics(server)
                if server.disk_owned:
                    if server.vm_state == RESIZED:  # an unconfirmed resize keeps its revert snapshot
                        self._drop_snap((server.disk_pool, server.disk_name), self.RESIZE_SNAP)
                    self._remove_rbd(server.disk_pool, server.disk_name)
                shutil.rmtree(self.paths.vm_dir(server_id), ignore_errors=True)
                with self.store.update() as state:
                    state.servers.pop(server_id, None)
        self.paths.vm_lock(server_id).unlink(missing_ok=True)

    def delete_all_servers(self) -> int:
        ids = list(self.store.load().servers)
        for sid in ids:
            self.delete_server(sid)
        return len(ids)

    # ------------------------------------------------------------------ cloud up / status
    def restore(self) -> list[str]:
        """After ``cloud up``: start the QEMU of every server that should be
        running and is not. Returns the ids started."""
        started = []
        for server in self.store.load().servers.values():
            if server.vm_state not in (ACTIVE, PAUSED):
                continue
            if qemu_pid(self.paths.pid_file(server.id)) is not None:
                continue
            try:
                with self._server_lock(server.id):
                    self._start_qemu(server, self.get_image(server.image_id), self.accel())
                    if server.vm_state == PAUSED:
                        self._qmp(server.id, "stop")
                started.append(server.id)
            except Exception as exc:
                server.fault = f"restarting after cloud up failed: {exc}"
                server.vm_state = ERROR
                self._save_server(server)
        if started:
            self.progress(f"compute: restarted {len(started)} server(s)")
        return started

    def status(self) -> dict:
        """For ``cloud status``."""
        state = self.store.load()
        views = self._views(state.servers.values())
        by_status: dict[str, int] = {}
        for v in views:
            by_status[v.status] = by_status.get(v.status, 0) + 1
        qemus = find_qemu_under(self.paths.root)
        return {
            "servers": len(views),
            "by_status": by_status,
            "qemu_processes": len(qemus),
            "qemu_rss_bytes": sum(processes.rss_bytes(p.pid) for p in qemus),
            "images": len(state.images),
            "hosts": [asdict(h) for h in self.host_loads(state)],
        }


# ---------------------------------------------------------------------- image builds
def build_source(name: str, key: str) -> str:
    """``Image.source`` of a guest build: ``guest-build <key>`` for the default
    guest (what code that looks for "the" guest image matches), else
    ``variant-build <name> <key>``."""
    if name == GUEST_IMAGE_NAME:
        return f"{GUEST_BUILD_SOURCE} {key}"
    return f"{VARIANT_BUILD_SOURCE} {name} {key}"


def is_guest_build(image: Image) -> bool:
    """Whether ``image`` is a build of a guest variant (not an upload or a snapshot)."""
    return str(image.source).split(" ", 1)[0] in (GUEST_BUILD_SOURCE, VARIANT_BUILD_SOURCE)


# ---------------------------------------------------------------------- module-level entry points
def ensure_guest_image(topology: Topology, prefix: str, state_dir: str | Path, *, cache_dir: Path | None = None,
                       progress: Callable[[str], None] = lambda msg: None,
                       variant: GuestVariant | None = None) -> Image:
    """Build (if needed) and register the guest image, or another ``variant``
    of it, once the pools exist (``cloud up`` does every variant, with
    :meth:`ComputeService.ensure_guest_images`)."""
    return ComputeService(topology, prefix, state_dir, cache_dir=cache_dir,
                          progress=progress).ensure_guest_image(variant=variant)


def teardown_all_vms(prefix: str, state_dir: str | Path, *, purge: bool = False,
                     progress: Callable[[str], None] = lambda msg: None) -> int:
    """What ``cloud down`` calls first (before the network and Ceph go): stop
    every QEMU of this cloud (QMP quit, then SIGTERM/SIGKILL). The records stay,
    so ``cloud up`` restarts them (:meth:`ComputeService.restore`), unless
    ``purge``. Returns the number of QEMU processes stopped."""
    paths = ComputePaths(Path(state_dir))
    found = find_qemu_under(paths.root)
    for proc in found:
        sock = next((a for a in proc.argv if a.startswith("unix:") and a.endswith(",server=on,wait=off")), None)
        if sock:
            try:
                with QMPClient(sock[len("unix:"):].split(",")[0], timeout=3) as qmp:
                    qmp.execute("quit")
            except E.QMPError:
                pass
    deadline = time.monotonic() + 10
    while any(processes.alive(p.pid) for p in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p.pid for p in found if processes.alive(p.pid)]
    if left:
        processes.stop(left, timeout=5)
    if found:
        progress(f"compute: stopped {len(found)} QEMU process(es)")
    if purge:
        shutil.rmtree(paths.root, ignore_errors=True)
    return len(found)


def leftovers(state_dir: str | Path) -> list[str]:
    """QEMU processes of this cloud that run now (empty after teardown)."""
    return [f"qemu pid {p.pid}" for p in find_qemu_under(ComputePaths(Path(state_dir)).root)]
