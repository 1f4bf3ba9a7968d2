"""The conformance suite can fail: run it through a mutating proxy in front
of the reference cloud and check that, for each mutation, the tests that
should fail do fail — and that without a mutation those tests pass
through the same proxy (so the failures are the mutation's doing).

Each mutation runs the parts of the suite it aims at (identity and image,
volume, or network without its data-plane module: server boots would add a
minute to every run) in a subprocess (``python -m pytest conformance/... ``)
with ``OS_CLIENT_CONFIG_FILE`` pointing at a clouds.yaml whose clouds go
through the proxy; outcomes are read from its JUnit XML. The baseline runs
all of those parts. After each run, whatever a mutation kept the tests from
deleting is swept by its run tag, straight at the cloud.

The pure parts (the mutations, :func:`run_suite`, :func:`outcomes`) take
any clouds.yaml, so they can be tried by hand against a running cloud:

    python tests/integration/api/test_suite_can_fail.py /tmp/live/clouds.yaml [MUTATION...]
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

if __package__:
    from .mutating_proxy import (
        Exchange, LeakImages, MutatingProxy, change_status, drop_field, plain_text_error, upstream_of,
        write_clouds_yaml,
    )
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).parent))
    from mutating_proxy import (  # type: ignore[no-redef]
        Exchange, LeakImages, MutatingProxy, change_status, drop_field, plain_text_error, upstream_of,
        write_clouds_yaml,
    )

ROOT = Path(__file__).resolve().parents[3]
SUITE_TIMEOUT = 900
UUID = r"[0-9a-fA-F-]{32,36}"


# ---------------------------------------------------------------- the mutations


def _spare_first_auth() -> Callable[[Exchange], bool]:
    """A ``when`` for token mutations: the first token each user and scope
    get (the client's own session login, which openstacksdk needs intact to
    run anything at all) is spared; every later one — the tokens the tests
    issue and validate — is mutated."""
    seen: set[str] = set()
    lock = threading.Lock()

    def when(ex: Exchange) -> bool:
        if ex.method != "POST":
            return True
        try:
            auth = json.loads(ex.request_body)["auth"]
            key = json.dumps([auth["identity"], auth.get("scope")], sort_keys=True)
        except (ValueError, KeyError, TypeError):
            return True
        if not isinstance(auth.get("scope"), dict):  # a session login is project-scoped
            return True
        with lock:
            if key in seen:
                return True
            seen.add(key)
            return False

    return when


IDENTITY_IMAGE = ("conformance/identity", "conformance/image")
VOLUME = ("conformance/volume",)
NETWORK = tuple(f"conformance/network/test_{m}.py"
                for m in ("versions", "networks", "ports", "routers", "security_groups", "subnetpools"))
ALL_PARTS = IDENTITY_IMAGE + VOLUME + NETWORK


@dataclass(frozen=True)
class Case:
    """A mutation, the tests it must make fail (node id substrings) and the
    parts of the suite that hold them."""

    name: str
    make: Callable[[], Any]
    must_fail: tuple[str, ...]
    parts: tuple[str, ...] = IDENTITY_IMAGE


CASES = [
    Case(
        "token-without-expires_at",
        lambda: drop_field("drop token.expires_at", r"/identity/v3/auth/tokens", "token.expires_at",
                           methods=("POST", "GET"), when=_spare_first_auth()),
        (
            "identity/test_tokens.py::test_create_token",
            "identity/test_tokens.py::test_create_unscoped_token",
            "identity/test_tokens.py::test_validate_token",
            "identity/test_catalog.py::test_token_catalog_matches_auth_catalog",
        ),
    ),
    Case(
        "image-404-becomes-200",
        lambda: change_status("GET image 404 -> 200", rf"/image/v2/images/{UUID}", 404, 200, methods=("GET",)),
        (
            "image/test_images.py::test_get_non_existent_image",
            "image/test_images.py::test_get_delete_deleted_image",
            "image/test_images.py::test_delete_image",
            "image/test_isolation.py::test_another_tenants_private_image_is_404",
        ),
    ),
    Case(
        "keystone-401-plain-text",
        lambda: plain_text_error("keystone 401 body -> text", r"/identity/.*", 401),
        (
            "identity/test_tokens.py::test_create_token_wrong_password_is_401",
            "identity/test_tokens.py::test_create_token_unknown_user_is_401",
            "identity/test_catalog.py::test_catalog_needs_a_valid_token",
            "identity/test_projects.py::test_list_projects_needs_a_token",
            "identity/test_tokens.py::test_token_auth_creation_existence_deletion",
        ),
    ),
    Case(
        "image-list-without-id",
        lambda: drop_field("drop images[].id", r"/image/v2/images/?", "images[].id", methods=("GET",)),
        (
            "image/test_images.py::test_list_no_params",
            "image/test_list.py::test_list_images_param_disk_format",
            "image/test_list.py::test_list_images_param_limit",
            "image/test_list.py::test_list_images_param_visibility",
            "image/test_isolation.py::test_another_tenants_private_image_is_not_listed",
        ),
    ),
    Case(
        "alt-image-leaks-into-list",
        LeakImages,
        ("image/test_isolation.py::test_another_tenants_private_image_is_not_listed",),
    ),
]
#: More mutations, so that every image test is failed by at least one.
CASES += [
    Case(
        "image-put-refusals-become-204",
        lambda: change_status("PUT file/tag 404/409 -> 204", rf"/image/v2/images/{UUID}/(file|tags/.*)", (404, 409),
                              204, methods=("PUT",)),
        (
            "image/test_images.py::test_upload_to_active_image_is_409",
            "image/test_update.py::test_update_tags_for_non_existing_image",
        ),
    ),
    Case(
        "image-patch-errors-become-200",
        lambda: change_status("PATCH image 4xx -> 200", rf"/image/v2/images/{UUID}", range(400, 500), 200,
                              methods=("PATCH",)),
        (
            "image/test_update.py::test_bad_json_patch_is_400",
            "image/test_update.py::test_patch_read_only_attribute_is_403",
            "image/test_update.py::test_patch_with_wrong_media_type_is_415",
            "image/test_isolation.py::test_another_tenants_private_image_is_404",
        ),
    ),
    Case(
        "image-delete-refusals-become-204",
        lambda: change_status("DELETE image 403/404/405 -> 204", r"/image/v2/images(/.*)?", (403, 404, 405), 204,
                              methods=("DELETE",)),
        (
            "image/test_images.py::test_delete_image_null_id",
            "image/test_images.py::test_delete_protected_image_is_403",
            "image/test_images.py::test_delete_non_existing_image",
            "image/test_images.py::test_get_delete_deleted_image",
            "image/test_update.py::test_delete_non_existing_tag",
        ),
    ),
    Case(
        "image-show-without-checksum",
        lambda: drop_field("drop checksum from GET image", rf"/image/v2/images/{UUID}", "checksum", methods=("GET",)),
        (
            "image/test_images.py::test_get_image",
            "image/test_images.py::test_create_upload_download_image",
            "image/test_update.py::test_update_image",
            "image/test_update.py::test_update_delete_tags_for_image",
        ),
    ),
    Case(
        "image-schemas-without-name",
        lambda: drop_field("drop name from schemas", r"/image/v2/schemas/.*", "name", methods=("GET",)),
        ("image/test_images.py::test_get_image_schema", "image/test_images.py::test_get_images_schema"),
    ),
]
CASES += [
    Case(
        "keystone-refusals-become-200",
        lambda: change_status("keystone 400/403/404 -> 200", r"/identity/.*", (400, 403, 404), 200),
        (
            "identity/test_tokens.py::test_create_token_malformed_request_is_400",
            "identity/test_tokens.py::test_validate_unknown_token_is_404",
            "identity/test_tokens.py::test_delete_unknown_token_is_404",
            "identity/test_projects.py::test_member_cannot_list_users",
            "identity/test_projects.py::test_show_unknown_project_is_404",
        ),
    ),
]
VOLUME_PATH = r"/volume/v3/(?:[^/]+/)?volumes/" + UUID
CASES += [
    Case(
        "cinder-404-as-plain-text",
        lambda: plain_text_error("cinder 404 -> text/plain", r"/volume/v3/.*", 404, "Not Found\n"),
        ("volume/test_volumes.py::test_volume_get_nonexistent_volume_id",
         "volume/test_volumes.py::test_delete_invalid_volume_id",
         "volume/test_metadata.py::test_metadata_of_nonexistent_volume_is_404"),
        VOLUME,
    ),
    Case(
        "volume-without-readonly",
        lambda: drop_field("drop volume.metadata.readonly", VOLUME_PATH + "$", "volume.metadata.readonly",
                           methods=("GET",)),
        ("volume/test_actions.py::test_volume_readonly_update",),
        VOLUME,
    ),
    Case(
        "volume-with-snapshots-deletable",
        lambda: change_status("cinder DELETE 400 -> 202", VOLUME_PATH, 400, 202, methods=("DELETE",)),
        ("volume/test_snapshots.py::test_delete_volume_with_snapshots_is_400",),
        VOLUME,
    ),
    Case(
        "network-without-status",
        lambda: drop_field("drop network.status", r"/network/v2\.0/networks/" + UUID, "network.status",
                           methods=("GET",)),
        ("network/test_networks.py::test_show_network",),
        NETWORK,
    ),
    Case(
        "network-in-use-deletable",
        lambda: change_status("neutron DELETE 409 -> 204", r"/network/v2\.0/(networks|subnets)/" + UUID, 409, 204,
                              methods=("DELETE",)),
        ("network/test_networks.py::test_delete_network_and_subnet_in_use_is_409",),
        NETWORK,
    ),
    Case(
        "neutron-refusals-become-500",
        lambda: change_status("neutron POST subnets 400 -> 500", r"/network/v2\.0/subnets", 400, 500,
                              methods=("POST",)),
        ("network/test_networks.py::test_invalid_cidr_is_400",),
        NETWORK,
    ),
]
CASE_BY_NAME = {c.name: c for c in CASES}


# ---------------------------------------------------------------- running the suite


@dataclass
class SuiteRun:
    run_id: str
    returncode: int
    outcomes: dict[str, str]  # node id -> passed | failed | error | skipped
    output: str
    leftovers: list[str] = field(default_factory=list)

    def failed(self) -> set[str]:
        return {n for n, o in self.outcomes.items() if o in ("failed", "error")}

    def passed(self) -> set[str]:
        return {n for n, o in self.outcomes.items() if o == "passed"}


def outcomes(junit_xml: Path) -> dict[str, str]:
    """Node id (``conformance/identity/test_tokens.py::test_x[param]``) -> outcome, from JUnit XML."""
    result: dict[str, str] = {}
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        nodeid = classname.replace(".", "/") + ".py::" + name
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                if outcome != "skipped":
                    break
        if result.get(nodeid) not in ("failed", "error"):  # a teardown error comes as a second entry
            result[nodeid] = outcome
    return result


def run_suite(clouds_yaml: Path, work: Path, label: str, parts: tuple[str, ...] = ALL_PARTS) -> SuiteRun:
    """``pytest`` of ``parts`` against the clouds of ``clouds_yaml``, with a run id of its own."""
    junit = work / f"junit-{label}.xml"
    run_id = "mut" + secrets.token_hex(6)
    argv = [sys.executable, "-m", "pytest", *parts, "--cloud", "octoprobe", "--admin-cloud",
            "octoprobe-admin", "--alt-cloud", "octoprobe-alt", "-p", "no:cacheprovider", "-q", "--run-id", run_id,
            f"--junitxml={junit}", "-o", "junit_family=xunit2"]
    env = {k: v for k, v in os.environ.items() if k not in ("OS_CLOUD", "PYTEST_ADDOPTS")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SUITE_TIMEOUT)
    output = proc.stdout + proc.stderr
    if not junit.exists():
        raise AssertionError(f"the suite ({label}) wrote no JUnit XML; exit {proc.returncode}:\n{output[-4000:]}")
    return SuiteRun(run_id, proc.returncode, outcomes(junit), output)


def sweep_run(clouds_yaml: Path, run_id: str) -> list[str]:
    """Everything of run ``run_id`` still on the cloud (both projects, then
    images as admin, unprotected first), deleted straight at the cloud (not
    through the proxy); what was found."""
    from openstack.config import OpenStackConfig
    from openstack.connection import Connection

    from octoprobe.resources import KINDS, Sweeper

    config = OpenStackConfig(config_files=[str(clouds_yaml)], vendor_files=[])
    found = []
    for cloud in ("octoprobe", "octoprobe-alt"):
        conn = Connection(config=config.get_one(cloud=cloud, api_timeout=60))
        try:
            # images go below, as admin: a protected one needs unprotecting first
            kinds = [k.name for k in KINDS if k.name != "image"]
            report = Sweeper(conn, run_id=run_id, kinds=kinds, timeout=300).sweep()
            found += [f"{cloud}: {f}" for f in report.found]
        finally:
            conn.close()
    return found + sweep_images(clouds_yaml, run_id)


def sweep_images(clouds_yaml: Path, run_id: str, cloud: str = "octoprobe-admin") -> list[str]:
    """Delete (unprotecting first) the images of run ``run_id`` that are left,
    going straight to the cloud (not through the proxy: a mutation may have
    broken a test's own cleanup); returns their ids."""
    from openstack.config import OpenStackConfig
    from openstack.connection import Connection

    config = OpenStackConfig(config_files=[str(clouds_yaml)], vendor_files=[])
    conn = Connection(config=config.get_one(cloud=cloud, api_timeout=60))
    try:
        resp = conn.image.get(f"/images?tag=octoprobe-run%3D{run_id}&limit=1000", raise_exc=False)
        assert resp.status_code == 200, f"listing the images of run {run_id}: {resp.status_code} {resp.text[:300]}"
        left = [i["id"] for i in resp.json()["images"]]
        for image_id in left:
            conn.image.patch(f"/images/{image_id}", json=[{"op": "replace", "path": "/protected", "value": False}],
                             headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
                             raise_exc=False)
            conn.image.delete(f"/images/{image_id}", raise_exc=False)
        return left
    finally:
        conn.close()


def _is_test(nodeid: str, wanted: str) -> bool:
    """``nodeid`` is the test ``wanted`` (``dir/file.py::name``) or one of its parametrizations."""
    base = nodeid.split("[", 1)[0]
    return base == wanted or base.endswith("/" + wanted)


def check_case(case: Case, mutation: Any, run: SuiteRun, baseline: SuiteRun | None = None) -> None:
    applied = getattr(mutation, "applied", 0)
    assert applied > 0, f"mutation {case.name} never changed a response: the proxy did not see the calls"
    failed = run.failed()
    for wanted in case.must_fail:
        hits = [n for n in run.outcomes if _is_test(n, wanted)]
        assert hits, f"{case.name}: no test {wanted} ran:\n{run.output[-3000:]}"
        survivors = [n for n in hits if n not in failed]
        assert not survivors, (
            f"mutation {case.name!r} should make {wanted} fail, but {survivors} did not "
            f"(outcomes: {[run.outcomes[n] for n in survivors]})"
        )
    assert run.passed(), f"{case.name}: nothing passed — the proxy broke everything:\n{run.output[-3000:]}"
    if baseline is not None:
        # the mutation breaks some tests, not the run: most of what passed without it passes with it
        before = [n for n in baseline.passed() if any(n.startswith(part) for part in case.parts)]
        assert len(run.passed()) >= len(before) // 3, (
            f"{case.name}: only {len(run.passed())} of the {len(before)} tests of its parts passed")


# ---------------------------------------------------------------- the proxy itself (no cloud needed)


@pytest.fixture
def echo_upstream():
    """A tiny upstream: JSON that names its own origin, a Location header, 404s."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _reply(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            origin = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.startswith("/image/v2/images/missing"):
                self._reply(404, {"error": {"code": 404, "message": "No image"}})
            else:
                self._reply(200, {"token": {"expires_at": "x", "catalog": [{"url": origin + "/image"}]},
                                  "images": [{"id": "a", "name": "n"}]})

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            origin = f"http://127.0.0.1:{self.server.server_address[1]}"
            self._reply(201, {"id": "i1", "got": len(body)}, [("Location", origin + "/image/v2/images/i1")])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_proxy_rewrites_origins_and_applies_one_mutation(echo_upstream, tmp_path):
    import requests

    with MutatingProxy(echo_upstream) as proxy, requests.Session() as http:
        body = http.get(proxy.url + "/identity/v3/auth/tokens").json()
        assert body["token"]["catalog"][0]["url"] == proxy.url + "/image", "catalog URLs are not rewritten"
        resp = http.post(proxy.url + "/image/v2/images", data=b"x" * 1000)
        assert (resp.status_code, resp.json()["got"]) == (201, 1000)
        assert resp.headers["Location"] == proxy.url + "/image/v2/images/i1", "Location is not rewritten"

        mutation = drop_field("drop", r"/identity/v3/auth/tokens", "token.expires_at")
        proxy.set_mutation(mutation)
        assert "expires_at" not in http.get(proxy.url + "/identity/v3/auth/tokens").json()["token"]
        assert "images" in http.get(proxy.url + "/image/v2/images").json(), "a mutation changed another path"
        assert mutation.applied == 1

        proxy.set_mutation(drop_field("drop ids", r"/image/v2/images", "images[].id"))
        assert http.get(proxy.url + "/image/v2/images").json()["images"] == [{"name": "n"}]

        proxy.set_mutation(change_status("404 -> 204", r"/image/v2/images/.*", 404, 204))
        resp = http.get(proxy.url + "/image/v2/images/missing")
        assert (resp.status_code, resp.content) == (204, b"")
        assert http.get(proxy.url + "/image/v2/images").status_code == 200, "keep-alive broke after a 204"

        proxy.set_mutation(plain_text_error("text", r"/image/.*", 404))
        resp = http.get(proxy.url + "/image/v2/images/missing")
        assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("text/plain")

    source = tmp_path / "source.yaml"
    source.write_text("clouds:\n  octoprobe:\n    auth:\n      auth_url: http://198.18.70.1/identity/v3\n")
    written = write_clouds_yaml(source, tmp_path / "proxied.yaml", "http://127.0.0.1:9")
    assert "http://127.0.0.1:9/identity/v3" in written.read_text()
    assert upstream_of(source) == "http://198.18.70.1"


# ---------------------------------------------------------------- the test (its own reference cloud)


@pytest.fixture(scope="module")
def proxied(api_cloud, tmp_path_factory):
    work = tmp_path_factory.mktemp("mutating-proxy")
    with MutatingProxy(upstream_of(api_cloud.clouds_yaml)) as proxy:
        clouds = write_clouds_yaml(api_cloud.clouds_yaml, work / "clouds.yaml", proxy.url)
        yield proxy, clouds, work, api_cloud.clouds_yaml


@pytest.fixture(scope="module")
def baseline(proxied) -> SuiteRun:
    proxy, clouds, work, direct = proxied
    proxy.set_mutation(None)
    run = run_suite(clouds, work, "baseline")
    run.leftovers = sweep_run(direct, run.run_id)
    return run


def test_suite_passes_through_the_proxy_without_mutation(proxied, baseline):
    proxy = proxied[0]
    assert not baseline.leftovers, f"the suite left resources of its run behind: {baseline.leftovers}"
    assert proxy.requests > 0, "the suite did not go through the proxy"
    assert baseline.returncode == 0 and not baseline.failed(), (
        f"without a mutation the suite fails: {sorted(baseline.failed())}\n{baseline.output[-4000:]}")
    for part in ("conformance/image/", "conformance/volume/", "conformance/network/"):
        assert [n for n in baseline.passed() if part in n], f"no test of {part} passed through the proxy"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_mutation_makes_the_right_tests_fail(proxied, baseline, case):
    proxy, clouds, work, direct = proxied
    mutation = case.make()
    proxy.set_mutation(mutation)
    try:
        run = run_suite(clouds, work, case.name, case.parts)
    finally:
        proxy.set_mutation(None)
    sweep_run(direct, run.run_id)  # what a mutation kept a test from deleting
    assert run.returncode != 0, f"the suite passed under mutation {case.name}"
    check_case(case, mutation, run, baseline)


# ---------------------------------------------------------------- by hand


def main(argv: list[str]) -> int:
    import tempfile

    source = Path(argv[0])
    names = argv[1:] or ["baseline", *CASE_BY_NAME]
    work = Path(tempfile.mkdtemp(prefix="octoprobe-proxy-"))
    ok = True
    with MutatingProxy(upstream_of(source)) as proxy:
        clouds = write_clouds_yaml(source, work / "clouds.yaml", proxy.url)
        base = None
        failed_by_some: set[str] = set()
        for name in names:
            if name == "baseline":
                base = run_suite(clouds, work, "baseline")
                base.leftovers = sweep_run(source, base.run_id)
                print(f"baseline: rc {base.returncode}, {len(base.passed())} passed, failed {sorted(base.failed())}, "
                      f"left {base.leftovers}")
                ok &= base.returncode == 0 and not base.leftovers
                continue
            case = CASE_BY_NAME[name]
            mutation = case.make()
            proxy.set_mutation(mutation)
            run = run_suite(clouds, work, name, case.parts)
            proxy.set_mutation(None)
            run.leftovers = sweep_run(source, run.run_id)
            failed_by_some.update(run.failed())
            try:
                check_case(case, mutation, run, base)
                verdict = "OK"
            except AssertionError as exc:
                verdict, ok = f"NOT CAUGHT: {exc}", False
            print(f"{name}: applied {getattr(mutation, 'applied', 0)}x, rc {run.returncode}, "
                  f"{len(run.passed())} passed, {len(run.failed())} failed: {verdict}")
            print(f"    failed: {', '.join(sorted(n.split('/', 1)[1] for n in run.failed()))}")
            if run.leftovers:
                print(f"    swept {len(run.leftovers)} resource(s) its cleanup could not delete")
        if base is not None and len(names) > 2:
            never = sorted({n.split("[", 1)[0] for n in base.passed()}
                           - {n.split("[", 1)[0] for n in failed_by_some})
            print(f"tests no mutation failed ({len(never)}):")
            for n in never:
                print(f"    {n}")
    print(f"work dir {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
