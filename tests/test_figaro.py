"""Figaro1k: the adapter on the real sample archive, its errors, and the official test split."""

import io
import zipfile

import numpy as np
import pytest
from conftest import SHARED_DATA, _require, tile_files
from PIL import Image

from weakseg.data.prepare import prepare_scene
from weakseg.data.splitting import split_tiles
from weakseg.data.tiling import write_tiles
from weakseg.datasets import get_dataset
from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError

FIGARO_ZIP = SHARED_DATA / "figaro1k" / "Figaro1k.zip"


def _fetch(tmp_path, folder):
    raw = tmp_path / "raw"
    raw.mkdir()
    settings = {"source": {"folder": str(folder), "md5": {"Figaro1k.zip": "skip"}}}
    return raw, get_dataset("figaro1k").fetch_scenes(raw, settings)


def test_the_adapter_reads_the_official_layout_and_maps_hair_to_class_1(tmp_path):
    _require(FIGARO_ZIP)
    raw, scenes = _fetch(tmp_path, FIGARO_ZIP.parent)
    names = [s.scene for s in scenes]
    assert sum(n.startswith("Training_") for n in names) == 70
    assert sum(n.startswith("Testing_") for n in names) == 110
    adapter = get_dataset("figaro1k")
    assert adapter.class_names == ("background", "hair")
    checked = 0
    for scene in scenes[:3] + scenes[-3:]:
        image, label = prepare_scene(raw / scene.image, raw / scene.label, adapter)
        with zipfile.ZipFile(FIGARO_ZIP) as archive:
            part, frame = scene.scene.split("_")
            bits = np.asarray(Image.open(io.BytesIO(archive.read(f"Figaro1k/GT/{part}/{frame}-gt.pbm"))))
        assert bits.dtype == bool
        assert image.shape[:2] == label.shape and image.shape[2] == 3
        np.testing.assert_array_equal(label == 1, bits)
        np.testing.assert_array_equal(label == 0, ~bits)
        assert 0 < bits.mean() < 1
        checked += 1
    assert checked == 6


def _figaro_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _encoded(array, mode, fmt):
    buffer = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def test_an_image_without_its_mask_is_refused_naming_it(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    jpeg = _encoded(np.zeros((40, 30, 3), np.uint8), "RGB", "JPEG")
    mask = _encoded(np.zeros((40, 30), np.uint8), "1", "PPM")
    _figaro_zip(
        folder / "Figaro1k.zip",
        {
            "Figaro1k/Original/Training/Frame00001-org.jpg": jpeg,
            "Figaro1k/GT/Training/Frame00001-gt.pbm": mask,
            "Figaro1k/Original/Training/Frame00002-org.jpg": jpeg,
        },
    )
    with pytest.raises(WeaksegError, match="Frame00002-org.jpg .*has no mask"):
        _fetch(tmp_path, folder)


def test_a_mask_that_is_not_1_bit_or_of_another_size_is_refused_naming_the_file(tmp_path):
    adapter = get_dataset("figaro1k")
    grey = tmp_path / "grey-gt.pgm"
    Image.fromarray(np.zeros((20, 10), np.uint8)).save(grey)
    with pytest.raises(WeaksegError, match="grey-gt.pgm: expected a 1-bit mask"):
        adapter.read_label(grey)
    image, small = tmp_path / "image.png", tmp_path / "small-gt.pbm"
    Image.fromarray(np.zeros((20, 10, 3), np.uint8)).save(image)
    Image.fromarray(np.zeros((20, 12), np.uint8)).convert("1").save(small)
    with pytest.raises(WeaksegError, match="small-gt.pbm"):
        prepare_scene(image, small, adapter)


def test_varying_sizes_are_tiled_at_the_shorter_side_without_stretching(tmp_path):
    shapes = {"Training_a": (300, 450), "Training_b": (500, 250)}
    scenes = []
    for scene, (h, w) in shapes.items():
        folder = tmp_path / scene
        folder.mkdir()
        np.save(folder / "image.npy", np.zeros((h, w, 3), np.uint8))
        np.save(folder / "label.npy", np.ones((h, w), np.uint8))
        scenes.append((scene, folder / "image.npy", folder / "label.npy"))
    tiles = write_tiles(scenes, 64, 64, 0.5, tile_files(tmp_path / "tiles"), shorter_side=64, n_classes=2)
    # 300 x 450 -> 64 x 96 (two tiles across); 500 x 250 -> 128 x 64 (two tiles down)
    assert {(t.scene, t.y, t.x) for t in tiles} == {
        ("Training_a", 0, 0),
        ("Training_a", 0, 32),
        ("Training_b", 0, 0),
        ("Training_b", 64, 0),
    }


def test_the_official_test_scenes_are_the_test_set_and_fractions_split_the_rest():
    tiles = [Tile(f"Training_{i}_t", f"Training_{i}", 0, 0, 1.0) for i in range(50)]
    tiles += [Tile(f"Testing_{i}_t", f"Testing_{i}", 0, 0, 1.0) for i in range(30)]
    figaro = get_dataset("figaro1k")
    splits = split_tiles(
        tiles, 64, 64, {"strong": 0.1, "weak": 0.7, "val": 0.2}, "scene", 4, 0, figaro.is_official_test
    )
    sets = splits["sets"]
    assert sorted(sets["test"]) == sorted(t.tile_id for t in tiles if t.scene.startswith("Testing_"))
    assert not any(t.startswith("Testing_") for name in ("strong", "weak", "val") for t in sets[name])
    assert (len(sets["strong"]), len(sets["weak"]), len(sets["val"])) == (5, 35, 10)
    with pytest.raises(WeaksegError, match="split.use_official_test: no scene is in the official test set"):
        split_tiles(tiles, 64, 64, {"strong": 0.1, "weak": 0.7, "val": 0.2}, "scene", 4, 0, lambda scene: False)
