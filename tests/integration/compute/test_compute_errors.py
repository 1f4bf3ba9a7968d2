"""Bad input gets a clear error and leaves nothing behind: no server record,
no port, no RBD clone, no QEMU."""

from __future__ import annotations

import pytest

from octoprobe.ceph import RbdClient
from octoprobe.reference_impl.compute import errors as E
from octoprobe.reference_impl.compute.hypervisor import VMS_POOL
from octoprobe.reference_impl.compute.qemu import find_qemu_under
from octoprobe.shell import LocalRunner

pytestmark = pytest.mark.integration


def snapshot(lab):
    client = RbdClient(LocalRunner(), conf=lab.compute.ceph_conf, timeout=60)
    return (
        {s.id for s in lab.compute.list_servers()},
        {p.id for p in lab.plane.list_ports()},
        sorted(client.list(VMS_POOL)),
        sorted(p.pid for p in find_qemu_under(lab.compute.paths.root)),
    )


@pytest.fixture(scope="module")
def big_image(lab):
    """A 2 GiB image (thin), registered with the guest's kernel: too big for a 1 GiB flavor."""
    client = RbdClient(LocalRunner(), conf=lab.compute.ceph_conf, timeout=60)
    client.create("images", "big-image", 2 * 1024 ** 3)
    image = lab.compute.register_rbd_image("big", "images", "big-image", kernel_from=lab.image_id)
    yield image
    lab.compute.delete_image(image.id)


CASES = {
    "flavor disk smaller than the image": (E.FlavorTooSmall, lambda lab, net, img: dict(image_id=img.id)),
    "flavor RAM below the image's minimum": (E.FlavorTooSmall, lambda lab, net, img: dict(flavor="tiny-ram")),
    "unknown image": (E.ImageNotFound, lambda lab, net, img: dict(image_id="no-such-image")),
    "unknown flavor": (E.FlavorNotFound, lambda lab, net, img: dict(flavor="no-such-flavor")),
    "unknown host": (E.HostNotFound, lambda lab, net, img: dict(host="r9-c9")),
    "unknown availability zone": (E.AvailabilityZoneNotFound, lambda lab, net, img: dict(availability_zone="r9")),
    "full host": (E.HostFull, lambda lab, net, img: dict(host=lab.compute_hosts()[1], flavor="m1.small")),
    "no host has room": (E.NoValidHost, lambda lab, net, img: dict(flavor="huge")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_and_leaves_nothing(lab, nets, big_image, case):
    exc_class, kwargs_of = CASES[case]
    compute = lab.compute
    if "tiny-ram" not in {f.name for f in compute.list_flavors()}:
        compute.create_flavor("tiny-ram", 1, 32, 1)
        compute.create_flavor("huge", 1, 1024 * 1024, 1)
    compute.set_host_ram_mb(lab.compute_hosts()[1], 256)
    try:
        kwargs = kwargs_of(lab, nets[0], big_image)
        image_id = kwargs.pop("image_id", lab.image_id)
        flavor = kwargs.pop("flavor", "m1.nano")
        before = snapshot(lab)
        with pytest.raises(exc_class) as info:
            compute.create_server(f"bad-{case.replace(' ', '-')}", image_id, flavor, networks=[nets[0].network_id],
                                  security_groups=[nets[0].group_id], **kwargs)
        assert str(info.value)  # says what was wrong
        assert snapshot(lab) == before
    finally:
        compute.set_host_ram_mb(lab.compute_hosts()[1], None)


def test_a_failure_after_the_clone_is_undone(lab, nets, monkeypatch):
    """QEMU cannot start (a tap that does not exist): the clone, the port and
    the record go again."""
    compute = lab.compute
    before = snapshot(lab)

    def broken(self, server, image, accel):
        raise E.HypervisorError("injected: QEMU did not start")

    monkeypatch.setattr(type(compute), "_start_qemu", broken)
    with pytest.raises(E.HypervisorError):
        compute.create_server("doomed", lab.image_id, "m1.nano", networks=[nets[0].network_id])
    assert snapshot(lab) == before
