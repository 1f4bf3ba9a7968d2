"""A Tempest run's verdict per required test, per service and per capability.

:func:`verdicts` joins the selected tests (:mod:`.testlist`) with the
results (:mod:`.results`): each selected test gets the status of its
result; one without a result gets its class's set-up failure or skip when
there is one (Tempest reports a ``setUpClass`` once, not per test), else
``not run`` — counted as a failure: a required test that did not run has
not passed. :func:`service_counts` counts per service,
:func:`required_failures` lists what makes the run fail (failures of
flagged tests do not), :func:`render_summary` prints it all.

Pure: no Tempest, no cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from octoprobe import interop
from octoprobe.tempest.results import FAIL, PASS, SKIP, TempestResult, class_of_fixture, headline, test_name
from octoprobe.tempest.testlist import SERVICES, SelectedTest, idempotent_id_of, map_results, preferred

__all__ = ["NOT_RUN", "Verdict", "verdicts", "verdicts_listed", "service_counts", "required_failures", "teardown_failures",
           "capability_coverage", "render_summary"]

NOT_RUN = "not run"


@dataclass(frozen=True)
class Verdict:
    selected: SelectedTest
    status: str  # pass | fail | skip | not run
    reason: str = ""
    test_id: str | None = None  # Tempest's, when it ran
    duration: float | None = None

    @property
    def failed(self) -> bool:
        return self.status in (FAIL, NOT_RUN)


def _classes(selected: SelectedTest) -> list[str]:
    """The classes the guideline names the test in: its own first, then its aliases'."""
    names = (selected.test.name, *selected.test.aliases)
    return list(dict.fromkeys(n.rsplit(".", 1)[0] for n in names if "." in n))


def verdicts(selected: Iterable[SelectedTest], results: Iterable[TempestResult],
             listed: Iterable[str] | None = None) -> list[Verdict]:
    """One verdict per selected test; ``listed`` (the test ids Tempest's
    discovery selected) tells a test this Tempest lacks from one that did
    not report."""
    selected = list(selected)
    known = None if listed is None else {i for i in map(idempotent_id_of, listed) if i}
    results = list(results)
    by_test = {r.test_id: r for r in results}
    found, _missing = map_results(selected, by_test)
    candidates: dict[str, list[str]] = {}
    for tid, s in found.items():
        candidates.setdefault(s.idempotent_id.lower(), []).append(tid)
    ran = {s.idempotent_id.lower(): by_test[preferred(s, candidates[s.idempotent_id.lower()])]
           for s in found.values()}
    fixture_errors: dict[str, TempestResult] = {}  # class -> its set-up's failure or skip
    for r in results:
        cls = class_of_fixture(r.test_id) if r.test_id.startswith("setUp") else None  # tear-downs: see below
        if cls and r.status in (FAIL, SKIP) and (cls not in fixture_errors or fixture_errors[cls].status != FAIL):
            fixture_errors[cls] = r
    out: list[Verdict] = []
    for s in selected:
        r = ran.get(s.idempotent_id.lower())
        if r is not None:
            out.append(Verdict(s, r.status, r.reason, r.test_id, r.duration))
            continue
        errors = [fixture_errors[c] for c in _classes(s) if c in fixture_errors]
        err = next((e for e in errors if e.status == FAIL), errors[0] if errors else None)
        if err is not None:
            how = "failed" if err.status == FAIL else "skipped"
            out.append(Verdict(s, err.status, f"{err.test_id.split(' ', 1)[0]} {how}:\n{err.reason}", err.test_id))
        else:
            if known is not None and s.idempotent_id.lower() not in known:
                why = "this Tempest has no test with this idempotent id"
            elif known is not None:
                why = "no result: the run was cut short or the test did not report"
            else:
                why = "no result: not in this Tempest's tests, or the run was cut short"
            out.append(Verdict(s, NOT_RUN, why))
    return out


def verdicts_listed(selected: Iterable[SelectedTest], results: Iterable[TempestResult]) -> list[Verdict]:
    """``--all``: one verdict per test selected from Tempest's listing
    (:func:`~octoprobe.tempest.testlist.select_listed`), matched on the exact
    test id — subclasses share their tests' idempotent ids, so the id alone
    would fold them into one. A test without a result gets its class's
    set-up failure or skip, else ``not run``."""
    results = list(results)
    by_test = {r.test_id: r for r in results}
    fixture_errors: dict[str, TempestResult] = {}
    for r in results:
        cls = class_of_fixture(r.test_id) if r.test_id.startswith("setUp") else None
        if cls and r.status in (FAIL, SKIP) and (cls not in fixture_errors or fixture_errors[cls].status != FAIL):
            fixture_errors[cls] = r
    out: list[Verdict] = []
    for s in selected:
        if s.test_id is None:
            raise ValueError(f"{s.test.name}: not selected from a listing (no test id)")
        r = by_test.get(s.test_id)
        if r is not None:
            out.append(Verdict(s, r.status, r.reason, r.test_id, r.duration))
            continue
        err = fixture_errors.get(s.test.name.rsplit(".", 1)[0])
        if err is not None:
            how = "failed" if err.status == FAIL else "skipped"
            out.append(Verdict(s, err.status, f"{err.test_id.split(' ', 1)[0]} {how}:\n{err.reason}", err.test_id))
        else:
            out.append(Verdict(s, NOT_RUN, "no result: the run was cut short or the test did not report"))
    return out


def service_counts(rows: Iterable[Verdict]) -> dict[str, dict[str, int]]:
    """service -> {pass, fail, skip, not run}, in :data:`SERVICES` order."""
    out: dict[str, dict[str, int]] = {}
    for v in rows:
        counts = out.setdefault(v.selected.service, {PASS: 0, FAIL: 0, SKIP: 0, NOT_RUN: 0})
        counts[v.status] += 1
    order = {s: i for i, s in enumerate(SERVICES)}
    return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))


def required_failures(rows: Iterable[Verdict]) -> list[Verdict]:
    """The failed (or not run) tests that are not flagged."""
    return [v for v in rows if v.failed and not v.selected.flagged]


def teardown_failures(results: Iterable[TempestResult]) -> list[TempestResult]:
    """Failed class tear-downs: no required test fails by them, but what the
    class created may be left behind (see the leftover check)."""
    return [r for r in results if r.status == FAIL and r.test_id.startswith(("tearDownClass ", "tearDownModule "))]


_OUTCOME = {PASS: "passed", FAIL: "failed", SKIP: "skipped", NOT_RUN: "failed"}


def capability_coverage(rows: Iterable[Verdict], guideline: interop.Guideline, services: Iterable[str] | None):
    """The interop coverage (:func:`octoprobe.interop.coverage`) of the run."""
    results = [
        {
            "capability": v.selected.capability.name,
            "outcome": _OUTCOME[v.status],
            "reason": v.reason if v.status != PASS else "",
            "capability_id": test_name(v.test_id) if v.test_id else v.selected.test.name,
        }
        for v in rows
    ]
    return interop.coverage(results, guideline, services=list(services) if services is not None else None)




def render_summary(rows: list[Verdict]) -> str:
    counts = service_counts(rows)
    lines = [f"{'service':<14} {'pass':>5} {'fail':>5} {'skip':>5} {'not run':>8}"]
    for service, c in counts.items():
        lines.append(f"{service:<14} {c[PASS]:>5} {c[FAIL]:>5} {c[SKIP]:>5} {c[NOT_RUN]:>8}")
    total = {k: sum(c[k] for c in counts.values()) for k in (PASS, FAIL, SKIP, NOT_RUN)}
    lines.append(f"{'total':<14} {total[PASS]:>5} {total[FAIL]:>5} {total[SKIP]:>5} {total[NOT_RUN]:>8}")
    bad = [v for v in rows if v.failed]
    if bad:
        lines.append("")
        lines.append("failures:")
        for v in bad:
            flag = " (flagged: does not fail the run)" if v.selected.flagged else ""
            lines.append(f"  {v.status.upper():<7} {v.selected.capability.name}: {v.selected.test.name}{flag}")
            lines.append(f"          {headline(v.reason)}")
    skipped = [v for v in rows if v.status == SKIP]
    if skipped:
        lines.append("")
        lines.append("skipped:")
        for v in skipped:
            lines.append(f"  {v.selected.test.name}: {headline(v.reason)}")
    return "\n".join(lines)
