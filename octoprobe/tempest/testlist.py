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
* :func:`map_results` — results back to (capability, test);
* :func:`all_tests_include_list` / :func:`select_listed` — ``--all``: every
  test Tempest's discovery lists (Tempest's own and its installed plugins'),
  each counted under the capability the guideline maps it to, else under its
  group (:func:`group_of`: a service's API tests, ``tempest-scenario``…, a
  plugin's package).

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
    "API_PACKAGES",
    "all_tests_include_list",
    "group_of",
    "select_listed",
]

#: The services a run can select, in report order.
SERVICES = ("identity", "image", "compute", "network", "block-storage")

_UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Tempest's attributes: "[id-<uuid>,smoke]" at the end of the test id
_ATTR_ID_RE = re.compile(r"\[(?:[^\]]*,)?id-(" + _UUID_RE + r")(?:,[^\]]*)?\]$")


@dataclass(frozen=True)
class SelectedTest:
    """One required Tempest test of one capability; ``test_id`` is Tempest's
    exact id when the test was selected from a listing (``--all``)."""

    capability: Capability
    test: TempestTest
    test_id: str | None = None

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


#: Each service's API tests in Tempest (``--all --service S``).
API_PACKAGES = {
    "identity": "tempest.api.identity",
    "image": "tempest.api.image",
    "compute": "tempest.api.compute",
    "network": "tempest.api.network",
    "block-storage": "tempest.api.volume",
}


def all_tests_include_list(services: Iterable[str] | None = None, regex: str | None = None) -> str:
    """The include list of ``--all``: ``regex`` when given, else the API
    tests of ``services``, else every test discovery finds (Tempest's and
    its installed plugins')."""
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"--regex {regex!r}: {exc}") from None
        return f"# --regex\n{regex}\n"
    if services:
        unknown = [s for s in services if s not in API_PACKAGES]
        if unknown:
            raise ValueError(f"unknown service(s) {', '.join(unknown)}; services: {', '.join(SERVICES)}")
        return "".join(f"# {s}\n^{re.escape(API_PACKAGES[s])}\\.\n" for s in services)
    return "# every test of Tempest and its installed plugins\n.\n"


def group_of(test_id: str) -> str:
    """What a test counts under when the guideline does not name it: its
    service (``compute``…) for Tempest's API tests, ``tempest-<area>`` for
    Tempest's others (``tempest-scenario``), a plugin's top package."""
    name = _name(test_id)
    for service, package in API_PACKAGES.items():
        if name.startswith(package + "."):
            return service
    parts = name.split(".")
    if parts[0] == "tempest":
        area = parts[2] if len(parts) > 3 and parts[1] == "api" else parts[1] if len(parts) > 2 else ""
        return f"tempest-{area}" if area else "tempest"
    return parts[0]


def select_listed(
    listed: Iterable[str], guideline: Guideline | None = None, *, component: str = DEFAULT_COMPONENT
) -> list[SelectedTest]:
    """One selected test per listed Tempest id, in the listing's order: under
    the capability the guideline requires it for, else under a capability
    named ``tempest:<group>`` (:func:`group_of`). Nothing is flagged: with
    ``--all`` every test counts."""
    required: dict[str, Capability] = {}
    if guideline is not None:
        for cap in guideline.required(component):
            for t in cap.tests:
                required.setdefault(t.idempotent_id.lower(), cap)
    out: list[SelectedTest] = []
    for tid in dict.fromkeys(listed):
        iid = idempotent_id_of(tid) or ""
        cap = required.get(iid) if iid else None
        if cap is None:
            group = group_of(tid)
            cap = Capability(name=f"tempest:{group}", project=group, description=f"Tempest tests of {group}",
                             admin=False, required_since="")
        out.append(SelectedTest(cap, TempestTest(_name(tid), iid), tid))
    return out
