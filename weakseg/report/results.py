"""The study's numbers, computed from ``summary.csv`` rows: intervals per arm, paired differences, the grid.

An *arm* is a variant with its kind of weak label: ``strong_only``, ``weak_finetuned[presence]``
(:attr:`weakseg.design.experiment.Run.arm`). :func:`with_arms` puts it in each row's
``variant`` (the variant itself in ``base``); every other function takes rows so prepared and
gives plain dicts, so the report template only lays them out.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from weakseg.design.experiment import (
    ALL_TILES,
    BASELINE,
    CONTROLS,
    DEFAULT_POINT,
    NO_WEAK,
    PRETRAINED,
    UPPER_BOUND,
    VARIANTS,
    Run,
    lineage_of,
    uses_weak_labels,
)
from weakseg.formats.summary import IOU_PREFIX, SCORE_COLUMNS, WITHOUT_COLUMNS
from weakseg.report.statistics import (
    Interval,
    Power,
    answer_sentence,
    fieller_interval,
    holm,
    mean_interval,
    paired_difference,
    verdict,
)

#: (summary column, label) of the metrics table; ``proportion_mae``: lower is better.
METRICS = (
    ("miou", "mIoU"),
    ("mean_f1", "mean F1"),
    ("oa", "OA"),
    ("dice", "Dice (positive class if binary)"),
    ("proportion_mae", "proportion MAE"),
)
assert tuple(key for key, _ in METRICS) == SCORE_COLUMNS

#: (summary column, label) of the scores without the benchmark's left-out classes (ISPRS: clutter).
WITHOUT_METRICS = (("miou_without", "mIoU"), ("mean_f1_without", "mean F1"), ("oa_without", "OA"))
assert tuple(key for key, _ in WITHOUT_METRICS) == WITHOUT_COLUMNS


def with_arms(rows: list[dict]) -> list[dict]:
    """Rows with ``variant`` replaced by the run's arm (``variant[kind]`` with weak labels), ``base`` the variant."""
    return [
        {
            **r,
            "base": r["variant"],
            "variant": Run(r["variant"], r["strong_fraction"], r["seed"], r["point"], r["weak_kind"]).arm,
        }
        for r in rows
    ]


def arms_of(rows: list[dict]) -> list[str]:
    """The arms of ``rows`` (prepared by :func:`with_arms`): in the order of the variants, then of first appearance."""
    order = {name: i for i, name in enumerate(VARIANTS)}
    first = {}
    for i, r in enumerate(rows):
        first.setdefault(r["variant"], (order.get(r["base"], len(order)), i))
    return sorted(first, key=first.get)


def arm_name(variant: str, kind: str) -> str:
    """The arm of ``variant`` trained with ``kind`` (see :attr:`weakseg.design.experiment.Run.arm`)."""
    return Run(variant, ALL_TILES, 0, DEFAULT_POINT, kind).arm


def kinds_of_rows(rows: list[dict]) -> list[str]:
    """The weak kinds of the runs, in order of first appearance (without ``none``)."""
    return list(dict.fromkeys(r["weak_kind"] for r in rows if r["weak_kind"] != NO_WEAK))


def fraction_key(fraction: str) -> float:
    """Sort key of a ``strong_fraction`` value: numbers in order, ``all`` last."""
    return math.inf if fraction == ALL_TILES else float(fraction)


def fractions_of(rows: list[dict]) -> list[str]:
    """The strong fractions of the per-fraction runs, ascending (without ``all``)."""
    return sorted({r["strong_fraction"] for r in rows if r["strong_fraction"] != ALL_TILES}, key=fraction_key)


def by_seed(rows: list[dict], variant: str, fraction: str, column: str, point: str = DEFAULT_POINT) -> dict[int, float]:
    """Seed -> ``column`` of the runs of ``variant`` at ``fraction`` and ``point``."""
    return {
        r["seed"]: r[column]
        for r in rows
        if r["variant"] == variant and r["strong_fraction"] == fraction and r["point"] == point
    }


def variant_cells(rows: list[dict]) -> list[tuple[str, str]]:
    """``(arm, fraction)`` of every group of default-point runs, in table order."""
    order = {name: i for i, name in enumerate(arms_of(rows))}
    cells = {(r["variant"], r["strong_fraction"]) for r in rows if r["point"] == DEFAULT_POINT}
    return sorted(cells, key=lambda c: (fraction_key(c[1]), order.get(c[0], len(order))))


def score_table(rows: list[dict], columns: list[str]) -> list[dict]:
    """Per (variant, fraction): ``{"variant", "fraction", "n", column: Interval ...}`` over seeds."""
    table = []
    for variant, fraction in variant_cells(rows):
        entry = {"variant": variant, "fraction": fraction}
        for column in columns:
            entry[column] = mean_interval(list(by_seed(rows, variant, fraction, column).values()))
        entry["n"] = entry[columns[0]].n
        table.append(entry)
    return table


def differences(rows: list[dict], column: str = "miou", effect: float = 0.02) -> list[dict]:
    """Paired differences of every arm to ``strong_only`` at the same fraction (``full``: at every fraction).

    The arms compared with the baseline at one fraction are one family: their p-values are
    Holm-corrected together (:func:`weakseg.report.statistics.holm`); ``full`` against the
    baseline (is there a gap to close at all?) is a family of its own.

    Args:
        effect: the difference (in ``column``'s units) whose required seeds are reported.

    Returns:
        Rows ``{"variant", "fraction", "difference": PairedDifference, "verdict", "p_holm",
        "family", "mde", "seeds_for_effect", "gap_closed": Ratio | None}``: ``mde`` is the
        minimum detectable effect at 80% power for the seeds run and the spread of these
        differences, ``seeds_for_effect`` the seeds that would detect ``effect``; ``gap_closed``
        is (arm - strong_only) / (full - strong_only) with Fieller's 95% interval over the seeds
        all three share, None without ``full`` (or for ``full`` itself).
    """
    table = []
    upper_scores = by_seed(rows, UPPER_BOUND, ALL_TILES, column)
    for fraction in fractions_of(rows):
        baseline = by_seed(rows, BASELINE, fraction, column)
        if not baseline:
            continue
        family = []
        for arm in arms_of(rows):
            scores = upper_scores if arm == UPPER_BOUND else by_seed(rows, arm, fraction, column)
            if arm == BASELINE or not scores:
                continue
            difference = paired_difference(scores, baseline)
            power = Power.of(difference, effect)
            family.append(
                {
                    "variant": arm,
                    "fraction": fraction,
                    "difference": difference,
                    "verdict": verdict(difference),
                    "mde": power.mde,
                    "seeds_for_effect": power.seeds_text,
                    "gap_closed": None if arm == UPPER_BOUND else _gap_ratio(scores, baseline, upper_scores),
                }
            )
        # The upper bound asks whether there is a gap to close at all: a family of its own.
        for members in (
            [r for r in family if r["variant"] != UPPER_BOUND],
            [r for r in family if r["variant"] == UPPER_BOUND],
        ):
            adjusted = holm([row["difference"].p_value for row in members])
            family_text = f"{len(members)} arm(s) vs {BASELINE} at {fraction}"
            for row, p in zip(members, adjusted, strict=True):
                row.update(p_holm=p, family=family_text, verdict=verdict(row["difference"], p))
        table.extend(family)
    return table


def _gap_ratio(scores: dict[int, float], baseline: dict[int, float], upper: dict[int, float]):
    seeds = sorted(set(scores) & set(baseline) & set(upper))
    if not seeds:
        return None
    return fieller_interval([scores[s] - baseline[s] for s in seeds], [upper[s] - baseline[s] for s in seeds])


def answer(
    rows: list[dict], shares: dict[str, dict] | None = None, effect: float = 0.02, titles: dict[str, str] | None = None
) -> list[str]:
    """The answer sentences: per strong fraction and kind, ``weak_finetuned[kind]`` vs ``strong_only`` in mIoU.

    The kinds compared at one fraction are one family: with more than one, each sentence states
    its Holm-adjusted p-value, which must also be below 0.05 for "helped" or "hurt".

    Args:
        shares: strong fraction -> ``{"tiles": share, "pixels": share}`` realised by the split
            (the headline says the realised share, not the nominal one).
        effect: see :func:`differences`.
        titles: kind -> how to name it (e.g. ``label proportions``); default the kind's name.
    """
    sentences = []
    for fraction in fractions_of(rows):
        baseline = by_seed(rows, BASELINE, fraction, "miou")
        # One comparison per kind: a family, Holm-corrected together.
        family = [
            (kind, by_seed(rows, arm_name(PRETRAINED, kind), fraction, "miou"))
            for kind in kinds_of_rows(rows) or [NO_WEAK]
        ]
        family = [(kind, scores) for kind, scores in family if scores and baseline]
        differences_ = [paired_difference(scores, baseline) for _, scores in family]
        adjusted = holm([d.p_value for d in differences_])
        for (kind, _), difference, p_holm in zip(family, differences_, adjusted, strict=True):
            context = f"with {_share_text(fraction, (shares or {}).get(fraction))}"
            what = "weak labels" if kind == NO_WEAK else (titles or {}).get(kind, kind)
            arm = arm_name(PRETRAINED, kind)
            power = Power.of(difference, effect)
            sentences.append(
                answer_sentence(difference, arm, BASELINE, "mIoU", context, what, p_holm, len(family), power)
            )
    if not sentences:
        sentences.append(f"The question cannot be answered: it needs runs of both {PRETRAINED} and {BASELINE}.")
    return sentences


def _share_text(fraction: str, realised: dict | None) -> str:
    """``10% of tiles pixel-labelled``, with the realised shares when known."""
    nominal = f"{100 * float(fraction):g}% of tiles pixel-labelled"
    if not realised:
        return nominal
    tiles, pixels = 100 * realised["tiles"], 100 * realised["pixels"]
    return f"{nominal} (realised: {tiles:.1f}% of tiles, {pixels:.1f}% of labelled pixels)"


def controls(rows: list[dict], column: str = "miou") -> list[dict]:
    """``weak_finetuned[kind]`` against each control at every fraction: what the weak labels, not compute, gave.

    Returns:
        Rows ``{"variant", "control", "fraction", "difference": PairedDifference, "verdict", "p_holm"}``;
        the comparisons of one fraction are one Holm family. Against ``strong_only_long`` (equal
        optimiser steps, no weak labels) the difference is what pretraining gave beyond
        compute; against ``shuffled_labels[kind]`` (same images and steps, labels permuted) it
        is what the labels' information gave.
    """
    table = []
    for fraction in fractions_of(rows):
        family = []
        for kind in kinds_of_rows(rows):
            arm = arm_name(PRETRAINED, kind)
            scores = by_seed(rows, arm, fraction, column)
            if not scores:
                continue
            for control in CONTROLS:
                control_arm = arm_name(control, kind if uses_weak_labels(control) else NO_WEAK)
                reference = by_seed(rows, control_arm, fraction, column)
                if not reference:
                    continue
                difference = paired_difference(scores, reference)
                family.append(
                    {
                        "variant": arm,
                        "control": control_arm,
                        "fraction": fraction,
                        "difference": difference,
                        "verdict": verdict(difference),
                    }
                )
        for row, p in zip(family, holm([r["difference"].p_value for r in family]), strict=True):
            row.update(p_holm=p, verdict=verdict(row["difference"], p))
        table.extend(family)
    return table


def per_class_table(rows: list[dict], fraction: str, class_names: list[str]) -> list[dict]:
    """Per class: ``{"class", variant: Interval ...}`` of IoU over seeds at ``fraction`` (``full`` at ``all``)."""
    variants = [v for v, f in variant_cells(rows) if f in (fraction, ALL_TILES)]
    table = []
    for name in class_names:
        entry = {"class": name}
        for variant in variants:
            where = ALL_TILES if variant == UPPER_BOUND else fraction
            entry[variant] = mean_interval(list(by_seed(rows, variant, where, IOU_PREFIX + name).values()))
        table.append(entry)
    return table


def grid_table(rows: list[dict]) -> list[dict]:
    """Per (variant, fraction, grid point): mean val mIoU (the ranking score) and scored mIoU over seeds.

    Returns:
        Rows ``{"variant", "fraction", "point", "val": Interval, "scored": Interval, "best": bool}``,
        ``best`` marking the point with the highest mean val mIoU of its (variant, fraction).
    """
    groups = defaultdict(list)
    for r in rows:
        if r["point"] != DEFAULT_POINT:
            groups[(r["variant"], r["strong_fraction"], r["point"])].append(r)
    table = []
    for (variant, fraction, point), runs in groups.items():
        table.append(
            {
                "variant": variant,
                "fraction": fraction,
                "point": point,
                "val": mean_interval([r["val_miou"] for r in runs]),
                "scored": mean_interval([r["miou"] for r in runs]),
                "best": False,
            }
        )
    for key in {(t["variant"], t["fraction"]) for t in table}:
        members = [t for t in table if (t["variant"], t["fraction"]) == key]
        max(members, key=lambda t: -math.inf if math.isnan(t["val"].mean) else t["val"].mean)["best"] = True
    return sorted(table, key=lambda t: (t["variant"], fraction_key(t["fraction"]), -_or_inf(t["val"].mean)))


def _or_inf(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def grid_axes(points: list[str]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The grid's keys in order and, per point label, ``{key: value text}`` (labels ``k~v,k~v``)."""
    parsed = {p: dict(part.split("~", 1) for part in p.split(",")) for p in points}
    keys = list(dict.fromkeys(k for values in parsed.values() for k in values))
    return keys, parsed


def mean_curves(histories: dict[str, list[dict]], columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per-epoch mean and interval over seeds of ``columns`` (histories of one variant: seed -> rows)."""
    epochs = sorted({int(float(r["epoch"])) for rows in histories.values() for r in rows})
    out: dict[str, np.ndarray] = {"epoch": np.array(epochs)}
    for column in columns:
        intervals: list[Interval] = []
        for epoch in epochs:
            values = [_num(r[column]) for rows in histories.values() for r in rows if int(float(r["epoch"])) == epoch]
            intervals.append(mean_interval(values))
        out[column] = np.array([i.mean for i in intervals])
        if any(i.n > 1 for i in intervals):
            out[f"{column}_low"] = np.array([i.low for i in intervals])
            out[f"{column}_high"] = np.array([i.high for i in intervals])
    return out


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def majority_scores(counts: np.ndarray, majority: int) -> dict[str, float]:
    """Scores of predicting class ``majority`` for every pixel, from the scored set's (K,) labelled-pixel counts.

    With ``N`` labelled pixels and ``n_k`` of class k, the constant prediction's confusion matrix
    has one non-zero column: IoU and F1 of class ``c = majority`` are ``n_c / N`` and
    ``2 n_c / (n_c + N)``; every other class present scores 0; a class absent from the ground
    truth (and, but for ``c``, never predicted) is 0/0 and left out of the means, as in
    :data:`weakseg.learn.metrics.ABSENT_CLASS_POLICY`. OA is ``n_c / N``. Dice is that of the
    positive class (index 1) for two-class datasets, else NaN; proportion MAE is NaN.

    Returns:
        ``{"miou", "mean_f1", "oa", "dice", "proportion_mae"}`` (NaN without labelled pixels).
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return {key: math.nan for key, _ in METRICS}
    iou, f1 = {}, {}
    for k, n in enumerate(counts):
        if k == majority:
            iou[k], f1[k] = n / total, 2 * n / (n + total)
        elif n > 0:
            iou[k] = f1[k] = 0.0
    dice = math.nan
    if len(counts) == 2:
        dice = f1.get(1, math.nan)
    return {
        "miou": float(np.mean(list(iou.values()))),
        "mean_f1": float(np.mean(list(f1.values()))),
        "oa": float(counts[majority] / total),
        "dice": float(dice),
        "proportion_mae": math.nan,
    }


def annotation_hours(rows: list[dict], set_sizes: dict[str, dict[str, int]], seconds: dict[str, float]) -> list[dict]:
    """Annotation time behind each arm at each strong fraction, with its mIoU: the cost-efficiency table.

    Hours = (pixel-labelled tiles x ``seconds["full"]`` + weakly labelled tiles x
    ``seconds[kind]``) / 3600, the tiles of the sets the run and the runs it starts from train
    on at that fraction (``weak_only`` pays for weak labels only; shuffled labels cost what the
    labels cost; ``full`` pixel-labels the whole pool).

    Args:
        set_sizes: strong fraction (and ``all``) -> ``{"strong": tiles, "weak": tiles}``.
        seconds: ``annotation`` section: seconds per tile for ``full`` and each kind.

    Returns:
        Rows ``{"variant", "fraction", "kind", "seconds_per_weak_tile", "hours", "miou": Interval}``.
    """
    table = []
    for arm, fraction in variant_cells(rows):
        members = [
            r for r in rows if r["variant"] == arm and r["strong_fraction"] == fraction and r["point"] == DEFAULT_POINT
        ]
        base, kind = members[0]["base"], members[0]["weak_kind"]
        sizes = set_sizes.get(fraction)
        if sizes is None:
            continue
        lineage = lineage_of(base)
        pixel_sets = {s for v in lineage for s in VARIANTS[v].pixel_sets}
        weak_sets = {s for v in lineage for s in VARIANTS[v].weak_sets} - pixel_sets
        pixel_tiles = sum(sizes.get(s, 0) for s in pixel_sets)
        weak_tiles = sum(sizes.get(s, 0) for s in weak_sets)
        weak_seconds = seconds.get(kind, 0.0) if kind != NO_WEAK else 0.0
        table.append(
            {
                "variant": arm,
                "fraction": fraction,
                "kind": kind,
                "seconds_per_weak_tile": weak_seconds,
                "hours": (pixel_tiles * seconds["full"] + weak_tiles * weak_seconds) / 3600,
                "miou": mean_interval([r["miou"] for r in members]),
            }
        )
    return table
