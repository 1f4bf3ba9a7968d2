"""Fixtures for the API's unit tests: the real ASGI app on a temporary SQLite
database, driven through Starlette's TestClient. The data plane is absent
unless a test passes a fake one (``api_factory(cloud_factory=...)``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from starlette.testclient import TestClient

from octoprobe.reference_impl.api.app import build_app
from octoprobe.reference_impl.api.backend import Backend
from octoprobe.reference_impl.api.db import Database
from octoprobe.reference_impl.api.services import all_schemas, all_services
from octoprobe.reference_impl.api.settings import ApiSettings


@dataclass
class Account:
    user_id: str
    project_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


@dataclass
class ApiFixture:
    backend: Backend
    client: TestClient
    admin: Account
    member: Account

    def account(self, name: str, role: str = "member", *, project: str | None = None) -> Account:
        """A user ``name`` with ``role`` on project ``project`` (default: a new project named like the user)."""
        ids = self.backend.identity
        try:
            proj = ids.project_by_name(project or name, "default")
        except Exception:
            proj = ids.create_project(project or name, "default")
        user = ids.create_user(name, "default", password=f"{name}-pw", default_project_id=proj["id"])
        ids.assign(user["id"], proj["id"], ids.role_by_name(role)["id"])
        issued = ids.issue(user, proj, methods=["password"])
        return Account(user["id"], proj["id"], issued.token)


@pytest.fixture
def api_factory(tmp_path: Path) -> Callable[..., ApiFixture]:
    made: list[TestClient] = []

    def make(*, cloud_factory: Callable[[], Any] | None = None, token_ttl: float = 3600.0) -> ApiFixture:
        settings = ApiSettings(state_dir=tmp_path / "state", prefix="octu", host="testserver", port=80,
                               token_ttl=token_ttl)
        db = Database.open(tmp_path / f"api-{len(made)}.db", all_schemas())
        backend = Backend(settings, db, cloud_factory=cloud_factory)
        backend.identity.ensure_defaults()
        client = TestClient(build_app(backend, all_services()), raise_server_exceptions=False)
        made.append(client)
        fixture = ApiFixture(backend, client, admin=None, member=None)  # type: ignore[arg-type]
        fixture.admin = fixture.account("admin", "admin")
        fixture.member = fixture.account("demo", "member")
        return fixture

    yield make
    for client in made:
        client.close()


@pytest.fixture
def api(api_factory) -> ApiFixture:
    return api_factory()
