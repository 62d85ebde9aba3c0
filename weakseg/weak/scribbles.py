"""Scribbles: a thin stroke through each region, labelled with the region's class.

ScribbleSup (Lin et al., "ScribbleSup: scribble-supervised convolutional networks for semantic
segmentation", CVPR 2016) trains on a scribble per object and stuff region; on Vaihingen,
FESTA (Hua et al., "Semantic segmentation of remote sensing images with sparse annotations",
IEEE GRSL 2021) uses sparse scribbles and points. Here a person's stroke is simulated: each
connected region of each class (8-connectivity) is scribbled with probability ``share``; its
stroke is the region's skeleton (scikit-image's ``skeletonize``, Zhang & Suen 1984) widened to
``width`` pixels (a binary dilation with a disk) and cut back to the region, so it never leaves
it. Training applies the partial cross-entropy on stroke pixels
(:func:`~weakseg.weak.dense.partial_cross_entropy`).
"""

from __future__ import annotations

import numpy as np

from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak.dense import DenseKind, regions


def scribble_mask(mask: np.ndarray, n_classes: int, share: float, width: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8: strokes of the scribbled regions of an (H, W) uint8 mask, 255 elsewhere.

    Args:
        share: probability that a region is scribbled (one uniform draw per region, in
            :func:`~weakseg.weak.dense.regions` order).
        width: stroke width in pixels (1: the bare skeleton).
    """
    from skimage.morphology import dilation, disk, skeletonize

    weak = np.full(mask.shape, IGNORE_INDEX, dtype=np.uint8)
    footprint = disk((width - 1) // 2) if width > 1 else None
    for k, region in regions(mask, range(n_classes)):
        if rng.random() >= share:
            continue
        stroke = skeletonize(region)
        if footprint is not None:
            stroke = dilation(stroke, footprint)
        weak[stroke & region] = k
    return weak


class Scribbles(DenseKind):
    """A skeleton stroke per region (see the module docstring)."""

    name = "scribbles"
    title = "scribbles"
    label_keys = ("share", "width")
    draws = True
    citation = "Lin et al. 2016 (ScribbleSup); strokes simulated as region skeletons"

    def label_mask(self, mask: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`scribble_mask`."""
        return scribble_mask(mask, n_classes, float(options["share"]), int(options["width"]), rng)


SCRIBBLES = Scribbles()
