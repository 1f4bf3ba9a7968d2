"""Nova of the reference cloud with the openstack CLI unchanged: a keypair, a
server created with --wait and logged into over SSH with that keypair, its
lifecycle, and the other project's blindness to all of it."""

from __future__ import annotations

import time

import paramiko
import pytest

from octoprobe.reference_impl.cloud import Cloud
from octoprobe.reference_impl.compute.guest_ssh import wait_for_ssh

from apilab import PREFIX, server_addresses


def open_ssh_in_default_group(api_cloud) -> None:
    """TCP 22 open in the project's default security group, through Neutron."""
    rules = api_cloud.openstack("security", "group", "rule", "list", "default", "--protocol", "tcp")
    have = {r["Ethertype"] for r in rules if str(r.get("Port Range", "")).startswith("22")}
    for ethertype in ("IPv4", "IPv6"):
        if ethertype not in have:
            api_cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
                                "--dst-port", "22", "--ethertype", ethertype, "default")


def wait_status(api_cloud, server_id: str, status: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        server = api_cloud.openstack("server", "show", server_id)
        if server["status"] == status:
            return server
        assert server["status"] != "ERROR", server
        assert time.monotonic() < deadline, f"server {server_id} is {server['status']}, not {status}"
        time.sleep(1)


@pytest.fixture(scope="module")
def keypair(api_cloud, tmp_path_factory):
    key_file = tmp_path_factory.mktemp("key") / "k.pem"
    kp = api_cloud.openstack("keypair", "create", "--private-key", str(key_file), "octoprobe-test-key")
    yield kp, paramiko.PKey.from_path(str(key_file))
    api_cloud.openstack("keypair", "delete", "octoprobe-test-key", json_out=False, check=False)


@pytest.fixture(scope="module")
def server(api_cloud, keypair):
    open_ssh_in_default_group(api_cloud)
    server = api_cloud.openstack("server", "create", "--image", "octoprobe-guest", "--flavor", "m1.nano",
                                 "--key-name", "octoprobe-test-key", "--wait", "octoprobe-test-vm")
    yield server
    api_cloud.openstack("server", "delete", "--wait", server["id"], json_out=False, check=False)


def test_flavors_and_availability_zones(api_cloud):
    flavors = {f["Name"]: f for f in api_cloud.openstack("flavor", "list")}
    assert {"m1.nano", "m1.small"} <= set(flavors)
    zones = {z["Zone Name"] for z in api_cloud.openstack("availability", "zone", "list", "--compute")}
    assert {"r1", "r2"} <= zones


def test_server_is_active_with_ipv4_and_ipv6_and_answers_ssh(api_cloud, server, keypair):
    shown = api_cloud.openstack("server", "show", server["id"])
    assert shown["status"] == "ACTIVE" and shown["key_name"] == "octoprobe-test-key"
    addrs = server_addresses(shown)
    v4 = [a for a in addrs if "." in a]
    v6 = [a for a in addrs if ":" in a]
    assert v4 and v6, addrs
    _, pkey = keypair
    with wait_for_ssh(v6[0], pkey, timeout=180) as ssh:  # IPv6 is routed to the machine
        assert ssh.run("hostname").stdout.strip() == "octoprobe-test-vm"
    listed = [s["Name"] for s in api_cloud.openstack("server", "list")]
    assert "octoprobe-test-vm" in listed


def test_stop_start_reboot(api_cloud, server, keypair):
    api_cloud.openstack("server", "stop", server["id"], json_out=False)
    wait_status(api_cloud, server["id"], "SHUTOFF")
    again = api_cloud.openstack("server", "stop", server["id"], check=False, json_out=False)
    assert again.returncode != 0 and "409" in again.stderr
    api_cloud.openstack("server", "start", server["id"], json_out=False)
    wait_status(api_cloud, server["id"], "ACTIVE")
    api_cloud.openstack("server", "reboot", "--wait", server["id"], json_out=False)
    shown = wait_status(api_cloud, server["id"], "ACTIVE")
    v6 = [a for a in server_addresses(shown) if ":" in a]
    with wait_for_ssh(v6[0], keypair[1], timeout=180) as ssh:
        assert ssh.run("echo ok").stdout.strip() == "ok"


def test_console_log(api_cloud, server):
    log = api_cloud.openstack("console", "log", "show", server["id"], json_out=False)
    assert "octoprobe" in log.lower()


def test_other_project_cannot_see_or_touch(api_cloud, server):
    alt = api_cloud.openstack("server", "list", cloud="octoprobe-alt")
    assert server["id"] not in [s["ID"] for s in alt]
    for argv in (("server", "show", server["id"]), ("server", "delete", server["id"]),
                 ("server", "stop", server["id"]), ("keypair", "show", "octoprobe-test-key")):
        proc = api_cloud.openstack(*argv, cloud="octoprobe-alt", check=False, json_out=False)
        assert proc.returncode != 0, argv
    assert api_cloud.openstack("server", "show", server["id"])["status"] in ("ACTIVE", "SHUTOFF")
    admin = api_cloud.openstack("server", "list", "--all-projects", cloud="octoprobe-admin")
    assert server["id"] in [s["ID"] for s in admin]


def test_delete_leaves_no_qemu(api_cloud, keypair):
    vm = api_cloud.openstack("server", "create", "--image", "octoprobe-guest", "--flavor", "m1.nano",
                             "--key-name", "octoprobe-test-key", "--wait", "octoprobe-test-short")
    cloud = Cloud.open(api_cloud.state_dir, PREFIX, progress=lambda m: None)
    assert cloud.compute().get_server(vm["id"]).status == "ACTIVE"
    api_cloud.openstack("server", "delete", "--wait", vm["id"], json_out=False)
    assert vm["id"] not in [s.id for s in cloud.compute().list_servers()]
    assert api_cloud.openstack("server", "show", vm["id"], check=False, json_out=False).returncode != 0
