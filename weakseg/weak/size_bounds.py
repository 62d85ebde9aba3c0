"""Size bounds: per class an interval [a, b] of its share of the tile.

Kervadec et al., "Constrained-CNN losses for weakly supervised segmentation" (MedIA 2019): the
annotator gives bounds on each class's size instead of the size itself. Here the bounds are
the true share ``t`` widened by ``margin`` (a fraction of the tile) on each side, clipped to
[0, 1]; a class absent from the tile gets [0, 0] (the annotator sees it is absent). The loss is
the paper's penalty on the predicted share ``p`` (softmax averaged over every pixel, as for
label proportions): zero inside [a, b], ``(a - p)^2`` below and ``(p - b)^2`` above, summed over
classes.
"""

from __future__ import annotations

import numpy as np

from weakseg.weak.kind import WeakKind
from weakseg.weak.shares import label_proportions


def size_bounds(masks: np.ndarray, n_classes: int, margin: float) -> np.ndarray:
    """(N, 2K) float64: the lower bounds of the K classes, then their upper bounds (see the module docstring)."""
    proportions = label_proportions(masks, n_classes)
    present = proportions > 0
    lower = np.where(present, np.clip(proportions - margin, 0.0, 1.0), 0.0)
    upper = np.where(present, np.clip(proportions + margin, 0.0, 1.0), 0.0)
    return np.concatenate([lower, upper], axis=1)


def size_penalty(predicted, bounds):
    """Batch mean of ``sum_k relu(a_k - p_k)^2 + relu(p_k - b_k)^2`` for (B, K) ``predicted`` and (B, 2K) ``bounds``."""
    import torch

    k = predicted.shape[1]
    lower, upper = bounds[:, :k].to(predicted.device), bounds[:, k:].to(predicted.device)
    below, above = torch.relu(lower - predicted), torch.relu(predicted - upper)
    return (below.square() + above.square()).sum(dim=1).mean()


class SizeBounds(WeakKind):
    """Bounds on each class's share of the tile (see the module docstring)."""

    name = "size_bounds"
    title = "size bounds"
    label_keys = ("margin",)
    citation = "Kervadec et al. 2019 (constrained-CNN losses)"

    def columns(self, class_names, options: dict) -> list[str]:
        """``<class>_min`` for every class, then ``<class>_max``."""
        return [f"{c}_min" for c in class_names] + [f"{c}_max" for c in class_names]

    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`size_bounds` (no randomness)."""
        return size_bounds(masks, n_classes, float(options["margin"]))

    def refine(self, probabilities: np.ndarray, label: np.ndarray, options: dict) -> np.ndarray:
        """Priors rescaled until each share lies within its bounds (:func:`~weakseg.weak.refine.within_bounds`)."""
        from weakseg.weak.refine import within_bounds

        k = len(label) // 2
        return within_bounds(probabilities, np.asarray(label[:k]), np.asarray(label[k:]))

    def loss(self, logits, target, options: dict):
        """:func:`size_penalty` of :func:`~weakseg.weak.proportions.predicted_proportions` (every pixel)."""
        from weakseg.weak.proportions import predicted_proportions  # torch: training only

        return size_penalty(predicted_proportions(logits), target)


SIZE_BOUNDS = SizeBounds()
