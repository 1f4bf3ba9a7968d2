"""The compute layer's records and their store.

Desired and recorded state (flavors, images, servers, host capacities) is
one JSON document, ``<state>/compute/state.json``, replaced atomically under
a lock that separate processes share (``cloud up/down``, the API, tests).
What a server *is* doing is never stored: it is read back from QEMU (see
:mod:`.hypervisor`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..jsonstore import JsonDocumentStore
from .errors import ComputeError

GiB = 1024 ** 3
MiB = 1024 ** 2

# Nova's vm_state values the records carry (what was asked and last done)
BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
PAUSED = "paused"
ERROR = "error"
RESIZED = "resized"  # resized, waiting for confirm or revert (Nova's VERIFY_RESIZE)


def _from_dict(cls, data: dict):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Flavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int  # 0: the image's size

    @property
    def disk_bytes(self) -> int:
        return self.disk_gb * GiB


@dataclass
class Image:
    """An RBD image with a protected snapshot that servers are cloned from,
    and the kernel + initramfs they boot with (Glance's kernel_id/ramdisk_id)."""

    id: str
    name: str
    pool: str
    rbd_name: str
    snap: str
    size_bytes: int
    kernel: str
    initrd: str
    min_disk_gb: int = 0
    min_ram_mb: int = 64
    source: str = ""  # "guest-build <key>", "variant-build <name> <key>" or "snapshot of server <id>"
    created_at: float = 0.0

    @property
    def spec(self) -> str:
        return f"{self.pool}/{self.rbd_name}@{self.snap}"


@dataclass
class NicRecord:
    port_id: str
    network_id: str
    mac: str
    tap: str
    created_here: bool  # a port the compute layer made (deleted with the server)


@dataclass
class VolumeAttachment:
    volume_id: str
    pool: str
    rbd_name: str
    device_id: str  # QEMU device id
    node_name: str  # QEMU block node
    serial: str


@dataclass(frozen=True)
class RootVolume:
    """An RBD image a server boots from but does not own (a block storage
    volume): not cloned at boot, not removed with the server."""

    volume_id: str
    pool: str
    rbd_name: str


@dataclass
class Server:
    id: str
    name: str
    hostname: str
    flavor: dict  # a copy of the flavor at boot (Nova embeds it too)
    image_id: str
    host: str
    availability_zone: str
    project_id: str = ""
    key_name: str | None = None
    public_keys: dict = field(default_factory=dict)
    admin_pass: str | None = None
    user_data: str | None = None  # hex of the bytes
    metadata: dict = field(default_factory=dict)
    nics: list = field(default_factory=list)  # NicRecord dicts
    volumes: list = field(default_factory=list)  # VolumeAttachment dicts
    disk_pool: str = "vms"
    disk_name: str = ""
    disk_owned: bool = True  # False: the root disk is a volume (root_volume_id) the server boots from
    root_volume_id: str | None = None
    vm_state: str = BUILDING
    task_state: str | None = None
    fault: str | None = None
    created_at: float = 0.0
    launched_at: float | None = None
    phases: dict = field(default_factory=dict)  # name -> seconds, of the last (re)build
    previous_flavor: dict | None = None  # while RESIZED: the flavor a revert goes back to
    resized_while_stopped: bool = False  # while RESIZED: confirm/revert leave it SHUTOFF

    @property
    def ram_mb(self) -> int:
        return int(self.flavor["ram_mb"])

    @property
    def vcpus(self) -> int:
        return int(self.flavor["vcpus"])

    def nic_records(self) -> list[NicRecord]:
        return [_from_dict(NicRecord, n) for n in self.nics]

    def attachments(self) -> list[VolumeAttachment]:
        return [_from_dict(VolumeAttachment, v) for v in self.volumes]


@dataclass
class ComputeState:
    flavors: dict[str, Flavor] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    host_ram_mb: dict[str, int] = field(default_factory=dict)  # capacity overrides

    def to_dict(self) -> dict:
        return {
            "flavors": {k: asdict(v) for k, v in self.flavors.items()},
            "images": {k: asdict(v) for k, v in self.images.items()},
            "servers": {k: asdict(v) for k, v in self.servers.items()},
            "host_ram_mb": dict(self.host_ram_mb),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ComputeState":
        return cls(
            flavors={k: _from_dict(Flavor, v) for k, v in data.get("flavors", {}).items()},
            images={k: _from_dict(Image, v) for k, v in data.get("images", {}).items()},
            servers={k: _from_dict(Server, v) for k, v in data.get("servers", {}).items()},
            host_ram_mb={k: int(v) for k, v in data.get("host_ram_mb", {}).items()},
        )


class ComputeStore(JsonDocumentStore[ComputeState]):
    """The compute layer's desired state (see :mod:`..jsonstore`)."""

    def __init__(self, path: Path, lock_path: Path, *, lock_timeout: float = 120.0):
        super().__init__(path, lock_path, document=ComputeState, error=ComputeError,
                         lock_timeout=lock_timeout)


def to_jsonable(obj: Any) -> Any:
    return asdict(obj) if hasattr(obj, "__dataclass_fields__") else obj
