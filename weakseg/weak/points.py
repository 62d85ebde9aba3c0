"""Point labels: ``per_tile`` labelled pixels per tile.

Bearman et al., "What's the point: semantic segmentation with point supervision" (ECCV 2016):
an annotator clicks a few pixels and names their class. Here the points are drawn uniformly
(seeded) among the tile's labelled pixels, and training applies the pixel loss (cross-entropy)
to those pixels only. A point label is tied to its pixel, so the kind is *spatial*: each label
is rendered as a sparse mask that is augmented with its image (see
:class:`weakseg.weak.kind.WeakKind`).
"""

from __future__ import annotations

import numpy as np

from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak.dense import partial_cross_entropy
from weakseg.weak.kind import WeakKind

#: Row, column and class of an unused point slot (a tile with fewer labelled pixels than points).
NO_POINT = -1.0


def sample_points(masks: np.ndarray, n_classes: int, per_tile: int, rng: np.random.Generator) -> np.ndarray:
    """``per_tile`` labelled pixels of each mask, drawn without replacement.

    Args:
        masks: (N, H, W) uint8, 255 = ignore (never drawn), values >= ``n_classes`` likewise.
        rng: one draw per tile, in row order.

    Returns:
        (N, 3 * per_tile) float64: row, column (pixels) and class of each point; slots beyond
        a tile's labelled pixels are :data:`NO_POINT`.
    """
    labels = np.full((len(masks), 3 * per_tile), NO_POINT, dtype=np.float64)
    for i in range(len(masks)):
        mask = np.asarray(masks[i])
        rows, cols = np.nonzero(mask < n_classes)
        chosen = rng.choice(len(rows), size=min(per_tile, len(rows)), replace=False) if len(rows) else []
        for slot, j in enumerate(chosen):
            labels[i, 3 * slot : 3 * slot + 3] = (rows[j], cols[j], mask[rows[j], cols[j]])
    return labels


def points_mask(label: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) uint8: the class of each point of a (3P,) point label at its pixel, 255 elsewhere."""
    mask = np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
    for row, col, cls in np.asarray(label, dtype=np.float64).reshape(-1, 3):
        if row >= 0:
            mask[int(row), int(col)] = int(cls)
    return mask


class Points(WeakKind):
    """A few labelled pixels per tile (see the module docstring)."""

    name = "points"
    title = "point labels"
    label_keys = ("per_tile",)
    spatial = True
    draws = True
    citation = "Bearman et al. 2016 (What's the point)"

    def columns(self, class_names, options: dict) -> list[str]:
        """``row_i, col_i, class_i`` for each of the ``per_tile`` points."""
        return [f"{what}_{i}" for i in range(int(options["per_tile"])) for what in ("row", "col", "class")]

    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`sample_points`."""
        return sample_points(masks, n_classes, int(options["per_tile"]), rng)

    def empty(self, labels: np.ndarray) -> np.ndarray:
        """(N,) bool: tiles whose every point slot is unused (:data:`NO_POINT`): no labelled pixel."""
        return np.all(labels[:, 0::3] < 0, axis=1)

    def to_mask(self, label: np.ndarray, height: int, width: int) -> np.ndarray:
        """See :func:`points_mask`."""
        return points_mask(label, height, width)

    def loss(self, logits, target, options: dict):
        """Cross-entropy at the points of the augmented (B, H, W) point masks (0 for a batch without points)."""
        return partial_cross_entropy(logits, target)


POINTS = Points()
