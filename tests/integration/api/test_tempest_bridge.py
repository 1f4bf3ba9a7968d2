"""``octoprobe tempest`` against the reference cloud: OpenStack's own tests
of the interop guideline's required identity and image capabilities, run
by Tempest with dynamic credentials (its projects and users made through our
Keystone and deleted again)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import yaml


def test_required_identity_and_image_tests_pass_and_leave_nothing(api_cloud):
    work = api_cloud.work / "tempest"
    proc = subprocess.run(
        [sys.executable, "-m", "octoprobe.cli", "tempest", "--cloud", "octoprobe", "--admin-cloud",
         "octoprobe-admin", "--alt-cloud", "octoprobe-alt", "--clouds-yaml", str(api_cloud.clouds_yaml),
         "--service", "identity", "--service", "image", "--concurrency", "4", "--timeout", "900",
         "--workdir", str(work)],
        env=api_cloud.env, capture_output=True, text=True, timeout=1200)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((work / "results.json").read_text())
    assert report["counts"] == {"identity": {"pass": 8, "fail": 0, "skip": 0, "not run": 0},
                                "image": {"pass": 20, "fail": 0, "skip": 0, "not run": 0}}
    assert report["leftovers"] == []
    assert "nothing left behind" in proc.stdout
    # the admin password is in tempest.conf (owner only) and nowhere else we wrote
    password = yaml.safe_load(api_cloud.clouds_yaml.read_text())["clouds"]["octoprobe-admin"]["auth"]["password"]
    conf = work / "etc" / "tempest.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600 and password in conf.read_text()
    assert password not in proc.stdout + proc.stderr
    for path in (work / "results.json", work / "tempest.subunit", work / "logs" / "tempest.log"):
        assert password.encode() not in path.read_bytes(), path
    # the projects Tempest made for itself are gone
    projects = {p["Name"] for p in api_cloud.openstack("project", "list", cloud="octoprobe-admin")}
    assert not [p for p in projects if p.startswith("tempest-")]
