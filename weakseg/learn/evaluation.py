"""The evaluate stage: a trained model on the scored set (``test`` when the split has one, else ``val``).

Writes ``metrics.json`` (mIoU, mean F1, OA, the mean absolute error of predicted against true
label proportions, per-class scores, and which epoch of the run was scored
and how it was chosen), ``per_class.csv``, ``confusion.csv`` and colourised predictions of a
fixed sample of tiles (dataset palette, ignore pixels black).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from weakseg.design.experiment import HELD_OUT
from weakseg.formats.model_record import ModelSpec
from weakseg.formats.splits import whole_scenes
from weakseg.formats.tiles import read_tiles
from weakseg.io.errors import WeaksegError
from weakseg.io.imageio import display_rgb, write_png
from weakseg.io.labels import IGNORE_INDEX, colorize
from weakseg.io.outputs import staged_outputs, write_json
from weakseg.learn.inference import check_model_fits, forward, load_model, make_loader, resolve_device, validate
from weakseg.learn.metrics import confusion_matrix, segmentation_metrics
from weakseg.learn.sliding_window import model_batches, predict_classes
from weakseg.learn.tile_data import SplitTiles, TileDataset

SCORED_SETS = HELD_OUT


def gallery_sample(tile_ids: list[str], n: int) -> list[str]:
    """``n`` tile ids spread evenly over ``tile_ids`` (the same for every variant and rerun)."""
    if not tile_ids:
        return []
    picks = np.unique(np.linspace(0, len(tile_ids) - 1, min(n, len(tile_ids))).round().astype(int))
    return [tile_ids[i] for i in picks]


@dataclass(frozen=True)
class SceneScoring:
    """``evaluation.mode: scenes``: score whole scenes at their original size by sliding window.

    Attributes:
        files: scene id -> (prepared image .npy, prepared label .npy) at the original size;
            every scene of the dataset may be listed, only those of the scored set are read.
        window, overlap, batch_size: see :func:`weakseg.learn.sliding_window.blended_blocks`.
        shorter_side: the model scale (``tiling.shorter_side``; None: the scene's own size).
    """

    files: dict[str, tuple[str, str]]
    window: int
    overlap: float
    batch_size: int
    shorter_side: int | None = None


def score_scenes(model, device: torch.device, scenes: list[str], scoring: SceneScoring, n_classes: int) -> np.ndarray:
    """(K, K) int64 confusion matrix of ``scenes``, predicted whole and compared at the original size.

    Raises:
        WeaksegError: a scene without prepared files in ``scoring.files``.
    """
    predict_batch = model_batches(model, device)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    for scene in scenes:
        if scene not in scoring.files:
            raise WeaksegError(f"scene {scene}: no prepared image and label were given to score it")
        image_path, label_path = scoring.files[scene]
        truth = np.load(label_path, mmap_mode="r")
        predicted = predict_classes(
            predict_batch,
            np.load(image_path, mmap_mode="r"),
            scoring.window,
            scoring.overlap,
            scoring.batch_size,
            scoring.shorter_side,
            fill=model.mean_pixel,
        )
        confusion += confusion_matrix(predicted, np.asarray(truth), n_classes)
    return confusion


def evaluate(
    run: dict,
    model_path: str | Path,
    *,
    tiles_dir: str | Path,
    splits_path: str | Path,
    class_names: list[str] | tuple[str, ...],
    palette: np.ndarray,
    out_dir: str | Path,
    batch_size: int = 64,
    gallery_tiles: int = 6,
    device_name: str = "auto",
    threads: int = 1,
    scored_set: str = "val",
    scenes: SceneScoring | None = None,
    without: tuple[str, ...] = (),
    protocol: dict | None = None,
) -> dict:
    """Evaluate ``model_path`` on ``scored_set`` and write the stage's outputs to ``out_dir``.

    Args:
        run: the run's identity (variant, weak_kind, strong_fraction, seed, point), copied into ``metrics.json``.
        class_names: the dataset's K classes; palette: (K, 3) uint8 colours of the gallery.
        scored_set: ``test`` when the split has a test set (every reported number then comes
            from it), else ``val``.
        scenes: score whole scenes instead of tiles (see :class:`SceneScoring`); the proportion
            MAE and the gallery still come from the tiles.
        without: classes also scored without (ISPRS: clutter), see
            :func:`weakseg.learn.metrics.segmentation_metrics`.
        protocol: how the numbers were made (label sets, classes, split), copied into
            ``metrics.json`` as ``protocol`` for the report's protocol card.

    Returns:
        The content of ``metrics.json``: :func:`weakseg.learn.metrics.segmentation_metrics` plus the
        ``run`` keys, ``protocol``, ``set`` (the scored set), ``class_names``, ``proportion_mae`` (mean over
        tiles and classes of |predicted - true label proportion|, predicted = softmax averaged
        over the tile, true = shares of the tile's labelled pixels), ``n_tiles``, ``n_pixels``
        (labelled), ``device``, ``checkpoint``, ``epoch`` (the one scored), ``selected`` (last |
        best), ``best_epoch``, ``last_epoch`` and ``val_miou`` (the scored epoch's validation
        mIoU, used to rank grid points).

    Raises:
        WeaksegError: an unknown or empty scored set, an unreadable model, or one trained for
            another class or band count (:func:`weakseg.learn.inference.check_model_fits`).
    """
    if scored_set not in SCORED_SETS:
        raise WeaksegError(f"scored set {scored_set!r} is not one of {', '.join(SCORED_SETS)}")
    out_dir = Path(out_dir)
    device = resolve_device(device_name)
    torch.set_num_threads(max(threads, 1))
    model, record = load_model(model_path, device)
    tiles = SplitTiles.load(tiles_dir, splits_path, class_names)
    bands = np.load(Path(tiles_dir) / "images.npy", mmap_mode="r").shape[-1]
    check_model_fits(record, model_path, len(tiles.class_names), bands)
    class_names = list(ModelSpec.from_record(record).class_names)
    val_ids = tiles.sets[scored_set]
    if not val_ids:
        raise WeaksegError(f"{splits_path}: the {scored_set} set is empty; nothing to score")
    dataset = tiles.dataset(val_ids)
    loader = make_loader(dataset, batch_size, False, max(threads - 1, 0), device, 0)
    result = validate(model, loader, device, len(class_names), None)
    if scenes is not None:
        scored = whole_scenes(read_tiles(Path(tiles_dir) / "tiles.csv"), tiles.sets, scored_set)
        result["confusion"] = score_scenes(model, device, scored, scenes, len(class_names))
        result["n_scenes"] = len(scored)
    metrics = {
        **segmentation_metrics(result["confusion"], class_names, tuple(without)),
        **run,
        "protocol": protocol,
        "set": scored_set,
        "class_names": class_names,
        **_scored_checkpoint(result, record, model_path, device),
    }
    per_class_mae = result["proportion_abs_error"] / result["n_tiles"]
    names = ("metrics.json", "per_class.csv", "confusion.csv", "predictions")
    with staged_outputs(*(out_dir / n for n in names)) as (metrics_tmp, per_class_tmp, confusion_tmp, predictions_tmp):
        write_json(metrics_tmp, metrics)
        _write_per_class(per_class_tmp, metrics, per_class_mae)
        _write_confusion(confusion_tmp, result["confusion"], class_names)
        predictions_tmp.mkdir()
        gallery = gallery_sample(val_ids, gallery_tiles)
        _write_gallery(model, dataset, gallery, val_ids, palette, device, predictions_tmp, class_names, record)
    return metrics


def _scored_checkpoint(result: dict, record: dict, model_path, device) -> dict:
    """What was scored and with which checkpoint: counts, the proportion MAE, epochs and device."""
    n_classes = ModelSpec.from_record(record).n_classes
    return {
        "proportion_mae": float(result["proportion_abs_error"].sum() / (result["n_tiles"] * n_classes)),
        "n_tiles": result["n_tiles"],
        "n_pixels": int(result["confusion"].sum()),
        "mode": "scenes" if "n_scenes" in result else "tiles",
        "n_scenes": result.get("n_scenes"),
        "device": str(device),
        "checkpoint": str(model_path),
        "epoch": record["epoch"],
        "selected": record.get("selected", "best"),
        "best_epoch": record.get("best_epoch", record["epoch"]),
        "last_epoch": record.get("last_epoch", record["epoch"]),
        "val_miou": record["val_miou"],
    }


def _write_per_class(path: Path, metrics: dict, proportion_mae: np.ndarray) -> None:
    """Write per_class.csv: IoU, precision, recall, F1, support and label-proportion MAE per class."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", "iou", "precision", "recall", "f1", "support", "proportion_mae"])
        for k, name in enumerate(metrics["class_names"]):
            scores = metrics["per_class"][name]
            cells = (_cell(scores[m]) for m in ("iou", "precision", "recall", "f1"))
            writer.writerow([name, *cells, scores["support"], f"{proportion_mae[k]:.6f}"])


def _write_confusion(path: Path, confusion: np.ndarray, class_names: list[str]) -> None:
    """Write confusion.csv: one row per true class, one column per predicted class (pixels)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true\\pred", *class_names])
        writer.writerows([name, *row] for name, row in zip(class_names, confusion.tolist(), strict=True))


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


@torch.no_grad()
def _write_gallery(
    model,
    dataset: TileDataset,
    tiles: list[str],
    val_ids: list[str],
    palette,
    device,
    out_dir: Path,
    class_names: list[str],
    record: dict,
) -> None:
    """The gallery of ``tiles``, everything the report and the dashboard show of them.

    Writes ``<tile_id>.png`` (colourised prediction, pixels without ground truth black),
    ``truth/<tile_id>.png`` (colourised ground truth, the same black), ``frames/<tile_id>_t<k>.png``
    (the input, frame k of T, oldest first, as shown by :func:`~weakseg.io.imageio.display_rgb`)
    and ``scores.csv`` (tile_id, miou, dice of each tile).
    """
    position = {tile: i for i, tile in enumerate(val_ids)}
    frames = ModelSpec.from_record(record).frames
    (out_dir / "truth").mkdir()
    (out_dir / "frames").mkdir()
    scores = []
    for tile in tiles:
        item = dataset[position[tile]]
        predicted = forward(model, item["image"][None], device).argmax(1)[0].cpu().numpy().astype(np.uint8)
        truth = item["mask"].numpy().astype(np.uint8)
        predicted[truth == IGNORE_INDEX] = IGNORE_INDEX
        write_png(out_dir / f"{tile}.png", colorize(predicted, palette))
        write_png(out_dir / "truth" / f"{tile}.png", colorize(truth, palette))
        image = item["image"].numpy().transpose(1, 2, 0)
        for k, frame in enumerate(np.split(image, frames, axis=2)):
            write_png(out_dir / "frames" / f"{tile}_t{k}.png", display_rgb(frame))
        tile_metrics = segmentation_metrics(confusion_matrix(predicted, truth, len(class_names)), class_names)
        scores.append([tile, _cell(tile_metrics["miou"]), _cell(tile_metrics["dice"])])
    with open(out_dir / "scores.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["tile_id", "miou", "dice"], *scores])
