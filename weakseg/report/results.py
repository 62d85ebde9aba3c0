"""The study's numbers, computed from ``summary.csv`` rows: intervals per variant, paired differences, the grid.

Every function takes rows as :func:`weakseg.report.summary.read_summary` returns them and gives
plain dicts, so the report template only lays them out.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from weakseg.design.experiment import ALL_TILES, BASELINE, DEFAULT_POINT, PRETRAINED, UPPER_BOUND, VARIANTS
from weakseg.formats.summary import IOU_PREFIX, SCORE_COLUMNS
from weakseg.report.statistics import Interval, answer_sentence, gap_closed, mean_interval, paired_difference, verdict

#: (summary column, label) of the metrics table; ``proportion_mae``: lower is better.
METRICS = (
    ("miou", "mIoU"),
    ("mean_f1", "mean F1"),
    ("oa", "OA"),
    ("dice", "Dice (positive class if binary)"),
    ("proportion_mae", "proportion MAE"),
)
assert tuple(key for key, _ in METRICS) == SCORE_COLUMNS


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
    """``(variant, fraction)`` of every group of default-point runs, in table order."""
    order = {name: i for i, name in enumerate(VARIANTS)}
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


def differences(rows: list[dict], column: str = "miou") -> list[dict]:
    """Paired differences to ``strong_only`` at the same fraction (``full``: at every fraction).

    Returns:
        Rows ``{"variant", "fraction", "difference": PairedDifference, "verdict", "gap_closed"}``;
        ``gap_closed`` = (variant - strong_only) / (full - strong_only) on the means over seeds,
        NaN without a ``full`` run or unless full beats strong_only with its paired 95% interval
        above 0 (a ratio over a gap that may be noise would be meaningless).
    """
    table = []
    upper_scores = by_seed(rows, UPPER_BOUND, ALL_TILES, column)
    for fraction in fractions_of(rows):
        baseline = by_seed(rows, BASELINE, fraction, column)
        if not baseline:
            continue
        upper = math.nan
        if upper_scores and verdict(paired_difference(upper_scores, baseline)) == "helped":
            upper = mean_interval(list(upper_scores.values())).mean
        for variant in VARIANTS:
            scores = upper_scores if variant == UPPER_BOUND else by_seed(rows, variant, fraction, column)
            if variant == BASELINE or not scores:
                continue
            difference = paired_difference(scores, baseline)
            base_mean = float(np.mean(list(baseline.values())))
            closed = gap_closed(float(np.mean(list(scores.values()))), base_mean, upper)
            table.append(
                {
                    "variant": variant,
                    "fraction": fraction,
                    "difference": difference,
                    "verdict": verdict(difference),
                    "gap_closed": closed,
                }
            )
    return table


def answer(rows: list[dict]) -> list[str]:
    """The answer sentences: ``weak_finetuned`` vs ``strong_only`` in mIoU, one per strong fraction."""
    fractions = fractions_of(rows)
    sentences = []
    for fraction in fractions:
        pretrained, baseline = by_seed(rows, PRETRAINED, fraction, "miou"), by_seed(rows, BASELINE, fraction, "miou")
        if not pretrained or not baseline:
            continue
        context = f"at {100 * float(fraction):g}% pixel-labelled tiles"
        sentences.append(
            answer_sentence(paired_difference(pretrained, baseline), PRETRAINED, BASELINE, "mIoU", context)
        )
    if not sentences:
        sentences.append(f"The question cannot be answered: it needs runs of both {PRETRAINED} and {BASELINE}.")
    return sentences


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
