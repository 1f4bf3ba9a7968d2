"""Helpers of the compute tests: Nova v2.1 calls through the run's
keystoneauth sessions (so every call is traced), run-tagged servers and
keypairs that are deleted after their test (or module), server status
polling with :mod:`octoprobe.waiters`, and the checks the tests share
(status, Nova's error body, schema).

Calls go through the openstacksdk compute proxy (a keystoneauth Adapter
whose endpoint is the catalog's compute endpoint, ``.../v2.1``) with
``raise_exc=False``: the tests judge status codes and bodies themselves.
Every request names its microversion (2.1 unless a test needs a later one,
negotiated against the cloud's advertised range with
:func:`octoprobe.plugin.require_microversion`, which skips with the reason).

The server under test boots from the image named :data:`DEFAULT_IMAGE`
(``octoprobe-guest``) when the cloud has it, else the first active public
image; with the smallest flavor that fits that image. ``$OCTOPROBE_COMPUTE_IMAGE``
and ``$OCTOPROBE_COMPUTE_FLAVOR`` (a name or an id) override the choice.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from octoprobe.plugin import require_microversion
from octoprobe.resources import NAME_PREFIX, ResourceRegistry, RunTag
from octoprobe.schemas import Schemas, advertised_range
from octoprobe.waiters import GONE, Waiter, WaitResult, status_of

from ..faults import WSGI_FAULT_NAMES
from ..identity.keystone import check_status, describe, json_body

__all__ = [
    "Nova",
    "Boot",
    "check_status",
    "check_error",
    "describe",
    "json_body",
    "DEFAULT_IMAGE",
    "IMAGE_ENV",
    "FLAVOR_ENV",
    "BUILD_TIMEOUT",
    "ACTION_TIMEOUT",
    "addresses_of",
]

JSON = "application/json"
BASE_MICROVERSION = "2.1"
DEFAULT_IMAGE = "octoprobe-guest"
IMAGE_ENV = "OCTOPROBE_COMPUTE_IMAGE"
FLAVOR_ENV = "OCTOPROBE_COMPUTE_FLAVOR"
NETWORK_ENV = "OCTOPROBE_COMPUTE_NETWORK"
#: Seconds a server may take to become ACTIVE (a boot under TCG takes seconds; CI machines are slow).
BUILD_TIMEOUT = 300.0
#: Seconds a server action (stop, start, reboot, rebuild, lock …) may take.
ACTION_TIMEOUT = 180.0
POLL = 0.25

#: Nova adds 429 (rate limits) to the shared WSGI fault names
FAULT_NAMES = {**WSGI_FAULT_NAMES, 429: "overLimit"}


def check_error(schemas: Schemas, resp: Any, *statuses: int) -> dict[str, Any]:
    """The response has one of ``statuses`` and Nova's JSON error body
    ``{"<faultName>": {"code": <status>, "message": ...}}``, the fault
    named as Nova names it for that status; returns the inner error."""
    check_status(resp, *statuses)
    body = schemas.validate("compute/error", json_body(resp))
    (name, error), = body.items()
    assert error["code"] == resp.status_code, (
        f"the error body says code {error['code']}, the status is {resp.status_code}: {describe(resp)}")
    expected = FAULT_NAMES.get(resp.status_code)
    if expected is not None:
        assert name == expected, (
            f"a {resp.status_code} error is named {name!r}, Nova names it {expected!r}: {describe(resp)}")
    return error


def addresses_of(server: Mapping[str, Any], *, version: int | None = None, kind: str | None = None) -> list[str]:
    """The addresses of a server (``addresses`` of a server's detail), of one
    IP version and one ``OS-EXT-IPS:type`` (fixed, floating) when given."""
    found = []
    for entries in (server.get("addresses") or {}).values():
        for entry in entries:
            if version is not None and entry.get("version") != version:
                continue
            if kind is not None and entry.get("OS-EXT-IPS:type", kind) != kind:
                continue
            found.append(entry["addr"])
    return found


@dataclass
class Boot:
    """A server this run created: the POST response and the server shown ACTIVE."""

    created: dict[str, Any]  # the "server" of the 202
    response: Any  # the POST /servers response
    request: dict[str, Any]  # the "server" sent
    server: dict[str, Any]  # GET /servers/{id} once ACTIVE
    wait: WaitResult | None = None

    @property
    def id(self) -> str:
        return self.created["id"]

    @property
    def name(self) -> str:
        return self.request["name"]


class Nova:
    """Compute operations as one connection's user."""

    def __init__(self, conn: Any, schemas: Schemas, run: RunTag, *, waiter: Waiter | None = None):
        self.conn = conn
        self.api = conn.compute
        self.schemas = schemas
        self.run = run
        self.waiter = waiter or Waiter()
        self._range: Any = ...
        self._network: Any = ...

    @property
    def project_id(self) -> str:
        return self.conn.current_project_id

    @property
    def user_id(self) -> str:
        return self.conn.current_user_id

    # ---- requests

    def request(self, method: str, path: str, *, microversion: str | None = BASE_MICROVERSION, **kwargs: Any) -> Any:
        """``method path`` on the compute v2.1 endpoint (``path`` like
        ``/servers``), asking for ``microversion`` (none when None)."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Accept", JSON)
        if microversion is not None:
            kwargs["microversion"] = microversion
        # skip_cache: a clouds.yaml may enable openstacksdk's GET cache; a test must reach the cloud
        return self.api.request(path, method, headers=headers, raise_exc=False, skip_cache=True, **kwargs)

    def get(self, path: str, schema: str, *, status: int = 200, **kwargs: Any) -> dict[str, Any]:
        """GET ``path``: ``status`` and a body matching ``schema``."""
        resp = self.request("GET", path, **kwargs)
        check_status(resp, status)
        return self.schemas.validate(schema, json_body(resp))

    def advertised(self) -> Any:
        """The cloud's (min, max) microversions from GET /v2.1 (None: no microversions)."""
        if self._range is ...:
            resp = self.request("GET", "/", microversion=None)
            check_status(resp, 200)
            self._range = advertised_range(self.schemas.validate("compute/version", json_body(resp)))
        return self._range

    def microversion(self, needs_min: str, needs_max: str | None = None) -> str:
        """The lowest microversion at least ``needs_min`` the cloud serves; skips the test otherwise."""
        version = require_microversion(self.advertised(), needs_min=needs_min, needs_max=needs_max,
                                       service="the compute API")
        return str(version)

    # ---- what to boot

    def images(self) -> list[dict[str, Any]]:
        resp = self.conn.image.request("/images?status=active&limit=1000", "GET", raise_exc=False, skip_cache=True,
                                       headers={"Accept": JSON})
        check_status(resp, 200)
        return json_body(resp)["images"]

    def flavors(self) -> list[dict[str, Any]]:
        return self.get("/flavors/detail", "compute/flavors-detail")["flavors"]

    def pick_image(self) -> dict[str, Any]:
        """The image servers boot from (see the module's doc)."""
        images = self.images()
        wanted = os.environ.get(IMAGE_ENV)
        if wanted:
            match = [i for i in images if wanted in (i["id"], i.get("name"))]
            assert match, f"${IMAGE_ENV}={wanted!r} names no active image the user can see"
            return match[0]
        for image in images:
            if image.get("name") == DEFAULT_IMAGE:
                return image
        public = [i for i in images if i.get("visibility") == "public"]
        assert public, f"the cloud has no active public image to boot (and no {DEFAULT_IMAGE!r}); set ${IMAGE_ENV}"
        return public[0]

    def pick_flavors(self, image: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The flavors that fit ``image``, smallest first; the one of
        ``$OCTOPROBE_COMPUTE_FLAVOR`` first when that is set."""
        flavors = [f for f in self.flavors() if not f.get("OS-FLV-DISABLED:disabled")]
        fitting = [f for f in flavors if f["ram"] >= (image.get("min_ram") or 0) and
                   (f["disk"] == 0 or f["disk"] >= (image.get("min_disk") or 0))]
        fitting.sort(key=lambda f: (f["ram"], f["vcpus"], f["disk"], f["id"]))
        wanted = os.environ.get(FLAVOR_ENV)
        if wanted:
            match = [f for f in flavors if wanted in (f["id"], f["name"])]
            assert match, f"${FLAVOR_ENV}={wanted!r} names no flavor the user can see"
            fitting = match + [f for f in fitting if f["id"] != match[0]["id"]]
        assert fitting, f"no flavor fits image {image.get('name')} (min_ram {image.get('min_ram')})"
        return fitting

    # ---- servers

    def project_network(self) -> str | None:
        """The network servers boot on: ``$OCTOPROBE_COMPUTE_NETWORK``, else the
        project's own network with subnets when it has exactly one that no
        octoprobe run made (tests of other suites may add networks meanwhile,
        which would make "no network given" ambiguous), else None (the cloud
        chooses). Looked up once."""
        if self._network is ...:
            wanted = os.environ.get(NETWORK_ENV)
            try:
                nets = [n for n in self.conn.network.networks(project_id=self.project_id)
                        if not n.is_router_external and n.subnet_ids]
            except Exception:  # no Network API: let the cloud choose
                nets = []
            if wanted:
                match = [n.id for n in nets if wanted in (n.id, n.name)]
                assert match, f"${NETWORK_ENV}={wanted!r} names no network of the project with subnets"
                self._network = match[0]
            else:
                own = [n.id for n in nets if not (n.name or "").startswith(NAME_PREFIX)]
                self._network = own[0] if len(own) == 1 else None
        return self._network

    def server_body(self, image_id: str, flavor_id: str, **attrs: Any) -> dict[str, Any]:
        """The ``server`` of a POST /servers: a run-prefixed name, the run's
        metadata, the project's network (see :meth:`project_network`)."""
        if "networks" not in attrs and self.project_network() is not None:
            attrs["networks"] = [{"uuid": self.project_network()}]
        body = {"name": self.run.name("vm"), "imageRef": image_id, "flavorRef": flavor_id, **attrs}
        body["metadata"] = {**self.run.metadata, **(attrs.get("metadata") or {})}
        return body

    def post_server(self, resources: ResourceRegistry, body: Mapping[str, Any], *,
                    microversion: str = BASE_MICROVERSION) -> Any:
        """POST /servers {"server": body}; a created server is deleted after the test."""
        resp = self.request("POST", "/servers", json={"server": dict(body)}, microversion=microversion)
        if resp.status_code == 202:
            created = json_body(resp).get("server") or {}
            if created.get("id"):
                resources.add(f"server {created['id']}", lambda: self.delete_and_wait(created["id"]))
        return resp

    def boot(self, resources: ResourceRegistry, image_id: str, flavor_id: str, *, wait: bool = True,
             **attrs: Any) -> Boot:
        """A new run-tagged server (202 and schema checked), ACTIVE unless
        ``wait`` is False; deleted after the test."""
        body = self.server_body(image_id, flavor_id, **attrs)
        resp = self.post_server(resources, body)
        check_status(resp, 202)
        created = self.schemas.validate("compute/server-created", json_body(resp))["server"]
        if not wait:
            return Boot(created, resp, body, self.show(created["id"]))
        result = self.wait_status(created["id"], "ACTIVE", timeout=BUILD_TIMEOUT)
        return Boot(created, resp, body, result.value, result)

    def show(self, server_id: str, *, microversion: str = BASE_MICROVERSION) -> dict[str, Any]:
        return self.get(f"/servers/{server_id}", "compute/server", microversion=microversion)["server"]

    def fetcher(self, server_id: str, *, validate: bool = True) -> Callable[[], dict[str, Any] | None]:
        def fetch() -> dict[str, Any] | None:
            resp = self.request("GET", f"/servers/{server_id}")
            if resp.status_code == 404:
                return None
            check_status(resp, 200)
            body = json_body(resp)
            return (self.schemas.validate("compute/server", body) if validate else body)["server"]
        return fetch

    def wait_status(self, server_id: str, status: str, *, timeout: float = ACTION_TIMEOUT,
                    task_done: bool = True) -> WaitResult:
        """Poll the server until its status is ``status`` (and no task is
        running, when the cloud shows tasks); fail at once on ERROR."""
        fetch = self.fetcher(server_id)
        state = task_state if task_done else status_of

        def failed(current: str) -> bool:
            return current == GONE or current.split("/")[0] == "ERROR"

        return self.waiter.wait(f"server {server_id} {status}", fetch, ready={status}, failed=failed,
                                timeout=timeout, interval=POLL, state=state)

    def action(self, server_id: str, body: Mapping[str, Any], *, microversion: str = BASE_MICROVERSION) -> Any:
        """POST /servers/{id}/action with ``body`` (e.g. ``{"os-stop": None}``)."""
        return self.request("POST", f"/servers/{server_id}/action", json=dict(body), microversion=microversion)

    def act_and_wait(self, server_id: str, body: Mapping[str, Any], status: str, *, expect: int = 202) -> WaitResult:
        resp = self.action(server_id, body)
        check_status(resp, expect)
        return self.wait_status(server_id, status)

    def console_output(self, server_id: str, length: int = 20) -> str | None:
        """The tail of the server's console log (os-getConsoleOutput), or None
        where the cloud does not serve it."""
        resp = self.action(server_id, {"os-getConsoleOutput": {"length": length}})
        if resp.status_code != 200:
            return None
        return str(json_body(resp).get("output") or "")

    def wait_console_quiet(self, server_id: str, *, quiet: float = 3.0, timeout: float = 90.0) -> bool:
        """Wait until the guest's console has output and has not changed for
        ``quiet`` seconds (the guest has finished booting), at most ``timeout``
        seconds; False if the console stayed busy or the cloud has no console log.

        A clean shutdown (os-stop, a soft reboot) asks the guest to power off;
        a guest still booting may not act on it, and the cloud then waits its
        shutdown timeout (Nova's default: 60 s) before forcing it."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            output = self.console_output(server_id)
            if output is None:
                return False
            now = time.monotonic()
            if output != last:
                last, since = output, now
            elif output and now - since >= quiet:
                return True
            time.sleep(0.5)
        return False

    def delete_and_wait(self, server_id: str, *, timeout: float = ACTION_TIMEOUT) -> None:
        """Delete a server of the run (unlocking it first if it is locked) and
        wait until it is gone; gone already is fine."""
        resp = self.request("DELETE", f"/servers/{server_id}")
        if resp.status_code == 409:  # locked, or busy: unlock, let the task end, retry once
            self.action(server_id, {"unlock": None})
            time.sleep(1)
            resp = self.request("DELETE", f"/servers/{server_id}")
        if resp.status_code not in (204, 404):
            raise RuntimeError(f"deleting a server of the run failed: {describe(resp)}")
        self.wait_gone(server_id, timeout=timeout)

    def wait_gone(self, server_id: str, *, timeout: float = ACTION_TIMEOUT, validate: bool = False) -> WaitResult:
        """Poll until GET /servers/{id} is 404 (or DELETED); the schema is
        checked only with ``validate`` (a cleanup must not fail on a shape)."""
        fetch = self.fetcher(server_id, validate=validate)
        # "ERROR" with the deleting task still running is not final: only an ERROR without a task fails
        return self.waiter.wait(f"server {server_id} deleted", fetch, ready={GONE, "DELETED"}, failed={"ERROR"},
                                timeout=timeout, interval=POLL, state=task_state)

    def list(self, query: str = "", *, detail: bool = False, microversion: str = BASE_MICROVERSION,
             pages: bool = True) -> list[dict[str, Any]]:
        """GET /servers[/detail]?query (200, schema checked), following
        ``servers_links`` next links unless ``pages`` is False."""
        path = "/servers/detail" if detail else "/servers"
        schema = "compute/servers-detail" if detail else "compute/servers"
        url = path + (f"?{query}" if query else "")
        servers: list[dict[str, Any]] = []
        for _ in range(100):
            page = self.get(url, schema, microversion=microversion)
            servers.extend(page["servers"])
            nxt = next((link["href"] for link in page.get("servers_links") or [] if link["rel"] == "next"), None)
            if not nxt or not pages:
                return servers
            url = path + "?" + nxt.split("?", 1)[1] if "?" in nxt else nxt
        raise AssertionError(f"GET {path}?{query} has more than 100 pages")

    def list_ours(self, query: str = "", **kwargs: Any) -> list[dict[str, Any]]:
        """The run's servers in a list (by the name prefix filter: Nova's
        ``name`` filter is a regular expression)."""
        prefix = f"name=^{re.escape(self.run.prefix)}"
        return self.list(prefix + (f"&{query}" if query else ""), **kwargs)

    # ---- keypairs

    def create_keypair(self, resources: ResourceRegistry, *, public_key: str | None = None,
                       microversion: str = BASE_MICROVERSION, **attrs: Any) -> dict[str, Any]:
        """POST /os-keypairs for a new run-prefixed keypair (generated unless
        ``public_key`` is given); 200 (2.1) or 201 (2.2 on); deleted after the test."""
        body: dict[str, Any] = {"name": self.run.name("key"), **attrs}
        if public_key is not None:
            body["public_key"] = public_key
        resp = self.request("POST", "/os-keypairs", json={"keypair": body}, microversion=microversion)
        if resp.status_code in (200, 201):
            resources.add(f"keypair {body['name']}", lambda: self.delete_keypair_quietly(body["name"]))
        check_status(resp, 201 if _at_least(microversion, "2.2") else 200)
        return self.schemas.validate("compute/keypair", json_body(resp))["keypair"]

    def delete_keypair_quietly(self, name: str) -> None:
        resp = self.request("DELETE", f"/os-keypairs/{name}")
        if resp.status_code not in (202, 204, 404):
            raise RuntimeError(f"deleting a keypair of the run failed: {describe(resp)}")

    # ---- images made from servers

    def delete_image_quietly(self, image_id: str) -> None:
        resp = self.conn.image.request(f"/images/{image_id}", "DELETE", raise_exc=False)
        if resp.status_code not in (204, 404):
            raise RuntimeError(f"deleting an image of the run failed: {describe(resp)}")

    def wait_image(self, image_id: str, status: str = "active", *, timeout: float = ACTION_TIMEOUT) -> WaitResult:
        def fetch() -> dict[str, Any] | None:
            resp = self.conn.image.request(f"/images/{image_id}", "GET", raise_exc=False, skip_cache=True,
                                           headers={"Accept": JSON})
            if resp.status_code == 404:
                return None
            check_status(resp, 200)
            return json_body(resp)

        return self.waiter.wait(f"image {image_id} {status}", fetch, ready={status},
                                failed={"killed", "deleted", "deactivated", GONE}, timeout=timeout, interval=POLL)


def task_state(server: Any) -> str:
    """A server's status, with its running task if the cloud shows one:
    ``ACTIVE``, ``ACTIVE/powering-off``, ``ERROR/deleting``; GONE for None."""
    if server is None:
        return GONE
    task = server.get("OS-EXT-STS:task_state")
    return f"{server['status']}/{task}" if task else str(server["status"])


def _at_least(version: str, other: str) -> bool:
    def key(v: str) -> tuple[int, int]:
        major, minor = v.split(".")
        return int(major), int(minor)
    return key(version) >= key(other)

