"""octoprobe.perf.stats: percentiles by linear interpolation, a reproducible bootstrap CI of the median."""

from __future__ import annotations

import math
import random

import pytest

from octoprobe.perf.stats import STATISTICS, median_ci, percentile, summarize


def test_summary_of_one_to_ten_by_hand():
    # rank h = (n - 1) * q / 100 = 9q/100: median at 4.5 -> 5.5, p95 at 8.55 -> 9.55, p99 at 8.91 -> 9.91
    s = summarize(range(1, 11))
    assert s.n == 10
    assert s.median == pytest.approx(5.5)
    assert s.p95 == pytest.approx(9.55)
    assert s.p99 == pytest.approx(9.91)
    assert (s.min, s.max) == (1, 10)
    assert s.mean == pytest.approx(5.5)


def test_summary_of_unsorted_values_by_hand():
    # sorted: 15 20 35 40 50; p95 at rank 3.8 -> 40 + 0.8 * 10 = 48; p99 at 3.96 -> 49.6
    s = summarize([40, 15, 50, 20, 35])
    assert s.median == 35
    assert s.p95 == pytest.approx(48.0)
    assert s.p99 == pytest.approx(49.6)
    assert s.mean == pytest.approx(32.0)
    assert (s.min, s.max) == (15, 50)


def test_even_count_median_is_the_mean_of_the_middle_two():
    assert summarize([4.0, 1.0, 3.0, 2.0]).median == pytest.approx(2.5)


def test_percentile_ends_and_interpolation():
    values = [10, 20, 30, 40]
    assert percentile(values, 0) == 10
    assert percentile(values, 100) == 40
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 25) == pytest.approx(17.5)  # rank 0.75
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile(values, 101)


def test_one_value_has_a_ci_equal_to_it():
    s = summarize([7.25])
    assert s.n == 1
    assert s.median == s.p95 == s.p99 == s.min == s.max == s.mean == s.ci_low == s.ci_high == 7.25


def test_identical_values_have_a_zero_width_ci():
    assert median_ci([3.0] * 8) == (3.0, 3.0)


def test_empty_is_a_clear_error():
    with pytest.raises(ValueError, match="no values"):
        summarize([])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_values_are_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        summarize([1.0, bad])


def test_non_numbers_are_refused():
    with pytest.raises(TypeError):
        summarize([1.0, "2"])
    with pytest.raises(TypeError):
        summarize([True, 1.0])


def test_ci_is_reproducible_by_default_and_with_a_seeded_rng():
    values = [12.1, 9.8, 15.3, 11.0, 10.4, 30.2, 9.9, 12.7, 11.8, 10.1]
    assert summarize(values) == summarize(values)
    a = summarize(values, rng=random.Random(7))
    b = summarize(values, rng=random.Random(7))
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)


def test_ci_brackets_the_median_and_stays_within_the_data():
    values = list(range(1, 101))
    s = summarize(values)
    assert s.min <= s.ci_low < s.median < s.ci_high <= s.max
    # the median of 100 uniform ranks is known to within about +-10 ranks at 95 %
    assert 35 < s.ci_low and s.ci_high < 66


def test_tighter_data_gives_a_narrower_ci():
    wide = summarize([1, 50, 100, 2, 99, 3, 98])
    tight = summarize([49, 50, 51, 50, 49, 51, 50])
    assert tight.ci_high - tight.ci_low < wide.ci_high - wide.ci_low


def test_get_by_name_and_unknown_statistic():
    s = summarize([1, 2, 3])
    assert [s.get(name) for name in ("median", "min", "max")] == [2, 1, 3]
    assert set(s.to_dict()) == set(STATISTICS) | {"n"}
    with pytest.raises(KeyError, match="p90"):
        s.get("p90")


def test_resamples_must_be_positive():
    with pytest.raises(ValueError, match="resamples"):
        median_ci([1, 2], resamples=0)
