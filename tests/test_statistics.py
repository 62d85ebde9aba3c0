"""Intervals, paired tests and the answer sentence, checked against scipy on constructed numbers."""

import math

import numpy as np
import pytest
from scipy import stats

from weakseg.report.statistics import answer_sentence, gap_closed, mean_interval, paired_difference, verdict


def test_mean_interval_equals_scipys_student_t_interval():
    values = [0.31, 0.35, 0.29, 0.40, 0.33]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    interval = mean_interval(values)
    assert interval.mean == pytest.approx(np.mean(values))
    assert interval.low == pytest.approx(low) and interval.high == pytest.approx(high)
    assert interval.n == 5


def test_one_value_has_no_interval_and_nan_values_are_dropped():
    single = mean_interval([0.3])
    assert single.mean == 0.3 and math.isnan(single.low) and math.isnan(single.high) and single.n == 1
    assert mean_interval([0.2, float("nan"), 0.4]).n == 2
    assert mean_interval([]).n == 0


def test_paired_difference_equals_scipys_paired_t_test():
    variant = {0: 0.41, 1: 0.38, 2: 0.45, 3: 0.40}
    baseline = {0: 0.35, 1: 0.36, 2: 0.39, 3: 0.37, 9: 0.5}  # seed 9 has no partner and is left out
    difference = paired_difference(variant, baseline)
    seeds = [0, 1, 2, 3]
    a, b = [variant[s] for s in seeds], [baseline[s] for s in seeds]
    diffs = np.subtract(a, b)
    low, high = stats.t.interval(0.95, 3, loc=diffs.mean(), scale=stats.sem(diffs))
    assert difference.seeds == (0, 1, 2, 3)
    assert difference.interval.mean == pytest.approx(diffs.mean())
    assert (difference.interval.low, difference.interval.high) == (pytest.approx(low), pytest.approx(high))
    assert difference.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)


def test_gap_closed():
    assert gap_closed(0.35, 0.30, 0.40) == pytest.approx(0.5)
    assert gap_closed(0.25, 0.30, 0.40) == pytest.approx(-0.5)
    assert math.isnan(gap_closed(0.35, 0.30, 0.30))  # no gap to close


@pytest.mark.parametrize(
    "variant,expected_verdict,fragment",
    [
        ({0: 0.40, 1: 0.42, 2: 0.41}, "helped", "Pretraining on weak labels helped at 10%"),
        ({0: 0.20, 1: 0.22, 2: 0.21}, "hurt", "Pretraining on weak labels hurt at 10%"),
        ({0: 0.40, 1: 0.20, 2: 0.31}, "no difference", "No difference detectable with 3 seeds at 10%"),
    ],
)
def test_the_answer_follows_the_paired_interval(variant, expected_verdict, fragment):
    baseline = {0: 0.30, 1: 0.31, 2: 0.30}
    difference = paired_difference(variant, baseline)
    assert verdict(difference) == expected_verdict
    sentence = answer_sentence(difference, "weak_finetuned", "strong_only", context="at 10%")
    assert sentence.startswith(fragment), sentence
    assert f"{difference.interval.low:+.3f}" in sentence and f"{difference.interval.high:+.3f}" in sentence


def test_one_seed_cannot_tell():
    difference = paired_difference({0: 0.9}, {0: 0.1})
    assert verdict(difference) == "cannot tell"
    sentence = answer_sentence(difference, "weak_finetuned", "strong_only")
    assert sentence.startswith("One run per variant cannot tell") and "+0.800" in sentence
    assert "helped" not in sentence
