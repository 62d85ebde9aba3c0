"""Data stages that stream: band-by-band prepare and row-by-row tiling give the arrays of the whole-scene code."""

import numpy as np
import tifffile
from conftest import tile_files

import weakseg.data.prepare as prepare
from weakseg.data.tiling import write_tiles
from weakseg.datasets import get_dataset
from weakseg.datasets.synthetic_scene import generate_scene
from weakseg.io.labels import class_pixel_counts


def _scene(tmp_path, seed=0, height=150, width=130):
    image, label = generate_scene(seed, height, width)
    palette = get_dataset("vaihingen").palette_array
    rgb = palette[label]
    rgb[:3] = 0  # a black (ignore) border, as in the eroded labels
    tifffile.imwrite(tmp_path / f"image{seed}.tif", image, photometric="rgb")
    tifffile.imwrite(tmp_path / f"label{seed}.tif", rgb, photometric="rgb")
    return tmp_path / f"image{seed}.tif", tmp_path / f"label{seed}.tif"


def test_a_tiff_scene_prepared_band_by_band_equals_the_whole_scene(tmp_path, monkeypatch):
    image_path, label_path = _scene(tmp_path)
    adapter = get_dataset("vaihingen")
    image, label = prepare.prepare_scene(image_path, label_path, adapter)
    monkeypatch.setattr(prepare, "BAND_ROWS", 7)  # 150 rows: 21 full bands and a short one
    prepare.prepare_to_files(image_path, label_path, adapter, tmp_path / "image.npy", tmp_path / "label.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "image.npy"), image)
    np.testing.assert_array_equal(np.load(tmp_path / "label.npy"), label)
    assert (label[:3] == 255).all() and (label[3:] != 255).all()


def test_tiles_written_row_by_row_are_the_scenes_crops_with_their_class_counts(tmp_path):
    adapter = get_dataset("vaihingen")
    scenes = []
    for seed in (0, 1):
        image_path, label_path = _scene(tmp_path, seed)
        out = tmp_path / f"prepared{seed}"
        out.mkdir()
        prepare.prepare_to_files(image_path, label_path, adapter, out / "image.npy", out / "label.npy")
        scenes.append((f"s{seed}", str(out / "image.npy"), str(out / "label.npy")))
    tiles = write_tiles(scenes, 32, 24, 0.5, tile_files(tmp_path / "tiles"), n_classes=6)
    images, masks = np.load(tmp_path / "tiles/images.npy"), np.load(tmp_path / "tiles/masks.npy")
    assert len(tiles) == len(images) == len(masks) > 10
    for row, tile in enumerate(tiles):
        scene = {s: (np.load(i), np.load(m)) for s, i, m in scenes}[tile.scene]
        np.testing.assert_array_equal(images[row], scene[0][tile.y : tile.y + 32, tile.x : tile.x + 32])
        np.testing.assert_array_equal(masks[row], scene[1][tile.y : tile.y + 32, tile.x : tile.x + 32])
        assert tile.labeled_fraction == np.mean(masks[row] != 255)
    np.testing.assert_array_equal(np.load(tmp_path / "tiles/class_pixels.npy"), class_pixel_counts(masks, 6))


def test_a_scoring_label_decoded_band_by_band_equals_the_whole_label(tmp_path, monkeypatch):
    image_path, label_path = _scene(tmp_path)
    adapter = get_dataset("vaihingen")
    whole = prepare.prepare_scoring_label(label_path, (150, 130), adapter)
    monkeypatch.setattr(prepare, "BAND_ROWS", 11)
    prepare.prepare_scoring_to_file(label_path, (150, 130), adapter, tmp_path / "scoring_label.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "scoring_label.npy"), whole)
    assert (whole[:3] == 255).all()
