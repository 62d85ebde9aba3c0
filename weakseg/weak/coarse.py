"""Coarse masks: the label at a resolution ``factor`` times lower than the image.

The 2020 IEEE GRSS Data Fusion Contest's weakly supervised track trained 10 m Sentinel-2 maps
from 500 m MODIS land cover (Robinson et al., "Global land-cover mapping with weak supervision",
IEEE JSTARS 2021). Here the tile's mask is reduced by ``factor``: each ``factor`` x ``factor``
cell takes the majority class of its labelled pixels (ties to the lower class index), or
ignore (255) when it has none; the weak mask stores it at full resolution (every pixel of a
cell carries the cell's class), so it is augmented with its image. Training pools the softmax
over the same cells and applies the cross-entropy between the pooled prediction and the cell's
class (the prediction compared on the label's grid, as in label super-resolution: Malkin et
al., ICLR 2019). With ``tiling.tile_size`` a multiple of ``factor`` the weak pipeline's flips
and rotations keep the cells on the grid.
"""

from __future__ import annotations

import numpy as np

from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak.dense import DenseKind


def cell_majority(mask: np.ndarray, n_classes: int, factor: int) -> np.ndarray:
    """(ceil(H / factor), ceil(W / factor)) uint8: majority class of each cell's labelled pixels, 255 if none."""
    h, w = mask.shape
    padded = np.full((-(-h // factor) * factor, -(-w // factor) * factor), IGNORE_INDEX, dtype=np.uint8)
    padded[:h, :w] = mask
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    counts = np.stack([(blocks == k).sum(axis=(1, 3)) for k in range(n_classes)])
    return np.where(counts.sum(0) > 0, counts.argmax(0), IGNORE_INDEX).astype(np.uint8)


def coarse_mask(mask: np.ndarray, n_classes: int, factor: int) -> np.ndarray:
    """(H, W) uint8: :func:`cell_majority` brought back to the mask's size (each cell's pixels take its class)."""
    cells = cell_majority(mask, n_classes, factor)
    return np.repeat(np.repeat(cells, factor, axis=0), factor, axis=1)[: mask.shape[0], : mask.shape[1]]


def pooled_cell_loss(logits, target, factor: int):
    """Cross-entropy between the softmax averaged over each ``factor`` x ``factor`` cell and the cell's class.

    Args:
        logits: (B, K, H, W); target: (B, H, W) int64 weak masks (after augmentation), 255 = ignore.

    A cell's class is the majority of its labelled target pixels (one class per cell when the
    cells are on the grid); cells without one are left out; 0 when no cell has one.
    """
    import torch
    import torch.nn.functional as F

    k = logits.shape[1]
    target = target.to(logits.device)
    labelled = target != IGNORE_INDEX
    if not labelled.any():
        return logits.sum() * 0.0
    votes = F.one_hot(torch.where(labelled, target, k), k + 1).permute(0, 3, 1, 2).float()
    votes = F.avg_pool2d(votes, factor, ceil_mode=True)[:, :k]
    cell_class = torch.where(votes.sum(1) > 0, votes.argmax(1), torch.full_like(votes.argmax(1), IGNORE_INDEX))
    pooled = F.avg_pool2d(logits.float().softmax(1), factor, ceil_mode=True)
    return F.nll_loss(torch.log(pooled.clamp_min(1e-8)), cell_class, ignore_index=IGNORE_INDEX)


class Coarse(DenseKind):
    """The mask reduced by ``factor`` (see the module docstring)."""

    name = "coarse"
    title = "coarse masks"
    label_keys = ("factor",)
    citation = "Robinson et al. 2021 (GRSS DFC 2020, low-resolution labels); pooled loss as Malkin et al. 2019"

    def label_mask(self, mask: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """See :func:`coarse_mask`."""
        return coarse_mask(mask, n_classes, int(options["factor"]))

    def loss(self, logits, target, options: dict):
        """See :func:`pooled_cell_loss`."""
        return pooled_cell_loss(logits, target, int(options["factor"]))


COARSE = Coarse()
