"""Trends across runs: the terminal table and the self-contained HTML page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from octoprobe.history.store import SeriesPoint
from octoprobe.history.trend import trend_html, trend_rows, trend_table

SERIES = [
    SeriesPoint("20260101-0100-aaaa", "2026-01-01T01:00:00+00:00", (5.0, 4.0, 6.0), "s"),
    SeriesPoint("20260102-0100-bbbb", "2026-01-02T01:00:00+00:00", (8.0,), "s"),
    SeriesPoint("20260103-0100-cccc", "2026-01-03T01:00:00+00:00", (6.0, 6.0), "s"),
]


def test_rows() -> None:
    rows = trend_rows(SERIES)
    assert [(r.run_id, r.median, r.low, r.high, r.n) for r in rows] == [
        ("20260101-0100-aaaa", 5.0, 4.0, 6.0, 3), ("20260102-0100-bbbb", 8.0, 8.0, 8.0, 1),
        ("20260103-0100-cccc", 6.0, 6.0, 6.0, 2)]
    assert rows[0].change is None
    assert rows[1].change == 0.6 and rows[2].change == -0.25
    assert rows[0].date == "2026-01-01 01:00"


def test_table() -> None:
    text = trend_table(SERIES, "boot.ssh")
    lines = text.splitlines()
    assert lines[0] == "boot.ssh (s)"
    assert lines[1].split() == ["run", "date", "median", "min", "max", "n", "change"]
    assert lines[3].split() == ["20260101-0100-aaaa", "2026-01-01", "01:00", "5", "s", "4", "s", "6", "s", "3"]
    assert lines[4].split()[-1] == "+60.0%"
    assert lines[5].split()[-1] == "-25.0%"
    assert len({len(line) for line in lines[1:3]}) == 1  # header and rule line up


def test_table_scales_units() -> None:
    text = trend_table([SeriesPoint("r", "2026-01-01T00:00:00Z", (9.4e9,), "bit/s")], "net.goodput")
    assert "9.4 Gbit/s" in text


def test_table_without_samples() -> None:
    assert trend_table([], "boot.ssh") == "boot.ssh: no samples"


class _Checker(HTMLParser):
    """Collects tags and checks that every opened element (but void ones) is closed."""

    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def test_html_is_self_contained() -> None:
    page = trend_html({"boot.ssh": SERIES, "fio.vm.randwrite-4k.iops": [SERIES[0]._replace(unit="IOPS")],
                       "<b>odd</b>": SERIES[:2]})
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert checker.tags.count("svg") == 3
    assert checker.tags.count("figure") == 3
    assert "<script" not in page.lower()
    urls = re.findall(r"https?://[^\s\"'<>]+", page)
    assert set(urls) == {"http://www.w3.org/2000/svg"}
    assert "<b>odd</b>" not in page and "&lt;b&gt;odd&lt;/b&gt;" in page
    assert 'data-metric="boot.ssh"' in page
    assert "20260102-0100-bbbb" in page and "+60.0%" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page


def test_html_line_chart_for_several_runs() -> None:
    page = trend_html({"boot.ssh": SERIES})
    assert "<polyline" in page
    assert page.count("<circle") == 3
