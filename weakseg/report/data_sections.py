"""The report's data sections: the study design (set sizes, shares), the dataset's class distributions, the weak labels.

Every count comes from the tile stage's ``class_pixels`` and the weak-label summary: no weak tile's mask is opened.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from weakseg.data.band_statistics import resolve_normalization
from weakseg.design.experiment import ALL_TILES, SET_NAMES
from weakseg.formats.splits import read_splits, sets_at_fraction, split_tile_ids, strong_share
from weakseg.formats.stats import read_statistics
from weakseg.formats.tiles import rows_of
from weakseg.formats.weak_labels import SUMMARY_COLUMNS, read_weak_labels
from weakseg.io.errors import WeaksegError
from weakseg.report import figures, results
from weakseg.report.inputs import ReportInputs, read_csv
from weakseg.weak import get_weak_kind


def design_context(inputs: ReportInputs, adapter, rows: list[dict], tiles: list, class_pixels: np.ndarray) -> dict:
    """What the split realised at each strong fraction, and the majority-class row (no training).

    Realised shares: strong tiles over the tiles the split divided (:func:`strong_share`, the
    denominator of the nominal fraction), and their labelled pixels over those of the split's
    tiles (:func:`split_tile_ids`). The majority class is the most frequent class of the strong
    set's labelled pixels (training data only), scored on the scored set's pixels. Both from the
    tile stage's per-tile class counts (``class_pixels``, (N, K)): no mask is opened.
    """
    row_of = rows_of(tiles)
    splits = json.loads(Path(inputs.splits).read_text())
    labelled = lambda ids: class_pixels[[row_of[t] for t in ids]].sum()  # noqa: E731
    split_pixels = max(labelled(split_tile_ids(splits)), 1)
    shares, set_sizes = {}, {}
    for fraction in [*results.fractions_of(rows), ALL_TILES]:
        try:
            sets = sets_at_fraction(splits, fraction)
        except WeaksegError:
            continue
        set_sizes[fraction] = {name: len(ids) for name, ids in sets.items()}
        if fraction != ALL_TILES:
            shares[fraction] = {
                "tiles": strong_share(splits, sets["strong"]),
                "pixels": labelled(sets["strong"]) / split_pixels,
            }
    reference = sets_at_fraction(splits, results.fractions_of(rows)[0]) if results.fractions_of(rows) else None
    majority = None
    if reference is not None:
        strong_counts = class_pixels[[row_of[t] for t in reference["strong"]]].sum(axis=0)
        scored_name = sorted({r["set"] for r in rows})[0]
        scored_counts = class_pixels[[row_of[t] for t in reference[scored_name]]].sum(axis=0)
        index = int(np.argmax(strong_counts))
        majority = {"class": adapter.class_names[index], **results.majority_scores(scored_counts, index)}
    return {"shares": shares, "set_sizes": set_sizes, "majority": majority}


def dataset_context(inputs: ReportInputs, adapter, tiles: list, class_pixels: np.ndarray) -> dict:
    """The dataset section: tiles per set, class shares per set from ``class_pixels`` ((N, K) int64), band statistics.

    Raises:
        WeaksegError: the tile arrays, ``tiles.csv`` and ``splits.json`` disagree (naming the files).
    """
    masks, images = np.load(inputs.masks, mmap_mode="r"), np.load(inputs.images, mmap_mode="r")
    if len(masks) != len(tiles) or len(images) != len(tiles):
        raise WeaksegError(
            f"{inputs.tiles}: {len(tiles)} rows, but {inputs.images} has {len(images)} "
            f"and {inputs.masks} {len(masks)} tiles"
        )
    row_of = rows_of(tiles)
    sets = read_splits(inputs.splits)
    names = [name for name in SET_NAMES if sets.get(name)]
    shares = {}
    for name in names:
        unknown = [t for t in sets[name] if t not in row_of]
        if unknown:
            raise WeaksegError(f"{inputs.splits}: set {name} has tile ids not in {inputs.tiles}, e.g. {unknown[0]}")
        counts = class_pixels[sorted(row_of[t] for t in sets[name])].sum(axis=0)
        shares[name] = counts / counts.sum() if counts.sum() else np.full(adapter.n_classes, np.nan)
    splits = json.loads(Path(inputs.splits).read_text())
    scenes = {t.scene for t in tiles}
    synthetic = sum(adapter.is_synthetic_scene(scene) for scene in scenes)
    facts = [
        ("dataset", inputs.dataset),
        ("scenes", len(scenes)),
        ("tiles", len(tiles)),
        ("tile size", f"{images.shape[1]} x {images.shape[2]} px, {images.shape[3]} bands"),
    ]
    if synthetic:
        facts.append(("synthetic demo scenes mixed in (dataset.mix_synthetic)", f"{synthetic} of {len(scenes)}"))
    frames = inputs.config.get("sequence", {}).get("length", 1)
    if frames > 1:
        facts.append(("frames per sample (sequence.length)", frames))
    if inputs.stats is not None:
        mean, std = read_statistics(inputs.stats)
        normalization = resolve_normalization(inputs.config["model"])
        facts += [
            ("band mean of the training tiles (DN)", ", ".join(f"{255 * m:.1f}" for m in mean)),
            ("band std of the training tiles (DN)", ", ".join(f"{255 * s:.1f}" for s in std)),
            ("input normalisation (model.normalization)", f"{normalization} statistics"),
        ]
    facts += [(f"tiles in set {name} (reference split)", len(sets[name])) for name in names]
    facts.append(("tiles in no set (overlap between sets)", splits.get("dropped_overlap", 0)))
    chart = figures.grouped_bars(
        list(adapter.class_names),
        {s: list(100 * shares[s]) for s in names},
        "% of labelled pixels",
        "Class pixel distribution per set",
    )
    table = [(c, [100 * shares[s][k] for s in names]) for k, c in enumerate(adapter.class_names)]
    return {"facts": facts, "sets": names, "table": table, "chart": chart}


def read_class_pixels(inputs: ReportInputs, n_tiles: int, n_classes: int) -> np.ndarray:
    """(N, K) int64 labelled pixels per tile and class, as the tile stage counted them (no mask is opened).

    Raises:
        WeaksegError: the file does not match the tiles (naming it and the fix).
    """
    counts = np.load(inputs.class_pixels)
    if counts.shape != (n_tiles, n_classes):
        raise WeaksegError(
            f"{inputs.class_pixels}: shape {counts.shape}, expected ({n_tiles}, {n_classes}) for {inputs.tiles}; "
            "rerun the tile stage"
        )
    return counts


def weak_label_context(inputs: ReportInputs) -> dict:
    """The weak labels of the reference split as their kind names them (the first of ``experiment.weak_kinds``)."""
    kind = get_weak_kind(inputs.config["experiment"]["weak_kinds"][0])
    _, sets, labels, columns = read_weak_labels(inputs.weak_labels)
    weak = labels[np.array(sets, dtype=str) == "weak"]
    chart = None
    if len(weak) and columns:  # a kind without a label (unlabelled) has nothing to draw
        chart = figures.box_plot(
            [weak[:, k] for k in range(len(columns))],
            columns,
            f"{kind.title} (per tile)",
            f"{kind.title.capitalize()} of the {len(weak)} weak-set tiles",
        )
    summary = read_csv(inputs.weak_summary, SUMMARY_COLUMNS)
    set_names = list(dict.fromkeys(r["set"] for r in summary))
    by_key = {(r["set"], r["class"]): {k: results._num(v) for k, v in r.items()} for r in summary}
    table = [(c, [by_key.get((s, c), {}) for s in set_names]) for c in dict.fromkeys(r["class"] for r in summary)]
    n_tiles = {r["set"]: r["n_tiles"] for r in summary}
    return {"chart": chart, "sets": set_names, "n_tiles": n_tiles, "table": table, "title": kind.title}
