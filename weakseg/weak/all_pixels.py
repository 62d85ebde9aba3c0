"""Every pixel: the positive control, a weak label that is the full mask of the weak tile.

Points at every labelled pixel are exactly the pixel labels of ``full``, so a method given this
kind has all the information of the upper bound on the weak tiles and must close nearly all of
the gap between ``strong_only`` and ``full``. If it cannot, the method (or its plumbing) is
broken, whatever it does with a real weak label. Stored and trained as a dense kind (its weak
mask is the mask; partial cross-entropy on every labelled pixel is the full cross-entropy).
"""

from __future__ import annotations

import numpy as np

from weakseg.weak.dense import DenseKind


class AllPixels(DenseKind):
    """The positive control (see the module docstring)."""

    name = "all_pixels"
    positive_control = True
    title = "every pixel (positive control)"
    citation = "positive control: points (Bearman et al. 2016) at every labelled pixel = the full mask"

    def label_mask(self, mask: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """The (H, W) uint8 mask itself (a copy)."""
        return np.array(mask, dtype=np.uint8, copy=True)


ALL_PIXELS = AllPixels()
