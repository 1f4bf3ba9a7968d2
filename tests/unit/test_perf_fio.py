"""fio wrappers against outputs recorded from fio 3.33 and constructed in the
shapes of fio 3.1 and 2.2.10 (tests/unit/data/perf/README.md says how)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octoprobe.perf.fio import (
    WORKLOADS, FileTarget, FioError, RbdTarget, check_fio_version, fio_argv, fio_commands, fio_samples,
    parse_fio_json, prefill_argv, run_fio,
)
from octoprobe.perf.tools import ToolMissing, local_runner

DATA = Path(__file__).parent / "data" / "perf"


def text(name: str) -> str:
    return (DATA / name).read_text()


# --- workloads and argv -----------------------------------------------------------


def test_the_four_standard_workloads():
    assert set(WORKLOADS) == {"randread-4k", "randwrite-4k", "seqread-4m", "seqwrite-4m"}
    assert (WORKLOADS["randread-4k"].block_size, WORKLOADS["randread-4k"].iodepth) == (4096, 32)
    assert (WORKLOADS["seqwrite-4m"].block_size, WORKLOADS["seqwrite-4m"].iodepth) == (4 << 20, 16)
    assert [w.name for w in WORKLOADS.values() if w.prefill] == ["randread-4k", "seqread-4m"]


def test_argv_for_a_file_target():
    argv = fio_argv("randread-4k", FileTarget("/dev/vdb"), runtime=30, ramp=5, size=1 << 30)
    assert argv[0] == "fio"
    for option in ("--rw=randread", "--bs=4096", "--iodepth=32", "--ioengine=libaio", "--direct=1",
                   "--filename=/dev/vdb", "--ramp_time=5", "--runtime=30", "--time_based",
                   f"--size={1 << 30}", "--output-format=json"):
        assert option in argv
    assert not any(a.startswith("--pool") for a in argv)


def test_argv_for_an_rbd_target_passes_the_conf_through_the_environment():
    target = RbdTarget(pool="volumes", image="perf-1", client="octoprobe", conf="/etc/ceph/lab.conf")
    argv = fio_argv("seqwrite-4m", target)
    assert argv[:3] == ["env", "CEPH_CONF=/etc/ceph/lab.conf", "fio"]
    for option in ("--ioengine=rbd", "--clientname=octoprobe", "--pool=volumes", "--rbdname=perf-1",
                   "--rw=write", f"--bs={4 << 20}", "--iodepth=16", "--output-format=json"):
        assert option in argv
    assert "--direct=1" not in argv and not any(a.startswith("--filename") for a in argv)
    assert fio_argv("seqwrite-4m", RbdTarget("p", "i"))[0] == "fio"


def test_reads_are_prefilled_writes_are_not():
    target = FileTarget("/tmp/x")
    reads = fio_commands("seqread-4m", target, size=1 << 20)
    assert len(reads) == 2 and reads[0] == prefill_argv(target, size=1 << 20)
    assert "--rw=write" in reads[0] and "--time_based" not in reads[0]
    assert len(fio_commands("randwrite-4k", target)) == 1


def test_unknown_workload_and_bad_runtime_are_refused():
    with pytest.raises(ValueError, match="unknown fio workload 'randrw'"):
        fio_argv("randrw", FileTarget("/dev/vdb"))
    with pytest.raises(ValueError, match="runtime"):
        fio_argv("randread-4k", FileTarget("/dev/vdb"), runtime=0.5)  # would be --runtime=0: unlimited


def test_argv_is_accepted_by_the_installed_fio(tmp_path):
    """fio parses the options we build (--parse-only) without running I/O."""
    try:
        code, _out, err = local_runner(
            [*fio_argv("randread-4k", FileTarget(str(tmp_path / "f")), size=1 << 20), "--parse-only"], 30)
    except Exception as exc:  # pragma: no cover - environment
        pytest.skip(f"fio not runnable: {exc}")
    if code == 127:
        pytest.skip("fio is not installed")
    assert code == 0, err


# --- parsing recorded 3.33 output -------------------------------------------------


@pytest.mark.parametrize("workload,direction", [
    ("randread-4k", "read"), ("randwrite-4k", "write"), ("seqread-4m", "read"), ("seqwrite-4m", "write"),
])
def test_recorded_fio_3_33(workload, direction):
    raw = json.loads(text(f"fio-3.33-{workload}.json"))["jobs"][0][direction]
    result = parse_fio_json(text(f"fio-3.33-{workload}.json"))
    assert result.version == "fio-3.33"
    (job,) = result.jobs
    assert job.name == workload
    measured = getattr(job, direction)
    other = job.write if direction == "read" else job.read
    assert other is None  # no I/O in the other direction
    assert measured.bw_bytes == raw["bw_bytes"]
    assert measured.iops == pytest.approx(raw["iops"])
    assert measured.clat_p50 == pytest.approx(raw["clat_ns"]["percentile"]["50.000000"] / 1e9)
    assert measured.clat_p99 == pytest.approx(raw["clat_ns"]["percentile"]["99.000000"] / 1e9)
    assert measured.clat_p99_9 == pytest.approx(raw["clat_ns"]["percentile"]["99.900000"] / 1e9)
    assert measured.clat_p50 <= measured.clat_p99 <= measured.clat_p99_9
    assert measured.runtime == pytest.approx(raw["runtime"] / 1000)
    # bandwidth ≈ iops × block size: bytes per second, not KiB
    assert measured.bw_bytes == pytest.approx(measured.iops * WORKLOADS[workload].block_size, rel=0.01)


def test_randread_numbers():
    read = parse_fio_json(text("fio-3.33-randread-4k.json")).jobs[0].read
    assert read.bw_bytes == 354042625
    assert read.iops == pytest.approx(86425.858047)
    assert read.clat_p50 == pytest.approx(284.672e-6)
    assert read.clat_p99_9 == pytest.approx(5.931008e-3)


def test_text_before_the_json_is_tolerated():
    result = parse_fio_json(text("fio-3.33-note-before-json.json"))
    assert text("fio-3.33-note-before-json.json").startswith("note: both iodepth")
    assert result.jobs[0].read.iops > 0


def test_job_error_names_the_job_and_errno():
    with pytest.raises(FioError, match=r"fio job 'broken' failed with error 22 \(Invalid argument\)"):
        parse_fio_json(text("fio-3.33-error-dev-full.json"))


@pytest.mark.parametrize("garbage", ["", "fio: command not found", "{not json", "[]", '{"jobs": []}',
                                     '{"fio version": "fio-3.33", "jobs": []}'])
def test_garbage_is_a_clear_error(garbage):
    with pytest.raises(FioError):
        parse_fio_json(garbage)


# --- older fio: the unit pitfalls ------------------------------------------------


def test_fio_3_1_has_no_bw_bytes_and_bw_is_kib_per_second():
    raw = json.loads(text("fio-3.1-randread-4k-constructed.json"))["jobs"][0]["read"]
    assert "bw_bytes" not in raw
    read = parse_fio_json(text("fio-3.1-randread-4k-constructed.json")).jobs[0].read
    assert read.bw_bytes == raw["bw"] * 1024 == 345744 * 1024
    assert read.io_bytes == raw["io_bytes"]  # bytes since fio 3.0
    assert read.clat_p50 == pytest.approx(284.672e-6)  # clat_ns


def test_fio_2_has_kib_io_bytes_and_usec_latencies():
    result = parse_fio_json(text("fio-2.2.10-randread-4k-constructed.json"))
    assert result.version == "fio-2.2.10"
    read = result.jobs[0].read
    assert read.bw_bytes == 345744 * 1024
    assert read.io_bytes == 1037580 * 1024  # io_bytes was KiB in fio 2.x
    assert read.clat_p50 == pytest.approx(285e-6)  # "clat" percentiles in usec
    assert read.clat_p99_9 == pytest.approx(5931e-6)
    assert result.jobs[0].write is None


def test_same_run_in_three_shapes_gives_the_same_figures():
    new, v31, v2 = (parse_fio_json(text(n)).jobs[0].read for n in (
        "fio-3.33-randread-4k.json", "fio-3.1-randread-4k-constructed.json",
        "fio-2.2.10-randread-4k-constructed.json"))
    assert v31.bw_bytes == pytest.approx(new.bw_bytes, rel=0.01)
    assert v2.bw_bytes == pytest.approx(new.bw_bytes, rel=0.01)
    assert v2.clat_p99 == pytest.approx(new.clat_p99, rel=0.01)


# --- version ---------------------------------------------------------------------


def test_version_check():
    check_fio_version("fio-3.33")
    check_fio_version("fio-3.1")
    check_fio_version("fio-3.10", minimum="3.9")  # numeric, not string, comparison
    with pytest.raises(FioError, match=r"fio-2\.2\.10 is too old: octoprobe needs fio 3\.1 or newer"):
        check_fio_version("fio-2.2.10")
    with pytest.raises(FioError, match="cannot read a version"):
        check_fio_version("fio-unknown")


# --- samples ---------------------------------------------------------------------


def test_samples_names_units_and_metadata():
    result = parse_fio_json(text("fio-3.33-randread-4k.json"))
    samples = fio_samples(result, "rbd", "randread-4k", pool="volumes")
    by_name = {s.metric: s for s in samples}
    assert set(by_name) == {f"fio.rbd.randread-4k.{m}" for m in ("bw", "iops", "clat_p50", "clat_p99", "clat_p99_9")}
    assert by_name["fio.rbd.randread-4k.bw"].unit == "B/s"
    assert by_name["fio.rbd.randread-4k.bw"].value == 354042625
    assert by_name["fio.rbd.randread-4k.iops"].unit == "IOPS"
    assert {by_name[f"fio.rbd.randread-4k.{m}"].unit for m in ("clat_p50", "clat_p99", "clat_p99_9")} == {"s"}
    meta = by_name["fio.rbd.randread-4k.iops"].metadata
    assert meta["fio_version"] == "fio-3.33" and meta["pool"] == "volumes" and meta["direction"] == "read"


# --- running through a runner ----------------------------------------------------


def fake(code: int, out: str = "", err: str = ""):
    calls = []

    def runner(argv, timeout):
        calls.append((list(argv), timeout))
        return code, out, err

    runner.calls = calls
    return runner


def test_run_fio_parses_and_passes_the_timeout():
    runner = fake(0, text("fio-3.33-seqwrite-4m.json"))
    result = run_fio(runner, ["fio", "--name=x"], timeout=90)
    assert result.jobs[0].write.bw_bytes > 0
    assert runner.calls == [(["fio", "--name=x"], 90)]


@pytest.mark.parametrize("code,err", [(127, "bash: fio: command not found"), (127, ""),
                                      (1, "sh: 1: fio: not found")])
def test_missing_fio_is_tool_missing(code, err):
    with pytest.raises(ToolMissing, match="fio is not installed on vm-1"):
        run_fio(fake(code, "", err), ["fio"], 10, where="vm-1")


def test_missing_fio_locally():
    with pytest.raises(ToolMissing):
        run_fio(local_runner, ["/nonexistent/fio", "--version"], 10)


def test_failed_fio_without_json_says_what_fio_said():
    with pytest.raises(FioError, match="fio exited 1 on vm-1: fio: failed opening rbd image"):
        run_fio(fake(1, "", "fio: failed opening rbd image\n"), ["fio"], 10, where="vm-1")


def test_failed_job_with_json_is_reported_by_job():
    with pytest.raises(FioError, match="'broken' failed with error 22"):
        run_fio(fake(1, text("fio-3.33-error-dev-full.json")), ["fio"], 10)


# --- tools -----------------------------------------------------------------------


@pytest.mark.parametrize("code,err,missing", [
    (127, "", True), (126, "permission denied", True), (0, "fio: command not found", False),
    (1, "bash: fio: command not found", True), (1, "sh: 1: fio: not found", True),
    (1, "fio: file not found: /dev/vdz", False), (1, "fio: failed", False),
])
def test_is_missing(code, err, missing):
    from octoprobe.perf.tools import is_missing

    assert is_missing("fio", code, err) is missing


def test_local_runner_times_out():
    from octoprobe.perf.tools import ToolTimeout

    with pytest.raises(ToolTimeout, match="sleep 5: no result after 0.2 s"):
        local_runner(["sleep", "5"], 0.2)
    assert local_runner(["true"], 5) == (0, "", "")


def test_shell_runner_adapter():
    from octoprobe.perf.tools import from_shell_runner
    from octoprobe.shell import LocalRunner

    run = from_shell_runner(LocalRunner())
    assert run(["sh", "-c", "echo out; echo err >&2; exit 3"], 5) == (3, "out\n", "err\n")
    assert run(["/nonexistent/fio"], 5)[0] == 127
    with pytest.raises(ToolMissing):
        run_fio(run, ["/nonexistent/fio"], 5)
