"""The config drive's contents (pure rendering) and the guest's JSON reader
(jsonflat.awk, run with busybox's awk as in the guest)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from octoprobe.reference_impl.compute.configdrive import (
    InstanceData,
    NicInfo,
    hostname_for,
    render_files,
    render_meta_data,
    render_network_data,
)
from octoprobe.reference_impl.compute.errors import InvalidInput
from octoprobe.reference_impl.compute.guest_image import guest_files

NIC = NicInfo("8e0fc021-8e6a-4b43-9d2e-0c1f7a3b7e11", "fa:16:3e:c5:18:4b", 1450, "net-1",
              ipv4_dhcp=True, ipv6_slaac=True, ipv4_address="10.1.0.4",
              ipv6_addresses=("fd6f:6374:6fb1:0:f816:3eff:fec5:184b",))
DATA = InstanceData(uuid="u-1", name="My Server_1", hostname=hostname_for("My Server_1"),
                    availability_zone="r1", public_keys={"test": "ssh-ed25519 AAAA test@x"},
                    admin_pass='p"w\\d', user_data=b"#!/bin/sh\necho hi\n", nics=(NIC,),
                    dns_nameservers=("192.0.2.53",))


def test_hostnames_follow_novas_rules():
    assert hostname_for("My Server_1") == "my-server-1"
    assert hostname_for("vm1") == "vm1"
    assert hostname_for("---") == "server"
    assert len(hostname_for("x" * 100)) == 63


def test_meta_data_has_the_keys_an_openstack_guest_reads():
    meta = render_meta_data(DATA)
    assert meta["uuid"] == "u-1" and meta["hostname"] == "my-server-1" and meta["name"] == "My Server_1"
    assert meta["public_keys"] == {"test": "ssh-ed25519 AAAA test@x"}
    assert meta["keys"] == [{"name": "test", "type": "ssh", "data": "ssh-ed25519 AAAA test@x"}]
    assert meta["admin_pass"] == 'p"w\\d' and meta["availability_zone"] == "r1"
    assert "admin_pass" not in render_meta_data(InstanceData("u", "n", "n"))


def test_network_data_names_each_nic_by_mac_with_dhcp_and_slaac():
    doc = render_network_data([NIC], ["192.0.2.53"])
    (link,) = doc["links"]
    assert link == {"id": "tap8e0fc0218e6", "vif_id": NIC.port_id, "type": "bridge",
                    "ethernet_mac_address": "fa:16:3e:c5:18:4b", "mtu": 1450}
    assert [(n["type"], n["link"]) for n in doc["networks"]] == [("ipv4_dhcp", link["id"]),
                                                                 ("ipv6_slaac", link["id"])]
    assert doc["services"] == [{"type": "dns", "address": "192.0.2.53"}]


def test_the_drive_has_latest_and_a_dated_version_and_the_user_data_verbatim():
    files = render_files(DATA)
    assert files["openstack/latest/user_data"] == DATA.user_data
    assert json.loads(files["openstack/latest/meta_data.json"])["uuid"] == "u-1"
    assert files["openstack/2018-08-27/network_data.json"] == files["openstack/latest/network_data.json"]
    with pytest.raises(InvalidInput, match="user data"):
        render_files(InstanceData("u", "n", "n", user_data=b"x" * 70000))


def flatten(doc: str) -> dict[str, str]:
    awk = shutil.which("busybox")
    if awk is None:
        pytest.skip("busybox is not installed (the guest's awk is busybox's)")
    script = guest_files()["jsonflat.awk"].decode()
    proc = subprocess.run([awk, "awk", script], input=doc, capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("\t", 1) for line in proc.stdout.splitlines())


def test_the_guest_reads_the_rendered_json_with_busybox_awk():
    meta = flatten(json.dumps(render_meta_data(DATA)))
    assert meta["hostname"] == "my-server-1"
    assert meta["public_keys.test"] == "ssh-ed25519 AAAA test@x"
    assert meta["keys.0.data"] == "ssh-ed25519 AAAA test@x"
    assert meta["admin_pass"] == 'p"w\\d'
    assert meta["launch_index"] == "0"
    net = flatten(json.dumps(render_network_data([NIC])))
    assert net["links.0.ethernet_mac_address"] == "fa:16:3e:c5:18:4b"
    assert net["links.0.mtu"] == "1450"
    assert net["networks.1.type"] == "ipv6_slaac"


def test_jsonflat_rejects_broken_json():
    if shutil.which("busybox") is None:
        pytest.skip("busybox is not installed")
    script = guest_files()["jsonflat.awk"].decode()
    proc = subprocess.run(["busybox", "awk", script], input='{"a": [1,', capture_output=True, text=True,
                          timeout=10)
    assert proc.returncode != 0 and "jsonflat" in proc.stderr
