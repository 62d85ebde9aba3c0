"""The tile stage: cut scenes into (possibly overlapping) tiles stored as memory-mappable arrays.

Layout written (row ``i`` of each array is row ``i`` of ``tiles.csv``):

* ``images.npy``: (N, T, T, C) uint8
* ``masks.npy``: (N, T, T) uint8 class indices, 255 = ignore
* ``tiles.csv``: tile_id, scene, y, x (top-left corner, pixels), labeled_fraction
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from weakseg.design.experiment import check_tile_grid
from weakseg.formats.tiles import Tile, tile_id
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX, class_pixel_counts
from weakseg.io.outputs import staged_outputs
from weakseg.io.scaling import scene_at_model_scale

log = logging.getLogger(__name__)


def tile_offsets(length: int, tile_size: int, stride: int) -> list[int]:
    """Start offsets (pixels) of tiles along one axis of ``length`` pixels.

    Offsets step by ``stride``; if that leaves pixels uncovered at the end, one last tile is
    aligned to the border (``length - tile_size``), so every pixel lies in some tile. (Some
    toolboxes step by the tile size here instead of the stride, which skips the overlap.)

    Raises:
        WeaksegError: ``tile_size`` or ``stride`` < 1, or ``tile_size`` > ``length``.
    """
    if tile_size < 1 or stride < 1:
        raise WeaksegError(f"tiling: tile_size ({tile_size}) and stride ({stride}) must be positive")
    if tile_size > length:
        raise WeaksegError(f"tiling.tile_size {tile_size} px is larger than the scene side of {length} px")
    offsets = list(range(0, length - tile_size + 1, stride))
    if offsets[-1] + tile_size < length:
        offsets.append(length - tile_size)
    return offsets


def plan_tiles(scene: str, label: np.ndarray, tile_size: int, stride: int, min_labeled_fraction: float) -> list[Tile]:
    """The tiles of one scene that have at least ``min_labeled_fraction`` labelled pixels.

    Args:
        label: (H, W) uint8 class indices, 255 = ignore.
        min_labeled_fraction: fraction in [0, 1]; tiles with no labelled pixel are always dropped.

    Raises:
        WeaksegError: the tile does not fit the scene (the message names the scene and sizes),
            or the label has no labelled pixel at all (naming the scene).
    """
    height, width = label.shape
    try:
        ys, xs = tile_offsets(height, tile_size, stride), tile_offsets(width, tile_size, stride)
    except WeaksegError as error:
        raise WeaksegError(f"scene {scene} ({height}x{width} px): {error}") from None
    labeled = (label != IGNORE_INDEX).astype(np.int64)
    # Summed-area table: labelled pixels of any tile in O(1).
    table = np.pad(labeled.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    if table[-1, -1] == 0:
        raise WeaksegError(
            f"scene {scene}: its label has no labelled pixel (all {IGNORE_INDEX} = ignore, e.g. an eroded label "
            "that is all border), so none of its tiles can reach tiling.min_labeled_fraction; leave the scene out "
            "with dataset.scenes, or use dataset.labels: complete"
        )
    tiles = []
    for y in ys:
        for x in xs:
            count = (
                table[y + tile_size, x + tile_size] - table[y, x + tile_size] - table[y + tile_size, x] + table[y, x]
            )
            fraction = count / tile_size**2
            if count > 0 and fraction >= min_labeled_fraction:
                tiles.append(Tile(tile_id(scene, y, x), scene, y, x, float(fraction)))
    return tiles


def write_tiles(
    scenes: list[tuple[str, str | Path, str | Path]],
    tile_size: int,
    stride: int,
    min_labeled_fraction: float,
    out_dir: str | Path,
    shorter_side: int | None = None,
    *,
    n_classes: int,
) -> list[Tile]:
    """Tile prepared scenes into ``out_dir/{images.npy,masks.npy,tiles.csv,class_pixels.npy}`` (all or nothing).

    Args:
        scenes: ``(scene id, image .npy, label .npy)`` per scene, from the prepare stage.
        tile_size, stride: pixels.
        min_labeled_fraction: see :func:`plan_tiles`.
        shorter_side: pixels; scenes are first resized to it (see :mod:`weakseg.io.scaling`), or
            tiled at their own size when None. Tile positions are in model-scale pixels.
        n_classes: K; ``class_pixels.npy`` is (N, K) int64, the labelled pixels of each class in
            each tile: counted here, before any tile is weak, so that later stages (the report's
            class distributions, the majority-class row) never open a weak tile's mask.

    Raises:
        WeaksegError: a bad tile grid (see :func:`check_tile_grid`), a tile larger than a
            scene, a scene whose label has no labelled pixel (naming it), or no tile kept.
    """
    check_tile_grid(tile_size, stride)
    out_dir = Path(out_dir)
    plans, channels = [], None
    for scene, image_path, label_path in scenes:
        image, label = scene_at_model_scale(image_path, label_path, shorter_side)
        if channels not in (None, image.shape[2]):
            raise WeaksegError(f"{image_path}: {image.shape[2]} bands, but earlier scenes have {channels}")
        channels = image.shape[2]
        plans.append(
            (image_path, label_path, plan_tiles(scene, np.asarray(label), tile_size, stride, min_labeled_fraction))
        )
    tiles = [tile for _, _, planned in plans for tile in planned]
    if not tiles:
        raise WeaksegError(
            f"no tile of the scenes {', '.join(s for s, _, _ in scenes)} has at least tiling.min_labeled_fraction="
            f"{min_labeled_fraction} labelled pixels; lower it, or use smaller tiles"
        )
    names = ("images.npy", "masks.npy", "tiles.csv", "class_pixels.npy")
    with staged_outputs(*(out_dir / n for n in names)) as (images_tmp, masks_tmp, csv_tmp, counts_tmp):
        images = np.lib.format.open_memmap(images_tmp, "w+", np.uint8, (len(tiles), tile_size, tile_size, channels))
        masks = np.lib.format.open_memmap(masks_tmp, "w+", np.uint8, (len(tiles), tile_size, tile_size))
        row = 0
        for image_path, label_path, planned in plans:
            image, label = scene_at_model_scale(image_path, label_path, shorter_side)
            for tile in planned:
                images[row] = image[tile.y : tile.y + tile_size, tile.x : tile.x + tile_size]
                masks[row] = label[tile.y : tile.y + tile_size, tile.x : tile.x + tile_size]
                row += 1
        images.flush()
        masks.flush()
        counts = class_pixel_counts(masks, n_classes)
        del images, masks
        with open(counts_tmp, "wb") as handle:  # a handle: np.save would append ".npy" to the staged name
            np.save(handle, counts)
        with open(csv_tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["tile_id", "scene", "y", "x", "labeled_fraction"])
            writer.writerows([t.tile_id, t.scene, t.y, t.x, f"{t.labeled_fraction:.6f}"] for t in tiles)
    log.info("%d tiles of %d px, stride %d px, from %d scenes", len(tiles), tile_size, stride, len(scenes))
    return tiles
