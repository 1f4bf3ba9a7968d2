"""The workload and the checker against a fake ``rados`` (an in-memory
object store behind the Runner interface): acknowledged vs indeterminate
writes, and every verdict the checker can give."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from octoprobe.chaos.checker import check
from octoprobe.chaos.workload import ObjectMissing, RadosObjects, Workload, payload, sha256
from octoprobe.shell import CommandError, Result

ENOENT = "error getting volumes/x: (2) No such file or directory\n"


class FakeRados:
    """``rados [--conf C] [--name N] -p POOL -N NS put|get|rm|ls ...`` on a dict."""

    def __init__(self):
        self.store: dict[tuple[str, str, str], bytes] = {}
        self.fail_puts: dict[str, str] = {}  # name -> "timeout" | "error" | "applied-timeout"
        self.hang_gets: set[str] = set()
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv, *, timeout, check=True, input=None, env=None):
        argv = tuple(argv)
        self.calls.append(argv)
        assert argv[0] == "rados" and timeout > 0
        pool = argv[argv.index("-p") + 1]
        ns = argv[argv.index("-N") + 1]
        op, *args = argv[argv.index("-N") + 2:]
        rc, out, err = 0, "", ""
        if op == "put":
            name, path = args
            mode = self.fail_puts.get(name)
            if mode in ("applied-timeout",):
                self.store[(pool, ns, name)] = Path(path).read_bytes()
            if mode in ("timeout", "applied-timeout"):
                raise CommandError(argv, f"timed out after {timeout:g} s")
            if mode == "error":
                rc, err = 1, "error putting: (5) Input/output error"
            else:
                self.store[(pool, ns, name)] = Path(path).read_bytes()
        elif op == "get":
            name, path = args
            if name in self.hang_gets:
                raise CommandError(argv, f"timed out after {timeout:g} s")
            if (pool, ns, name) in self.store:
                Path(path).write_bytes(self.store[(pool, ns, name)])
            else:
                rc, err = 1, ENOENT
        elif op == "rm":
            (name,) = args
            if self.store.pop((pool, ns, name), None) is None:
                rc, err = 1, ENOENT
        elif op == "ls":
            out = "".join(f"{n}\n" for (p, s, n) in self.store if (p, s) == (pool, ns))
        result = Result(argv, rc, out, err)
        if check and rc:
            raise CommandError(argv, f"exit status {rc}: {err}", result)
        return result


@pytest.fixture
def rados(tmp_path):
    fake = FakeRados()
    objects = RadosObjects(fake, conf="/x/ceph.conf", pool="volumes", scratch=tmp_path / "scratch")
    return fake, objects


def test_payload_is_a_pure_function_of_seed_name_and_size():
    a = payload("run1", "obj-1", 4096)
    assert a == payload("run1", "obj-1", 4096) and len(a) == 4096
    assert a != payload("run2", "obj-1", 4096) and a != payload("run1", "obj-2", 4096)
    assert payload("run1", "obj-1", 100) != a[:100]  # the size is part of the content


def test_objects_go_to_their_own_namespace_and_scratch_files_are_removed(rados, tmp_path):
    fake, objects = rados
    objects.put("a", b"hello", timeout=5)
    assert fake.calls[0][:9] == ("rados", "--conf", "/x/ceph.conf", "--name", "client.admin", "-p", "volumes",
                                 "-N", "octoprobe-chaos")
    assert objects.get("a", timeout=5) == b"hello"
    assert objects.list(timeout=5) == ["a"]
    with pytest.raises(ObjectMissing):
        objects.get("b", timeout=5)
    assert objects.remove("a", timeout=5) is True and objects.remove("a", timeout=5) is False
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_write_is_acknowledged_only_when_rados_put_succeeded(rados):
    fake, objects = rados
    wl = Workload(objects, run="t1", write_timeout=5)
    first = wl.write_batch("before", count=3, size=1000, concurrency=2)
    assert [r.ok for r in first] == [True, True, True]
    fake.fail_puts["t1-during-000003"] = "timeout"
    fake.fail_puts["t1-during-000004"] = "error"
    r3, r4 = wl.write_one("during", 10), wl.write_one("during", 10)
    assert not r3.ok and "timed out" in r3.error and not r4.ok and "Input/output" in r4.error
    assert len(wl.history.acknowledged()) == 3 and len(wl.history.indeterminate()) == 2
    assert all(r.sha256 == sha256(payload("t1", r.name, r.size)) for r in wl.history.records)


def test_checker_passes_when_every_acknowledged_write_reads_back_intact(rados):
    fake, objects = rados
    wl = Workload(objects, run="ok")
    wl.write_batch("before", count=5, size=2048)
    result = check(objects, wl.history, unfound=0, read_timeout=5)
    assert result.ok and result.verified == result.acknowledged == 5
    assert result.counts()["lost"] == 0 and result.bytes_verified == 5 * 2048


def test_checker_counts_lost_corrupt_unreadable_and_unfound(rados):
    fake, objects = rados
    wl = Workload(objects, run="bad")
    recs = wl.write_batch("before", count=6, size=512)
    ns = ("volumes", "octoprobe-chaos")
    del fake.store[(*ns, recs[0].name)]  # lost
    fake.store[(*ns, recs[1].name)] = b"x" * 512  # same size, other bytes
    fake.store[(*ns, recs[2].name)] = fake.store[(*ns, recs[2].name)][:100]  # truncated
    fake.hang_gets.add(recs[3].name)  # a read that blocks past its timeout
    result = check(objects, wl.history, unfound=2, read_timeout=5)
    c = result.counts()
    assert (c["lost"], c["corrupt"], c["unreadable"], c["unfound"], c["verified"]) == (1, 2, 1, 2, 2)
    assert not result.ok
    assert result.errors[recs[2].name] == "100 bytes, expected 512"
    assert recs[0].name in result.summary()


def test_indeterminate_writes_may_be_present_or_absent_but_never_corrupt(rados):
    fake, objects = rados
    wl = Workload(objects, run="ind")
    fake.fail_puts["ind-during-000000"] = "applied-timeout"  # applied, then the client gave up
    fake.fail_puts["ind-during-000001"] = "timeout"  # never applied
    fake.fail_puts["ind-during-000002"] = "applied-timeout"
    for _ in range(3):
        wl.write_one("during", 300)
    fake.store[("volumes", "octoprobe-chaos", "ind-during-000002")] = b"y" * 300
    result = check(objects, wl.history, read_timeout=5)
    c = result.counts()
    assert (c["acknowledged"], c["indeterminate"], c["indeterminate_present"], c["indeterminate_absent"]) == \
        (0, 3, 1, 1)
    assert result.corrupt == ("ind-during-000002",) and not result.ok


def test_background_writers_are_bounded_and_stop(rados):
    fake, objects = rados
    wl = Workload(objects, run="bg", write_timeout=5)
    wl.start_background("during", size=64, interval=0.0, concurrency=2, max_objects=7, max_seconds=30)
    deadline = time.monotonic() + 10
    while len(wl.history) < 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    wl.stop_background(timeout=10)
    assert len(wl.history) == 7 and all(r.phase == "during" for r in wl.history.records)
    assert wl.cleanup() == 7 and objects.list(timeout=5) == []
