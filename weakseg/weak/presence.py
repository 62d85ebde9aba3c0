"""Presence tags: image-level labels, one per class: is the class in the tile?

A class is *present* when its share of the tile's labelled pixels is at least ``threshold``
(a fraction; a few stray pixels are not what an annotator tags). Training pools each class's
logits over the tile with log-sum-exp pooling, ``(1/r) log(mean_hw exp(r x))`` (Pinheiro &
Collobert, CVPR 2015: between mean pooling, r -> 0, and max pooling, r -> inf), and applies a
multi-label binary cross-entropy to the pooled logits, as in image-level weakly supervised
segmentation (a Vaihingen study with presence labels reports OA 79.6% strong-only, 80.5% with
weak tags added, 85.8% with full labels).
"""

from __future__ import annotations

import math

import numpy as np

from weakseg.weak.kind import WeakKind
from weakseg.weak.shares import label_proportions


def presence_tags(masks: np.ndarray, n_classes: int, threshold: float) -> np.ndarray:
    """(N, K) float64 of 0/1: class k is present in mask n (its share of labelled pixels >= ``threshold``).

    A mask without labelled pixels has no tag.
    """
    proportions = label_proportions(masks, n_classes)
    return ((proportions >= threshold) & (proportions > 0)).astype(np.float64)


def lse_pool(logits, r: float):
    """Log-sum-exp pooling of (B, K, H, W) logits over the pixels: (B, K) float32, ``(1/r) log mean exp(r x)``."""
    import torch

    flat = logits.float().flatten(2)
    return (torch.logsumexp(r * flat, dim=2) - math.log(flat.shape[2])) / r


class Presence(WeakKind):
    """Image-level presence tags (see the module docstring)."""

    name = "presence"
    title = "presence tags"
    label_keys = ("threshold",)
    citation = "Pinheiro & Collobert 2015 (log-sum-exp pooling); multi-label binary cross-entropy"

    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`presence_tags` (no randomness)."""
        return presence_tags(masks, n_classes, float(options["threshold"]))

    def refine(self, probabilities: np.ndarray, label: np.ndarray, options: dict) -> np.ndarray:
        """Classes the tags say are absent suppressed (:func:`~weakseg.weak.refine.suppress`)."""
        from weakseg.weak.refine import suppress

        return suppress(probabilities, np.asarray(label) > 0)

    def loss(self, logits, target, options: dict):
        """Binary cross-entropy between :func:`lse_pool` (``options["r"]``) of the logits and the tags."""
        import torch.nn.functional as F

        pooled = lse_pool(logits, float(options["r"]))
        return F.binary_cross_entropy_with_logits(pooled, target.to(pooled.device).float())


PRESENCE = Presence()
