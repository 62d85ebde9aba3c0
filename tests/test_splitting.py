"""Splitting into strong / weak / val: disjoint sets, no pixel shared across sets, checked settings."""

import numpy as np
import pytest
from conftest import grid_tiles

from weakseg.data.splitting import split_tiles
from weakseg.io.errors import WeaksegError

FRACTIONS = {"strong": 0.1, "weak": 0.7, "val": 0.2}


def scenes_of_tiles(n_scenes: int, size: int, tile_size: int, stride: int):
    return [t for s in range(n_scenes) for t in grid_tiles(f"scene{s}", size, size, tile_size, stride)]


def set_of(splits: dict) -> dict:
    owner = {}
    for name, ids in splits["sets"].items():
        for tile_id in ids:
            assert tile_id not in owner, f"{tile_id} is in {owner[tile_id]} and {name}"
            owner[tile_id] = name
    return owner


def assert_no_shared_pixels(tiles, tile_size, splits):
    """Brute force over all tile pairs: overlapping tiles (same scene) never sit in different sets."""
    owner = set_of(splits)
    kept = [t for t in tiles if t.tile_id in owner]
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            if a.scene == b.scene and abs(a.y - b.y) < tile_size and abs(a.x - b.x) < tile_size:
                assert owner[a.tile_id] == owner[b.tile_id], (
                    f"{a.tile_id} ({owner[a.tile_id]}) overlaps {b.tile_id} ({owner[b.tile_id]})"
                )


def test_sets_are_disjoint_and_follow_the_fractions():
    tiles = scenes_of_tiles(4, 320, 32, 32)  # 400 tiles, no overlap
    splits = split_tiles(tiles, 32, 32, FRACTIONS, group_by="tile", seed=3)
    owner = set_of(splits)
    assert set(owner) == {t.tile_id for t in tiles}  # nothing dropped without overlap
    assert splits["dropped_overlap"] == 0
    for name, fraction in FRACTIONS.items():
        assert abs(len(splits["sets"][name]) - fraction * len(tiles)) <= 1
        assert splits["counts"][name] == len(splits["sets"][name])
    # ids listed in tiles.csv order
    order = {t.tile_id: i for i, t in enumerate(tiles)}
    for ids in splits["sets"].values():
        assert [order[i] for i in ids] == sorted(order[i] for i in ids)
    assert splits["n_tiles"] == len(tiles)


@pytest.mark.parametrize("group_by,block_size", [("block", 2), ("block", 3), ("scene", 4)])
def test_overlapping_tiles_never_end_up_in_different_sets(group_by, block_size):
    tile_size, stride = 32, 16
    tiles = scenes_of_tiles(6, 200, tile_size, stride)  # border-aligned last tiles, 50% overlap
    splits = split_tiles(tiles, tile_size, stride, FRACTIONS, group_by=group_by, block_size=block_size, seed=1)
    assert_no_shared_pixels(tiles, tile_size, splits)
    owner = set_of(splits)
    assert all(splits["sets"][name] for name in FRACTIONS)
    assert len(owner) + splits["dropped_overlap"] == len(tiles)
    if group_by == "scene":
        # whole scenes go to one set: nothing needs dropping
        assert splits["dropped_overlap"] == 0
        for scene in {t.scene for t in tiles}:
            assert len({owner[t.tile_id] for t in tiles if t.scene == scene}) == 1
    else:
        assert splits["dropped_overlap"] > 0  # block borders overlap, so something had to go


def test_border_tiles_with_stride_equal_to_tile_size_do_not_leak():
    # 100 px with tile 32: offsets 0, 32, 64, 68 -- the border tile overlaps its neighbour
    tiles = scenes_of_tiles(10, 100, 32, 32)
    splits = split_tiles(tiles, 32, 32, {"strong": 0.3, "weak": 0.4, "val": 0.3}, group_by="tile", seed=0)
    assert_no_shared_pixels(tiles, 32, splits)


def test_group_by_tile_with_overlap_is_refused():
    tiles = scenes_of_tiles(1, 96, 32, 16)
    with pytest.raises(WeaksegError, match="group_by") as error:
        split_tiles(tiles, 32, 16, FRACTIONS, group_by="tile")
    assert "16" in str(error.value) and "32" in str(error.value)


def test_unknown_group_by_is_refused():
    with pytest.raises(WeaksegError, match="group_by"):
        split_tiles(scenes_of_tiles(1, 96, 32, 32), 32, 32, FRACTIONS, group_by="pixel")


@pytest.mark.parametrize(
    "fractions,fragment",
    [
        ({"strong": 0.2, "weak": 0.7, "val": 0.2}, "sum"),
        ({"strong": 0.1, "weak": 0.7, "val": 0.1}, "sum"),
        ({"strong": 0.0, "weak": 0.8, "val": 0.2}, "strong"),
        ({"strong": -0.1, "weak": 0.9, "val": 0.2}, "strong"),
        ({"strong": 0.3, "weak": 0.7}, "val"),
        ({"strong": 0.1, "weak": 0.6, "val": 0.2, "holdout": 0.1}, "holdout"),
    ],
)
def test_bad_fractions_are_refused(fractions, fragment):
    with pytest.raises(WeaksegError, match="split.fractions") as error:
        split_tiles(scenes_of_tiles(2, 128, 32, 32), 32, 32, fractions)
    assert fragment in str(error.value)


def test_a_set_that_would_be_empty_names_tile_count_and_fraction():
    tiles = scenes_of_tiles(1, 96, 32, 32)  # 9 tiles: 1% of them is no tile at all
    fractions = {"strong": 0.01, "weak": 0.79, "val": 0.2}
    with pytest.raises(WeaksegError) as error:
        split_tiles(tiles, 32, 32, fractions, group_by="tile", seed=0)
    message = str(error.value)
    assert "'strong'" in message and "empty" in message
    assert "9 tiles" in message and "0.01" in message


def test_group_by_scene_with_too_few_scenes_is_refused():
    tiles = scenes_of_tiles(2, 96, 32, 32)  # 2 scenes cannot fill 3 sets
    with pytest.raises(WeaksegError, match="empty") as error:
        split_tiles(tiles, 32, 32, FRACTIONS, group_by="scene")
    assert "18 tiles" in str(error.value)


def test_same_seed_same_split_other_seed_other_split():
    tiles = scenes_of_tiles(3, 256, 32, 32)
    first = split_tiles(tiles, 32, 32, FRACTIONS, group_by="tile", seed=7)
    again = split_tiles(list(tiles), 32, 32, dict(FRACTIONS), group_by="tile", seed=7)
    other = split_tiles(tiles, 32, 32, FRACTIONS, group_by="tile", seed=8)
    assert first == again
    assert first["sets"] != other["sets"]
    assert first["counts"] == other["counts"]  # the seed moves tiles, not the sizes
    assert first["settings"]["seed"] == 7 and other["settings"]["seed"] == 8
    # blocks: also reproducible, and the seed matters
    tiles = scenes_of_tiles(3, 256, 32, 16)
    a = split_tiles(tiles, 32, 16, FRACTIONS, group_by="block", block_size=2, seed=0)
    b = split_tiles(tiles, 32, 16, FRACTIONS, group_by="block", block_size=2, seed=0)
    c = split_tiles(tiles, 32, 16, FRACTIONS, group_by="block", block_size=2, seed=5)
    assert a == b and a["sets"] != c["sets"]


def test_blocks_group_neighbouring_tiles():
    tiles = scenes_of_tiles(2, 256, 32, 32)
    splits = split_tiles(
        tiles, 32, 32, {"strong": 0.25, "weak": 0.5, "val": 0.25}, group_by="block", block_size=4, seed=2
    )
    owner = set_of(splits)
    for t in tiles:  # a block is 4 x 4 tiles = 128 x 128 px
        same_block = [u for u in tiles if u.scene == t.scene and u.y // 128 == t.y // 128 and u.x // 128 == t.x // 128]
        assert len(same_block) == 16
        assert {owner[u.tile_id] for u in same_block} == {owner[t.tile_id]}
    assert splits["n_groups"] == 8


def brute_force_pairs(tiles, tile_size):
    return {
        (i, j)
        for i, a in enumerate(tiles)
        for j, b in enumerate(tiles)
        if i < j and a.scene == b.scene and abs(a.y - b.y) < tile_size and abs(a.x - b.x) < tile_size
    }


def test_overlapping_pairs_match_brute_force_on_irregular_positions():
    from weakseg.data.splitting import overlapping_pairs
    from weakseg.formats.tiles import Tile

    rng = np.random.default_rng(0)
    tiles = [
        Tile(f"t{i}", f"s{rng.integers(3)}", int(rng.integers(0, 200)), int(rng.integers(0, 200)), 1.0)
        for i in range(400)
    ]
    tiles += [Tile("dup", tiles[0].scene, tiles[0].y, tiles[0].x, 1.0)]  # same position: overlaps
    for tile_size in (1, 16, 32, 64):
        pairs = overlapping_pairs(tiles, tile_size)
        assert len(pairs) == len(set(pairs))
        assert set(pairs) == brute_force_pairs(tiles, tile_size)
        assert all(i < j for i, j in pairs)


def test_overlapping_pairs_memory_stays_linear_in_the_tile_count():
    """A 3000 px scene in 32 px tiles (8836 tiles): an all-pairs matrix would need ~0.6 GB per array."""
    import tracemalloc

    from weakseg.data.splitting import overlapping_pairs

    tiles = grid_tiles("big", 3000, 3000, 32, 32)
    assert len(tiles) == 94 * 94
    tracemalloc.start()
    try:
        pairs = overlapping_pairs(tiles, 32)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # only the border-aligned last row and column overlap their neighbours: 94 pairs of rows side
    # by side, 94 of columns, and the 2 diagonal pairs of the four corner tiles
    assert len(pairs) == 94 + 94 + 2
    assert peak < 50e6, f"peak {peak / 1e6:.0f} MB"
