"""The history commands end to end through ``octoprobe.cli.main`` with a temporary store."""

from __future__ import annotations

import json
import queue
import socketserver
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from octoprobe.cli import main
from octoprobe.history.store import HistoryStore
from octoprobe.report.model import Environment, Gate, RunResult, TestResult


def make_run(run_id: str, day: int, boot: float, *, failed: bool = False, cloud: str = "lab1",
             finished: datetime | None = None) -> RunResult:
    samples = [{"metric": "boot.ssh", "value": boot + d, "unit": "s", "metadata": {"rep": i}}
               for i, d in enumerate((-0.5, 0.0, 0.5))]
    samples.append({"metric": "net.cross_host.goodput", "value": 9e9, "unit": "bit/s",
                    "metadata": {"path": "cross_host"}})
    end = finished or datetime(2026, 1, day, 1, 30, tzinfo=timezone.utc)
    return RunResult(
        run_id, (end - timedelta(minutes=30)).isoformat(), end.isoformat(), Environment(cloud=cloud),
        [TestResult("perf/test_boot.py::test_boot", "passed", 30.0, samples=samples),
         TestResult("conformance/test_x.py::test_x", "failed" if failed else "passed", 1.0, reason="broken")],
        [Gate("boot_ssh_p95", "boot.ssh", "p95", 40.0, "<=", boot + 0.5, True, unit="s")],
    )


def write_report(tmp_path: Path, run: RunResult) -> Path:
    directory = tmp_path / "reports" / run.run_id
    directory.mkdir(parents=True)
    (directory / "summary.json").write_text(run.to_json(), encoding="utf-8")
    return directory


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OCTOPROBE_HISTORY", str(tmp_path / "unused.sqlite"))  # never the user's own
    return tmp_path / "history.sqlite"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def recorded(tmp_path: Path, history: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Three runs of lab1 (boot 5 s, 5 s, 8 s with a newly failing test) and one of lab2."""
    for run in (make_run("20260101-0100-aaaa", 1, 5.0), make_run("20260102-0100-bbbb", 2, 5.0),
                make_run("20260103-0100-cccc", 3, 8.0, failed=True),
                make_run("20260104-0100-dddd", 4, 4.0, cloud="lab2")):
        report = write_report(tmp_path, run)
        code, out, _ = run_cli(capsys, "history", "add", str(report), "--history", str(history), "--exit-code",
                               "1" if run.run_id.endswith("cccc") else "0")
        assert code == 0 and f"recorded run {run.run_id} (" in out
    return history


def test_history_list_and_json(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "history", "--history", str(recorded))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["run", "started", "cloud", "verdict", "exit", "tests", "failed", "failed", "gates"]
    assert [line.split()[0] for line in lines[2:]] == [
        "20260104-0100-dddd", "20260103-0100-cccc", "20260102-0100-bbbb", "20260101-0100-aaaa"]
    assert lines[3].split()[3:] == ["lab1", "FAIL", "1", "2", "1", "-"]
    code, out, _ = run_cli(capsys, "history", "--history", str(recorded), "--json", "--cloud", "lab1", "--limit", "2")
    data = json.loads(out)
    assert [r["run_id"] for r in data] == ["20260103-0100-cccc", "20260102-0100-bbbb"]
    assert data[0]["exit_code"] == 1 and data[0]["cloud"] == "lab1"
    assert data[0]["report_dir"].endswith("reports/20260103-0100-cccc")


def test_history_without_a_store(tmp_path: Path, history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "history", "--history", str(history))
    assert code == 0 and "no runs recorded yet" in out
    assert not history.exists()


def test_history_add_a_summary_file_with_a_cloud(tmp_path: Path, history: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path, make_run("r1", 1, 5.0, cloud="x"))
    code, _, _ = run_cli(capsys, "history", "--history", str(history), "import", str(report / "summary.json"),
                         "--cloud", "other")
    assert code == 0
    (record,) = HistoryStore(history).runs()
    assert (record.cloud, record.report_dir, record.exit_code) == ("other", str(report), None)


def test_history_add_errors(tmp_path: Path, history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "history", "add", str(tmp_path / "nope"), "--history", str(history))
    assert code == 2 and err.startswith("octoprobe: error: ") and "no such file" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run_cli(capsys, "history", "add", str(bad), "--history", str(history))
    assert code == 2 and f"{bad}: not an octoprobe summary" in err


def test_corrupt_store_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "history.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    code, _, err = run_cli(capsys, "history", "--history", str(bad))
    assert code == 2 and str(bad) in err and "octoprobe: error:" in err
    code, out, _ = run_cli(capsys, "check", "--history", str(bad))
    assert code == 3 and out.startswith("OCTOPROBE UNKNOWN - ") and str(bad) in out


def test_trend_table_and_html(tmp_path: Path, recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "trend.html"
    code, out, _ = run_cli(capsys, "trend", "--history", str(recorded), "--metric", "boot.ssh", "--cloud", "lab1",
                           "--html", str(page))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "boot.ssh (s)"
    assert [line.split()[0] for line in lines[3:6]] == ["20260101-0100-aaaa", "20260102-0100-bbbb",
                                                        "20260103-0100-cccc"]
    assert lines[5].split()[-1] == "+60.0%"
    assert lines[-1] == f"wrote {page}"
    html = page.read_text()
    assert "<svg" in html and "<script" not in html


def test_trend_defaults_to_the_metrics_of_the_latest_run(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "trend", "--history", str(recorded), "--limit", "2")
    assert code == 0
    assert "boot.ssh (s)" in out and "net.cross_host.goodput (bit/s)" in out


def test_trend_where_and_unknown_metric(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "trend", "--history", str(recorded), "--metric", "boot.ssh", "--where", "rep=0",
                           "--cloud", "lab1")
    assert code == 0 and out.splitlines()[3].split()[-3:] == ["4.5", "s", "1"]
    code, _, err = run_cli(capsys, "trend", "--history", str(recorded), "--metric", "nope")
    assert code == 2 and "no samples of nope" in err
    code, _, err = run_cli(capsys, "trend", "--history", str(recorded), "--where", "novalue")
    assert code == 2 and "KEY=VALUE" in err


def test_compare_regression_exits_1(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "compare", "--history", str(recorded), "20260103")
    assert code == 1
    assert out.startswith("run 20260103-0100-cccc against baseline 20260102-0100-bbbb")
    assert "boot.ssh: 5 s -> 8 s (+60.0%)" in out
    assert "conformance/test_x.py::test_x: passed -> failed" in out


def test_compare_improvement_exits_0(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "compare", "--history", str(recorded), "20260102-0100-bbbb", "20260103-0100-cccc")
    assert code == 0
    assert "improved metrics (1):" in out and "fixed tests (1):" in out


def test_compare_report_directories_without_a_store(tmp_path: Path, history: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    a = write_report(tmp_path, make_run("a", 1, 5.0))
    b = write_report(tmp_path, make_run("b", 2, 5.1))
    code, out, _ = run_cli(capsys, "compare", "--history", str(history), str(b), str(a / "summary.json"))
    assert code == 0 and "no regression" in out


def test_compare_usage_errors(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "compare", "--history", str(recorded), "zzz")
    assert code == 2 and "octoprobe: error: no run 'zzz'" in err
    code, _, err = run_cli(capsys, "compare", "--history", str(recorded), "2026")
    assert code == 2 and "ambiguous" in err
    code, _, err = run_cli(capsys, "compare", "--history", str(recorded), "20260101")
    assert code == 2 and "no run before 20260101-0100-aaaa" in err
    code, _, err = run_cli(capsys, "compare", "--history", str(recorded), "20260104")  # first run of lab2
    assert code == 2 and "name a BASELINE" in err


def test_check_codes(tmp_path: Path, history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", "--history", str(history))
    assert code == 3 and out.startswith("OCTOPROBE UNKNOWN - no history at")
    store = HistoryStore(history)
    now = datetime.now(timezone.utc)
    store.record(make_run("ok-run", 1, 5.0, finished=now - timedelta(hours=1)), None, "lab1", 0)
    code, out, _ = run_cli(capsys, "check", "--history", str(history))
    assert code == 0 and out == "OCTOPROBE OK - run ok-run passed 2 tests, 1 gates | boot_ssh_p95=5.5s;;40\n"
    code, out, _ = run_cli(capsys, "check", "--history", str(history), "--max-age", "0.5")
    assert code == 1 and out.startswith("OCTOPROBE WARNING - ")
    store.record(make_run("bad-run", 1, 5.0, failed=True, cloud="lab2", finished=now), None, "lab2", 1)
    code, out, _ = run_cli(capsys, "check", "--history", str(history))
    assert code == 2 and out.startswith("OCTOPROBE CRITICAL - run bad-run failed: test conformance/test_x.py::test_x")
    code, out, _ = run_cli(capsys, "check", "--history", str(history), "--cloud", "lab1")
    assert code == 0


def test_graphite_export_dry_run(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "graphite-export", "--history", str(recorded), "latest", "--dry-run",
                           "--prefix", "ci")
    assert code == 0
    paths = [line.split()[0] for line in out.splitlines()]
    assert "ci.lab2.metrics.boot.ssh.median" in paths
    assert "ci.lab2.metrics.net.cross_host.goodput.path.cross_host.median" in paths
    assert "ci.lab2.gates.boot_ssh_p95.passed" in paths and "ci.lab2.run.passed" in paths


class _Collect(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.server.received.put(self.rfile.read())  # type: ignore[attr-defined]


def test_graphite_export_sends(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = socketserver.TCPServer(("127.0.0.1", 0), _Collect)
    server.received = queue.Queue()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address
        code, out, _ = run_cli(capsys, "graphite-export", "--history", str(recorded), "20260101",
                               "--graphite", f"{host}:{port}")
        assert code == 0 and out.startswith("sent ") and "20260101-0100-aaaa" in out
        data = server.received.get(timeout=5).decode()  # type: ignore[attr-defined]
        assert "octoprobe.lab1.metrics.boot.ssh.median 5 " in data
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_graphite_export_errors(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "graphite-export", "--history", str(recorded), "latest")
    assert code == 2 and "--graphite HOST:PORT" in err
    code, _, err = run_cli(capsys, "graphite-export", "--history", str(recorded), "latest", "--graphite", "h:0")
    assert code == 2 and "expected HOST:PORT" in err
