"""``octoprobe tempest``: the flow from clouds.yaml to counts and exit status,
with discovery and the Tempest run replaced (no cloud, no Tempest run)."""

from __future__ import annotations

import json
import stat

import pytest

from octoprobe.cli import main
from octoprobe.tempest import cli as tcli
from octoprobe.tempest import config as tconfig
from octoprobe.tempest import runner
from octoprobe.report.model import RunResult
from octoprobe.tempest.results import TempestResult

PASSWORD = "Adm1n-Very-Secret"
CLOUDS = f"""
clouds:
  lab-admin:
    auth: {{auth_url: "http://lab.example/identity/v3", username: admin, password: "{PASSWORD}",
            project_name: admin, user_domain_name: Default, project_domain_name: Default}}
    region_name: RegionOne
  lab:
    auth: {{auth_url: "http://lab.example/identity/v3", username: demo, password: "demo-pw",
            project_name: demo, user_domain_name: Default, project_domain_name: Default}}
    region_name: RegionOne
"""
TOKEN = "tempest.api.identity.v3.test_tokens.TokensV3Test"


@pytest.fixture
def clouds(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS)
    return path


@pytest.fixture
def fake(monkeypatch):
    state = {"results": []}
    facts = tconfig.CloudFacts(identity_uri_v3="http://lab.example/identity/v3", region="RegionOne",
                               catalog=frozenset({"identity", "compute", "image"}), image_ref="i", image_ref_alt="i",
                               flavor_ref="1", flavor_ref_alt="2", notes=("a note",))
    monkeypatch.setattr(tconfig, "discover", lambda admin, conn, **kw: facts)
    monkeypatch.setattr(runner, "snapshot", lambda conn, available: (runner.Snapshot({"projects": {}}), []))

    def run(ws, **kw):
        state["ws"], state["kw"] = ws, kw
        return runner.RunOutcome(results=state["results"], listed=[r.test_id for r in state["results"]],
                                 wall_time=12.0, concurrency=kw["concurrency"], exit_code=0,
                                 subunit_path=ws.subunit)

    monkeypatch.setattr(runner, "run_tempest", run)
    return state


def _ids():
    return {
        "create": f"{TOKEN}.test_create_token[id-6f8e4436-fc96-4282-8122-e41df57197a9]",
        "delete": f"{TOKEN}.test_token_auth_creation_existence_deletion[id-0f9f5a5f-d5cd-4a86-8a5b-c5ded151f212]",
        "validate": f"{TOKEN}.test_validate_token[id-a9512ac3-3909-48a4-b395-11f438e16260]",
    }


def _argv(clouds, tmp_path, *more):
    return ["tempest", "--cloud", "lab", "--admin-cloud", "lab-admin", "--clouds-yaml", str(clouds),
            "--workdir", str(tmp_path / "ws"), "--service", "identity", *more]


def test_a_failed_required_test_exits_1_and_is_listed(clouds, tmp_path, fake, capsys):
    ids = _ids()
    fake["results"] = [TempestResult(ids["create"], "pass", 0.1),
                       TempestResult(ids["delete"], "fail", 0.2, f"boom: password={PASSWORD}"),
                       TempestResult(ids["validate"], "skip", 0.0, "not today")]
    assert main(_argv(clouds, tmp_path, "--concurrency", "3")) == 1
    out = capsys.readouterr().out
    assert "identity           1     1     1        5" in out  # 5 identity tests had no result
    assert "FAIL    identity-v3-tokens-delete" in out and "tempest: note: a note" in out
    assert "wall time 12 s, concurrency 3" in out
    assert fake["kw"]["secrets"] == [PASSWORD] and fake["kw"]["concurrency"] == 3
    ws = tmp_path / "ws"
    conf = (ws / "etc" / "tempest.conf").read_text()
    assert f"admin_password = {PASSWORD}" in conf
    assert stat.S_IMODE((ws / "etc" / "tempest.conf").stat().st_mode) == 0o600
    assert len([ln for ln in (ws / "include-list.txt").read_text().splitlines() if ln.startswith("^")]) == 8
    report = json.loads((ws / "results.json").read_text())
    assert report["counts"]["identity"] == {"pass": 1, "fail": 1, "skip": 1, "not run": 5}
    assert report["concurrency"] == 3 and report["wall_time"] == 12.0
    # the password reaches tempest.conf and nothing else we write or print
    assert PASSWORD not in out and PASSWORD not in (ws / "results.json").read_text()


def test_all_required_passed_or_skipped_exits_0(clouds, tmp_path, fake, capsys, monkeypatch):
    monkeypatch.setattr("octoprobe.tempest.summary.required_failures", lambda rows: [])
    assert main(_argv(clouds, tmp_path)) == 0


def test_unknown_cloud_and_missing_file_exit_2(clouds, tmp_path, fake, capsys):
    assert main(["tempest", "--cloud", "nope", "--admin-cloud", "lab-admin", "--clouds-yaml", str(clouds)]) == 2
    assert "no cloud named 'nope'" in capsys.readouterr().err
    assert main(["tempest", "--admin-cloud", "x", "--clouds-yaml", str(tmp_path / "none.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([*_argv(clouds, tmp_path), "--set", "novalue"]) == 2
    assert "SECTION.KEY=VALUE" in capsys.readouterr().err


def test_set_overrides_parse():
    assert tcli._overrides(["compute-feature-enabled.resize=True", "a.b=x=y"]) == {
        "compute-feature-enabled": {"resize": "True"}, "a": {"b": "x=y"}}
    for bad in ("resize=True", ".x=1", "a.=1", "a.b"):
        with pytest.raises(ValueError):
            tcli._overrides([bad])


def test_unknown_service_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tempest", "--admin-cloud", "x", "--service", "volume"])
    assert exc.value.code == 2


def test_report_dir_gets_octoprobes_report(clouds, tmp_path, fake, capsys):
    ids = _ids()
    fake["results"] = [TempestResult(ids["create"], "pass", 0.1),
                       TempestResult(ids["delete"], "fail", 0.2, f"Traceback\nValueError: password={PASSWORD}"),
                       TempestResult(ids["validate"], "skip", 0.0, "not today")]
    out_dir = tmp_path / "run" / "tempest"
    assert main(_argv(clouds, tmp_path, "--report-dir", str(out_dir), "--run-id", "ci1234")) == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["junit.xml", "report.html", "summary.json", "summary.md"]
    result = RunResult.from_json((out_dir / "summary.json").read_text())
    assert result.run_id == "ci1234" and result.environment.cloud == "lab" and result.verdict == "FAIL"
    assert len(result.tests) == 8 and all(t.nodeid.startswith("tempest/tempest.api.identity.") for t in result.tests)
    assert all(t.capability and t.capability.startswith("identity-") for t in result.tests)
    by_id = {t.capability_id: t for t in result.tests}
    assert by_id["6f8e4436-fc96-4282-8122-e41df57197a9"].outcome == "passed"
    assert by_id["0f9f5a5f-d5cd-4a86-8a5b-c5ded151f212"].outcome == "failed"
    assert by_id["a9512ac3-3909-48a4-b395-11f438e16260"].reason == "not today"
    assert result.counts()["failed"] == 5  # 1 failure, 4 required did not run (a flagged one: skipped)
    assert result.counts()["skipped"] == 2
    assert result.environment.extra["tempest guideline"] == "2020.06"
    assert result.environment.extra["tempest services"] == "identity"
    assert "tempest" in result.environment.versions
    for path in out_dir.iterdir():
        assert PASSWORD not in path.read_text(), path.name
    assert f"tempest: report in {out_dir / 'report.html'} (FAIL)" in capsys.readouterr().out


def test_without_report_dir_no_report_is_written(clouds, tmp_path, fake, capsys):
    assert main(_argv(clouds, tmp_path)) == 1
    assert (tmp_path / "ws" / "results.json").is_file()
    assert not [p for p in tmp_path.rglob("*") if p.name in ("summary.json", "junit.xml", "report.html")]
    assert "report in" not in capsys.readouterr().out


def test_a_run_that_cannot_start_leaves_no_summary(clouds, tmp_path, fake, capsys):
    out_dir = tmp_path / "report"
    out_dir.mkdir()
    (out_dir / "summary.json").write_text("{}")  # an earlier run's
    assert main(_argv(clouds, tmp_path, "--report-dir", str(out_dir), "--run-id", "no-dashes")) == 2
    assert "invalid run id" in capsys.readouterr().err
    assert not (out_dir / "summary.json").exists()
    (tmp_path / "file").write_text("")
    assert main(_argv(clouds, tmp_path, "--report-dir", str(tmp_path / "file"))) == 2
    assert "not a directory" in capsys.readouterr().err


def test_run_and_report_returns_the_result(clouds, tmp_path, fake, capsys):
    fake["results"] = [TempestResult(r, "pass", 0.1) for r in _ids().values()]
    args = tcli.parse(_argv(clouds, tmp_path)[1:])
    code, result = tcli.run_and_report(args)
    assert code == 1 and result is not None and result.counts()["passed"] == 3
    assert tcli.run_and_report(tcli.parse(["--admin-cloud", "nope", "--clouds-yaml", str(clouds)])) == (2, None)


def test_stestr_arguments_after_a_double_dash_reach_stestr_run(monkeypatch):
    from octoprobe.cli import build_parser
    from octoprobe.tempest import runner

    args = build_parser().parse_args(["tempest", "--admin-cloud", "adm", "--interop", "--", "--exclude-regex",
                                      "resize"])
    assert args.all_tests is False and [a for a in args.stestr_args if a != "--"] == ["--exclude-regex", "resize"]
    monkeypatch.setattr(runner, "find_tool", lambda name: name)
    cmd = runner.stestr_run_command(runner.Workspace(__import__("pathlib").Path("/w")), 2, ["--exclude-regex", "resize"])
    assert cmd[:2] == ["stestr", "run"] and cmd[-2:] == ["--exclude-regex", "resize"] and "--subunit" in cmd


PLUGIN_TEST = "example_tempest_plugin.tests.api.test_widgets.WidgetsTest.test_list[id-11111111-2222-3333-4444-555555555555]"


def test_all_counts_every_listed_test_plugins_included(clouds, tmp_path, fake, capsys):
    ids = _ids()
    sub = ids["create"].replace("TokensV3Test", "TokensV3SubTest")  # a subclass: same idempotent id
    fake["results"] = [TempestResult(ids["create"], "pass", 0.1), TempestResult(sub, "pass", 0.1),
                       TempestResult(PLUGIN_TEST, "fail", 0.3, "widgets: 500")]
    argv = ["tempest", "--cloud", "lab", "--admin-cloud", "lab-admin", "--clouds-yaml", str(clouds),
            "--workdir", str(tmp_path / "ws"), "--all", "--report-dir", str(tmp_path / "rep")]
    assert main(argv) == 1  # the plugin's test failed: with --all every test counts
    out = capsys.readouterr().out
    assert "every test of all services (Tempest's and its installed plugins')" in out
    assert (tmp_path / "ws" / "include-list.txt").read_text().splitlines()[-1] == "."
    result = RunResult.from_json((tmp_path / "rep" / "summary.json").read_text())
    by_node = {t.nodeid: t for t in result.tests}
    assert len(by_node) == 3, "a subclass's test is its own test, not folded into its parent's id"
    assert by_node["tempest/" + PLUGIN_TEST.split("[")[0]].capability == "tempest:example_tempest_plugin"
    assert by_node["tempest/" + ids["create"].split("[")[0]].capability == "identity-v3-tokens-create"
    report = json.loads((tmp_path / "ws" / "results.json").read_text())
    assert report["selection"] == "all" and report["counts"]["example_tempest_plugin"]["fail"] == 1

    fake["results"] = fake["results"][:2]
    assert main([*argv, "--regex", r"^tempest\.api\.identity\."]) == 0
    assert (tmp_path / "ws" / "include-list.txt").read_text().splitlines()[-1] == r"^tempest\.api\.identity\."


def test_regex_needs_all_and_must_compile(clouds, tmp_path, fake, capsys):
    assert main(_argv(clouds, tmp_path, "--regex", "x")) == 2
    assert "give it with --all" in capsys.readouterr().err
    assert main(_argv(clouds, tmp_path, "--all", "--regex", "(")) == 2
    assert "--regex '('" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(_argv(clouds, tmp_path, "--all", "--interop"))
    assert exc.value.code == 2
