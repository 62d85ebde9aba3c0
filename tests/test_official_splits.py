"""Official splits are data on the dataset adapters, and ``split.use_official_test`` scores on them.

The ISPRS lists are compared with those of mmsegmentation's converters
(``tools/dataset_converters/vaihingen.py`` and ``potsdam.py``, whose ``val`` split is the
benchmark's test set), written out here once more so that an edit of either list fails.
"""

import pytest
import yaml
from conftest import REPO, grid_tiles

from weakseg.data.splitting import split_tiles
from weakseg.datasets import get_dataset, official_test_adapter
from weakseg.io.errors import WeaksegError
from weakseg.ops.config import check_task, schema_defaults

MMSEG_VAIHINGEN = {
    "train": "1 11 13 15 17 21 23 26 28 3 30 32 34 37 5 7",
    "test": "6 24 35 16 14 22 10 4 2 20 8 31 33 27 38 12 29",
}
MMSEG_POTSDAM = {
    "train": "2_10 2_11 2_12 3_10 3_11 3_12 4_10 4_11 4_12 5_10 5_11 5_12 6_10 6_11 6_12 6_7 6_8 6_9 7_10 7_11 7_12 "
    "7_7 7_8 7_9",
    "test": "5_15 6_15 6_13 3_13 4_14 6_14 5_14 2_13 4_15 2_14 5_13 4_13 3_14 7_13",
}


def test_vaihingen_names_the_16_training_and_17_test_areas_of_the_benchmark():
    adapter = get_dataset("vaihingen")
    assert set(adapter.official_train_scenes) == {f"area{n}" for n in MMSEG_VAIHINGEN["train"].split()}
    assert set(adapter.official_test_scenes) == {f"area{n}" for n in MMSEG_VAIHINGEN["test"].split()}
    assert (len(adapter.official_train_scenes), len(adapter.official_test_scenes)) == (16, 17)
    everything = set(adapter.official_train_scenes) | set(adapter.official_test_scenes)
    assert everything == {f"area{n}" for n in range(1, 39)} - {"area9", "area18", "area19", "area25", "area36"}


def test_potsdam_names_the_24_training_and_14_test_tiles_of_the_benchmark():
    adapter = get_dataset("potsdam")
    assert set(adapter.official_train_scenes) == set(MMSEG_POTSDAM["train"].split())
    assert set(adapter.official_test_scenes) == set(MMSEG_POTSDAM["test"].split())
    assert not set(adapter.official_train_scenes) & set(adapter.official_test_scenes)
    assert (len(adapter.official_train_scenes), len(adapter.official_test_scenes)) == (24, 14)


def test_the_official_test_areas_are_the_test_set_and_the_rest_is_split():
    adapter = get_dataset("vaihingen")
    scenes = ("area1", "area2", "area3", "area4", "area5")  # area2 and area4 are official test areas
    tiles = [t for scene in scenes for t in grid_tiles(scene, 128, 128, 32, 32)]
    fractions = {"strong": 0.1, "weak": 0.6, "val": 0.3}
    splits = split_tiles(tiles, 32, 32, fractions, "tile", 4, 0, adapter.is_official_test, None, adapter.official_test)
    test_scenes = {t.split("_y")[0] for t in splits["sets"]["test"]}
    assert test_scenes == {"area2", "area4"} and splits["n_official_test"] == 2 * 16
    others = {t.split("_y")[0] for name in ("strong", "weak", "val") for t in splits["sets"][name]}
    assert others <= {"area1", "area3", "area5"} and splits["n_tiles"] == 3 * 16
    assert splits["settings"]["official_test"] == adapter.official_test


def test_a_split_without_any_official_test_scene_is_named():
    adapter = get_dataset("vaihingen")
    tiles = grid_tiles("area1", 128, 128, 32, 32)
    with pytest.raises(WeaksegError, match="split.use_official_test: no scene is in the 17 official test scenes"):
        fractions = {"strong": 0.1, "weak": 0.6, "val": 0.3}
        split_tiles(tiles, 32, 32, fractions, "tile", 4, 0, adapter.is_official_test, None, adapter.official_test)


def test_the_config_takes_an_official_test_set_for_isprs_and_refuses_it_without_one():
    config = schema_defaults(yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text()))
    config["split"]["use_official_test"] = True
    for name in ("vaihingen", "potsdam", "cityscapes", "figaro1k"):
        config["dataset"]["name"] = name
        check_task(config)
        assert official_test_adapter(name).official_test
    config["dataset"]["name"] = "synthetic"
    with pytest.raises(WeaksegError, match="dataset synthetic has no official test set"):
        check_task(config)


def test_a_split_whose_only_scenes_are_official_test_areas_says_no_training_scene_is_present():
    adapter = get_dataset("vaihingen")
    tiles = [t for scene in ("area2", "area4") for t in grid_tiles(scene, 128, 128, 32, 32)]
    fractions = {"strong": 0.1, "weak": 0.6, "val": 0.3}
    with pytest.raises(WeaksegError, match=r"every scene \(area2, area4\) is in .*no official training scene"):
        split_tiles(tiles, 32, 32, fractions, "tile", 4, 0, adapter.is_official_test, None, adapter.official_test)
