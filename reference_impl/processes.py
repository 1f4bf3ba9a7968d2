"""Finding and stopping the daemons the reference cloud started.

A daemon is ours when its command line contains our Ceph config path, which
lives inside our state directory: pid files can be stale (a crash, a reboot,
a recycled pid) and are never trusted on their own.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...]


def cmdline(pid: int) -> tuple[str, ...] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if not raw:
        return None  # a zombie or a kernel thread
    return tuple(part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0"))


def find_processes(marker: str) -> list[Process]:
    """Every live process whose command line has ``marker`` as one argument."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        argv = cmdline(pid)
        if argv and marker in argv:
            found.append(Process(pid, argv))
    return found


def read_pid_file(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def live_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and is ours."""
    pid = read_pid_file(pid_file)
    if pid is None:
        return None
    argv = cmdline(pid)
    if argv and marker in argv:
        return pid
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop(pids: list[int], *, timeout: float, sig: int = signal.SIGTERM) -> list[int]:
    """Send ``sig`` to every pid, wait up to ``timeout`` s, SIGKILL what is left.

    Returns the pids that had to be killed."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    remaining = [p for p in pids if alive(p)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [p for p in remaining if alive(p)]
    for pid in remaining:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while any(alive(p) for p in remaining) and time.monotonic() < deadline:
        time.sleep(0.05)
    return remaining


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
