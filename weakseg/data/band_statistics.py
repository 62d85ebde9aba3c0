"""The stats stage: per-band mean and standard deviation of the training tiles' pixels.

Streamed over the tile array in chunks and merged with the pairwise update of Chan, Golub and
LeVeque (1979, "Updating formulae and a pairwise algorithm for computing sample variances"),
so memory does not grow with the dataset and the result matches a two-pass computation to
float64 precision.
"""

from __future__ import annotations

import numpy as np

from weakseg.io.errors import WeaksegError

#: Tiles read per chunk: 256 tiles of 256 x 256 x 3 bytes are 50 MB.
CHUNK_TILES = 256


def band_statistics(images: np.ndarray, rows: list[int], frames: int = 1, chunk: int = CHUNK_TILES) -> dict:
    """Mean and population standard deviation per band over the pixels of tiles ``rows``.

    Args:
        images: (N, S, S, T * C) uint8 tiles (a memory map is read ``chunk`` tiles at a time).
        rows: the tiles to include, e.g. the training tiles of a split.
        frames: T; the statistics are per band over all frames (C values).

    Returns:
        ``{"mean": [C floats], "std": [C floats], "n_pixels": int, "n_tiles": int}``, mean and
        std as fractions of 255 (the unit of :class:`weakseg.learn.models.Normalization`).

    Raises:
        WeaksegError: no rows, or channels that are not a multiple of ``frames``.
    """
    if not rows:
        raise WeaksegError("stats: no training tile to compute the band statistics on")
    channels = images.shape[3]
    if channels % frames:
        raise WeaksegError(f"stats: {channels} channels are not {frames} frames of equal bands")
    bands = channels // frames
    count, mean, m2 = 0, np.zeros(bands), np.zeros(bands)
    for start in range(0, len(rows), chunk):
        block = np.asarray(images[sorted(rows[start : start + chunk])], dtype=np.float64).reshape(-1, bands)
        n_b, mean_b = len(block), block.mean(axis=0)
        m2_b = ((block - mean_b) ** 2).sum(axis=0)
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * n_b / total
        m2 = m2 + m2_b + delta**2 * count * n_b / total
        count = total
    std = np.sqrt(m2 / count)
    return {
        "mean": (mean / 255).tolist(),
        "std": (np.maximum(std, 1e-6) / 255).tolist(),
        "n_pixels": int(count),
        "n_tiles": len(rows),
    }


def resolve_normalization(model: dict) -> str:
    """``imagenet`` or ``dataset``: the statistics the ``model`` config section normalises with.

    ``normalization: auto`` is ``imagenet`` with ImageNet encoder weights (the statistics they
    were trained with) and ``dataset`` otherwise.
    """
    choice = model.get("normalization", "auto")
    if choice == "auto":
        return "imagenet" if model.get("encoder_weights") == "imagenet" else "dataset"
    return choice
