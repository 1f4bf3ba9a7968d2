"""Chaos timelines in the report: the model's plain data, collection through
``record_property``, a scenario's Timeline turned into it, and the HTML
figure (a panel and a polyline per series, the fault's inject and heal as
vertical lines)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from octoprobe.ceph import TimelinePoint, parse_status
from octoprobe.chaos.measure import Event, Timeline
from octoprobe.chaos.report import downsample, timeline_report, write_rate
from octoprobe.chaos.workload import WriteRecord
from octoprobe.redact import REDACTED
from octoprobe.report.merge import merge_results
from octoprobe.report.model import RunResult, TestResult, clean_timeline
from octoprobe.report.results import TIMELINE_PROPERTY, ResultCollector
from octoprobe.report.writers.html import render_html, svg_timeline

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data" / "report" / "run_result.json"
CEPH = Path(__file__).parent / "data" / "ceph"
TOKEN = "gAAAAABplantedtokenplantedtoken0123456789"


def _timeline(**over) -> dict:
    data = {
        "name": "disk",
        "duration": 40.0,
        "series": {"degraded_objects": [[0.0, 0.0], [10.0, 120.0], [30.0, 0.0]],
                   "inactive_pgs": [[0.0, 0.0], [10.0, 8.0], [20.0, 0.0]],
                   "client_ops": [[0.0, 4.0], [10.0, 0.0], [20.0, 4.0]]},
        "units": {"degraded_objects": "objects", "inactive_pgs": "PGs", "client_ops": "writes/s"},
        "events": [{"name": "inject", "at": 5.0, "detail": "disk osd.3"},
                   {"name": "heal", "at": 25.0, "detail": ""}],
    }
    data.update(over)
    return data


def _run(*tests: TestResult) -> RunResult:
    return RunResult("r1", "2026-01-01T00:00:00+00:00", "2026-01-01T00:10:00+00:00", tests=list(tests))


# ---------------------------------------------------------------- model


def test_timelines_round_trip_through_json() -> None:
    run = _run(TestResult("chaos/test_scenarios.py::test_disk", "passed", timelines=[_timeline()]))
    back = RunResult.from_json(run.to_json())
    assert back == run and back.tests[0].timelines == [_timeline()]
    sample = RunResult.from_json(DATA.read_text())
    assert [t["name"] for test in sample.tests for t in test.timelines] == ["disk"]


def test_a_summary_without_timelines_still_loads() -> None:
    data = json.loads(_run(TestResult("a.py::t", "passed")).to_json())
    del data["tests"][0]["timelines"]
    assert RunResult.from_dict(data).tests[0].timelines == []


def test_clean_timeline_keeps_only_finite_well_formed_data() -> None:
    messy = {"name": None, "extra": 1,
             "series": {"x": [[2, 1], [1, float("nan")], [0, 3], "bad", [1, 2, 3], [True, 1]], 7: [[0, 1]]},
             "units": {"x": 5}, "events": [{"name": "inject", "at": "soon"}, {"name": "heal", "at": 3}, "x"],
             "duration": float("inf")}
    assert clean_timeline(messy) == {"name": "timeline", "series": {"x": [[0.0, 3.0], [2.0, 1.0]], "7": [[0.0, 1.0]]},
                                     "units": {"x": "5"}, "events": [{"name": "heal", "at": 3.0, "detail": ""}]}
    assert TestResult("a", "passed", timelines=[messy, "not a mapping"]).timelines == [clean_timeline(messy)]
    run = _run(TestResult("a", "passed", timelines=[messy]))
    json.loads(run.to_json())  # no NaN or Infinity left to refuse


def test_timelines_are_redacted() -> None:
    leaky = _timeline(name=f"disk token={TOKEN}",
                      events=[{"name": "inject", "at": 1.0, "detail": f"X-Auth-Token: {TOKEN}"}])
    leaky["series"][f"token={TOKEN}"] = [[0.0, 1.0]]
    run = _run(TestResult("a", "passed", timelines=[leaky])).redacted()
    text = run.to_json()
    assert TOKEN not in text and REDACTED in text
    assert run.tests[0].timelines[0]["series"]["degraded_objects"] == _timeline()["series"]["degraded_objects"]
    assert TOKEN not in render_html(_run(TestResult("a", "passed", timelines=[leaky])))


def test_merge_keeps_timelines() -> None:
    part = _run(TestResult("test_scenarios.py::test_disk", "passed", timelines=[_timeline()]))
    merged = merge_results("m", {"chaos": part}, started="s", finished="f")
    assert merged.tests[0].nodeid == "chaos/test_scenarios.py::test_disk"
    assert merged.tests[0].timelines == [_timeline()]


# ---------------------------------------------------------------- collection

TESTS = f'''
import pytest

TIMELINE = {_timeline()!r}

def test_chaos(record_property):
    record_property("{TIMELINE_PROPERTY}", TIMELINE)

def test_two(record_property):
    record_property("{TIMELINE_PROPERTY}", dict(TIMELINE, name="first"))
    record_property("{TIMELINE_PROPERTY}", dict(TIMELINE, name="second"))

def test_not_a_mapping(record_property):
    record_property("{TIMELINE_PROPERTY}", [1, 2])

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")

def test_failing_with_a_timeline(record_property, broken_teardown):
    record_property("{TIMELINE_PROPERTY}", TIMELINE)
    assert False
'''


def test_record_property_adds_timelines_to_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tl=TESTS)
    collector = ResultCollector()
    pytester.runpytest("-p", "no:octoprobe", "-p", "no:cacheprovider", plugins=[collector])
    result = collector.result
    assert result is not None
    tests = {t.nodeid.rsplit("::", 1)[-1]: t for t in result.tests}
    assert tests["test_chaos"].timelines == [_timeline()]  # once, though on the call and teardown reports
    assert [t["name"] for t in tests["test_two"].timelines] == ["first", "second"]
    assert tests["test_not_a_mapping"].timelines == []
    assert tests["test_failing_with_a_timeline"].outcome == "failed"
    assert tests["test_failing_with_a_timeline"].timelines == [_timeline()]
    back = RunResult.from_json(result.to_json())
    assert back.tests == result.tests


# ---------------------------------------------------------------- from a chaos Timeline


def _status(name: str):
    return parse_status(json.loads((CEPH / name).read_text()))


def _chaos_timeline() -> tuple[Timeline, list[WriteRecord]]:
    healthy, degraded, inactive = (_status(f"status_{n}.json") for n in ("healthy", "degraded", "inactive"))
    points = [TimelinePoint.from_status(0.0, healthy), TimelinePoint.from_status(1.0, healthy),
              TimelinePoint.from_status(2.5, inactive), TimelinePoint.from_status(4.0, degraded),
              replace(TimelinePoint.from_status(5.0, healthy), error="ceph status timed out"),
              TimelinePoint.from_status(6.0, degraded), TimelinePoint.from_status(9.0, healthy)]
    events = [Event(2.0, "inject", "disk osd.2"), Event(2.1, "injected"), Event(6.5, "heal"),
              Event(6.6, "healed"), Event(9.0, "clean")]
    t0 = 1000.0
    writes = [WriteRecord(f"w{i}", 10, "x", "during", t0 + i * 0.5, t0 + i * 0.5 + 0.1, i not in (5, 6, 7))
              for i in range(18)]
    writes.append(WriteRecord("before", 10, "x", "before", t0 - 5, t0 - 4, True))  # before the timeline: ignored
    return Timeline(t0, points, events), writes


def test_a_chaos_timeline_becomes_report_data() -> None:
    timeline, writes = _chaos_timeline()
    data = timeline_report("disk", timeline, writes=writes)
    assert data == clean_timeline(data)  # already in normal form
    assert data["name"] == "disk" and data["duration"] == 9.0
    assert list(data["series"]) == ["degraded_objects", "misplaced_objects", "inactive_pgs", "osds_down",
                                    "client_ops"]
    assert data["units"]["inactive_pgs"] == "PGs" and data["units"]["client_ops"] == "writes/s"
    assert [e["name"] for e in data["events"]] == ["inject", "heal", "clean"]
    assert data["events"][0] == {"name": "inject", "at": 2.0, "detail": "disk osd.2"}
    degraded = data["series"]["degraded_objects"]
    assert [t for t, _ in degraded] == [0.0, 1.0, 2.5, 4.0, 6.0, 9.0]  # the failed poll left out
    assert degraded[0][1] == 0 and max(v for _, v in degraded) > 0
    assert max(v for _, v in data["series"]["inactive_pgs"]) > 0
    assert max(v for _, v in data["series"]["osds_down"]) >= 1
    ops = data["series"]["client_ops"]
    assert [t for t, _ in ops] == [float(i) for i in range(9)]
    assert ops[0][1] == 2.0 and ops[3][1] == 0.0  # 2 acknowledged writes per second; none from 2.6 s to 4 s
    assert sum(v for _, v in ops) == 15  # every acknowledged write, once
    json.dumps(data, allow_nan=False)


def test_without_writes_there_is_no_client_series() -> None:
    timeline, _ = _chaos_timeline()
    assert "client_ops" not in timeline_report("disk", timeline)["series"]
    assert timeline_report("empty", Timeline(0.0))["series"]["degraded_objects"] == []


def test_long_timelines_are_cut_down_with_their_peaks() -> None:
    points = [[float(t), math.sin(t / 50) * 100 + (1000 if t == 1234 else 0)] for t in range(3600)]
    small = downsample(points, 300)
    assert len(small) <= 300 and small == sorted(small)
    assert max(v for _, v in small) == max(v for _, v in points)
    assert min(v for _, v in small) == min(v for _, v in points)
    assert downsample(points[:10], 300) == points[:10]
    rate = write_rate([WriteRecord("w", 1, "x", "p", 0.0, 3599.0, True)], 0.0, 3600.0, 12.0)
    assert len(rate) == 300 and rate[-1] == [3588.0, round(1 / 12, 3)]


# ---------------------------------------------------------------- HTML


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_has_a_timeline_figure_with_fault_markers() -> None:
    html = render_html(_run(TestResult("chaos/test_scenarios.py::test_disk", "passed", timelines=[_timeline()])))
    parser = _Tags()
    parser.feed(html)
    ids = {a.get("id") for _, a in parser.tags}
    assert "timelines-section" in ids and "timelines-empty" not in ids
    figures = [a for t, a in parser.tags if t == "figure" and a.get("class") == "timeline"]
    assert figures == [{"class": "timeline", "data-test": "chaos/test_scenarios.py::test_disk",
                        "data-timeline": "disk"}]
    lines = [a for t, a in parser.tags if t == "polyline"]
    assert [a["data-series"] for a in lines] == ["degraded_objects", "inactive_pgs", "client_ops"]
    events = {a["data-event"]: a for t, a in parser.tags if t == "line" and a.get("class") == "event"}
    assert set(events) == {"inject", "heal"}
    assert float(events["inject"]["x1"]) < float(events["heal"]["x1"])
    text = "".join(parser.text)
    for label in ("degraded objects (objects)", "inactive PGs (PGs)", "client I/O (writes/s)",
                  "time since the scenario started (s)", "inject 5 s", "heal 25 s"):
        assert label in text, label
    assert '<rect class="fault-window"' in html
    assert "nan" not in html.lower().replace("nano", "")


def test_html_escapes_timelines_and_draws_a_line_per_series() -> None:
    evil = _timeline(name="<script>alert(1)</script>",
                     events=[{"name": 'inject"><script>', "at": 5.0, "detail": "<img src=x>"}])
    evil["series"]["<b>bold</b>"] = [[0.0, 1.0]]
    evil["units"]["<b>bold</b>"] = "<i>u</i>"
    html = render_html(_run(TestResult("t.py::<script>x</script>", "passed", timelines=[evil])))
    assert "<script" not in html and "<img" not in html and "<b>bold" not in html and "<i>u" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    svg = svg_timeline(clean_timeline(evil))
    assert svg.count("<polyline") == 4 and svg.count('class="event"') == 1


def test_html_timeline_edge_cases() -> None:
    empty = render_html(_run(TestResult("a", "passed")))
    assert 'id="timelines-empty"' in empty and 'class="timeline"' not in empty
    flat = svg_timeline(clean_timeline({"name": "x", "series": {"a": [], "b": [[0.0, 0.0]]}}))
    assert flat.count("<polyline") == 1 and "no data" in flat and "nan" not in flat.lower()
    only_inject = svg_timeline(clean_timeline(_timeline(events=[{"name": "inject", "at": 5.0}])))
    assert 'data-event="inject"' in only_inject and 'class="fault-window"' in only_inject
