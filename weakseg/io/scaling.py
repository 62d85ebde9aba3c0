"""The model scale: scenes of any size brought to a fixed shorter side, never stretched.

Datasets whose images vary in size (Figaro1k: roughly 250 to 1000 px a side) are resized so
that the shorter side is ``tiling.shorter_side`` pixels, keeping the aspect ratio; tiling and
sliding-window inference both work at this scale, and predictions are resized back to the
original size to be scored, as published Figaro1k numbers are. ``None`` keeps every scene at
its own resolution (ISPRS).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def model_size(height: int, width: int, shorter_side: int | None) -> tuple[int, int]:
    """(height, width) in pixels at the model scale: the shorter side becomes ``shorter_side``.

    The longer side is rounded to the nearest pixel, so the aspect ratio is kept within one pixel.
    """
    if shorter_side is None:
        return height, width
    scale = shorter_side / min(height, width)
    return max(round(height * scale), 1), max(round(width * scale), 1)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) uint8 resized to ``size`` = (height, width) with Pillow's bilinear filter, band by band.

    Pillow's bilinear filter is antialiased when shrinking, so downscaled scenes do not alias.
    """
    if image.shape[:2] == tuple(size):
        return image
    bands = [Image.fromarray(np.ascontiguousarray(image[..., c])) for c in range(image.shape[2])]
    return np.stack([np.asarray(b.resize(size[::-1], Image.Resampling.BILINEAR)) for b in bands], axis=-1)


def resize_label(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 class indices resized to ``size`` with nearest-neighbour (no new class values)."""
    if label.shape == tuple(size):
        return label
    return np.asarray(Image.fromarray(np.ascontiguousarray(label)).resize(size[::-1], Image.Resampling.NEAREST))


def scene_at_model_scale(image_path, label_path, shorter_side: int | None) -> tuple[np.ndarray, np.ndarray]:
    """A prepared scene's (H, W, C) uint8 image and (H, W) uint8 label at the model scale.

    Without resizing both are memory maps, so large scenes are never read whole.
    """
    image, label = np.load(image_path, mmap_mode="r"), np.load(label_path, mmap_mode="r")
    size = model_size(*label.shape, shorter_side)
    if size == label.shape:
        return image, label
    return resize_image(np.asarray(image), size), resize_label(np.asarray(label), size)
