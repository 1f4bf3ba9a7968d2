"""Issue 6's end-to-end promise, with the `openstack` CLI unchanged
(``--os-cloud octoprobe``, a member of project demo):

a network with an IPv4 and an IPv6 (SLAAC) subnet behind a router with a
gateway on ``public``; a security group opening SSH and ping; two servers on
that network; a floating IP set on the first server's port and SSH through
it; a ping from the first server to the second's IPv6 address; a volume made
from the image, attached, written in the guest, detached, attached to the
second server and read back there; a snapshot; then everything deleted — and
nothing of ours left in Ceph, in the network namespaces or in QEMU.
"""

from __future__ import annotations

import subprocess
import time

import paramiko
import pytest

from octoprobe.reference_impl.compute.guest_ssh import wait_for_ssh

from apilab import PREFIX, server_addresses

NET, SG, ROUTER, KEY = "scn-net", "scn-sg", "scn-router", "scn-key"
V6_RANGE = "fd6f:6374:6f80:1f0::/64"  # inside the underlay's /48, as project networks are
MARK = "octoprobe-volume-mark"
MARK_OFFSET_MIB = 200  # past the image's data: the clone's own blocks


def ceph_images(api_cloud, pool: str) -> set[str]:
    conf = str(api_cloud.state_dir / "ceph" / "ceph.conf")
    out = subprocess.run(["rbd", "--conf", conf, "ls", pool], capture_output=True, text=True, timeout=60,
                         check=True)
    return set(out.stdout.split())


def namespaces() -> set[str]:
    """This cloud's network namespaces (other clouds of the test run come and go beside it)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.startswith(f"{PREFIX}-")}


def qemu_processes(api_cloud) -> set[str]:
    """This cloud's QEMU processes: their command lines name its state directory."""
    out = subprocess.run(["pgrep", "-af", "qemu-system"], capture_output=True, text=True, timeout=30)
    return {line.split()[0] for line in out.stdout.splitlines() if str(api_cloud.state_dir) in line}


def footprint(api_cloud) -> dict[str, set[str]]:
    """What of this cloud's exists: RBD images per pool, network namespaces, QEMU processes."""
    found = {pool: ceph_images(api_cloud, pool) for pool in ("vms", "volumes", "images")}
    return found | {"netns": namespaces(), "qemu": qemu_processes(api_cloud)}


def wait_volume(api_cloud, volume_id: str, status: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        volume = api_cloud.openstack("volume", "show", volume_id)
        if volume["status"] == status:
            return volume
        assert not volume["status"].startswith("error"), volume
        assert time.monotonic() < deadline, f"volume {volume_id} is {volume['status']}, not {status}"
        time.sleep(1)


def device_of(ssh, volume_id: str, timeout: float = 60) -> str:
    """The guest's block device whose serial is the volume id's first 20 characters."""
    serial = volume_id.replace("-", "")[:20]
    script = ("for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = " + serial
              + " ] && echo /dev/${d##*/}; done")
    deadline = time.monotonic() + timeout
    while True:
        found = ssh.run(script).stdout.strip()
        if found:
            return found.splitlines()[0]
        assert time.monotonic() < deadline, f"no disk with serial {serial} in the guest"
        time.sleep(1)


def test_tenant_network_volume_scenario(api_cloud, tmp_path):
    os_ = api_cloud.openstack
    before = footprint(api_cloud)
    created: list[tuple[str, ...]] = []  # delete commands, run in reverse on the way out
    key_file = tmp_path / "scn.pem"
    try:
        # -- network, subnets, router --------------------------------------------------------------
        net = os_("network", "create", NET)
        created.append(("network", "delete", net["id"]))
        v4 = os_("subnet", "create", "--network", NET, "--subnet-range", "10.42.0.0/24", "scn-v4")
        created.append(("subnet", "delete", v4["id"]))
        v6 = os_("subnet", "create", "--network", NET, "--ip-version", "6", "--subnet-range", V6_RANGE,
                 "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac", "scn-v6")
        created.append(("subnet", "delete", v6["id"]))
        assert v6["ipv6_ra_mode"] == "slaac" and v6["ipv6_address_mode"] == "slaac"
        router = os_("router", "create", ROUTER)
        created.append(("router", "delete", router["id"]))
        os_("router", "set", "--external-gateway", "public", ROUTER, json_out=False)
        for subnet in (v4, v6):
            os_("router", "add", "subnet", ROUTER, subnet["id"], json_out=False)
            created.append(("router", "remove", "subnet", ROUTER, subnet["id"]))
        # -- security group ------------------------------------------------------------------------
        sg = os_("security", "group", "create", SG)
        created.append(("security", "group", "delete", sg["id"]))
        for ethertype, icmp in (("IPv4", "icmp"), ("IPv6", "ipv6-icmp")):
            os_("security", "group", "rule", "create", "--ingress", "--ethertype", ethertype, "--protocol", "tcp",
                "--dst-port", "22", SG)
            os_("security", "group", "rule", "create", "--ingress", "--ethertype", ethertype, "--protocol", icmp, SG)
        # -- two servers ---------------------------------------------------------------------------
        os_("keypair", "create", "--private-key", str(key_file), KEY)
        created.append(("keypair", "delete", KEY))
        pkey = paramiko.PKey.from_path(str(key_file))
        servers = []
        for name in ("scn-vm1", "scn-vm2"):
            server = os_("server", "create", "--image", "octoprobe-guest", "--flavor", "m1.nano", "--network", NET,
                         "--security-group", SG, "--key-name", KEY, "--wait", name)
            created.append(("server", "delete", "--wait", server["id"]))
            servers.append(os_("server", "show", server["id"]))
        vm1, vm2 = servers
        vm2_v6 = [a for a in server_addresses(vm2) if ":" in a]
        assert vm2_v6 and all(a.startswith(V6_RANGE.split("::")[0]) for a in vm2_v6), vm2
        # -- floating IP → SSH ---------------------------------------------------------------------
        fip = os_("floating", "ip", "create", "public")
        created.append(("floating", "ip", "delete", fip["id"]))
        port = os_("port", "list", "--server", vm1["id"])[0]
        os_("floating", "ip", "set", "--port", port["ID"], fip["id"], json_out=False)
        shown = os_("floating", "ip", "show", fip["id"])
        assert shown["port_id"] == port["ID"] and shown["fixed_ip_address"].startswith("10.42.0.")
        with wait_for_ssh(fip["floating_ip_address"], pkey, timeout=180) as ssh:
            assert ssh.run("hostname").stdout.strip() == "scn-vm1"
            # -- IPv6 between the servers ------------------------------------------------------------
            ping = ssh.run(f"ping -c 3 -W 5 {vm2_v6[0]} || ping6 -c 3 {vm2_v6[0]}")
            assert " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
            # -- a volume from the image, written in vm1 ---------------------------------------------
            volume = os_("volume", "create", "--image", "octoprobe-guest", "--size", "1", "scn-vol")
            created.append(("volume", "delete", volume["id"]))
            wait_volume(api_cloud, volume["id"], "available")
            os_("server", "add", "volume", vm1["id"], volume["id"], json_out=False)
            assert wait_volume(api_cloud, volume["id"], "in-use")["attachments"]
            dev = device_of(ssh, volume["id"])
            ssh.run(f"echo {MARK} | dd of={dev} bs=1M seek={MARK_OFFSET_MIB} conv=fsync 2>/dev/null; sync")
        os_("server", "remove", "volume", vm1["id"], volume["id"], json_out=False)
        wait_volume(api_cloud, volume["id"], "available")
        # -- attached to vm2 and read back (vm2 is reached through vm1's network: routed IPv6) -------
        os_("server", "add", "volume", vm2["id"], volume["id"], json_out=False)
        wait_volume(api_cloud, volume["id"], "in-use")
        with wait_for_ssh(vm2_v6[0], pkey, timeout=180) as ssh:
            dev = device_of(ssh, volume["id"])
            read = ssh.run(f"dd if={dev} bs=1M skip={MARK_OFFSET_MIB} count=1 2>/dev/null | head -c {len(MARK)}")
            assert read.stdout == MARK
        os_("server", "remove", "volume", vm2["id"], volume["id"], json_out=False)
        wait_volume(api_cloud, volume["id"], "available")
        snap = os_("volume", "snapshot", "create", "--volume", volume["id"], "scn-snap")
        created.append(("volume", "snapshot", "delete", snap["id"]))
        deadline = time.monotonic() + 120
        while os_("volume", "snapshot", "show", snap["id"])["status"] != "available":
            assert time.monotonic() < deadline, "snapshot did not become available"
            time.sleep(1)
    finally:
        failures = []
        for argv in reversed(created):
            proc = os_(*argv, check=False, json_out=False)
            if proc.returncode != 0:
                failures.append(f"openstack {' '.join(argv)}: {proc.stderr.strip()[-300:]}")
            # deletes of volumes and snapshots finish in the background: a volume
            # with a snapshot still being deleted cannot go yet
            show = {("volume", "delete"): ("volume", "show"),
                    ("volume", "snapshot"): ("volume", "snapshot", "show")}.get(argv[:2])
            if show is not None:
                deadline = time.monotonic() + 60
                while (os_(*show, argv[-1], check=False, json_out=False).returncode == 0
                       and time.monotonic() < deadline):
                    time.sleep(1)
    assert not failures, failures
    # -- nothing of ours remains --------------------------------------------------------------------
    deadline = time.monotonic() + 60
    while True:
        after = footprint(api_cloud)
        leftovers = {k: sorted(after[k] - before[k]) for k in after if after[k] - before[k]}
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not leftovers, leftovers
    for kind in (("network", "list"), ("router", "list"), ("volume", "list"), ("floating", "ip", "list")):
        names = {item.get("Name") or item.get("Floating IP Address") for item in os_(*kind)}
        assert not names & {NET, ROUTER, "scn-vol", fip["floating_ip_address"]}, (kind, names)


@pytest.fixture(autouse=True)
def _no_leftover_key(api_cloud):
    yield
    api_cloud.openstack("keypair", "delete", KEY, check=False, json_out=False)
