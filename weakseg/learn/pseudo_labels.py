"""The ``pseudo_masks`` stage's work: a teacher predicts the weak tiles, their weak labels refine the predictions.

See :mod:`weakseg.methods.pseudo_masks` for the method. Memory is one chunk of tiles: images are
read and pseudo-masks written by rows (:class:`weakseg.io.npy.NpyWriter`), whatever the dataset.
A weak tile's true mask is never opened here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from weakseg.formats.splits import sets_at_fraction
from weakseg.formats.tiles import read_tiles, rows_of
from weakseg.formats.weak_labels import read_weak_labels
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX
from weakseg.io.npy import NpyRows, NpyWriter
from weakseg.io.outputs import staged_outputs
from weakseg.learn.inference import forward, load_model
from weakseg.methods.pseudo_masks import pseudo_mask
from weakseg.weak.kind import WeakKind

#: Tiles predicted at a time.
CHUNK = 64


@dataclass(frozen=True)
class WeakTiles:
    """What refines a teacher's predictions: the kind, its options, and where the weak tiles and labels are.

    Attributes:
        images, tiles, splits, weak_labels: the tile arrays, ``tiles.csv``, ``splits.json``, the kind's labels.
        weak_masks: a dense kind's weak masks (its labelled pixels override the prediction), else None.
        strong_fraction: the run's fraction, which decides the weak set.
    """

    kind: WeakKind
    options: dict
    images: Path
    tiles: Path
    splits: Path
    weak_labels: Path
    strong_fraction: str
    weak_masks: Path | None = None

    def weak_rows(self) -> dict[int, np.ndarray]:
        """Row in the tile arrays -> (D,) weak label, for the weak set's tiles at :attr:`strong_fraction`.

        Raises:
            WeaksegError: a weak tile without a weak label (a stale table).
        """
        row_of = rows_of(read_tiles(self.tiles))
        splits = json.loads(Path(self.splits).read_text())
        ids, _, labels, _ = read_weak_labels(self.weak_labels)
        label_of = dict(zip(ids, labels, strict=True))
        weak = sets_at_fraction(splits, self.strong_fraction)["weak"]
        missing = [t for t in weak if t not in label_of]
        if missing:
            raise WeaksegError(f"{self.weak_labels}: weak tiles {missing[:5]} have no label; rerun weak_labels")
        return {row_of[t]: np.asarray(label_of[t]) for t in weak}

    def labelled_pixels(self, row: int, label: np.ndarray, height: int, width: int, weak_masks) -> np.ndarray | None:
        """(H, W) uint8 pixels the weak label names (a dense kind's weak mask, a spatial kind's points), or None."""
        if self.kind.dense:
            return np.asarray(weak_masks[row])
        if self.kind.spatial:
            return self.kind.to_mask(label, height, width)
        return None


def write_pseudo_masks(teacher: Path, weak: WeakTiles, out: Path, confidence: float, device: torch.device) -> dict:
    """Write ``out``: (N, T, T) uint8 pseudo-masks, rows as the tile arrays, 255 for every tile outside the weak set.

    Each weak tile: the teacher's softmax (float64, (K, T, T)), refined by the kind
    (:meth:`~weakseg.weak.kind.WeakKind.refine`), then :func:`~weakseg.methods.pseudo_masks.pseudo_mask`
    with ``confidence`` and the label's own pixels. Returns ``{"tiles": weak tiles, "labelled": share
    of their pixels with a class}``.

    Raises:
        WeaksegError: a stale weak-label table, or a teacher whose classes do not fit the tiles.
    """
    model, record = load_model(teacher, device)
    labels = weak.weak_rows()
    images = NpyRows(weak.images)
    weak_masks = NpyRows(weak.weak_masks) if weak.weak_masks is not None else None
    n, height, width = len(images), *images.shape[1:3]
    labelled = 0
    with staged_outputs(out) as (staged,), NpyWriter(staged, (n, height, width), "uint8") as writer:
        for start in range(0, n, CHUNK):
            rows = list(range(start, min(start + CHUNK, n)))
            chunk = np.full((len(rows), height, width), IGNORE_INDEX, dtype=np.uint8)
            wanted = [i for i, row in enumerate(rows) if row in labels]
            if wanted:
                pixels = images[[rows[i] for i in wanted]].transpose(0, 3, 1, 2)
                with torch.no_grad():
                    probabilities = torch.softmax(forward(model, torch.from_numpy(pixels), device), dim=1)
                for i, p in zip(wanted, probabilities.double().cpu().numpy(), strict=True):
                    label = labels[rows[i]]
                    refined = weak.kind.refine(p, label, weak.options)
                    said = weak.labelled_pixels(rows[i], label, height, width, weak_masks)
                    chunk[i] = pseudo_mask(refined, confidence, said)
                    labelled += int((chunk[i] != IGNORE_INDEX).sum())
            for mask in chunk:
                writer.write(mask)
    return {"tiles": len(labels), "labelled": labelled / max(len(labels) * height * width, 1)}


def audit_pseudo_masks(pseudo: Path, masks: Path, rows: list[int], n_classes: int) -> np.ndarray:
    """(K, K) int64 confusion of the pseudo-masks (columns) against the true masks (rows) on tiles ``rows``.

    Pixels ignore in either are left out, so the scores are those of the pseudo-masks' labelled
    pixels; their share is reported beside them. For the report only (the ``pseudo_mask_audit``
    stage runs after the student and nothing trains on its output).
    """
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    predicted, truth = NpyRows(pseudo), NpyRows(masks)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        p, t = predicted[chunk].ravel(), truth[chunk].ravel()
        keep = (p != IGNORE_INDEX) & (t != IGNORE_INDEX)
        confusion += np.bincount(
            t[keep].astype(np.int64) * n_classes + p[keep], minlength=n_classes * n_classes
        ).reshape(n_classes, n_classes)
    return confusion


#: Weak tiles shown in an audit's preview.
PREVIEW_TILES = 4


def audit_preview(images: Path, masks: Path, pseudo: Path, rows: list[int], palette: np.ndarray) -> np.ndarray:
    """(n * (T + 4), 3 * (T + 4), 3) uint8: image, true mask and pseudo-mask of the first weak tiles.

    The first :data:`PREVIEW_TILES` of ``rows``; masks colourised with ``palette`` ((K, 3) uint8),
    ignore black. For the report only (it shows weak tiles' true masks).
    """
    from weakseg.io.imageio import display_rgb, framed_row
    from weakseg.io.labels import colorize

    shown = list(rows[:PREVIEW_TILES])
    image_rows = NpyRows(images)[shown] if shown else np.zeros((0, 1, 1, 3), np.uint8)
    panels = []
    for image, truth, mask in zip(image_rows, NpyRows(masks)[shown], NpyRows(pseudo)[shown], strict=True):
        cells = [display_rgb(image), colorize(truth, palette), colorize(mask, palette)]
        panels.append(framed_row(cells))
    return np.concatenate(panels, axis=0) if panels else np.full((4, 4, 3), 255, np.uint8)
