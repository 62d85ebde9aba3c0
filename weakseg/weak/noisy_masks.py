"""Noisy map-derived masks: the true mask with its objects shifted, eroded or dilated, and some missing.

The most common free label in remote sensing is a map (OpenStreetMap footprints, cadastre),
registered imperfectly to the image and out of date: Mnih & Hinton ("Learning to label aerial
images from noisy data", ICML 2012) model it as omission and registration noise. This module's
noise model, per connected object (8-connectivity) of the object classes (``classes``; null:
the dataset's ``object_classes``):

1. with probability ``drop`` the object is missing from the map;
2. otherwise it is translated by (dy, dx), each uniform on the integers -``shift``..``shift``
   (pixels), then dilated (r > 0) or eroded (r < 0) with a disk of radius |r|, r uniform on
   -``morph``..``morph``.

Every object pixel of the true mask first becomes the ``background`` class (null: the
dataset's first class, e.g. ISPRS impervious surfaces), then the kept objects are painted, in
:func:`~weakseg.weak.dense.regions` order; pixels that are ignore in the true mask stay ignore.
Four draws per object (drop, dy, dx, r), always all four, in that order
(:func:`object_noise`). Training applies the cross-entropy on the noisy mask.
"""

from __future__ import annotations

import numpy as np

from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak.dense import DenseKind, class_indices, regions


def object_noise(rng: np.random.Generator, n: int, shift: int, morph: int, drop: float) -> np.ndarray:
    """(n, 4) int64 draws per object: dropped (0/1), dy, dx (pixels) and the disk radius r (pixels, < 0 erodes)."""
    draws = np.empty((n, 4), dtype=np.int64)
    for i in range(n):
        draws[i] = (
            rng.random() < drop,
            rng.integers(-shift, shift + 1),
            rng.integers(-shift, shift + 1),
            rng.integers(-morph, morph + 1),
        )
    return draws


def moved(region: np.ndarray, dy: int, dx: int, r: int) -> np.ndarray:
    """(H, W) bool: ``region`` moved by (dy, dx) px (what leaves the tile is lost), then dilated (r > 0) or eroded."""
    from skimage.morphology import dilation, disk, erosion

    h, w = region.shape
    out = np.zeros_like(region)
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = region[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    if r > 0:
        return dilation(out, disk(r))
    return erosion(out, disk(-r)) if r < 0 else out


def noisy_mask(mask: np.ndarray, options: dict, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8: the noise model of the module docstring applied to an (H, W) uint8 mask.

    ``options``: ``classes`` (indices), ``background`` (an index), ``shift``, ``morph`` (pixels), ``drop``.
    """
    classes = options["classes"]
    objects = regions(mask, classes)
    draws = object_noise(rng, len(objects), int(options["shift"]), int(options["morph"]), float(options["drop"]))
    weak = mask.copy()
    weak[np.isin(mask, classes)] = options["background"]
    for (k, region), (dropped, dy, dx, r) in zip(objects, draws, strict=True):
        if not dropped:
            weak[moved(region, int(dy), int(dx), int(r))] = k
    weak[mask == IGNORE_INDEX] = IGNORE_INDEX
    return weak


class NoisyMasks(DenseKind):
    """Map-derived masks with registration and omission noise (see the module docstring)."""

    name = "noisy_masks"
    title = "noisy map masks"
    label_keys = ("classes", "background", "shift", "morph", "drop")
    draws = True
    citation = "Mnih & Hinton 2012 (noisy aerial labels); this project's documented per-object noise model"

    def resolve_options(self, options: dict, class_names, object_classes) -> dict:
        """``classes`` and ``background`` as class indices (null: the object classes and the first class).

        Raises:
            WeaksegError: an unknown class name, or no object class to perturb.
        """
        from weakseg.io.errors import WeaksegError

        names = options.get("classes") or object_classes
        if not names:
            raise WeaksegError("weak_labels.noisy_masks.classes: this dataset names no object classes; list them")
        background = options.get("background") or class_names[0]
        return {
            **options,
            "classes": class_indices(names, class_names, "weak_labels.noisy_masks.classes"),
            "background": class_indices([background], class_names, "weak_labels.noisy_masks.background")[0],
        }

    def label_mask(self, mask: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`noisy_mask`."""
        return noisy_mask(mask, options, rng)


NOISY_MASKS = NoisyMasks()
