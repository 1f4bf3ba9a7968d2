"""Cinder's quotas: defaults, per-project overrides, usage, and the check a
create or extend makes (413 ``overLimit`` when it would go over, as Cinder's
VolumeLimitExceeded / VolumeSizeExceedsAvailableQuota)."""

from __future__ import annotations

from typing import Any

from . import errors as E

DEFAULTS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000, "per_volume_gigabytes": -1, "backups": 10,
            "backup_gigabytes": 1000, "groups": 10}
COUNTED = ("volumes", "snapshots", "gigabytes")


def limits(store: Any, project_id: str) -> dict[str, int]:
    return {**DEFAULTS, **{k: v for k, v in store.quota_overrides(project_id).items() if k in DEFAULTS}}


def usage(store: Any, project_id: str) -> dict[str, int]:
    """What the project holds (every volume and snapshot row counts, whatever its status)."""
    volumes = store.volumes(project_id)
    snapshots = store.snapshots(project_id)
    used = {k: 0 for k in DEFAULTS}
    used["volumes"] = len(volumes)
    used["snapshots"] = len(snapshots)
    used["gigabytes"] = sum(int(v["size"]) for v in volumes) + sum(int(s["size"]) for s in snapshots)
    return used


def check(store: Any, project_id: str, *, volumes: int = 0, snapshots: int = 0, gigabytes: int = 0,
          volume_size: int | None = None) -> None:
    """Raise 413 if adding these would exceed the project's limits (call under the runtime's lock)."""
    limit = limits(store, project_id)
    if volume_size is not None and 0 <= limit["per_volume_gigabytes"] < volume_size:
        raise E.RequestTooLarge(f"Requested volume size {volume_size}G is larger than maximum allowed limit "
                                f"{limit['per_volume_gigabytes']}G.")
    used = usage(store, project_id)
    for resource, more in (("volumes", volumes), ("snapshots", snapshots), ("gigabytes", gigabytes)):
        if more and 0 <= limit[resource] < used[resource] + more:
            raise E.RequestTooLarge(f"Quota exceeded for {resource}: requested {more}, already used "
                                    f"{used[resource]} of {limit[resource]}")
