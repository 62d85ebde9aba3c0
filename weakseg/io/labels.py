"""Label encodings: colour-coded label images to class-index maps, and back for display."""

from __future__ import annotations

import logging

import numpy as np

from weakseg.io.errors import WeaksegError

log = logging.getLogger(__name__)

#: Index written for pixels without a label (the ``ignore_index`` of PyTorch's cross-entropy).
IGNORE_INDEX = 255


def _color_keys(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _key_to_rgb(key: int) -> tuple[int, int, int]:
    return (key >> 16) & 255, (key >> 8) & 255, key & 255


def colors_to_index(
    label_rgb: np.ndarray,
    palette: np.ndarray,
    ignore_colors: np.ndarray,
    source: str,
    snap_max_distance: float | None = None,
) -> tuple[np.ndarray, int]:
    """Map a colour-coded label image to class indices.

    Args:
        label_rgb: (H, W, 3) uint8 RGB label image.
        palette: (K, 3) uint8, the colour of class ``k`` in row ``k``.
        ignore_colors: (M, 3) uint8 colours meaning "no label" (e.g. black in the ISPRS
            eroded ground truth); they map to :data:`IGNORE_INDEX`. May be empty.
        source: the file the label came from, named in error messages.
        snap_max_distance: ``None`` to refuse colours outside palette and ignore colours;
            otherwise such a colour takes the class (or ignore) of the nearest listed colour
            if its Euclidean RGB distance (0-255 units) is at most this value.

    Returns:
        ``(index, n_snapped)``: (H, W) uint8 class indices with :data:`IGNORE_INDEX` for
        unlabelled pixels, and the number of pixels whose colour was snapped.

    Raises:
        WeaksegError: the image is not (H, W, 3), or it holds colours that are neither listed
            nor (when snapping) close enough to one; the message names the file, the first
            colours and their pixel counts.
    """
    if label_rgb.ndim != 3 or label_rgb.shape[2] < 3:
        raise WeaksegError(f"{source}: expected an RGB label image (H, W, 3), got shape {label_rgb.shape}")
    known = np.concatenate([palette, ignore_colors.reshape(-1, 3)]).astype(np.int64)
    known_targets = np.concatenate(
        [np.arange(len(palette)), np.full(len(ignore_colors.reshape(-1, 3)), IGNORE_INDEX)]
    ).astype(np.uint8)
    known_keys = _color_keys(known)
    pixel_keys = _color_keys(label_rgb[..., :3])
    # The common case, every colour listed: a binary search among the few listed colours, not a
    # sort of every pixel (np.unique below, which also counts the unknown colours for the message).
    order = np.argsort(known_keys, kind="stable")
    sorted_keys = known_keys[order]
    position = np.clip(np.searchsorted(sorted_keys, pixel_keys), 0, len(order) - 1)
    if np.array_equal(sorted_keys[position], pixel_keys):
        return known_targets[order][position], 0
    keys, inverse, counts = np.unique(pixel_keys, return_inverse=True, return_counts=True)
    lookup = np.empty(len(keys), dtype=np.uint8)
    unknown = []
    n_snapped = 0
    for i, key in enumerate(keys):
        match = np.flatnonzero(known_keys == key)
        if match.size:
            lookup[i] = known_targets[match[0]]
            continue
        if snap_max_distance is not None:
            distances = np.linalg.norm(known - np.array(_key_to_rgb(int(key))), axis=1)
            nearest = int(np.argmin(distances))
            if distances[nearest] <= snap_max_distance:
                lookup[i] = known_targets[nearest]
                n_snapped += int(counts[i])
                continue
        unknown.append((int(counts[i]), int(key)))
    if unknown:
        _refuse_unknown(unknown, source, snap_max_distance)
    if n_snapped:
        log.info("%s: snapped %d pixels of off-palette colours to the nearest palette colour", source, n_snapped)
    return lookup[inverse.reshape(label_rgb.shape[:2])], n_snapped


def _refuse_unknown(unknown: list[tuple[int, int]], source: str, snap_max_distance: float | None):
    """Raise for the (pixel count, colour key) pairs that match no colour, most frequent first."""
    unknown = sorted(unknown, reverse=True)
    total = sum(count for count, _ in unknown)
    shown = ", ".join(f"RGB{_key_to_rgb(key)}: {count} px" for count, key in unknown[:8])
    more = f" and {len(unknown) - 8} more colours" if len(unknown) > 8 else ""
    hint = (
        f"none is within snap_max_distance={snap_max_distance}"
        if snap_max_distance is not None
        else "set dataset.snap_to_palette: true to map them to the nearest palette colour"
    )
    raise WeaksegError(
        f"{source}: {total} pixels have {len(unknown)} colours not in the dataset palette ({shown}{more}); {hint}"
    )


def colorize(index: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Colour a class-index map for display.

    Args:
        index: (H, W) integer class indices; values outside ``0..K-1`` (such as
            :data:`IGNORE_INDEX`) are unlabelled.
        palette: (K, 3) uint8 colours.

    Returns:
        (H, W, 3) uint8 RGB image, unlabelled pixels black.
    """
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(palette)] = palette
    table[len(palette) :] = 0
    return table[np.clip(index, 0, 255).astype(np.uint8)]


#: Pixels counted at a time by :func:`class_pixel_counts`: 4 M pixels need 32 MB of int64 codes.
COUNT_CHUNK_PIXELS = 1 << 22


def class_pixel_counts(masks: np.ndarray, n_classes: int, chunk: int | None = None) -> np.ndarray:
    """Labelled pixels of each class in each mask.

    Args:
        masks: (N, H, W) uint8 class indices (an array, a memory map, or
            :class:`weakseg.io.npy.NpyRows`: anything sliced by rows); 255 (ignore) and other
            values >= ``n_classes`` are not counted.
        n_classes: K.
        chunk: masks read at a time (default: as many as hold :data:`COUNT_CHUNK_PIXELS`
            pixels), so memory does not grow with N.

    Returns:
        (N, K) int64 pixel counts.
    """
    if chunk is None:
        chunk = max(1, COUNT_CHUNK_PIXELS // max(1, int(np.prod(masks.shape[1:]))))
    counts = np.zeros((len(masks), n_classes), dtype=np.int64)
    for start in range(0, len(masks), chunk):
        block = np.asarray(masks[start : start + chunk])
        block = block.reshape(len(block), -1)
        # One bincount over (mask, class) pairs; ignore and out-of-range values land in bin K.
        values = np.where(block < n_classes, block, n_classes).astype(np.int64)
        offsets = (np.arange(len(block)) * (n_classes + 1))[:, None]
        binned = np.bincount((values + offsets).ravel(), minlength=len(block) * (n_classes + 1))
        counts[start : start + len(block)] = binned.reshape(len(block), n_classes + 1)[:, :n_classes]
    return counts
