"""``octoprobe run``: suites as child pytest sessions, their progress, the
merged report, the verdict and the exit codes — on small suites written
here (real pytest processes, no cloud)."""

from __future__ import annotations

import argparse
import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

from octoprobe import run_cli
from octoprobe.progress_view import EventTail, SuiteProgress, finished_line, heartbeat_line, status_line
from octoprobe.report.merge import merge_results
from octoprobe.report.model import Gate, RunResult, TestResult
from octoprobe.suite_runner import COULD_NOT_RUN, EMPTY, RAN, classify, run_suite

PASSING = """
    def test_one():
        assert 1 + 1 == 2

    def test_two():
        assert "a".upper() == "A"
"""
MIXED = PASSING + """
    import pytest

    def test_broken():
        assert [1, 2] == [1, 3]

    def test_not_here():
        pytest.skip("no such device")
"""


def make_suite(root: Path, name: str, tests: str, conftest: str = "") -> Path:
    suite = root / name
    suite.mkdir(parents=True)
    (suite / "__init__.py").write_text("")
    (suite / "conftest.py").write_text(textwrap.dedent(conftest))
    (suite / "test_things.py").write_text(textwrap.dedent(tests))
    return suite


def test_a_suite_runs_in_its_own_process_and_reports_each_test(tmp_path):
    suite = make_suite(tmp_path, "conformance", MIXED)
    seen: list[tuple[int, bool]] = []
    run = run_suite("conformance", suite, tmp_path / "out" / "conformance", ["-p", "no:randomly"],
                    timeout=120, poll=0.1, on_progress=lambda p, finished: seen.append((p.done, finished)))
    assert run.status == RAN and run.exit_code == 1, run.problem
    counts = run.result.counts()
    assert (counts["passed"], counts["failed"], counts["skipped"]) == (2, 1, 1)
    assert [done for done, finished in seen if finished] == [1, 2, 3, 4]
    assert (run.report_dir / "report.html").is_file() and (run.report_dir / "pytest.log").is_file()
    failed = next(t for t in run.result.tests if t.outcome == "failed")
    assert failed.nodeid.endswith("test_broken") and "assert" in failed.reason


def test_a_suite_over_its_timeout_is_interrupted_and_its_finalizers_run(tmp_path):
    marker = tmp_path / "cleaned"
    suite = make_suite(tmp_path, "chaos", """
        import time

        def test_hangs(resource):
            time.sleep(600)
    """, conftest=f"""
        import pytest

        @pytest.fixture
        def resource():
            yield
            open({str(marker)!r}, "w").write("deleted what the test made")
    """)
    run = run_suite("chaos", suite, tmp_path / "out" / "chaos", timeout=3, cleanup_timeout=60, poll=0.1)
    assert run.status == COULD_NOT_RUN and "timeout" in run.problem
    assert marker.read_text() == "deleted what the test made"
    assert run.seconds < 60


def test_a_suite_pytest_refuses_is_reported_with_its_log(tmp_path):
    suite = make_suite(tmp_path, "perf", PASSING)
    run = run_suite("perf", suite, tmp_path / "out" / "perf", ["--no-such-option"], timeout=60, poll=0.1)
    assert run.status == COULD_NOT_RUN and run.exit_code == 4
    assert "refused" in run.problem and "--no-such-option" in run.problem


def test_classify_no_tests_and_missing_report(tmp_path):
    assert classify("perf", tmp_path, 5, 1.0).status == EMPTY
    lost = classify("perf", tmp_path, 1, 1.0)
    assert lost.status == COULD_NOT_RUN and "pytest exited 1 without a report" in lost.problem


# ---------------------------------------------------------------- progress


def events(*items: dict) -> list[dict]:
    return list(items)


def test_progress_counts_estimates_and_lines():
    p = SuiteProgress("conformance").apply_all(events(
        {"event": "collected", "count": 4, "t": 100.0},
        {"event": "start", "nodeid": "conformance/image/test_a.py::test_x", "t": 100.0},
        {"event": "phase", "nodeid": "conformance/image/test_a.py::test_x", "phase": "call", "t": 101.0},
        {"event": "finish", "nodeid": "conformance/image/test_a.py::test_x", "outcome": "passed", "t": 110.0},
        {"event": "start", "nodeid": "conformance/image/test_a.py::test_y", "t": 110.0},
        {"event": "finish", "nodeid": "conformance/image/test_a.py::test_y", "outcome": "failed", "t": 120.0},
        {"event": "start", "nodeid": "conformance/image/test_a.py::test_z", "t": 120.0},
        {"event": "phase", "nodeid": "conformance/image/test_a.py::test_z", "phase": "setup", "t": 120.0},
    ))
    assert (p.done, p.total, p.counts["passed"], p.counts["failed"]) == (2, 4, 1, 1)
    assert p.estimate_left(124.0) == pytest.approx(16.0)  # 10 s each, 2 to go, 4 s spent on the third
    assert status_line(p, 124.0) == "[conformance 2/4] 1 passed, 1 failed · 24s elapsed, ~16s left"
    assert heartbeat_line(p, 124.0).startswith("running image/test_a.py::test_z for 4s, phase setup for 4s")
    assert finished_line(p, 124.0).startswith("FAILED  image/test_a.py::test_y (10s)")


def test_event_tail_waits_for_complete_lines(tmp_path):
    path = tmp_path / "progress.jsonl"
    tail = EventTail(path)
    assert tail.read() == []
    path.write_text('{"event": "collected", "count": 2, "t": 1}\n{"event": "sta')
    assert [e["event"] for e in tail.read()] == ["collected"]
    with path.open("a") as f:
        f.write('rt", "nodeid": "x", "t": 2}\nnot json\n')
    assert [e["event"] for e in tail.read()] == ["start"]


# ---------------------------------------------------------------- merging, verdicts, the command


def result(*tests: TestResult, gates: tuple[Gate, ...] = ()) -> RunResult:
    return RunResult("r1", "2026-11-24T00:00:00+00:00", "2026-11-24T00:01:00+00:00", tests=list(tests),
                     gates=list(gates))


def test_merge_prefixes_suites_and_keeps_gates_apart():
    gate = Gate("boot", "boot_s", "p95", 40.0, "<=", 30.0, True)
    merged = merge_results("r1", {
        "conformance": result(TestResult("conformance/x.py::a", "passed")),
        "perf": result(TestResult("test_boot.py::b", "failed"), gates=(gate,)),
        "chaos": result(gates=(gate,)),
    }, started="s", finished="f")
    assert [t.nodeid for t in merged.tests] == ["conformance/x.py::a", "perf/test_boot.py::b"]
    assert [g.name for g in merged.gates] == ["perf: boot", "chaos: boot"]
    assert merged.verdict == "FAIL" and merged.environment.extra["suites"] == "conformance, perf, chaos"


def args_for(**kw) -> argparse.Namespace:
    base = dict(suites=["chaos"], cloud=None, admin_cloud=None, alt_cloud=None, inventory=None, profile=None,
                allow_destructive=False, run_id="unitrun1", report_dir=None, suite_timeout=120.0,
                quiet=True, pytest_args="", baseline=None, history=None, no_history=True, graphite=None,
                tempest=False, capability=[])
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.parametrize("tests, code, word", [(PASSING, 0, "PASS"), (MIXED, 1, "FAIL"),
                                               ("def test_x():\n    import pytest; pytest.skip('no')\n", 2,
                                                "NOTHING TESTED")])
def test_the_command_writes_one_report_and_exits_by_verdict(tmp_path, monkeypatch, tests, code, word):
    suite = make_suite(tmp_path, "chaos", tests)
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    out = io.StringIO()
    report = tmp_path / "report"
    assert run_cli.main(args_for(report_dir=report), out=out) == code
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith(f"octoprobe: {word} · report {report / 'report.html'}")
    summary = json.loads((report / "summary.json").read_text())
    assert summary["run_id"] == "unitrun1"
    assert all(t["nodeid"].startswith("chaos/") for t in summary["tests"])
    assert (report / "chaos" / "summary.json").is_file() and (report / "junit.xml").is_file()


def test_the_command_refuses_a_wrong_configuration_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "missing.yaml"))
    assert run_cli.main(args_for(suites=["conformance"], cloud="lab")) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert run_cli.main(args_for(suites=["nonsense"])) == 2


def test_progress_printer_quiet_and_heartbeat():
    now = [1000.0]
    out = io.StringIO()
    printer = run_cli.ProgressPrinter(out, quiet=False, clock=lambda: now[0])
    p = SuiteProgress("chaos").apply_all(events({"event": "collected", "count": 1, "t": 1000.0},
                                                {"event": "start", "nodeid": "chaos/test_rack.py::t", "t": 1000.0}))
    printer(p, False)
    assert out.getvalue() == ""
    now[0] += run_cli.HEARTBEAT_SECONDS
    printer(p, False)
    assert out.getvalue().startswith("running test_rack.py::t for 30s")
    quiet = io.StringIO()
    run_cli.ProgressPrinter(quiet, quiet=True, clock=lambda: now[0])(p, True)
    assert quiet.getvalue() == ""


MEASURING = """
def test_boot(samples):
    samples.add("boot.ssh", 7.5, "s", source="image", concurrency=1)
    samples.add("boot.ssh", 8.5, "s", source="image", concurrency=1)
"""


def test_the_profile_judges_every_suite_samples_in_the_parent(tmp_path, monkeypatch):
    """An impossible threshold fails the run (exit 1) and the report names
    metric, statistic, threshold and measured value; allure results are written."""
    suite = make_suite(tmp_path, "perf", MEASURING)
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    monkeypatch.setattr(run_cli, "NEEDS_CLOUD", ())  # the suite written here needs none
    profile = tmp_path / "tight.yaml"
    profile.write_text("profile: tight\ngates:\n  - name: boot_fast\n    metric: boot.ssh\n    statistic: median\n"
                       "    max: 0.5\n    unit: s\n")
    out = io.StringIO()
    report = tmp_path / "report"
    assert run_cli.main(args_for(suites=["perf"], report_dir=report, profile=str(profile)), out=out) == 1
    text = out.getvalue()
    assert "GATE boot_fast: boot.ssh median = 8 s, must be ≤ 500 ms" in text
    summary = json.loads((report / "summary.json").read_text())
    assert [(g["name"], g["passed"], g["measured"]) for g in summary["gates"]] == [("boot_fast", False, 8.0)]
    results = list((report / "allure-results").glob("*-result.json"))
    assert len(results) == 1
    attached = json.loads(results[0].read_text())
    assert attached["status"] == "passed" and "octoprobe samples" in [a["name"] for a in attached["attachments"]]
    check_allure_results(report / "allure-results")


def check_allure_results(directory: Path) -> None:
    """Every allure file matches allure's result / container model (the allure
    command line needs Java, which is not installed here) and every attachment exists."""
    import jsonschema

    data = Path(__file__).parent / "data" / "allure"
    schemas = {kind: json.loads((data / f"{kind}.schema.json").read_text()) for kind in ("result", "container")}
    for kind, schema in schemas.items():
        for path in directory.glob(f"*-{kind}.json"):
            doc = json.loads(path.read_text())
            jsonschema.validate(doc, schema)
            for attachment in doc.get("attachments") or ():
                assert (directory / attachment["source"]).is_file(), f"{path.name}: {attachment['source']} missing"
    broken = {"uuid": "x", "name": "t", "status": "green", "start": 1, "stop": 2}
    try:
        jsonschema.validate(broken, schemas["result"])
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the allure result schema accepts an unknown status")


def test_a_wrong_profile_or_baseline_is_refused_before_running(tmp_path, monkeypatch, capsys):
    suite = make_suite(tmp_path, "perf", MEASURING)
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    monkeypatch.setattr(run_cli, "NEEDS_CLOUD", ())
    assert run_cli.main(args_for(suites=["perf"], profile="no-such-profile")) == 2
    assert "no gate profile named 'no-such-profile'" in capsys.readouterr().err
    assert run_cli.main(args_for(suites=["perf"], profile="reference", baseline=str(tmp_path / "x.json"))) == 2
    assert "x.json" in capsys.readouterr().err
    assert run_cli.main(args_for(suites=["perf"], graphite="nohostport")) == 2
    assert "HOST:PORT" in capsys.readouterr().err


TIMED = """
import os

def test_boot(samples):
    for value in os.environ["BOOT_SECONDS"].split(","):
        samples.add("boot.ssh", float(value), "s", source="image", concurrency=1)
"""


def test_runs_are_recorded_and_compare_detects_an_injected_regression(tmp_path, monkeypatch, capsys):
    """Two real runs recorded in the history store; the second boots slower:
    `octoprobe compare` says boot.ssh regressed and exits 1; `check` alerts
    on a failed gate; `trend` shows both runs."""
    from octoprobe.cli import main as octoprobe

    suite = make_suite(tmp_path, "perf", TIMED)
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    monkeypatch.setattr(run_cli, "NEEDS_CLOUD", ())
    history = tmp_path / "history.sqlite"
    profile = tmp_path / "p.yaml"
    profile.write_text("profile: p\ngates:\n  - name: boot\n    metric: boot.ssh\n    statistic: median\n"
                       "    max: 7\n    unit: s\n")
    for run_id, seconds, code in (("histrun1", "5.0,5.2,4.9", 0), ("histrun2", "8.0,8.3,7.9", 1)):
        monkeypatch.setenv("BOOT_SECONDS", seconds)
        args = args_for(suites=["perf"], run_id=run_id, report_dir=tmp_path / run_id, profile=str(profile),
                        no_history=False, history=history)
        out = io.StringIO()
        assert run_cli.main(args, out=out) == code
        assert f"recorded in the history {history}" in out.getvalue()
    capsys.readouterr()
    assert octoprobe(["compare", "histrun2", "--history", str(history)]) == 1
    text = capsys.readouterr().out
    assert "boot.ssh" in text and "regressed" in text.lower(), text
    assert octoprobe(["compare", "histrun1", "histrun1", "--history", str(history)]) == 0
    capsys.readouterr()
    assert octoprobe(["check", "--history", str(history)]) == 2
    assert capsys.readouterr().out.startswith("OCTOPROBE CRITICAL")
    assert octoprobe(["trend", "--metric", "boot.ssh", "--history", str(history)]) == 0
    table = capsys.readouterr().out
    assert "histrun1" in table and "histrun2" in table


def test_the_baseline_can_be_the_latest_recorded_run(tmp_path, monkeypatch, capsys):
    """A gate that holds its threshold still fails on a regression beyond the
    profile's tolerance against --baseline latest."""
    suite = make_suite(tmp_path, "perf", TIMED)
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    monkeypatch.setattr(run_cli, "NEEDS_CLOUD", ())
    history = tmp_path / "h.sqlite"
    profile = tmp_path / "p.yaml"
    profile.write_text("profile: p\ngates:\n  - name: boot\n    metric: boot.ssh\n    statistic: median\n"
                       "    max: 60\n    unit: s\n")
    assert run_cli.main(args_for(suites=["perf"], run_id="base1", profile=str(profile), history=history,
                                 no_history=True, baseline="latest", report_dir=tmp_path / "x")) == 2
    assert "there is no history at" in capsys.readouterr().err
    out = io.StringIO()
    for run_id, seconds, code in (("base1", "5.0,5.1", 0), ("base2", "6.0,6.1", 1)):
        monkeypatch.setenv("BOOT_SECONDS", seconds)
        baseline = "latest" if run_id == "base2" else None
        assert run_cli.main(args_for(suites=["perf"], run_id=run_id, profile=str(profile), history=history,
                                     no_history=False, baseline=baseline, report_dir=tmp_path / run_id),
                            out=out) == code
    assert "regressed 19" in out.getvalue() and "tolerance 5 %" in out.getvalue(), out.getvalue()


def test_tempest_results_land_in_the_same_report(tmp_path, monkeypatch, capsys):
    """--tempest runs the bridge as one more part of the run; its summary.json
    (tests named tempest/…) is merged into the run's report. The bridge itself
    is a stand-in child process here (the real one runs in tests/integration/api)."""
    suite = make_suite(tmp_path, "perf", PASSING)
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    monkeypatch.setattr(run_cli, "NEEDS_CLOUD", ())
    assert run_cli.main(args_for(suites=["perf"], tempest=True)) == 2
    assert "--tempest needs --admin-cloud" in capsys.readouterr().err

    def bridge(args, run_id, report_dir):
        result = RunResult(run_id, "s", "f", tests=[
            TestResult("tempest/tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token", "passed",
                       capability="identity-v3-tokens-create")])
        target = report_dir / "tempest" / "summary.json"
        return [sys.executable, "-c", f"import pathlib; pathlib.Path({str(target)!r}).write_text({result.to_json()!r})"]

    monkeypatch.setattr(run_cli, "tempest_command", bridge)
    clouds = tmp_path / "clouds.yaml"  # resolved by the suite's plugin, never connected to
    clouds.write_text("clouds:\n  admin:\n    auth:\n      auth_url: http://192.0.2.1/identity/v3\n"
                      "      username: a\n      password: p\n      project_name: a\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    out = io.StringIO()
    report = tmp_path / "report"
    assert run_cli.main(args_for(suites=["perf"], tempest=True, admin_cloud="admin", report_dir=report), out=out) == 0
    summary = json.loads((report / "summary.json").read_text())
    nodeids = [t["nodeid"] for t in summary["tests"]]
    assert "tempest/tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token" in nodeids
    assert any(n.startswith("perf/") for n in nodeids) and "== tempest" in out.getvalue()


CAPABLE = """
import pytest

@pytest.mark.capability("identity-v3-tokens-create", "0f5f4d3e-7a51-4c6f-9a3c-1c2e54a0b001")
def test_token():
    pass

@pytest.mark.capability("identity-v3-catalog", "0f5f4d3e-7a51-4c6f-9a3c-1c2e54a0b002")
def test_catalog():
    pytest.skip("needs a catalog")
"""


def test_the_conformance_run_prints_its_coverage_table(tmp_path, monkeypatch):
    suite = make_suite(tmp_path, "conformance", CAPABLE)
    monkeypatch.setattr(run_cli, "suite_dir", lambda name: suite)
    monkeypatch.setattr(run_cli, "NEEDS_CLOUD", ())
    out = io.StringIO()
    assert run_cli.main(args_for(suites=["conformance"], report_dir=tmp_path / "r"), out=out) == 0
    text = out.getvalue()
    assert "conformance coverage (interop 2020.06)" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("identity-v3-")}
    assert lines["identity-v3-tokens-create"].split()[1] == "passed"
    assert "needs a catalog" in lines["identity-v3-catalog"] and lines["identity-v3-tokens-delete"].split()[1] == "untested"
