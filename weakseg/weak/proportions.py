"""Label proportions: per tile, the share of its labelled pixels in each class.

"Learning from label proportions" (Quadrianto et al., 2009): the only supervision of a weak tile
(a *bag* of pixels) is its class shares. The model's prediction is pooled as the softmax
averaged over **every** pixel of the tile, not over the labelled ones only.

Why every pixel: where a weak tile's labelled pixels are is class information. With eroded
ISPRS ground truth the unlabelled pixels are exactly the class borders, a map of every object's
outline; handing that mask to training would leak it. So the weak labels are computed from
complete labels (``dataset.labels: complete``, the default and the documented ISPRS practice:
weak labels and training from the complete ground truth, scoring on the eroded one), where
almost every pixel is labelled and the shares over labelled pixels are the shares of the tile.
The config check warns when weak runs are planned on eroded labels: there the shares over
labelled pixels under-state classes with long borders (cars by roughly 8-24%, relative).
"""

from __future__ import annotations

import numpy as np

from weakseg.io.errors import WeaksegError
from weakseg.weak.kind import WeakKind
from weakseg.weak.shares import PROPORTION_LOSSES, label_proportions

__all__ = ["PROPORTIONS", "PROPORTION_LOSSES", "label_proportions", "predicted_proportions", "proportion_loss"]


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
        raise WeaksegError(f"weak_labels.<kind>.loss: {kind!r} is not one of {', '.join(PROPORTION_LOSSES)}")
    return per_tile.mean()


class LabelProportions(WeakKind):
    """Exact label proportions of each tile (see the module docstring)."""

    name = "proportions"
    title = "label proportions"
    losses = PROPORTION_LOSSES
    citation = "Quadrianto et al. 2009 (learning from label proportions); Ardehaly & Culotta 2017 (proportion loss)"

    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`label_proportions` (no randomness)."""
        return label_proportions(masks, n_classes)

    def refine(self, probabilities: np.ndarray, label: np.ndarray, options: dict) -> np.ndarray:
        """Priors rescaled until the mean probabilities equal the label (:func:`~weakseg.weak.refine.match_shares`)."""
        from weakseg.weak.refine import match_shares

        return match_shares(probabilities, label)

    def loss(self, logits, target, options: dict):
        """:func:`proportion_loss` ``options["loss"]`` of :func:`predicted_proportions` (every pixel) and ``target``."""
        return proportion_loss(predicted_proportions(logits), target, options["loss"])


PROPORTIONS = LabelProportions()
