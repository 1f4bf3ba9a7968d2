"""octoprobe.perf.profiles: gate profiles, refusals naming file, line and key, shipped and plugin profiles."""

from __future__ import annotations

import textwrap
import types
from importlib import metadata
from pathlib import Path

import pytest

from octoprobe.config_yaml import ConfigError
from octoprobe.perf import profiles as profiles_mod
from octoprobe.perf.profiles import (
    ENTRY_POINT_GROUP,
    ProfileNotFound,
    available_profiles,
    load_profile,
)

DATA = Path(__file__).parent / "data" / "perf" / "profiles"
SHIPPED = Path(profiles_mod.__file__).parent / "profiles"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def refusal(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert info.value.path == str(path)
    assert str(info.value).startswith(f"{path}:{info.value.line}: ")
    return info.value


GATE = """\
profile: p
gates:
  - name: g
    metric: boot.ssh
    statistic: p95
    max: 40
"""


# ---------------------------------------------------------------- loading


def test_a_profile_with_every_key_loads():
    profile = load_profile(DATA / "every_key.yaml")
    assert profile.name == "every-key"
    assert profile.description == "every key a profile can have"
    assert profile.regression_tolerance == 0.1
    assert profile.source == str(DATA / "every_key.yaml")
    ssh, bw, underlay = profile.gates
    assert (ssh.metric, ssh.statistic, ssh.threshold) == ("boot.ssh", "p95", 40.0)
    assert (ssh.direction, ssh.comparison) == ("max", "<=")
    assert ssh.unit == "s" and dict(ssh.where) == {"source": "image", "concurrency": 1} and ssh.required
    assert ssh.line == 6
    assert (bw.statistic, bw.threshold, bw.comparison, bw.required) == ("ci_low", 2.5e7, ">=", True)
    assert not underlay.required and underlay.where == {} and underlay.unit == ""
    assert profile.gate("underlay") is underlay
    with pytest.raises(KeyError):
        profile.gate("nope")


def test_defaults(tmp_path):
    profile = load_profile(write(tmp_path, GATE))
    assert profile.regression_tolerance == 0.05 and profile.description == ""
    (gate,) = profile.gates
    assert gate.required and gate.unit == "" and gate.where == {} and gate.description == ""


def test_a_path_given_as_a_string_loads(tmp_path):
    assert load_profile(str(write(tmp_path, GATE))).name == "p"


@pytest.mark.parametrize("name", ["reference", "dreamcompute"])
def test_shipped_profiles_load_by_name_and_by_path(name):
    by_name = load_profile(name)
    by_path = load_profile(SHIPPED / f"{name}.yaml")
    assert by_name.name == name and by_name.gates == by_path.gates
    assert by_name.description and all(g.description for g in by_name.gates)


def test_shipped_profiles_have_the_gates_the_issue_asks_for():
    reference = {g.name: g for g in load_profile("reference").gates}
    assert reference["boot_to_ssh_p95"].threshold <= 20
    assert reference["fio_wrapper_overhead"].metric == "fio.rbd.seqwrite-4m.bw_vs_rbd_bench"
    # the issue's 0.95 is a benchmark target (recorded in the note); the gate catches a plainly wrong wrapper
    assert reference["fio_wrapper_overhead"].threshold == 0.6 and reference["fio_wrapper_overhead"].required
    assert reference["rbd_seqwrite_bw"].threshold == 20e6 and reference["rbd_seqwrite_bw"].unit == "B/s"
    assert reference["net_cross_host_goodput"].threshold == 50e6
    dream = {g.name: g for g in load_profile("dreamcompute").gates}
    assert (dream["boot_to_ssh_p95"].threshold, dream["boot_to_ssh_p95"].where) == (40, {"source": "image"})
    assert dream["net_cross_host_efficiency"].threshold == 0.9 and dream["net_cross_host_efficiency"].required
    assert not dream["net_underlay_efficiency"].required


def test_available_profiles_lists_the_shipped_ones():
    available = available_profiles()
    assert {"reference", "dreamcompute"} <= set(available)
    assert available["reference"].startswith("shipped: ") and available["reference"].endswith("reference.yaml")


def test_an_unknown_name_lists_the_available_ones():
    with pytest.raises(ProfileNotFound, match=r"'nope'.*available: .*dreamcompute, .*reference"):
        load_profile("nope")


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "absent.yaml")


# ---------------------------------------------------------------- entry points


def fake_entry_points(monkeypatch, *targets: tuple[str, object]) -> None:
    """Make importlib.metadata.entry_points report one octoprobe plugin per
    (name, object): a plugin whose ``profiles`` is the object (a callable is
    called, as a plugin's entry point may be)."""
    eps = []
    for name, obj in targets:
        ep = metadata.EntryPoint(name, f"fake_module:{name}", ENTRY_POINT_GROUP)
        eps.append((ep, obj))

    class FakeEntryPoint:
        def __init__(self, ep: metadata.EntryPoint, obj: object):
            self.name, self.value, self.group, self._obj = ep.name, ep.value, ep.group, obj

        def load(self) -> object:
            if isinstance(self._obj, Exception):
                raise self._obj
            return types.SimpleNamespace(profiles=self._obj() if callable(self._obj) else self._obj)

    def entry_points(**selection):
        assert selection == {"group": ENTRY_POINT_GROUP}
        return [FakeEntryPoint(ep, obj) for ep, obj in eps]

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def test_a_plugin_directory_provides_profiles(monkeypatch):
    fake_entry_points(monkeypatch, ("labx_pkg", lambda: DATA / "plugin"))
    assert available_profiles()["labx"] == f"entry point labx_pkg: {DATA / 'plugin' / 'labx.yaml'}"
    assert load_profile("labx").gates[0].threshold == 15


def test_a_plugin_mapping_provides_profiles(monkeypatch):
    fake_entry_points(monkeypatch, ("labs", {"lab-y": str(DATA / "plugin" / "labx.yaml")}))
    assert load_profile("lab-y").name == "labx"


def test_a_plugin_cannot_shadow_a_shipped_profile(monkeypatch):
    fake_entry_points(monkeypatch, ("evil", {"reference": DATA / "plugin" / "labx.yaml"}))
    assert load_profile("reference").name == "reference"
    assert available_profiles()["reference"].startswith("shipped: ")


def test_a_broken_plugin_is_named_but_does_not_break_shipped_names(monkeypatch):
    fake_entry_points(monkeypatch, ("broken", ImportError("no module named fake_module")))
    assert load_profile("reference").name == "reference"
    with pytest.raises(ProfileNotFound, match="entry point 'broken'.*no module named fake_module"):
        load_profile("labx")


def test_a_plugin_giving_something_else_is_refused(monkeypatch):
    fake_entry_points(monkeypatch, ("odd", 42))
    with pytest.raises(ProfileNotFound, match="entry point 'odd'.*expected a directory or a mapping"):
        available_profiles()


# ---------------------------------------------------------------- refusals


def test_unknown_top_level_key(tmp_path):
    err = refusal(tmp_path, "profile: p\ntolerance: 0.1\n" + GATE.split("\n", 1)[1])
    assert (err.line, err.key) == (2, "tolerance")
    assert "unknown key 'tolerance'" in err.message and "regression_tolerance" in err.message


def test_unknown_gate_key(tmp_path):
    err = refusal(tmp_path, GATE + "    maximum: 3\n")
    assert (err.line, err.key) == (7, "gates[0].maximum")
    assert "unknown key 'maximum'" in err.message


def test_missing_metric(tmp_path):
    err = refusal(tmp_path, GATE.replace("    metric: boot.ssh\n", ""))
    assert (err.line, err.key) == (3, "gates[0].metric")
    assert "missing required key 'metric'" in err.message


def test_missing_profile_name(tmp_path):
    err = refusal(tmp_path, GATE.replace("profile: p\n", ""))
    assert (err.line, err.key) == (1, "profile")


def test_both_max_and_min(tmp_path):
    err = refusal(tmp_path, GATE + "    min: 1\n")
    assert (err.line, err.key) == (7, "gates[0].min")
    assert "either max: or min:, not both" in err.message


def test_neither_max_nor_min(tmp_path):
    err = refusal(tmp_path, GATE.replace("    max: 40\n", ""))
    assert (err.line, err.key) == (3, "gates[0].max")
    assert "missing threshold" in err.message


@pytest.mark.parametrize("value", ["fast", "40 s", "20MB/s", "true", "[40]", "{a: 1}", ".inf"])
def test_non_numeric_threshold(tmp_path, value):
    err = refusal(tmp_path, GATE.replace("max: 40", f"max: {value}"))
    assert (err.line, err.key) == (6, "gates[0].max")
    assert "expected a" in err.message and "number" in err.message


@pytest.mark.parametrize(
    "text, value", [("1e9", 1e9), ("2.5E+7", 2.5e7), ("20_000_000", 2e7), ("0.5", 0.5), ("-3", -3.0)]
)
def test_numeric_spellings(tmp_path, text, value):
    assert load_profile(write(tmp_path, GATE.replace("max: 40", f"max: {text}"))).gates[0].threshold == value


def test_unknown_statistic(tmp_path):
    err = refusal(tmp_path, GATE.replace("statistic: p95", "statistic: p90"))
    assert (err.line, err.key) == (5, "gates[0].statistic")
    assert "unknown statistic 'p90'" in err.message and "median, p95, p99" in err.message


def test_duplicate_gate_name(tmp_path):
    second = "  - name: g\n    metric: boot.active\n    statistic: median\n    max: 5\n"
    err = refusal(tmp_path, GATE + second)
    assert (err.line, err.key) == (7, "gates[1].name")
    assert "duplicate gate name 'g' (first used on line 3)" in err.message


def test_no_gates(tmp_path):
    err = refusal(tmp_path, "profile: p\ngates: []\n")
    assert (err.line, err.key) == (2, "gates")


@pytest.mark.parametrize("value", ["-0.1", "1.5", "lots"])
def test_bad_regression_tolerance(tmp_path, value):
    err = refusal(tmp_path, f"regression_tolerance: {value}\n" + GATE)
    assert (err.line, err.key) == (1, "regression_tolerance")


def test_where_must_map_to_plain_values(tmp_path):
    err = refusal(tmp_path, GATE + "    where: {source: [image, volume]}\n")
    assert (err.line, err.key) == (7, "gates[0].where.source")
    err = refusal(tmp_path, GATE + "    where: image\n")
    assert (err.line, err.key) == (7, "gates[0].where")


def test_required_must_be_a_boolean(tmp_path):
    err = refusal(tmp_path, GATE + "    required: maybe\n")
    assert (err.line, err.key) == (7, "gates[0].required")


def test_empty_metric_name(tmp_path):
    err = refusal(tmp_path, GATE.replace("metric: boot.ssh", "metric: ''"))
    assert (err.line, err.key) == (4, "gates[0].metric")
