"""Dense kinds of weak label: a weak mask per tile (scribbles, boxes, coarse masks, noisy map masks).

A dense kind's label is a whole (H, W) uint8 mask, 255 where it says nothing: too large for a
row of ``weak_labels.csv``. The ``weak_masks`` stage writes every tile's weak mask, row by row,
to ``weak_masks.npy`` (rows in the order of ``tiles.csv``, so memory stays one tile); the
``weak_labels`` stage then summarises each weak mask in ``weak_labels.csv`` as its class shares
(:func:`~weakseg.weak.shares.label_proportions` of the weak mask: the labelled pixels of each
class, for the report). Training reads the weak mask, augmented with its image as a spatial
kind's label is (it moves with every flip and rotation), and by default applies the
cross-entropy on its labelled pixels (:func:`partial_cross_entropy`).
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from weakseg.io.errors import WeaksegError
from weakseg.weak.kind import WeakKind
from weakseg.weak.partial import partial_cross_entropy


def class_indices(names, class_names, key: str) -> list[int]:
    """Indices of ``names`` in ``class_names``.

    Raises:
        WeaksegError: a name that is not a class, naming the config ``key`` and the classes.
    """
    unknown = [n for n in names if n not in class_names]
    if unknown:
        raise WeaksegError(f"{key}: {unknown} are not classes of this dataset ({', '.join(class_names)})")
    return [list(class_names).index(n) for n in names]


def regions(mask: np.ndarray, classes) -> list[tuple[int, np.ndarray]]:
    """The connected regions of ``classes`` in an (H, W) mask, as ``(class, (H, W) bool)`` pairs.

    8-connectivity (scikit-image's ``measure.label``, ``connectivity=2``), class by class in
    index order, regions in scikit-image's label order (raster order of their first pixel).
    """
    from skimage.measure import label

    found = []
    for k in classes:
        labelled, count = label(mask == k, connectivity=2, return_num=True)
        found += [(int(k), labelled == r) for r in range(1, count + 1)]
    return found


class DenseKind(WeakKind):
    """A kind whose label is a weak mask (see the module docstring).

    Subclasses implement :meth:`label_mask`; :meth:`resolve_options` turns class names of
    their options into indices with the dataset's classes.
    """

    spatial = True
    dense = True

    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """(N, K) float64 class shares of the weak masks of ``masks`` (for tests; the stages stream tile by tile)."""
        from weakseg.weak.shares import label_proportions

        weak = np.stack([self.label_mask(np.asarray(m), n_classes, options, rng) for m in masks])
        return label_proportions(weak, n_classes)

    @abstractmethod
    def label_mask(self, mask: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """The weak mask of one tile.

        Args:
            mask: (H, W) uint8 true class indices, 255 = ignore.
            n_classes: K.
            options: the kind's options after :meth:`resolve_options`.
            rng: the stage's seeded generator, drawn from tile by tile in row order.

        Returns:
            (H, W) uint8 weak mask: a class index where the weak label says one, 255 elsewhere.
        """

    def loss(self, logits, target, options: dict):
        """:func:`partial_cross_entropy` on the augmented (B, H, W) weak masks."""
        return partial_cross_entropy(logits, target)
