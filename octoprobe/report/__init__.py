"""octoprobe's run report: results collected from pytest, gate verdicts, and
the writers (self-contained HTML, JUnit XML, JSON summary, Markdown).

* :mod:`octoprobe.report.model` — :class:`RunResult`, :class:`TestResult`,
  :class:`Gate`, :class:`Environment` (plain data, JSON round-trip);
* :mod:`octoprobe.report.results` — :class:`ResultCollector`, the pytest plugin
  that builds a RunResult (``-p octoprobe.report.results --report-dir DIR``);
* :mod:`octoprobe.report.writers` — :func:`write_report` and one module per format.

Everything written goes through :mod:`octoprobe.redact` first.
"""

from octoprobe.report.model import Environment, Gate, RunResult, TestResult
from octoprobe.report.writers import write_report

__all__ = ["Environment", "Gate", "RunResult", "TestResult", "write_report"]
