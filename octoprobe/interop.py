"""The OpenStack interop guideline, and conformance coverage by capability.

The interop guideline (``octoprobe/data/interop-<id>.json``, schema 2.0)
names the *capabilities* a cloud must have to be "OpenStack Powered", per
component (``os_powered_compute``, ``os_powered_storage``), each with the
Tempest tests (and their idempotent ids) that prove it. octoprobe's
conformance tests carry one capability each
(``@pytest.mark.capability("identity-v3-tokens-create", "<stable id>")``).

* :func:`load_guideline` reads a guideline (the bundled 2020.06 by default);
  :meth:`Guideline.required` lists a component's required capabilities,
  :meth:`Guideline.required_by_service` groups them by service.
* :func:`coverage` folds test outcomes (``(capability, outcome, reason)``)
  into one :class:`CapabilityCoverage` per capability: ``failed`` if any of
  its tests failed or errored, else ``passed`` if any passed, else
  ``skipped`` (with the reasons), and ``untested`` for a required capability
  no test covered. :func:`render_table` prints them; :func:`coverage_to_dict`
  is the JSON form written into a run's results.

Pure: no pytest, no cloud.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from octoprobe.redact import redact_text

__all__ = [
    "DEFAULT_GUIDELINE",
    "DEFAULT_COMPONENT",
    "SERVICES",
    "EXTRA_CAPABILITIES",
    "GuidelineError",
    "TempestTest",
    "Capability",
    "Guideline",
    "load_guideline",
    "service_of",
    "CapabilityCoverage",
    "coverage",
    "coverage_to_dict",
    "render_table",
    "PASSED",
    "FAILED",
    "SKIPPED",
    "UNTESTED",
]

DEFAULT_GUIDELINE = "2020.06"
DEFAULT_COMPONENT = "os_powered_compute"

#: The guideline's project names -> the service types of the catalog.
SERVICES = {
    "keystone": "identity",
    "nova": "compute",
    "glance": "image",
    "neutron": "network",
    "cinder": "block-storage",
    "swift": "object-store",
}

#: Capabilities octoprobe tests beyond the guideline (name -> description).
#: Their service is the first word of the name, as in the guideline.
EXTRA_CAPABILITIES = {
    "identity-v3-projects-get": "Show a project; unknown ones are 404 (octoprobe)",
    "identity-v3-rbac": "Identity policy: members may not administer users; tenants see only their own (octoprobe)",
    "dreamcompute-ssh-keypair": "A server lets its keypair's owner in by SSH, and no other key (octoprobe)",
    "dreamcompute-server-addresses": "A server gets a private IPv4 and an IPv6 address from its network (octoprobe)",
    "dreamcompute-security-groups-filter": "A security group rule opens a port that was closed; removing it closes it "
    "again (octoprobe)",
    "dreamcompute-floating-ip-reach": "A floating IP reaches the server (SSH through it) (octoprobe)",
    "dreamcompute-tenant-isolation-l3": "Another tenant's server on the same IPv4 range is unreachable (octoprobe)",
}
_PREFIX_SERVICE = {
    "identity": "identity",
    "compute": "compute",
    "images": "image",
    "networks": "network",
    "volumes": "block-storage",
    "objectstore": "object-store",
    # octoprobe's own: DreamCompute's data-plane promises are the network's
    "dreamcompute": "network",
}

PASSED, FAILED, SKIPPED, UNTESTED = "passed", "failed", "skipped", "untested"
_STATUS_ORDER = {FAILED: 0, SKIPPED: 1, UNTESTED: 2, PASSED: 3}
_GUIDELINE_ID_RE = re.compile(r"[0-9]{4}\.[0-9]{2}")


class GuidelineError(ValueError):
    """A guideline that cannot be found or does not have the expected shape."""


@dataclass(frozen=True)
class TempestTest:
    name: str  # tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token
    idempotent_id: str  # the UUID, without Tempest's "id-" prefix
    flagged: str | None = None  # why the guideline flagged it, if it did
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capability:
    name: str
    project: str  # keystone, nova...
    description: str
    admin: bool
    required_since: str
    tests: tuple[TempestTest, ...] = ()

    @property
    def service(self) -> str:
        """The catalog service type (identity, compute, image...)."""
        return SERVICES.get(self.project, self.project)

    def test_ids(self) -> list[str]:
        return [t.idempotent_id for t in self.tests]


@dataclass(frozen=True)
class Guideline:
    id: str
    capabilities: Mapping[str, Capability]
    components: Mapping[str, Mapping[str, tuple[str, ...]]]  # component -> status -> names
    source: str = ""

    def component(self, name: str) -> Mapping[str, tuple[str, ...]]:
        try:
            return self.components[name]
        except KeyError:
            known = ", ".join(sorted(self.components))
            raise GuidelineError(f"guideline {self.id} has no component {name!r} (components: {known})") from None

    def required(self, component: str = DEFAULT_COMPONENT, service: str | None = None) -> list[Capability]:
        """The component's required capabilities, in the guideline's order;
        only one service's (``identity``, ``compute``...) when given."""
        caps = [self.capabilities[n] for n in self.component(component).get("required", ())]
        return [c for c in caps if service is None or c.service == service]

    def required_by_service(self, component: str = DEFAULT_COMPONENT) -> dict[str, list[Capability]]:
        out: dict[str, list[Capability]] = {}
        for cap in self.required(component):
            out.setdefault(cap.service, []).append(cap)
        return out

    def capability(self, name: str) -> Capability:
        try:
            return self.capabilities[name]
        except KeyError:
            raise GuidelineError(f"guideline {self.id} has no capability {name!r}") from None

    def by_idempotent_id(self) -> dict[str, tuple[Capability, TempestTest]]:
        """Tempest idempotent id -> (capability, test)."""
        return {t.idempotent_id: (c, t) for c in self.capabilities.values() for t in c.tests}


def service_of(name: str, guideline: Guideline | None = None) -> str:
    """The service of a capability name: the guideline's, else from its first word."""
    if guideline is not None and name in guideline.capabilities:
        return guideline.capabilities[name].service
    return _PREFIX_SERVICE.get(name.split("-", 1)[0], name.split("-", 1)[0])


def _strip_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise GuidelineError(f"{where}: idempotent_id must be a non-empty string, got {value!r}")
    return value[3:] if value.startswith("id-") else value


def _parse(data: Any, source: str) -> Guideline:
    if not isinstance(data, Mapping):
        raise GuidelineError(f"{source}: a guideline is a JSON object")
    meta = data.get("metadata")
    schema = (meta or {}).get("schema") if isinstance(meta, Mapping) else None
    if schema != "2.0":
        raise GuidelineError(f"{source}: metadata.schema must be '2.0' (got {schema!r})")
    gid = str(meta.get("id") or "")
    raw_caps = data.get("capabilities")
    raw_components = data.get("components")
    if not isinstance(raw_caps, Mapping) or not isinstance(raw_components, Mapping):
        raise GuidelineError(f"{source}: needs 'capabilities' and 'components' objects")
    capabilities: dict[str, Capability] = {}
    for name, cap in raw_caps.items():
        where = f"{source}: capabilities.{name}"
        if not isinstance(cap, Mapping) or not isinstance(cap.get("tests"), Mapping):
            raise GuidelineError(f"{where}: needs a 'tests' object")
        tests = []
        for test_name, test in cap["tests"].items():
            test = test if isinstance(test, Mapping) else {}
            flagged = test.get("flagged")
            reason = (flagged.get("reason") or "flagged") if isinstance(flagged, Mapping) else None
            tests.append(
                TempestTest(
                    name=test_name,
                    idempotent_id=_strip_id(test.get("idempotent_id"), f"{where}.tests.{test_name}"),
                    flagged=reason,
                    aliases=tuple(test.get("aliases") or ()),
                )
            )
        capabilities[name] = Capability(
            name=name,
            project=str(cap.get("project") or ""),
            # 2020.06 spells it "descriptin" once (identity-v3-tokens-delete)
            description=str(cap.get("description") or cap.get("descriptin") or ""),
            admin=bool(cap.get("admin", False)),
            required_since=str(cap.get("required_since") or ""),
            tests=tuple(tests),
        )
    components: dict[str, dict[str, tuple[str, ...]]] = {}
    for comp_name, comp in raw_components.items():
        caps = comp.get("capabilities") if isinstance(comp, Mapping) else None
        if not isinstance(caps, Mapping):
            raise GuidelineError(f"{source}: components.{comp_name} needs a 'capabilities' object")
        statuses: dict[str, tuple[str, ...]] = {}
        for status, names in caps.items():
            unknown = [n for n in names if n not in capabilities]
            if unknown:
                raise GuidelineError(
                    f"{source}: components.{comp_name}.capabilities.{status} names unknown "
                    f"capabilities: {', '.join(unknown)}"
                )
            statuses[status] = tuple(names)
        components[comp_name] = statuses
    return Guideline(id=gid, capabilities=capabilities, components=components, source=source)


def load_guideline(which: str | Path = DEFAULT_GUIDELINE) -> Guideline:
    """A guideline: a bundled one by id (``"2020.06"``) or a JSON file's path."""
    if isinstance(which, str) and _GUIDELINE_ID_RE.fullmatch(which):
        file = resources.files("octoprobe").joinpath("data", f"interop-{which}.json")
        if not file.is_file():
            raise GuidelineError(f"no bundled interop guideline {which!r} (octoprobe/data/interop-{which}.json)")
        source, text = f"interop-{which}.json", file.read_text(encoding="utf-8")
    else:
        path = Path(which)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GuidelineError(f"cannot read interop guideline {path}: {exc.strerror or exc}") from None
        source = str(path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GuidelineError(f"{source}: invalid JSON: {exc}") from None
    return _parse(data, source)


# ---------------------------------------------------------------- coverage


@dataclass
class CapabilityCoverage:
    """One capability's verdict in a run."""

    capability: str
    service: str
    status: str  # passed | failed | skipped | untested
    required: bool  # required by the guideline's component
    in_guideline: bool
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)  # why not passed: "test id: reason"

    def to_dict(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "service": self.service,
            "status": self.status,
            "required": self.required,
            "in_guideline": self.in_guideline,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "reasons": list(self.reasons),
        }


_OUTCOME_CLASS = {
    "passed": PASSED,
    "xpass": PASSED,
    "failed": FAILED,
    "error": FAILED,
    "skipped": SKIPPED,
    "xfail": SKIPPED,
}


def _get(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)


def coverage(
    results: Iterable[Any],
    guideline: Guideline | None = None,
    *,
    component: str = DEFAULT_COMPONENT,
    services: Iterable[str] | None = None,
) -> list[CapabilityCoverage]:
    """Coverage by capability from test results.

    ``results``: objects or mappings with ``capability``, ``outcome``
    (passed, failed, error, skipped, xfail, xpass), ``reason`` and
    optionally ``capability_id`` / ``nodeid`` (to name a test in the
    reasons) — :class:`octoprobe.report.TestResult` fits. Tests without a
    capability are ignored.

    Every required capability of ``component`` is listed (``untested`` when
    no test covered it), restricted to ``services`` when given; capabilities
    the tests carry that the guideline does not know are listed too. The
    reasons are redacted (:mod:`octoprobe.redact`): they end up in reports.
    Sorted by service, then failed / skipped / untested / passed, then name.
    """
    rows: dict[str, CapabilityCoverage] = {}
    required = {c.name for c in guideline.required(component)} if guideline else set()
    wanted = set(services) if services is not None else None

    def row(name: str) -> CapabilityCoverage:
        if name not in rows:
            rows[name] = CapabilityCoverage(
                capability=name,
                service=service_of(name, guideline),
                status=UNTESTED,
                required=name in required,
                in_guideline=guideline is not None and name in guideline.capabilities,
            )
        return rows[name]

    if guideline is not None:
        for cap in guideline.required(component):
            if wanted is None or cap.service in wanted:
                row(cap.name)
    for result in results:
        name = _get(result, "capability")
        if not name:
            continue
        outcome = _get(result, "outcome")
        klass = _OUTCOME_CLASS.get(str(outcome))
        if klass is None:
            raise ValueError(f"unknown test outcome {outcome!r} for capability {name}")
        r = row(str(name))
        setattr(r, klass, getattr(r, klass) + 1)
        if klass != PASSED:
            who = _get(result, "capability_id") or _get(result, "nodeid") or "?"
            reason = redact_text(" ".join(str(_get(result, "reason") or "").split())) or "(no reason given)"
            r.reasons.append(f"{outcome} {who}: {reason}")
    for r in rows.values():
        if r.failed:
            r.status = FAILED
        elif r.passed:
            r.status = PASSED
        elif r.skipped:
            r.status = SKIPPED
    return sorted(rows.values(), key=lambda r: (r.service, _STATUS_ORDER[r.status], r.capability))


def coverage_to_dict(
    rows: list[CapabilityCoverage], guideline: Guideline | None = None, component: str = DEFAULT_COMPONENT
) -> dict[str, Any]:
    """The JSON form of a coverage (for a run's results)."""
    totals = {s: sum(1 for r in rows if r.status == s) for s in (PASSED, FAILED, SKIPPED, UNTESTED)}
    return {
        "guideline": guideline.id if guideline else None,
        "component": component if guideline else None,
        "totals": totals,
        "capabilities": [r.to_dict() for r in rows],
    }


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def render_table(rows: list[CapabilityCoverage], *, reason_width: int = 120) -> str:
    """A plain-text table: capability, status, counts, and the reasons of
    what did not pass (one line each)."""
    if not rows:
        return "no capabilities: no test of this run carries one"
    name_w = max(len("capability"), *(len(r.capability) + (2 if not r.in_guideline else 0) for r in rows))
    head = f"{'capability':<{name_w}}  {'status':<8}  pass  fail  skip  reason"
    lines = [head, "-" * len(head)]
    for r in rows:
        name = r.capability + (" *" if not r.in_guideline else "")
        reasons = r.reasons or ([] if r.status != UNTESTED else ["no test in this run"])
        first = _clip(reasons[0], reason_width) if reasons else ""
        lines.append(
            f"{name:<{name_w}}  {r.status.upper() if r.status == FAILED else r.status:<8}  "
            f"{r.passed:>4}  {r.failed:>4}  {r.skipped:>4}  {first}".rstrip()
        )
        pad = " " * (name_w + 2 + 8 + 2 + 18)
        for more in reasons[1:]:
            lines.append(pad + _clip(more, reason_width))
    totals = {s: sum(1 for r in rows if r.status == s) for s in (PASSED, FAILED, SKIPPED, UNTESTED)}
    lines.append("-" * len(head))
    lines.append(
        f"{len(rows)} capabilities: {totals[PASSED]} passed, {totals[FAILED]} failed, "
        f"{totals[SKIPPED]} skipped, {totals[UNTESTED]} untested"
        + ("  (* not in the interop guideline: octoprobe's own)" if any(not r.in_guideline for r in rows) else "")
    )
    return "\n".join(lines)
