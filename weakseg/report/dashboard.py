"""What the dashboard shows, read from a ``results/`` folder only (no data/, no model loading).

A *finished run* is a run folder ``models/<variant>/weak-<kind>/strong-<f>/seed-<s>/<point>`` with a
``history.csv`` whose evaluation (``eval/<same path>/metrics.json``) exists. Its gallery is
``eval/<run>/predictions``: colourised predictions, ground truth, input frames and per-tile
scores written by the evaluate stage (:func:`weakseg.learn.evaluation.evaluate`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from weakseg.design.experiment import Run
from weakseg.formats.summary import read_summary
from weakseg.io.errors import WeaksegError
from weakseg.report.results import score_table, with_arms
from weakseg.report.statistics import CONFIDENCE

#: The command that makes a finished run, shown when there is none.
MAKE_A_RUN = "snakemake --cores 2"


@dataclass(frozen=True)
class FinishedRun:
    """One finished run: its identity and its folders.

    Attributes:
        variant, fraction, seed, point, weak_kind: the run's wildcards (fraction as in the path, e.g. ``0.1``
            or ``all``; weak_kind ``none`` for runs without weak labels).
        model_dir: ``results/models/<path>``; eval_dir: ``results/eval/<path>``.
    """

    variant: str
    strong_fraction: str
    seed: int
    point: str
    model_dir: Path
    eval_dir: Path
    weak_kind: str = "none"

    @property
    def label(self) -> str:
        """``variant / weak-k / strong-f / seed-s / point``, as the run's folders name it."""
        return (
            f"{self.variant} / weak-{self.weak_kind} / strong-{self.strong_fraction} / seed-{self.seed} / {self.point}"
        )


#: Scores the page shows from every run's ``metrics.json``.
REQUIRED_METRICS = ("miou", "oa")
#: Columns the page draws from every run's ``history.csv``.
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_miou")


class DamagedRun(ValueError):
    """A run folder whose files cannot be shown; the message names the file and what is wrong."""


def finished_runs(results: str | Path, skipped: list[str] | None = None) -> list[FinishedRun]:
    """The finished runs under ``results`` that can be shown, sorted by variant, fraction, seed and point.

    A folder that is not a run (``seed-old``), or a run whose ``history.csv`` or ``metrics.json``
    is damaged (truncated, a garbage row, empty, a required score missing), is left out so the
    other runs still show; one line naming it and the reason is appended to ``skipped``.
    """
    results = Path(results)
    runs = []
    for history in sorted(results.glob("models/*/weak-*/strong-*/seed-*/*/history.csv")):
        relative = history.parent.relative_to(results / "models")
        eval_dir = results / "eval" / relative
        if not (eval_dir / "metrics.json").is_file():
            continue  # not evaluated yet: not a finished run
        try:
            try:
                planned = Run.parse(relative.as_posix())
            except WeaksegError as error:
                raise DamagedRun(f"{history.parent}: not a run folder ({error})") from None
            run = FinishedRun(
                planned.variant,
                planned.strong_fraction,
                planned.seed,
                planned.point,
                history.parent,
                eval_dir,
                planned.weak_kind,
            )
            read_history(run)
            read_metrics(run)
        except DamagedRun as damage:
            if skipped is not None:
                skipped.append(str(damage))
            continue
        runs.append(run)
    return runs


def _number(text: str | None, path: Path, line: int) -> float | None:
    if text in ("", None):
        return None
    try:
        return float(text)
    except ValueError:
        raise DamagedRun(f"{path}: line {line} holds {text!r} where a number belongs") from None


def read_history(run: FinishedRun) -> list[dict]:
    """The run's ``history.csv`` rows: epoch (int), train_loss, val_loss, val_miou (float, None if empty).

    Raises:
        DamagedRun: the file is unreadable, has none of the columns or no epoch, or a value is
            not a number (naming the file and the line).
    """
    path = run.model_dir / "history.csv"
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in HISTORY_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DamagedRun(f"{path}: no column {', '.join(missing)} (empty or not a history)")
            rows = []
            for line, row in enumerate(reader, start=2):
                epoch = _number(row.get("epoch"), path, line)
                if epoch is None:
                    continue
                rows.append({"epoch": int(epoch), **{k: _number(row.get(k), path, line) for k in HISTORY_COLUMNS[1:]}})
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DamagedRun(f"{path}: cannot be read ({error})") from None
    if not rows:
        raise DamagedRun(f"{path}: no epoch recorded")
    return rows


def read_metrics(run: FinishedRun) -> dict:
    """The run's ``metrics.json`` (scores on the scored set).

    Raises:
        DamagedRun: not readable JSON, not an object, or a score of :data:`REQUIRED_METRICS` missing.
    """
    path = run.eval_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DamagedRun(f"{path}: not readable JSON ({error})") from None
    if not isinstance(metrics, dict):
        raise DamagedRun(f"{path}: not a JSON object")
    missing = [key for key in REQUIRED_METRICS if key not in metrics]
    if missing:
        raise DamagedRun(f"{path}: no {', '.join(missing)} (damaged, or written by something else)")
    return metrics


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
    ``Dice``, ``Dice CI low/high`` (the report's :data:`~weakseg.report.statistics.CONFIDENCE` t-interval).
    Empty when ``results/summary.csv`` does not exist yet.

    Raises:
        DamagedRun: the summary is damaged (naming it and the command that rebuilds it).
    """
    path = Path(results) / "summary.csv"
    if not path.is_file():
        return []
    try:
        table = score_table(with_arms(read_summary(path)), ["miou", "dice"])
    except (WeaksegError, OSError, ValueError, KeyError) as error:
        raise DamagedRun(f"{path}: cannot be read ({error}); rerun: snakemake --cores 2 results/summary.csv") from None
    rows = []
    for entry in table:
        row = {"variant": entry["variant"], "strong fraction": entry["strong_fraction"], "seeds": entry["n"]}
        for column, name in (("miou", "mIoU"), ("dice", "Dice")):
            interval = entry[column]
            row.update({name: interval.mean, f"{name} CI low": interval.low, f"{name} CI high": interval.high})
        rows.append(row)
    return rows


def interval_caption() -> str:
    """How the intervals of :func:`summary_rows` are computed."""
    return f"{100 * CONFIDENCE:.0f}% t-intervals of the mean over seeds (NaN with one seed)."
