"""A Tempest run's subunit v2 stream, as per-test results and counts.

:func:`parse_subunit` reads the stream (python-subunit's
``ByteStreamToStreamResult`` into testtools' ``StreamToDict``) into one
:class:`TempestResult` per test: its id, ``pass`` / ``fail`` / ``skip``,
duration and reason (the skip reason, or the failure's traceback trimmed to
its last lines). Reasons are redacted (:mod:`octoprobe.redact`), and any
literal secret the caller names (the passwords of the clouds used) is
replaced too: Tempest's tracebacks may quote request bodies.

Class-level errors (``setUpClass (tempest.api...Class)``) are results like
any other; :func:`class_of_fixture` names the class they stand for.

Pure: reads bytes, no Tempest, no cloud.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable

from octoprobe.redact import REDACTED, redact_text

__all__ = [
    "PASS",
    "FAIL",
    "SKIP",
    "TempestResult",
    "SubunitError",
    "parse_subunit",
    "counts",
    "headline",
    "redact",
    "class_of_fixture",
    "test_name",
]

PASS, FAIL, SKIP = "pass", "fail", "skip"

# testtools' StreamToDict statuses -> ours ("exists" and "inprogress" are not results)
_STATUS = {
    "success": PASS,
    "uxsuccess": FAIL,  # an expected failure that passed: Tempest treats it as failing
    "fail": FAIL,
    "skip": SKIP,
    "xfail": PASS,
}
_FIXTURE_RE = re.compile(r"^(setUpClass|tearDownClass|setUpModule|tearDownModule) \(([\w.]+)\)$")
_REASON_LINES = 12  # of a traceback: the end says what went wrong
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Failure|Mismatch|NotFound|Conflict|BadRequest|"
                             r"Forbidden|Unauthorized|Timeout|Body|Exists|Gone|Unexpected)\w*: ")


class SubunitError(ValueError):
    """A stream that is not subunit v2."""


@dataclass(frozen=True)
class TempestResult:
    test_id: str  # tempest.api...Class.test_x[id-...,smoke]
    status: str  # pass | fail | skip
    duration: float | None  # seconds, when the stream has both timestamps
    reason: str = ""

    def to_dict(self) -> dict:
        return {"test_id": self.test_id, "status": self.status, "duration": self.duration, "reason": self.reason}


def test_name(test_id: str) -> str:
    """The test id without Tempest's ``[attributes]``."""
    return test_id.split("[", 1)[0]


def class_of_fixture(test_id: str) -> str | None:
    """``setUpClass (tempest.api.x.Class)`` -> ``tempest.api.x.Class``; None for a test."""
    m = _FIXTURE_RE.match(test_id)
    return m.group(2) if m else None


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the literal ``secrets`` and what :func:`octoprobe.redact.redact_text` finds."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return redact_text(text)


def _reason(details: dict, status: str) -> str:
    def text(name: str) -> str:
        content = details.get(name)
        if content is None:
            return ""
        try:
            return content.as_text()
        except Exception:  # binary or undecodable attachment
            return ""

    if status == SKIP:
        return text("reason").strip()
    if status == FAIL:
        tb = text("traceback").strip() or text("reason").strip()
        lines = [ln for ln in tb.splitlines() if ln.strip()]
        tail = lines[-_REASON_LINES:]
        # a chained traceback's first exception is often the cause (a schema error): keep it
        causes = [ln for ln in lines[:-_REASON_LINES] if _EXCEPTION_LINE.match(ln)][:3]
        return "\n".join(causes + tail)
    return ""


def headline(reason: str, width: int = 200) -> str:
    """One line saying why: the first ``module.Exception: message`` line of
    the reason, with the ``Details:`` line Tempest adds, else its last line."""
    lines = [ln.strip() for ln in reason.splitlines() if ln.strip()]
    exceptions = [i for i, ln in enumerate(lines) if _EXCEPTION_LINE.match(ln)]
    if exceptions:
        line = lines[exceptions[0]]
        details = next((ln for ln in lines[exceptions[0]:] if ln.startswith("Details:")), None)
        if details and details not in line:
            line = f"{line} | {details}"
    else:
        line = lines[-1] if lines else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def parse_subunit(
    stream: bytes | BinaryIO,
    *,
    secrets: Iterable[str] = (),
    on_result: Callable[[TempestResult], None] | None = None,
) -> list[TempestResult]:
    """Every test result of a subunit v2 stream, in the order they ended;
    ``on_result`` is called with each as it is read (progress).

    Raises :class:`SubunitError` when the stream holds non-subunit bytes
    (a v1 stream, or text): those would otherwise vanish silently.
    """
    import subunit
    import testtools

    source = io.BytesIO(stream) if isinstance(stream, (bytes, bytearray)) else stream
    secrets = [s for s in secrets if s]
    out: list[TempestResult] = []
    junk = io.BytesIO()

    def on_test(test: dict) -> None:
        status = _STATUS.get(test["status"])
        if status is None:
            return
        start, stop = (test.get("timestamps") or (None, None))[:2]
        duration = (stop - start).total_seconds() if start is not None and stop is not None else None
        reason = redact(_reason(test.get("details") or {}, status), secrets)
        result = TempestResult(test["id"], status, duration, reason)
        out.append(result)
        if on_result is not None:
            on_result(result)

    case = subunit.ByteStreamToStreamResult(source, non_subunit_name="stdout")
    sink = testtools.StreamToDict(on_test)
    junk_sink = _NonSubunit(junk)
    result = testtools.CopyStreamResult([sink, junk_sink])
    result.startTestRun()
    try:
        case.run(result)
    finally:
        result.stopTestRun()
    stray = junk.getvalue().strip()
    if stray and not out:
        raise SubunitError(f"not a subunit v2 stream (starts with {stray[:40]!r})")
    return out


class _NonSubunit:
    """Collects the bytes ByteStreamToStreamResult could not parse as subunit."""

    def __init__(self, sink: io.BytesIO):
        self._sink = sink

    def startTestRun(self) -> None:
        pass

    def stopTestRun(self) -> None:
        pass

    def status(self, test_id=None, test_status=None, file_name=None, file_bytes=None, **_):
        if test_id is None and file_name == "stdout" and file_bytes:
            self._sink.write(file_bytes)


def counts(results: Iterable[TempestResult]) -> dict[str, int]:
    """``{"pass": n, "fail": n, "skip": n}``."""
    out = {PASS: 0, FAIL: 0, SKIP: 0}
    for r in results:
        out[r.status] += 1
    return out
