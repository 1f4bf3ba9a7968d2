"""Running the conformance suite through the mutating proxy (a pytest
subprocess, outcomes from its JUnit XML), sweeping what a run left, and
judging a run: which tests a case or a group caught, and the coverage."""

from __future__ import annotations

import fnmatch
import os
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mutating_proxy import Composite
from mutation_cases import BASELINE_PARTS, EXCLUDED, GROUPS, Case, Group

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SUITE_TIMEOUT = 1800


# ---------------------------------------------------------------- running the suite


@dataclass
class SuiteRun:
    run_id: str
    returncode: int
    outcomes: dict[str, str]  # node id -> passed | failed | error | skipped
    output: str
    leftovers: list[str] = field(default_factory=list)
    seconds: float = 0.0

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


def run_suite(clouds_yaml: Path, work: Path, label: str, parts: tuple[str, ...] = BASELINE_PARTS,
              control: str | None = None) -> SuiteRun:
    """``pytest`` of ``parts`` against the clouds of ``clouds_yaml``, with a
    run id of its own, in one process; with ``control`` (the proxy's
    :data:`CONTROL_PATH` URL) the :mod:`proxy_phases` plugin tells the proxy
    each test's phases."""
    junit = work / f"junit-{label}.xml"
    run_id = "mut" + secrets.token_hex(6)
    argv = [sys.executable, "-m", "pytest", *parts, "--cloud", "octoprobe", "--admin-cloud",
            "octoprobe-admin", "--alt-cloud", "octoprobe-alt", "-p", "no:cacheprovider", "-q", "--run-id", run_id,
            f"--junitxml={junit}", "-o", "junit_family=xunit2"]
    env = {k: v for k, v in os.environ.items() if k not in ("OS_CLOUD", "PYTEST_ADDOPTS")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    if control is not None:
        argv += ["-p", "proxy_phases"]
        env["OCTOPROBE_PROXY_CONTROL"] = control
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SUITE_TIMEOUT)
    output = proc.stdout + proc.stderr
    if not junit.exists():
        raise AssertionError(f"the suite ({label}) wrote no JUnit XML; exit {proc.returncode}:\n{output[-4000:]}")
    return SuiteRun(run_id, proc.returncode, outcomes(junit), output, seconds=time.monotonic() - started)


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


def _base(nodeid: str) -> str:
    """``conformance/x/test_y.py::test_z`` of a node id (parameters dropped)."""
    return nodeid.split("[", 1)[0]


def _is_test(nodeid: str, wanted: str) -> bool:
    """``nodeid`` is the test ``wanted`` (``dir/file.py::name``, or a glob
    like ``dir/file.py::*``) or one of its parametrizations."""
    if "[" in wanted:  # one parametrization
        return nodeid == wanted or nodeid.endswith("/" + wanted)
    base = _base(nodeid)
    if _is_glob(wanted):
        return fnmatch.fnmatchcase(base, wanted) or fnmatch.fnmatchcase(base, "*/" + wanted)
    return base == wanted or base.endswith("/" + wanted)


def _is_glob(wanted: str) -> bool:
    return "[" not in wanted and any(c in wanted for c in "*?")


def caught_by(case: Case, run: SuiteRun, baseline: SuiteRun | None = None) -> list[str]:
    """The node ids ``case.must_fail`` names in ``run`` (a glob names those
    that passed in ``baseline``, when given)."""
    hits = []
    for wanted in case.must_fail:
        found = [n for n in run.outcomes if _is_test(n, wanted)]
        if _is_glob(wanted) and baseline is not None:
            found = [n for n in found if n in baseline.passed()]
        hits += found
    return hits


def check_case(case: Case, mutation: Any, run: SuiteRun, baseline: SuiteRun | None = None) -> None:
    """``mutation`` (the case's own, alone or inside a :class:`Composite`)
    changed some response, and every test the case names failed — in its
    call (``failed``), not in a fixture (``error``)."""
    applied = getattr(mutation, "applied", 0)
    assert applied > 0, f"mutation {case.name} never changed a response: the proxy did not see the calls"
    for wanted in case.must_fail:
        hits = [n for n in run.outcomes if _is_test(n, wanted)]
        assert hits, f"{case.name}: no test {wanted} ran:\n{run.output[-3000:]}"
        if _is_glob(wanted) and baseline is not None:
            hits = [n for n in hits if n in baseline.passed()]
        survivors = [n for n in hits if run.outcomes[n] != "failed"]
        assert not survivors, (
            f"mutation {case.name!r} should make {wanted} fail in its call, but {survivors} did not "
            f"(outcomes: {[run.outcomes[n] for n in survivors]})"
        )


def check_group(group: Group, mutation: Composite, run: SuiteRun, baseline: SuiteRun | None = None) -> None:
    """Every case of ``group`` holds (:func:`check_case`), its mutations
    touched disjoint requests, and the run was not broken as a whole."""
    assert not mutation.overlaps, (
        f"{group.name}: mutations changed the same responses: {sorted(set(mutation.overlaps))[:10]}")
    problems = []
    for case in group.cases:
        try:
            check_case(case, mutation.parts[case.name], run, baseline)
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)
    named = {n for n in run.outcomes for case in group.cases if any(_is_test(n, w) for w in case.must_fail)}
    if set(run.outcomes) - named:  # (a group whose cases name every test it runs has nothing left to pass)
        assert run.passed(), f"{group.name}: nothing passed — the proxy broke everything:\n{run.output[-3000:]}"
    # fixtures and cleanups see the real cloud (mutations change only the tests' calls): a test that
    # errors (in a fixture, or its cleanup) means a mutation reached beyond the call it was meant for
    errors = sorted(n for n, o in run.outcomes.items() if o == "error")
    assert not errors, f"{group.name}: tests errored outside their call: {errors[:20]}"


def coverage(baseline: SuiteRun, runs: dict[str, SuiteRun] | None = None) -> tuple[set[str], set[str], set[str]]:
    """(the tests that passed in the baseline, those some case names — and,
    with ``runs`` (group name -> its run), that really failed there —, those
    excluded) as ``dir/test_x.py::name`` without parameters; a test counts
    as caught when every parametrization of it is."""
    tests = {_base(n) for n in baseline.passed()}
    per_node: set[str] = set()
    for group in GROUPS:
        run = (runs or {}).get(group.name)
        for case in group.cases:
            if runs is None:
                per_node |= {n for n in baseline.passed() if any(_is_test(n, w) for w in case.must_fail)}
            elif run is not None:
                per_node |= {n for n in caught_by(case, run, baseline) if run.outcomes.get(n) == "failed"}
    caught = {t for t in tests if all(n in per_node for n in baseline.passed() if _base(n) == t)}
    excluded = {t for t in tests if t in EXCLUDED}
    return tests, caught, excluded
