"""Which Tempest tests a run selects, and which capability each result proves.

The interop guideline names, per capability, Tempest tests by dotted name
and idempotent id. Tempest renames and moves tests over releases (the
guideline keeps the old names as ``aliases``) but never changes an
idempotent id, so the include list anchors each regex on the id, as Tempest
writes it in a test's attributes: ``...test_create_token[id-6f8e...,smoke]``.

* :func:`select` — the required tests of some services (``identity``,
  ``image``, ``compute``, ``network``, ``block-storage``);
* :func:`include_regex` / :func:`render_include_list` — the lines of
  ``tempest run --include-list FILE`` (Python regexes, one per test);
* :func:`idempotent_id_of` — the id in a Tempest test id;
* :func:`map_results` — results back to (capability, test).

Pure: no Tempest, no cloud.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from octoprobe.interop import DEFAULT_COMPONENT, Capability, Guideline, TempestTest

__all__ = [
    "SERVICES",
    "SelectedTest",
    "select",
    "include_regex",
    "render_include_list",
    "idempotent_id_of",
    "preferred",
    "map_results",
]

#: The services a run can select, in report order.
SERVICES = ("identity", "image", "compute", "network", "block-storage")

_UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Tempest's attributes: "[id-<uuid>,smoke]" at the end of the test id
_ATTR_ID_RE = re.compile(r"\[(?:[^\]]*,)?id-(" + _UUID_RE + r")(?:,[^\]]*)?\]$")


@dataclass(frozen=True)
class SelectedTest:
    """One required Tempest test of one capability."""

    capability: Capability
    test: TempestTest

    @property
    def service(self) -> str:
        return self.capability.service

    @property
    def idempotent_id(self) -> str:
        return self.test.idempotent_id

    @property
    def flagged(self) -> bool:
        """Flagged tests are in the guideline but a failure does not fail it."""
        return self.test.flagged is not None


def select(
    guideline: Guideline,
    services: Iterable[str] | None = None,
    *,
    component: str = DEFAULT_COMPONENT,
    include_flagged: bool = True,
) -> list[SelectedTest]:
    """The required tests of ``services`` (all when None), in the guideline's
    order, each idempotent id once (a test proving two capabilities is run
    once and counted for the first)."""
    wanted = list(services) if services is not None else None
    if wanted is not None:
        unknown = [s for s in wanted if s not in SERVICES]
        if unknown:
            raise ValueError(f"unknown service(s) {', '.join(unknown)}; services: {', '.join(SERVICES)}")
    out: list[SelectedTest] = []
    seen: set[str] = set()
    for cap in guideline.required(component):
        if wanted is not None and cap.service not in wanted:
            continue
        for test in cap.tests:
            key = test.idempotent_id.lower()
            if key in seen or (test.flagged and not include_flagged):
                continue
            seen.add(key)
            out.append(SelectedTest(cap, test))
    return out


def include_regex(test: TempestTest) -> str:
    """A regex matching exactly this test's Tempest id: the module path's
    top (``tempest.``), anything (the test may have moved), then the
    idempotent id among the attributes."""
    if not re.fullmatch(_UUID_RE, test.idempotent_id):
        raise ValueError(f"{test.name}: idempotent id {test.idempotent_id!r} is not a UUID")
    return r"^tempest\.\S*\[(?:[^\]]*,)?id-" + re.escape(test.idempotent_id.lower()) + r"(?:,[^\]]*)?\]$"


def render_include_list(selected: Iterable[SelectedTest]) -> str:
    """The include-list file's text: a comment per test naming it, then its regex."""
    lines = []
    for s in selected:
        lines.append(f"# {s.capability.name}: {s.test.name}")
        lines.append(include_regex(s.test))
    return "\n".join(lines) + "\n" if lines else ""


def idempotent_id_of(test_id: str) -> str | None:
    """The idempotent id (lower case, no ``id-``) in a Tempest test id, or None."""
    m = _ATTR_ID_RE.search(test_id)
    return m.group(1).lower() if m else None


def _name(test_id: str) -> str:
    return test_id.split("[", 1)[0]


def preferred(selected: SelectedTest, test_ids: Iterable[str]) -> str:
    """Of the Tempest tests carrying ``selected``'s id, the one the guideline
    names, else the first of its aliases that ran, else the first."""
    ids = list(test_ids)
    if not ids:
        raise ValueError(f"no Tempest test for {selected.test.name}")
    for name in (selected.test.name, *selected.test.aliases):
        for t in ids:
            if _name(t) == name:
                return t
    return ids[0]


def map_results(
    selected: Iterable[SelectedTest], test_ids: Iterable[str]
) -> tuple[dict[str, SelectedTest], list[SelectedTest]]:
    """(Tempest test id -> the selected test it ran, the selected tests no
    result names). Test ids without a known idempotent id are left out:
    they are not the guideline's (``setUpClass`` errors name a class; see
    :mod:`.results`). Subclasses inherit their tests' ids, so one id may
    name several Tempest tests: :func:`preferred` picks the guideline's."""
    by_id: Mapping[str, SelectedTest] = {s.idempotent_id.lower(): s for s in selected}
    found: dict[str, SelectedTest] = {}
    for tid in test_ids:
        iid = idempotent_id_of(tid)
        if iid is not None and iid in by_id:
            found[tid] = by_id[iid]
    ran = {s.idempotent_id.lower() for s in found.values()}
    missing = [s for iid, s in by_id.items() if iid not in ran]
    return found, missing
