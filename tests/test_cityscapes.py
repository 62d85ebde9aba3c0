"""The Cityscapes adapter: official label mapping, layouts (folders, archives), cities, test split, sequences."""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import CITYSCAPES_FRAME
from PIL import Image

from weakseg.data.download import download
from weakseg.data.prepare import prepare_scene
from weakseg.data.splitting import split_tiles
from weakseg.datasets import get_dataset
from weakseg.datasets.cityscapes import _write_synthetic_cities
from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError

CITYSCAPES = get_dataset("cityscapes")
SYNTHETIC = {"n_scenes": 2, "height": 64, "width": 128, "seed": 0, "pan": 2, "frame_noise": 5.0}


def test_label_ids_map_to_the_official_train_ids_pixel_for_pixel(cityscapes_dir):
    """Our train ids equal the official labelTrainIds file wherever the sample's two files agree spatially.

    The sample's labelIds and labelTrainIds files were downscaled (to 256 x 128) separately by
    their publisher, so they disagree on 77 of 32768 pixels, every one within 2 px of a class
    border in labelIds (1-px poles included). Away from borders the mapping must be exact, and
    overall at least 99.7% of the pixels must agree.
    """
    labels = cityscapes_dir / "gtFine/val/frankfurt"
    raw = CITYSCAPES.read_label(labels / f"{CITYSCAPES_FRAME}_gtFine_labelIds.png")
    train_ids, _ = CITYSCAPES.label_to_index(raw, "frame")
    official = np.asarray(Image.open(labels / f"{CITYSCAPES_FRAME}_gtFine_labelTrainIds.png"))
    assert train_ids.dtype == np.uint8 and train_ids.shape == official.shape
    label_ids = raw[..., 0]
    padded = np.pad(label_ids, 2, mode="edge")
    height, width = label_ids.shape
    near_border = np.zeros(label_ids.shape, dtype=bool)
    for dy in range(5):
        for dx in range(5):
            near_border |= padded[dy : dy + height, dx : dx + width] != label_ids
    assert (~near_border).mean() > 0.6
    np.testing.assert_array_equal(train_ids[~near_border], official[~near_border])
    assert (train_ids == official).mean() >= 0.997
    assert len(np.unique(official[official != 255])) >= 5  # a real street scene, not a blank


def test_the_nineteen_classes_and_palette_are_the_official_ones():
    assert CITYSCAPES.n_classes == 19
    assert CITYSCAPES.class_names[:3] == ("road", "sidewalk", "building")
    assert CITYSCAPES.class_names[-1] == "bicycle"
    assert CITYSCAPES.palette[0] == (128, 64, 128) and CITYSCAPES.palette[13] == (0, 0, 142)  # road, car


def test_the_real_frame_is_read_from_the_extracted_folders_and_resized(tmp_path, cityscapes_dir):
    scenes = download(tmp_path / "raw", {"name": "cityscapes", "source": {"folder": str(cityscapes_dir)}})
    assert [s.scene for s in scenes] == [f"val_{CITYSCAPES_FRAME}"]
    assert CITYSCAPES.is_official_test(scenes[0].scene)
    assert CITYSCAPES.scene_group(scenes[0].scene) == "frankfurt"
    image, label = prepare_scene(
        tmp_path / "raw" / scenes[0].image, tmp_path / "raw" / scenes[0].label, CITYSCAPES, size=(224, 448)
    )
    assert image.shape == (224, 448, 3) and label.shape == (224, 448)
    official = np.asarray(
        Image.open(cityscapes_dir / f"gtFine/val/frankfurt/{CITYSCAPES_FRAME}_gtFine_labelTrainIds.png")
    )
    assert set(np.unique(label)) <= set(np.unique(official))  # nearest neighbour: no new class value


def _official_layout(root: Path, test_city: bool = True) -> Path:
    """Two synthetic cities (train, val) in the official naming with 3-frame sequences, plus a test city."""
    _write_synthetic_cities(
        root, {"synthetic_cities": {"train": 1, "val": 1}, "synthetic": SYNTHETIC, "sequence_length": 3}
    )
    if test_city:
        for folder, suffix in (("gtFine", "gtFine_labelIds"), ("leftImg8bit", "leftImg8bit")):
            source = next((root / folder / "val/synthval0").glob(f"*_{suffix}.png"))
            target = root / folder / "test/berlin" / f"berlin_000000_000019_{suffix}.png"
            target.parent.mkdir(parents=True)
            shutil.copyfile(source, target)
    return root


def test_the_test_split_is_skipped_and_said_so(tmp_path, caplog):
    folder = _official_layout(tmp_path / "cityscapes")
    with caplog.at_level(logging.INFO):
        scenes = download(tmp_path / "raw", {"name": "cityscapes", "source": {"folder": str(folder)}})
    assert not any("berlin" in s.scene for s in scenes)
    assert {s.scene.split("_")[0] for s in scenes} == {"train", "val"}
    assert "1 frames of the test split skipped: its labels are not public" in caplog.text


def test_archives_give_the_same_scenes_as_folders_and_cities_restrict(tmp_path):
    folder = _official_layout(tmp_path / "cityscapes")
    archives = tmp_path / "archives"
    archives.mkdir()
    for name, top in (
        ("gtFine_trainvaltest.zip", "gtFine"),
        ("leftImg8bit_trainvaltest.zip", "leftImg8bit"),
        ("leftImg8bit_sequence_trainvaltest.zip", "leftImg8bit_sequence"),
    ):
        with zipfile.ZipFile(archives / name, "w") as handle:
            for path in sorted((folder / top).rglob("*.png")):
                handle.write(path, path.relative_to(folder).as_posix())
    skip = {name: "skip" for name in CITYSCAPES.archives.values()}
    settings = {"name": "cityscapes", "sequence_length": 3}
    from_folder = download(tmp_path / "a/raw", {**settings, "source": {"folder": str(folder)}})
    from_zip = download(tmp_path / "b/raw", {**settings, "source": {"folder": str(archives), "md5": skip}})
    assert [s.scene for s in from_zip] == [s.scene for s in from_folder] and len(from_zip) == 4
    for scene_a, scene_b in zip(from_folder, from_zip, strict=True):
        for a, b in zip((scene_a.image, *scene_a.frames), (scene_b.image, *scene_b.frames), strict=True):
            assert (tmp_path / "a/raw" / a).read_bytes() == (tmp_path / "b/raw" / b).read_bytes()
    only_val = download(
        tmp_path / "c/raw", {**settings, "source": {"folder": str(archives), "md5": skip}, "cities": ["synthval0"]}
    )
    assert [s.scene for s in only_val] == ["val_synthval0_000000_000019", "val_synthval0_000001_000019"]


def test_a_sequence_sample_is_the_frames_ending_at_the_annotated_one_in_order(tmp_path):
    folder = _official_layout(tmp_path / "cityscapes", test_city=False)
    scenes = download(tmp_path / "raw", {"name": "cityscapes", "source": {"folder": str(folder)}, "sequence_length": 3})
    scene = scenes[0]
    assert [Path(f).name for f in scene.frames] == [
        "synthtrain0_000000_000017_leftImg8bit.png",
        "synthtrain0_000000_000018_leftImg8bit.png",
    ]
    raw = tmp_path / "raw"
    image, _ = prepare_scene(raw / scene.image, raw / scene.label, CITYSCAPES, frames=[raw / f for f in scene.frames])
    expected = [np.asarray(Image.open(raw / f)) for f in (*scene.frames, scene.image)]
    np.testing.assert_array_equal(image, np.concatenate(expected, axis=2))


def test_a_missing_frame_is_an_error_naming_it(tmp_path):
    folder = _official_layout(tmp_path / "cityscapes", test_city=False)
    (folder / "leftImg8bit_sequence/val/synthval0/synthval0_000001_000017_leftImg8bit.png").unlink()
    with pytest.raises(WeaksegError, match=r"synthval0_000001_000017_leftImg8bit\.png is missing"):
        download(tmp_path / "raw", {"name": "cityscapes", "source": {"folder": str(folder)}, "sequence_length": 3})
    assert not (tmp_path / "raw").exists()


def test_group_by_city_keeps_every_city_in_one_set():
    tiles = [
        Tile(f"{split}_{city}_00000{s}_000019_y0_x{x}", f"{split}_{city}_00000{s}_000019", 0, x, 1.0)
        for split, city in [("train", f"city{c}") for c in range(12)]
        for s in range(2)
        for x in (0, 64)
    ]
    splits = split_tiles(
        tiles, 64, 64, {"strong": 0.1, "weak": 0.7, "val": 0.2}, "city", seed=3, scene_group=CITYSCAPES.scene_group
    )
    set_of = {t: name for name, ids in splits["sets"].items() for t in ids}
    for c in range(12):
        assert len({set_of[t.tile_id] for t in tiles if f"_city{c}_" in t.tile_id}) == 1
    assert all(splits["sets"][name] for name in ("strong", "weak", "val"))
