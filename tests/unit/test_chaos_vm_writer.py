"""octoprobe.chaos.vm: the guest's block writer's log, its checker and its
measurements, on recorded outputs (the ack log below is the start of a real
writer's log in an octoprobe-guest VM on the reference cloud)."""

from __future__ import annotations

import base64
import hashlib
import random

import pytest

from octoprobe.chaos.vm import (
    HEADER_SIZE,
    AckRecord,
    ClockSample,
    GuestBlockWriter,
    GuestError,
    estimate_offset,
    io_stats,
    make_block,
    parse_ack_log,
    parse_header,
    rbd_object_names,
    read_rbd_range,
    verify_blocks,
    write_records,
)
from octoprobe.shell import CommandError, Result

RECORDED = """\
start 18.56 r1 4096 2000 /dev/vdc
ack 0 18.57 18.58 f7c7e83f11e2ac27502a1d8d1b55a3d53111b861ded246a12c1869fb3cf5e032
ack 1 18.70 18.71 efccccc7bad8621db198916daef8ddcde4d801c04d3431decaa09353f72a7a8d
ack 2 18.83 18.84 75064eeb7dfcbdeeebde613d113ce79825a9e9ea7337740739828ecd28c6df0b
fail 3 18.96 21.97 5f2d531124b83d5f1c2024363ca3d54c6ac999425fa5d0309495d9142e05421d rc=1 dd: error writing '/dev/vdc': Input/output error
ack 4 22.08 22.09 f19e8dc87e22f33f9b1a91b57dd389fce07d9f80ce6a2c54249ceb2e7aa7ed04
end 22.30 stop
"""

BS = 4096


def _payload(seq: int) -> bytes:
    return random.Random(seq).randbytes(BS - HEADER_SIZE)


def _disk(run: str, seqs, *, blocks: int | None = None) -> tuple[bytearray, list[AckRecord]]:
    n = blocks if blocks is not None else max(seqs) + 1
    disk = bytearray(n * BS)
    records = []
    for i, seq in enumerate(seqs):
        block = make_block(run, seq, _payload(seq))
        assert len(block) == BS
        disk[seq * BS:(seq + 1) * BS] = block
        records.append(AckRecord(seq, 10.0 + i, 10.01 + i, hashlib.sha256(_payload(seq)).hexdigest(), True))
    return disk, records


def test_parse_recorded_ack_log():
    log = parse_ack_log(RECORDED)
    assert (log.started, log.run, log.block_size, log.device) == (18.56, "r1", 4096, "/dev/vdc")
    assert (log.ended, log.end_reason) == (22.30, "stop")
    assert [r.seq for r in log.acked] == [0, 1, 2, 4]
    assert [r.seq for r in log.failed] == [3]
    assert "Input/output error" in log.failed[0].error
    assert log.records[0].latency == pytest.approx(0.01)
    assert not log.malformed


def test_a_line_being_written_is_ignored_other_garbage_is_reported():
    cut = RECORDED.split("ack 4")[0] + "ack 4 22.08 22.0"
    log = parse_ack_log(cut)
    assert [r.seq for r in log.records] == [0, 1, 2, 3] and not log.malformed and log.ended is None
    log = parse_ack_log("ack x 1 2 abc\nack 5 1.0 2.0 nothex\nbogus 1\n")
    assert not log.records and len(log.malformed) == 3
    assert parse_ack_log("").records == []


def test_header_round_trip_and_rejects():
    block = make_block("run-1", 42, _payload(42))
    assert parse_header(block) == ("run-1", 42, hashlib.sha256(_payload(42)).hexdigest())
    assert parse_header(bytes(BS)) is None
    assert parse_header(block[:100]) is None
    assert parse_header(b"OCTOPROBE-VM run x " + b" " * 200) is None


def test_every_acknowledged_block_verified():
    disk, records = _disk("r", range(10))
    check = verify_blocks(records, bytes(disk), block_size=BS, run="r")
    assert check.ok and check.counts() == {"acknowledged": 10, "verified": 10, "lost": 0, "corrupt": 0,
                                           "indeterminate": 0, "indeterminate_present": 0,
                                           "indeterminate_absent": 0}
    assert check.bytes_verified == 10 * BS


def test_lost_blocks_zeros_stale_run_and_short_read():
    disk, records = _disk("r", range(6))
    disk[1 * BS:2 * BS] = bytes(BS)  # never written
    disk[2 * BS:3 * BS] = make_block("old-run", 2, _payload(2))  # an earlier run's block
    disk[3 * BS:4 * BS] = make_block("r", 9, _payload(9))  # another write of this run
    check = verify_blocks(records, bytes(disk[:5 * BS + 100]), block_size=BS, run="r")
    assert check.lost == (1, 2, 3, 5) and not check.corrupt and check.verified == 2
    assert "zeros" in check.details[1] and "old-run" in check.details[2] and "short read" in check.details[5]
    assert not check.ok and "4 lost" in check.summary()


def test_corrupt_block_flipped_bit_and_wrong_acknowledged_checksum():
    disk, records = _disk("r", range(4))
    disk[1 * BS + 1000] ^= 0x01  # payload bit flip
    records[2] = AckRecord(2, 1, 2, "0" * 64, True)  # the guest acknowledged other bytes
    check = verify_blocks(records, bytes(disk), block_size=BS, run="r")
    assert check.corrupt == (1, 2) and not check.lost and check.verified == 2 and not check.ok


def test_indeterminate_writes_may_be_absent_but_not_broken():
    disk, records = _disk("r", range(4))
    records[1] = AckRecord(1, 1, 2, records[1].sha256, False, "rc=1")  # present, intact
    records[2] = AckRecord(2, 1, 2, records[2].sha256, False, "rc=1")
    disk[2 * BS:3 * BS] = bytes(BS)  # absent
    records[3] = AckRecord(3, 1, 2, records[3].sha256, False, "rc=1")
    disk[3 * BS + 500] ^= 0xFF  # present, broken
    check = verify_blocks(records, bytes(disk), block_size=BS, run="r")
    c = check.counts()
    assert (c["acknowledged"], c["indeterminate"], c["indeterminate_present"], c["indeterminate_absent"]) == \
        (1, 3, 1, 1)
    assert check.corrupt == (3,) and not check.lost


def test_first_block_offset_and_a_rewritten_seq_counts_its_last_write():
    disk, records = _disk("r", range(8))
    window = bytes(disk[4 * BS:])
    check = verify_blocks([r for r in records if r.seq >= 4], window, block_size=BS, run="r", first_block=4)
    assert check.verified == 4 and check.ok
    # a later, failed rewrite of seq 0 may not have happened: its acknowledged write is there
    again = AckRecord(0, 50, 51, "f" * 64, False, "rc=1")
    check = verify_blocks(records + [again], bytes(disk), block_size=BS, run="r")
    assert check.ok and check.verified == 8
    # a later acknowledged rewrite must be there: the older bytes are stale
    newer = AckRecord(1, 60, 61, "e" * 64, True)
    check = verify_blocks(records + [newer], bytes(disk), block_size=BS, run="r")
    assert check.corrupt == (1,) and check.verified == 7


def _acks(times, ok=True):
    return [AckRecord(i, t - 0.01, t, "a" * 64, ok) for i, t in enumerate(times)]


def test_io_stats_around_a_fault():
    # healthy every 0.2 s, injection at 11.0, nothing until 23.5, healed at 30
    times = [10.0, 10.2, 10.4, 10.6, 10.8, 23.5, 23.7, 29.9, 30.1, 30.3]
    s = io_stats(_acks(times), inject=11.0, heal=30.0)
    assert (s.acknowledged, s.acks_before_fault, s.acks_during_fault, s.acks_after_inject, s.acks_after_heal) == \
        (10, 5, 3, 5, 2)
    assert s.first_ack_after_inject_s == pytest.approx(12.5)
    assert s.stall_s == pytest.approx(12.5)
    assert s.max_gap_s == pytest.approx(12.7)  # 10.8 → 23.5, which includes time before the injection
    assert s.median_interval_before_s == pytest.approx(0.2)
    assert s.write_latency_max_s == pytest.approx(0.01)
    assert s.to_dict()["stall_s"] == 12.5


def test_io_stats_no_ack_after_the_fault_and_failures():
    recs = _acks([1.0, 1.5]) + [AckRecord(2, 2.0, 9.0, "b" * 64, False, "rc=1")]
    s = io_stats(recs, inject=1.7)
    assert s.acks_after_inject == 0 and s.stall_s is None and s.first_ack_after_inject_s is None
    assert s.failed == 1 and s.acks_during_fault == 0 and s.max_gap_s == pytest.approx(0.5)
    empty = io_stats([], inject=0.0)
    assert empty.acknowledged == 0 and empty.max_gap_s is None and empty.median_interval_before_s is None


def test_stall_counts_from_the_injection_to_a_later_long_gap():
    s = io_stats(_acks([1.0, 2.0, 2.1, 9.1, 9.2]), inject=1.5)
    assert s.first_ack_after_inject_s == pytest.approx(0.5) and s.stall_s == pytest.approx(7.0)


def test_estimate_offset_takes_the_tightest_round_trip():
    samples = [ClockSample(100.0, 19.0, 100.4), ClockSample(100.5, 19.5, 100.6), ClockSample(101.0, 19.9, 101.3)]
    offset, err = estimate_offset(samples)
    assert offset == pytest.approx(100.55 - 19.5) and err == pytest.approx(0.06)
    with pytest.raises(ValueError):
        estimate_offset([])


def test_write_records_in_prober_time():
    recs = _acks([1.0, 5.0]) + [AckRecord(2, 6.0, 7.0, "c" * 64, False, "rc=1")]
    out = write_records(recs, offset=100.0, run="vm-x", block_size=BS, inject=103.0)
    assert [(w.name, w.phase, w.ok) for w in out] == [("vm-x-0", "before", True), ("vm-x-1", "during", True),
                                                      ("vm-x-2", "during", False)]
    assert out[1].ended == pytest.approx(105.0) and out[2].error == "rc=1" and out[0].size == BS


def test_rbd_object_names():
    assert rbd_object_names("10f0a4b3a1da", 0, 4096, 4 << 20) == [("rbd_data.10f0a4b3a1da.0000000000000000", 0)]
    names = rbd_object_names("ab", (4 << 20) - 10, 20, 4 << 20)
    assert names == [("rbd_data.ab.0000000000000000", 0), ("rbd_data.ab.0000000000000001", 4 << 20)]
    assert rbd_object_names("ab", 0, 0, 4 << 20) == []


class FakeRados:
    """``rados get OBJ FILE`` from a dict; missing objects fail like rados does."""

    def __init__(self, objects):
        self.objects = objects
        self.calls = []

    def run(self, argv, *, timeout, **kw):
        self.calls.append(list(argv))
        name, path = argv[-2], argv[-1]
        if name not in self.objects:
            raise CommandError(argv, "exit 2: error getting volumes/x: (2) No such file or directory")
        open(path, "wb").write(self.objects[name])
        return Result(tuple(argv), 0, "", "")


def test_read_rbd_range_pads_short_and_missing_objects(tmp_path):
    osz = 8192
    rados = FakeRados({"rbd_data.id.0000000000000000": b"A" * 100})  # short: the rest was never written
    data = read_rbd_range(rados, conf="/c", pool="volumes", image_id="id", object_size=osz, length=3 * 4096,
                          scratch=tmp_path)
    assert data == b"A" * 100 + bytes(3 * 4096 - 100)
    assert rados.calls[0][:5] == ["rados", "--conf", "/c", "-p", "volumes"] and len(rados.calls) == 2
    assert not list(tmp_path.iterdir())


def test_read_rbd_range_other_errors_are_raised(tmp_path):
    class Broken(FakeRados):
        def run(self, argv, *, timeout, **kw):
            raise CommandError(argv, "timed out after 60 s")

    with pytest.raises(CommandError):
        read_rbd_range(Broken({}), conf=None, pool="p", image_id="i", object_size=4096, length=10, scratch=tmp_path)


class FakeGuest:
    """A runner for GuestBlockWriter: records scripts, answers from a table."""

    def __init__(self, answers):
        self.answers = answers
        self.scripts = []

    def __call__(self, argv, timeout):
        assert argv[:2] == ["sh", "-c"] and timeout > 0
        script = argv[2]
        self.scripts.append(script)
        for key, answer in self.answers.items():
            if key in script:
                return answer() if callable(answer) else answer
        return (0, "", "")


def test_writer_start_quotes_and_detaches():
    guest = FakeGuest({})
    w = GuestBlockWriter(guest, device="/dev/vdc", run="vm-disk-abc", count=10, interval=0.15)
    w.start()
    script = guest.scripts[0]
    assert "setsid sh /run/octoprobe-vmio/writer.sh /dev/vdc 4096 10 0.15 vm-disk-abc /run/octoprobe-vmio" in script
    assert script.rstrip().endswith("&)") and "oflag=direct conv=fsync" in script
    with pytest.raises(ValueError):
        GuestBlockWriter(guest, device="/dev/vdc", run="bad run")
    with pytest.raises(ValueError):
        GuestBlockWriter(guest, device="/dev/vdc", run="r", block_size=100)


def test_writer_read_back_decodes_base64_chunks():
    blocks = [make_block("r", i, _payload(i)) for i in range(3)]
    chunks = iter([base64.encodebytes(b"".join(blocks[:2])).decode(), base64.encodebytes(blocks[2]).decode()])
    guest = FakeGuest({"iflag=direct": lambda: (0, next(chunks), "")})
    w = GuestBlockWriter(guest, device="/dev/vdc", run="r")
    assert w.read_back(3, chunk=2) == b"".join(blocks)
    assert "skip=2 count=1" in guest.scripts[1]


def test_writer_errors_and_waits():
    guest = FakeGuest({"cat /run/octoprobe-vmio/ack": (0, RECORDED, ""), "kill -0": (0, "gone\n", "")})
    w = GuestBlockWriter(guest, device="/dev/vdc", run="r1")
    with pytest.raises(GuestError, match="ended"):
        w.wait_for_acks(10, timeout=1, poll=0.01)
    assert len(w.wait_for_acks(1, after=22.0, timeout=1).acked) == 4
    with pytest.raises(GuestError, match="died"):
        w.stop(timeout=1)
    failing = GuestBlockWriter(FakeGuest({"": (1, "", "sh: boom")}), device="/dev/vdc", run="r1")
    with pytest.raises(GuestError, match="boom"):
        failing.uptime()
