"""JUnit XML in the common (Jenkins / pytest ``xunit2``) form:

``<testsuites>`` with one ``<testsuite name="octoprobe">`` holding a
``<testcase classname name time>`` per test, with a ``<failure>``,
``<error>`` or ``<skipped>`` child when it did not pass, and one
``<testcase classname="octoprobe.gates">`` per gate so that a CI system shows
a failing gate like a failing test.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from octoprobe.report.model import RunResult, TestResult

__all__ = ["render_junit"]

# Characters XML 1.0 does not allow, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _split(nodeid: str) -> tuple[str, str]:
    """pytest's classname / name split: ``a/b.py::C::t`` -> (``a.b.C``, ``t``)."""
    parts = nodeid.split("::")
    if len(parts) == 1:
        return "", nodeid
    path = parts[0]
    if path.endswith(".py"):
        path = path[:-3]
    classname = ".".join([path.replace("/", ".")] + parts[1:-1])
    return classname, parts[-1]


def _testcase(parent: ET.Element, test: TestResult) -> None:
    classname, name = _split(test.nodeid)
    case = ET.SubElement(parent, "testcase", classname=_x(classname), name=_x(name), time=f"{test.duration:.3f}")
    if test.outcome == "failed":
        child = ET.SubElement(case, "failure", message=_x(test.reason), type="failure")
        child.text = _x(test.longrepr)
    elif test.outcome == "error":
        child = ET.SubElement(case, "error", message=_x(f"error in {test.when}: {test.reason}"), type="error")
        child.text = _x(test.longrepr)
    elif test.outcome in ("skipped", "xfail"):
        kind = "pytest.xfail" if test.outcome == "xfail" else "pytest.skip"
        ET.SubElement(case, "skipped", message=_x(test.reason), type=kind)
    props = []
    if test.capability:
        props.append(("capability", test.capability))
    if test.capability_id:
        props.append(("capability_id", test.capability_id))
    props.extend(("gate", g) for g in test.gates)
    if props:
        # In the schema, <properties> comes first in a testcase.
        properties = ET.Element("properties")
        for key, value in props:
            ET.SubElement(properties, "property", name=_x(key), value=_x(value))
        case.insert(0, properties)


def render_junit(result: RunResult) -> str:
    result = result.redacted()
    counts = result.counts()
    gate_failures = len(result.failing_gates)
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        name="octoprobe",
        tests=str(counts["total"] + len(result.gates)),
        failures=str(counts["failed"] + gate_failures),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"] + counts["xfail"]),
        time=f"{result.duration:.3f}",
        timestamp=_x(result.started),
        hostname=_x(result.environment.cloud or "unknown"),
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="run_id", value=_x(result.run_id))
    ET.SubElement(properties, "property", name="verdict", value=result.verdict)
    for key, value in result.environment.rows():
        ET.SubElement(properties, "property", name=_x(f"env.{key}"), value=_x(value))
    for test in result.tests:
        _testcase(suite, test)
    for gate in result.gates:
        case = ET.SubElement(suite, "testcase", classname="octoprobe.gates", name=_x(gate.name), time="0.000")
        if not gate.passed:
            message = gate.reason or (
                f"{gate.statistic}({gate.metric}) = {gate.measured} not {gate.comparison} {gate.threshold}"
            )
            child = ET.SubElement(case, "failure", message=_x(message), type="gate")
            child.text = _x(
                f"gate {gate.name}: {gate.statistic}({gate.metric}) measured {gate.measured} {gate.unit}, "
                f"threshold {gate.comparison} {gate.threshold} {gate.unit}\n{gate.reason}"
            )
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
