"""State directory, the state lock and process discovery (no root needed)."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from octoprobe.reference_impl import processes
from octoprobe.reference_impl.state import CloudPaths, LockTimeout, StateLock, default_prefix, default_state_dir


def test_state_dir_from_environment(tmp_path):
    assert default_state_dir({"OCTOPROBE_STATE_DIR": str(tmp_path)}) == tmp_path.resolve()
    xdg = default_state_dir({"XDG_STATE_HOME": str(tmp_path)})
    assert xdg == tmp_path.resolve() / "octoprobe" / "cloud"
    assert default_state_dir({}).parts[-4:] == (".local", "state", "octoprobe", "cloud")


def test_prefix_from_environment():
    assert default_prefix({}) == "octo"
    assert default_prefix({"OCTOPROBE_PREFIX": "octt"}) == "octt"
    with pytest.raises(ValueError):
        default_prefix({"OCTOPROBE_PREFIX": "much-too-long"})


def test_paths_layout_is_under_root(tmp_path):
    paths = CloudPaths(tmp_path)
    for p in (paths.lock, paths.ceph_conf, paths.admin_keyring, paths.mon_data("ctl"),
              paths.osd_data(3), paths.pid_file("osd.3"), paths.log):
        assert tmp_path in p.parents


HOLDER = """
import sys, time
from pathlib import Path
from octoprobe.reference_impl.state import StateLock
with StateLock(Path(sys.argv[1]), timeout=5):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_holder_is_told_and_waits(tmp_path):
    lock = tmp_path / "lock"
    holder = _hold_lock(lock, 1.0)
    messages = []
    started = time.monotonic()
    with StateLock(lock, timeout=10, on_wait=messages.append, poll=0.05):
        waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert waited > 0.3, "the lock was not held by the other process"
    assert len(messages) == 1 and f"pid {holder.pid}" in messages[0]


def test_lock_times_out_with_clear_message(tmp_path):
    lock = tmp_path / "lock"
    holder = _hold_lock(lock, 3.0)
    try:
        with pytest.raises(LockTimeout, match=f"pid {holder.pid}"):
            with StateLock(lock, timeout=0.3, poll=0.05):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_reentrant_after_release(tmp_path):
    lock = tmp_path / "lock"
    for _ in range(2):
        with StateLock(lock, timeout=1):
            assert lock.read_text().strip().isdigit()


def test_find_and_stop_processes_by_marker(tmp_path):
    marker = str(tmp_path / "ceph.conf")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--conf", marker])
    try:
        deadline = time.monotonic() + 5
        while not (found := processes.find_processes(marker)) and time.monotonic() < deadline:
            time.sleep(0.01)  # until the child has exec'd
        assert [p.pid for p in found] == [proc.pid]
        pid_file = tmp_path / "x.pid"
        pid_file.write_text(f"{proc.pid}\n")
        assert processes.live_pid(pid_file, marker) == proc.pid
        assert processes.live_pid(pid_file, "/some/other.conf") is None  # not ours
        assert processes.rss_bytes(proc.pid) > 0
        assert processes.stop([proc.pid], timeout=5) == []
        proc.wait(timeout=5)
        assert processes.live_pid(pid_file, marker) is None  # stale pid file
    finally:
        proc.kill()


def test_stop_kills_what_ignores_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c",
                             "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                             "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    killed = processes.stop([proc.pid], timeout=0.3)
    assert killed == [proc.pid]
    proc.wait(timeout=5)
