"""The report's sections drawn from the main runs' files: training curves, confusion matrices, the gallery."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from weakseg.design.experiment import ALL_TILES
from weakseg.formats.tiles import read_tiles, rows_of
from weakseg.io.errors import WeaksegError
from weakseg.io.imageio import display_rgb
from weakseg.io.labels import colorize
from weakseg.report import figures, results
from weakseg.report.inputs import ReportInputs, read_csv

#: The training-curve panels: (history column, title).
HISTORY_PANELS = (("train_loss", "train loss"), ("val_loss", "val loss"), ("val_miou", "val mIoU"))


def _shown_fractions(runs: list[dict]) -> set[str]:
    """The fractions of the per-run figures: the smallest strong fraction, and ``all`` (``full``)."""
    fractions = sorted({r["strong_fraction"] for r in runs if r["strong_fraction"] != ALL_TILES}, key=float)
    return {fractions[0] if fractions else ALL_TILES, ALL_TILES}


def _first_runs(runs: list[dict]) -> list[int]:
    """Indices of the main runs of the first seed at the shown fractions (see :func:`_shown_fractions`)."""
    seed, wanted = min(r["seed"] for r in runs), _shown_fractions(runs)
    return [i for i, r in enumerate(runs) if r["seed"] == seed and r["strong_fraction"] in wanted]


def curves_context(inputs: ReportInputs, runs: list[dict]) -> str:
    """Training curves (PNG data URI): :data:`HISTORY_PANELS` averaged over seeds per variant, shown fractions."""
    wanted = _shown_fractions(runs)
    per_variant: dict[str, dict[int, list[dict]]] = defaultdict(dict)
    for run, path in zip(runs, inputs.histories, strict=False):
        if run["strong_fraction"] in wanted:
            per_variant[run["variant"]][run["seed"]] = read_csv(path, tuple(c for c, _ in HISTORY_PANELS) + ("epoch",))
    series = {v: results.mean_curves(h, tuple(c for c, _ in HISTORY_PANELS)) for v, h in per_variant.items()}
    return figures.curves(series, HISTORY_PANELS)


def _read_confusion(path: Path) -> tuple[list[str], np.ndarray]:
    """(class names, (K, K) int64 counts, rows = true class, columns = predicted)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    try:
        names, counts = rows[0][1:], np.array([[int(v) for v in row[1:]] for row in rows[1:]], dtype=np.int64)
    except (IndexError, ValueError) as error:
        raise WeaksegError(f"{path}: not a confusion matrix CSV ({error})") from error
    if counts.shape != (len(names), len(names)):
        raise WeaksegError(f"{path}: expected {len(names)} x {len(names)} counts, got shape {counts.shape}")
    return names, counts


def confusion_context(inputs: ReportInputs, runs: list[dict]) -> str:
    """Confusion matrices summed over seeds, per variant, at the smallest strong fraction (and full)."""
    wanted = _shown_fractions(runs)
    summed: dict[str, tuple[list[str], np.ndarray]] = {}
    for run, path in zip(runs, inputs.confusions, strict=False):
        if run["strong_fraction"] in wanted:
            names, counts = _read_confusion(path)
            previous = summed.get(run["variant"], (names, 0))[1]
            summed[run["variant"]] = (names, previous + counts)
    return figures.confusion_matrices(summed)


def gallery_context(inputs: ReportInputs, runs: list[dict], adapter) -> dict:
    """The gallery: per evaluated tile, the image, its truth and each first-seed run's prediction (data URIs).

    Raises:
        WeaksegError: a gallery tile missing from ``tiles.csv`` or a run without its prediction.
    """
    palette = adapter.palette_array
    chosen = _first_runs(runs)
    row_of = rows_of(read_tiles(inputs.tiles))
    images, masks = np.load(inputs.images, mmap_mode="r"), np.load(inputs.masks, mmap_mode="r")
    first = Path(inputs.predictions[chosen[0]])
    rows = []
    for tile in sorted(p.stem for p in first.glob("*.png")):
        if tile not in row_of:
            raise WeaksegError(f"{first}/{tile}.png: tile {tile} is not in {inputs.tiles}")
        image = np.asarray(images[row_of[tile]])
        rgb = display_rgb(image, inputs.config.get("sequence", {}).get("length", 1))
        cells = [figures.array_uri(rgb), figures.array_uri(colorize(np.asarray(masks[row_of[tile]]), palette))]
        for index in chosen:
            path = Path(inputs.predictions[index]) / f"{tile}.png"
            if not path.is_file():
                raise WeaksegError(f"{path}: prediction not found (it exists for {inputs.main_runs[chosen[0]]})")
            cells.append(figures.png_uri(path))
        rows.append((tile, cells))
    legend = [(name, tuple(int(v) for v in palette[k])) for k, name in enumerate(adapter.class_names)]
    return {
        "columns": [runs[i]["variant"] for i in chosen],
        "seed": runs[chosen[0]]["seed"],
        "rows": rows,
        "legend": legend,
    }
