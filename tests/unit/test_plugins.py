"""Third-party plugins, found through a real installed distribution (a
``.dist-info`` with ``entry_points.txt`` on ``sys.path``, as pip leaves it):
extra tests run in their suite's session, profiles load by name, fault
drivers resolve by name; a broken plugin is named."""

from __future__ import annotations

import importlib
import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

from octoprobe import plugins, run_cli
from octoprobe.faults import FaultError, fault_driver, fault_drivers
from octoprobe.perf.profiles import ProfileNotFound, available_profiles, load_profile

PACKAGE = textwrap.dedent('''
    from pathlib import Path

    HERE = Path(__file__).parent
    suites = {"perf": HERE / "perf_tests"}
    profiles = HERE / "profiles"

    class PduDriver:
        """Power off a node through the lab's PDU."""
        def __init__(self, address):
            self.address = address

    fault_drivers = {"acme-pdu": PduDriver}
''')
EXTRA_TEST = textwrap.dedent('''
    def test_acme_extra(samples):
        samples.add("acme.widgets", 3.0, "count")
''')
PROFILE = "profile: acme\ngates:\n  - name: widgets\n    metric: acme.widgets\n    statistic: median\n    min: 1\n"


def install(root: Path, name: str, value: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[octoprobe.plugins]\n{name} = {value}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("acme_octoprobe")]:
        del sys.modules[module]


def test_an_installed_plugin_adds_tests_profiles_and_fault_drivers(site, monkeypatch):
    install(site, "acme_octoprobe", "acme_octoprobe", {
        "acme_octoprobe/__init__.py": PACKAGE, "acme_octoprobe/perf_tests/test_acme.py": EXTRA_TEST,
        "acme_octoprobe/profiles/acme.yaml": PROFILE})
    found = plugins.discover()
    assert [p.name for p in found] == ["acme_octoprobe"]
    assert plugins.suite_paths("perf") == [site / "acme_octoprobe" / "perf_tests"]
    assert plugins.suite_paths("chaos") == []
    assert load_profile("acme").gates[0].metric == "acme.widgets"
    assert "acme" in available_profiles()
    assert fault_driver("acme-pdu")("10.0.0.9").address == "10.0.0.9"
    assert "acme-pdu" in fault_drivers() and "reference" in fault_drivers()
    with pytest.raises(FaultError, match="no fault driver named 'nope'; known: acme-pdu, lab, reference, ssh-osd"):
        fault_driver("nope")

    # `octoprobe run perf` runs the plugin's tests in the perf session, and the plugin's profile judges them
    suite = site / "perf_suite"
    suite.mkdir()
    (suite / "test_own.py").write_text("def test_own():\n    pass\n")
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    monkeypatch.setattr(run_cli, "NEEDS_CLOUD", ())
    monkeypatch.setenv("PYTHONPATH", str(site))
    report = site / "report"
    args = run_cli_args(report, profile="acme")
    assert run_cli.main(args, out=io.StringIO()) == 0
    summary = json.loads((report / "summary.json").read_text())
    names = sorted(t["nodeid"].rsplit("::", 1)[1] for t in summary["tests"])
    assert names == ["test_acme_extra", "test_own"]
    assert [(g["name"], g["passed"]) for g in summary["gates"]] == [("widgets", True)]


def test_a_broken_plugin_is_named(site, capsys):
    install(site, "acme_broken", "acme_broken_missing_module", {})
    with pytest.raises(plugins.PluginError, match="entry point 'acme_broken'.*failed to load"):
        plugins.discover()
    with pytest.raises(ProfileNotFound, match="acme_broken"):
        load_profile("some-plugin-profile")
    assert run_cli.main(run_cli_args(site / "r")) == 2
    assert "entry point 'acme_broken'" in capsys.readouterr().err


def test_a_plugin_naming_a_missing_test_directory_is_refused(site):
    install(site, "acme_octoprobe", "acme_octoprobe", {
        "acme_octoprobe/__init__.py": "suites = {'conformance': '/no/such/dir'}\n"})
    with pytest.raises(plugins.PluginError, match="no such test directory /no/such/dir"):
        plugins.discover()


def run_cli_args(report: Path, **kw):
    import argparse

    base = dict(suites=["perf"], cloud=None, admin_cloud=None, alt_cloud=None, inventory=None, profile=None,
                allow_destructive=False, run_id="plugrun1", report_dir=report, suite_timeout=120.0, quiet=True,
                pytest_args="", baseline=None, history=None, no_history=True, graphite=None)
    base.update(kw)
    return argparse.Namespace(**base)
