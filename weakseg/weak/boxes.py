"""Bounding boxes of objects, rendered as box-filled masks.

BoxSup (Dai et al., "BoxSup: exploiting bounding boxes to supervise convolutional networks for
semantic segmentation", ICCV 2015) and "Simple does it" (Khoreva et al., CVPR 2017) train on
boxes; the simplest of Khoreva et al.'s baselines, used here, fills each box with its class and
trains the pixel loss on it. A box is the tight bounding box of one connected object (8-
connectivity) of the object classes (``classes``; null: the dataset's ``object_classes``, for
ISPRS building and car) with at least ``min_area`` pixels. Pixels outside every box are ignore
(255): outside its boxes, a box label says nothing of the other classes. Larger boxes are
painted first, so a small box (a car) stays visible on a large one (a building). Training
applies the partial cross-entropy on the box pixels (:func:`~weakseg.weak.dense.partial_cross_entropy`).
"""

from __future__ import annotations

import numpy as np

from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak.dense import DenseKind, class_indices, regions


def object_boxes(mask: np.ndarray, classes, min_area: int) -> list[tuple[int, int, int, int, int]]:
    """``(class, row0, col0, row1, col1)`` (inclusive bounds) of each object of ``classes`` of >= ``min_area`` px."""
    boxes = []
    for k, region in regions(mask, classes):
        if region.sum() >= min_area:
            rows, cols = np.nonzero(region)
            boxes.append((k, int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())))
    return boxes


def box_mask(shape: tuple[int, int], boxes) -> np.ndarray:
    """(H, W) uint8: each box filled with its class (larger boxes first), 255 outside every box."""
    weak = np.full(shape, IGNORE_INDEX, dtype=np.uint8)
    for k, r0, c0, r1, c1 in sorted(boxes, key=lambda b: -(b[3] - b[1] + 1) * (b[4] - b[2] + 1)):
        weak[r0 : r1 + 1, c0 : c1 + 1] = k
    return weak


class Boxes(DenseKind):
    """Box-filled masks of object boxes (see the module docstring)."""

    name = "boxes"
    title = "bounding boxes"
    label_keys = ("classes", "min_area")
    citation = "Dai et al. 2015 (BoxSup); box-filled masks as in Khoreva et al. 2017"

    def resolve_options(self, options: dict, class_names, object_classes) -> dict:
        """``classes`` as class indices (null: the dataset's object classes).

        Raises:
            WeaksegError: an unknown class, or none given for a dataset without object classes.
        """
        names = options.get("classes") or object_classes
        if not names:
            raise WeaksegError(
                "weak_labels.boxes.classes: this dataset names no object classes; list the classes to box"
            )
        return {**options, "classes": class_indices(names, class_names, "weak_labels.boxes.classes")}

    def label_mask(self, mask: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`object_boxes` and :func:`box_mask`."""
        return box_mask(mask.shape, object_boxes(mask, options["classes"], int(options["min_area"])))


BOXES = Boxes()
