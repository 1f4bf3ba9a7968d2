"""Servers on the reference cloud: QEMU VMs booted from RBD copy-on-write
clones, on VXLAN tenant networks, logged in to with paramiko.

Three VMs are booted in parallel once for the module (spread over the three
compute hosts): ``vm1`` and ``vm2`` on network A, ``vm3`` on network B. The
tests run in file order; the last one deletes everything and checks that
nothing is left."""

from __future__ import annotations

import os
import signal
import time

import pytest

from octoprobe.ceph import RbdClient
from octoprobe.reference_impl.compute import READY_MARK, parse_ready_line
from octoprobe.reference_impl.compute.hypervisor import IMAGES_POOL, VMS_POOL
from octoprobe.reference_impl.compute.qemu import find_qemu_under
from octoprobe.shell import LocalRunner

pytestmark = pytest.mark.integration

USER_DATA = b"#!/bin/sh\necho user-data-ran > /root/user-data-marker\n"
ADMIN_PASS = "s3cret-Pass"


def rbd(lab) -> RbdClient:
    return RbdClient(LocalRunner(), conf=lab.compute.ceph_conf, timeout=60)


def wait_status(lab, server_id: str, wanted: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = lab.compute.get_server(server_id).status
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def guest_ok(lab, server_id, net, *, after: int = 0) -> str:
    """Wait for the ready line written after byte ``after``, log in, return the guest's uptime."""
    lab.wait_ready(server_id, after=after)
    with lab.ssh(server_id, net) as ssh:
        return ssh.run("cut -d' ' -f1 /proc/uptime").stdout.strip()


@pytest.fixture(scope="module")
def vms(lab, nets):
    net_a, net_b = nets
    views = lab.boot_many([
        ("vm1", net_a, {"admin_pass": ADMIN_PASS, "user_data": USER_DATA}),
        ("vm2", net_a, {}),
        ("vm3", net_b, {}),
    ])
    return {v.name: v for v in views}


def test_the_root_disk_is_an_rbd_clone_of_the_image_snapshot(lab, vms):
    image = lab.compute.get_image(lab.image_id)
    client = rbd(lab)
    for view in vms.values():
        pool, name = view.disk.split("/")
        info = client.info(pool, name)
        assert pool == VMS_POOL
        assert info.parent is not None
        assert (info.parent.pool, info.parent.image, info.parent.snapshot) == (IMAGES_POOL, image.rbd_name, image.snap)
        assert info.size == view.flavor["disk_gb"] * 1024 ** 3  # grown to the flavor's disk
    children = {str(c) for c in client.children(IMAGES_POOL, image.rbd_name, image.snap)}
    assert {v.disk for v in vms.values()} <= children
    # QEMU reads the disk through its rbd driver: no local copy
    for view in vms.values():
        argv = " ".join(next(p for p in find_qemu_under(lab.compute.paths.root) if p.pid == view.qemu_pid).argv)
        assert f"file=rbd:{view.disk}:conf=" in argv


def test_servers_are_spread_over_the_compute_hosts(vms):
    assert len({v.host for v in vms.values()}) == 3
    assert all(v.status == "ACTIVE" for v in vms.values())


def test_login_with_the_keypair_over_ipv4_and_ipv6_hostname_is_the_server_name(lab, nets, vms):
    net_a, _ = nets
    view = lab.compute.get_server(vms["vm1"].id)
    assert view.ipv4 and view.ipv6
    for version in (4, 6):
        with lab.ssh(view.id, net_a, version=version) as ssh:
            assert ssh.run("hostname").stdout.strip() == "vm1"
            addrs = ssh.run("ip addr show dev eth0").stdout
            assert f"inet {view.ipv4[0]}/24" in addrs
            assert f"inet6 {view.ipv6[0]}/64" in addrs
            assert ssh.run("cat /root/user-data-marker").stdout.strip() == "user-data-ran"
            assert int(ssh.run("cat /sys/block/vda/size").stdout) * 512 == 1024 ** 3


def test_the_admin_password_logs_in_too(lab, nets, vms):
    with lab.ssh(vms["vm1"].id, nets[0], password=ADMIN_PASS) as ssh:
        assert ssh.run("id -u").stdout.strip() == "0"


def test_the_console_log_has_the_ready_line_and_the_host_key(lab, nets, vms):
    console = lab.compute.console_log(vms["vm2"].id)
    ready = next(line for line in console.splitlines() if line.startswith(READY_MARK))
    assert parse_ready_line(ready)["hostname"] == "vm2"
    host_key_line = console.split("-----BEGIN SSH HOST KEY KEYS-----")[-1].splitlines()[1]
    with lab.ssh(vms["vm2"].id, nets[0]) as ssh:
        served = ssh.client.get_transport().get_remote_server_key()
        assert host_key_line.split()[1] == served.get_base64()


def test_vms_on_different_hosts_of_one_network_reach_each_other_v4_and_v6(lab, nets, vms):
    vm1, vm2 = lab.compute.get_server(vms["vm1"].id), lab.compute.get_server(vms["vm2"].id)
    assert vm1.host != vm2.host
    with lab.ssh(vm1.id, nets[0]) as ssh:
        assert ssh.run(f"ping -c 2 -W 3 {vm2.ipv4[0]}", check=False).exit_status == 0
        assert ssh.run(f"ping -c 2 -W 3 {vm2.ipv6[0]}", check=False).exit_status == 0


def test_a_vm_on_another_tenant_network_is_not_reachable(lab, nets, vms):
    vm1, vm3 = lab.compute.get_server(vms["vm1"].id), lab.compute.get_server(vms["vm3"].id)
    with lab.ssh(vm3.id, nets[1]) as ssh:  # vm3 itself is up
        assert ssh.run("hostname").stdout.strip() == "vm3"
    with lab.ssh(vm1.id, nets[0]) as ssh:
        assert ssh.run(f"ping -c 2 -W 1 {vm3.ipv4[0]}", check=False).exit_status != 0
        assert ssh.run(f"ping -c 2 -W 1 {vm3.ipv6[0]}", check=False).exit_status != 0


def test_a_volume_attached_while_running_is_a_block_device_and_keeps_its_data(lab, nets, vms):
    server = vms["vm1"].id
    client = rbd(lab)
    client.create("volumes", "vol-a", 64 * 1024 ** 2)
    try:
        att = lab.compute.attach_volume(server, "vol-a")
        find = f"for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = {att.serial} ] && basename $d; done"
        with lab.ssh(server, nets[0]) as ssh:
            dev = ""
            for _ in range(50):
                dev = ssh.run(find, check=False).stdout.strip()
                if dev:
                    break
                time.sleep(0.2)
            assert dev, "the attached volume did not appear in the guest"
            assert int(ssh.run(f"cat /sys/block/{dev}/size").stdout) * 512 == 64 * 1024 ** 2
            ssh.run(f"echo octoprobe-volume-data > /tmp/payload && dd if=/tmp/payload of=/dev/{dev} bs=512 "
                    "count=1 conv=sync,fsync 2>/dev/null && sync")
        lab.compute.detach_volume(server, "vol-a")
        with lab.ssh(server, nets[0]) as ssh:
            assert ssh.run(find, check=False).stdout.strip() == ""
        assert lab.compute.get_server(server).volumes == []
        lab.compute.attach_volume(server, "vol-a")
        with lab.ssh(server, nets[0]) as ssh:
            dev = ""
            for _ in range(50):
                dev = ssh.run(find, check=False).stdout.strip()
                if dev:
                    break
                time.sleep(0.2)
            assert ssh.run(f"head -c 21 /dev/{dev}").stdout == "octoprobe-volume-data"
        lab.compute.detach_volume(server, "vol-a")
    finally:
        for att in lab.compute.get_server(server).volumes:
            lab.compute.detach_volume(server, att["volume_id"])
        client.remove("volumes", "vol-a")


def test_stop_start_and_pause_unpause_read_back_from_qemu(lab, nets, vms):
    server = vms["vm2"].id
    lab.compute.stop_server(server)
    view = lab.compute.get_server(server)
    assert view.status == "SHUTOFF" and view.qemu_pid is None
    offset = lab.compute.console_offset(server)
    lab.compute.start_server(server)
    assert lab.compute.get_server(server).status == "ACTIVE"
    guest_ok(lab, server, nets[0], after=offset)
    lab.compute.pause_server(server)
    assert lab.compute.get_server(server).status == "PAUSED"
    lab.compute.unpause_server(server)
    assert lab.compute.get_server(server).status == "ACTIVE"


def test_soft_and_hard_reboot_then_ssh_again(lab, nets, vms):
    server = vms["vm2"].id
    pid = lab.compute.get_server(server).qemu_pid
    for hard in (False, True):
        offset = lab.compute.console_offset(server)
        lab.compute.reboot_server(server, hard=hard)
        uptime = float(guest_ok(lab, server, nets[0], after=offset))
        assert uptime < 60
        if not hard:  # the guest shut down by ACPI and came back in the same QEMU
            assert "OCTOPROBE-GUEST-SHUTDOWN" in lab.compute.console_log(server)[offset:]
        assert lab.compute.get_server(server).qemu_pid == pid


def test_snapshot_to_image_and_rebuild_with_fresh_clones(lab, nets, vms):
    server = vms["vm2"].id
    client = rbd(lab)
    with lab.ssh(server, nets[0]) as ssh:
        ssh.run("echo before-snapshot > /root/marker && sync")
    snap = lab.compute.snapshot_server(server, "vm2-snap")
    info = client.info(IMAGES_POOL, snap.rbd_name)
    assert info.parent is None  # flattened: independent of the server and of its image
    assert any(s.name == "snap" and s.protected for s in client.snap_list(IMAGES_POOL, snap.rbd_name))
    old_id = client.info(*lab.compute.get_server(server).disk.split("/")).id
    # rebuild from the original image: a fresh clone, the marker is gone
    offset = lab.compute.console_offset(server)
    view = lab.compute.rebuild_server(server)
    assert client.info(*view.disk.split("/")).id != old_id
    lab.wait_ready(server, after=offset)
    with lab.ssh(server, nets[0]) as ssh:
        assert ssh.run("cat /root/marker", check=False).exit_status != 0
    # rebuild from the snapshot image: the marker is back
    offset = lab.compute.console_offset(server)
    view = lab.compute.rebuild_server(server, snap.id)
    assert client.info(*view.disk.split("/")).parent.image == snap.rbd_name
    lab.wait_ready(server, after=offset)
    with lab.ssh(server, nets[0]) as ssh:
        assert ssh.run("cat /root/marker").stdout.strip() == "before-snapshot"
    # back to the original image, so the snapshot image can go
    offset = lab.compute.console_offset(server)
    lab.compute.rebuild_server(server, lab.image_id)
    lab.compute.delete_image(snap.id)
    assert not client.exists(IMAGES_POOL, snap.rbd_name)
    lab.wait_ready(server, after=offset)


def test_a_qemu_killed_from_outside_is_reported_not_running(lab, nets, vms):
    server = vms["vm3"].id
    pid = lab.compute.get_server(server).qemu_pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    status = wait_status(lab, server, "ERROR")
    view = lab.compute.get_server(server)
    assert status == "ERROR" and view.fault and view.qemu_pid is None
    # a hard reboot brings it back
    offset = lab.compute.console_offset(server)
    lab.compute.reboot_server(server, hard=True)
    assert lab.compute.get_server(server).status == "ACTIVE"
    guest_ok(lab, server, nets[1], after=offset)


def test_deleting_every_vm_leaves_no_qemu_tap_or_rbd_clone(lab, nets, vms):
    taps = {nic["tap"] for v in lab.compute.list_servers() for nic in v.nics}
    ports = {nic["port_id"] for v in lab.compute.list_servers() for nic in v.nics}
    assert taps
    lab.compute.delete_all_servers()
    assert lab.compute.list_servers() == []
    assert find_qemu_under(lab.compute.paths.root) == []
    for host in lab.compute_hosts():
        links = lab.plane.kernel.links(lab.compute.netns(host))
        assert not taps & set(links), f"{host} still has {taps & set(links)}"
    assert not ports & {p.id for p in lab.plane.list_ports()}
    client = rbd(lab)
    assert client.list(VMS_POOL) == []
    image = lab.compute.get_image(lab.image_id)
    assert client.children(IMAGES_POOL, image.rbd_name, image.snap) == []
