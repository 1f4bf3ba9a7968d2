"""The conformance suite: capability selection, ids, and the coverage table.

    pytest conformance/ --cloud NAME [--admin-cloud NAME] [--alt-cloud NAME]
    pytest conformance/ --cloud NAME --capability 'identity-v3-tokens-*'
    pytest conformance/ --cloud NAME -p octoprobe.report.results --report-dir out/

Every test carries ``@pytest.mark.capability(name, id)`` (the plugin's
marker): ``name`` is a capability of the OpenStack interop guideline
(:mod:`octoprobe.interop`; 2020.06 by default) or one of octoprobe's own
(:data:`octoprobe.interop.EXTRA_CAPABILITIES`); ``id`` is the test's stable
id — the Tempest idempotent id where the test proves the same thing as that
Tempest test, a UUID of our own otherwise. Ids are unique across the suite
(checked at collection).

At the end of a run the coverage table (capability -> passed / failed /
skipped / untested, with the reasons) is printed, for the services the run
tested, and written as JSON to ``--coverage-file`` or, with the results
plugin's ``--report-dir DIR``, to ``DIR/coverage.json``.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Any

import pytest

from octoprobe.interop import (
    DEFAULT_COMPONENT,
    DEFAULT_GUIDELINE,
    EXTRA_CAPABILITIES,
    Guideline,
    GuidelineError,
    coverage,
    coverage_to_dict,
    load_guideline,
    render_table,
    service_of,
)
from octoprobe.report.results import test_result_from_reports


class Coverage:
    """The suite's state for one session (registered as a plugin object)."""

    def __init__(self, config: pytest.Config, guideline: Guideline):
        self.config = config
        self.guideline = guideline
        self.patterns: list[str] = list(config.option.octoprobe_capability or [])
        self.reports: dict[str, dict[str, pytest.TestReport]] = {}
        self.services: set[str] = set()
        self._rows: list[Any] | None = None
        self.written: Path | None = None

    # ---- collection: ids, selection
    def check_and_select(self, items: list[pytest.Item]) -> list[pytest.Item]:
        seen: dict[str, str] = {}
        keep, drop = [], []
        for item in items:
            marker = item.get_closest_marker("capability")
            if marker is None:
                raise pytest.UsageError(
                    f"conformance: {item.nodeid} has no @pytest.mark.capability(name, id): "
                    "every conformance test covers a capability"
                )
            name, test_id = _name_and_id(item)
            if name not in self.guideline.capabilities and name not in EXTRA_CAPABILITIES:
                raise pytest.UsageError(
                    f"conformance: {item.nodeid}: capability {name!r} is neither in interop guideline "
                    f"{self.guideline.id} nor one of octoprobe's own ({', '.join(sorted(EXTRA_CAPABILITIES))})"
                )
            base = item.nodeid.split("[", 1)[0]  # parametrized tests share their id
            if seen.setdefault(test_id, base) != base:
                raise pytest.UsageError(
                    f"conformance: test id {test_id} is used by {seen[test_id]} and {base}; ids are unique"
                )
            if self.patterns and not any(fnmatch.fnmatchcase(name, p) for p in self.patterns):
                drop.append(item)
            else:
                keep.append(item)
        if self.patterns and not keep:
            raise pytest.UsageError(
                f"conformance: --capability {' '.join(self.patterns)} selects no test; "
                "capabilities are named like identity-v3-tokens-create (globs allowed)"
            )
        if drop:
            self.config.hook.pytest_deselected(items=drop)
        return keep

    # ---- outcomes
    def record(self, report: pytest.TestReport) -> None:
        """Keep the phase reports of tests that carry a capability (the
        plugin puts it on every report as a user property; this works on an
        xdist controller too, which collects nothing itself)."""
        capability = next((v for k, v in report.user_properties if k == "capability"), None)
        if capability is not None:
            self.reports.setdefault(report.nodeid, {})[report.when] = report
            self.services.add(service_of(str(capability), self.guideline))

    def rows(self) -> list[Any]:
        if self._rows is None:
            tests = [test_result_from_reports(n, r) for n, r in self.reports.items()]
            rows = coverage(tests, self.guideline, component=self.component, services=self.services)
            if self.patterns:
                rows = [r for r in rows if any(fnmatch.fnmatchcase(r.capability, p) for p in self.patterns)]
            self._rows = rows
        return self._rows

    @property
    def component(self) -> str:
        return self.config.option.octoprobe_interop_component

    def document(self) -> dict[str, Any]:
        data = coverage_to_dict(self.rows(), self.guideline, self.component)
        data["selected"] = self.patterns
        data["services"] = sorted(self.services)
        return data

    def untested_elsewhere(self) -> dict[str, int]:
        """Required capabilities of services this run did not test: service -> count."""
        out: dict[str, int] = {}
        if self.patterns:
            return out
        for service, caps in self.guideline.required_by_service(self.component).items():
            if service not in self.services:
                out[service] = len(caps)
        return out

    # ---- hooks
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list) -> None:
        mine = [i for i in items if _in_suite(i)]
        if not mine:
            return
        kept = set(map(id, self.check_and_select(mine)))
        items[:] = [i for i in items if not _in_suite(i) or id(i) in kept]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.record(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput") or not self.reports:
            return
        path = self.config.option.octoprobe_coverage_file
        report_dir = getattr(self.config.option, "octoprobe_report_dir", None)
        if path is None and report_dir:
            path = os.path.join(report_dir, "coverage.json")
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(json.dumps(self.document(), indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, target)
            self.written = target

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or not self.reports:
            return
        tr = terminalreporter
        tr.section(f"octoprobe conformance coverage (interop {self.guideline.id}, {self.component})")
        for line in render_table(self.rows()).splitlines():
            tr.write_line(line)
        elsewhere = self.untested_elsewhere()
        if elsewhere:
            tr.write_line(
                "not tested in this run: "
                + ", ".join(f"{service} ({n} required capabilities)" for service, n in sorted(elsewhere.items()))
            )
        written = self.written
        if written is not None:
            tr.write_line(f"coverage written to {written}")


_SUITE_DIR = Path(__file__).parent


def _in_suite(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(_SUITE_DIR.resolve())
    except (OSError, ValueError):
        return False


def _name_and_id(item: pytest.Item) -> tuple[str, str]:
    marker = item.get_closest_marker("capability")
    args = list(marker.args)
    name = marker.kwargs.get("name", args[0] if args else None)
    test_id = marker.kwargs.get("id", args[1] if len(args) > 1 else None)
    return str(name), str(test_id)  # the plugin has checked their shape already


COVERAGE = pytest.StashKey[Coverage]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("octoprobe-conformance", "octoprobe: the conformance suite")
    group.addoption(
        "--capability",
        dest="octoprobe_capability",
        action="append",
        metavar="NAME",
        help="run only the tests of this capability (glob; repeatable), e.g. 'identity-v3-tokens-*'",
    )
    group.addoption(
        "--interop-guideline",
        dest="octoprobe_interop_guideline",
        default=DEFAULT_GUIDELINE,
        metavar="ID|FILE",
        help="interop guideline the coverage is computed against (default: %(default)s, bundled)",
    )
    group.addoption(
        "--interop-component",
        dest="octoprobe_interop_component",
        default=DEFAULT_COMPONENT,
        metavar="NAME",
        help="the guideline's component whose required capabilities count (default: %(default)s)",
    )
    group.addoption(
        "--coverage-file",
        dest="octoprobe_coverage_file",
        default=None,
        metavar="FILE",
        help="write the coverage (JSON) here (default: DIR/coverage.json with --report-dir DIR)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # openstacksdk warns about its own internal call on every cached GET; not ours to fix
    config.addinivalue_line("filterwarnings", "ignore:The 'service_type' parameter is unnecesary")
    try:
        guideline = load_guideline(config.option.octoprobe_interop_guideline)
        guideline.component(config.option.octoprobe_interop_component)
    except GuidelineError as exc:
        raise pytest.UsageError(f"conformance: {exc}") from None
    plugin = Coverage(config, guideline)
    config.stash[COVERAGE] = plugin
    config.pluginmanager.register(plugin, "octoprobe-conformance-coverage")
