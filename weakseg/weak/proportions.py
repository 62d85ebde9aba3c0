"""Label proportions: per tile, the share of its labelled pixels in each class.

"Learning from label proportions" (Quadrianto et al., 2009): the only supervision of a weak tile
is its bag's class shares. The model's prediction is pooled as the softmax averaged over every
pixel of the tile (see :func:`predicted_proportions` for why every pixel).
"""

from __future__ import annotations

import numpy as np

from weakseg.io.errors import WeaksegError
from weakseg.weak.kind import WeakKind

PROPORTION_LOSSES = ("cross_entropy", "kl", "l1")


def label_proportions(masks: np.ndarray, n_classes: int, chunk: int = 256) -> np.ndarray:
    """Label proportions of each mask.

    Args:
        masks: (N, H, W) uint8 class indices, 255 (ignore) excluded from the count.
        n_classes: K.
        chunk: masks processed at a time, to bound memory on memory-mapped input.

    Returns:
        (N, K) float64 proportions; each row sums to 1 (a mask with no labelled pixel gives a
        row of zeros).
    """
    proportions = np.zeros((len(masks), n_classes), dtype=np.float64)
    for start in range(0, len(masks), chunk):
        block = np.asarray(masks[start : start + chunk])
        block = block.reshape(len(block), -1)
        # One bincount over (mask, class) pairs; ignore and out-of-range values land in bin K.
        values = np.where(block < n_classes, block, n_classes).astype(np.int64)
        offsets = (np.arange(len(block)) * (n_classes + 1))[:, None]
        counts = np.bincount((values + offsets).ravel(), minlength=len(block) * (n_classes + 1))
        counts = counts.reshape(len(block), n_classes + 1)[:, :n_classes].astype(np.float64)
        totals = counts.sum(axis=1, keepdims=True)
        proportions[start : start + len(block)] = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return proportions


def predicted_proportions(logits, valid=None):
    """Label proportions a model predicts for each tile: the softmax averaged over its pixels.

    In weak mode ``valid`` is None: every pixel of the tile counts, so the model learns nothing
    from which pixels of a weak tile have pixel labels (with eroded ground truth the unlabelled
    pixels are exactly the class borders). A dataset whose images have pixels without data may
    pass them as False.

    Args:
        logits: (B, K, H, W) float tensor.
        valid: (B, H, W) bool tensor, True where the pixel counts; None: all pixels.

    Returns:
        (B, K) float32 tensor; each row sums to 1 (a tile without valid pixels gives zeros).
    """
    import torch

    probabilities = torch.softmax(logits.float(), dim=1)
    if valid is None:
        return probabilities.mean(dim=(2, 3))
    weights = valid.unsqueeze(1).float()
    total = weights.sum(dim=(2, 3)).clamp_min(1.0)
    return (probabilities * weights).sum(dim=(2, 3)) / total


def proportion_loss(predicted, target, kind: str = "cross_entropy", eps: float = 1e-7):
    """Distance between predicted and true label proportions, averaged over the batch.

    With ``p`` the predicted and ``t`` the true proportions of one tile, (B, K) tensors each:

    * ``cross_entropy``: ``-sum_k t_k log p_k``, the "proportion loss" of learning from label
      proportions (Ardehaly & Culotta, 2017; Tsai & Lin, 2020);
    * ``kl``: ``sum_k t_k (log t_k - log p_k)`` (the same gradient, zero at ``p = t``);
    * ``l1``: ``sum_k |p_k - t_k|``.

    ``p`` is clamped to ``[eps, 1]`` before the logarithm.

    Raises:
        WeaksegError: unknown ``kind``.
    """
    import torch

    if kind == "cross_entropy":
        per_tile = -(target * predicted.clamp(eps, 1.0).log()).sum(dim=1)
    elif kind == "kl":
        per_tile = (torch.xlogy(target, target) - target * predicted.clamp(eps, 1.0).log()).sum(dim=1)
    elif kind == "l1":
        per_tile = (predicted - target).abs().sum(dim=1)
    else:
        raise WeaksegError(f"pretraining.loss: {kind!r} is not one of {', '.join(PROPORTION_LOSSES)}")
    return per_tile.mean()


class LabelProportions(WeakKind):
    """Exact label proportions of each tile (the first kind; see the module docstring)."""

    name = "proportions"
    title = "label proportions"
    losses = PROPORTION_LOSSES
    error_name = "proportion MAE"

    def label(self, masks: np.ndarray, n_classes: int) -> np.ndarray:
        """See :func:`label_proportions`."""
        return label_proportions(masks, n_classes)

    def pool(self, logits):
        """See :func:`predicted_proportions` (every pixel of the tile)."""
        return predicted_proportions(logits)

    def loss(self, pooled, target, loss_name: str):
        """See :func:`proportion_loss`."""
        return proportion_loss(pooled, target, loss_name)

    def error(self, pooled, target):
        """|predicted - true| proportion per tile and class."""
        return (pooled - target).abs()


PROPORTIONS = LabelProportions()
