"""The Tempest workspace, the listing through stestr, and the leftover check."""

from __future__ import annotations

import stat
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from octoprobe.interop import load_guideline
from octoprobe.tempest import runner, testlist


def test_prepare_workspace_files_and_modes(tmp_path):
    ws = runner.prepare_workspace(tmp_path / "ws", "[auth]\nadmin_password = pw\n", "# x\n^tempest\\.a$\n")
    assert stat.S_IMODE(ws.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700
    assert ws.config.read_text() == "[auth]\nadmin_password = pw\n"
    conf = (ws.root / ".stestr.conf").read_text()
    assert "test_path=" in conf and conf.split("test_path=")[1].split("\n")[0].endswith("tempest/test_discover")
    assert ws.include_list.read_text() == "# x\n^tempest\\.a$\n"
    env = ws.env({"OS_CLOUD": "mine", "PATH": "/bin"})
    assert env["TEMPEST_CONFIG_DIR"] == str(ws.etc) and env["TEMPEST_CONFIG"] == "tempest.conf"
    assert "OS_CLOUD" not in env and env["PATH"] == "/bin"


def test_list_tests_selects_exactly_the_guideline_identity_tests(tmp_path):
    # real Tempest discovery (no cloud): the regexes must match Tempest's own test ids
    selected = testlist.select(load_guideline(), ["identity"])
    ws = runner.prepare_workspace(tmp_path / "ws", "[DEFAULT]\n", testlist.render_include_list(selected))
    listed = runner.list_tests(ws, timeout=300)
    assert sorted(testlist.idempotent_id_of(t) for t in listed) == sorted(s.idempotent_id for s in selected)
    assert all(t.startswith("tempest.api.identity.v3.") for t in listed)


def test_find_tool_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(runner.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(runner.TempestNotInstalled, match="pip install .*tempest.*stestr"):
        runner.find_tool("stestr")


def test_run_tempest_refuses_bad_arguments(tmp_path):
    ws = runner.Workspace(tmp_path)
    with pytest.raises(ValueError, match="concurrency"):
        runner.run_tempest(ws, concurrency=0)
    with pytest.raises(ValueError, match="timeout"):
        runner.run_tempest(ws, timeout=0)


def test_leftovers_are_what_appeared_in_kinds_listed_both_times():
    before = runner.Snapshot({"projects": {"p1": "admin"}, "servers": {}, "images": {"i1": "guest"}})
    after = runner.Snapshot({"projects": {"p1": "admin", "p2": "tempest-X-1"}, "servers": {"s1": "tempest-srv"},
                             "images": {"i1": "guest"}, "volumes": {"v1": "tempest-vol"}})
    assert runner.leftovers(before, after) == {"projects": {"p2": "tempest-X-1"}, "servers": {"s1": "tempest-srv"}}
    assert runner.leftovers(after, after) == {}


def test_delete_leftovers_touches_only_tempest_names_servers_before_projects():
    deleted = []

    def recorder(kind):
        return lambda rid, ignore_missing: deleted.append((kind, rid))

    conn = SimpleNamespace(
        compute=SimpleNamespace(delete_server=recorder("server"), delete_flavor=recorder("flavor")),
        identity=SimpleNamespace(delete_project=recorder("project"), delete_user=recorder("user"),
                                 delete_role=recorder("role")),
        image=SimpleNamespace(delete_image=recorder("image")),
    )
    found = {"projects": {"p2": "tempest-X-1"}, "servers": {"s1": "tempest-srv", "s2": "someone-elses"},
             "images": {"i9": ""}}
    lines = runner.delete_leftovers(conn, found)
    assert deleted == [("server", "s1"), ("project", "p2")]
    assert "servers s2 (someone-elses): left alone, not named tempest-*" in lines
    assert "images i9 (no name): left alone, not named tempest-*" in lines
    assert "projects p2 (tempest-X-1): deleted" in lines


def test_delete_leftovers_deletes_volumes_before_images_and_retries_what_was_still_in_use():
    calls = []
    volume_gone = []

    def delete_volume(rid, ignore_missing):
        calls.append(("volume", rid))
        volume_gone.append(rid)

    def delete_image(rid, ignore_missing):
        calls.append(("image", rid))
        if len([c for c in calls if c[0] == "image"]) < 3:  # the volume's clone is still going away
            raise RuntimeError("409 Conflict: image in use")

    conn = SimpleNamespace(block_storage=SimpleNamespace(delete_volume=delete_volume),
                           image=SimpleNamespace(delete_image=delete_image))
    found = {"images": {"i1": "tempest-img"}, "volumes": {"v1": "tempest-vol"}}
    lines = runner.delete_leftovers(conn, found, retry_for=5, interval=0.01)
    assert calls == [("volume", "v1"), ("image", "i1"), ("image", "i1"), ("image", "i1")]
    assert lines == ["volumes v1 (tempest-vol): deleted", "images i1 (tempest-img): deleted"]

    calls.clear()
    conn.image.delete_image = lambda rid, ignore_missing: (_ for _ in ()).throw(RuntimeError("409"))
    lines = runner.delete_leftovers(conn, {"images": {"i2": "tempest-stuck"}}, retry_for=0.05, interval=0.01)
    assert lines == ["images i2 (tempest-stuck): delete failed: RuntimeError"]


def test_snapshot_reports_kinds_it_cannot_list():
    def boom():
        raise RuntimeError("404 not found")

    item = SimpleNamespace(id="x", name="n")
    conn = SimpleNamespace(
        identity=SimpleNamespace(projects=lambda: [item], users=lambda: [], roles=boom),
        compute=SimpleNamespace(servers=lambda all_projects: [], flavors=lambda is_public: []),
        image=SimpleNamespace(images=lambda: []),
    )
    snap, errors = runner.snapshot(conn, {"neutron": False, "cinder": False})
    assert snap.kinds["projects"] == {"x": "n"} and "roles" not in snap.kinds
    assert errors == ["roles: RuntimeError: 404 not found"]


SAMPLE = Path(__file__).parent / "data" / "tempest-sample.subunit"


def _fake_stestr(tmp_path, run_body: str) -> str:
    """An executable standing in for stestr: init, list (two ids), run (``run_body``)."""
    script = tmp_path / "fake-stestr"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  init) mkdir -p .stestr ;;\n"
        "  list) echo 'tempest.api.a.T.test_one[id-1]'; echo 'tempest.api.a.T.test_two[id-2]' ;;\n"
        f"  run) {run_body} ;;\n"
        "esac\n")
    script.chmod(0o755)
    return str(script)


def test_run_tempest_reads_the_stream_keeps_it_and_reports_progress(tmp_path, monkeypatch):
    fake = _fake_stestr(tmp_path, f"echo oops >&2; cat {SAMPLE}")
    monkeypatch.setattr(runner, "find_tool", lambda name: fake)
    ws = runner.prepare_workspace(tmp_path / "ws", "[DEFAULT]\n", "^tempest\\.\n")
    lines = []
    outcome = runner.run_tempest(ws, concurrency=2, timeout=60, progress=lines.append,
                                 secrets=["95c20d03-176e-4ed7-a80e-a9549e23e33d"])
    assert outcome.listed == ["tempest.api.a.T.test_one[id-1]", "tempest.api.a.T.test_two[id-2]"]
    assert [r.status for r in outcome.results] == ["pass", "pass", "fail", "skip", "fail", "skip"]
    assert outcome.exit_code == 0 and not outcome.timed_out and outcome.concurrency == 2
    assert ws.subunit.read_bytes() == SAMPLE.read_bytes()  # the stream is kept as it came
    assert lines[0] == "tempest: 2 test(s) selected, concurrency 2"
    assert lines[1].startswith("[  1/2] pass tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON"
                               ".test_list_flavors")
    assert len(lines) == 7 and outcome.stderr_tail == "oops"
    assert "95c20d03" not in outcome.results[2].reason


def test_run_tempest_stops_at_the_deadline(tmp_path, monkeypatch):
    fake = _fake_stestr(tmp_path, "sleep 60")
    monkeypatch.setattr(runner, "find_tool", lambda name: fake)
    ws = runner.prepare_workspace(tmp_path / "ws", "[DEFAULT]\n", "^tempest\\.\n")
    started = time.monotonic()
    outcome = runner.run_tempest(ws, timeout=2)
    assert time.monotonic() - started < 30
    assert outcome.timed_out and outcome.exit_code is None and outcome.results == []


def test_listing_failure_is_a_clear_error(tmp_path, monkeypatch):
    script = tmp_path / "broken"
    script.write_text("#!/bin/sh\nmkdir -p .stestr\n"
                      "[ \"$1\" = list ] && { echo 'ImportError: no tempest' >&2; exit 3; }\nexit 0\n")
    script.chmod(0o755)
    monkeypatch.setattr(runner, "find_tool", lambda name: str(script))
    ws = runner.prepare_workspace(tmp_path / "ws", "[DEFAULT]\n", "^x\n")
    with pytest.raises(runner.TempestRunError, match=r"stestr list failed \(exit 3\):\nImportError: no tempest"):
        runner.list_tests(ws)


def test_parse_test_listing_keeps_plugin_tests_and_drops_noise():
    text = ("WARNING: something about a deprecated option\n"
            "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-6f8e4436-fc96-4282-8122-e41df57197a9,smoke]\n"
            "  barbican_tempest_plugin.tests.api.test_secrets.SecretsTest.test_create[id-1]  \n"
            "\n"
            "2026-11-24 12:00:00.123 1 INFO tempest [-] Using tempest config file /w/etc/tempest.conf\n")
    assert runner.parse_test_listing(text) == [
        "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token[id-6f8e4436-fc96-4282-8122-e41df57197a9,smoke]",
        "barbican_tempest_plugin.tests.api.test_secrets.SecretsTest.test_create[id-1]"]


def test_all_identity_lists_more_than_the_guideline_requires(tmp_path):
    # real Tempest discovery (no cloud): --all --service identity is every identity API test
    ws = runner.prepare_workspace(tmp_path / "ws", "[DEFAULT]\n", testlist.all_tests_include_list(["identity"]))
    listed = runner.list_tests(ws, timeout=300)
    required = testlist.select(load_guideline(), ["identity"])
    assert len(listed) > 5 * len(required) and all(t.startswith("tempest.api.identity.") for t in listed)
    assert {s.idempotent_id for s in required} <= {testlist.idempotent_id_of(t) for t in listed}
