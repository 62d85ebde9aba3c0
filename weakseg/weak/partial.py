"""The partial cross-entropy: the loss of labels that name some pixels (scribbles, boxes, weak and pseudo-masks).

Its own module (torch imported inside) so that code needing only the loss, such as the
pseudo-mask student, does not import the dense kinds' morphology (scikit-image).
"""

from __future__ import annotations

from weakseg.io.labels import IGNORE_INDEX


def partial_cross_entropy(logits, target):
    """Cross-entropy over the labelled pixels of (B, H, W) int64 ``target`` (255 elsewhere); 0 when none is labelled.

    The partial cross-entropy of scribble and point supervision (Tang et al., "Normalized cut
    loss for weakly-supervised CNN segmentation", CVPR 2018, eq. 1).

    Args:
        logits: (B, K, H, W) float tensor.
        target: (B, H, W) int64 tensor, 255 = ignore.
    """
    import torch.nn.functional as F

    target = target.to(logits.device)
    if not (target != IGNORE_INDEX).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), target, ignore_index=IGNORE_INDEX)
