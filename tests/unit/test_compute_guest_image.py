"""The guest image builder's pure parts: apt metadata, the cache key, kernel
module metadata and load order, ELF dependencies, the image variants."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from octoprobe.reference_impl.compute.errors import GuestImageError
from octoprobe.reference_impl.compute.guest_image import (
    DEFAULT_VARIANT,
    DYNAMIC_BINARIES,
    FIO_PACKAGES,
    GUEST_FILES,
    GUEST_VARIANTS,
    PERF_VARIANT,
    ROOT_IMAGE_SIZE,
    USERSPACE_PACKAGES,
    DebPackage,
    GuestImageBuilder,
    GuestVariant,
    cache_key,
    elf_dynamic,
    elf_needed,
    guest_files,
    kernel_package_of,
    missing_libraries,
    module_load_order,
    module_name,
    parse_apt_cache_show,
    read_modinfo,
)

APT_SHOW = """Package: linux-image-amd64
Source: linux-signed-amd64 (6.1.192+2)
Version: 6.1.192-2
Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)
Description: Linux for 64-bit PCs (meta-package)
 This package depends on the latest Linux kernel
 and modules for use on PCs.
Filename: pool/main/l/linux-signed-amd64/linux-image-amd64_6.1.192-2_amd64.deb
Size: 1492
SHA256: 00aa

Package: busybox-static
Version: 1:1.35.0-4+deb12u1+b1
Filename: pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb
SHA256: 3d3f
"""


def test_parse_apt_cache_show_reads_stanzas_with_continuation_lines():
    meta, busybox = parse_apt_cache_show(APT_SHOW)
    assert meta.name == "linux-image-amd64" and meta.version == "6.1.192-2" and meta.sha256 == "00aa"
    assert busybox.version == "1:1.35.0-4+deb12u1+b1"
    assert busybox.deb_name == "busybox-static_1.35.0-4+deb12u1+b1_amd64.deb"
    assert kernel_package_of(meta) == "linux-image-6.1.0-56-amd64"


def test_a_stanza_without_its_hash_is_refused():
    with pytest.raises(GuestImageError, match="SHA256"):
        parse_apt_cache_show("Package: x\nVersion: 1\nFilename: pool/x.deb\n")


def test_a_metapackage_without_a_kernel_is_refused():
    with pytest.raises(GuestImageError, match="no linux-image"):
        kernel_package_of(DebPackage("linux-image-amd64", "1", "aa", "x.deb", "kmod"))


PKGS = [DebPackage("a", "1", "h1", "a.deb"), DebPackage("b", "2", "h2", "b.deb")]


def test_the_cache_key_is_stable_and_depends_on_every_input():
    files = {"rcS": b"one", "inittab": b"two"}
    key = cache_key(PKGS, files)
    assert key == cache_key(list(reversed(PKGS)), dict(reversed(list(files.items()))))
    assert key != cache_key([PKGS[0], DebPackage("b", "2", "other-hash", "b.deb")], files)
    assert key != cache_key(PKGS, {**files, "rcS": b"changed"})
    assert key != cache_key(PKGS, files, modules=("virtio_blk",))
    assert key != cache_key(PKGS, files, root_size=1)


def test_the_guest_files_ship_with_the_package():
    files = guest_files()
    assert set(files) == set(GUEST_FILES)
    assert files["initramfs-init"].startswith(b"#!/bin/busybox sh")
    assert b"OCTOPROBE-GUEST-READY" in files["rcS"]
    assert b"config-2" in files["rcS"]


def fake_module(info: dict[str, str]) -> bytes:
    """A minimal ELF64 object with a .modinfo section."""
    modinfo = b"".join(f"{k}={v}".encode() + b"\0" for k, v in info.items())
    shstrtab = b"\0.modinfo\0.shstrtab\0"
    data_off = 64
    str_off = data_off + len(modinfo)
    sh_off = str_off + len(shstrtab)
    header = bytearray(64)
    header[0:4] = b"\x7fELF"
    header[4], header[5], header[6] = 2, 1, 1
    struct.pack_into("<Q", header, 0x28, sh_off)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 2)

    def sh(name, offset, size):
        entry = bytearray(64)
        struct.pack_into("<I", entry, 0, name)
        struct.pack_into("<QQ", entry, 0x18, offset, size)
        return bytes(entry)

    sections = sh(0, 0, 0) + sh(1, data_off, len(modinfo)) + sh(10, str_off, len(shstrtab))
    return bytes(header) + modinfo + shstrtab + sections


def test_read_modinfo_finds_the_dependencies():
    data = fake_module({"license": "GPL", "depends": "virtio,virtio_ring", "name": "virtio_blk"})
    info = read_modinfo(data)
    assert info["depends"] == "virtio,virtio_ring" and info["name"] == "virtio_blk"
    with pytest.raises(GuestImageError):
        read_modinfo(b"not an elf file at all" * 4)


def test_module_names_are_normalised():
    assert module_name("kernel/drivers/char/hw_random/virtio-rng.ko") == "virtio_rng"
    assert module_name(Path("ext4.ko.xz")) == "ext4"


def test_modules_load_after_their_dependencies_once_each():
    deps = {"virtio_blk": ["virtio", "virtio_ring"], "virtio_net": ["virtio_ring", "virtio", "net_failover"],
            "net_failover": ["failover"], "virtio": [], "virtio_ring": [], "failover": [], "ext4": ["jbd2"],
            "jbd2": []}
    order = module_load_order(["virtio_blk", "virtio_net", "ext4"], lambda n: deps[n])
    assert sorted(order) == sorted(deps)
    for name, needs in deps.items():
        assert all(order.index(d) < order.index(name) for d in needs)


def test_a_dependency_cycle_is_reported():
    with pytest.raises(GuestImageError, match="cycle"):
        module_load_order(["a"], lambda n: {"a": ["b"], "b": ["a"]}[n])


def test_elf_needed_reads_a_real_binary():
    ls = Path("/bin/ls").resolve()
    needed = elf_needed(ls.read_bytes())
    assert "libc.so.6" in needed
    if shutil.which("readelf"):
        out = subprocess.run(["readelf", "-d", str(ls)], capture_output=True, text=True).stdout
        assert all(f"[{n}]" in out for n in needed)


# ---------------------------------------------------------------------- variants
FILES = {"rcS": b"one", "inittab": b"two"}
# cache_key(PKGS, FILES) as computed before variants existed: existing caches stay valid
KEY_BEFORE_VARIANTS = "a4709fbf68acd963b892f86fe5e1d640d27a8a3c685f69a69fd341e527f99b7b"


def test_the_default_variant_leaves_the_cache_key_as_it_was():
    assert DEFAULT_VARIANT.key_inputs() is None
    assert cache_key(PKGS, FILES) == KEY_BEFORE_VARIANTS
    assert cache_key(PKGS, FILES, variant=DEFAULT_VARIANT) == KEY_BEFORE_VARIANTS
    assert cache_key(PKGS, FILES, variant=GuestVariant("octoprobe-guest")) == KEY_BEFORE_VARIANTS


def test_a_variant_has_its_own_key_that_depends_on_its_description():
    perf = cache_key(PKGS, FILES, variant=PERF_VARIANT)
    assert perf not in (KEY_BEFORE_VARIANTS, cache_key(PKGS, FILES, root_size=PERF_VARIANT.root_size))
    assert perf == cache_key(PKGS, FILES, variant=GuestVariant(**vars(PERF_VARIANT)))
    for change in ({"name": "octoprobe-other"}, {"binaries": ()}, {"prune": ()}, {"partial": ()},
                   {"root_size": PERF_VARIANT.root_size * 2}, {"packages": PERF_VARIANT.packages[:-1]}):
        assert cache_key(PKGS, FILES, variant=GuestVariant(**{**vars(PERF_VARIANT), **change})) != perf, change
    # the image's minimum RAM is registration data, not part of the bytes
    assert cache_key(PKGS, FILES, variant=GuestVariant(**{**vars(PERF_VARIANT), "min_ram_mb": 1024})) == perf


def test_the_perf_variant_adds_fio_and_its_libraries_to_the_guest():
    assert [v.name for v in GUEST_VARIANTS] == ["octoprobe-guest", "octoprobe-perf"]
    assert DEFAULT_VARIANT.userspace_packages() == USERSPACE_PACKAGES
    assert DEFAULT_VARIANT.dynamic_binaries() == DYNAMIC_BINARIES
    assert DEFAULT_VARIANT.root_size == ROOT_IMAGE_SIZE
    names = PERF_VARIANT.userspace_packages()
    assert names[:len(USERSPACE_PACKAGES)] == USERSPACE_PACKAGES  # the guest's packages, then the rest
    assert len(names) == len(set(names)) and set(FIO_PACKAGES) <= set(names)
    assert {"fio", "libaio1", "librbd1", "librados2", "libglusterfs0", "libibverbs1", "libicu72"} <= set(names)
    assert "usr/bin/fio" in PERF_VARIANT.dynamic_binaries()
    assert set(DYNAMIC_BINARIES) <= set(PERF_VARIANT.dynamic_binaries())
    assert PERF_VARIANT.partial_packages()["fio"] == ("usr/bin/fio",)
    assert PERF_VARIANT.partial_packages()["util-linux"] == ("bin/lsblk",)
    assert PERF_VARIANT.root_size > ROOT_IMAGE_SIZE
    assert (DEFAULT_VARIANT.min_ram_mb, PERF_VARIANT.min_ram_mb) == (64, 192)  # fio needs m1.micro
    assert (DEFAULT_VARIANT.label, PERF_VARIANT.label) == ("guest image", "perf image")


def apt_stanza(name: str) -> str:
    return f"Package: {name}\nVersion: 1\nFilename: pool/{name}_1_amd64.deb\nSHA256: {name}-hash\n"


def fake_apt(calls: list):
    def run(argv, **kwargs):
        calls.append(list(argv))
        names = argv[3:]
        if names == ["linux-image-amd64"]:
            return apt_stanza("linux-image-amd64") + "Depends: linux-image-6.1.0-9-amd64\n"
        return "\n".join(apt_stanza(n) for n in names)
    return run


@pytest.mark.parametrize("variant", [None, DEFAULT_VARIANT, PERF_VARIANT])
def test_the_builder_resolves_and_keys_the_packages_of_its_variant(tmp_path, monkeypatch, variant):
    builder = GuestImageBuilder(tmp_path, variant=variant)
    calls: list = []
    monkeypatch.setattr(builder, "_run", fake_apt(calls))
    packages = builder.resolve_packages()
    wanted = (variant or DEFAULT_VARIANT).userspace_packages()
    assert [p.name for p in packages] == ["linux-image-6.1.0-9-amd64", *wanted]
    if variant is PERF_VARIANT:
        assert builder.key(packages) == cache_key(packages, guest_files(), variant=PERF_VARIANT)
    else:  # the key inputs of a build without variants
        assert builder.key(packages) == cache_key(packages, guest_files())


def copy_into(root: Path, rel: str, source: Path) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, root / rel)


def host_library(name: str) -> Path:
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"):
        if Path(d, name).exists():
            return Path(d, name).resolve()
    pytest.skip(f"this machine has no {name}")


def test_missing_libraries_follows_the_libraries_own_dependencies(tmp_path):
    ls = Path("/bin/ls").resolve()
    if "libselinux.so.1" not in elf_needed(ls.read_bytes()):
        pytest.skip("this machine's ls does not use libselinux")
    copy_into(tmp_path, "bin/ls", ls)
    copy_into(tmp_path, "lib/x86_64-linux-gnu/libselinux.so.1", host_library("libselinux.so.1"))
    missing = missing_libraries(tmp_path, ["bin/ls"])
    assert sorted(missing["libc.so.6"]) == ["bin/ls", "libselinux.so.1"] and "libselinux.so.1" not in missing
    assert missing["libpcre2-8.so.0"] == ["libselinux.so.1"]  # needed by a library, not by ls
    # a symbolic link inside the root (absolute, as the guest sees it) counts
    copy_into(tmp_path, "usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.real", host_library("libpcre2-8.so.0"))
    (tmp_path / "lib/x86_64-linux-gnu/libpcre2-8.so.0").symlink_to("/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.real")
    assert "libpcre2-8.so.0" not in missing_libraries(tmp_path, ["bin/ls"])


def test_elf_dynamic_reads_the_runpath_where_librados_finds_ceph_common():
    librados = Path("/usr/lib/x86_64-linux-gnu/librados.so.2")
    if not librados.exists():
        pytest.skip("this machine has no librados2")
    dynamic = elf_dynamic(librados.resolve().read_bytes())
    assert "libceph-common.so.2" in dynamic.needed
    assert dynamic.runpath == ("/usr/lib/x86_64-linux-gnu/ceph",)
    assert elf_dynamic(Path("/bin/ls").resolve().read_bytes()).runpath == ()


def test_each_image_name_keeps_its_own_builds():
    from types import SimpleNamespace

    from octoprobe.reference_impl.api.lifecycle import builds_by_name
    from octoprobe.reference_impl.compute.hypervisor import build_source, is_guest_build

    assert build_source("octoprobe-guest", "k1") == "guest-build k1"  # what "the guest image" pickers match
    assert not build_source("octoprobe-perf", "k2").startswith("guest-build")
    images = [SimpleNamespace(name=n, source=build_source(n, k), created_at=t)
              for n, k, t in (("octoprobe-perf", "p2", 5.0), ("octoprobe-guest", "g1", 1.0),
                              ("octoprobe-perf", "p1", 2.0), ("octoprobe-guest", "g2", 3.0))]
    images.append(SimpleNamespace(name="snap", source="snapshot of server x", created_at=9.0))
    builds = [i for i in images if is_guest_build(i)]
    assert len(builds) == 4
    groups = builds_by_name(builds)
    assert {n: [i.source.split()[-1] for i in g] for n, g in groups.items()} == {
        "octoprobe-guest": ["g1", "g2"], "octoprobe-perf": ["p1", "p2"]}


def test_cloud_up_registers_and_hides_superseded_builds_per_image_name(monkeypatch):
    from types import SimpleNamespace

    from octoprobe.reference_impl.api import image as glance
    from octoprobe.reference_impl.api import lifecycle
    from octoprobe.reference_impl.compute.hypervisor import build_source

    def build(name, key, t):
        return SimpleNamespace(id=f"{name}-{key}", name=name, source=build_source(name, key), created_at=t)

    images = [build("octoprobe-guest", "old", 1.0), build("octoprobe-perf", "p", 2.0),
              build("octoprobe-guest", "new", 3.0),
              SimpleNamespace(id="snap", name="snap", source="snapshot of server x", created_at=4.0)]
    cloud = SimpleNamespace(compute=lambda: SimpleNamespace(list_images=lambda: images, rbd="rbd"))
    registered, hidden = [], []
    monkeypatch.setattr(glance, "register_existing_image",
                        lambda db, image, *, name, owner_project_id, visibility, rbd:
                        registered.append((image.id, name, owner_project_id, visibility)))
    monkeypatch.setattr(glance, "hide_superseded", lambda db, name, ids: hidden.append((name, ids)))
    lifecycle._register_guest_image("db", cloud, "admin-project")
    assert sorted(registered) == [("octoprobe-guest-new", "octoprobe-guest", "admin-project", "public"),
                                  ("octoprobe-perf-p", "octoprobe-perf", "admin-project", "public")]
    assert sorted(hidden) == [("octoprobe-guest", ["octoprobe-guest-old"]), ("octoprobe-perf", [])]


def test_one_build_at_a_time_per_cache_directory(tmp_path):
    """A second builder on the same cache waits for the first (and says so)."""
    import subprocess
    import sys
    import time

    from octoprobe.reference_impl.compute.guest_image import GuestImageBuilder

    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"f = open({str(tmp_path / 'build.lock')!r}, 'w'); fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True); time.sleep(1.0)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    said = []
    builder = GuestImageBuilder(tmp_path, progress=said.append)
    start = time.monotonic()
    with builder._build_lock():
        waited = time.monotonic() - start
    holder.wait(10)
    assert waited > 0.5 and any("waiting for another build" in line for line in said), (waited, said)
