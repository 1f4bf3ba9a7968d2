"""The hypervisor driver's pure parts: status from record + QEMU, the QEMU
command line, placement, the store, console parsing, and the QMP client
against a fake QEMU on a unix socket."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from octoprobe.reference_impl.compute import errors as E
from octoprobe.reference_impl.compute.hypervisor import (
    CRASHED,
    RUNNING,
    SHUTDOWN,
    ComputeService,
    derive_status,
    parse_guest_phases,
    parse_ready_line,
)
from octoprobe.reference_impl.compute.model import ComputeState, ComputeStore, Flavor, Server
from octoprobe.reference_impl.compute.placement import HostLoad, choose_host
from octoprobe.reference_impl.compute.qemu import DriveSpec, NicSpec, VmSpec, qemu_argv, rbd_file
from octoprobe.reference_impl.compute.qmp import QMPClient


@pytest.mark.parametrize("vm_state, alive, run_state, status, power", [
    ("active", True, "running", "ACTIVE", RUNNING),
    ("active", True, "paused", "PAUSED", 3),
    ("paused", True, "paused", "PAUSED", 3),
    ("active", True, "shutdown", "SHUTOFF", SHUTDOWN),  # the guest powered off
    ("active", False, None, "ERROR", CRASHED),  # QEMU died on its own
    ("stopped", False, None, "SHUTOFF", SHUTDOWN),
    ("building", False, None, "BUILD", 0),
    ("building", True, "running", "BUILD", RUNNING),
    ("active", True, "guest-panicked", "ERROR", CRASHED),
    ("error", False, None, "ERROR", SHUTDOWN),
])
def test_status_is_derived_from_what_qemu_says(vm_state, alive, run_state, status, power):
    got = derive_status(vm_state, alive, run_state)
    assert (got.status, got.power_state) == (status, power)


def test_a_dead_qemu_is_never_reported_running():
    got = derive_status("active", False, None)
    assert got.status == "ERROR" and "exited" in got.fault


def spec(**kw) -> VmSpec:
    base = dict(
        uuid="11111111-2222-3333-4444-555555555555", name="vm1", vcpus=2, ram_mb=256,
        kernel="/s/boot/vmlinuz", initrd="/s/boot/initrd.img",
        root=DriveSpec("root-disk", "root", rbd_file("vms", "x_disk", "/s/ceph/ceph.conf")),
        config_drive="/s/vms/x/config-drive.iso", nics=(NicSpec("nic0", "tapabc", "fa:16:3e:00:00:01"),),
        volumes=(DriveSpec("vol-1", "vol1", rbd_file("volumes", "v", "/s/ceph/ceph.conf"), serial="v1"),),
        qmp_socket="/s/vms/x/qmp.sock", console_log="/s/vms/x/console.log", pid_file="/s/vms/x/qemu.pid",
        accel="tcg")
    base.update(kw)
    return VmSpec(**base)


def test_the_qemu_command_line():
    argv = qemu_argv(spec())
    line = " ".join(argv)
    assert argv[0] == "qemu-system-x86_64"
    assert "-accel tcg,tb-size=64,thread=multi" in line and "-m 256" in line and "-smp 2" in line
    assert "file=rbd:vms/x_disk:conf=/s/ceph/ceph.conf:id=admin,format=raw" in line
    assert "virtio-blk-pci,drive=vol1,id=vol-1,serial=v1" in line
    assert "config-drive.iso,format=raw,if=none,id=config,readonly=on" in line
    assert "tap,id=nic0-net,ifname=tapabc,script=no,downscript=no" in line
    assert "virtio-net-pci,netdev=nic0-net,id=nic0,mac=fa:16:3e:00:00:01" in line
    assert "unix:/s/vms/x/qmp.sock,server=on,wait=off" in line
    assert "-no-shutdown" in argv and "-daemonize" in argv
    assert line.index("drive=root") < line.index("drive=config")  # the root disk is vda
    kvm = " ".join(qemu_argv(spec(accel="kvm")))
    assert "-accel kvm" in kvm and "tcg" not in kvm
    with pytest.raises(E.HypervisorError):
        qemu_argv(spec(accel="hvf"))


def test_rbd_file_refuses_separators_it_cannot_quote():
    with pytest.raises(E.HypervisorError):
        rbd_file("vms", "a:b", "/c")


HOSTS = [HostLoad("r1-c1", "r1", 1024, 0, 0), HostLoad("r2-c1", "r2", 1024, 512, 1),
         HostLoad("r3-c1", "r3", 1024, 0, 0)]


def test_placement_spreads_then_fills():
    assert choose_host(HOSTS, 128).name == "r1-c1"
    loads = [HostLoad("a", "z1", 1024, 128, 1), HostLoad("b", "z1", 1024, 0, 0)]
    assert choose_host(loads, 128).name == "b"


def test_placement_honours_a_host_or_a_zone():
    assert choose_host(HOSTS, 128, host="r2-c1").name == "r2-c1"
    assert choose_host(HOSTS, 128, availability_zone="r3").name == "r3-c1"


@pytest.mark.parametrize("kwargs, exc", [
    (dict(host="nope"), E.HostNotFound),
    (dict(availability_zone="r9"), E.AvailabilityZoneNotFound),
    (dict(host="r2-c1", ram=600), E.HostFull),
    (dict(ram=4096), E.NoValidHost),
    (dict(availability_zone="r2", ram=600), E.NoValidHost),
    (dict(host="r1-c1", availability_zone="r2"), E.InvalidInput),
])
def test_placement_refuses_what_cannot_be(kwargs, exc):
    ram = kwargs.pop("ram", 128)
    with pytest.raises(exc):
        choose_host(HOSTS, ram, **kwargs)


def test_the_store_round_trips_and_locks(tmp_path):
    store = ComputeStore(tmp_path / "state.json", tmp_path / "lock")
    with store.update() as state:
        state.flavors["1"] = Flavor("1", "m1.nano", 1, 128, 1)
        state.servers["s"] = Server(id="s", name="n", hostname="n", flavor={"ram_mb": 128, "vcpus": 1,
                                    "disk_gb": 1}, image_id="i", host="h", availability_zone="z")
    state = store.load()
    assert state.flavors["1"].ram_mb == 128 and state.servers["s"].ram_mb == 128
    assert ComputeState.from_dict(json.loads((tmp_path / "state.json").read_text())).to_dict() == state.to_dict()
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(E.ComputeError, match="damaged"):
        store.load()


CONSOLE = """[    0.0] Linux version 6.1
octoprobe-guest: userspace started at 3.48s
octoprobe-guest: network up (ipv4: 10.1.0.4/24 , ipv6: fd::1/64 ) at 4.05s
octoprobe-guest: sshd started at 4.08s
OCTOPROBE-GUEST-READY hostname=vm-0 uptime=4.10 ipv4=10.1.0.4/24 ipv6=fd::1/64
"""


def test_console_parsing():
    assert parse_guest_phases(CONSOLE) == {"userspace": 3.48, "network": 4.05, "sshd": 4.08, "ready": 4.10}
    # after a reboot the last boot counts
    rebooted = CONSOLE + CONSOLE.replace("3.48", "2.90")
    assert parse_guest_phases(rebooted)["userspace"] == 2.90
    ready = parse_ready_line(CONSOLE.splitlines()[-1])
    assert ready == {"hostname": "vm-0", "uptime": "4.10", "ipv4": "10.1.0.4/24", "ipv6": "fd::1/64"}


class FakeQemu(threading.Thread):
    """Speaks enough QMP for the client: greeting, capabilities, commands, an event."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)

    def run(self):
        conn, _ = self.server.accept()
        f = conn.makefile("rwb")
        f.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        f.flush()
        for line in f:
            req = json.loads(line)
            cmd, rid = req["execute"], req.get("id")
            if cmd == "qmp_capabilities":
                f.write(json.dumps({"return": {}, "id": rid}).encode() + b"\n")
            elif cmd == "query-status":
                f.write(b'{"event": "RESUME", "data": {}}\n')
                f.write(json.dumps({"return": {"status": "running", "running": True}, "id": rid}).encode() + b"\n")
            elif cmd == "device_del":
                f.write(json.dumps({"return": {}, "id": rid}).encode() + b"\n")
                f.write(b'{"event": "DEVICE_DELETED", "data": {"device": "vol-1"}}\n')
            elif cmd == "hang":
                pass
            else:
                f.write(json.dumps({"error": {"class": "CommandNotFound", "desc": f"no {cmd}"},
                                    "id": rid}).encode() + b"\n")
            f.flush()


def test_qmp_client_commands_events_errors_and_timeouts(tmp_path):
    path = tmp_path / "qmp.sock"
    fake = FakeQemu(path)
    fake.start()
    with QMPClient(path, timeout=2) as qmp:
        assert qmp.execute("query-status")["status"] == "running"
        assert qmp.events[0]["event"] == "RESUME"
        with pytest.raises(E.QMPError, match="CommandNotFound"):
            qmp.execute("nonsense")
        qmp.execute("device_del", {"id": "vol-1"})
        assert qmp.wait_event("DEVICE_DELETED", timeout=2, match={"device": "vol-1"})["data"]["device"] == "vol-1"
        with pytest.raises(E.QMPError, match="no answer"):
            qmp.execute("hang", timeout=0.3)


def test_qmp_client_without_qemu(tmp_path):
    with pytest.raises(E.QMPError, match="cannot connect"):
        QMPClient(tmp_path / "missing.sock", timeout=1).connect()


@pytest.mark.parametrize("vm_state, alive, run_state, task, status", [
    ("active", True, None, "powering-off", "ACTIVE"),  # QEMU closing its QMP socket while it stops
    ("active", False, None, "powering-off", "ACTIVE"),  # gone, the stop not yet recorded
    ("active", False, None, "rebooting_hard", "ACTIVE"),
    ("active", False, None, None, "ERROR"),  # no task: a QEMU that is gone crashed
    ("active", True, "running", "powering-off", "ACTIVE"),
    ("building", False, None, "spawning", "BUILD"),
    ("active", False, None, "deleting", "ACTIVE"),  # delete_server killed QEMU, the record goes next
])
def test_a_task_that_stops_qemu_is_not_a_crash(vm_state, alive, run_state, task, status):
    assert derive_status(vm_state, alive, run_state, None, task).status == status


class UnplugQMP:
    """Releases the device only after ``release_after`` device_del requests."""

    def __init__(self, release_after):
        self.requests, self.release_after = 0, release_after

    def execute(self, command, arguments=None):
        assert command == "device_del" and arguments == {"id": "vol-1"}
        self.requests += 1

    def wait_event(self, name, *, timeout, match=None):
        if self.requests >= self.release_after:
            return {"event": name, "data": match}
        raise E.QMPError(f"no {name} event within {timeout:g} s")


def test_unplug_asks_again_until_the_guest_releases_the_disk():
    qmp = UnplugQMP(release_after=3)
    ComputeService._unplug(qmp, "vol-1", timeout=5, every=0.01)
    assert qmp.requests == 3
    never = UnplugQMP(release_after=10**6)
    with pytest.raises(E.QMPError):
        ComputeService._unplug(never, "vol-1", timeout=0.1, every=0.01)
    assert never.requests >= 2
