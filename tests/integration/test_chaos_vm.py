"""VM continuity (``pytest chaos/test_vm.py``) against a real reference cloud of its own.

The cloud has its own state directory, prefix ``octw``, underlay
198.18.12.0/24 + fd6f:6374:6f12::/64 and its own ``clouds.yaml`` (through
OCTOPROBE_CLOUDS_YAML), so it runs beside the other integration clouds; it
is purged at the end whatever happened.

The suite runs as a user runs it (a pytest subprocess with ``--cloud`` and
``--reference-state-dir``): a VM booted through the API writes checksummed
blocks to an attached volume while the OSD holding them dies (and, in the
second scenario, its whole storage host); the VM must stay up, its writes
must resume during the fault, and every acknowledged block must read back
intact, through the guest and from RADOS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from octoprobe.ceph import CephClient, wait_for_clean
from octoprobe.shell import LocalRunner

from chaoslab import chaos_cloud_up

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PREFIX = "octw"
UNDERLAY = {"ipv4": "198.18.12.0/24", "ipv6": "fd6f:6374:6f12::/64", "mtu": 1500}
REQUIRED_PROGRAMS = ("ip", "ceph", "ceph-mon", "ceph-mgr", "ceph-osd", "rados", "rbd", "qemu-system-x86_64")
SCENARIOS = {
    "vm-disk": "test_vm_io_resumes_and_loses_nothing_when_a_disk_dies",
    "vm-node": "test_vm_io_resumes_and_loses_nothing_when_a_node_dies",
}
SUITE_TIMEOUT = 600


@pytest.fixture(scope="module")
def vm_cloud(tmp_path_factory):
    with chaos_cloud_up(tmp_path_factory.mktemp("vmchaoscloud"), PREFIX, UNDERLAY, REQUIRED_PROGRAMS,
                        "the VM continuity integration test (QEMU too)") as cloud:
        yield cloud


@pytest.mark.timeout(SUITE_TIMEOUT + 60)
def test_vm_keeps_running_its_io_resumes_and_nothing_is_lost(vm_cloud, tmp_path):
    results = tmp_path / "results"
    tests = [f"chaos/test_vm.py::{name}" for name in SCENARIOS.values()]
    proc = subprocess.run(vm_cloud.suite_argv(results, *tests, extra=("--cloud", "octoprobe")), cwd=REPO, env=vm_cloud.env, capture_output=True,
                          text=True, timeout=SUITE_TIMEOUT)
    sys.stdout.write(proc.stdout[-20000:])
    sys.stderr.write(proc.stderr[-5000:])
    assert proc.returncode == 0, f"the VM continuity scenarios failed:\n{proc.stdout[-8000:]}"
    assert f"{len(SCENARIOS)} passed" in proc.stdout, proc.stdout[-3000:]
    for name in SCENARIOS:
        result = json.loads((results / f"{name}.json").read_text())
        assert result["passed"], result["failures"]
        assert result["server_status"] == "ACTIVE" and result["boot_id_unchanged"], result
        for key in ("check", "check_rados"):
            check = result[key]
            assert (check["lost"], check["corrupt"]) == (0, 0), (key, check)
            assert check["acknowledged"] >= 20 and check["verified"] == check["acknowledged"], (key, check)
        assert result["check"]["unfound"] == 0, result["check"]
        io = result["vm_io"]
        assert io["acks_before_fault"] > 0 and io["acks_during_fault"] >= 10 and io["acks_after_inject"] >= 10, io
        assert io["stall_s"] is not None and io["stall_s"] > 0, io
        assert io["first_ack_after_inject_s"] is not None and io["max_gap_s"] is not None, io
        m = result["measurements"]
        assert m["detect_s"] is not None and m["clean_after_heal_s"] is not None, m
        metrics = {s["metric"] for s in result["samples"]}
        assert {"chaos.vm.io_stall", "chaos.vm.lost", "chaos.vm.corrupt", "chaos.unfound",
                "chaos.vm.acks_after_fault"} <= metrics, metrics
        assert result["timeline"]["points"] and result["timeline"]["events"], name
    # the run-tagged server, volume, keypair and security group are gone
    clouds = yaml.safe_load(vm_cloud.clouds_yaml.read_text())["clouds"]
    assert "octoprobe" in clouds, clouds.keys()
    from openstack.config import OpenStackConfig
    from openstack.connection import Connection

    conn = Connection(config=OpenStackConfig(config_files=[str(vm_cloud.clouds_yaml)], vendor_files=[])
                      .get_one(cloud="octoprobe", api_timeout=60))
    try:
        assert not [s.name for s in conn.compute.servers()], "servers left behind"
        assert not [v.name for v in conn.block_storage.volumes()], "volumes left behind"
    finally:
        conn.close()
    client = CephClient(LocalRunner(), conf=vm_cloud.conf, timeout=30)
    wait_for_clean(client, no_progress_timeout=120)
    osds = client.status().osds
    assert osds.up == osds.in_ == osds.num_osds, osds
    assert not (vm_cloud.state_dir / "chaos" / "faults.json").exists()
