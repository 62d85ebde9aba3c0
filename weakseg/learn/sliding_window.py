"""Sliding-window inference over whole scenes of any size, with memory bounded by the window batch.

Windows of ``window`` x ``window`` px step by ``stride = round(window * (1 - overlap))`` (the
last one aligned to the border, as tiles are: :func:`weakseg.data.tiling.tile_offsets`). Their
logits are blended with a Gaussian weight (sigma = window / 8, as nnU-Net does: Isensee et
al., 2021, Nature Methods 18:203), so window borders, where context is missing, count
little and no seam shows. A scene smaller than the window is padded with the model's mean
pixel (0 after its normalisation) and cropped back.

The scene is processed in column strips (at most ``strip`` px wide) and, within a strip, row
by row of windows; rows are finished and handed out as soon as no later window covers them.
Memory is thus ``window x (strip + 2 window) x K`` floats plus one window batch and one
window-high band of pixels, whatever the scene size; large scenes are read through memory
maps or, for rasters, windowed reads (:class:`weakseg.io.georaster.RasterReader`), one per row
of windows of a strip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from weakseg.data.tiling import tile_offsets
from weakseg.io.errors import WeaksegError
from weakseg.io.scaling import model_size, resize_image
from weakseg.learn.inference import forward
from weakseg.learn.models import IMAGENET_MEAN, pixel_values

#: Columns per strip (pixels): bounds the accumulator of large scenes.
DEFAULT_STRIP = 4096


def window_weight(window: int) -> np.ndarray:
    """(window, window) float32 Gaussian weight, peak 1 at the centre, sigma = window / 8, never below 1e-3."""
    centre = (window - 1) / 2
    g = np.exp(-0.5 * ((np.arange(window, dtype=np.float64) - centre) / (window / 8)) ** 2)
    return np.maximum(np.outer(g, g), 1e-3).astype(np.float32)


def window_stride(window: int, overlap: float) -> int:
    """Pixels between window origins for an ``overlap`` fraction in [0, 1) (at least 1).

    Raises:
        WeaksegError: an overlap outside [0, 1) or a window below 1 px.
    """
    if window < 1 or not 0 <= overlap < 1:
        raise WeaksegError(f"evaluation.window {window} px / overlap {overlap}: need window >= 1 and 0 <= overlap < 1")
    return max(int(round(window * (1 - overlap))), 1)


def blended_blocks(
    predict_batch: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    window: int,
    overlap: float,
    batch_size: int = 16,
    strip: int = DEFAULT_STRIP,
    fill: np.ndarray | None = None,
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Blended logits of ``image``, block by block, each pixel in exactly one block.

    Args:
        predict_batch: (B, C, window, window) float32 pixel values (0-255) -> (B, K, window,
            window) float32 logits (the model normalises its input).
        image: (H, W, C) uint8, e.g. a memory map.
        window: pixels; overlap: fraction of the window shared by neighbours.
        batch_size: windows per ``predict_batch`` call.
        strip: the widest column strip processed at once (pixels, at least ``window``).
        fill: (C,) pixel values past the image border: the model's
            :attr:`~weakseg.learn.models.Segmenter.mean_pixel` (default: ImageNet's mean).

    Yields:
        ``(rows, cols, logits)``: slices of the image and (K, rows, cols) float32 blended logits.
    """
    height, width = image.shape[:2]
    stride = window_stride(window, overlap)
    ys = tile_offsets(max(height, window), window, stride)
    xs = tile_offsets(max(width, window), window, stride)
    weight = window_weight(window)
    strip = max(strip, window)
    if fill is None:
        fill = pixel_values(IMAGENET_MEAN, image.shape[2])
    for sx0 in range(0, width, strip):
        sx1 = min(sx0 + strip, width)
        strip_xs = [x for x in xs if x < sx1 and x + window > sx0]
        yield from _strip_blocks(predict_batch, image, window, ys, strip_xs, (sx0, sx1), weight, batch_size, fill)


def _strip_blocks(predict_batch, image, window, ys, xs, columns, weight, batch_size, fill):
    """The blocks of one column strip: a rolling accumulator one window high."""
    height = image.shape[0]
    cx0, (sx0, sx1) = xs[0], columns
    acc = None
    total = np.zeros((window, xs[-1] + window - cx0), dtype=np.float32)
    for i, y in enumerate(ys):
        if i:
            shift = y - ys[i - 1]
            acc = np.concatenate([acc[:, shift:], np.zeros_like(acc[:, :shift])], axis=1)
            total = np.concatenate([total[shift:], np.zeros_like(total[:shift])], axis=0)
        # One read per row of windows: a raster reader decodes each block once, not once per window.
        band = np.asarray(image[y : y + window, cx0 : xs[-1] + window])
        for start in range(0, len(xs), batch_size):
            chunk = xs[start : start + batch_size]
            logits = predict_batch(np.stack([_window(band, 0, x - cx0, window, fill) for x in chunk]))
            if acc is None:
                acc = np.zeros((logits.shape[1], *total.shape), dtype=np.float32)
            for x, window_logits in zip(chunk, logits, strict=True):
                acc[:, :, x - cx0 : x - cx0 + window] += window_logits * weight
                total[:, x - cx0 : x - cx0 + window] += weight
        end = min(ys[i + 1] if i + 1 < len(ys) else y + window, height)
        if end > y:
            rows = slice(0, end - y)
            cols = slice(sx0 - cx0, sx1 - cx0)
            yield slice(y, end), slice(sx0, sx1), acc[:, rows, cols] / total[rows, cols]


def _window(image, y: int, x: int, window: int, fill: np.ndarray) -> np.ndarray:
    """(C, window, window) float32: the crop at (y, x), ``fill`` per band past the image border."""
    crop = np.asarray(image[y : y + window, x : x + window])
    out = np.empty((crop.shape[2], window, window), dtype=np.float32)
    out[:] = np.asarray(fill, dtype=np.float32)[:, None, None]
    out[:, : crop.shape[0], : crop.shape[1]] = crop.transpose(2, 0, 1)
    return out


def model_batches(model, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """``predict_batch`` for :func:`blended_blocks`: ``model`` in eval mode, no gradients, autocast on CUDA."""
    model.eval()

    @torch.no_grad()
    def predict_batch(batch: np.ndarray) -> np.ndarray:
        return forward(model, torch.from_numpy(batch), device).cpu().numpy()

    return predict_batch


def predict_logits(
    predict_batch, image: np.ndarray, window: int, overlap: float, batch_size: int = 16, fill=None
) -> np.ndarray:
    """(K, H, W) float32 blended logits of a whole (H, W, C) uint8 image (for images that fit in memory)."""
    out = None
    for rows, cols, logits in blended_blocks(predict_batch, image, window, overlap, batch_size, fill=fill):
        if out is None:
            out = np.empty((logits.shape[0], *image.shape[:2]), dtype=np.float32)
        out[:, rows, cols] = logits
    return out


def predict_classes(
    predict_batch,
    image: np.ndarray,
    window: int,
    overlap: float,
    batch_size: int = 16,
    shorter_side: int | None = None,
    out: np.ndarray | None = None,
    fill: np.ndarray | None = None,
) -> np.ndarray:
    """(H, W) uint8 class indices (argmax of the blended logits) of an (H, W, C) uint8 image.

    Args:
        shorter_side: the model scale (see :mod:`weakseg.io.scaling`): the image is resized to
            it, predicted, and the logits resized back (bilinear) to H x W before the argmax,
            so the map has the image's own size. None: predicted at its own size, streamed.
        out: an (H, W) uint8 array to fill, e.g. a memory map (default: a new array).
        fill: padding past the border, see :func:`blended_blocks`.
    """
    height, width = image.shape[:2]
    out = np.empty((height, width), dtype=np.uint8) if out is None else out
    size = model_size(height, width, shorter_side)
    if size != (height, width):
        logits = predict_logits(predict_batch, resize_image(np.asarray(image), size), window, overlap, batch_size, fill)
        logits = F.interpolate(torch.from_numpy(logits)[None], (height, width), mode="bilinear", align_corners=False)
        out[:] = logits[0].argmax(0).numpy().astype(np.uint8)
        return out
    for rows, cols, logits in blended_blocks(predict_batch, image, window, overlap, batch_size, fill=fill):
        out[rows, cols] = logits.argmax(0).astype(np.uint8)
    return out
