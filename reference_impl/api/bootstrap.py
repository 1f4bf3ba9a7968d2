"""What ``octoprobe cloud up`` puts into the API's database: the Default
domain, the admin/member/reader roles, an admin project and two ordinary
projects with a user each, and the matching ``clouds.yaml`` entries
(:mod:`.lifecycle` merges them into the file).

Passwords are generated once and kept in ``<state>/api/credentials.json``
(mode 0600); a second ``up`` reuses them.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass

from .clouds_yaml import cloud_entry
from .db import Database
from .identity_store import IdentityStore
from .settings import ApiSettings


@dataclass(frozen=True)
class Account:
    cloud: str  # the clouds.yaml entry
    user: str
    project: str
    role: str


ACCOUNTS = (
    Account("octoprobe-admin", "admin", "admin", "admin"),
    Account("octoprobe", "demo", "demo", "member"),
    Account("octoprobe-alt", "alt_demo", "alt_demo", "member"),
)


def credentials(settings: ApiSettings) -> dict[str, str]:
    """user → password, generated at the first call and kept."""
    path = settings.api_dir / "credentials.json"
    if path.exists():
        stored = json.loads(path.read_text())
        if all(a.user in stored for a in ACCOUNTS):
            return stored
    stored = {a.user: secrets.token_urlsafe(18) for a in ACCOUNTS}
    settings.api_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(stored, handle)
    return stored


def seed_identity(settings: ApiSettings, db: Database) -> tuple[dict[str, dict], dict[str, str]]:
    """Create what is missing; returns cloud name → clouds.yaml entry, and
    cloud name → its project's id."""
    store = IdentityStore(db, token_ttl=settings.token_ttl)
    store.ensure_defaults()
    passwords = credentials(settings)
    entries, projects = {}, {}
    for account in ACCOUNTS:
        project = store.ensure_project(account.project, f"octoprobe reference cloud: {account.cloud}")
        store.ensure_user(account.user, passwords[account.user], project["id"], [account.role])
        entries[account.cloud] = cloud_entry(settings.base_url + "/identity/v3", settings.region, account.user,
                                             passwords[account.user], account.project)
        projects[account.cloud] = project["id"]
    return entries, projects
