"""The evaluate stage: a trained model on the scored set (``test`` when the split has one, else ``val``).

Writes ``metrics.json`` (mIoU, mean F1, OA, the mean absolute error of predicted against true
label proportions, per-class scores, and which epoch of the run was scored
and how it was chosen), ``per_class.csv``, ``confusion.csv`` and colourised predictions of a
fixed sample of tiles (dataset palette, ignore pixels black).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from weakseg.design.scoring import Scoring, Windows
from weakseg.formats.bundles import EvaluationFiles, EvaluationInputs
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


def gallery_sample(tile_ids: list[str], n: int) -> list[str]:
    """``n`` tile ids spread evenly over ``tile_ids`` (the same for every variant and rerun)."""
    if not tile_ids:
        return []
    picks = np.unique(np.linspace(0, len(tile_ids) - 1, min(n, len(tile_ids))).round().astype(int))
    return [tile_ids[i] for i in picks]


def score_scenes(
    model, device: torch.device, scenes: list[str], files: Mapping[str, tuple], windows: Windows, n_classes: int
) -> np.ndarray:
    """(K, K) int64 confusion matrix of ``scenes``, predicted whole and compared at the original size.

    Args:
        files: scene id -> (prepared image .npy, prepared label .npy) at the original size;
            every scene of the dataset may be listed, only ``scenes`` are read.
        windows: the sliding-window setting (:class:`~weakseg.design.scoring.Windows`).

    Raises:
        WeaksegError: a scene without prepared files in ``files``.
    """
    predict_batch = model_batches(model, device)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    for scene in scenes:
        if scene not in files:
            raise WeaksegError(f"scene {scene}: no prepared image and label were given to score it")
        image_path, label_path = files[scene]
        truth = np.load(label_path, mmap_mode="r")
        predicted = predict_classes(
            predict_batch,
            np.load(image_path, mmap_mode="r"),
            windows.window,
            windows.overlap,
            windows.batch_size,
            windows.shorter_side,
            fill=model.mean_pixel,
        )
        confusion += confusion_matrix(predicted, np.asarray(truth), n_classes)
    return confusion


def evaluate(
    run: dict, inputs: EvaluationInputs, out: EvaluationFiles, dataset, scoring: Scoring, threads: int = 1
) -> dict:
    """Evaluate ``inputs.model`` on ``scoring.scored_set`` and write ``out`` (all or nothing).

    Args:
        run: the run's identity (:meth:`~weakseg.design.experiment.Run.as_dict`), copied into ``metrics.json``.
        inputs: the model, tiles (``tiles``, ``images``, ``masks``), split and, for whole-scene
            scoring, the prepared scenes.
        dataset: the dataset's adapter: its K ``class_names``, (K, 3) uint8 ``palette_array`` of
            the gallery and ``scored_without`` (classes also scored without, ISPRS: clutter; see
            :func:`weakseg.learn.metrics.segmentation_metrics`).
        scoring: the set, batch, gallery, device, windows (whole scenes) and protocol card.

    Returns:
        The content of ``metrics.json``: :func:`weakseg.learn.metrics.segmentation_metrics` plus the
        ``run`` keys, ``protocol``, ``set`` (the scored set), ``class_names``, ``proportion_mae`` (mean over
        tiles and classes of |predicted - true label proportion|, predicted = softmax averaged
        over the tile, true = shares of the tile's labelled pixels), ``n_tiles``, ``n_pixels``
        (labelled), ``device``, ``checkpoint``, ``epoch`` (the one scored), ``selected`` (last |
        best), ``best_epoch``, ``last_epoch`` and ``val_miou`` (the scored epoch's validation
        mIoU, used to rank grid points).

    Raises:
        WeaksegError: an empty scored set, an unreadable model, or one trained for another class
            or band count (:func:`weakseg.learn.inference.check_model_fits`).
    """
    device = resolve_device(scoring.device)
    torch.set_num_threads(max(threads, 1))
    model, record = load_model(inputs.model, device)
    tiles = SplitTiles.load(inputs.tiles, inputs.splits, dataset.class_names)
    bands = np.load(inputs.tiles.images, mmap_mode="r").shape[-1]
    check_model_fits(record, inputs.model, len(tiles.class_names), bands)
    class_names = list(ModelSpec.from_record(record).class_names)
    val_ids = tiles.sets[scoring.scored_set]
    if not val_ids:
        raise WeaksegError(f"{inputs.splits}: the {scoring.scored_set} set is empty; nothing to score")
    dataset_of_ids = tiles.dataset(val_ids)
    loader = make_loader(dataset_of_ids, scoring.batch_size, False, max(threads - 1, 0), device, 0)
    result = validate(model, loader, device, len(class_names), None)
    if scoring.windows is not None:
        scored = whole_scenes(read_tiles(inputs.tiles.tiles), tiles.sets, scoring.scored_set)
        result["confusion"] = score_scenes(model, device, scored, inputs.scenes, scoring.windows, len(class_names))
        result["n_scenes"] = len(scored)
    metrics = {
        **segmentation_metrics(result["confusion"], class_names, tuple(dataset.scored_without)),
        **run,
        "protocol": scoring.protocol,
        "set": scoring.scored_set,
        "class_names": class_names,
        **_scored_checkpoint(result, record, inputs.model, device),
    }
    per_class_mae = result["proportion_abs_error"] / result["n_tiles"]
    with staged_outputs(out.metrics, out.per_class, out.confusion, out.predictions) as staged:
        metrics_tmp, per_class_tmp, confusion_tmp, predictions_tmp = staged
        write_json(metrics_tmp, metrics)
        _write_per_class(per_class_tmp, metrics, per_class_mae)
        _write_confusion(confusion_tmp, result["confusion"], class_names)
        predictions_tmp.mkdir()
        gallery = gallery_sample(val_ids, scoring.gallery_tiles)
        _write_gallery(model, dataset_of_ids, gallery, val_ids, dataset.palette_array, device, predictions_tmp, record)
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
    record: dict,
) -> None:
    """The gallery of ``tiles``, everything the report and the dashboard show of them.

    Writes ``<tile_id>.png`` (colourised prediction, pixels without ground truth black),
    ``truth/<tile_id>.png`` (colourised ground truth, the same black), ``frames/<tile_id>_t<k>.png``
    (the input, frame k of T, oldest first, as shown by :func:`~weakseg.io.imageio.display_rgb`)
    and ``scores.csv`` (tile_id, miou, dice of each tile).
    """
    position = {tile: i for i, tile in enumerate(val_ids)}
    spec = ModelSpec.from_record(record)
    frames, class_names = spec.frames, list(spec.class_names)
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
