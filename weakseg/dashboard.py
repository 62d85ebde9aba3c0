"""What the dashboard shows, read from a ``results/`` folder only (no data/, no model loading).

A *finished run* is a run folder ``models/<variant>/strong-<f>/seed-<s>/<point>`` with a
``history.csv`` whose evaluation (``eval/<same path>/metrics.json``) exists. Its gallery is
``eval/<run>/predictions``: colourised predictions, ground truth, input frames and per-tile
scores written by the evaluate stage (:func:`weakseg.evaluation.evaluate`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from weakseg.results import score_table
from weakseg.statistics import CONFIDENCE
from weakseg.summary import read_summary

#: The command that makes a finished run, shown when there is none.
MAKE_A_RUN = "snakemake --cores 2"


@dataclass(frozen=True)
class FinishedRun:
    """One finished run: its identity and its folders.

    Attributes:
        variant, fraction, seed, point: the run's wildcards (fraction as in the path, e.g. ``0.1`` or ``all``).
        model_dir: ``results/models/<path>``; eval_dir: ``results/eval/<path>``.
    """

    variant: str
    fraction: str
    seed: int
    point: str
    model_dir: Path
    eval_dir: Path

    @property
    def label(self) -> str:
        """``variant / strong-f / seed-s / point``, as the run's folders name it."""
        return f"{self.variant} / strong-{self.fraction} / seed-{self.seed} / {self.point}"


def finished_runs(results: str | Path) -> list[FinishedRun]:
    """The finished runs under ``results``, sorted by variant, fraction, seed and point."""
    results = Path(results)
    runs = []
    for history in sorted(results.glob("models/*/strong-*/seed-*/*/history.csv")):
        relative = history.parent.relative_to(results / "models")
        variant, fraction, seed, point = relative.parts
        eval_dir = results / "eval" / relative
        if (eval_dir / "metrics.json").is_file():
            runs.append(
                FinishedRun(
                    variant,
                    fraction.removeprefix("strong-"),
                    int(seed.removeprefix("seed-")),
                    point,
                    history.parent,
                    eval_dir,
                )
            )
    return runs


def read_history(run: FinishedRun) -> list[dict]:
    """The run's ``history.csv`` rows: epoch (int), train_loss, val_loss, val_miou (float, None if empty)."""
    with open(run.model_dir / "history.csv", newline="") as handle:
        return [
            {k: (int(v) if k == "epoch" else float(v) if v not in ("", None) else None) for k, v in row.items()}
            for row in csv.DictReader(handle)
            if row.get("epoch")
        ]


def read_metrics(run: FinishedRun) -> dict:
    """The run's ``metrics.json`` (scores on the scored set)."""
    return json.loads((run.eval_dir / "metrics.json").read_text())


@dataclass(frozen=True)
class GalleryTile:
    """One gallery tile of a run: its files and scores.

    Attributes:
        tile_id: the tile's id (``<scene>_<y>_<x>``).
        frames: PNGs of the input, oldest first (one for single images).
        truth: colourised ground truth PNG (None if the run predates it); prediction: colourised prediction PNG.
        miou, dice: the tile's scores (None when undefined or not recorded).
    """

    tile_id: str
    frames: tuple[Path, ...]
    truth: Path | None
    prediction: Path
    miou: float | None
    dice: float | None


def gallery(run: FinishedRun) -> list[GalleryTile]:
    """The run's gallery tiles, in tile-id order."""
    folder = run.eval_dir / "predictions"
    scores = {}
    if (folder / "scores.csv").is_file():
        with open(folder / "scores.csv", newline="") as handle:
            scores = {row["tile_id"]: row for row in csv.DictReader(handle)}
    number = lambda text: float(text) if text else None  # noqa: E731
    tiles = []
    for prediction in sorted(folder.glob("*.png")):
        tile = prediction.stem
        frames = sorted(folder.glob(f"frames/{tile}_t*.png"), key=lambda p: int(p.stem.rsplit("_t", 1)[1]))
        truth = folder / "truth" / f"{tile}.png"
        row = scores.get(tile, {})
        tiles.append(
            GalleryTile(
                tile,
                tuple(frames),
                truth if truth.is_file() else None,
                prediction,
                number(row.get("miou")),
                number(row.get("dice")),
            )
        )
    return tiles


def summary_rows(results: str | Path) -> list[dict]:
    """The summary table with intervals: per variant and strong fraction, mean and CI of mIoU and Dice over seeds.

    Each row: ``variant``, ``strong fraction``, ``seeds``, ``mIoU``, ``mIoU CI low/high``,
    ``Dice``, ``Dice CI low/high`` (the report's :data:`~weakseg.statistics.CONFIDENCE` t-interval).
    Empty when ``results/summary.csv`` does not exist yet.
    """
    path = Path(results) / "summary.csv"
    if not path.is_file():
        return []
    rows = []
    for entry in score_table(read_summary(path), ["miou", "dice"]):
        row = {"variant": entry["variant"], "strong fraction": entry["fraction"], "seeds": entry["n"]}
        for column, name in (("miou", "mIoU"), ("dice", "Dice")):
            interval = entry[column]
            row.update({name: interval.mean, f"{name} CI low": interval.low, f"{name} CI high": interval.high})
        rows.append(row)
    return rows


def interval_caption() -> str:
    """How the intervals of :func:`summary_rows` are computed."""
    return f"{100 * CONFIDENCE:.0f}% t-intervals of the mean over seeds (NaN with one seed)."
