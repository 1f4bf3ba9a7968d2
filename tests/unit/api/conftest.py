"""Fixtures for the API's unit tests: the real ASGI app on a temporary SQLite
database, driven through Starlette's TestClient. The data plane is absent
unless a test passes a fake one (``api_factory(cloud_factory=...)``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest
from starlette.testclient import TestClient

from octoprobe.reference_impl.api import provision
from octoprobe.reference_impl.api.app import build_app
from octoprobe.reference_impl.api.backend import Backend
from octoprobe.reference_impl.api.db import Database
from octoprobe.reference_impl.api.services import all_schemas, all_services
from octoprobe.reference_impl.api.settings import ApiSettings
from octoprobe.reference_impl.network import NetworkPlane
from octoprobe.reference_impl.network.dataplane import DataPlane
from octoprobe.reference_impl.topology import parse_topology
from octoprobe.shell import Result


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


# -- Neutron: a real network library on a recording fake kernel ------------------------------
NEUTRON_TOPOLOGY = """
underlay: {ipv4: 198.18.42.0/24, ipv6: "fd6f:6374:6f42::/64", mtu: 1500}
external: {ipv4: 198.18.43.0/24, ipv6: "fd6f:6374:6f43::/64"}
ceph: {pool_size: 1, pool_min_size: 1}
racks:
  - name: ra
    hosts:
      - {name: ca, roles: [compute, storage], osds: {count: 1, size: 2GiB}}
"""


class FakeKernelRunner:
    """Answers every query with "nothing there" and records every command."""

    def __init__(self):
        self.commands: list[list[str]] = []
        self.inputs: list[str] = []

    def run(self, argv, *, timeout, check=True, input=None, env=None):
        argv = list(argv)
        self.commands.append(argv)
        self.inputs.append(input or "")
        out = "[]" if "-j" in argv and argv[-2:] != ["netns", "list"] else ""
        return Result(tuple(argv), 0, out, "")


@pytest.fixture
def neutron_plane(tmp_path, monkeypatch) -> NetworkPlane:
    monkeypatch.setattr(DataPlane, "start_dnsmasq", lambda self, ns, directory: 4242)
    monkeypatch.setattr(DataPlane, "stop_dnsmasq", lambda self, directory: None)
    monkeypatch.setattr(DataPlane, "dnsmasq_pid", lambda self, directory: None)
    monkeypatch.setattr(DataPlane, "ensure_br_netfilter", lambda self: None)
    return NetworkPlane(parse_topology(NEUTRON_TOPOLOGY), "octu", tmp_path / "net", runner=FakeKernelRunner())


@pytest.fixture
def neutron(api_factory, neutron_plane):
    """The app with Neutron over a real NetworkPlane on a fake kernel, and the external network."""
    plane = neutron_plane
    cloud = SimpleNamespace(compute=lambda: SimpleNamespace(network=plane))
    fx = api_factory(cloud_factory=lambda: cloud)
    fx.plane = plane
    fx.public = provision.ensure_external(plane, plane.topology)
    return fx
