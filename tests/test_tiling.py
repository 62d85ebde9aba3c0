"""Tiling: every pixel covered, last tile on the border, arrays in tiles.csv order."""

import csv

import numpy as np
import pytest
from conftest import tile_files

from weakseg.data.tiling import plan_tiles, tile_offsets, write_tiles
from weakseg.formats.tiles import read_tiles
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX

SIZES = [(100, 77, 32, 24), (100, 77, 32, 32), (64, 64, 32, 32), (33, 95, 32, 7), (50, 50, 50, 10)]


@pytest.mark.parametrize("height,width,tile_size,stride", SIZES)
def test_tiles_cover_every_pixel_with_last_tile_on_the_border(height, width, tile_size, stride):
    label = np.zeros((height, width), dtype=np.uint8)
    tiles = plan_tiles("s", label, tile_size, stride, min_labeled_fraction=0.0)
    covered = np.zeros((height, width), dtype=int)
    for t in tiles:
        assert 0 <= t.y <= height - tile_size and 0 <= t.x <= width - tile_size, t  # inside the scene
        covered[t.y : t.y + tile_size, t.x : t.x + tile_size] += 1
    assert covered.min() >= 1, f"uncovered pixels: {np.argwhere(covered == 0)[:5]}"
    ys, xs = sorted({t.y for t in tiles}), sorted({t.x for t in tiles})
    assert ys[0] == 0 and xs[0] == 0
    assert ys[-1] == height - tile_size and xs[-1] == width - tile_size  # aligned to the border
    # every step but the last (border) one is the stride
    for offsets in (ys, xs):
        steps = np.diff(offsets)
        assert all(s == stride for s in steps[:-1]), offsets
        if len(steps):
            assert 0 < steps[-1] <= stride
    assert len(tiles) == len(ys) * len(xs)


def test_offsets_for_a_size_that_is_not_a_multiple_of_the_stride():
    # 100 px, tile 32, stride 24: 0, 24, 48 (ends at 80), then one tile on the border at 68
    assert tile_offsets(100, 32, 24) == [0, 24, 48, 68]
    # 77 px, stride == tile: 0, 32 (ends at 64), border tile at 45
    assert tile_offsets(77, 32, 32) == [0, 32, 45]
    assert tile_offsets(64, 32, 32) == [0, 32]  # exact fit: no extra tile
    assert tile_offsets(32, 32, 5) == [0]


def test_tile_larger_than_scene_names_the_sizes():
    with pytest.raises(WeaksegError) as error:
        plan_tiles("area4", np.zeros((40, 77), np.uint8), 64, 64, 0.0)
    message = str(error.value)
    assert "area4" in message and "64" in message and "40" in message and "77" in message
    with pytest.raises(WeaksegError, match="64 px is larger than the scene side of 40 px"):
        tile_offsets(40, 64, 64)


@pytest.mark.parametrize("tile_size,stride", [(0, 4), (8, 0), (8, -1)])
def test_non_positive_sizes_are_refused(tile_size, stride):
    with pytest.raises(WeaksegError):
        tile_offsets(100, tile_size, stride)


def test_min_labeled_fraction_drops_tiles_and_records_the_fraction():
    label = np.zeros((64, 64), dtype=np.uint8)
    label[:32, :32] = IGNORE_INDEX  # top-left tile fully unlabelled
    label[:32, 32:48] = IGNORE_INDEX  # top-right tile half unlabelled
    label[32:, :8] = IGNORE_INDEX  # bottom-left tile: 8 of 32 columns unlabelled
    tiles = {(t.y, t.x): t.labeled_fraction for t in plan_tiles("s", label, 32, 32, 0.5)}
    assert tiles == {(0, 32): 0.5, (32, 0): 0.75, (32, 32): 1.0}
    tiles = {(t.y, t.x) for t in plan_tiles("s", label, 32, 32, 0.0)}
    assert (0, 0) not in tiles  # a tile without any labelled pixel is always dropped
    assert len(tiles) == 3
    assert {(t.y, t.x) for t in plan_tiles("s", label, 32, 32, 0.8)} == {(32, 32)}


def test_written_arrays_hold_the_scene_pixels_of_each_csv_row(tmp_path):
    rng = np.random.default_rng(1)
    scenes = []
    for name, (h, w) in {"a": (100, 77), "b": (40, 50)}.items():
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        label = rng.integers(0, 6, (h, w), dtype=np.uint8)
        label[:5] = IGNORE_INDEX
        np.save(tmp_path / f"{name}_image.npy", image)
        np.save(tmp_path / f"{name}_label.npy", label)
        scenes.append((name, tmp_path / f"{name}_image.npy", tmp_path / f"{name}_label.npy"))
    out = tmp_path / "tiles"
    tiles = write_tiles(scenes, 32, 24, 0.0, tile_files(out), n_classes=6)
    images, masks = np.load(out / "images.npy"), np.load(out / "masks.npy")
    read = read_tiles(out / "tiles.csv")
    assert [t.tile_id for t in read] == [t.tile_id for t in tiles]
    assert len(set(t.tile_id for t in read)) == len(read)
    assert images.shape == (len(read), 32, 32, 3) and images.dtype == np.uint8
    assert masks.shape == (len(read), 32, 32) and masks.dtype == np.uint8
    sources = {name: (np.load(image), np.load(label)) for name, image, label in scenes}
    for row, t in enumerate(read):
        image, label = sources[t.scene]
        np.testing.assert_array_equal(images[row], image[t.y : t.y + 32, t.x : t.x + 32])
        np.testing.assert_array_equal(masks[row], label[t.y : t.y + 32, t.x : t.x + 32])
        assert t.labeled_fraction == pytest.approx((masks[row] != IGNORE_INDEX).mean(), abs=1e-6)
        counts = np.load(out / "class_pixels.npy")[row]
        np.testing.assert_array_equal(counts, [(masks[row] == k).sum() for k in range(6)])
    with open(out / "tiles.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["tile_id", "scene", "y", "x", "labeled_fraction"]
    assert not list(out.glob(".*.partial"))


def test_write_tiles_refuses_a_scene_smaller_than_the_tile_and_writes_nothing(tmp_path):
    np.save(tmp_path / "image.npy", np.zeros((30, 90, 3), np.uint8))
    np.save(tmp_path / "label.npy", np.zeros((30, 90), np.uint8))
    scene = (tmp_path / "image.npy", tmp_path / "label.npy")
    with pytest.raises(WeaksegError, match="30x90"):
        write_tiles([("small", *scene)], 32, 32, 0.5, tile_files(tmp_path / "tiles"), n_classes=6)
    assert not (tmp_path / "tiles").exists() or not any((tmp_path / "tiles").iterdir())


def test_write_tiles_refuses_when_no_tile_is_kept(tmp_path):
    np.save(tmp_path / "image.npy", np.zeros((64, 64, 3), np.uint8))
    np.save(tmp_path / "label.npy", np.full((64, 64), IGNORE_INDEX, np.uint8))
    scene = (tmp_path / "image.npy", tmp_path / "label.npy")
    with pytest.raises(WeaksegError, match="min_labeled_fraction"):
        write_tiles([("empty", *scene)], 32, 32, 0.5, tile_files(tmp_path / "tiles"), n_classes=6)
    assert not (tmp_path / "tiles" / "tiles.csv").exists()
