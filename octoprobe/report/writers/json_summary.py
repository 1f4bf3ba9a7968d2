"""The machine-readable summary: the redacted RunResult as JSON
(read it back with :meth:`RunResult.from_json`)."""

from __future__ import annotations

from octoprobe.report.model import RunResult

__all__ = ["render_json"]


def render_json(result: RunResult) -> str:
    return result.redacted().to_json(indent=2) + "\n"
