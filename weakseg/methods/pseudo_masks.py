"""Pseudo-masks: a teacher's predictions on the weak tiles, refined by their weak labels, train a student.

Two stages (Ahn & Kwak, CVPR 2018; Lee et al., "Railroad is not a train", CVPR 2022 for the
refine-then-retrain pattern; in remote sensing e.g. OME, TGRS 2023):

1. Rule ``pseudo_masks``: the teacher, the kind's ``joint`` run of the same strong fraction,
   seed and grid point, predicts every weak tile (softmax, (K, H, W)). The tile's weak label
   refines the prediction (:meth:`weakseg.weak.kind.WeakKind.refine`: presence tags suppress the
   classes they say are absent; label proportions and size bounds rescale the class priors until
   the tile's shares match the label or fall inside its bounds); the pseudo-mask is the argmax,
   ignore (255) where the refined confidence is below ``confidence``, and every pixel the weak
   label names (a point, a scribble, a box, a coarse cell) takes the label's class.
2. The student (variant ``pseudo_masks``) trains from scratch like ``joint``: each step the
   pixel loss on a strong batch plus ``joint_weight`` x the cross-entropy on a weak batch's
   pseudo-masks (their labelled pixels), augmented with their tiles.

Neither stage opens a weak tile's true mask; the ``pseudo_mask_audit`` stage scores the
pseudo-masks against them after training, for the report only.
"""

from __future__ import annotations

import numpy as np

from weakseg.io.labels import IGNORE_INDEX
from weakseg.methods.method import Method, Variant, matched_control


def pseudo_mask(probabilities: np.ndarray, confidence: float, labelled: np.ndarray | None = None) -> np.ndarray:
    """The (H, W) uint8 pseudo-mask of refined (K, H, W) class probabilities.

    Args:
        probabilities: (K, H, W) float, summing to 1 over K (after the kind's refinement).
        confidence: pixels whose top probability is below it are ignore (255).
        labelled: (H, W) uint8 sparse mask of the weak label (255 where it says nothing), or
            None; its labelled pixels override the prediction.

    Returns:
        (H, W) uint8 class indices, 255 = ignore.
    """
    mask = np.argmax(probabilities, axis=0).astype(np.uint8)
    mask[probabilities.max(axis=0) < confidence] = IGNORE_INDEX
    if labelled is not None:
        said = labelled != IGNORE_INDEX
        mask[said] = labelled[said]
    return mask


class PseudoMasks(Method):
    """Teacher, refined pseudo-masks, student (see the module docstring)."""

    name = "pseudo_masks"
    title = "refined pseudo-masks"
    verb = "pseudo-masks refined by"
    arm = "pseudo_masks"
    citation = "Ahn & Kwak 2018 (refined pseudo-masks retrain a segmenter); OME (TGRS 2023) in remote sensing"
    has_options = True
    compute_control = "matched_pseudo_masks"
    variants = (
        matched_control("pseudo_masks", "pseudo_masks"),
        Variant(
            "pseudo_masks",
            ("strong",),
            ("weak",),
            "training",
            None,
            True,
            "student: pixel loss on a strong batch + joint_weight x cross-entropy on refined pseudo-masks of a "
            "weak batch (teacher: joint[kind])",
            method="pseudo_masks",
            teacher="joint",
        ),
    )

    def weak_loss(self, kind, options: dict):
        """The cross-entropy on the pseudo-masks' labelled pixels, whatever the kind's own loss."""
        from weakseg.weak.partial import partial_cross_entropy

        return partial_cross_entropy


PSEUDO_MASKS = PseudoMasks()
