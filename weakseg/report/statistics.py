"""Statistics over replicate runs: means with Student-t intervals, paired differences, the answer sentence.

Intervals are two-sided 95% Student-t intervals over seeds, ``mean ± t(0.975, n-1) · s / sqrt(n)``
with ``s`` the sample standard deviation (ddof 1); the paired test is scipy's
``ttest_rel`` (a one-sample t-test of the per-seed differences). With one seed there is no
interval (NaN) and no test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` replicates with its confidence interval ``[low, high]`` (NaN for n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """``high - mean``: the ± of the interval."""
        return self.high - self.mean


@dataclass(frozen=True)
class PairedDifference:
    """``variant - baseline`` over seeds present in both: the interval of the mean difference and a paired t-test."""

    interval: Interval
    p_value: float
    seeds: tuple[int, ...]


def mean_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """Mean and Student-t confidence interval of ``values`` (1-D, NaN values dropped).

    Returns:
        :class:`Interval`; ``low``/``high`` are NaN for fewer than two values, and equal the
        mean when all values are equal.
    """
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if len(data) == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if len(data) < 2:
        return Interval(mean, math.nan, math.nan, 1)
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
    return PairedDifference(interval, p_value, seeds)


def gap_closed(variant: float, baseline: float, upper_bound: float) -> float:
    """Share of the gap to the upper bound closed: ``(variant - baseline) / (upper_bound - baseline)``.

    NaN when the upper bound does not beat the baseline (there is no gap to close) or an input is NaN.
    """
    gap = upper_bound - baseline
    if not gap > 0:
        return math.nan
    return (variant - baseline) / gap


def verdict(difference: PairedDifference) -> str:
    """``helped``, ``hurt``, ``no difference`` or ``cannot tell`` (one seed) for a paired difference."""
    interval = difference.interval
    if interval.n < 2:
        return "cannot tell"
    if interval.low > 0:
        return "helped"
    if interval.high < 0:
        return "hurt"
    return "no difference"


def answer_sentence(
    difference: PairedDifference, variant: str, baseline: str, metric: str = "mIoU", context: str = ""
) -> str:
    """The report's answer, following from the paired interval only.

    "helped" when the whole 95% interval of ``variant - baseline`` lies above 0, "hurt" when
    below, "no difference detectable with N seeds" otherwise; with one seed, that one run
    cannot tell. ``context`` (e.g. "at 10% strong tiles") is inserted after the verdict.
    """
    i, n = difference.interval, difference.interval.n
    where = f" {context}" if context else ""
    kind = verdict(difference)
    if kind == "cannot tell":
        return (
            f"One run per variant cannot tell whether pretraining on weak labels helps{where}: {variant} − {baseline} "
            f"= {i.mean:+.3f} {metric} in a single seed, with no estimate of run-to-run spread; run more seeds "
            "(experiment.seeds)."
        )
    numbers = (
        f"{variant} − {baseline} = {i.mean:+.3f} {metric}, 95% CI [{i.low:+.3f}, {i.high:+.3f}] over {n} seeds"
        f"{_p_text(difference.p_value)}"
    )
    if kind == "helped":
        return f"Pretraining on weak labels helped{where}: {numbers}."
    if kind == "hurt":
        return f"Pretraining on weak labels hurt{where}: {numbers}."
    return f"No difference detectable with {n} seeds{where}: {numbers}; the interval includes 0."


def _p_text(p_value: float) -> str:
    return "" if math.isnan(p_value) else f", paired t-test p = {p_value:.3g}"
