"""The split stage: strong / weak / val sets of tiles, grouped so that no pixel leaks across sets.

``splits.json`` holds the tile ids per set (in ``tiles.csv`` order), their counts, the
number of tiles dropped to keep sets apart, and the settings used.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from weakseg.errors import WeaksegError
from weakseg.tiling import Tile

log = logging.getLogger(__name__)

SET_NAMES = ("strong", "weak", "val")
#: When two tiles of different sets overlap, the tile of the later set here is dropped:
#: validation pixels must never be seen in training, and the small strong set is kept whole.
_KEEP_PRIORITY = ("val", "strong", "weak")
GROUPINGS = ("tile", "scene", "block")


def read_splits(path: str | Path) -> dict[str, list[str]]:
    """The tile ids of each set (strong, weak, val) in a ``splits.json``."""
    with open(path) as handle:
        return json.load(handle)["sets"]


def check_fractions(fractions: dict) -> None:
    """Require exactly the sets strong, weak, val, each > 0, summing to 1 (within 1e-6).

    Raises:
        WeaksegError: naming ``split.fractions`` and the values at fault.
    """
    if sorted(fractions) != sorted(SET_NAMES):
        raise WeaksegError(f"split.fractions must have the keys {', '.join(SET_NAMES)}; got {sorted(fractions)}")
    bad = {k: v for k, v in fractions.items() if not v > 0}
    if bad:
        raise WeaksegError(f"split.fractions: every fraction must be > 0; got {bad}")
    total = sum(fractions.values())
    if abs(total - 1) > 1e-6:
        raise WeaksegError(f"split.fractions must sum to 1; {fractions} sums to {total:.6g}")


def group_keys(tiles: list[Tile], group_by: str, block_pixels: int) -> list[str]:
    """The group of every tile: its own id, its scene, or its ``block_pixels``-wide spatial block."""
    if group_by == "tile":
        return [t.tile_id for t in tiles]
    if group_by == "scene":
        return [t.scene for t in tiles]
    if group_by == "block":
        return [f"{t.scene}/{t.y // block_pixels}/{t.x // block_pixels}" for t in tiles]
    raise WeaksegError(f"split.group_by: {group_by!r} is not one of {', '.join(GROUPINGS)}")


def overlapping_pairs(tiles: list[Tile], tile_size: int) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of tiles of one scene that share at least one pixel."""
    by_scene = defaultdict(list)
    for index, tile in enumerate(tiles):
        by_scene[tile.scene].append(index)
    pairs = []
    for indices in by_scene.values():
        # Sweep in y order, comparing each tile only with the tiles starting less than
        # tile_size below it: memory linear in the tile count (an all-pairs matrix of a
        # 6000 px Potsdam scene at 64 px tiles, stride 32, would take tens of GB).
        indices = np.asarray(indices)
        ys = np.array([tiles[i].y for i in indices])
        order = np.argsort(ys, kind="stable")
        indices, ys = indices[order], ys[order]
        xs = np.array([tiles[i].x for i in indices])
        ends = np.searchsorted(ys, ys + tile_size, side="left")
        for a in range(len(indices)):
            near = a + 1 + np.flatnonzero(np.abs(xs[a + 1 : ends[a]] - xs[a]) < tile_size)
            pairs.extend((min(int(indices[a]), int(j)), max(int(indices[a]), int(j))) for j in indices[near])
    return pairs


def split_tiles(
    tiles: list[Tile],
    tile_size: int,
    stride: int,
    fractions: dict[str, float],
    group_by: str = "tile",
    block_size: int = 4,
    seed: int = 0,
) -> dict:
    """Assign tiles to the strong, weak and val sets.

    Groups (see :func:`group_keys`; a block is ``block_size`` x ``block_size`` tile strides)
    are shuffled with ``seed`` and laid end to end; a group goes to the set whose share of
    the tile count its midpoint falls in. Then any tile that overlaps a tile of another set
    is dropped (val kept first, then strong), so no pixel is in two sets.

    Returns:
        The content of ``splits.json``: ``sets`` (set -> tile ids in input order),
        ``counts``, ``n_tiles``, ``n_groups``, ``dropped_overlap`` and ``settings``.

    Raises:
        WeaksegError: bad fractions; ``group_by: tile`` while tiles overlap (stride <
        tile_size), which would put most neighbours in different sets; or a set that would be
        empty (the message gives the tile count and the fraction asked).
    """
    check_fractions(fractions)
    if group_by == "tile" and stride < tile_size:
        raise WeaksegError(
            f"split.group_by: 'tile' with overlapping tiles (stride {stride} < tile_size {tile_size} px) would put "
            "overlapping tiles in different sets; use 'block' or 'scene'"
        )
    keys = group_keys(tiles, group_by, block_size * stride)
    groups = sorted(set(keys))
    order = np.random.default_rng(seed).permutation(len(groups))
    members = defaultdict(list)
    for index, key in enumerate(keys):
        members[key].append(index)
    bounds = np.cumsum([fractions[name] for name in SET_NAMES]) * len(tiles)
    assigned = np.empty(len(tiles), dtype=object)
    start = 0
    for g in order:
        group = members[groups[g]]
        middle = start + len(group) / 2
        assigned[group] = SET_NAMES[min(int(np.searchsorted(bounds, middle)), len(SET_NAMES) - 1)]
        start += len(group)
    dropped = _drop_overlaps(tiles, tile_size, assigned)
    sets = {name: [t.tile_id for t, s in zip(tiles, assigned) if s == name] for name in SET_NAMES}
    for name in SET_NAMES:
        if not sets[name]:
            raise WeaksegError(
                f"split: set {name!r} would be empty: {len(tiles)} tiles in {len(groups)} groups "
                f"(group_by: {group_by}), split.fractions.{name} = {fractions[name]}; use more or smaller tiles, "
                "a finer group_by, or a larger fraction"
            )
    counts = {name: len(ids) for name, ids in sets.items()}
    log.info("split %d tiles in %d groups: %s (%d dropped for overlap)", len(tiles), len(groups), counts, dropped)
    return {
        "sets": sets,
        "counts": counts,
        "n_tiles": len(tiles),
        "n_groups": len(groups),
        "dropped_overlap": dropped,
        "settings": {"fractions": fractions, "group_by": group_by, "block_size": block_size, "seed": seed},
    }


def _drop_overlaps(tiles: list[Tile], tile_size: int, assigned: np.ndarray) -> int:
    """Set ``assigned`` to None for tiles overlapping a kept tile of a higher-priority set."""
    neighbours = defaultdict(list)
    for a, b in overlapping_pairs(tiles, tile_size):
        neighbours[a].append(b)
        neighbours[b].append(a)
    kept: set[int] = set()
    dropped = 0
    for name in _KEEP_PRIORITY:
        for index in np.flatnonzero(assigned == name):
            if any(n in kept and assigned[n] != name for n in neighbours[index]):
                assigned[index] = None
                dropped += 1
            else:
                kept.add(int(index))
    return dropped
