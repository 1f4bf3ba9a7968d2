"""Summary statistics of a metric's samples, with a confidence interval of the median.

Percentiles use linear interpolation between the closest ranks (numpy's
default, "type 7" of Hyndman and Fan): for sorted values ``x[0..n-1]`` the
``q``-th percentile is at rank ``h = (n - 1) * q / 100``, i.e.
``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.

The 95 % confidence interval of the median is a percentile bootstrap: the
values are resampled with replacement ``resamples`` times, the median of each
resample is taken, and the interval is the 2.5th and 97.5th percentile of
those medians. The random generator is explicit (``rng``) or seeded with
:data:`DEFAULT_SEED`, so the same values always give the same interval.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Iterable

__all__ = [
    "STATISTICS",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "Summary",
    "percentile",
    "median_ci",
    "summarize",
]

#: The statistics a :class:`Summary` offers by name (and a gate can use).
STATISTICS = ("median", "p95", "p99", "min", "max", "mean", "ci_low", "ci_high")
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20240601
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """The summary of ``n`` values; ``ci_low``..``ci_high`` is the bootstrap
    95 % confidence interval of the median."""

    n: int
    median: float
    p95: float
    p99: float
    min: float
    max: float
    mean: float
    ci_low: float
    ci_high: float

    def get(self, statistic: str) -> float:
        """One statistic by name (one of :data:`STATISTICS`)."""
        if statistic not in STATISTICS:
            raise KeyError(f"unknown statistic {statistic!r}; one of {', '.join(STATISTICS)}")
        return float(getattr(self, statistic))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _checked(values: Iterable[float]) -> list[float]:
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected numbers, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"expected finite numbers, got {value!r}")
        out.append(float(value))
    if not out:
        raise ValueError("no values to summarize (a statistic of zero samples is undefined)")
    return out


def _percentile_sorted(ordered: list[float], q: float) -> float:
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    return _percentile_sorted(sorted(_checked(values)), q)


def median_ci(
    values: Iterable[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    rng: random.Random | None = None,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the median: (low, high)."""
    data = _checked(values)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if len(data) == 1 or min(data) == max(data):
        return data[0], data[0]
    rng = random.Random(DEFAULT_SEED) if rng is None else rng
    n = len(data)
    medians = sorted(_percentile_sorted(sorted(rng.choices(data, k=n)), 50) for _ in range(resamples))
    tail = (1 - confidence) / 2 * 100
    return _percentile_sorted(medians, tail), _percentile_sorted(medians, 100 - tail)


def summarize(
    values: Iterable[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    rng: random.Random | None = None,
) -> Summary:
    """n, median, p95, p99, min, max, mean and the median's 95 % CI of ``values``.

    Raises ValueError for no values (or a non-finite one), TypeError for a non-number.
    """
    data = _checked(values)
    ordered = sorted(data)
    low, high = median_ci(data, resamples=resamples, rng=rng)
    return Summary(
        n=len(ordered),
        median=_percentile_sorted(ordered, 50),
        p95=_percentile_sorted(ordered, 95),
        p99=_percentile_sorted(ordered, 99),
        min=ordered[0],
        max=ordered[-1],
        mean=math.fsum(ordered) / len(ordered),
        ci_low=low,
        ci_high=high,
    )
