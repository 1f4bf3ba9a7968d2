"""Measurements: ``Sample(metric, value, unit, metadata)`` and a per-test collector.

A test measures (boot time, throughput, recovery time) and adds samples; the
plugin attaches a test's samples to its result (``user_properties`` entry
``octoprobe.samples``), where gate profiles judge them and reports plot them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

__all__ = ["Sample", "SampleCollector"]


@dataclass(frozen=True)
class Sample:
    """One measured value. ``metric`` is a dotted name (``boot.active``),
    ``unit`` a short unit (``s``, ``MiB/s``, ``IOPS``), ``metadata`` anything
    that tells the samples of one metric apart (flavor, rack, repetition)."""

    metric: str
    value: float
    unit: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.metric or not isinstance(self.metric, str):
            raise ValueError("a sample needs a metric name")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise TypeError(f"sample {self.metric}: value must be a number, got {self.value!r}")
        if not math.isfinite(self.value):
            raise ValueError(f"sample {self.metric}: value must be finite, got {self.value!r}")
        if not isinstance(self.unit, str):
            raise TypeError(f"sample {self.metric}: unit must be a string")
        object.__setattr__(self, "metadata", dict(self.metadata))

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "unit": self.unit, "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Sample":
        return cls(data["metric"], data["value"], data["unit"], data.get("metadata") or {})


class SampleCollector:
    """The samples of one test, in the order they were added."""

    def __init__(self, **metadata: Any):
        #: metadata added to every sample (e.g. the test id); a sample's own wins.
        self.metadata = dict(metadata)
        self._samples: list[Sample] = []

    def add(self, metric: str, value: float, unit: str, **metadata: Any) -> Sample:
        sample = Sample(metric, value, unit, {**self.metadata, **metadata})
        self._samples.append(sample)
        return sample

    def extend(self, samples: "list[Sample] | SampleCollector") -> None:
        for sample in samples:
            self._samples.append(Sample(sample.metric, sample.value, sample.unit, {**self.metadata, **sample.metadata}))

    def of(self, metric: str) -> list[Sample]:
        return [s for s in self._samples if s.metric == metric]

    @property
    def samples(self) -> list[Sample]:
        return list(self._samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(list(self._samples))

    def __len__(self) -> int:
        return len(self._samples)

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._samples]

    def __repr__(self) -> str:
        return f"SampleCollector({len(self)} samples)"
