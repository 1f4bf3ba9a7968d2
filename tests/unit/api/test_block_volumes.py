"""The block storage library over an in-memory RBD (tests/unit/api/fake_rbd.py)."""

from __future__ import annotations

import pytest

from fake_rbd import FakeRbd
from octoprobe.reference_impl.block import volumes as B

GiB = B.GiB


@pytest.fixture
def rbd() -> FakeRbd:
    fake = FakeRbd()
    fake.create("images", "guest", 64 << 20)
    fake.snap_create("images", "guest", "snap")
    fake.snap_protect("images", "guest", "snap")
    fake.timeouts.clear()
    return fake


@pytest.fixture
def store(rbd) -> B.BlockStore:
    return B.BlockStore(rbd)


def test_create_empty_and_extend(store, rbd):
    store.create_empty("v1", 1)
    assert rbd.images[("volumes", "volume-v1")].size == GiB
    store.extend("v1", 3)
    assert store.size_bytes("v1") == 3 * GiB
    with pytest.raises(B.InvalidSize):
        store.extend("v1", 2)
    with pytest.raises(B.InvalidSize):
        store.create_empty("v2", 0)
    with pytest.raises(B.VolumeExists):
        store.create_empty("v1", 1)
    assert all(t is not None for t in rbd.timeouts)


def test_from_image_is_a_grown_clone(store, rbd):
    store.create_from_image("v1", B.ImageSource("images", "guest"), 2)
    img = rbd.images[("volumes", "volume-v1")]
    assert img.parent == ("images", "guest", "snap")
    assert img.size == 2 * GiB


def test_snapshot_clone_and_delete_flattens_children(store, rbd):
    store.create_empty("v1", 1)
    store.create_snapshot("v1", "s1")
    assert store.snapshots("v1") == ["s1"]
    store.create_from_snapshot("v2", "v1", "s1", 2)
    assert rbd.images[("volumes", "volume-v2")].parent == ("volumes", "volume-v1", "snapshot-s1")
    with pytest.raises(B.VolumeHasSnapshots):
        store.delete_volume("v1")
    assert store.delete_snapshot("v1", "s1") == ["volumes/volume-v2"]
    assert rbd.images[("volumes", "volume-v2")].parent is None
    store.delete_volume("v1")
    assert not store.exists("v1")
    store.delete_volume("v1")  # gone already: fine
    with pytest.raises(B.SnapshotNotFound):
        store.create_from_snapshot("v3", "v2", "nope", 1)


def test_from_volume_is_independent_and_leaves_no_snapshot(store, rbd):
    store.create_empty("v1", 1)
    store.create_from_volume("v2", "v1", 1)
    assert rbd.images[("volumes", "volume-v2")].parent is None
    assert rbd.images[("volumes", "volume-v1")].snaps == {}
    store.delete_volume("v1")
    with pytest.raises(B.VolumeNotFound):
        store.create_from_volume("v3", "v1", 1)


def test_smaller_than_source_is_refused_and_cleaned_up(store, rbd):
    store.create_empty("v1", 2)
    with pytest.raises(B.InvalidSize):
        store.create_from_volume("v2", "v1", 1)
    assert not store.exists("v2")
    assert rbd.images[("volumes", "volume-v1")].snaps == {}


def test_copy_to_image_has_a_protected_snapshot(store, rbd):
    store.create_from_image("v1", B.ImageSource("images", "guest"), 1)
    size = store.copy_to_image("v1", "img-1")
    image = rbd.images[("images", "img-1")]
    assert size == GiB and image.parent is None and image.snaps == {"snap": True}
    assert rbd.images[("volumes", "volume-v1")].snaps == {}


def test_failed_flatten_removes_the_copy_and_the_temporary_snapshot(store, rbd, monkeypatch):
    store.create_empty("v1", 1)

    def boom(*a, **k):
        raise B.CommandError(["rbd", "flatten"], "timed out")
    monkeypatch.setattr(rbd, "flatten", boom)
    with pytest.raises(B.CommandError):
        store.create_from_volume("v2", "v1", 1)
    assert not store.exists("v2")
    assert rbd.images[("volumes", "volume-v1")].snaps == {}


def test_remove_image_undoes_copy_to_image(store, rbd):
    store.create_empty("v1", 1)
    store.copy_to_image("v1", "img-1")
    store.remove_image("img-1")
    assert ("images", "img-1") not in rbd.images
    store.remove_image("img-1")  # gone already: fine


class FakeQemuImg:
    """Writes a small qcow2-like file where qemu-img convert would."""

    def __init__(self, fail: bool = False):
        self.argvs: list[list[str]] = []
        self.fail = fail

    def run(self, argv, timeout=None):
        assert timeout is not None
        self.argvs.append(list(argv))
        if self.fail:
            raise B.CommandError(argv, "qemu-img: could not open")
        with open(argv[-1], "wb") as f:
            f.write(b"QFI\xfb" + b"\0" * 1020)


def test_convert_to_qcow2_imports_the_converted_file(rbd, tmp_path):
    qemu = FakeQemuImg()
    store = B.BlockStore(rbd, runner=qemu)
    store.create_empty("v1", 1)
    size = store.convert_to_image("v1", "img-q", tmp_path)
    assert size == 1024 and rbd.images[("images", "img-q")].snaps == {"snap": True}
    (argv,) = qemu.argvs
    assert argv[:6] == ["qemu-img", "convert", "-f", "raw", "-O", "qcow2"]
    assert argv[6].startswith("rbd:volumes/volume-v1@convert-")
    assert list(tmp_path.iterdir()) == [] and rbd.images[("volumes", "volume-v1")].snaps == {}


def test_failed_conversion_leaves_nothing(rbd, tmp_path):
    store = B.BlockStore(rbd, runner=FakeQemuImg(fail=True))
    store.create_empty("v1", 1)
    with pytest.raises(B.CommandError):
        store.convert_to_image("v1", "img-q", tmp_path)
    assert ("images", "img-q") not in rbd.images and rbd.images[("volumes", "volume-v1")].snaps == {}
    assert list(tmp_path.iterdir()) == []
