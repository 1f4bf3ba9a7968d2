"""The guest image builder's pure parts: apt metadata, the cache key, kernel
module metadata and load order, ELF dependencies."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from octoprobe.reference_impl.compute.errors import GuestImageError
from octoprobe.reference_impl.compute.guest_image import (
    GUEST_FILES,
    DebPackage,
    cache_key,
    elf_needed,
    guest_files,
    kernel_package_of,
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
