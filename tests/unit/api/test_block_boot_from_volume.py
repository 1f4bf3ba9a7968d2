"""The compute library booting a server from a volume it does not own: the
volume's RBD image is the root disk as it is (not cloned), and it stays when
the server goes. QEMU and the config drive are stubbed; RBD is in memory."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from fake_rbd import FakeRbd
from octoprobe.reference_impl.compute import errors as CE
from octoprobe.reference_impl.compute import hypervisor as H
from octoprobe.reference_impl.compute.model import Image, RootVolume


class FakeNetworkPlane:
    def __init__(self):
        self.ports = {f"p{i}": SimpleNamespace(id=f"p{i}", network_id="n1", mac_address=f"fa:16:3e:00:00:0{i}",
                                               binding_host=None, device_id="", fixed_ips=[]) for i in range(3)}

    def get_port(self, port_id):
        return self.ports[port_id]

    def update_port(self, port_id, **changes):
        port = self.ports[port_id]
        for key, value in changes.items():
            if key in ("binding_host", "device_id"):
                setattr(port, key, value)
        return port

    def get_network(self, network_id):
        return SimpleNamespace(id=network_id, mtu=1450, external=False)

    def tap_name(self, port_id):
        return f"tap{port_id}"

    def list_ports(self):
        return list(self.ports.values())


@pytest.fixture
def compute(tmp_path, monkeypatch):
    topology = SimpleNamespace(compute_hosts=lambda: [SimpleNamespace(name="c1", rack="r1")])
    svc = H.ComputeService(topology, "octu", tmp_path, network=FakeNetworkPlane())
    svc.rbd = FakeRbd()
    svc._accel = "tcg"
    svc.rbd.create("images", "guest", 64 << 20)
    svc.rbd.snap_create("images", "guest", "snap")
    svc.rbd.snap_protect("images", "guest", "snap")
    with svc.store.update() as state:
        state.images["img"] = Image("img", "guest", "images", "guest", "snap", 64 << 20, "/k", "/i",
                                    min_disk_gb=1, created_at=time.time())
    started = []
    monkeypatch.setattr(H, "write_config_drive", lambda data, path: None)
    monkeypatch.setattr(svc, "_start_qemu", lambda server, image, accel: started.append(
        (server.disk_pool, server.disk_name, image.kernel)) or 1)
    svc.started = started
    return svc


def test_boot_from_volume_uses_the_volume_and_leaves_it(compute):
    compute.rbd.create("volumes", "volume-v1", 1 << 30)
    view = compute.create_server("bfv", "img", "1", ports=["p0"],
                                 root_volume=RootVolume("v1", "volumes", "volume-v1"))
    assert view.disk == "volumes/volume-v1" and view.root_volume_id == "v1"
    assert compute.started == [("volumes", "volume-v1", "/k")]
    assert not any(pool == "vms" for pool, _ in compute.rbd.images)  # nothing cloned
    with pytest.raises(CE.VolumeInUse):  # the root volume is not attachable elsewhere
        compute.create_server("again", "img", "1", ports=["p1"], root_volume=RootVolume("v1", "volumes", "volume-v1"))
    with pytest.raises(CE.InvalidState):
        compute.rebuild_server(view.id)
    compute.delete_server(view.id)
    assert ("volumes", "volume-v1") in compute.rbd.images


def test_an_image_boot_still_clones_and_removes_its_disk(compute):
    view = compute.create_server("img", "img", "1", ports=["p0"])
    assert view.disk == f"vms/{view.id}_disk" and view.root_volume_id is None
    assert compute.rbd.images[("vms", f"{view.id}_disk")].parent == ("images", "guest", "snap")
    compute.delete_server(view.id)
    assert ("vms", f"{view.id}_disk") not in compute.rbd.images


def test_a_missing_root_volume_is_refused_before_anything_is_made(compute):
    with pytest.raises(CE.VolumeNotFound):
        compute.create_server("bfv", "img", "1", ports=["p0"], root_volume=RootVolume("v9", "volumes", "volume-v9"))
    assert compute.list_servers() == []
