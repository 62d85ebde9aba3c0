"""The report's paired comparisons as one family: one Holm-adjusted p and one verdict per comparison.

**The family** (one per strong fraction) is every paired comparison the report states at that
fraction, each counted once:

* each arm against ``strong_only`` (the differences table; the upper bound ``full`` too),
* each weak arm (a method's arm at a kind: ``weak_finetuned[kind]``, ``joint[kind]``,
  ``consistency[kind]``, ``pseudo_masks[kind]``, :mod:`weakseg.methods`) against the headline
  reference (the answer): ``strong_only_long``, the compute-matched control, when the study ran
  it, else ``strong_only``,
* each weak arm against each control that applies to it (the controls table:
  ``strong_only_long`` for every method, and the method's own controls, e.g.
  ``shuffled_labels[kind]`` for ``weak_finetuned[kind]``, whose schedule it repeats).

Their paired t-test p-values are Holm-corrected together (Holm 1979), so the table, the answer
and the controls give a comparison one adjusted p and one verdict, whichever section shows it.
Intervals are unadjusted 95% Student-t intervals, labelled so; verdicts follow the Holm p.
Power is stated at the level a verdict can need: ``0.05 / m`` (Bonferroni's bound, Holm's
first step), with the range of seeds needed over the spread's 95% interval; with at most
:data:`~weakseg.report.statistics.EXACT_SEEDS` seeds the exact sign-flip p stands beside the
t-test's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from weakseg.design.experiment import ALL_TILES, BASELINE, NO_WEAK, UPPER_BOUND, VARIANTS, uses_weak_labels
from weakseg.methods import METHODS, get_method
from weakseg.report.results import arm_name, arms_of, by_seed, fractions_of, kinds_of_rows
from weakseg.report.statistics import (
    CONFIDENCE,
    PairedDifference,
    Power,
    Ratio,
    answer_sentence,
    fieller_interval,
    holm,
    paired_difference,
    sign_flip_p,
    verdict,
)

#: The compute-matched control of pretraining (each method names its own: ``Method.compute_control``).
COMPUTE_MATCHED = "strong_only_long"


def weak_methods() -> dict[str, str]:
    """Arm variant -> how the answer says it (``weak_finetuned`` -> ``pretraining on``), one per registered method."""
    return {get_method(name).arm: get_method(name).verb for name in METHODS}


@dataclass(frozen=True)
class Comparison:
    """``variant - reference`` at ``fraction``, as one member of its fraction's family.

    Attributes:
        difference: the paired difference over the seeds both have.
        p_holm: its Holm-adjusted p over the ``family`` comparisons of the fraction.
        verdict: :func:`~weakseg.report.statistics.verdict` with ``p_holm``.
        power: at alpha ``0.05 / family``.
        sign_flip: exact sign-flip p (NaN beyond :data:`~weakseg.report.statistics.EXACT_SEEDS` seeds).
    """

    variant: str
    reference: str
    strong_fraction: str
    difference: PairedDifference
    p_holm: float
    family: int
    verdict: str
    power: Power
    sign_flip: float


def compute_control(arm: str) -> str:
    """The compute-matched control of ``arm``'s method (``strong_only_long`` for ``weak_finetuned[kind]``)."""
    method = VARIANTS[arm.split("[")[0]].method
    return get_method(method).compute_control if method else COMPUTE_MATCHED


def reference_of(rows: list[dict], arm: str, fraction: str) -> str:
    """What ``arm`` answers against: its method's compute-matched control if the study ran it, else strong_only."""
    control = compute_control(arm)
    return control if by_seed(rows, control, fraction, "miou") else BASELINE


def headlines(rows: list[dict], fraction: str) -> list[tuple[str, str, bool]]:
    """``(method title, reference, compute-matched)`` of each method with an arm in the study at ``fraction``."""
    found = []
    for name in METHODS:
        method = get_method(name)
        arms = [arm for arm, _, _ in weak_arms(rows) if arm.split("[")[0] == method.arm]
        if arms:
            reference = reference_of(rows, arms[0], fraction)
            found.append((method.title, reference, reference != BASELINE))
    return found


def weak_arms(rows: list[dict]) -> list[tuple[str, str, str]]:
    """``(arm, kind, method)`` of every weak arm in the study, kinds in order of appearance, pretraining first."""
    return [
        (arm_name(variant, kind), kind, method)
        for variant, method in weak_methods().items()
        for kind in kinds_of_rows(rows) or [NO_WEAK]
        if any(r["variant"] == arm_name(variant, kind) for r in rows)
    ]


def _controls_of(arm: str, kind: str) -> list[str]:
    """The arm's compute-matched control, then its method's own controls at its kind (``shuffled_labels[kind]``)."""
    variant = arm.split("[")[0]
    own = get_method(VARIANTS[variant].method).controls if VARIANTS[variant].method else ()
    return [compute_control(arm), *(arm_name(c, kind if uses_weak_labels(c) else NO_WEAK) for c in own)]


def _pairs(rows: list[dict], fraction: str) -> list[tuple[str, str]]:
    """Every ``(variant, reference)`` the report states at ``fraction``, once each (see the module docstring)."""
    pairs = [(arm, BASELINE) for arm in arms_of(rows) if arm != BASELINE]
    for arm, kind, _ in weak_arms(rows):
        pairs += [(arm, reference_of(rows, arm, fraction)), *((arm, control) for control in _controls_of(arm, kind))]
    return list(dict.fromkeys(pairs))


def family_comparisons(
    rows: list[dict], column: str = "miou", effect: float = 0.02
) -> dict[tuple[str, str, str], Comparison]:
    """Every comparison of the report: ``(variant, reference, fraction)`` -> :class:`Comparison`.

    ``full`` is compared at every fraction with its runs on all tiles. Pairs without runs on
    both sides are left out, and do not count in the family.
    """
    found = {}
    for fraction in fractions_of(rows):
        members = []
        for variant, reference in _pairs(rows, fraction):
            scores = by_seed(rows, variant, ALL_TILES if variant == UPPER_BOUND else fraction, column)
            base = by_seed(rows, reference, fraction, column)
            if scores and base:
                members.append((variant, reference, scores, base, paired_difference(scores, base)))
        alpha = (1 - CONFIDENCE) / max(len(members), 1)
        adjusted = holm([d.p_value for *_, d in members])
        for (variant, reference, scores, base, difference), p in zip(members, adjusted, strict=True):
            flips = [scores[s] - base[s] for s in difference.seeds]
            found[variant, reference, fraction] = Comparison(
                variant,
                reference,
                fraction,
                difference,
                p,
                len(members),
                verdict(difference, p),
                Power.of(difference, effect, alpha),
                sign_flip_p(flips),
            )
    return found


def differences(family: dict, rows: list[dict], column: str = "miou") -> list[dict]:
    """The differences table: every arm against ``strong_only`` at each fraction (``full``: at every fraction).

    Returns:
        Rows ``{"variant", "strong_fraction", "comparison": Comparison, "gap_closed": Ratio | None}``:
        ``gap_closed`` is (arm - strong_only) / (full - strong_only) with Fieller's 95% interval
        over the seeds all three share, None without ``full`` (or for ``full`` itself).
    """
    table = []
    for (variant, reference, fraction), comparison in family.items():
        if reference != BASELINE:
            continue
        gap = None if variant == UPPER_BOUND else gap_closed(rows, variant, fraction, column)
        table.append({"variant": variant, "strong_fraction": fraction, "comparison": comparison, "gap_closed": gap})
    return table


def gap_closed(rows: list[dict], arm: str, fraction: str, column: str = "miou") -> Ratio | None:
    """(arm - strong_only) / (full - strong_only) at ``fraction``, Fieller's interval over the seeds all three share.

    None when no seed has all three runs.
    """
    scores, baseline = by_seed(rows, arm, fraction, column), by_seed(rows, BASELINE, fraction, column)
    upper = by_seed(rows, UPPER_BOUND, ALL_TILES, column)
    seeds = sorted(set(scores) & set(baseline) & set(upper))
    if not seeds:
        return None
    return fieller_interval([scores[s] - baseline[s] for s in seeds], [upper[s] - baseline[s] for s in seeds])


def controls(family: dict, rows: list[dict]) -> list[dict]:
    """The controls table: each weak arm against each control that applies to it, at every fraction.

    Against ``strong_only_long`` (as many optimiser steps as ``weak_finetuned``, no weak labels)
    the difference is what the weak labels gave beyond compute; against
    ``shuffled_labels[kind]`` (same images and steps, labels permuted) what the labels'
    information gave. Rows ``{"variant", "control", "strong_fraction", "comparison": Comparison}``.
    """
    table = []
    for fraction in fractions_of(rows):
        for arm, kind, _ in weak_arms(rows):
            for control in _controls_of(arm, kind):
                comparison = family.get((arm, control, fraction))
                if comparison is not None:
                    table.append(
                        {"variant": arm, "control": control, "strong_fraction": fraction, "comparison": comparison}
                    )
    return table


def answer(family: dict, rows: list[dict], shares: dict | None = None, titles: dict | None = None) -> list[str]:
    """The answer sentences: each weak arm against its reference (:func:`reference_of`), at every fraction, in mIoU.

    Args:
        shares: strong fraction -> ``{"tiles": share, "pixels": share}`` realised by the split
            (the headline says the realised share, not the nominal one).
        titles: kind -> how to name it (e.g. ``label proportions``); default the kind's name.
    """
    sentences = []
    for fraction in fractions_of(rows):
        for arm, kind, method in weak_arms(rows):
            reference = reference_of(rows, arm, fraction)
            c = family.get((arm, reference, fraction))
            if c is None:
                continue
            context = f"with {_share_text(fraction, (shares or {}).get(fraction))}"
            what = (titles or {}).get(kind, kind)
            sentences.append(
                answer_sentence(
                    c.difference,
                    arm,
                    reference,
                    "mIoU",
                    context,
                    what,
                    c.p_holm,
                    c.family,
                    c.power,
                    method,
                    c.sign_flip,
                )
            )
    if not sentences:
        sentences.append(
            f"The question cannot be answered: it needs runs of a weak arm ({', '.join(weak_methods())}) and of "
            f"{BASELINE}."
        )
    return sentences


def _share_text(fraction: str, realised: dict | None) -> str:
    """``10% of tiles pixel-labelled``, with the realised shares when known."""
    nominal = f"{100 * float(fraction):g}% of tiles pixel-labelled"
    if not realised:
        return nominal
    tiles, pixels = 100 * realised["tiles"], 100 * realised["pixels"]
    return f"{nominal} (realised: {tiles:.1f}% of tiles, {pixels:.1f}% of labelled pixels)"


def exact_test_note(family: dict) -> str:
    """A sentence on what the exact sign-flip test can reach with this study's seeds (empty beyond 6 seeds)."""
    counts = sorted({c.difference.interval.n for c in family.values() if math.isfinite(c.sign_flip)})
    if not counts:
        return ""
    n = counts[0]
    floor = 2 / 2**n
    return (
        f"With {n} seeds the exact paired permutation (sign-flip) test, which assumes nothing of the "
        f"differences' distribution, cannot reach a p below {floor:.3g}: every verdict with a t-test p below that "
        "rests on the t-test's assumption that the per-seed differences are normally distributed."
    )
