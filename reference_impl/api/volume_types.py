"""Volume types: one per Ceph pool that holds volumes, plus Cinder's default
type ``__DEFAULT__`` (which puts volumes in that same pool). Fixed, not
stored: the reference cloud's pools are made by ``cloud up``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..block.volumes import VOLUMES_POOL

DEFAULT_TYPE = "__DEFAULT__"


@dataclass(frozen=True)
class VolumeType:
    name: str
    description: str
    pool: str
    extra_specs: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"octoprobe-volume-type:{self.name}"))


TYPES = (
    VolumeType(DEFAULT_TYPE, "Default Volume Type", VOLUMES_POOL),
    VolumeType(f"ceph-{VOLUMES_POOL}", f"RBD images in Ceph pool {VOLUMES_POOL}", VOLUMES_POOL,
               {"volume_backend_name": "ceph", "rbd_pool": VOLUMES_POOL}),
)


def find_type(name_or_id: str | None) -> VolumeType | None:
    """A type by name or id; None (no type asked) is the default type."""
    if name_or_id is None:
        return TYPES[0]
    return next((t for t in TYPES if name_or_id in (t.name, t.id)), None)


def type_view(t: VolumeType, *, admin: bool) -> dict:
    doc = {"id": t.id, "name": t.name, "description": t.description, "is_public": True,
           "os-volume-type-access:is_public": True, "extra_specs": dict(t.extra_specs) if admin else {}}
    if admin:
        doc["qos_specs_id"] = None
    return doc
