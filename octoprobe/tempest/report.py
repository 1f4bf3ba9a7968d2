"""A Tempest run as octoprobe's :class:`~octoprobe.report.model.RunResult`,
so it is reported (and merged into ``octoprobe run``'s report) like a suite.

:func:`to_run_result` turns the verdicts (:func:`.summary.verdicts`) into
one :class:`~octoprobe.report.model.TestResult` per selected required test:

* ``nodeid`` — ``tempest/<the guideline's test name>``, without Tempest's
  ``[id-...,smoke]`` attributes: the same across runs and Tempest releases
  (a moved test keeps the guideline's name; see :func:`nodeid`);
* ``capability`` — the interop capability the guideline maps the test to,
  ``capability_id`` — its idempotent id (as the conformance suite does);
* ``outcome`` — ``passed`` / ``failed`` / ``skipped``; a required test that
  did not run has ``failed`` ("did not run: ..."). Flagged tests never fail
  the run (as the exit status says): one that did not run is ``skipped``,
  one that failed is ``xfail`` (an expected failure), each saying why;
* ``reason`` — the skip reason or the failure's one line (:func:`.results.headline`),
  ``longrepr`` — the failure's traceback (the trimmed one the stream gave);
  both redacted (:mod:`octoprobe.redact`, and the literal ``secrets``);
* ``when`` — ``setup`` when the verdict is its class's ``setUpClass``'s.

Pure, but for :func:`tool_versions` (installed package versions) and
:func:`iso_time`'s default of now.
"""

from __future__ import annotations

import datetime as _dt
from typing import Iterable, Mapping

from octoprobe.report.model import Environment, RunResult, TestResult
from octoprobe.tempest.results import FAIL, PASS, SKIP, class_of_fixture, headline, redact
from octoprobe.tempest.summary import NOT_RUN, Verdict
from octoprobe.tempest.testlist import SelectedTest

__all__ = ["SUITE", "nodeid", "to_test_result", "to_run_result", "iso_time", "tool_versions"]

#: The name a Tempest run has among octoprobe's suites (nodeids start with it).
SUITE = "tempest"
_TOOLS = ("tempest", "stestr", "python-subunit")


def nodeid(selected: SelectedTest) -> str:
    """``tempest/tempest.api....Class.test_x``: the guideline's name of the test."""
    return f"{SUITE}/{selected.test.name}"


def _did_not_run(v: Verdict) -> str:
    return f"did not run: {v.reason}" if v.reason else "did not run"


def to_test_result(v: Verdict, secrets: Iterable[str] = ()) -> TestResult:
    """One verdict as a test result (see the module's description)."""
    secrets = [s for s in secrets if s]
    s = v.selected
    flag = s.test.flagged
    full = redact(v.reason, secrets)
    line = headline(full)
    when = "setup" if v.test_id and class_of_fixture(v.test_id) else "call"
    outcome, reason, longrepr = "passed", "", ""
    if v.status == PASS:
        pass
    elif v.status == SKIP:
        outcome, reason = "skipped", line
    elif v.status == FAIL:
        outcome, reason, longrepr = "failed", line, full
        if flag is not None:
            outcome, reason = "xfail", f"flagged by the guideline ({flag}); failed: {line}"
    elif v.status == NOT_RUN:
        outcome, reason = "failed", redact(_did_not_run(v), secrets)
        if flag is not None:
            outcome, reason = "skipped", f"flagged by the guideline ({flag}); {reason}"
    else:
        raise ValueError(f"{s.test.name}: unknown verdict status {v.status!r}")
    return TestResult(
        nodeid=nodeid(s),
        outcome=outcome,
        duration=float(v.duration or 0.0),
        reason=reason,
        longrepr=longrepr,
        when=when,
        capability=s.capability.name,
        capability_id=s.idempotent_id,
    )


def to_run_result(
    rows: Iterable[Verdict],
    *,
    run_id: str,
    started: str,
    finished: str,
    cloud: str | None = None,
    versions: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
) -> RunResult:
    """The run's result: a test per verdict, in the verdicts' (the
    guideline's) order. ``started`` / ``finished`` are ISO 8601 (UTC,
    :func:`iso_time`); ``versions`` e.g. :func:`tool_versions`; ``extra``
    free-form facts (guideline, services, wall time...); ``secrets`` are
    replaced wherever they appear in reasons and tracebacks."""
    secrets = [s for s in secrets if s]
    env = Environment(
        cloud=cloud,
        versions={str(k): str(v) for k, v in (versions or {}).items()},
        extra={str(k): redact(str(v), secrets) for k, v in (extra or {}).items()},
    )
    tests = [to_test_result(v, secrets) for v in rows]
    return RunResult(run_id=run_id, started=started, finished=finished, environment=env, tests=tests)


def iso_time(seconds: float | None = None) -> str:
    """A UNIX time (default: now) as ISO 8601 UTC to the second, as ``octoprobe run`` writes them."""
    when = _dt.datetime.now(_dt.timezone.utc) if seconds is None else \
        _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
    return when.isoformat(timespec="seconds")


def tool_versions(tools: Iterable[str] = _TOOLS) -> dict[str, str]:
    """The installed versions of Tempest's tools (those not installed are left out)."""
    from importlib import metadata

    out: dict[str, str] = {}
    for name in tools:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
