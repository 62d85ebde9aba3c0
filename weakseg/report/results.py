"""The study's numbers, computed from ``summary.csv`` rows: intervals per arm, the grid, costs and curves.

The paired comparisons and the answer are :mod:`weakseg.report.comparisons`.

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
    DEFAULT_POINT,
    NO_WEAK,
    UPPER_BOUND,
    VARIANTS,
    Run,
    lineage_of,
)
from weakseg.formats.summary import IOU_PREFIX, SCORE_COLUMNS, WITHOUT_COLUMNS
from weakseg.report.statistics import (
    Interval,
    mean_interval,
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
    """Per (variant, fraction): ``{"variant", "strong_fraction", "n", column: Interval ...}`` over seeds."""
    table = []
    for variant, fraction in variant_cells(rows):
        entry = {"variant": variant, "strong_fraction": fraction}
        for column in columns:
            entry[column] = mean_interval(list(by_seed(rows, variant, fraction, column).values()))
        entry["n"] = entry[columns[0]].n
        table.append(entry)
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


def unlearned_classes(rows: list[dict], class_names: list[str]) -> list[str]:
    """Classes whose IoU is exactly 0 in every run of ``rows`` (the upper bound included): no run learned them.

    Dropping them from the mean rescales every mIoU by K / (K - len(result)), the same factor for
    every run, so differences scale alike and paired p-values are unchanged: reporting that mean
    selects nothing. A class absent from the scored data (IoU NaN) is not counted here.
    """
    found = []
    for name in class_names:
        values = [r.get(IOU_PREFIX + name) for r in rows]
        if values and all(v is not None and not math.isnan(v) and v == 0 for v in values):
            found.append(name)
    return found


#: The column :func:`with_learned_miou` adds: mIoU over the classes the upper bound learns.
LEARNED_MIOU = "miou_learned"


def upper_bound_classes(rows: list[dict], class_names: list[str]) -> list[str]:
    """The classes the upper bound learns: IoU above 0 in at least one of ``full``'s runs (empty without them).

    Chosen by ``full``'s scores on the scored set, not by the arms compared; a class no ``full``
    run ever predicts correctly (a pixel) is left out.
    """
    full = [r for r in rows if r.get("base", r["variant"]) == UPPER_BOUND]
    return [c for c in class_names if any((r.get(IOU_PREFIX + c) or 0) > 0 for r in full)]


def with_learned_miou(rows: list[dict], classes: list[str]) -> list[dict]:
    """Rows with :data:`LEARNED_MIOU`: the mean IoU over ``classes`` (NaN IoUs, absent classes, left out)."""
    found = []
    for r in rows:
        values = [r.get(IOU_PREFIX + c) for c in classes]
        values = [v for v in values if v is not None and not math.isnan(v)]
        found.append({**r, LEARNED_MIOU: float(np.mean(values)) if values else math.nan})
    return found


def grid_table(rows: list[dict]) -> list[dict]:
    """Per (variant, fraction, grid point): mean val mIoU (the ranking score) and scored mIoU over seeds.

    Returns:
        Rows ``{"variant", "strong_fraction", "point", "val": Interval, "scored": Interval, "best": bool}``,
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
                "strong_fraction": fraction,
                "point": point,
                "val": mean_interval([r["val_miou"] for r in runs]),
                "scored": mean_interval([r["miou"] for r in runs]),
                "best": False,
            }
        )
    for key in {(t["variant"], t["strong_fraction"]) for t in table}:
        members = [t for t in table if (t["variant"], t["strong_fraction"]) == key]
        max(members, key=lambda t: -math.inf if math.isnan(t["val"].mean) else t["val"].mean)["best"] = True
    return sorted(table, key=lambda t: (t["variant"], fraction_key(t["strong_fraction"]), -_or_inf(t["val"].mean)))


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
        Rows ``{"variant", "strong_fraction", "kind", "seconds_per_weak_tile", "hours", "miou": Interval}``.
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
                "strong_fraction": fraction,
                "kind": kind,
                "seconds_per_weak_tile": weak_seconds,
                "hours": (pixel_tiles * seconds["full"] + weak_tiles * weak_seconds) / 3600,
                "miou": mean_interval([r["miou"] for r in members]),
            }
        )
    return table
