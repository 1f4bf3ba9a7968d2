"""octoprobe.samples: the Sample record and the per-test collector."""

from __future__ import annotations

import math

import pytest

from octoprobe.samples import Sample, SampleCollector


def test_sample_round_trip():
    sample = Sample("boot.active", 12.5, "s", {"flavor": "m1.small"})
    assert Sample.from_dict(sample.to_dict()) == sample
    assert sample.to_dict() == {"metric": "boot.active", "value": 12.5, "unit": "s", "metadata": {"flavor": "m1.small"}}


@pytest.mark.parametrize("value", ["12", None, True, math.nan, math.inf])
def test_sample_value_must_be_a_finite_number(value):
    with pytest.raises((TypeError, ValueError)):
        Sample("m", value, "s")


def test_sample_needs_a_metric():
    with pytest.raises(ValueError):
        Sample("", 1, "s")


def test_collector_adds_common_metadata():
    collector = SampleCollector(test="t::a")
    collector.add("rbd.write", 410.0, "MiB/s", rep=1)
    collector.add("rbd.write", 420.0, "MiB/s", rep=2, test="override")
    collector.add("rbd.read", 900.0, "MiB/s")
    assert len(collector) == 3
    assert [s.value for s in collector.of("rbd.write")] == [410.0, 420.0]
    assert collector.samples[0].metadata == {"test": "t::a", "rep": 1}
    assert collector.samples[1].metadata["test"] == "override"
    other = SampleCollector()
    other.extend(collector)
    assert [s.metric for s in other] == ["rbd.write", "rbd.write", "rbd.read"]
    assert collector.to_list()[2] == {
        "metric": "rbd.read",
        "value": 900.0,
        "unit": "MiB/s",
        "metadata": {"test": "t::a"},
    }
