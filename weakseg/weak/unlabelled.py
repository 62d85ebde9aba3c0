"""Unlabelled: no weak label at all; the semi-supervised competitor every weak label must beat.

The same pool of tiles, without any annotation, trained with confidence-thresholded pseudo-labels
(Lee, "Pseudo-Label", ICML-W 2013; the unlabelled loss of FixMatch, Sohn et al. 2020, with its
confidence threshold, 0.95 there): the model's own prediction on a weak tile becomes the
target of every pixel whose top softmax probability is at least ``confidence``, with a
cross-entropy averaged over all pixels (pixels under the threshold add 0). The tile is
augmented with the weak pipeline (dihedral flips and colour), and the pseudo-label comes from
the same view it trains: self-training by entropy minimisation (Lee 2013), which is what the
``joint`` method does with this kind. FixMatch proper, with its second, strongly augmented view,
is the ``consistency`` method (:mod:`weakseg.methods.consistency`): with this kind it adds no
loss of its own, and that run is the semi-supervised competitor. The signal only makes sense
next to a pixel loss, so this kind is trained in joint mode only (:attr:`needs_pixel_loss`).
"""

from __future__ import annotations

import numpy as np

from weakseg.weak.kind import WeakKind


class Unlabelled(WeakKind):
    """No label (see the module docstring)."""

    name = "unlabelled"
    title = "unlabelled (pseudo-labels)"
    needs_pixel_loss = True
    has_label = False
    citation = "Lee 2013 (Pseudo-Label); Sohn et al. 2020 (FixMatch's confidence threshold)"

    def columns(self, class_names, options: dict) -> list[str]:
        """No column: the tile has no label."""
        return []

    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """(N, 0): nothing is read from the masks beyond their count."""
        return np.zeros((len(masks), 0), dtype=np.float64)

    def loss(self, logits, target, options: dict):
        """Cross-entropy to the detached argmax where its probability >= ``options["confidence"]``, mean over pixels."""
        import torch
        import torch.nn.functional as F

        logits = logits.float()
        confidence, pseudo = torch.softmax(logits.detach(), dim=1).max(dim=1)
        per_pixel = F.cross_entropy(logits, pseudo, reduction="none")
        return (per_pixel * (confidence >= float(options["confidence"]))).mean()


UNLABELLED = Unlabelled()
