"""QEMU processes: the command line (a pure function), the accelerator
probe, and finding our QEMU processes.

One QEMU per VM, started inside its compute host's namespace with
``-daemonize`` (so a QEMU that cannot open its disk or tap fails the start
command itself, with QEMU's message). A process is ours when one of its
arguments lies under the cloud's ``<state>/compute/`` directory (its pid
file, QMP socket, console): pid files alone are never trusted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .. import processes
from .errors import HypervisorError

QEMU = "qemu-system-x86_64"
ACCELS = ("kvm", "tcg")
ACCEL_ENV = "OCTOPROBE_ACCEL"
ACCEL_CACHE = Path("/run/octoprobe/accel.json")
PROBE_TIMEOUT = 20.0
TCG_TB_SIZE_MB = 64  # translation cache per VM (QEMU's default is 1 GiB)
KERNEL_ARGS = "console=ttyS0 root=/dev/vda rw panic=-1 quiet no_timer_check"


@dataclass(frozen=True)
class DriveSpec:
    device_id: str
    node: str  # -drive id
    file: str  # rbd:pool/image:conf=…:id=admin, or a path
    readonly: bool = False
    serial: str | None = None


@dataclass(frozen=True)
class NicSpec:
    device_id: str
    tap: str
    mac: str


@dataclass(frozen=True)
class VmSpec:
    """Everything the QEMU command line of one VM is made from."""

    uuid: str
    name: str
    vcpus: int
    ram_mb: int
    kernel: str
    initrd: str
    root: DriveSpec
    config_drive: str | None
    nics: tuple[NicSpec, ...]
    volumes: tuple[DriveSpec, ...]
    qmp_socket: str
    console_log: str
    pid_file: str
    accel: str
    kernel_args: str = KERNEL_ARGS


def rbd_file(pool: str, image: str, conf: str, user: str = "admin") -> str:
    """The ``-drive file=`` string of QEMU's rbd driver."""
    for what, value in (("pool", pool), ("image", image), ("conf", conf)):
        if ":" in value or "," in value:
            raise HypervisorError(f"{what} {value!r} must not contain ':' or ','")
    return f"rbd:{pool}/{image}:conf={conf}:id={user}"


def qemu_argv(spec: VmSpec) -> list[str]:
    if spec.accel not in ACCELS:
        raise HypervisorError(f"unknown accelerator {spec.accel!r}")
    argv = [
        QEMU,
        "-name", f"guest={spec.name},debug-threads=on",
        "-uuid", spec.uuid,
        "-machine", "pc",
    ]
    if spec.accel == "tcg":
        argv += ["-accel", f"tcg,tb-size={TCG_TB_SIZE_MB},thread=multi"]
    else:
        argv += ["-accel", "kvm", "-cpu", "max"]
    argv += [
        "-m", str(spec.ram_mb),
        "-smp", str(spec.vcpus),
        "-nodefaults", "-no-user-config", "-display", "none",
        "-no-shutdown",  # a guest that powers off stays, in state "shutdown": we read it and quit it
        "-kernel", spec.kernel,
        "-initrd", spec.initrd,
        "-append", spec.kernel_args,
    ]
    drives = [spec.root]
    for d in drives + list(spec.volumes):
        argv += ["-drive", _drive_opt(d)]
        argv += ["-device", _blk_device(d)]
    if spec.config_drive:
        argv += ["-drive", f"file={spec.config_drive},format=raw,if=none,id=config,readonly=on",
                 "-device", "virtio-blk-pci,drive=config,id=config-disk,serial=config-2"]
    for nic in spec.nics:
        argv += ["-netdev", f"tap,id={nic.device_id}-net,ifname={nic.tap},script=no,downscript=no",
                 "-device", f"virtio-net-pci,netdev={nic.device_id}-net,id={nic.device_id},mac={nic.mac}"]
    argv += [
        "-device", "virtio-rng-pci",
        "-chardev", f"file,id=console,path={spec.console_log},append=on",
        "-serial", "chardev:console",
        "-qmp", f"unix:{spec.qmp_socket},server=on,wait=off",
        "-pidfile", spec.pid_file,
        "-daemonize",
    ]
    return argv


def _drive_opt(d: DriveSpec) -> str:
    opt = f"file={d.file},format=raw,if=none,id={d.node},cache=writeback,discard=unmap"
    if d.readonly:
        opt += ",readonly=on"
    return opt


def _blk_device(d: DriveSpec) -> str:
    dev = f"virtio-blk-pci,drive={d.node},id={d.device_id}"
    if d.serial:
        dev += f",serial={d.serial}"
    return dev


# ---------------------------------------------------------------------- accelerator
@dataclass(frozen=True)
class AccelChoice:
    accel: str
    reason: str


def choose_accel(kernel: str, initrd: str, *, env: Mapping[str, str] = os.environ,
                 cache: Path = ACCEL_CACHE, probe_timeout: float = PROBE_TIMEOUT) -> AccelChoice:
    """KVM if a probe boot under KVM reaches the initramfs within
    ``probe_timeout``, else TCG; ``$OCTOPROBE_ACCEL`` (kvm|tcg) overrides it.
    The probe's answer is cached in ``cache`` (under /run: until the machine
    reboots) together with the QEMU binary it was measured with."""
    forced = env.get(ACCEL_ENV, "").strip().lower()
    if forced:
        if forced not in ACCELS:
            raise HypervisorError(f"{ACCEL_ENV}={forced!r}: must be one of {', '.join(ACCELS)}")
        return AccelChoice(forced, f"set by {ACCEL_ENV}")
    qemu = shutil.which(QEMU)
    if qemu is None:
        raise HypervisorError(f"{QEMU} is not installed (Debian package qemu-system-x86)")
    fingerprint = f"{qemu}:{os.stat(qemu).st_mtime_ns}"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("qemu") == fingerprint and cached.get("accel") in ACCELS:
            return AccelChoice(cached["accel"], cached.get("reason", "cached probe"))
    except (OSError, ValueError):
        pass
    choice = probe_kvm(kernel, initrd, timeout=probe_timeout)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"accel": choice.accel, "reason": choice.reason, "qemu": fingerprint,
                                     "measured_at": time.time()}) + "\n")
    except OSError:
        pass
    return choice


def probe_kvm(kernel: str, initrd: str, *, timeout: float = PROBE_TIMEOUT) -> AccelChoice:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return AccelChoice("tcg", "/dev/kvm is missing or not accessible")
    argv = [QEMU, "-machine", "pc,accel=kvm", "-cpu", "max", "-m", "128", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 octoprobe.probe=1 panic=-1 loglevel=1",
            "-serial", "stdio"]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        return AccelChoice("tcg", f"a KVM guest made no progress within {timeout:g} s")
    text = out.decode(errors="replace")
    if "OCTOPROBE-PROBE-OK" in text:
        return AccelChoice("kvm", f"a KVM probe boot reached userspace in {time.monotonic() - start:.1f} s")
    tail = " ".join(text.strip().splitlines()[-2:])[:300]
    return AccelChoice("tcg", f"KVM probe failed (exit {proc.returncode}): {tail}")


# ---------------------------------------------------------------------- processes
def is_qemu(argv: Sequence[str]) -> bool:
    return bool(argv) and os.path.basename(argv[0]).startswith("qemu-system")


def find_qemu_under(directory: Path) -> list[processes.Process]:
    """Every live QEMU with an argument under ``directory``."""
    prefix = str(directory).rstrip("/") + "/"
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        argv = processes.cmdline(int(entry.name))
        if argv and is_qemu(argv) and any(a.startswith(prefix) or f"={prefix}" in a for a in argv):
            if processes.alive(int(entry.name)):
                found.append(processes.Process(int(entry.name), argv))
    return found


def qemu_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is a live QEMU of this VM."""
    pid = processes.read_pid_file(pid_file)
    if pid is None or not processes.alive(pid):
        return None
    argv = processes.cmdline(pid)
    if argv and is_qemu(argv) and str(pid_file) in argv:
        return pid
    return None


def qemu_version() -> str:
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[0] if out else "unknown"
