"""The stats stage: per-band mean and standard deviation of the training tiles' pixels.

Streamed over the tile array in chunks of :data:`CHUNK_PIXELS` pixels, each counted into a
256-bin histogram per band (the pixels are uint8), so memory does not grow with the dataset;
mean and variance then come from the summed histograms exactly, as a two-pass computation
over every pixel would give them (to float64 precision).
"""

from __future__ import annotations

import numpy as np

from weakseg.io.errors import WeaksegError

#: Pixels read per chunk (of every band): 4 M pixels of 3 bands are 12 MB.
CHUNK_PIXELS = 1 << 22


def band_statistics(images: np.ndarray, rows: list[int], frames: int = 1, chunk: int | None = None) -> dict:
    """Mean and population standard deviation per band over the pixels of tiles ``rows``.

    Args:
        images: (N, S, S, T * C) uint8 tiles (an array, a memory map or
            :class:`weakseg.io.npy.NpyRows`), read ``chunk`` tiles at a time (default: as many as
            hold :data:`CHUNK_PIXELS` pixels).
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
    if chunk is None:
        chunk = max(1, CHUNK_PIXELS // (images.shape[1] * images.shape[2] * frames))
    histogram = np.zeros((bands, 256), dtype=np.int64)
    for start in range(0, len(rows), chunk):
        block = np.asarray(images[sorted(rows[start : start + chunk])]).reshape(-1, bands)
        for band in range(bands):
            histogram[band] += np.bincount(block[:, band], minlength=256)
    values = np.arange(256, dtype=np.float64)
    count = int(histogram[0].sum())
    mean = histogram @ values / count
    std = np.sqrt((histogram * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / count)
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
