from pathlib import Path

import pytest

from octoprobe.perf.rbd_bench import RbdBenchError, parse_rbd_bench, rbd_bench_argv

DATA = Path(__file__).parent / "data" / "perf"


def test_write_summary_in_bytes_per_second():
    bench = parse_rbd_bench((DATA / "rbd-bench-write-16.2.txt").read_text())
    assert bench.ops == 64
    assert bench.ops_per_s == pytest.approx(64.257)
    assert bench.bytes_per_s == 257 * 2**20


def test_random_read_summary():
    bench = parse_rbd_bench((DATA / "rbd-bench-randread-16.2.txt").read_text())
    assert bench.ops == 4096 and bench.bytes_per_s == 98 * 2**20


def test_the_last_summary_wins_and_progress_lines_are_ignored():
    text = ("  SEC       OPS   OPS/SEC   BYTES/SEC\n    1        32   31.9   128 MiB/s\n"
            "elapsed: 2   ops: 64   ops/sec: 30.1   bytes/sec: 120 MiB/s\n")
    assert parse_rbd_bench(text).bytes_per_s == 120 * 2**20


def test_no_summary_is_an_error_that_quotes_the_output():
    with pytest.raises(RbdBenchError, match="no summary line.*error opening image"):
        parse_rbd_bench("rbd: error opening image x: (2) No such file or directory\n")


def test_argv():
    argv = rbd_bench_argv("volumes/x", conf="/c.conf", user="admin", total=1 << 20)
    assert argv[:5] == ["rbd", "--conf", "/c.conf", "--id", "admin"]
    assert argv[-1] == "volumes/x" and "--io-total" in argv and str(1 << 20) in argv
    with pytest.raises(ValueError, match="io type"):
        rbd_bench_argv("p/i", io_type="trim")
