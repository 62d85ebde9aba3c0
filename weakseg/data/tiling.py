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

from weakseg.design.checks import check_tile_grid
from weakseg.formats.bundles import TileFiles
from weakseg.formats.tiles import Tile, tile_id
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX, class_pixel_counts
from weakseg.io.npy import NpyWriter
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
    # Labelled pixels of every tile of a row of tiles from column sums of that row's band: memory
    # is one tile-high band, whatever the scene's size.
    tiles, any_labelled = [], False
    for y in ys:
        columns = np.count_nonzero(np.asarray(label[y : y + tile_size]) != IGNORE_INDEX, axis=0)
        running = np.concatenate([[0], np.cumsum(columns, dtype=np.int64)])
        any_labelled |= bool(running[-1])
        for x in xs:
            count = int(running[x + tile_size] - running[x])
            fraction = count / tile_size**2
            if count > 0 and fraction >= min_labeled_fraction:
                tiles.append(Tile(tile_id(scene, y, x), scene, y, x, float(fraction)))
    if not any_labelled:  # the rows of tiles cover every pixel
        raise WeaksegError(
            f"scene {scene}: its label has no labelled pixel (all {IGNORE_INDEX} = ignore, e.g. an eroded label "
            "that is all border), so none of its tiles can reach tiling.min_labeled_fraction; leave the scene out "
            "with dataset.scenes, or use dataset.labels: complete"
        )
    return tiles


def _tile_rows(planned: list[Tile]) -> list[tuple[int, list[Tile]]]:
    """The planned tiles of a scene grouped by row (``y``), in their order (rows are contiguous)."""
    rows: dict[int, list[Tile]] = {}
    for tile in planned:
        rows.setdefault(tile.y, []).append(tile)
    return list(rows.items())


def _bands(image_path, label_path, shorter_side: int | None, planned: list[Tile], tile_size: int):
    """Per row of ``planned`` tiles: ``(tiles, image band, label band)``, (h, W, C) and (h, W) uint8 copies.

    A scene at its own size is read through memory maps opened for one band and closed with
    it, so its pages do not pile up; a resized scene (``shorter_side``) is resized once.
    """
    scene = scene_at_model_scale(image_path, label_path, shorter_side)
    at_own_size = isinstance(scene[1], np.memmap)
    for y, row in _tile_rows(planned):
        if at_own_size:
            scene = scene_at_model_scale(image_path, label_path, None)
        yield row, np.array(scene[0][y : y + tile_size]), np.array(scene[1][y : y + tile_size])
        if at_own_size:
            del scene


def write_tiles(
    scenes: list[tuple[str, str | Path, str | Path]],
    tile_size: int,
    stride: int,
    min_labeled_fraction: float,
    out: TileFiles,
    shorter_side: int | None = None,
    *,
    n_classes: int,
) -> list[Tile]:
    """Tile prepared scenes into the four files of ``out`` (all or nothing).

    Args:
        scenes: ``(scene id, image .npy, label .npy)`` per scene, from the prepare stage.
        tile_size, stride: pixels.
        min_labeled_fraction: see :func:`plan_tiles`.
        shorter_side: pixels; scenes are first resized to it (see :mod:`weakseg.io.scaling`), or
            tiled at their own size when None. Tile positions are in model-scale pixels.
        out: where the (N, T, T, C) uint8 ``images``, (N, T, T) uint8 ``masks`` (255 = ignore),
            ``tiles`` CSV and ``class_pixels`` go.
        n_classes: K; ``class_pixels`` is (N, K) int64, the labelled pixels of each class in
            each tile: counted here, before any tile is weak, so that later stages (the report's
            class distributions, the majority-class row) never open a weak tile's mask.

    Raises:
        WeaksegError: a bad tile grid (see :func:`check_tile_grid`), a tile larger than a
            scene, a scene whose label has no labelled pixel (naming it), or no tile kept.
    """
    check_tile_grid(tile_size, stride)
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
    counts = np.zeros((len(tiles), n_classes), dtype=np.int64)
    with staged_outputs(out.images, out.masks, out.tiles, out.class_pixels) as staged:
        images_tmp, masks_tmp, csv_tmp, counts_tmp = staged
        # Written in order with plain writes, not through memory maps: written pages do not stay
        # resident, so memory is one row of tiles whatever the dataset's size.
        with (
            NpyWriter(images_tmp, (len(tiles), tile_size, tile_size, channels), np.uint8) as images,
            NpyWriter(masks_tmp, (len(tiles), tile_size, tile_size), np.uint8) as masks,
        ):
            row = 0
            for image_path, label_path, planned in plans:
                for band, image, label in _bands(image_path, label_path, shorter_side, planned, tile_size):
                    for tile in band:
                        mask = label[:, tile.x : tile.x + tile_size]
                        images.write(image[:, tile.x : tile.x + tile_size])
                        masks.write(mask)
                        counts[row] = class_pixel_counts(mask[None], n_classes)[0]
                        row += 1
        with open(counts_tmp, "wb") as handle:  # a handle: np.save would append ".npy" to the staged name
            np.save(handle, counts)
        with open(csv_tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["tile_id", "scene", "y", "x", "labeled_fraction"])
            writer.writerows([t.tile_id, t.scene, t.y, t.x, f"{t.labeled_fraction:.6f}"] for t in tiles)
    log.info("%d tiles of %d px, stride %d px, from %d scenes", len(tiles), tile_size, stride, len(scenes))
    return tiles
