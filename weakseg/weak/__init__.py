"""Layer 2: the kinds of weak label, a registry. A kind's ``label`` (``label_mask``) alone reads a weak tile's mask.

Adding a kind: one module defining a :class:`weakseg.weak.kind.WeakKind`, one entry in
:data:`WEAK_KINDS` (the schema's ``experiment.weak_kinds`` enum is tested against it) and tests.
Imports the layers below.
"""

from __future__ import annotations

from weakseg.io.registry import lookup
from weakseg.weak.kind import WeakKind

#: A value of ``experiment.weak_kinds`` -> ``module:attribute`` of the kind (imported when first asked for).
WEAK_KINDS: dict[str, str] = {
    "proportions": "weakseg.weak.proportions:PROPORTIONS",
    "noisy_proportions": "weakseg.weak.noisy_proportions:NOISY_PROPORTIONS",
    "presence": "weakseg.weak.presence:PRESENCE",
    "size_bounds": "weakseg.weak.size_bounds:SIZE_BOUNDS",
    "points": "weakseg.weak.points:POINTS",
    "unlabelled": "weakseg.weak.unlabelled:UNLABELLED",
    "scribbles": "weakseg.weak.scribbles:SCRIBBLES",
    "boxes": "weakseg.weak.boxes:BOXES",
    "coarse": "weakseg.weak.coarse:COARSE",
    "noisy_masks": "weakseg.weak.noisy_masks:NOISY_MASKS",
    "all_pixels": "weakseg.weak.all_pixels:ALL_PIXELS",
}


def get_weak_kind(name: str) -> WeakKind:
    """The weak-label kind registered as ``name``.

    Raises:
        WeaksegError: unknown name, naming ``experiment.weak_kinds`` and the known kinds.
    """
    return lookup(WEAK_KINDS, name, key="experiment.weak_kinds", what="kind")


__all__ = ["WEAK_KINDS", "WeakKind", "get_weak_kind"]
