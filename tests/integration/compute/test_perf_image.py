"""The perf image (``octoprobe-perf``): the guest plus fio, registered by
``cloud up`` next to ``octoprobe-guest``. A VM booted from it (m1.micro: fio
does not start in 128 MiB) runs fio with direct I/O and libaio against an
attached RBD volume and prints fio's JSON."""

from __future__ import annotations

import json
import time

import pytest

from octoprobe.ceph import RbdClient
from octoprobe.reference_impl.compute.guest_image import PERF_VARIANT
from octoprobe.shell import LocalRunner

pytestmark = pytest.mark.integration

VOLUME = "perf-vol"
VOLUME_SIZE = 256 * 1024 ** 2
FIO = ("fio --name=t --filename=/dev/{dev} --direct=1 --ioengine=libaio --rw=randwrite --bs=4k --iodepth=16 "
       "--size=32M --runtime=3 --time_based --output-format=json")


def rbd(lab) -> RbdClient:
    return RbdClient(LocalRunner(), conf=lab.compute.ceph_conf, timeout=60)


def wait_for_disk(ssh, serial: str, timeout: float = 10.0) -> str:
    """The guest's name (``vdb`` …) of the disk with this serial."""
    find = f"for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = {serial} ] && basename $d; done"
    deadline = time.monotonic() + timeout
    while True:
        dev = ssh.run(find, check=False).stdout.strip()
        if dev or time.monotonic() > deadline:
            return dev
        time.sleep(0.2)


def test_cloud_up_registers_the_perf_image_next_to_the_guest(lab):
    images = {i.name: i for i in lab.compute.list_images()}
    assert {"octoprobe-guest", "octoprobe-perf"} <= set(images)
    guest, perf = images["octoprobe-guest"], images["octoprobe-perf"]
    assert guest.id == lab.image_id and perf.id != guest.id and perf.rbd_name != guest.rbd_name
    assert guest.source.startswith("guest-build ") and not perf.source.startswith("guest-build")
    assert perf.size_bytes == PERF_VARIANT.root_size and perf.min_ram_mb == PERF_VARIANT.min_ram_mb
    assert lab.compute.ensure_guest_image(variant=PERF_VARIANT).id == perf.id  # imported once


def test_fio_runs_in_the_perf_image_against_a_volume(lab, nets):
    perf = lab.compute.ensure_guest_image(variant=PERF_VARIANT)
    net = nets[0]
    view = lab.compute.create_server("perf1", perf.id, "m1.micro", networks=[net.network_id],
                                     security_groups=[net.group_id], key_name="test",
                                     public_keys={"test": lab.public_key})
    client = rbd(lab)
    client.create("volumes", VOLUME, VOLUME_SIZE)
    try:
        lab.wait_ready(view.id, timeout=120)
        att = lab.compute.attach_volume(view.id, VOLUME)
        with lab.ssh(view.id, net) as ssh:
            dev = wait_for_disk(ssh, att.serial)
            assert dev, "the attached volume did not appear in the guest"
            result = ssh.run(FIO.format(dev=dev), timeout=60)
        job = json.loads(result.stdout)["jobs"][0]
        assert job["error"] == 0 and job["write"]["iops"] > 0 and job["write"]["io_bytes"] > 0, job
    finally:
        lab.compute.delete_server(view.id)
        client.remove("volumes", VOLUME)
