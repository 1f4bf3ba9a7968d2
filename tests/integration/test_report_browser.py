"""The HTML report in a real headless browser (Debian's chromium).

A report is written from a hand-built run (failing gate, a test named with a
``<script>`` tag, three sample metrics, a chaos timeline) and opened in chromium, driven over
the DevTools protocol (``--remote-debugging-pipe``): the page must load with
no network request other than the file itself, no console message, no
JavaScript error and no script at all; the verdict, the gates, the coverage
table, one SVG per metric and the chaos timeline (a line per series, the
fault's inject and heal as vertical lines) must be in the DOM. chromium's own
``--dump-dom`` and ``--screenshot`` are checked as well.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from octoprobe.report.model import RunResult
from octoprobe.report.writers import write_report

DATA = Path(__file__).parents[1] / "unit" / "data" / "report" / "run_result.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)"
)
TIMEOUT = 60
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
)


class DevTools:
    """A minimal DevTools-protocol client over chromium's pipe (fds 3 and 4,
    messages are JSON terminated by a NUL byte)."""

    def __init__(self, profile: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds() -> None:  # runs in the child, before exec
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child_fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def _next(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise EOFError(f"chromium closed the pipe (exit code {self.proc.poll()})")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._next(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_event(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event["method"] == method:
                return event
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._next(deadline)
            if message.get("method") == method:
                return message

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._next(deadline)
        except TimeoutError:
            pass

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    result = RunResult.from_json(DATA.read_text())
    directory = tmp_path_factory.mktemp("report")
    write_report(result, directory)
    return result, directory / "report.html"


DOM_FACTS = """JSON.stringify({
  verdict: document.querySelector('#verdict') && document.querySelector('#verdict').dataset.verdict,
  verdictText: document.querySelector('#verdict') && document.querySelector('#verdict').textContent,
  charts: Array.from(document.querySelectorAll('figure.chart')).map(f => ({
      metric: f.dataset.metric, svg: f.querySelectorAll('svg').length,
      marks: f.querySelectorAll('svg rect.bar, svg polyline.line').length,
      width: f.querySelector('svg') ? f.querySelector('svg').getBoundingClientRect().width : 0})),
  failingGates: Array.from(document.querySelectorAll('#gates tr.gate[data-passed=false]')).map(r => r.dataset.gate),
  capabilities: Array.from(document.querySelectorAll('#coverage tr.capability')).map(r => r.dataset.capability),
  environment: document.querySelector('#environment') ? document.querySelector('#environment').textContent : '',
  hardware: Array.from(document.querySelectorAll('#hardware tr.node')).map(r => r.textContent),
  timelines: Array.from(document.querySelectorAll('#timelines-section figure.timeline')).map(f => ({
      test: f.dataset.test, name: f.dataset.timeline, svg: f.querySelectorAll('svg.timeline-svg').length,
      series: Array.from(f.querySelectorAll('svg polyline.series')).map(p => p.dataset.series),
      events: Array.from(f.querySelectorAll('svg line.event')).map(l => ({
          name: l.dataset.event, x: l.getBoundingClientRect().x, height: l.getBoundingClientRect().height})),
      legend: f.querySelector('ul.legend') ? f.querySelector('ul.legend').textContent : '',
      width: f.querySelector('svg.timeline-svg')
          ? f.querySelector('svg.timeline-svg').getBoundingClientRect().width : 0})),
  scripts: document.querySelectorAll('script').length,
  injected: typeof window.__pwned !== 'undefined',
  testNames: Array.from(document.querySelectorAll('#tests tr.test td:first-child')).map(td => td.textContent),
})"""


def test_report_renders_offline_with_verdict_and_charts(report: tuple[RunResult, Path], tmp_path: Path) -> None:
    result, html = report
    url = html.as_uri()
    tools = DevTools(tmp_path / "profile")
    try:
        targets = tools.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        session = tools.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        for domain in ("Network", "Runtime", "Log", "Page"):
            tools.call(f"{domain}.enable", session=session)
        tools.call("Page.navigate", {"url": url}, session=session)
        tools.wait_event("Page.loadEventFired")
        tools.drain(0.5)  # let late requests or messages arrive
        facts = json.loads(
            tools.call("Runtime.evaluate", {"expression": DOM_FACTS, "returnByValue": True}, session=session)[
                "result"
            ]["value"]
        )
        shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session)
    finally:
        tools.close()

    requests = [e["params"]["request"]["url"] for e in tools.events if e["method"] == "Network.requestWillBeSent"]
    assert requests == [url], f"the report made network requests: {requests}"
    console = [e["params"] for e in tools.events if e["method"] == "Runtime.consoleAPICalled"]
    assert console == [], f"console messages: {console}"
    exceptions = [e["params"] for e in tools.events if e["method"] == "Runtime.exceptionThrown"]
    assert exceptions == [], f"JavaScript errors: {exceptions}"
    log = [e["params"]["entry"] for e in tools.events if e["method"] == "Log.entryAdded"]
    assert [e for e in log if e.get("level") in ("error", "warning")] == [], f"browser log: {log}"

    assert facts["verdict"] == "FAIL"
    assert "FAIL" in facts["verdictText"] and "boot_time" in facts["verdictText"]
    metrics = list(result.samples_by_metric())
    assert [c["metric"] for c in facts["charts"]] == metrics
    for chart in facts["charts"]:
        assert chart["svg"] == 1 and chart["marks"] >= 1 and chart["width"] > 100, chart
    assert facts["failingGates"] == ["boot_time"]
    assert "compute-servers-delete" in facts["capabilities"]
    assert "image-<b>upload</b>" in facts["capabilities"]  # shown as text, not markup
    assert "ceph" in facts["environment"] and "16.2.15" in facts["environment"]
    assert len(facts["hardware"]) == 1 and "AMD EPYC 7713" in facts["hardware"][0]
    expected = [(t.nodeid, tl) for t in result.tests for tl in t.timelines]
    assert [(f["test"], f["name"]) for f in facts["timelines"]] == [(n, tl["name"]) for n, tl in expected]
    for figure, (_, timeline) in zip(facts["timelines"], expected):
        assert figure["svg"] == 1 and figure["width"] > 300, figure
        assert figure["series"] == list(timeline["series"]), figure
        events = {e["name"]: e for e in figure["events"]}
        assert {"inject", "heal"} <= set(events), figure
        assert events["inject"]["x"] < events["heal"]["x"] and events["inject"]["height"] > 100, figure
        assert "inject" in figure["legend"] and "heal" in figure["legend"] and "degraded objects" in figure["legend"]
    assert facts["scripts"] == 0 and facts["injected"] is False
    assert any("<script>window.__pwned=1</script>" in name for name in facts["testNames"])
    png = (tmp_path / "cdp.png")
    png.write_bytes(__import__("base64").b64decode(shot["data"]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chromium_dump_dom_and_screenshot(report: tuple[RunResult, Path], tmp_path: Path) -> None:
    result, html = report
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600"]
    dom = subprocess.run(
        [*common, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=TIMEOUT, check=True
    ).stdout
    assert 'id="verdict"' in dom and 'data-verdict="FAIL"' in dom
    assert dom.count('<figure class="chart"') == len(result.samples_by_metric())
    assert dom.count('<figure class="timeline"') == sum(len(t.timelines) for t in result.tests) == 1
    assert 'data-event="inject"' in dom and 'data-event="heal"' in dom
    assert "<script" not in dom
    shot = tmp_path / "report.png"
    subprocess.run([*common, f"--screenshot={shot}", html.as_uri()], capture_output=True, timeout=TIMEOUT, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
