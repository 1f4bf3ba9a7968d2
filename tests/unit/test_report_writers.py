"""octoprobe.report.writers: JSON summary, JUnit XML, Markdown and the HTML
report, written from hand-built runs; escaping, offline-ness and redaction."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from octoprobe.report.model import Environment, Gate, RunResult, TestResult
from octoprobe.report.writers import FILES, render_html, render_junit, render_markdown, write_report
from octoprobe.report.writers.html import nice_ticks, svg_chart

DATA = Path(__file__).parent / "data" / "report" / "run_result.json"
SECRETS = ("hunter2-Secret", "gAAAAABsecrettokenvalue0123456789abcdef", "s3cr3t-app-cred", "Zm9vYmFyYmF6-bearer")


@pytest.fixture
def result() -> RunResult:
    return RunResult.from_json(DATA.read_text())


def _secret_run() -> RunResult:
    pw, token, cred, bearer = SECRETS
    longrepr = (
        "def test_auth(conn):\n"
        f'>       conn.authorize(password="{pw}")\n'
        f"E       keystoneauth1.exceptions.http.Unauthorized: POST https://keystone:5000/v3/auth/tokens?token={token}\n"
        f"E       X-Auth-Token: {token}\n"
        f'E       body: {{"application_credential_secret": "{cred}"}}\n'
        f"E       Authorization: Bearer {bearer}\n"
    )
    test = TestResult(
        "conformance/identity/test_auth.py::test_auth", "failed", 0.3, reason=f"Unauthorized password={pw}",
        longrepr=longrepr, capability="identity-auth",
        samples=[{"metric": "auth.latency", "value": 0.2, "unit": "s", "metadata": {"os_token": token}}],
    )
    gate = Gate("auth", "auth.latency", "max", 0.1, "<=", 0.2, False, f"slow with X-Auth-Token: {token}", "s")
    env = Environment(cloud="lab", extra={"auth": f"password={pw}"})
    return RunResult("r-secret", "2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00", env, [test], [gate])


# ---------------------------------------------------------------- all files


def test_write_report_writes_every_file(result: RunResult, tmp_path: Path) -> None:
    written = write_report(result, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(FILES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FILES)  # no temporaries left


def test_no_secret_lands_in_any_report_file(tmp_path: Path) -> None:
    write_report(_secret_run(), tmp_path)
    files = list(tmp_path.rglob("*"))
    assert len(files) == len(FILES)
    for path in files:
        text = path.read_text(encoding="utf-8")
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} in {path.name}"
        assert "redacted" in text, path.name


def test_each_renderer_redacts_on_its_own() -> None:
    run = _secret_run()
    for name, render in FILES.items():
        text = render(run)
        assert not [s for s in SECRETS if s in text], name


# ---------------------------------------------------------------- JSON


def test_json_summary_round_trips(result: RunResult, tmp_path: Path) -> None:
    write_report(result, tmp_path)
    back = RunResult.from_json((tmp_path / "summary.json").read_text())
    assert back == result.redacted()
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["verdict"] == "FAIL" and data["counts"]["total"] == 9


# ---------------------------------------------------------------- JUnit

_CASE_CHILDREN = {"properties", "skipped", "error", "failure", "system-out", "system-err"}


def _check_junit(text: str) -> ET.Element:
    """Structural check of the JUnit schema (Jenkins' junit-10.xsd rules)."""
    root = ET.fromstring(text.encode())
    assert root.tag == "testsuites"
    for suite in root:
        assert suite.tag == "testsuite"
        for attr in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
            assert attr in suite.attrib, attr
        cases = suite.findall("testcase")
        assert [c.tag for c in suite] == ["properties"] * (suite[0].tag == "properties") + ["testcase"] * len(cases)
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        float(suite.get("time"))
        for prop in suite.find("properties") if suite.find("properties") is not None else ():
            assert prop.tag == "property" and set(prop.attrib) == {"name", "value"}
        for case in cases:
            assert case.get("name") and "classname" in case.attrib
            float(case.get("time"))
            tags = [child.tag for child in case]
            assert set(tags) <= _CASE_CHILDREN, tags
            assert sum(t in ("skipped", "error", "failure") for t in tags) <= 1
            if "properties" in tags:
                assert tags[0] == "properties"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    assert "message" in child.attrib
    return root


def test_junit_is_well_formed_and_consistent(result: RunResult) -> None:
    root = _check_junit(render_junit(result))
    suite = root.find("testsuite")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.findall("testcase")}
    failure = cases[("conformance.compute.test_servers", "test_delete")].find("failure")
    assert failure.get("message") == "AssertionError: server still ACTIVE after 60 s"
    assert "assert server.status" in failure.text
    skipped = cases[("conformance.compute.test_servers", "test_resize")].find("skipped")
    assert "admin" in skipped.get("message")
    error = cases[("conformance.image.test_images", "test_<script>window.__pwned=1</script>")].find("error")
    assert error.get("message").startswith("error in setup:")
    gate = cases[("octoprobe.gates", "boot_time")].find("failure")
    assert "35.1" in gate.get("message") and gate.get("type") == "gate"
    assert cases[("octoprobe.gates", "fio_randread")].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["verdict"] == "FAIL" and props["env.ceph"] == "16.2.15"
    capability = cases[("conformance.compute.test_servers", "test_create")].find("properties/property")
    assert capability.attrib == {"name": "capability", "value": "compute-servers-create"}


def test_junit_survives_control_characters() -> None:
    run = RunResult("r", "s", "f", tests=[TestResult("t.py::a\x00b", "failed", reason="bell\x07", longrepr="\x1b[31mred")])
    _check_junit(render_junit(run))


# ---------------------------------------------------------------- Markdown


def test_markdown_summary(result: RunResult) -> None:
    text = render_markdown(result)
    assert text.startswith("## octoprobe run 20260124-0100-abcd") and "**FAIL**" in text
    assert "9 tests: 5 passed, 1 failed, 1 errors, 1 skipped" in text
    assert "boot\\_time" in text and "p95 of boot.active is 35.1 s" in text
    assert "test_delete" in text and "server still ACTIVE" in text
    assert not re.search(r"(?<!\\)<img", text)  # the failure reason's markup is escaped
    assert "test_create" not in text  # passing tests are not listed


def test_markdown_for_a_passing_run() -> None:
    run = RunResult("ok", "s", "f", tests=[TestResult("t.py::a", "passed")])
    text = render_markdown(run)
    assert "**PASS**" in text and "Failing" not in text


# ---------------------------------------------------------------- HTML


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_escaped(result: RunResult) -> None:
    html = render_html(result)
    parser = _Collect()
    parser.feed(html)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    for _, attrs in parser.tags:
        for name in ("src", "href", "xlink:href", "action"):
            assert name not in attrs, attrs
    assert not re.search(r"url\s*\(|@import|https?://(?!www\.w3\.org/2000/svg)", html)
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>upload" not in html
    text = "".join(parser.text)
    assert "test_<script>window.__pwned=1</script>" in text  # shown as text


def test_html_sections(result: RunResult) -> None:
    html = render_html(result)
    parser = _Collect()
    parser.feed(html)
    ids = {a.get("id") for _, a in parser.tags}
    assert {"verdict", "gates", "coverage", "charts", "tests", "environment"} <= ids
    header = next(a for t, a in parser.tags if a.get("id") == "verdict")
    assert header["data-verdict"] == "FAIL" and "fail" in header["class"]
    charts = [a["data-metric"] for t, a in parser.tags if t == "figure" and a.get("class") == "chart"]
    assert charts == ["boot.active", "fio.randread.iops", "iperf3.<tcp>"]
    assert sum(1 for t, a in parser.tags if t == "svg" and a.get("class") == "chart-svg") == 3
    gates = [(a["data-gate"], a["data-passed"]) for t, a in parser.tags if t == "tr" and "data-gate" in a]
    assert gates == [("boot_time", "false"), ("fio_randread", "true")]
    assert "needs an admin cloud" in html and "known bug 123" in html and "16.2.15" in html


def test_html_for_an_empty_run() -> None:
    html = render_html(RunResult("empty", "s", "f"))
    assert 'data-verdict="NO TESTS"' in html
    assert 'id="charts-empty"' in html and 'id="gates-empty"' in html and 'id="tests-empty"' in html


def test_svg_chart_bar_and_line() -> None:
    bar = svg_chart("m", "s", ["a", "b"], [1.0, -2.0])
    assert bar.count('class="bar"') == 2 and bar.startswith("<svg") and bar.endswith("</svg>")
    line = svg_chart("m", "s", [str(i) for i in range(100)], [float(i % 7) for i in range(100)])
    assert line.count("<polyline") == 1 and line.count("<circle") == 100
    flat = svg_chart("m", "", ["a"], [0.0])
    assert "nan" not in flat.lower() and "inf" not in flat.lower()


@pytest.mark.parametrize("low, high", [(0, 1), (0, 35.1), (-3, 7), (5, 5), (0, 1e-9), (1000, 3183)])
def test_nice_ticks_cover_the_range(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert ticks == sorted(ticks) and ticks[0] <= low and ticks[-1] >= high and len(ticks) <= 12


def test_html_has_the_statistics_of_every_metric():
    from octoprobe.report.model import RunResult, TestResult
    from octoprobe.report.writers.html import render_html

    samples = [{"metric": "boot.ssh", "value": v, "unit": "s", "metadata": {}} for v in (5.0, 6.0, 7.0, 30.0)]
    html = render_html(RunResult("r1", "s", "f", tests=[TestResult("perf/test_boot.py::t", "passed",
                                                                     samples=samples)]))
    row = html.split('<tr class="stat" data-metric="boot.ssh">', 1)[1].split("</tr>", 1)[0]
    assert ">4<" in row and "6.5 s" in row and "30 s" in row and "5 s" in row and "–" in row, row
