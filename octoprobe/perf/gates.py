"""Judging samples against a gate profile (and optionally a baseline run).

For each gate of a :class:`~octoprobe.perf.profiles.Profile`: take the samples
of its metric whose metadata match its ``where``, compute its statistic
(:func:`octoprobe.perf.stats.summarize`) and compare it with the threshold.
With a baseline, the same statistic of the baseline's samples is computed too,
and a change in the bad direction (higher for a max gate, lower for a min
gate) larger than the profile's ``regression_tolerance`` fails the gate.

Every verdict is a :class:`octoprobe.report.model.Gate` whose ``reason`` is
one sentence naming metric, statistic, measured value, threshold and unit.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from octoprobe.perf.profiles import DEFAULT_TOLERANCE, GateSpec, Profile
from octoprobe.perf.stats import summarize
from octoprobe.report.model import Gate, RunResult, TestResult
from octoprobe.samples import Sample

__all__ = ["format_value", "matches", "select", "judge_gate", "judge", "judge_tests", "samples_of"]

_SYMBOL = {"<=": "≤", ">=": "≥"}
# Units shown with decimal SI prefixes (MB/s is 10**6 B/s).
_PREFIXED_UNITS = ("B/s", "bit/s", "B", "bit")
_LARGE = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _number(value: float) -> str:
    """Four significant digits, never in exponent notation, trailing zeros dropped."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = min(max(0, 3 - math.floor(math.log10(abs(value)))), 12)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: float, unit: str = "") -> str:
    """``45.68 MB/s``, ``1.5 ms``, ``0.953``, ``40 s``: a value with its unit, for reasons."""
    if unit in _PREFIXED_UNITS:
        for factor, prefix in _LARGE:
            if abs(value) >= factor:
                return f"{_number(value / factor)} {prefix}{unit}"
    if unit == "s" and 0 < abs(value) < 1:
        if abs(value) >= 1e-3:
            return f"{_number(value * 1e3)} ms"
        return f"{_number(value * 1e6)} µs"
    return f"{_number(value)} {unit}" if unit else _number(value)


def _as_sample(item: Sample | Mapping[str, Any]) -> Sample:
    return item if isinstance(item, Sample) else Sample.from_dict(item)


def matches(metadata: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` has every key of ``where`` with the same value.

    Values are compared as text too, so ``concurrency: 1`` matches 1 and "1".
    """
    for key, wanted in where.items():
        if key not in metadata:
            return False
        have = metadata[key]
        if have != wanted and str(have) != str(wanted):
            return False
    return True


def select(spec: GateSpec, samples: Iterable[Sample | Mapping[str, Any]]) -> list[Sample]:
    """The samples a gate judges: its metric, metadata matching its ``where``."""
    chosen = []
    for item in samples:
        sample = _as_sample(item)
        if sample.metric == spec.metric and matches(sample.metadata, spec.where):
            chosen.append(sample)
    return chosen


def _label(spec: GateSpec) -> str:
    where = ", ".join(f"{k}={v}" for k, v in spec.where.items())
    return f"{spec.metric} {spec.statistic}" + (f" ({where})" if where else "")


def _unit_problem(spec: GateSpec, samples: Sequence[Sample]) -> str | None:
    units = sorted({s.unit for s in samples})
    if len(units) > 1:
        return f"the samples of {spec.metric} mix units ({', '.join(units)}), so they cannot be summarized"
    if spec.unit and units and units[0] != spec.unit:
        return f"the samples of {spec.metric} are in {units[0] or 'no unit'}, the gate's threshold in {spec.unit}"
    return None


def _percent(fraction: float) -> str:
    """12 %, 5.4 %: one decimal at most, so 5.4 % never reads as the 5 % tolerance."""
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + " %"


def _against_baseline(
    spec: GateSpec, now: float, unit: str, base_samples: Sequence[Sample], tolerance: float
) -> tuple[bool, str]:
    """(regressed?, clause) comparing the statistic ``now`` with the baseline's."""
    if not base_samples:
        return False, "no baseline samples to compare with"
    units = {s.unit for s in base_samples}
    if units != {unit}:
        return False, f"the baseline's samples are in {', '.join(sorted(units))}, not {unit or 'no unit'}: not compared"
    base = summarize([s.value for s in base_samples]).get(spec.statistic)
    worse = now - base if spec.direction == "max" else base - now
    change = f"({format_value(base, unit)} → {format_value(now, unit)})"
    allowed = f"tolerance {_percent(tolerance)}"
    if base == 0:
        if worse > 0:
            return True, f"regressed against the baseline {change}, {allowed}"
        return False, f"not worse than the baseline {change}"
    relative = worse / abs(base)
    if relative > tolerance:
        return True, f"regressed {_percent(relative)} against the baseline {change}, {allowed}"
    if relative > 0:
        return False, f"{_percent(relative)} worse than the baseline {change}, within the {allowed}"
    if relative < 0:
        return False, f"{_percent(-relative)} better than the baseline {change}"
    return False, f"the same as the baseline ({format_value(base, unit)})"


def judge_gate(
    spec: GateSpec,
    samples: Iterable[Sample | Mapping[str, Any]],
    baseline: Iterable[Sample | Mapping[str, Any]] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Gate:
    """The verdict of one gate on ``samples`` (and against ``baseline``, if given)."""
    chosen = select(spec, samples)
    symbol = _SYMBOL[spec.comparison]
    unit = spec.unit or (chosen[0].unit if chosen else "")
    bound = f"must be {symbol} {format_value(spec.threshold, unit)}"

    def verdict(measured: float | None, passed: bool, reason: str) -> Gate:
        return Gate(
            name=spec.name,
            metric=spec.metric,
            statistic=spec.statistic,
            threshold=spec.threshold,
            comparison=spec.comparison,
            measured=measured,
            passed=passed,
            reason=reason,
            unit=unit,
        )

    if not chosen:
        where = ", ".join(f"{k}={v}" for k, v in spec.where.items())
        what = f"no samples of metric {spec.metric}" + (f" with {where}" if where else "")
        if spec.required:
            return verdict(None, False, f"{what}; {spec.statistic} {bound}: FAILED")
        return verdict(None, True, f"not measured: {what} (optional gate; {spec.statistic} {bound})")

    problem = _unit_problem(spec, chosen)
    if problem:
        return verdict(None, False, f"{problem}: FAILED")

    measured = summarize([s.value for s in chosen]).get(spec.statistic)
    passed = spec.holds(measured)
    reason = f"{_label(spec)} = {format_value(measured, unit)}, {bound} (n={len(chosen)})"
    if not passed:
        reason += ": FAILED"

    if baseline is not None:
        regressed, clause = _against_baseline(spec, measured, chosen[0].unit, select(spec, baseline), tolerance)
        reason += f"; {clause}" + (": FAILED" if regressed else "")
        passed = passed and not regressed
    return verdict(measured, passed, reason)


def judge(
    profile: Profile,
    samples: Iterable[Sample | Mapping[str, Any]],
    baseline: Iterable[Sample | Mapping[str, Any]] | None = None,
) -> list[Gate]:
    """One :class:`Gate` per gate of ``profile``, in the profile's order."""
    current = [_as_sample(s) for s in samples]
    base = None if baseline is None else [_as_sample(s) for s in baseline]
    return [judge_gate(spec, current, base, profile.regression_tolerance) for spec in profile.gates]


def samples_of(tests: Iterable[TestResult]) -> list[Sample]:
    """Every well-formed sample of ``tests`` (those without a metric name or a number are left out)."""
    out = []
    for test in tests:
        for data in test.samples:
            value = data.get("value")
            metric = data.get("metric")
            if not isinstance(metric, str) or not metric or isinstance(value, bool):
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            out.append(Sample.from_dict({**data, "unit": data.get("unit") or ""}))
    return out


def judge_tests(profile: Profile, tests: Iterable[TestResult], baseline: RunResult | None = None) -> list[Gate]:
    """:func:`judge` on the samples of ``tests``, against the samples of a baseline run."""
    base = None if baseline is None else samples_of(baseline.tests)
    return judge(profile, samples_of(tests), base)
