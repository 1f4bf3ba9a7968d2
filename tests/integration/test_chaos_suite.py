"""The chaos suite (``pytest chaos/``) against a real reference cloud of its own.

The cloud has its own state directory, prefix ``octc`` and underlay
198.18.11.0/24 + fd6f:6374:6f11::/64, so it runs beside the other
integration clouds; it is purged at the end whatever happened.

* the disk, node, rack, two-rack and added-capacity scenarios run as a user
  runs them (a pytest subprocess on ``chaos/``) and each must pass with its
  measurements and zero lost / corrupt / unfound objects;
* a scenario interrupted by Ctrl-C (SIGINT to the process group, as a
  terminal sends it) while its fault is injected leaves the cluster healed;
* the SSH fault driver (the lab path), pointed at an SSH server in a storage
  host's namespace, kills an OSD, pulls its disk, and revives it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from octoprobe.ceph import CephClient, wait_for_clean
from octoprobe.reference_impl import processes
from octoprobe.reference_impl.topology import default_topology_path, load_topology
from octoprobe.shell import LocalRunner

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PREFIX = "octc"
UNDERLAY = {"ipv4": "198.18.11.0/24", "ipv6": "fd6f:6374:6f11::/64", "mtu": 1500}
REQUIRED_PROGRAMS = ("ip", "ceph", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-authtool", "monmaptool", "rados")
#: scenario name -> the test of chaos/ that runs it
SCENARIO_TESTS = {
    "disk": "test_one_disk_heals_to_full_redundancy_and_loses_nothing",
    "node": "test_one_node_heals_to_full_redundancy_and_loses_nothing",
    "rack": "test_one_rack_behaves_as_predicted_and_loses_nothing",
    "two-racks": "test_two_racks_block_io_lose_nothing_and_recover_when_they_return",
    "add-capacity": "test_added_host_takes_data_and_the_cluster_returns_to_clean",
}
SUITE_TIMEOUT = 900
CLI_TIMEOUT = 600


class ChaosCloud:
    def __init__(self, work: Path):
        self.work = work
        self.state_dir = work / "state"
        data = yaml.safe_load(default_topology_path().read_text())
        data["underlay"] = UNDERLAY
        self.topology_file = work / "topology.yaml"
        self.topology_file.write_text(yaml.safe_dump(data, sort_keys=False))
        self.env = {**os.environ, "OCTOPROBE_STATE_DIR": str(self.state_dir), "OCTOPROBE_PREFIX": PREFIX}
        self.conf = str(self.state_dir / "ceph" / "ceph.conf")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "octoprobe.cli", "cloud", *args], env=self.env,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT)
        if check and proc.returncode != 0:
            raise AssertionError(f"octoprobe cloud {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json", check=False).stdout)

    def client(self) -> CephClient:
        return CephClient(LocalRunner(), conf=self.conf, timeout=30)

    def suite_argv(self, results: Path, *tests: str) -> list[str]:
        return [sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "-q", "-rA",
                "--reference-state-dir", str(self.state_dir), "--reference-prefix", PREFIX,
                "--chaos-results", str(results), "--chaos-data", "256MiB"]


@pytest.fixture(scope="module")
def chaos_cloud(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the chaos suite's integration test needs root: it runs a reference cloud (network "
                    "namespaces, Ceph daemons) and breaks it (run `make test` as root)")
    missing = [p for p in REQUIRED_PROGRAMS if shutil.which(p) is None]
    if missing:
        pytest.fail(f"programs missing: {', '.join(missing)}; `make test` installs them with apt-get")
    cloud = ChaosCloud(tmp_path_factory.mktemp("chaoscloud"))
    cloud.cli("down", "--purge", check=False)
    try:
        cloud.cli("up", "--topology", str(cloud.topology_file))
        yield cloud
    finally:
        cloud.cli("down", "--purge", check=False)


def _assert_whole(cloud: ChaosCloud) -> None:
    """Every daemon running, every link and uplink up, no pulled disk, nothing
    journaled, and Ceph active+clean with every OSD up and in."""
    report = cloud.status()
    assert report["daemons_running"] == report["daemons_expected"], report
    assert all(h["link"] == "up" for h in report["hosts"]), [(h["name"], h["link"]) for h in report["hosts"]]
    assert set(report["rack_uplinks"].values()) == {"up"}, report["rack_uplinks"]
    assert not list((cloud.state_dir / "osd").glob("*/block.octoprobe-pulled"))
    assert not (cloud.state_dir / "chaos" / "faults.json").exists()
    client = cloud.client()
    wait_for_clean(client, no_progress_timeout=120)
    osds = client.status().osds
    assert osds.up == osds.in_ == osds.num_osds == 8, osds


@pytest.mark.timeout(SUITE_TIMEOUT + 60)
def test_disk_node_rack_two_racks_and_added_capacity_pass_losing_nothing(chaos_cloud, tmp_path):
    results = tmp_path / "results"
    tests = [f"chaos/{module}::{name}" for module, name in (
        ("test_disk.py", SCENARIO_TESTS["disk"]),
        ("test_node.py", SCENARIO_TESTS["node"]),
        ("test_rack.py", SCENARIO_TESTS["rack"]),
        ("test_rack.py", SCENARIO_TESTS["two-racks"]),
        ("test_capacity.py", SCENARIO_TESTS["add-capacity"]),
    )]
    proc = subprocess.run(chaos_cloud.suite_argv(results, *tests), cwd=REPO, capture_output=True, text=True,
                          timeout=SUITE_TIMEOUT)
    sys.stdout.write(proc.stdout[-20000:])
    sys.stderr.write(proc.stderr[-5000:])
    assert proc.returncode == 0, f"the chaos suite failed:\n{proc.stdout[-8000:]}"
    assert "5 passed" in proc.stdout, proc.stdout[-3000:]
    for name in SCENARIO_TESTS:
        result = json.loads((results / f"{name}.json").read_text())
        check = result["check"]
        assert result["passed"], result["failures"]
        assert (check["lost"], check["corrupt"], check["unfound"], check["unreadable"]) == (0, 0, 0, 0), check
        assert check["acknowledged"] >= 64 and check["verified"] == check["acknowledged"], check
        m = result["measurements"]
        assert m["clean_after_heal_s"] is not None and m["clean_total_s"] is not None, m
        metrics = {s["metric"] for s in result["samples"]}
        assert {"chaos.time_to_clean", "chaos.lost", "chaos.corrupt", "chaos.unfound"} <= metrics, metrics
        assert result["timeline"]["points"] and result["timeline"]["events"], name
        if name != "add-capacity":
            assert m["detect_s"] is not None and m["degraded_peak"] > 0, m
    two = json.loads((results / "two-racks.json").read_text())
    # 4 racks, size 3, min_size 2: two racks down blocks I/O on some PGs at first
    assert two["plan"]["prediction"]["initial"] == two["observed"]["initial"] == "io-blocked", two["observed"]
    assert two["measurements"]["blocked_s"] > 0, two["measurements"]
    added = json.loads((results / "add-capacity.json").read_text())
    assert all(o["pgs"] > 0 for o in added["observed"]["new_osds"].values()), added["observed"]
    _assert_whole(chaos_cloud)


@pytest.mark.timeout(600)
def test_sigint_mid_fault_leaves_the_cluster_healed(chaos_cloud, tmp_path):
    journal = chaos_cloud.state_dir / "chaos" / "faults.json"
    test = f"chaos/test_rack.py::{SCENARIO_TESTS['rack']}"
    proc = subprocess.Popen(chaos_cloud.suite_argv(tmp_path / "results", test), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not journal.exists():
            assert proc.poll() is None, f"the suite ended before injecting:\n{proc.stdout.read()}"
            assert time.monotonic() < deadline, "no fault injected within 300 s"
            time.sleep(0.2)
        spec = json.loads(journal.read_text())["faults"][0]["spec"]
        time.sleep(4)  # mid-fault: daemons dead, uplink down, the monitor noticing
        report = chaos_cloud.status()
        assert report["rack_uplinks"][spec["targets"][0]] == "down", report["rack_uplinks"]
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    sys.stdout.write(out[-10000:])
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert "KeyboardInterrupt" in out
    _assert_whole(chaos_cloud)
    # nothing of the interrupted run is still running (the daemons it restarted
    # while healing detached into sessions of their own)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)


@pytest.mark.timeout(300)
def test_ssh_driver_kills_and_revives_an_osd_on_a_reference_cloud_host(chaos_cloud, tmp_path):
    """The lab path: an SSH server in a storage host's namespace, the SSH
    driver (paramiko) kills its OSD and pulls its disk, then revives it."""
    pytest.importorskip("paramiko", reason="the SSH fault driver needs paramiko (pip install paramiko)")
    from octoprobe.faults import FaultGuard, FaultSpec
    from octoprobe.faults.ssh import SshOsdDriver, reference_commands
    from octoprobe.remote import SshRunner
    from octoprobe.shell import CommandError

    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        pytest.skip("needs an SSH server: apt-get install openssh-server")
    host, osd = "r1-s1", 0
    ip = str(load_topology(chaos_cloud.topology_file).address_of(host)[0].ip)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True,
                       timeout=30)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client_key.pub").read_text())
    (tmp_path / "known_hosts").write_text(
        f"[{ip}]:2222 {' '.join((tmp_path / 'host_key.pub').read_text().split()[:2])}\n")
    (tmp_path / "sshd_config").write_text(
        f"Port 2222\nListenAddress {ip}\nHostKey {tmp_path / 'host_key'}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {tmp_path / 'sshd.pid'}\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    subprocess.run(["ip", "netns", "exec", f"{PREFIX}-{host}", sshd, "-f", str(tmp_path / "sshd_config"),
                    "-E", str(tmp_path / "sshd.log")], check=True, timeout=30)
    runner = SshRunner(ip, user="root", port=2222, key_file=tmp_path / "client_key",
                       known_hosts=tmp_path / "known_hosts", connect_timeout=5)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                # inside the host's namespace: its eth0 has its underlay address
                assert ip in runner.run(["ip", "-br", "addr", "show", "eth0"], timeout=10).stdout
                break
            except CommandError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        # an unknown host key is refused: no trust on first use
        (tmp_path / "wrong_known_hosts").write_text(
            f"[{ip}]:2222 {' '.join((tmp_path / 'client_key.pub').read_text().split()[:2])}\n")
        stranger = SshRunner(ip, user="root", port=2222, key_file=tmp_path / "client_key",
                             known_hosts=tmp_path / "wrong_known_hosts", connect_timeout=5)
        with pytest.raises(CommandError, match="cannot connect"):
            stranger.run(["true"], timeout=10)

        driver = SshOsdDriver({host: runner}, {osd: host},
                              reference_commands(chaos_cloud.conf, str(chaos_cloud.state_dir / "osd")))
        guard = FaultGuard(driver)
        fault = guard.fault(FaultSpec("disk", (f"osd.{osd}",)))
        assert any("over SSH" in step for step in fault.plan().inject)
        client = chaos_cloud.client()
        with guard:
            guard.inject(fault)
            status = fault.status()
            assert not status.healthy, status.describe()
            assert (chaos_cloud.state_dir / "osd" / f"ceph-{osd}" / "block.octoprobe-pulled").exists()
            daemons = {d["name"]: d["running"] for h in chaos_cloud.status()["hosts"] for d in h["daemons"]}
            assert daemons[f"osd.{osd}"] is False
            deadline = time.monotonic() + 60
            while client.osd_tree().osd(osd).up:
                assert time.monotonic() < deadline, f"osd.{osd} not marked down within 60 s"
                time.sleep(1)
            guard.heal(fault)
            assert fault.status().healthy
        deadline = time.monotonic() + 90
        while not client.osd_tree().osd(osd).up:
            assert time.monotonic() < deadline, f"osd.{osd} not up again within 90 s"
            time.sleep(1)
        _assert_whole(chaos_cloud)
    finally:
        runner.close()
        pid_file = tmp_path / "sshd.pid"
        if pid_file.exists():
            processes.stop([int(pid_file.read_text().strip())], timeout=10)
