"""``tiles.csv``: one row per tile (tile_id, scene, y, x, labeled_fraction), in the order of the tile arrays.

Written by the ``tile`` stage beside ``images.npy`` (N, T, T, C) uint8 and ``masks.npy`` (N, T, T)
uint8 (255 = ignore); row ``i`` of each array is row ``i`` of the table.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tile:
    """A tile's identity and position: top-left corner ``(y, x)`` in scene pixels."""

    tile_id: str
    scene: str
    y: int
    x: int
    labeled_fraction: float


def tile_id(scene: str, y: int, x: int) -> str:
    """The id of the tile at ``(y, x)`` of ``scene``, e.g. ``area4_y00128_x00064``."""
    return f"{scene}_y{y:05d}_x{x:05d}"


def read_tiles(csv_path: str | Path) -> list[Tile]:
    """The rows of a ``tiles.csv``, in array order."""
    with open(csv_path, newline="") as handle:
        return [
            Tile(r["tile_id"], r["scene"], int(r["y"]), int(r["x"]), float(r["labeled_fraction"]))
            for r in csv.DictReader(handle)
        ]


def rows_of(tiles: list[Tile]) -> dict[str, int]:
    """Tile id -> row of the tile in ``images.npy`` / ``masks.npy`` (the order of ``tiles.csv``)."""
    return {tile.tile_id: row for row, tile in enumerate(tiles)}
