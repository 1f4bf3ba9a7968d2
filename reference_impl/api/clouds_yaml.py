"""Merging the reference cloud's entries into a user's ``clouds.yaml``.

Only our three entries are written; every other entry, comment and the
order of the file are kept (ruamel.yaml round-trips the document). The file
is replaced atomically and keeps its mode (0600 for a new file: it holds
passwords).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from octoprobe.config_yaml import ConfigError

CLOUD_NAMES = ("octoprobe-admin", "octoprobe", "octoprobe-alt")


def default_clouds_yaml() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "openstack" / "clouds.yaml"


def cloud_entry(auth_url: str, region: str, username: str, password: str, project: str) -> dict:
    return {
        "auth": {"auth_url": auth_url, "username": username, "password": password, "project_name": project,
                 "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": region,
        "identity_api_version": 3,
        "interface": "public",
    }


def merge_clouds_yaml(path: Path, entries: dict[str, dict]) -> None:
    """Set ``entries`` (name → cloud) under ``clouds:`` in ``path``; nothing else changes."""
    yaml = YAML()  # round-trip
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = CommentedMap()
    mode = 0o600
    if path.exists():
        text = path.read_text()
        mode = path.stat().st_mode & 0o777
        try:
            loaded = yaml.load(text)
        except Exception as exc:  # ruamel's errors carry the line
            raise ConfigError(f"{path}: cannot merge the octoprobe clouds into it: {exc}") from exc
        if loaded is not None:
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path}:1: clouds.yaml must be a mapping with a 'clouds' key")
            doc = loaded
    clouds = doc.get("clouds")
    if clouds is None:
        clouds = doc["clouds"] = CommentedMap()
    elif not isinstance(clouds, dict):
        raise ConfigError(f"{path}: clouds: must be a mapping of cloud names to clouds")
    for name, entry in entries.items():
        clouds[name] = entry
    out = io.StringIO()
    yaml.dump(doc, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.octoprobe-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(out.getvalue())
    os.chmod(tmp, mode)
    tmp.replace(path)
