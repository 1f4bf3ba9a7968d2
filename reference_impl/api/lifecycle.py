"""The API's part of ``octoprobe cloud up`` and ``cloud down``.

``up``: seed identity (projects, users, roles), provision the default
networking, register the guest images as public Glance images, start the
API process and merge the three cloud entries into ``clouds.yaml``
(``OCTOPROBE_CLOUDS_YAML`` names another file; ``none`` skips it).
``down``: stop the API process (its state stays for the next ``up``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .bootstrap import seed_identity
from .clouds_yaml import default_clouds_yaml, merge_clouds_yaml
from .db import Database
from .process import ApiProcess
from .provision import provision_networking
from .services import all_schemas
from .settings import DEFAULT_PORT, ApiSettings


def api_settings(cloud: Any) -> ApiSettings:
    v4, _ = cloud.topology.machine_address()
    return ApiSettings(state_dir=Path(cloud.paths.root), prefix=cloud.prefix, host=str(v4.ip), port=DEFAULT_PORT)


def clouds_yaml_path(env: Mapping[str, str] = os.environ) -> Path | None:
    value = env.get("OCTOPROBE_CLOUDS_YAML")
    if value is None or value == "":
        return default_clouds_yaml()
    if value.lower() == "none":
        return None
    return Path(value).expanduser()


def api_up(cloud: Any) -> ApiSettings:
    settings = api_settings(cloud)
    db = Database.open(settings.db_path, all_schemas())
    try:
        entries, projects = seed_identity(settings, db)
        provision_networking(cloud.network(), cloud.topology, list(projects.values()), progress=cloud.progress)
        _register_guest_image(db, cloud, projects["octoprobe-admin"])
    finally:
        db.close()
    ApiProcess(settings, progress=cloud.progress).start()
    path = clouds_yaml_path()
    if path is not None:
        merge_clouds_yaml(path, entries)
        cloud.progress(f"api: clouds {', '.join(entries)} written to {path}")
    return settings


def _register_guest_image(db: Database, cloud: Any, owner_project_id: str) -> None:
    """Register the current build of each guest image (``octoprobe-guest``,
    ``octoprobe-perf``) as a public Glance image and hide its superseded builds."""
    from . import image
    register = getattr(image, "register_existing_image", None)
    if register is None:  # the image service is not there yet
        return
    from ..compute.hypervisor import is_guest_build
    compute = cloud.compute()
    for builds in builds_by_name(i for i in compute.list_images() if is_guest_build(i)).values():
        current = builds[-1]  # the build of this version of octoprobe (cloud up made or found it)
        register(db, current, name=current.name, owner_project_id=owner_project_id, visibility="public",
                 rbd=compute.rbd)
        # earlier builds (a cloud made by an older octoprobe) stay usable by id, but each
        # name (`octoprobe-guest`, `octoprobe-perf`) must name one image, and lists show the current one only
        image.hide_superseded(db, current.name, [old.id for old in builds[:-1]])


def builds_by_name(images: Iterable[Any]) -> dict[str, list[Any]]:
    """The guest builds grouped by image name, each group oldest first."""
    groups: dict[str, list[Any]] = {}
    for i in sorted(images, key=lambda i: i.created_at):
        groups.setdefault(i.name, []).append(i)
    return groups


def api_down(cloud: Any) -> None:
    ApiProcess(api_settings(cloud), progress=cloud.progress).stop()


def api_status(cloud: Any) -> dict:
    settings = api_settings(cloud)
    process = ApiProcess(settings)
    pids = process.pids()
    return {"url": settings.base_url, "running": bool(pids), "answering": bool(pids) and process.healthy(),
            "pids": pids, "log": str(settings.log_path)}
