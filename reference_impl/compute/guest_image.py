"""The guest image: a tiny Linux built from Debian's packages at set-up.

Three artefacts, built without mounting anything and without installing a
kernel on the machine:

* ``vmlinuz`` — the kernel of Debian's ``linux-image-amd64`` (its real package,
  e.g. ``linux-image-6.1.0-56-amd64``), unpacked with ``dpkg-deb -x``;
* ``initrd.img`` — a gzip'd newc cpio: busybox-static, the kernel modules the
  VM needs (virtio, ext4, isofs, the ACPI power button …, dependencies first)
  and ``/init`` (``guest/initramfs-init``), which loads them, mounts the root
  disk and switch_roots;
* ``root.img`` — a small raw ext4 file system made with ``mkfs.ext4 -d``:
  busybox, dropbear and its shared libraries, iperf3, util-linux's lsblk, busybox init and the
  boot script ``guest/rcS`` (config drive → hostname, keys, password, user
  data; DHCP + SLAAC; dropbear; a ready line on the console).

A :class:`GuestVariant` adds packages and programs to that root file system
(and may make it bigger): :data:`DEFAULT_VARIANT` is the guest above, the
image ``octoprobe-guest``; :data:`PERF_VARIANT` (``octoprobe-perf``) adds
fio and its shared libraries for the performance suite. The kernel and the
initramfs are the same for every variant. The default variant adds nothing
to the cache key, so its key and bytes are those of a build without variants.

Every input is pinned by the Debian archive's SHA256 of each package (from
``apt-cache show``) and by the bytes of the files under ``guest/``; their hash
is the cache key. The build is reproducible: file times, owners, the file
system's UUID and hash seed and the cpio's inode numbers are fixed, so the same
inputs give the same bytes. A second build with the same key is a no-op.

:func:`ensure_guest_image` builds (if needed) and imports ``root.img`` into
the RBD pool ``images`` with a protected snapshot, once per cloud and variant
(``octoprobe cloud up`` does both variants).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from octoprobe.shell import LocalRunner, Runner

from .errors import GuestImageError

BUILDER_VERSION = "1"  # bump when the build procedure changes its output
KERNEL_META_PACKAGE = "linux-image-amd64"
USERSPACE_PACKAGES = (
    "busybox-static",
    "dropbear-bin",
    "libc6",
    "libgcc-s1",
    "libcrypt1",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
    "zlib1g",
    "iperf3",
    "libiperf0",
    "libsctp1",
    "libssl3",
    # lsblk (Tempest's guest checks list disks with `lsblk -lb --nodeps`) and its libraries
    "util-linux",
    "libblkid1",
    "libmount1",
    "libsmartcols1",
    "libudev1",
    "libselinux1",
    "libpcre2-8-0",
)
# packages of which the root file system takes only these files (busybox has the rest)
PARTIAL_PACKAGES = {"util-linux": ("bin/lsblk",)}
# the dynamically linked programs of the guest (their libraries are checked at build time)
DYNAMIC_BINARIES = ("usr/sbin/dropbear", "usr/bin/dropbearkey", "usr/bin/iperf3", "bin/lsblk")
# Modules loaded by the initramfs (their dependencies are added, first).
GUEST_MODULES = (
    "virtio_pci",
    "virtio_blk",
    "virtio_net",
    "virtio_rng",
    "crc32c_generic",
    "ext4",
    "isofs",
    "evdev",
    "button",
)
ROOT_IMAGE_SIZE = 64 * 1024 * 1024
# fio 3.33 (Debian 12) and the packages of every library `ldd /usr/bin/fio` lists
# (found with `dpkg -S`); the ones the default guest has already are listed too
FIO_PACKAGES = (
    "fio",
    "libacl1", "libaio1", "libargon2-1", "libblkid1", "libboost-iostreams1.74.0", "libboost-thread1.74.0",
    "libbz2-1.0", "libc6", "libcom-err2", "libcryptsetup12", "libdaxctl1", "libdevmapper1.02.1", "libffi8",
    "libfmt9", "libgcc-s1", "libgfapi0", "libgfrpc0", "libgfxdr0", "libglusterfs0", "libgmp10", "libgnutls30",
    "libgssapi-krb5-2", "libhogweed6", "libibverbs1", "libicu72", "libidn2-0", "libjson-c5", "libk5crypto3",
    "libkeyutils1", "libkmod2", "libkrb5-3", "libkrb5support0", "liblzma5", "libnbd0", "libndctl6",
    "libnettle8", "libnl-3-200", "libnl-route-3-200", "libnuma1", "libp11-kit0", "libpcre2-8-0", "libpmem1",
    "libpmemblk1", "librados2", "librbd1", "librdmacm1", "libselinux1", "libssl3", "libstdc++6",
    "libtasn1-6", "libtirpc3", "libudev1", "libunistring2", "libuuid1", "libxml2", "libzstd1", "zlib1g",
)
PERF_ROOT_IMAGE_SIZE = 192 * 1024 * 1024  # about 120 MiB used (ICU's data alone is 30 MiB)
SOURCE_DATE_EPOCH = 1700000000  # every file time in the artefacts
ROOT_LABEL = "octoprobe-root"
GUEST_FILES = ("initramfs-init", "rcS", "rcK", "inittab", "udhcpc.script", "jsonflat.awk", "acpi-power")
# what the root file system does not need from the packages
PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/lintian",
    "usr/share/locale",
    "usr/share/bug",
    "usr/lib/x86_64-linux-gnu/gconv",
    "usr/libexec",
    "etc/init.d",
    "etc/default",
    "lib/systemd",
    "usr/lib/systemd",
    "usr/share/debconf",
)
APT_TIMEOUT = 600.0
TOOL_TIMEOUT = 300.0


# ---------------------------------------------------------------------- variants
@dataclass(frozen=True)
class GuestVariant:
    """What one guest image adds to the default root file system.

    ``name``: the image's name in the cloud; ``packages``: Debian packages
    unpacked into the root besides :data:`USERSPACE_PACKAGES` (repeats are
    ignored); ``partial``: (package, files) pairs of which only those files
    are taken; ``binaries``: dynamically linked programs whose libraries the
    build checks; ``prune``: more paths removed from the root; ``root_size``:
    the root file system's size in bytes; ``min_ram_mb``: the image's
    ``min_ram`` (not part of the cache key: it does not change the bytes)."""

    name: str
    packages: tuple[str, ...] = ()
    partial: tuple[tuple[str, tuple[str, ...]], ...] = ()
    binaries: tuple[str, ...] = ()
    prune: tuple[str, ...] = ()
    root_size: int = ROOT_IMAGE_SIZE
    min_ram_mb: int = 64

    @property
    def label(self) -> str:
        return image_label(self.name)

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_VARIANT

    def userspace_packages(self) -> tuple[str, ...]:
        extra = [n for n in dict.fromkeys(self.packages) if n not in USERSPACE_PACKAGES]
        return (*USERSPACE_PACKAGES, *extra)

    def partial_packages(self) -> dict[str, tuple[str, ...]]:
        return {**PARTIAL_PACKAGES, **dict(self.partial)}

    def dynamic_binaries(self) -> tuple[str, ...]:
        return (*DYNAMIC_BINARIES, *(b for b in self.binaries if b not in DYNAMIC_BINARIES))

    def prune_paths(self) -> tuple[str, ...]:
        return (*PRUNE, *self.prune)

    def key_inputs(self) -> dict | None:
        """What the variant adds to the cache key (None for the default, so
        that its key is the key of a build without variants)."""
        if self.is_default:
            return None
        return {"name": self.name, "packages": sorted(set(self.packages)),
                "partial": sorted([pkg, sorted(files)] for pkg, files in self.partial),
                "binaries": sorted(self.binaries), "prune": sorted(self.prune)}


def image_label(name: str) -> str:
    """``guest image``, ``perf image``: a variant's name in progress lines."""
    return f"{name.removeprefix('octoprobe-')} image"


DEFAULT_VARIANT = GuestVariant("octoprobe-guest")
PERF_VARIANT = GuestVariant(
    "octoprobe-perf",
    packages=FIO_PACKAGES,
    partial=(("fio", ("usr/bin/fio",)),),  # not its Python and shell helpers
    binaries=("usr/bin/fio",),
    # debugger scripts and hooks of the library packages
    prune=("usr/share/gcc", "usr/share/gdb", "usr/share/initramfs-tools", "usr/share/pmdk", "etc/ufw"),
    root_size=PERF_ROOT_IMAGE_SIZE,
    # librbd's libceph-common maps a 130 MiB zero-filled segment when fio starts: the
    # kernel refuses a mapping bigger than the RAM (no swap), so fio fails to start in
    # m1.nano (128 MiB, 80 MiB usable) and starts in m1.micro (192 MiB, 142 MiB usable)
    min_ram_mb=192,
)
GUEST_VARIANTS = (DEFAULT_VARIANT, PERF_VARIANT)


# ---------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class DebPackage:
    """One Debian package as the archive describes it (``apt-cache show``)."""

    name: str
    version: str
    sha256: str
    filename: str  # the pool path
    depends: str = ""

    @property
    def deb_name(self) -> str:
        return Path(self.filename).name


def parse_apt_cache_show(text: str) -> list[DebPackage]:
    """Parse ``apt-cache show --no-all-versions PKG…`` (RFC 822 stanzas)."""
    packages = []
    for stanza in re.split(r"\n\s*\n", text.strip()):
        fields: dict[str, str] = {}
        last = None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue
            last = key.strip()
            fields[last] = value.strip()
        if "Package" not in fields:
            continue
        missing = [k for k in ("Version", "SHA256", "Filename") if k not in fields]
        if missing:
            raise GuestImageError(f"apt-cache show: package {fields['Package']} has no {', '.join(missing)}")
        packages.append(DebPackage(fields["Package"], fields["Version"], fields["SHA256"],
                                   fields["Filename"], fields.get("Depends", "")))
    return packages


def kernel_package_of(meta: DebPackage) -> str:
    """The real kernel package a ``linux-image-amd64`` metapackage depends on."""
    for alternative in re.split(r"[,|]", meta.depends):
        name = alternative.strip().split(" ")[0]
        if name.startswith("linux-image-") and name != meta.name:
            return name
    raise GuestImageError(f"{meta.name} {meta.version} depends on no linux-image package: {meta.depends!r}")


def guest_files() -> dict[str, bytes]:
    """The guest's scripts and templates (package data under ``guest/``)."""
    base = resources.files(__package__) / "guest"
    return {name: (base / name).read_bytes() for name in GUEST_FILES}


def cache_key(packages: Sequence[DebPackage], files: Mapping[str, bytes], *,
              modules: Sequence[str] = GUEST_MODULES, root_size: int = ROOT_IMAGE_SIZE,
              variant: GuestVariant | None = None) -> str:
    """The hash of everything the artefacts are made of. ``variant`` (other
    than the default) adds its description; its root size overrides
    ``root_size``."""
    h = hashlib.sha256()
    if variant is not None:
        root_size = variant.root_size
    doc: dict = {
        "builder": BUILDER_VERSION,
        "packages": sorted([p.name, p.version, p.sha256] for p in packages),
        "files": {name: hashlib.sha256(files[name]).hexdigest() for name in sorted(files)},
        "modules": list(modules),
        "root_size": root_size,
        "epoch": SOURCE_DATE_EPOCH,
    }
    extra = variant.key_inputs() if variant is not None else None
    if extra is not None:
        doc["variant"] = extra
    h.update(json.dumps(doc, sort_keys=True).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------- kernel modules
def read_modinfo(data: bytes) -> dict[str, str]:
    """The ``.modinfo`` section of a kernel module (an ELF64 object):
    ``name``, ``depends``, ``license``… (the first value of each key)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise GuestImageError("not an ELF64 kernel module")
    endian = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(endian + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", data, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        name, = struct.unpack_from(endian + "I", data, base)
        offset, size = struct.unpack_from(endian + "QQ", data, base + 0x18)
        return name, offset, size

    _, str_off, str_size = section(shstrndx)
    names = data[str_off:str_off + str_size]
    for i in range(shnum):
        name_off, offset, size = section(i)
        name = names[name_off:names.index(b"\0", name_off)]
        if name == b".modinfo":
            info: dict[str, str] = {}
            for entry in data[offset:offset + size].split(b"\0"):
                key, sep, value = entry.partition(b"=")
                if sep and key.decode(errors="replace") not in info:
                    info[key.decode(errors="replace")] = value.decode(errors="replace")
            return info
    raise GuestImageError("kernel module has no .modinfo section")


def module_name(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("-", "_")


def module_load_order(wanted: Iterable[str], depends: Callable[[str], Sequence[str]]) -> list[str]:
    """Every module in ``wanted`` and all they depend on, each after its
    dependencies (a depth-first topological order, stable in input order)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        name = name.replace("-", "_")
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise GuestImageError("kernel module dependency cycle: " + " -> ".join(chain + (name,)))
        state[name] = "visiting"
        for dep in depends(name):
            if dep:
                visit(dep, chain + (name,))
        state[name] = "done"
        order.append(name)

    for name in wanted:
        visit(name, ())
    return order


# ---------------------------------------------------------------------- artefacts
@dataclass(frozen=True)
class GuestArtifacts:
    """A built guest: files in ``directory``, named by the cache key."""

    key: str
    directory: Path
    kernel_release: str
    packages: tuple[tuple[str, str], ...] = field(default=())
    name: str = DEFAULT_VARIANT.name  # the image's name in the cloud (its variant's)
    min_ram_mb: int = DEFAULT_VARIANT.min_ram_mb

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def root_image(self) -> Path:
        return self.directory / "root.img"

    @property
    def manifest(self) -> Path:
        return self.directory / "manifest.json"

    def sha256(self) -> dict[str, str]:
        return {p.name: _sha256_file(p) for p in (self.kernel, self.initrd, self.root_image)}


def default_cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$OCTOPROBE_CACHE_DIR``, else ``$XDG_CACHE_HOME/octoprobe``, else ``~/.cache/octoprobe``."""
    if env.get("OCTOPROBE_CACHE_DIR"):
        return Path(env["OCTOPROBE_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "octoprobe"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class GuestImageBuilder:
    """Builds the artefacts of one guest variant (the default: the guest
    image) into ``cache_dir/guest/<key>/``; Debian packages are kept in
    ``cache_dir/debs/``."""

    def __init__(self, cache_dir: Path | None = None, *, runner: Runner | None = None,
                 progress: Callable[[str], None] = lambda msg: None, variant: GuestVariant | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.runner = runner or LocalRunner()
        self.progress = progress
        self.variant = variant or DEFAULT_VARIANT

    @property
    def debs_dir(self) -> Path:
        return self.cache_dir / "debs"

    def _run(self, argv: Sequence[str], *, timeout: float = TOOL_TIMEOUT, cwd: Path | None = None,
             env: Mapping[str, str] | None = None) -> str:
        try:
            proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise GuestImageError(f"{' '.join(argv)}: timed out after {timeout:g} s") from exc
        except FileNotFoundError as exc:
            raise GuestImageError(f"{argv[0]} is not installed ({_PROGRAM_PACKAGES.get(argv[0], '?')})") from exc
        if proc.returncode != 0:
            raise GuestImageError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()[-800:]}")
        return proc.stdout

    # -- inputs ------------------------------------------------------------------
    def resolve_packages(self) -> list[DebPackage]:
        """The exact packages (version and archive hash) the build uses now."""
        out = self._run(["apt-cache", "show", "--no-all-versions", KERNEL_META_PACKAGE], timeout=60)
        meta = parse_apt_cache_show(out)
        if not meta:
            raise GuestImageError(f"apt-cache knows no {KERNEL_META_PACKAGE}: run apt-get update")
        kernel = kernel_package_of(meta[0])
        names = [kernel, *self.variant.userspace_packages()]
        packages = parse_apt_cache_show(
            self._run(["apt-cache", "show", "--no-all-versions", *names], timeout=60))
        found = {p.name for p in packages}
        missing = [n for n in names if n not in found]
        if missing:
            raise GuestImageError(f"apt-cache knows no {', '.join(missing)}: run apt-get update")
        if packages[0].name != kernel:
            raise GuestImageError(f"apt-cache show listed {packages[0].name} first, not the kernel {kernel}")
        return packages

    def key(self, packages: Sequence[DebPackage] | None = None) -> str:
        return cache_key(packages if packages is not None else self.resolve_packages(), guest_files(),
                         variant=self.variant)

    def cached(self, key: str) -> GuestArtifacts | None:
        directory = self.cache_dir / "guest" / key
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        art = GuestArtifacts(key, directory, manifest["kernel_release"],
                             tuple(tuple(p) for p in manifest["packages"]), self.variant.name,
                             self.variant.min_ram_mb)
        if all(p.exists() for p in (art.kernel, art.initrd, art.root_image)):
            return art
        return None

    def fetch(self, packages: Sequence[DebPackage]) -> dict[str, Path]:
        """The .deb of every package, downloaded with ``apt-get download`` when
        not cached, each checked against the archive's SHA256."""
        self.debs_dir.mkdir(parents=True, exist_ok=True)
        paths = {p.name: self.debs_dir / p.deb_name for p in packages}
        wanted = [p for p in packages if not (paths[p.name].exists() and _sha256_file(paths[p.name]) == p.sha256)]
        if wanted:
            self.progress(f"{self.variant.label}: downloading {len(wanted)} Debian package(s)")
            self._run(["apt-get", "download", *[f"{p.name}={p.version}" for p in wanted]],
                      cwd=self.debs_dir, timeout=APT_TIMEOUT)
            for p in wanted:
                # apt-get names the file with the epoch's ':' escaped as %3a
                escaped = self.debs_dir / f"{p.name}_{p.version.replace(':', '%3a')}_{p.deb_name.rsplit('_', 1)[1]}"
                if escaped.exists() and escaped != paths[p.name]:
                    escaped.replace(paths[p.name])
        for p in packages:
            path = paths[p.name]
            if not path.exists():
                raise GuestImageError(f"apt-get download did not produce {path.name}")
            if _sha256_file(path) != p.sha256:
                path.unlink()
                raise GuestImageError(f"{path.name} does not match the archive's SHA256; removed it, try again")
        return paths

    # -- the build ---------------------------------------------------------------
    def build(self, *, force: bool = False) -> GuestArtifacts:
        packages = self.resolve_packages()
        key = self.key(packages)
        if not force:
            art = self.cached(key)
            if art is not None:
                return art
        with self._build_lock():
            if not force:  # another process may have built it while we waited
                art = self.cached(key)
                if art is not None:
                    return art
            return self._build(packages, key)

    @contextlib.contextmanager
    def _build_lock(self) -> Iterator[None]:
        """One build at a time per cache directory (two clouds coming up at once
        share the downloads and the result)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / "build.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.progress(f"{self.variant.label}: waiting for another build in {self.cache_dir}")
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _build(self, packages: Sequence[DebPackage], key: str) -> GuestArtifacts:
        for tool in ("dpkg-deb", "cpio", "mkfs.ext4"):
            if shutil.which(tool) is None:
                raise GuestImageError(f"{tool} is not installed ({_PROGRAM_PACKAGES[tool]})")
        debs = self.fetch(packages)
        self.progress(f"{self.variant.label}: building {key[:12]} from {len(packages)} Debian packages")
        (self.cache_dir / "guest").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="build-", dir=self.cache_dir / "guest") as tmp:
            work = Path(tmp)
            out = work / "out"
            out.mkdir()
            kernel_pkg = packages[0]
            release = self._unpack_kernel(debs[kernel_pkg.name], work / "kernel", out)
            files = guest_files()
            busybox = self._build_rootfs(packages[1:], debs, files, work / "root", out / "root.img", key)
            self._build_initramfs(work / "kernel", release, busybox, files, work / "initramfs", out / "initrd.img")
            manifest = {
                "key": key,
                "kernel_release": release,
                "packages": [[p.name, p.version] for p in packages],
                "modules": list(GUEST_MODULES),
                "root_size": self.variant.root_size,
            }
            if not self.variant.is_default:
                manifest["variant"] = self.variant.name
            art = GuestArtifacts(key, out, release, tuple((p.name, p.version) for p in packages),
                                 self.variant.name, self.variant.min_ram_mb)
            manifest["sha256"] = art.sha256()
            (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            final = self.cache_dir / "guest" / key
            if final.exists():
                shutil.rmtree(final)
            out.replace(final)
        self.progress(f"{self.variant.label}: built {key[:12]} in {final}")
        return self.cached(key) or GuestArtifacts(key, final, release, name=self.variant.name,
                                                  min_ram_mb=self.variant.min_ram_mb)

    def _unpack_kernel(self, deb: Path, into: Path, out: Path) -> str:
        into.mkdir()
        self._run(["dpkg-deb", "-x", str(deb), str(into)])
        kernels = sorted((into / "boot").glob("vmlinuz-*"))
        if not kernels:
            raise GuestImageError(f"{deb.name} has no /boot/vmlinuz-*")
        release = kernels[0].name[len("vmlinuz-"):]
        shutil.copyfile(kernels[0], out / "vmlinuz")
        os.chmod(out / "vmlinuz", 0o644)
        os.utime(out / "vmlinuz", (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        return release

    def _build_initramfs(self, kernel_tree: Path, release: str, busybox: Path, files: Mapping[str, bytes],
                         tree: Path, output: Path) -> None:
        moddir = kernel_tree / "lib" / "modules" / release
        index = {module_name(p): p for p in moddir.rglob("*.ko*")}

        def depends(name: str) -> list[str]:
            if name not in index:
                raise GuestImageError(f"kernel {release} has no module {name}")
            info = read_modinfo(_read_module(index[name]))
            return [d for d in info.get("depends", "").split(",") if d]

        order = [m for m in module_load_order(GUEST_MODULES, depends)]
        for d in ("bin", "dev", "proc", "sys", "newroot", "etc", "lib/modules"):
            (tree / d).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(busybox, tree / "bin" / "busybox")
        os.chmod(tree / "bin" / "busybox", 0o755)
        loaded = []
        for name in order:
            target = tree / "lib" / "modules" / f"{name}.ko"
            target.write_bytes(_read_module(index[name]))
            loaded.append(target.name)
        (tree / "etc" / "modules.load").write_text("\n".join(loaded) + "\n")
        (tree / "init").write_bytes(files["initramfs-init"])
        os.chmod(tree / "init", 0o755)
        _normalise_tree(tree)
        names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
        listing = "\n".join(["."] + names) + "\n"
        proc = subprocess.run(["cpio", "--create", "--format=newc", "--reproducible", "--owner=0:0", "--quiet"],
                              cwd=tree, input=listing.encode(), capture_output=True, timeout=TOOL_TIMEOUT)
        if proc.returncode != 0:
            raise GuestImageError(f"cpio: {proc.stderr.decode(errors='replace')[-500:]}")
        with open(output, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                gz.write(proc.stdout)
        os.utime(output, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))

    def _build_rootfs(self, packages: Sequence[DebPackage], debs: Mapping[str, Path], files: Mapping[str, bytes],
                      root: Path, output: Path, key: str) -> Path:
        root.mkdir()
        partial = self.variant.partial_packages()
        for p in packages:
            if p.name not in partial:
                self._run(["dpkg-deb", "-x", str(debs[p.name]), str(root)])
                continue
            whole = root.parent / f"package-{p.name}"
            self._run(["dpkg-deb", "-x", str(debs[p.name]), str(whole)])
            for rel in partial[p.name]:
                if not (whole / rel).is_file():
                    raise GuestImageError(f"package {p.name} has no /{rel}")
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(whole / rel, root / rel)
            shutil.rmtree(whole)
        for rel in self.variant.prune_paths():
            shutil.rmtree(root / rel, ignore_errors=True)
        busybox = root / "bin" / "busybox"
        if not busybox.exists():
            raise GuestImageError("busybox-static has no /bin/busybox")
        # busybox's applets, where the binary says they belong (never over a real file)
        applets = self._run([str(busybox), "--list-full"]).split()
        for applet in applets:
            link = root / applet
            if link.exists() or link.is_symlink():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(busybox, link.parent))
        sbin_init = root / "sbin" / "init"
        if sbin_init.is_symlink() or not sbin_init.exists():
            sbin_init.unlink(missing_ok=True)
            sbin_init.symlink_to("../bin/busybox")
        for d in ("proc", "sys", "dev", "run", "tmp", "root", "etc/dropbear", "etc/acpi/PWRF", "var/log",
                  "usr/share/octoprobe", "mnt"):
            (root / d).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "tmp", 0o1777)
        os.chmod(root / "root", 0o700)
        if not (root / "var" / "run").exists():
            (root / "var" / "run").symlink_to("../run")
        lib64 = root / "lib64"
        if not lib64.exists() and (root / "lib" / "x86_64-linux-gnu" / "ld-linux-x86-64.so.2").exists():
            lib64.mkdir()
            (lib64 / "ld-linux-x86-64.so.2").symlink_to("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        etc = root / "etc"
        (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
        os.chmod(etc / "shadow", 0o600)
        (etc / "group").write_text("root:x:0:\ntty:x:5:\n")
        (etc / "shells").write_text("/bin/sh\n/bin/ash\n")
        (etc / "hostname").write_text("octoprobe-guest\n")
        (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n")
        (etc / "fstab").write_text(f"LABEL={ROOT_LABEL} / ext4 rw 0 1\n")
        (etc / "inittab").write_bytes(files["inittab"])
        (etc / "init.d").mkdir(exist_ok=True)
        for name, target, mode in (("rcS", "etc/init.d/rcS", 0o755), ("rcK", "etc/init.d/rcK", 0o755),
                                   ("acpi-power", "etc/acpi/PWRF/00000080", 0o755),
                                   ("udhcpc.script", "usr/share/octoprobe/udhcpc.script", 0o755),
                                   ("jsonflat.awk", "usr/share/octoprobe/jsonflat.awk", 0o644)):
            (root / target).write_bytes(files[name])
            os.chmod(root / target, mode)
        (root / "usr/share/octoprobe/build").write_text(f"{key}\n")
        for binary in self.variant.dynamic_binaries():
            if not (root / binary).exists():
                raise GuestImageError(f"the root file system has no /{binary}")
        self._check_libraries(root)
        _normalise_tree(root)
        fs_uuid = str(uuid.UUID(key[:32]))
        env = {"E2FSPROGS_FAKE_TIME": str(SOURCE_DATE_EPOCH), "MKE2FS_DEVICE_SECTSIZE": "512", "LC_ALL": "C"}
        output.unlink(missing_ok=True)
        with open(output, "wb") as f:
            f.truncate(self.variant.root_size)
        self._run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-L", ROOT_LABEL, "-U", fs_uuid,
                   "-E", f"hash_seed={fs_uuid},root_owner=0:0,lazy_itable_init=0,nodiscard",
                   "-d", str(root), str(output)], env=env)
        # mkfs.ext4 -d copies each file's atime and ctime, which reading the
        # tree and creating it changed: set them to the fixed time as well
        stamp = _debugfs_time(SOURCE_DATE_EPOCH)
        work_file = output.with_suffix(".debugfs")
        lines = []
        for path in ["/"] + sorted("/" + str(p.relative_to(root)) for p in root.rglob("*")):
            for fld in ("atime", "ctime"):
                lines.append(f'sif "{path}" {fld} {stamp}')
        work_file.write_text("\n".join(lines) + "\n")
        try:
            self._run(["debugfs", "-w", "-f", str(work_file), str(output)], env=env)
        finally:
            work_file.unlink(missing_ok=True)
        os.utime(output, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        return busybox

    def _check_libraries(self, root: Path) -> None:
        """Every shared library the dynamic binaries need, and the libraries
        those need in turn, is in the image."""
        missing = missing_libraries(root, self.variant.dynamic_binaries())
        if missing:
            raise GuestImageError("shared libraries missing from the guest: "
                                  + ", ".join(f"{k} (for {', '.join(v)})" for k, v in sorted(missing.items())))


LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib")


def missing_libraries(root: Path, binaries: Iterable[str]) -> dict[str, list[str]]:
    """The shared libraries (DT_NEEDED, followed through the libraries
    themselves) that ``binaries`` need and ``root`` does not have: library
    name → the programs or libraries that need it. Looked up in the
    standard directories and the RUNPATH/RPATH of the object that needs it."""
    missing: dict[str, list[str]] = {}
    seen: set[str] = set()
    todo = [(str(b), root / b) for b in binaries]
    while todo:
        who, path = todo.pop()
        dynamic = elf_dynamic(_resolve_in(root, path).read_bytes())
        dirs = [*LIBRARY_DIRS, *(d.replace("$ORIGIN", "/" + str(path.parent.relative_to(root))).lstrip("/")
                                 for d in dynamic.runpath)]
        for lib in dynamic.needed:
            found = next((root / d / lib for d in dirs if _resolve_in(root, root / d / lib).is_file()), None)
            if found is None:
                missing.setdefault(lib, []).append(who)
            elif lib not in seen:
                seen.add(lib)
                todo.append((lib, found))
    return missing


def _resolve_in(root: Path, path: Path, depth: int = 40) -> Path:
    """``path`` with its symbolic links followed inside ``root`` (an absolute
    link target is taken relative to ``root``, as the guest sees it)."""
    for _ in range(depth):
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        path = root / target.lstrip("/") if target.startswith("/") else path.parent / target
    raise GuestImageError(f"too many levels of symbolic links at {path}")


@dataclass(frozen=True)
class ElfDynamic:
    needed: tuple[str, ...]
    runpath: tuple[str, ...]  # DT_RUNPATH, else DT_RPATH, split at ':'


def elf_needed(data: bytes) -> list[str]:
    """The DT_NEEDED entries of an ELF64 little-endian executable."""
    return list(elf_dynamic(data).needed)


def elf_dynamic(data: bytes) -> ElfDynamic:
    """The DT_NEEDED and DT_RUNPATH (or DT_RPATH) entries of an ELF64
    little-endian executable or shared library."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise GuestImageError("not an ELF64 little-endian file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads = []
    dynamic = None
    for i in range(phnum):
        base = phoff + i * phentsize
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", data, base)
        if p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return ElfDynamic((), ())
    entries = []
    paths: dict[int, int] = {}
    strtab = None
    for off in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, val = struct.unpack_from("<qQ", data, off)
        if tag == 0:
            break
        if tag == 5:
            strtab = val
        elif tag == 1:
            entries.append(val)
        elif tag in (15, 29):  # DT_RPATH, DT_RUNPATH
            paths[tag] = val
    if strtab is None:
        return ElfDynamic((), ())
    str_off = next((off + strtab - vaddr for vaddr, off, size in loads if vaddr <= strtab < vaddr + size), None)
    if str_off is None:
        raise GuestImageError("ELF string table outside every loaded segment")

    def string(at: int) -> str:
        return data[str_off + at:data.index(b"\0", str_off + at)].decode()

    path = paths.get(29, paths.get(15))
    runpath = tuple(d for d in string(path).split(":") if d) if path is not None else ()
    return ElfDynamic(tuple(string(e) for e in entries), runpath)


def _read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        import lzma
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        raise GuestImageError(f"{path.name}: zstd-compressed modules are not supported")
    return data


def _debugfs_time(epoch: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y%m%d%H%M%S")


def _normalise_tree(root: Path) -> None:
    """Fixed owners and times on every file, so the artefacts are reproducible."""
    as_root = os.geteuid() == 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if as_root:
                os.lchown(p, 0, 0)
            os.utime(p, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH), follow_symlinks=False)
    os.utime(root, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))


_PROGRAM_PACKAGES = {
    "apt-cache": "Debian package apt",
    "apt-get": "Debian package apt",
    "dpkg-deb": "Debian package dpkg",
    "cpio": "Debian package cpio",
    "mkfs.ext4": "Debian package e2fsprogs",
    "debugfs": "Debian package e2fsprogs",
}


def build_guest_image(cache_dir: Path | None = None, *, force: bool = False,
                      progress: Callable[[str], None] = lambda msg: None,
                      variant: GuestVariant | None = None) -> GuestArtifacts:
    """Build the guest's kernel, initramfs and root image (a no-op when the
    cache has them for the current inputs); ``variant``: another image than
    the default guest (e.g. :data:`PERF_VARIANT`)."""
    return GuestImageBuilder(cache_dir, progress=progress, variant=variant).build(force=force)
