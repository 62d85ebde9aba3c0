"""Runs still improving at their last epoch: the report's convergence note, on fixed curves."""

import math

import pytest

from weakseg.report.convergence import TOLERANCE, late_rise, still_improving, window_of


def test_the_window_is_a_quarter_of_the_run_and_at_least_two_epochs():
    assert [window_of(e) for e in (3, 8, 12, 40)] == [2, 2, 3, 10]


def test_the_late_rise_is_the_last_epoch_over_the_best_before_the_window():
    # 8 epochs, window 2: best of epochs 1-6 is 0.40 (epoch 5), the last is 0.43
    assert late_rise([0.1, 0.2, 0.3, 0.35, 0.40, 0.38, 0.41, 0.43]) == pytest.approx(0.03)
    # a plateau (the last epoch below the earlier best) is a negative rise
    assert late_rise([0.1, 0.3, 0.42, 0.41, 0.42, 0.40]) == pytest.approx(-0.02)
    assert math.isnan(late_rise([0.1, 0.2]))


def test_runs_are_flagged_per_arm_and_fraction_with_the_seeds_that_still_rose():
    rising = [{"epoch": e, "val_miou": 0.1 * e} for e in range(1, 9)]
    flat = [{"epoch": e, "val_miou": min(0.1 * e, 0.4)} for e in range(1, 9)]
    barely = [{"epoch": e, "val_miou": 0.4 + (TOLERANCE / 2 if e == 8 else 0) * 1} for e in range(1, 9)]
    runs = [
        {"variant": "strong_only", "strong_fraction": "0.1", "seed": 0},
        {"variant": "strong_only", "strong_fraction": "0.1", "seed": 1},
        {"variant": "full", "strong_fraction": "all", "seed": 0},
        {"variant": "joint[points]", "strong_fraction": "0.1", "seed": 0},
    ]
    rows = still_improving(runs, [rising, flat, flat, barely])
    assert rows == [
        {
            "variant": "strong_only",
            "strong_fraction": "0.1",
            "flagged": [0],
            "n": 2,
            "rise": pytest.approx(0.2),
            "window": 2,
        }
    ]
