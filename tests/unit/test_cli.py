"""The command line: errors are one clear line and a distinct exit code."""

import pytest

from octoprobe.cli import main
from octoprobe.reference_impl.cli import format_status


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("OCTOPROBE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("OCTOPROBE_PREFIX", "octu")


def test_bad_topology_is_refused_with_file_line_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("racks:\n  - name: r1\n    hostz: []\n")
    assert main(["cloud", "up", "--topology", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("octoprobe: error: ")
    assert f"{bad}:3:" in err and "hostz" in err
    assert "Traceback" not in err


def test_missing_topology_file_is_a_clear_error(tmp_path, capsys):
    assert main(["cloud", "up", "--topology", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "Traceback" not in err


def test_bad_prefix_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("OCTOPROBE_PREFIX", "Not-OK")
    assert main(["cloud", "status"]) == 1
    assert "prefix" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cloud", "sideways"])
    assert exc.value.code == 2


def test_format_status_without_a_monitor():
    report = {
        "state_dir": "/s", "prefix": "octo", "topology": "t.yaml",
        "hosts": [{"name": "ctl", "rack": None, "roles": ["control"], "netns_exists": False,
                   "link": "missing", "ipv4": "198.18.0.2",
                   "daemons": [{"name": "mon.ctl", "running": False, "pid": None, "rss_bytes": 0}]}],
        "rack_uplinks": {"r1": "down"}, "daemons_running": 0, "daemons_expected": 1,
        "daemons_rss_bytes": 0, "ceph": None,
    }
    text = format_status(report)
    assert "mon.ctl (stopped)" in text and "monitor not running" in text and "r1 down" in text


def test_cleanup_with_unknown_cloud_names_the_file_and_key(tmp_path, monkeypatch, capsys):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  mylab:\n    auth: {auth_url: 'http://127.0.0.1:1/v3'}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    assert main(["cleanup", "--cloud", "nosuch", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and "clouds.nosuch" in err and "Traceback" not in err


def test_cleanup_refuses_a_malformed_run_id(tmp_path, monkeypatch, capsys):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  mylab:\n    auth: {auth_url: 'http://127.0.0.1:1/v3', username: u,"
                      " password: p, project_name: x, user_domain_name: Default,"
                      " project_domain_name: Default}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    assert main(["cleanup", "--cloud", "mylab", "--run", "NOT VALID"]) == 2
    assert "run" in capsys.readouterr().err
