"""Class shares of masks (numpy only): what the proportion, presence and size kinds compute their labels from.

Kept apart from the kinds' losses (torch) so that the ``weak_labels`` stage, which only computes
labels, runs in the data environment without torch.
"""

from __future__ import annotations

import numpy as np

from weakseg.io.labels import class_pixel_counts

#: The losses between predicted and true label proportions (see :func:`weakseg.weak.proportions.proportion_loss`).
PROPORTION_LOSSES = ("cross_entropy", "kl", "l1")


def label_proportions(masks: np.ndarray, n_classes: int, chunk: int | None = None) -> np.ndarray:
    """Label proportions of each mask.

    Args:
        masks: (N, H, W) uint8 class indices, 255 (ignore) excluded from the count.
        n_classes: K.
        chunk: masks processed at a time (default: see :func:`weakseg.io.labels.class_pixel_counts`).

    Returns:
        (N, K) float64 proportions; each row sums to 1 (a mask with no labelled pixel gives a
        row of zeros).
    """
    counts = class_pixel_counts(masks, n_classes, chunk).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
