"""The result of one run, as plain data: tests, gate verdicts, environment.

:class:`RunResult` is what every report writer reads. It round-trips through
JSON (:meth:`RunResult.to_json` / :meth:`RunResult.from_json`), so a run can be
re-rendered later or compared with another one. :meth:`RunResult.redacted`
returns a copy with every string passed through :mod:`octoprobe.redact`; the
writers render only redacted copies.
"""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from octoprobe import __version__
from octoprobe.redact import redact_json, redact_text

__all__ = [
    "OUTCOMES",
    "FAILING_OUTCOMES",
    "SCHEMA_VERSION",
    "Gate",
    "TestResult",
    "Environment",
    "RunResult",
    "clean_timeline",
    "PASS",
    "FAIL",
    "NO_TESTS",
]

SCHEMA_VERSION = 1
#: A test's outcome: ``xfail`` is an expected failure, ``xpass`` a non-strict
#: unexpected pass (a strict one is ``failed``).
OUTCOMES = ("passed", "failed", "error", "skipped", "xfail", "xpass")
FAILING_OUTCOMES = frozenset({"failed", "error"})
PASS, FAIL, NO_TESTS = "PASS", "FAIL", "NO TESTS"


@dataclass
class Gate:
    """One gate verdict: ``statistic`` (p95, mean, max...) of ``metric``'s
    samples, ``measured``, compared with ``threshold`` by ``comparison``
    (``<=``, ``<``, ``>=``, ``>``); ``reason`` says why in words."""

    name: str
    metric: str
    statistic: str
    threshold: float | None
    comparison: str
    measured: float | None
    passed: bool
    reason: str = ""
    unit: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Gate":
        return cls(**_known(cls, data))


@dataclass
class TestResult:
    """One test's outcome. ``reason`` is the skip reason or the failure's
    one-line message; ``longrepr`` the full failure text.

    ``timelines`` are what the test saw change over time (a chaos scenario:
    Ceph's state and the client I/O around a fault), as plain data, each::

        {"name": "disk",                           # what the timeline is of
         "duration": 312.0,                        # seconds covered (optional)
         "series": {"degraded_objects": [[t, v], ...],   # t: seconds since the start,
                    "inactive_pgs": [[t, v], ...],       # points in time order
                    "client_ops": [[t, v], ...], ...},
         "units": {"degraded_objects": "objects", "inactive_pgs": "PGs",
                   "client_ops": "writes/s", ...},
         "events": [{"name": "inject", "at": 12.0, "detail": "disk osd.3"},
                    {"name": "heal", "at": 140.5, "detail": ""}, ...]}

    :func:`clean_timeline` normalises one (every number finite, every name a
    string); timelines that are not mappings are dropped.
    """

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration: float = 0.0
    reason: str = ""
    longrepr: str = ""
    when: str = "call"
    capability: str | None = None
    capability_id: str | None = None
    gates: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    timelines: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"{self.nodeid}: unknown outcome {self.outcome!r} (one of {', '.join(OUTCOMES)})")
        self.timelines = [clean_timeline(t) for t in self.timelines or () if isinstance(t, Mapping)]

    @property
    def failing(self) -> bool:
        return self.outcome in FAILING_OUTCOMES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TestResult":
        return cls(**_known(cls, data))


@dataclass
class Environment:
    """Where the run ran: octoprobe and Python versions, the cloud's name,
    other versions (Ceph, fio, OpenStack APIs...), free-form extras and the
    hardware inventory of the nodes measured. Tests add versions and hardware
    with ``record_property("octoprobe.environment", {"versions": {...},
    "hardware": {node: {...}}})``."""

    octoprobe: str = __version__
    python: str = field(default_factory=platform.python_version)
    cloud: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    #: node name -> what was measured on it (CPU, RAM, disks, NICs, BIOS), from the perf suite
    hardware: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Environment":
        return cls(**_known(cls, data))

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) pairs for a table."""
        rows = [("octoprobe", self.octoprobe), ("Python", self.python)]
        if self.cloud:
            rows.append(("cloud", self.cloud))
        rows.extend(sorted(self.versions.items()))
        rows.extend(sorted(self.extra.items()))
        return [(str(k), str(v)) for k, v in rows]


@dataclass
class RunResult:
    """Everything one run produced. Times are ISO 8601 strings (UTC)."""

    run_id: str
    started: str
    finished: str
    environment: Environment = field(default_factory=Environment)
    tests: list[TestResult] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)

    # ---- derived
    def counts(self) -> dict[str, int]:
        counts = {outcome: 0 for outcome in OUTCOMES}
        for test in self.tests:
            counts[test.outcome] += 1
        counts["total"] = len(self.tests)
        return counts

    @property
    def failing_tests(self) -> list[TestResult]:
        return [t for t in self.tests if t.failing]

    @property
    def failing_gates(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    @property
    def passed(self) -> bool:
        return not self.failing_tests and not self.failing_gates

    @property
    def verdict(self) -> str:
        """``FAIL`` if a test failed or errored or a gate failed; ``NO TESTS``
        if nothing ran and no gate was judged; else ``PASS``."""
        if not self.passed:
            return FAIL
        if not self.gates and all(t.outcome == "skipped" for t in self.tests):
            return NO_TESTS
        return PASS

    @property
    def duration(self) -> float:
        return sum(t.duration for t in self.tests)

    def samples_by_metric(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """metric -> [(nodeid, sample dict)], metrics in first-seen order."""
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for test in self.tests:
            for sample in test.samples:
                metric = sample.get("metric")
                if isinstance(metric, str) and isinstance(sample.get("value"), (int, float)):
                    out.setdefault(metric, []).append((test.nodeid, sample))
        return out

    def by_capability(self) -> dict[str, list[TestResult]]:
        """capability -> its tests (tests without one under ``(none)``), sorted."""
        out: dict[str, list[TestResult]] = {}
        for test in self.tests:
            out.setdefault(test.capability or "(none)", []).append(test)
        return dict(sorted(out.items()))

    # ---- serialisation
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema_version"] = SCHEMA_VERSION
        data["verdict"] = self.verdict
        data["counts"] = self.counts()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunResult":
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"run result schema version {version!r} is not supported (expected {SCHEMA_VERSION})")
        return cls(
            run_id=data["run_id"],
            started=data["started"],
            finished=data["finished"],
            environment=Environment.from_dict(data.get("environment") or {}),
            tests=[TestResult.from_dict(t) for t in data.get("tests") or ()],
            gates=[Gate.from_dict(g) for g in data.get("gates") or ()],
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "RunResult":
        return cls.from_dict(json.loads(text))

    def redacted(self) -> "RunResult":
        """A copy with every string (and every value under a secret-looking
        key) passed through :mod:`octoprobe.redact`."""
        data = redact_json(asdict(self))
        result = RunResult.from_dict({**data, "schema_version": SCHEMA_VERSION})
        # Keys are not redacted by redact_json: do the free-form mappings' keys too.
        env = result.environment
        env.versions = {redact_text(k): v for k, v in env.versions.items()}
        env.extra = {redact_text(k): v for k, v in env.extra.items()}
        for test in result.tests:
            for timeline in test.timelines:
                timeline["series"] = {redact_text(k): v for k, v in timeline["series"].items()}
                timeline["units"] = {redact_text(k): v for k, v in timeline["units"].items()}
        return replace(result, environment=env)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _points(raw: Any) -> list[list[float]]:
    """``[[t, v], ...]`` with both numbers finite, sorted by time."""
    out = []
    for point in raw if isinstance(raw, (list, tuple)) else ():
        if isinstance(point, (list, tuple)) and len(point) == 2:
            t, v = _finite(point[0]), _finite(point[1])
            if t is not None and v is not None:
                out.append([t, v])
    return sorted(out, key=lambda p: p[0])


def clean_timeline(data: Mapping[str, Any]) -> dict[str, Any]:
    """One timeline (see :class:`TestResult`) in its normal form: bad points
    and events without a finite time dropped, names and units strings, keys
    other than ``name``, ``duration``, ``series``, ``units`` and ``events`` dropped."""
    series = data.get("series")
    units = data.get("units")
    out: dict[str, Any] = {
        "name": str(data.get("name") or "timeline"),
        "series": {str(k): _points(v) for k, v in series.items()} if isinstance(series, Mapping) else {},
        "units": {str(k): str(v) for k, v in units.items()} if isinstance(units, Mapping) else {},
        "events": [],
    }
    duration = _finite(data.get("duration"))
    if duration is not None:
        out["duration"] = duration
    events = data.get("events")
    for event in events if isinstance(events, (list, tuple)) else ():
        at = _finite(event.get("at")) if isinstance(event, Mapping) else None
        if at is not None:
            out["events"].append({"name": str(event.get("name") or "event"), "at": at,
                                  "detail": str(event.get("detail") or "")})
    return out


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
