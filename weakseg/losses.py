"""Losses: pixel-wise segmentation losses and the proportion loss on label proportions."""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch import nn

from weakseg.errors import WeaksegError
from weakseg.labels import IGNORE_INDEX
from weakseg.task import check_loss

PROPORTION_LOSSES = ("cross_entropy", "kl", "l1")
SEGMENTATION_LOSSES = ("cross_entropy", "dice", "cross_entropy+dice", "bce", "bce+dice")


def predicted_fractions(logits: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Class fractions a model predicts for each tile: the softmax averaged over its pixels.

    In proportion (weak) mode ``valid`` is None: every pixel of the tile counts, so the
    model learns nothing from which pixels of a weak tile have pixel labels (with eroded
    ground truth the unlabelled pixels are exactly the class borders). A dataset whose
    images have pixels without data may pass them as False.

    Args:
        logits: (B, K, H, W) float.
        valid: (B, H, W) bool, True where the pixel counts; None: all pixels.

    Returns:
        (B, K) float32; each row sums to 1 (a tile without valid pixels gives zeros).
    """
    probabilities = torch.softmax(logits.float(), dim=1)
    if valid is None:
        return probabilities.mean(dim=(2, 3))
    weights = valid.unsqueeze(1).float()
    total = weights.sum(dim=(2, 3)).clamp_min(1.0)
    return (probabilities * weights).sum(dim=(2, 3)) / total


def proportion_loss(
    predicted: torch.Tensor, target: torch.Tensor, kind: str = "cross_entropy", eps: float = 1e-7
) -> torch.Tensor:
    """Distance between predicted and true label proportions, averaged over the batch.

    With ``p`` the predicted and ``t`` the true fractions of one tile, (B, K) each:

    * ``cross_entropy``: ``-sum_k t_k log p_k``, the "proportion loss" of learning from label
      proportions (Ardehaly & Culotta, 2017; Tsai & Lin, 2020);
    * ``kl``: ``sum_k t_k (log t_k - log p_k)`` (the same gradient, zero at ``p = t``);
    * ``l1``: ``sum_k |p_k - t_k|``.

    ``p`` is clamped to ``[eps, 1]`` before the logarithm.

    Raises:
        WeaksegError: unknown ``kind``.
    """
    if kind == "cross_entropy":
        per_tile = -(target * predicted.clamp(eps, 1.0).log()).sum(dim=1)
    elif kind == "kl":
        per_tile = (torch.xlogy(target, target) - target * predicted.clamp(eps, 1.0).log()).sum(dim=1)
    elif kind == "l1":
        per_tile = (predicted - target).abs().sum(dim=1)
    else:
        raise WeaksegError(f"pretraining.loss: {kind!r} is not one of {', '.join(PROPORTION_LOSSES)}")
    return per_tile.mean()


class SegmentationLoss(nn.Module):
    """Pixel-wise loss on (B, K, H, W) logits and (B, H, W) int64 masks, ignore index 255.

    Multiclass: ``cross_entropy`` is PyTorch's; ``dice`` is smp's multiclass Dice loss; the
    two can be summed. Binary (``binary=True``, logits ``(0, z)`` of
    :class:`weakseg.models.Segmenter`): ``bce`` (or ``cross_entropy``, the same loss on
    two classes) is ``BCEWithLogitsLoss`` on z over the labelled pixels, ``dice`` smp's
    binary Dice loss on z.

    Raises:
        WeaksegError: an unknown kind, or ``bce`` for a multiclass task.
    """

    def __init__(self, kind: str = "cross_entropy", binary: bool = False):
        super().__init__()
        if kind not in SEGMENTATION_LOSSES:
            raise WeaksegError(f"training.loss: {kind!r} is not one of {', '.join(SEGMENTATION_LOSSES)}")
        check_loss(kind, "binary" if binary else "multiclass")
        self.binary = binary
        self.terms = nn.ModuleList()
        if "cross_entropy" in kind or "bce" in kind:
            self.terms.append(_MaskedBCE() if binary else nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX))
        if "dice" in kind:
            mode = "binary" if binary else "multiclass"
            self.terms.append(smp.losses.DiceLoss(mode=mode, ignore_index=IGNORE_INDEX))

    def forward(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Sum of the terms on (B, K, H, W) logits and (B, H, W) int64 masks (255 = ignore)."""
        logits = logits.float()[:, 1:] if self.binary else logits.float()
        return sum(term(logits, masks) for term in self.terms)


class _MaskedBCE(nn.Module):
    """``BCEWithLogitsLoss`` on (B, 1, H, W) logits against masks == 1, over pixels != 255."""

    def __init__(self):
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss()

    def forward(self, z: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        valid = masks != IGNORE_INDEX
        return self.bce(z[:, 0][valid], (masks[valid] == 1).float())


def joint_loss(
    pixel_logits: torch.Tensor,
    masks: torch.Tensor,
    proportion_logits: torch.Tensor,
    fractions: torch.Tensor,
    pixel_loss: nn.Module,
    proportion_kind: str,
    weight: float,
) -> torch.Tensor:
    """The ``joint`` variant's loss: pixel loss on a strong batch + ``weight`` x proportion loss on a weak batch.

    Args:
        pixel_logits: (B, K, H, W) logits of the strong batch; masks: (B, H, W) int64 (255 ignored).
        proportion_logits: (B', K, H, W) logits of the weak batch; fractions: (B', K) weak labels.
        pixel_loss: e.g. :class:`SegmentationLoss`.
        proportion_kind: see :func:`proportion_loss`.
        weight: ``experiment.joint_weight`` (>= 0).

    Returns:
        A scalar tensor.
    """
    weak = proportion_loss(predicted_fractions(proportion_logits), fractions, proportion_kind)
    return pixel_loss(pixel_logits, masks) + weight * weak
