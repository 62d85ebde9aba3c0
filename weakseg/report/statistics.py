"""Statistics over replicate runs: intervals, paired differences, power, multiple comparisons, the answer.

* Intervals are two-sided 95% Student-t intervals over seeds, ``mean ± t(0.975, n-1) · s / sqrt(n)``
  with ``s`` the sample standard deviation (ddof 1); the paired test is scipy's ``ttest_rel``
  (a one-sample t-test of the per-seed differences). With one seed there is no interval (NaN)
  and no test; nor when every seed gave the same value (zero spread: the runs did not vary, and
  a zero-width interval would only present that as certainty).
* Power: the minimum detectable effect of that paired t-test (two-sided, power 0.8, at the
  level its verdict needs) and the seeds a given effect needs, up to :data:`SEEDS_CAP` (beyond
  it: "more than"), from the noncentral t (:func:`t_test_power`: statsmodels' ``TTestPower``
  gives NaN or unconverged roots at the small alphas of a family with few seeds).
* The exact sign-flip (paired permutation) p for up to :data:`EXACT_SEEDS` seeds.
* Several variants against one baseline: Holm's step-down correction (Holm 1979) of their
  p-values, from statsmodels' ``multipletests``.
* Share of the gap closed, ``(V - B) / (F - B)``: Fieller's interval for a ratio of two means
  (Fieller 1954), from the per-seed paired differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests

CONFIDENCE = 0.95
#: Power at which the minimum detectable effect is stated (the usual 80%).
POWER = 0.8
#: The most seeds :func:`seeds_needed` counts up to; a study that would need more is told "more than" this.
SEEDS_CAP = 1000


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` replicates with its confidence interval ``[low, high]``.

    ``low``/``high`` are NaN for n < 2 and when the replicates did not vary (:attr:`no_spread`).
    """

    mean: float
    low: float
    high: float
    n: int
    no_spread: bool = False

    @property
    def half_width(self) -> float:
        """``high - mean``: the ± of the interval."""
        return self.high - self.mean


@dataclass(frozen=True)
class PairedDifference:
    """``variant - baseline`` over seeds present in both: the interval of the mean difference and a paired t-test.

    ``sd`` is the standard deviation (ddof 1) of the per-seed differences (NaN for fewer than two),
    the spread the minimum detectable effect is computed from.
    """

    interval: Interval
    p_value: float
    seeds: tuple[int, ...]
    sd: float = math.nan


@dataclass(frozen=True)
class Power:
    """What the paired t-test of a study's seeds could detect, at the level its verdict needs.

    ``mde``: the minimum detectable effect at 80% power, in the metric's units; ``seeds``: how
    many seeds would detect ``effect`` (None: unknown; ``math.inf``: more than :data:`SEEDS_CAP`);
    ``seeds_range``: ``seeds`` at the low and high ends of the 95% interval of the spread
    (:func:`sd_interval`: an sd from few seeds is itself uncertain); ``alpha``: the two-sided
    level of the test (``0.05 / m`` in a family of m comparisons, Bonferroni's bound on Holm's
    first step).
    """

    mde: float
    effect: float
    seeds: int | float | None
    seeds_range: tuple = (None, None)
    alpha: float = 1 - CONFIDENCE

    @classmethod
    def of(cls, difference: PairedDifference, effect: float, alpha: float = 1 - CONFIDENCE) -> Power:
        """The power of the paired t-test behind ``difference`` (its seeds and spread) for ``effect`` at ``alpha``."""
        sd, n, confidence = difference.sd, difference.interval.n, 1 - alpha
        low, high = sd_interval(sd, n)
        seeds_range = (
            seeds_needed(effect, low, confidence=confidence),
            seeds_needed(effect, high, confidence=confidence),
        )
        return cls(
            minimum_detectable_effect(sd, n, confidence=confidence),
            effect,
            seeds_needed(effect, sd, confidence=confidence),
            seeds_range,
            alpha,
        )

    @staticmethod
    def _count(seeds) -> str:
        if seeds is None:
            return "n/a"
        return f"more than {SEEDS_CAP}" if seeds > SEEDS_CAP else str(seeds)

    @property
    def seeds_text(self) -> str:
        """:attr:`seeds` in words: a count, ``more than 1000`` (:data:`SEEDS_CAP`) or ``n/a``."""
        return self._count(self.seeds)

    @property
    def seeds_range_text(self) -> str:
        """:attr:`seeds_range` in words, e.g. ``4 to 46`` (empty when unknown)."""
        low, high = self.seeds_range
        if low is None or high is None or low == high:  # unknown, or no range to give (e.g. beyond the cap)
            return ""
        return f"{self._count(low)} to {self._count(high)}"

    def sentence(self, metric: str = "mIoU") -> str:
        """What a "no difference" cannot exclude, as a sentence."""
        seeds = self.seeds_text if self.seeds is not None else "an unknown number of"
        level = f" at the family's alpha = {self.alpha:.3g}" if self.alpha < 1 - CONFIDENCE else ""
        spread = f" ({self.seeds_range_text} over the 95% interval of the spread)" if self.seeds_range_text else ""
        return (
            f"With this spread the study detects (80% power{level}) only differences of at least {self.mde:.3f} "
            f"{metric}; detecting {_effect_text(self.effect)} would take {seeds} seeds{spread}."
        )


def _effect_text(effect: float) -> str:
    """``+0.020``; an effect below 0.001 in three significant digits (``+1e-06``), not as ``+0.000``."""
    return f"{effect:+.3f}" if abs(effect) >= 1e-3 or effect == 0 else f"{effect:+.3g}"


def sd_interval(sd: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The ``confidence`` interval of a standard deviation ``sd`` estimated from ``n`` values (ddof 1).

    ``sd * sqrt((n - 1) / chi2(1 - a/2, n - 1))`` to ``sd * sqrt((n - 1) / chi2(a/2, n - 1))``,
    ``a = 1 - confidence``: the chi-square interval of a normal sample's variance. NaN for
    ``n < 2`` or a non-finite ``sd``.
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan, math.nan
    a = 1 - confidence
    return (
        sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - a / 2, n - 1)),
        sd * math.sqrt((n - 1) / stats.chi2.ppf(a / 2, n - 1)),
    )


#: Up to this many seeds the report gives the exact sign-flip p beside the t-test's (2^6 = 64 sign patterns).
EXACT_SEEDS = 6


def sign_flip_p(differences) -> float:
    """Exact two-sided p of the paired permutation (sign-flip) test of per-seed ``differences``.

    Under the null of no difference each difference's sign is as likely flipped: p is the share
    of the ``2^n`` sign patterns whose mean is at least as far from 0 as the observed mean
    (Fisher 1935; e.g. Good, *Permutation Tests*, 2000). It needs no normality, but cannot go
    below ``2 / 2^n`` (0.125 with 4 seeds). NaN for fewer than 2 or more than :data:`EXACT_SEEDS`.
    """
    values = np.asarray(differences, dtype=np.float64)
    n = len(values)
    if not 2 <= n <= EXACT_SEEDS:
        return math.nan
    signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    means = np.abs((signs * values).mean(axis=1))
    return float(np.mean(means >= abs(values.mean()) - 1e-12))


def mean_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """Mean and Student-t confidence interval of ``values`` (1-D, NaN values dropped).

    Returns:
        :class:`Interval`; ``low``/``high`` are NaN for fewer than two values, and when all values
        are equal (``no_spread``: the replicates did not vary, so no interval can be formed).
    """
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if len(data) == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if len(data) < 2:
        return Interval(mean, math.nan, math.nan, 1)
    if np.ptp(data) == 0:
        return Interval(mean, math.nan, math.nan, len(data), no_spread=True)
    half = float(stats.t.ppf(0.5 + confidence / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data)))
    return Interval(mean, mean - half, mean + half, len(data))


def paired_difference(
    variant: dict[int, float], baseline: dict[int, float], confidence: float = CONFIDENCE
) -> PairedDifference:
    """Per-seed differences ``variant[s] - baseline[s]`` over the seeds both have.

    Args:
        variant, baseline: seed -> score (e.g. mIoU of that seed's run).

    Returns:
        :class:`PairedDifference`; ``p_value`` from ``scipy.stats.ttest_rel`` (two-sided), NaN
        with fewer than two seeds or when every difference is the same.
    """
    seeds = tuple(sorted(set(variant) & set(baseline)))
    a = np.array([variant[s] for s in seeds], dtype=np.float64)
    b = np.array([baseline[s] for s in seeds], dtype=np.float64)
    interval = mean_interval(a - b, confidence)
    p_value = math.nan
    if len(seeds) >= 2 and np.ptp(a - b) > 0:
        p_value = float(stats.ttest_rel(a, b).pvalue)
    sd = float(np.std(a - b, ddof=1)) if len(seeds) >= 2 else math.nan
    return PairedDifference(interval, p_value, seeds, sd)


def verdict(difference: PairedDifference, p_adjusted: float = math.nan) -> str:
    """``helped``, ``hurt``, ``no difference``, ``cannot tell`` (one seed) or ``no spread`` for a paired difference.

    "helped"/"hurt" need the whole interval above/below 0 and, when the difference is one of a
    family, its multiplicity-adjusted p-value (``p_adjusted``, e.g. Holm's) below ``1 - CONFIDENCE``.
    "no spread": every seed gave the same difference, so there is no interval and no test.
    """
    interval = difference.interval
    if interval.n < 2:
        return "cannot tell"
    if interval.no_spread:
        return "no spread"
    if not math.isnan(p_adjusted) and p_adjusted >= 1 - CONFIDENCE:
        return "no difference"
    if interval.low > 0:
        return "helped"
    if interval.high < 0:
        return "hurt"
    return "no difference"


def answer_sentence(
    difference: PairedDifference,
    variant: str,
    baseline: str,
    metric: str = "mIoU",
    context: str = "",
    what: str = "weak labels",
    p_holm: float = math.nan,
    family: int = 1,
    power: Power | None = None,
    method: str = "pretraining on",
    sign_flip: float = math.nan,
) -> str:
    """The report's answer, following from the paired interval (and, in a family, its Holm p-value).

    "helped" when the whole 95% interval of ``variant - baseline`` lies above 0, "hurt" when
    below, "no difference detectable with N seeds" otherwise; with one seed, that one run
    cannot tell; with seeds that did not vary, no interval can be formed. When the comparison
    is one of ``family`` > 1, its Holm-adjusted p-value ``p_holm`` is stated and must also be
    below 0.05 for "helped"/"hurt"; the interval is stated as unadjusted. ``context`` (e.g. "at
    10% strong tiles") is inserted after the verdict; ``method`` and ``what`` name how which
    weak labels were used (e.g. "pretraining on", "presence tags"). ``sign_flip``: the exact
    sign-flip p (:func:`sign_flip_p`), stated when known. A "no difference" is followed by
    ``power``'s sentence, if given.
    """
    i, n = difference.interval, difference.interval.n
    where = f" {context}" if context else ""
    kind = verdict(difference, p_holm if family > 1 else math.nan)
    subject = f"{method} {what}"
    if kind == "cannot tell":
        return (
            f"One run per variant cannot tell whether {subject} helps{where}: {variant} − {baseline} "
            f"= {i.mean:+.3f} {metric} in a single seed, with no estimate of run-to-run spread; run more seeds "
            "(experiment.seeds)."
        )
    if kind == "no spread":
        return (
            f"No interval can be formed{where}: {variant} − {baseline} = {i.mean:+.3f} {metric} in each of the {n} "
            "seeds, identically, so the runs did not vary from seed to seed (e.g. a data order or initialisation "
            f"that ignores the seed) and their spread, hence any test of {subject}, is unknown; check that "
            "experiment.seeds reach the training and rerun."
        )
    label = "unadjusted 95% CI" if family > 1 else "95% CI"
    numbers = (
        f"{variant} − {baseline} = {i.mean:+.3f} {metric}, {label} [{i.low:+.3f}, {i.high:+.3f}] over {n} seeds"
        f"{_p_text(difference.p_value)}"
    )
    if math.isfinite(sign_flip):
        numbers += f", exact sign-flip p = {sign_flip:.3g}"
    if family > 1 and not math.isnan(p_holm):
        numbers += f", Holm-adjusted over the report's {family} comparisons at this fraction: p = {p_holm:.3g}"
    subject = subject[0].upper() + subject[1:]
    if kind in ("helped", "hurt"):
        return f"{subject} {kind}{where}: {numbers}."
    limits = f" {power.sentence(metric)}" if power is not None else ""
    if verdict(difference) != "no difference":
        return f"No difference detectable with {n} seeds after Holm's correction{where}: {numbers}.{limits}"
    return f"No difference detectable with {n} seeds{where}: {numbers}; the interval includes 0.{limits}"


def _p_text(p_value: float) -> str:
    return "" if math.isnan(p_value) else f", paired t-test p = {p_value:.3g}"


def t_test_power(effect_size: float, n: int, alpha: float = 1 - CONFIDENCE) -> float:
    """Power of the two-sided one-sample (paired) t-test over ``n`` values for a standardised effect ``d``.

    ``P(|T| > c)`` with ``c = t(1 - alpha/2, n - 1)`` and ``T = (Z + d sqrt(n)) / sqrt(V / (n - 1))``
    (``Z`` standard normal, ``V`` chi-square with n - 1 degrees of freedom): the noncentral t,
    integrated over the quantiles of ``V`` (400-point Gauss-Legendre). The same quantity as
    statsmodels' ``TTestPower.power``, whose noncentral-t routine returns NaN for large effects at
    small alpha and few seeds (e.g. n = 3 at alpha 0.05 / 9), where a report's family puts it.
    """
    df = n - 1
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    shift = abs(effect_size) * math.sqrt(n)
    # V at Gauss-Legendre nodes of its quantiles: the integral over V's distribution as one on (0, 1)
    edge = critical * np.sqrt(stats.chi2.ppf(_QUANTILES, df) / df)
    rejected = stats.norm.sf(edge - shift) + stats.norm.cdf(-edge - shift)
    return float(min(1.0, np.dot(_WEIGHTS, rejected)))


_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(400)
#: Quantile levels and weights of a 400-point Gauss-Legendre rule on (0, 1) (:func:`t_test_power`).
_QUANTILES, _WEIGHTS = (_NODES + 1) / 2, _GAUSS_WEIGHTS / 2


def minimum_detectable_effect(sd: float, n: int, power: float = POWER, confidence: float = CONFIDENCE) -> float:
    """Smallest true mean difference the paired t-test over ``n`` seeds detects with probability ``power``.

    ``d * sd`` where ``d`` solves ``t_test_power(d, n, 1 - confidence) = power`` (Brent's method
    on :func:`t_test_power`).

    Args:
        sd: standard deviation of the per-seed differences (ddof 1), in the metric's units.
        n: seeds.

    Returns:
        In the metric's units; NaN for ``n < 2`` or a non-finite ``sd``; 0 when ``sd`` is 0.
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return 0.0
    alpha = 1 - confidence
    d = optimize.brentq(lambda size: t_test_power(size, n, alpha) - power, 1e-9, 1e4, xtol=1e-10)
    return float(d * sd)


def seeds_needed(effect: float, sd: float, power: float = POWER, confidence: float = CONFIDENCE) -> int | float | None:
    """Seeds a paired t-test needs to detect a true mean difference ``effect`` with probability ``power``.

    The smallest integer ``2 <= n <= SEEDS_CAP`` whose :func:`t_test_power` is at least
    ``power``, found by bisection (power grows with ``n``). The normal approximation
    ``n = ((z(1 - alpha/2) + z(power)) sd / effect)^2`` is a lower bound on the t-test's ``n``:
    when it already exceeds :data:`SEEDS_CAP` no t-test power is computed.

    Returns:
        The count; ``math.inf`` when more than :data:`SEEDS_CAP` seeds would be needed; None
        when it cannot be known (``sd`` not finite or ``effect`` 0 or not finite); 2 when
        ``sd`` is 0.
    """
    if not math.isfinite(sd) or effect == 0 or not math.isfinite(effect):
        return None
    if sd == 0:
        return 2
    size = abs(effect) / sd
    alpha = 1 - confidence
    normal = ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) / size) ** 2
    if normal > SEEDS_CAP or t_test_power(size, SEEDS_CAP, alpha) < power:
        return math.inf
    low, high = 2, SEEDS_CAP  # power(high) >= power
    while low < high:
        middle = (low + high) // 2
        if t_test_power(size, middle, alpha) >= power:
            high = middle
        else:
            low = middle + 1
    return low


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (Holm 1979, step-down), in the order given; NaN values stay NaN and are not counted.

    ``p_(i)`` sorted ascending becomes ``max_{j<=i} min(1, (m - j + 1) p_(j))`` (statsmodels
    ``multipletests(method="holm")``).
    """
    values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(len(values), math.nan)
    finite = ~np.isnan(values)
    if finite.any():
        adjusted[finite] = multipletests(values[finite], method="holm")[1]
    return [float(v) for v in adjusted]


@dataclass(frozen=True)
class Ratio:
    """A ratio of means with its Fieller interval; ``low``/``high`` may be infinite (unbounded) or NaN (n < 2)."""

    estimate: float
    low: float
    high: float
    n: int


def fieller_interval(numerator, denominator, confidence: float = CONFIDENCE) -> Ratio:
    """Fieller's interval (Fieller 1954) for ``mean(numerator) / mean(denominator)`` of paired samples.

    With means ``a``, ``b``, their estimated variances ``v_aa``, ``v_bb`` and covariance ``v_ab``
    (sample (co)variances over ``n``) and ``t = t(0.5 + confidence / 2, n - 1)``, the interval is
    the set of ``r`` with ``(a - r b)^2 <= t^2 (v_aa - 2 r v_ab + r^2 v_bb)``: the roots of a
    quadratic. Exact when the pairs are bivariate normal.

    Args:
        numerator, denominator: 1-D, the same length n (e.g. per-seed ``V - B`` and ``F - B``).

    Returns:
        :class:`Ratio`; the interval is ``(-inf, inf)`` when the denominator's mean is not
        significantly different from 0 at this confidence (the ratio is then unbounded).
    """
    a_values, b_values = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    n = len(a_values)
    a, b = float(a_values.mean()) if n else math.nan, float(b_values.mean()) if n else math.nan
    estimate = a / b if b != 0 else math.nan
    if n < 2:
        return Ratio(estimate, math.nan, math.nan, n)
    covariance = np.cov(a_values, b_values, ddof=1) / n
    v_aa, v_ab, v_bb = covariance[0, 0], covariance[0, 1], covariance[1, 1]
    t2 = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) ** 2
    qa, qb, qc = b * b - t2 * v_bb, -2 * (a * b - t2 * v_ab), a * a - t2 * v_aa
    discriminant = qb * qb - 4 * qa * qc
    if qa <= 0 or discriminant < 0:
        return Ratio(estimate, -math.inf, math.inf, n)
    root = math.sqrt(discriminant)
    return Ratio(estimate, (-qb - root) / (2 * qa), (-qb + root) / (2 * qa), n)
