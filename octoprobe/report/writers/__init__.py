"""The report writers. :func:`write_report` writes them all into one directory:

``summary.json`` (the RunResult, redacted), ``junit.xml``, ``summary.md`` and
``report.html``. Every writer renders a redacted copy of the result, so no
secret reaches a file even when a writer is called on its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from octoprobe.report.model import RunResult
from octoprobe.report.writers.html import render_html
from octoprobe.report.writers.json_summary import render_json
from octoprobe.report.writers.junit import render_junit
from octoprobe.report.writers.markdown import render_markdown

__all__ = ["FILES", "write_report", "render_html", "render_json", "render_junit", "render_markdown"]

#: file name -> renderer
FILES = {
    "summary.json": render_json,
    "junit.xml": render_junit,
    "summary.md": render_markdown,
    "report.html": render_html,
}


def write_report(result: RunResult, directory: str | Path) -> list[Path]:
    """Write every report file into ``directory`` (created if missing);
    returns the paths written. Each file is written atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    safe = result.redacted()
    written = []
    for name, render in FILES.items():
        path = directory / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(render(safe), encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
