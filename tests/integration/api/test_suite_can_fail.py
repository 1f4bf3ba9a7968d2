"""The conformance suite can fail: run it through a mutating proxy in front
of the reference cloud and check that, for each mutation, the tests that
should fail do fail — and that without a mutation those tests pass
through the same proxy (so the failures are the mutation's doing).

The baseline runs every conformance module. The broad mutations (error
bodies, write statuses, reads without ids, leaks...) run on every module but
the data plane's (:data:`DATA_PLANE`: SSH into the guests, TCP to them, which
boot servers and wait on packets); the data plane's modules run in a group
of their own, under mutations that make the cloud *do* something else than
its API says (a rule for another port, a disassociation never made, a
server booted under another name) or say something else than it did (a
flavor's vcpus, a server's address, a port's MAC, a keypair's public key),
which only the guests and the packets can show. Each run is a subprocess
(``python -m pytest conformance/...``) with ``OS_CLIENT_CONFIG_FILE`` pointing at a clouds.yaml whose clouds go
through the proxy, and the :mod:`proxy_phases` plugin telling the proxy
each test's phase: mutations change only the responses to a test's own
call, so what fails under one fails by its own assertion (``failed`` in
the JUnit XML, never a fixture ``error``); outcomes are read from the JUnit
XML. After each run, whatever a mutation kept the tests from deleting is
swept by its run tag, straight at the cloud.

The catalogue is ``mutation_cases.py``; running, sweeping and judging a
run ``suite_runs.py``; the proxy ``mutating_proxy.py``. A :class:`Case` is
one mutation and the tests it must fail (node ids, ``module.py::*`` for
every test of a module that passed in the baseline, or ``test[param]``). A :class:`Group` runs several cases in one suite run
(CI time: a run of every part with its server boots takes minutes): their
mutations, combined in a :class:`Composite`, touch disjoint requests, each
counts what it changed and each case's tests are checked. Then the
coverage: every test that passed in the baseline is named by some case
and failed in that case's run — but :data:`EXCLUDED` (none today). A new
conformance test that no mutation fails fails
``test_every_conformance_test_is_failed_by_some_mutation``, by name.

The pure parts (the mutations, :func:`run_suite`, :func:`outcomes`) take
any clouds.yaml, so they can be tried by hand against a running cloud
(the baseline and every group, then the coverage; or some groups or
single cases by name):

    python tests/integration/api/test_suite_can_fail.py /tmp/live/clouds.yaml [GROUP|CASE...]
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from mutating_proxy import (
    CONTROL_PATH, Composite, MutatingProxy, RewriteRequest, change_status, drop_field, ignore_query, plain_text_error,
    upstream_of, write_clouds_yaml,
)
from mutation_cases import BASELINE_PARTS, CASE_BY_NAME, GROUP_BY_NAME, GROUPS, Group
from suite_runs import SuiteRun, _base, caught_by, check_group, coverage, run_suite, sweep_run


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

        # a composite: each part counts its own; an exchange two parts change is an overlap
        both = Composite("two", {"ids": drop_field("ids", r"/image/v2/images", "images[].id"),
                                 "names": drop_field("names", r"/image/v2/images", "images[].name"),
                                 "404": change_status("404", r"/image/.*", 404, 400)})
        proxy.set_mutation(both)
        assert http.get(proxy.url + "/image/v2/images").json()["images"] == [{}]
        assert both.applied_by() == {"ids": 1, "names": 1, "404": 0} and len(both.overlaps) == 1

        # told a phase, mutations change only what a test's call asks (unless told otherwise)
        proxy.set_mutation(drop_field("drop", r"/identity/v3/auth/tokens", "token.expires_at"))
        for phase, dropped in (("setup", False), ("call", True), ("", False)):
            assert http.post(proxy.url + CONTROL_PATH, json={"nodeid": "t", "phase": phase}).status_code == 204
            token = http.get(proxy.url + "/identity/v3/auth/tokens").json()["token"]
            assert ("expires_at" not in token) == dropped, phase

        # a list that ignores its filters: the query is not forwarded (but limit)
        ignore = ignore_query("ignore", r"/image/v2/images")
        proxy.set_mutation(ignore)
        http.post(proxy.url + CONTROL_PATH, json={"nodeid": "t", "phase": "call"})
        assert http.get(proxy.url + "/image/v2/images?name=x&limit=2").status_code == 200
        assert ignore.applied == 1

        # the cloud does something else than asked, and answers as if it had done what was asked
        def longer(request):
            request.set_json({**request.json(), "pad": "x" * 100})
            return True

        def as_asked(ex):
            ex.set_json({**ex.json(), "got": len(ex.request_body)})
            return True

        bigger = RewriteRequest("bigger", r"/image/v2/images", longer, answer=as_asked, methods=("POST",))
        proxy.set_mutation(Composite("rewrites", {"bigger": bigger}))
        assert http.post(proxy.url + "/image/v2/images", json={"a": 1}).json()["got"] == len(b'{"a": 1}')
        assert bigger.applied == 1
        proxy.set_mutation(RewriteRequest("bigger", r"/image/v2/images", longer, methods=("POST",)))
        assert http.post(proxy.url + "/image/v2/images", json={"a": 1}).json()["got"] > 100, "not forwarded"

        def put_is_get(request):
            request.method, request.body = "GET", b""
            return True

        proxy.set_mutation(RewriteRequest("ignore PUT", r"/identity/.*", put_is_get, methods=("PUT",)))
        resp = http.put(proxy.url + "/identity/v3/auth/tokens", json={"x": 1})
        assert resp.status_code == 200 and "token" in resp.json(), "a PUT rewritten into a GET"
        http.post(proxy.url + CONTROL_PATH, json={"nodeid": "t", "phase": "setup"})
        assert http.put(proxy.url + "/identity/v3/auth/tokens", json={"x": 1}).status_code == 501, (
            "a rewrite of the call phase changed a setup request")

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
    run = run_suite(clouds, work, "baseline", BASELINE_PARTS, control=proxy.url + CONTROL_PATH)
    run.leftovers = sweep_run(direct, run.run_id)
    return run


#: group name -> its run, for the coverage check at the end
GROUP_RUNS: dict[str, SuiteRun] = {}


def test_suite_passes_through_the_proxy_without_mutation(proxied, baseline, terminal_summary):
    proxy = proxied[0]
    assert not baseline.leftovers, f"the suite left resources of its run behind: {baseline.leftovers}"
    assert proxy.requests > 0, "the suite did not go through the proxy"
    assert baseline.returncode == 0 and not baseline.failed(), (
        f"without a mutation the suite fails: {sorted(baseline.failed())}\n{baseline.output[-4000:]}")
    for part in ("conformance/identity/", "conformance/image/", "conformance/volume/", "conformance/network/",
                 "conformance/compute/"):
        assert [n for n in baseline.passed() if part in n], f"no test of {part} passed through the proxy"
    terminal_summary.append(f"suite through the mutating proxy: baseline {len(baseline.passed())} passed "
                     f"in {baseline.seconds:.0f} s")


@pytest.mark.parametrize("group", GROUPS, ids=[g.name for g in GROUPS])
def test_mutations_make_the_right_tests_fail(proxied, baseline, group, terminal_summary):
    proxy, clouds, work, direct = proxied
    mutation = group.make()
    proxy.set_mutation(mutation)
    try:
        run = run_suite(clouds, work, group.name, group.parts, control=proxy.url + CONTROL_PATH)
    finally:
        proxy.set_mutation(None)
    GROUP_RUNS[group.name] = run
    sweep_run(direct, run.run_id)  # what a mutation kept a test from deleting
    terminal_summary.append(f"mutations {group.name}: {len(run.failed())} tests failed in {run.seconds:.0f} s; applied "
                     + ", ".join(f"{k} {v}x" for k, v in mutation.applied_by().items()))
    assert run.returncode != 0, f"the suite passed under mutations {group.name}"
    check_group(group, mutation, run, baseline)


def test_every_conformance_test_is_failed_by_some_mutation(baseline, terminal_summary):
    """Coverage: every test of the proxied parts that passed in the baseline
    is named by some case (and failed in its call in that case's run, when
    all groups ran in this session) — but the few :data:`EXCLUDED` ones, each
    with its reason. A new conformance test that no mutation fails fails here,
    by name: add a mutation (or a case's name for it), or make the test
    assert something a mutation can break."""
    tests, claimed, excluded = coverage(baseline)
    missing = sorted(tests - claimed - excluded)
    assert not missing, (f"{len(missing)} conformance tests that no mutation case names (add a mutation that "
                         f"fails each, or justify it in EXCLUDED): {missing}")
    if set(GROUP_RUNS) == {g.name for g in GROUPS}:
        _, caught, _ = coverage(baseline, GROUP_RUNS)
        uncaught = sorted(tests - caught - excluded)
        assert not uncaught, f"{len(uncaught)} conformance tests no mutation made fail in its call: {uncaught}"
        terminal_summary.append(f"mutation coverage: {len(caught)} of {len(tests)} tests failed by some mutation, "
                         f"{len(excluded)} excluded")


# ---------------------------------------------------------------- by hand


def main(argv: list[str]) -> int:
    """``clouds.yaml [NAME...]``: the baseline, then each NAME — a group (its
    cases together, as in CI) or a case (alone) —; all groups by default.
    Prints each run, then the coverage (the tests no mutation failed)."""
    import tempfile

    source = Path(argv[0])
    names = argv[1:] or ["baseline", *(g.name for g in GROUPS)]
    unknown = [n for n in names if n != "baseline" and n not in GROUP_BY_NAME and n not in CASE_BY_NAME]
    if unknown:
        print(f"unknown groups or cases {unknown}; groups: {list(GROUP_BY_NAME)}; cases: {list(CASE_BY_NAME)}")
        return 2
    work = Path(tempfile.mkdtemp(prefix="octoprobe-proxy-"))
    ok = True
    with MutatingProxy(upstream_of(source)) as proxy:
        control = proxy.url + CONTROL_PATH
        clouds = write_clouds_yaml(source, work / "clouds.yaml", proxy.url)
        base = None
        runs: dict[str, SuiteRun] = {}
        for name in names:
            if name == "baseline":
                base = run_suite(clouds, work, "baseline", BASELINE_PARTS, control=control)
                base.leftovers = sweep_run(source, base.run_id)
                print(f"baseline: rc {base.returncode}, {len(base.passed())} passed in {base.seconds:.0f} s, "
                      f"failed {sorted(base.failed())}, left {base.leftovers}", flush=True)
                ok &= base.returncode == 0 and not base.leftovers
                continue
            group = GROUP_BY_NAME.get(name) or Group(name, (CASE_BY_NAME[name],))
            mutation = group.make()
            proxy.set_mutation(mutation)
            run = run_suite(clouds, work, name, group.parts, control=control)
            proxy.set_mutation(None)
            run.leftovers = sweep_run(source, run.run_id)
            runs[name] = run
            try:
                check_group(group, mutation, run, base)
                verdict = "OK"
            except AssertionError as exc:
                verdict, ok = f"NOT CAUGHT: {exc}", False
            print(f"{name}: {len(run.passed())} passed, {len(run.failed())} failed in {run.seconds:.0f} s "
                  f"(rc {run.returncode}): {verdict}", flush=True)
            for case in group.cases:
                print(f"  {case.name}: applied {mutation.parts[case.name].applied}x, names "
                      f"{len(caught_by(case, run, base))} tests", flush=True)
            print(f"    failed: {', '.join(sorted(n.split('/', 1)[1] for n in run.failed()))}", flush=True)
            errors = sorted(n for n, o in run.outcomes.items() if o == "error")
            if errors:
                print(f"    errors (setup/teardown): {', '.join(errors)}", flush=True)
            if run.leftovers:
                print(f"    swept {len(run.leftovers)} resource(s) its cleanup could not delete", flush=True)
        if base is not None:
            tests, claimed, excluded = coverage(base)
            if runs:
                failed = {_base(n) for r in runs.values() for n, o in r.outcomes.items() if o == "failed"}
                never = sorted(tests - failed - excluded)
                print(f"coverage: {len(tests)} tests passed in the baseline; {len(tests & failed)} failed "
                      f"under some mutation of this sweep; {len(excluded)} excluded", flush=True)
                print(f"tests no mutation failed ({len(never)}):")
                for n in never:
                    print(f"    {n}")
            unclaimed = sorted(tests - claimed - excluded)
            print(f"tests no case names in must_fail ({len(unclaimed)}):")
            for n in unclaimed:
                print(f"    {n}")
            ok &= not unclaimed
    print(f"work dir {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
