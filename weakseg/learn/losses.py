"""Losses: pixel-wise segmentation losses, and the joint variant's sum of a pixel and a weak loss.

The weak losses belong to their weak-label kind (:mod:`weakseg.weak`).
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch import nn

from weakseg.design.task import check_loss
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX

SEGMENTATION_LOSSES = ("cross_entropy", "dice", "cross_entropy+dice", "bce", "bce+dice")


class SegmentationLoss(nn.Module):
    """Pixel-wise loss on (B, K, H, W) logits and (B, H, W) int64 masks, ignore index 255.

    Multiclass: ``cross_entropy`` is PyTorch's; ``dice`` is smp's multiclass Dice loss; the
    two can be summed. Binary (``binary=True``, logits ``(0, z)`` of
    :class:`weakseg.learn.models.Segmenter`): ``bce`` (or ``cross_entropy``, the same loss on
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
    weak_logits: torch.Tensor,
    weak_labels: torch.Tensor,
    pixel_loss: nn.Module,
    weak_loss,
    weight: float,
) -> torch.Tensor:
    """The ``joint`` variant's loss: pixel loss on a strong batch + ``weight`` x weak loss on a weak batch.

    Args:
        pixel_logits: (B, K, H, W) logits of the strong batch; masks: (B, H, W) int64 (255 ignored).
        weak_logits: (B', K, H, W) logits of the weak batch; weak_labels: (B', D) their weak labels.
        pixel_loss: e.g. :class:`SegmentationLoss`.
        weak_loss: ``weak_loss(weak_logits, weak_labels)`` -> scalar, the kind's pooled loss.
        weight: ``experiment.joint_weight`` (>= 0).

    Returns:
        A scalar tensor.
    """
    return pixel_loss(pixel_logits, masks) + weight * weak_loss(weak_logits, weak_labels)
