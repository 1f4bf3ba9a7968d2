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

from octoprobe.ceph import wait_for_clean
from octoprobe.reference_impl import processes
from octoprobe.reference_impl.topology import load_topology

from chaoslab import ChaosCloud, chaos_cloud_up

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


@pytest.fixture(scope="module")
def chaos_cloud(tmp_path_factory):
    with chaos_cloud_up(tmp_path_factory.mktemp("chaoscloud"), PREFIX, UNDERLAY, REQUIRED_PROGRAMS,
                        "the chaos suite's integration test") as cloud:
        yield cloud


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


# ---------------------------------------------------------------- the lab path

LAB_SSH_PORT = 2223
#: scenario -> the test of chaos/ that runs it on the lab. Each takes ~100 s here (the workload's rados
#: calls cross SSH); the rack scenario (uplinks down through the "switch") passes too but is only planned
#: (dry run) to keep the added CI time near 3 minutes
LAB_SCENARIOS = {
    "disk": f"chaos/test_disk.py::{SCENARIO_TESTS['disk']}",
    "partition": "chaos/test_partition.py::test_partitioned_host_is_marked_down_and_rejoins_losing_nothing",
}
LAB_PLANNED = (f"chaos/test_rack.py::{SCENARIO_TESTS['rack']}", f"chaos/test_node.py::{SCENARIO_TESTS['node']}",
               f"chaos/test_capacity.py::{SCENARIO_TESTS['add-capacity']}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabOverSsh:
    """A reference cloud seen as a lab: an sshd in the control host's and in
    every storage host's namespace (the nodes), one in the root namespace on
    127.0.0.1 (the "switch", whose ports are the underlay's veths), a
    throwaway key, and an inventory describing it all."""

    def __init__(self, work: Path, state_dir: Path, topology_file: Path, prefix: str):
        from octoprobe.faults.ssh import reference_commands

        self.work = work
        self.state_dir = state_dir
        self.prefix = prefix
        self.topology = load_topology(topology_file)
        self.conf = str(state_dir / "ceph" / "ceph.conf")
        self.commands = reference_commands(self.conf, str(state_dir / "osd"))
        self.switch_port = _free_port()
        self.pid_files: list[Path] = []
        self.inventory = work / "lab.yaml"

    def ip(self, host: str) -> str:
        return str(self.topology.address_of(host)[0].ip)

    def start(self) -> None:
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not Path(sshd).exists():
            pytest.skip("needs an SSH server: apt-get install openssh-server")
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.work / name)], check=True,
                           timeout=30)
        (self.work / "authorized_keys").write_text((self.work / "client_key.pub").read_text())
        host_key = " ".join((self.work / "host_key.pub").read_text().split()[:2])
        servers = [(f"{self.prefix}-{h.name}", self.ip(h.name), LAB_SSH_PORT)
                   for h in self.topology.hosts() if h.is_control or h.is_storage]
        servers.append((None, "127.0.0.1", self.switch_port))
        (self.work / "known_hosts").write_text("".join(f"[{ip}]:{port} {host_key}\n" for _, ip, port in servers))
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        for netns, ip, port in servers:
            label = netns or "switch"
            pid_file = self.work / f"sshd-{label}.pid"
            config = self.work / f"sshd-{label}.conf"
            config.write_text(
                f"Port {port}\nListenAddress {ip}\nHostKey {self.work / 'host_key'}\n"
                f"AuthorizedKeysFile {self.work / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                f"MaxSessions 64\nMaxStartups 64\nPidFile {pid_file}\n"
                # bash run by sshd sources root's ~/.bashrc unless nested: on the build machines it runs
                # `pyenv init` (~0.1 s a command), which would dominate the workload's rados calls
                "SetEnv SHLVL=5\n")
            argv = [sshd, "-f", str(config), "-E", str(self.work / f"sshd-{label}.log")]
            self.pid_files.append(pid_file)
            subprocess.run(["ip", "netns", "exec", netns, *argv] if netns else argv, check=True, timeout=30)
        self.write_inventory()

    def write_inventory(self) -> None:
        hosts = self.topology.hosts()
        index = {h.name: i for i, h in enumerate(hosts)}
        layout = self.topology.osd_layout()
        control = self.topology.control

        def node(h) -> dict:
            n = {"name": h.name, "roles": ["control", "monitor"] if h.is_control else
                 (["storage"] if h.is_storage else ["compute"]),
                 "ssh": {"host": self.ip(h.name)},
                 "switch_ports": [{"switch": "spine", "port": f"{self.prefix}-h{index[h.name]}", "interface": "eth0"}]}
            osds = [s.osd for s in layout if s.host == h.name]
            if osds:
                n["osds"] = osds
            return n

        c = self.commands
        inventory = {
            "name": f"{self.prefix}-lab",
            "ssh": {"user": "root", "port": LAB_SSH_PORT, "key_file": str(self.work / "client_key"),
                    "known_hosts": str(self.work / "known_hosts")},
            "ceph": {"admin_node": control.name, "conf": self.conf, "osd_control": "commands",
                     "commands": {"kill": c.kill, "start": c.start, "running": c.running,
                                  "disk_offline": c.disk_offline, "disk_online": c.disk_online,
                                  "disk_check": c.disk_offline_check}},
            "switches": [{"name": "spine", "address": "127.0.0.1", "port": self.switch_port, "type": "linux",
                          "username": "root", "key_file": str(self.work / "client_key"),
                          "known_hosts": str(self.work / "known_hosts")}],
            "racks": [{"name": "spine", "nodes": [node(control)]}] + [
                {"name": r.name, "uplinks": [{"switch": "spine", "port": f"{self.prefix}-up{i}"}],
                 "nodes": [node(h) for h in r.hosts]}
                for i, r in enumerate(self.topology.racks, start=1)],
        }
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def suite_argv(self, results: Path, *tests: str, extra: tuple[str, ...] = ()) -> list[str]:
        return [sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "-q", "-rA",
                "--inventory", str(self.inventory), "--lab-state-dir", str(self.work / "lab-state"),
                "--chaos-results", str(results), *extra]

    def stop(self) -> None:
        for pid_file in self.pid_files:
            if pid_file.exists():
                processes.stop([int(pid_file.read_text().strip())], timeout=10)


@pytest.fixture
def lab(chaos_cloud, tmp_path):
    pytest.importorskip("paramiko", reason="the lab path needs paramiko (pip install paramiko)")
    lab = LabOverSsh(tmp_path, chaos_cloud.state_dir, chaos_cloud.topology_file, PREFIX)
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()


@pytest.mark.timeout(600)
def test_lab_path_over_ssh_and_switch_ports_disk_and_partition_pass(chaos_cloud, lab, tmp_path):
    """The lab path end to end: ``pytest chaos/ --inventory`` with ceph and
    rados over SSH on the control host, OSDs killed and started over SSH, a
    host cut off through the "switch" (root namespace, its ports the
    underlay's veths). A dry run first: it prints the plans (a rack's uplink
    down, a node without a BMC refused, no hardware to add) and injects nothing."""
    dry = subprocess.run(lab.suite_argv(tmp_path / "dry", *LAB_PLANNED, extra=("--chaos-dry-run", "-rs")),
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stdout[-5000:] + dry.stderr[-3000:]
    out = dry.stdout
    assert "chaos plan (dry run: nothing was injected, nothing written)" in out, out[-3000:]
    assert "fault: rack r" in out and "(driver lab)" in out, out[-5000:]
    assert f": ip link set dev {PREFIX}-up" in out and "Ceph daemons keep running (network only)" in out, out[-5000:]
    assert "has no bmc in the inventory" in out and "adding capacity needs hardware to add" in out, out[-3000:]
    assert not (tmp_path / "lab-state" / "faults.json").exists()
    _assert_whole(chaos_cloud)

    results = tmp_path / "results"
    started = time.monotonic()
    proc = subprocess.run(lab.suite_argv(results, *LAB_SCENARIOS.values(), extra=("--allow-destructive",
                                                                                   "--chaos-data", "64MiB")),
                          cwd=REPO, capture_output=True, text=True, timeout=SUITE_TIMEOUT)
    sys.stdout.write(proc.stdout[-20000:])
    sys.stderr.write(proc.stderr[-5000:])
    assert proc.returncode == 0, f"the chaos suite failed on the lab:\n{proc.stdout[-8000:]}"
    assert f"{len(LAB_SCENARIOS)} passed" in proc.stdout, proc.stdout[-3000:]
    print(f"lab scenarios: {time.monotonic() - started:.0f}s")
    for name in LAB_SCENARIOS:
        result = json.loads((results / f"{name}.json").read_text())
        check = result["check"]
        assert result["passed"], result["failures"]
        assert (check["lost"], check["corrupt"], check["unfound"], check["unreadable"]) == (0, 0, 0, 0), check
        assert check["acknowledged"] >= 16 and check["verified"] == check["acknowledged"], check
        assert result["measurements"]["detect_s"] is not None, result["measurements"]
    disk = json.loads((results / "disk.json").read_text())["plan"]["fault"]
    assert disk["driver"] == "ssh" and any("over SSH" in step for step in disk["inject"]), disk
    partition = json.loads((results / "partition.json").read_text())["plan"]["fault"]
    assert partition["driver"] == "lab", partition
    assert any(f"ip link set dev {PREFIX}-h" in step and "down" in step for step in partition["inject"]), partition
    assert not (tmp_path / "lab-state" / "faults.json").exists()
    _assert_whole(chaos_cloud)
