"""Intervals, paired tests and the answer sentence, checked against scipy on constructed numbers."""

import math

import numpy as np
import pytest
from scipy import stats

from weakseg.report.statistics import answer_sentence, mean_interval, paired_difference, verdict


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


def test_holm_matches_the_step_down_formula_on_fixed_numbers():
    from weakseg.report.statistics import holm

    # Sorted 0.01, 0.03, 0.04 (m = 3): 3 x 0.01 = 0.03; max(0.03, 2 x 0.03) = 0.06; max(0.06, 1 x 0.04) = 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    adjusted = holm([0.02, float("nan"), 0.01])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def _paired_t_power(effect: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided one-sample t-test, from scipy's noncentral t (an independent reference)."""
    from scipy import stats as st

    critical = st.t.ppf(1 - alpha / 2, n - 1)
    shift = effect / sd * math.sqrt(n)
    return 1 - st.nct.cdf(critical, n - 1, shift) + st.nct.cdf(-critical, n - 1, shift)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_the_minimum_detectable_effect_is_detected_with_80_percent_power(n):
    from weakseg.report.statistics import minimum_detectable_effect

    mde = minimum_detectable_effect(0.023, n)
    assert _paired_t_power(mde, 0.023, n) == pytest.approx(0.8, abs=1e-4)
    if n == 3:  # the figure: 3 seeds and the demo's spread of differences
        assert mde == pytest.approx(0.075, abs=0.001)
    assert math.isnan(minimum_detectable_effect(0.023, 1)) and minimum_detectable_effect(0.0, 3) == 0.0


def test_seeds_needed_is_the_smallest_count_with_80_percent_power():
    from weakseg.report.statistics import seeds_needed

    n = seeds_needed(0.02, 0.023)
    assert _paired_t_power(0.02, 0.023, n) >= 0.8 > _paired_t_power(0.02, 0.023, n - 1)
    assert seeds_needed(0.0, 0.023) is None and seeds_needed(0.02, float("nan")) is None


def test_fieller_interval_on_fixed_numbers_and_when_the_gap_is_not_significant():
    from weakseg.report.statistics import fieller_interval

    a, b = np.array([0.02, 0.04, 0.03, 0.05]), np.array([0.10, 0.11, 0.09, 0.10])
    ratio = fieller_interval(a, b)
    assert ratio.estimate == pytest.approx(0.035 / 0.1)
    # The bounds solve (a - r b)^2 = t^2 (v_aa - 2 r v_ab + r^2 v_bb) (Fieller 1954).
    t2 = stats.t.ppf(0.975, 3) ** 2
    cov = np.cov(a, b, ddof=1) / 4
    for r in (ratio.low, ratio.high):
        lhs = (a.mean() - r * b.mean()) ** 2
        assert lhs == pytest.approx(t2 * (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]), rel=1e-6)
    assert ratio.low < ratio.estimate < ratio.high
    unbounded = fieller_interval([0.01, 0.02, 0.03], [0.05, -0.04, 0.01])
    assert (unbounded.low, unbounded.high) == (-math.inf, math.inf)


def test_fieller_interval_covers_the_true_ratio_in_about_95_percent_of_draws():
    from weakseg.report.statistics import fieller_interval

    rng = np.random.default_rng(0)
    true_gap, true_gain, covered, draws = 0.08, 0.03, 0, 2000
    for _ in range(draws):
        noise = rng.multivariate_normal([0, 0], [[0.02**2, 0.5 * 0.02 * 0.015], [0.5 * 0.02 * 0.015, 0.015**2]], 5)
        ratio = fieller_interval(true_gain + noise[:, 0], true_gap + noise[:, 1])
        covered += ratio.low <= true_gain / true_gap <= ratio.high
    assert abs(covered / draws - 0.95) < 0.015


def test_a_difference_that_does_not_survive_holm_is_no_difference_and_the_sentence_says_why():
    from weakseg.report.statistics import Interval, PairedDifference

    difference = PairedDifference(Interval(0.05, 0.01, 0.09, 3), 0.03, (0, 1, 2))
    assert verdict(difference) == "helped" and verdict(difference, 0.049) == "helped"
    assert verdict(difference, 0.06) == "no difference"
    sentence = answer_sentence(difference, "weak_finetuned[presence]", "strong_only", p_holm=0.06, family=2)
    assert sentence.startswith("No difference detectable with 3 seeds after Holm's correction")
    assert "Holm-adjusted over the report's 2 comparisons at this fraction: p = 0.06" in sentence
    assert "unadjusted 95% CI [+0.010, +0.090]" in sentence
    alone = answer_sentence(difference, "weak_finetuned[presence]", "strong_only", what="presence tags")
    assert alone.startswith("Pretraining on presence tags helped") and "Holm" not in alone


def test_a_no_difference_answer_says_what_the_seeds_could_have_detected():
    from weakseg.report.statistics import Power, minimum_detectable_effect, sd_interval, seeds_needed

    difference = paired_difference({0: 0.40, 1: 0.20, 2: 0.31}, {0: 0.30, 1: 0.31, 2: 0.30})
    sd = float(np.std([0.10, -0.11, 0.01], ddof=1))
    assert difference.sd == pytest.approx(sd)
    power = Power.of(difference, 0.02)
    assert power.mde == pytest.approx(minimum_detectable_effect(sd, 3)) and power.seeds == seeds_needed(0.02, sd)
    low, high = sd_interval(sd, 3)
    assert power.seeds_range == (seeds_needed(0.02, low), seeds_needed(0.02, high))
    sentence = answer_sentence(difference, "weak_finetuned", "strong_only", power=power)
    assert sentence.endswith(
        f"the interval includes 0. With this spread the study detects (80% power) only differences of at least "
        f"{power.mde:.3f} mIoU; detecting +0.020 would take {power.seeds} seeds ({power.seeds_range_text} over the "
        "95% interval of the spread)."
    )
    family = Power.of(difference, 0.02, alpha=0.05 / 7)
    assert family.mde == pytest.approx(minimum_detectable_effect(sd, 3, confidence=1 - 0.05 / 7))
    assert family.mde > power.mde
    assert "80% power at the family's alpha = 0.00714" in family.sentence()
    helped = paired_difference({0: 0.40, 1: 0.42, 2: 0.41}, {0: 0.30, 1: 0.31, 2: 0.30})
    assert "detects (80% power)" not in answer_sentence(helped, "a", "b", power=Power.of(helped, 0.02))


def test_the_sd_interval_is_the_chi_square_interval_of_the_variance():
    from weakseg.report.statistics import sd_interval

    low, high = sd_interval(0.02, 4)
    # (n - 1) s^2 / sigma^2 ~ chi2(3): the 95% interval of sigma by hand from the chi-square quantiles
    assert low == pytest.approx(0.02 * math.sqrt(3 / stats.chi2.ppf(0.975, 3)))
    assert high == pytest.approx(0.02 * math.sqrt(3 / stats.chi2.ppf(0.025, 3)))
    assert all(math.isnan(v) for v in sd_interval(0.02, 1))


@pytest.mark.parametrize("n,alpha", [(3, 0.05), (4, 0.05 / 7), (3, 0.05 / 9), (6, 0.05 / 12)])
def test_power_at_the_familys_level_is_that_of_a_simulated_paired_t_test(n, alpha):
    """The MDE's power, checked by simulation, and against statsmodels' TTestPower wherever it is finite.

    statsmodels' noncentral t gives NaN at (4, 0.05/7) and (3, 0.05/9) near the 80% effect, and its
    solve_power returns an unconverged root there (power 0.65 at n = 4, alpha 0.05/7).
    """
    from statsmodels.stats.power import TTestPower

    from weakseg.report.statistics import minimum_detectable_effect, t_test_power

    d = minimum_detectable_effect(1.0, n, confidence=1 - alpha)
    assert t_test_power(d, n, alpha) == pytest.approx(0.8, abs=1e-6)
    draws = np.random.default_rng(0).standard_normal((200_000, n)) + d
    t = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / math.sqrt(n))
    assert np.mean(np.abs(t) > stats.t.ppf(1 - alpha / 2, n - 1)) == pytest.approx(0.8, abs=0.005)
    for size in (0.5, 1.0, 2.0):
        reference = TTestPower().power(effect_size=size, nobs=n, alpha=alpha)
        if math.isfinite(reference):
            assert t_test_power(size, n, alpha) == pytest.approx(reference, abs=1e-7)


def test_the_exact_sign_flip_p_of_four_seeds_enumerates_the_16_sign_patterns():
    import itertools

    from weakseg.report.statistics import sign_flip_p

    differences = [0.031, 0.012, 0.044, -0.005]
    patterns = list(itertools.product((1, -1), repeat=4))
    assert len(patterns) == 16
    observed = abs(np.mean(differences))
    extreme = sum(abs(np.mean(np.multiply(p, differences))) >= observed - 1e-12 for p in patterns)
    assert sign_flip_p(differences) == pytest.approx(extreme / 16) == pytest.approx(0.25)
    assert sign_flip_p([0.01, 0.02, 0.03, 0.04]) == pytest.approx(2 / 16)  # the floor with 4 seeds: 0.125
    assert math.isnan(sign_flip_p([0.1] * 7)) and math.isnan(sign_flip_p([0.1]))


def test_seeds_that_did_not_vary_give_no_interval_and_say_so():
    """Identical per-seed results: no zero-width interval presented as evidence (hostile round four)."""
    difference = paired_difference({0: 0.349, 1: 0.349, 2: 0.349}, {0: 0.3, 1: 0.3, 2: 0.3})
    assert difference.interval.no_spread and math.isnan(difference.interval.low)
    assert verdict(difference) == "no spread" and verdict(difference, 0.01) == "no spread"
    sentence = answer_sentence(difference, "weak_finetuned", "strong_only", what="presence tags")
    assert sentence.startswith("No interval can be formed") and "+0.049" in sentence
    assert "did not vary" in sentence and "CI" not in sentence and "helped" not in sentence
    constant = mean_interval([0.5, 0.5])
    assert constant.no_spread and constant.mean == 0.5 and math.isnan(constant.high) and constant.n == 2


def test_seeds_needed_for_a_tiny_effect_is_capped_in_closed_form(monkeypatch):
    from statsmodels.stats.power import TTestPower

    from weakseg.report.statistics import SEEDS_CAP, Power, seeds_needed

    def stepping(*args, **kwargs):  # before: the report stepped n = 2, 3, ... to 100000 (158 s)
        raise AssertionError("the normal bound already exceeds the cap: no t-test power is needed")

    with monkeypatch.context() as patched:
        patched.setattr(TTestPower, "power", stepping)
        assert seeds_needed(1e-6, 0.023) == math.inf
    # just below the cap the count is still exact
    n = seeds_needed(0.0023 * 0.1, 0.0023)  # d = 0.1: about 787 seeds
    assert n <= SEEDS_CAP and _paired_t_power(0.00023, 0.0023, n) >= 0.8 > _paired_t_power(0.00023, 0.0023, n - 1)
    difference = paired_difference({0: 0.3, 1: 0.32, 2: 0.29}, {0: 0.3, 1: 0.3, 2: 0.3})
    power = Power.of(difference, 1e-6)
    assert power.seeds_text == f"more than {SEEDS_CAP}" and f"more than {SEEDS_CAP} seeds" in power.sentence()
