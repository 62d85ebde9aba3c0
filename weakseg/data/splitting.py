"""The split stage: val / test / pool (strong + weak) sets of tiles, grouped so that no pixel leaks.

Groups of tiles (a tile, a scene, a spatial block or a city) are shuffled with the seed and laid end
to end; each goes to ``val``, ``test`` or the *pool* by where its midpoint falls. The pool is
ordered too: a pool group's *rank* is its midpoint, in tiles, from the start of the pool.
The strong set at strong fraction ``f`` (a share of all tiles) is every pool tile of rank
below ``f * n_tiles``; the weak set the rest of the pool. So val and test are the same for
every fraction, and the strong sets are nested (the 5% set inside the 10% set inside the 20%
set). ``splits.json`` holds the sets at ``split.fractions.strong`` (the reference split), the
rank of every pool tile, counts, and the settings used.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from weakseg.design.checks import check_fractions, check_grouping
from weakseg.design.experiment import HELD_OUT
from weakseg.formats.splits import sets_at_fraction
from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError

log = logging.getLogger(__name__)

#: The order groups are laid out in, and (for overlapping tiles) the keep priority: pixels of
#: val and test must never be seen in training.
_LAYOUT = (*HELD_OUT, "pool")
GROUPINGS = ("tile", "scene", "block", "city")


def group_keys(
    tiles: list[Tile], group_by: str, block_pixels: int, scene_group: Callable[[str], str] | None = None
) -> list[str]:
    """The group of every tile: its own id, its scene, its ``block_pixels``-wide spatial block, or its city.

    ``group_by: city`` needs ``scene_group`` (the dataset adapter's scene -> city).
    """
    if group_by == "tile":
        return [t.tile_id for t in tiles]
    if group_by == "scene":
        return [t.scene for t in tiles]
    if group_by == "block":
        return [f"{t.scene}/{t.y // block_pixels}/{t.x // block_pixels}" for t in tiles]
    if group_by == "city":
        if scene_group is None:
            raise WeaksegError("split.group_by: 'city' needs the dataset's scene -> city mapping (split.py --dataset)")
        return [scene_group(t.scene) for t in tiles]
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
    official_test: Callable[[str], bool] | None = None,
    scene_group: Callable[[str], str] | None = None,
    official_test_name: str | None = None,
) -> dict:
    """Assign tiles to val, test and the pool, rank the pool, and give the reference sets.

    Groups (see :func:`group_keys`; a block is ``block_size`` x ``block_size`` tile strides)
    are shuffled with ``seed`` and laid end to end (val, test, pool); a group goes to the
    region its midpoint falls in. Then any tile that overlaps a tile of another region is
    dropped (val kept first, then test), so no pixel of val or test is in another set.

    Args:
        official_test: with ``split.use_official_test``, scene id -> whether the scene is in the
            dataset's official test set (the adapter's ``is_official_test``): their tiles are the
            test set, and ``fractions`` (without ``test``) split the tiles of the other scenes.
        scene_group: scene id -> city, for ``group_by: city``.
        official_test_name: the official test set in words, for messages and ``settings``.

    Returns:
        The content of ``splits.json``: ``sets`` (strong, weak, val, test -> tile ids in input
        order, strong and weak at ``fractions["strong"]``, see :func:`sets_at_fraction`),
        ``pool`` (tile id -> ``{"rank", "neighbour_rank"}``: the tile's group midpoint and the
        lowest rank of an overlapping pool tile of another group, in tiles), ``counts``,
        ``n_tiles`` (the tiles split by ``fractions``: all but an official test set, whose count
        is ``n_official_test``), ``n_groups``, ``dropped_overlap`` (tiles in no set of the reference
        split) and ``settings``.

    Raises:
        WeaksegError: bad fractions; ``group_by: tile`` while tiles overlap (stride <
        tile_size), which would put most neighbours in different sets; or a set that would be
        empty (the message gives the tile count and the fraction asked).
    """
    check_fractions(fractions)
    check_grouping(group_by, stride, tile_size)
    keys = group_keys(tiles, group_by, block_size * stride, scene_group)
    official = np.array([official_test is not None and official_test(t.scene) for t in tiles], dtype=bool)
    if official_test is not None and not official.any():
        raise WeaksegError(
            f"split.use_official_test: no scene is in {official_test_name or 'the official test set'}, so the "
            "test set is empty; add the official test scenes (dataset.scenes) or set split.use_official_test: false"
        )
    if official.all():
        test_scenes = sorted({t.scene for t in tiles})
        raise WeaksegError(
            f"split.use_official_test: every scene ({', '.join(test_scenes)}) is in "
            f"{official_test_name or 'the official test set'}, so no official training scene is left to split into "
            "strong, weak and val tiles; add training scenes to dataset.scenes (or set split.use_official_test: false)"
        )
    free = np.flatnonzero(~official)
    groups = sorted({keys[i] for i in free})
    region, rank = np.full(len(tiles), "test", dtype=object), np.zeros(len(tiles))
    region[free], rank[free] = _assign_regions([keys[i] for i in free], groups, fractions, seed)
    neighbours = _neighbours(tiles, tile_size)
    dropped = _drop_overlaps(neighbours, region)
    pool = {
        tiles[i].tile_id: {"rank": float(rank[i]), "neighbour_rank": _neighbour_rank(i, neighbours, region, keys, rank)}
        for i in np.flatnonzero(region == "pool")
    }
    # Fractions are shares of the tiles being split (with an official test set: the others).
    splits = {"pool": pool, "n_tiles": len(free), "n_groups": len(groups), "dropped_overlap": dropped}
    if official_test is not None:
        splits["n_official_test"] = int(official.sum())
    held_out = {name: [t.tile_id for t, r in zip(tiles, region, strict=True) if r == name] for name in HELD_OUT}
    sets = _nonempty_sets(splits, held_out, tiles, groups, group_by, fractions)
    counts = {name: len(ids) for name, ids in sets.items()}
    # Weak tiles touching a strong tile sit out at this fraction (other fractions may keep them).
    splits["dropped_overlap"] = dropped + len(pool) - counts["strong"] - counts["weak"]
    dropped = splits["dropped_overlap"]
    log.info("split %d tiles in %d groups: %s (%d dropped for overlap)", len(tiles), len(groups), counts, dropped)
    settings = {"fractions": fractions, "group_by": group_by, "block_size": block_size, "seed": seed}
    if official_test is not None:
        settings["official_test"] = official_test_name or True
    return {"sets": sets, "counts": counts, **splits, "settings": settings}


def _assign_regions(keys: list[str], groups: list[str], fractions: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle the groups with ``seed``, lay them end to end (val, test, pool), and place each by its midpoint.

    Returns:
        region: (n_tiles,) object array of ``val``, ``test`` or ``pool``.
        rank: (n_tiles,) float64, the tile's group midpoint in tiles from the pool's start.
    """
    members = defaultdict(list)
    for index, key in enumerate(keys):
        members[key].append(index)
    shares = [fractions.get("val", 0), fractions.get("test", 0), fractions["strong"] + fractions["weak"]]
    bounds = np.cumsum(shares) * len(keys)
    region, rank = np.empty(len(keys), dtype=object), np.zeros(len(keys))
    start = 0
    for g in np.random.default_rng(seed).permutation(len(groups)):
        group = members[groups[g]]
        middle = start + len(group) / 2
        region[group] = _LAYOUT[min(int(np.searchsorted(bounds, middle)), len(_LAYOUT) - 1)]
        rank[group] = middle - bounds[1]
        start += len(group)
    return region, rank


def _nonempty_sets(splits: dict, held_out: dict, tiles, groups, group_by: str, fractions: dict) -> dict:
    """The sets at the reference strong fraction; a set that came out empty raises (see :func:`_empty_set`)."""
    for name in HELD_OUT:
        if not held_out[name] and fractions.get(name, 0) > 0:
            _empty_set(name, tiles, groups, group_by, fractions)
    pool = splits["pool"]
    if not pool:
        _empty_set("strong", tiles, groups, group_by, fractions)
    try:
        return sets_at_fraction({**splits, "sets": held_out}, fractions["strong"])
    except WeaksegError:
        bound = fractions["strong"] * splits["n_tiles"]
        empty = "strong" if not any(r["rank"] < bound for r in pool.values()) else "weak"
        _empty_set(empty, tiles, groups, group_by, fractions)


def _empty_set(name: str, tiles: list[Tile], groups: list[str], group_by: str, fractions: dict) -> None:
    raise WeaksegError(
        f"split: set {name!r} would be empty: {len(tiles)} tiles in {len(groups)} groups "
        f"(group_by: {group_by}), split.fractions.{name} = {fractions.get(name)}; use more or smaller tiles, "
        "a finer group_by, or a larger fraction"
    )


def _neighbours(tiles: list[Tile], tile_size: int) -> dict[int, list[int]]:
    neighbours = defaultdict(list)
    for a, b in overlapping_pairs(tiles, tile_size):
        neighbours[a].append(b)
        neighbours[b].append(a)
    return neighbours


def _neighbour_rank(
    index: int, neighbours: dict, region: np.ndarray, keys: list[str], rank: np.ndarray
) -> float | None:
    """Lowest rank of a pool tile of another group that overlaps tile ``index``, or None."""
    ranks = [rank[n] for n in neighbours[index] if region[n] == "pool" and keys[n] != keys[index]]
    return float(min(ranks)) if ranks else None


def _drop_overlaps(neighbours: dict[int, list[int]], region: np.ndarray) -> int:
    """Set ``region`` to None for tiles overlapping a kept tile of a higher-priority region."""
    kept: set[int] = set()
    dropped = 0
    for name in _LAYOUT:
        for index in np.flatnonzero(region == name):
            if any(n in kept and region[n] != name for n in neighbours[index]):
                region[index] = None
                dropped += 1
            else:
                kept.add(int(index))
    return dropped
