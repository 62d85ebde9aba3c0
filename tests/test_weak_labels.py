"""Weak labels: per-tile class fractions over the labelled pixels (255 = ignore)."""

import json

import numpy as np
import pytest
from conftest import run_stage, write_tiles_csv

from weakseg.formats.tiles import Tile
from weakseg.formats.weak_labels import read_weak_labels, write_weak_labels
from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak.proportions import label_proportions as class_fractions

CLASSES = ("c0", "c1", "c2", "c3", "c4", "c5")


def constructed_masks() -> tuple[np.ndarray, np.ndarray]:
    """Three 10x10 masks built region by region, and their fractions counted by hand."""
    masks = np.full((3, 10, 10), IGNORE_INDEX, dtype=np.uint8)
    # mask 0: rows 0-1 ignore (20 px), rows 2-4 class 0 (30 px),
    #         rows 5-9 cols 0-3 class 3 (20 px), rows 5-9 cols 4-9 class 5 (30 px) -> 80 labelled
    masks[0, 2:5] = 0
    masks[0, 5:, :4] = 3
    masks[0, 5:, 4:] = 5
    # mask 1: one labelled pixel of class 2, the rest ignore -> 1 labelled
    masks[1, 7, 7] = 2
    # mask 2: no ignore; a 3x3 block of class 4 (9 px), a column of class 1 (10 px), rest class 0 (81 px)
    masks[2] = 0
    masks[2, :, 9] = 1
    masks[2, 2:5, 2:5] = 4
    expected = np.array(
        [
            [30 / 80, 0, 0, 20 / 80, 0, 30 / 80],
            [0, 0, 1, 0, 0, 0],
            [81 / 100, 10 / 100, 0, 0, 9 / 100, 0],
        ]
    )
    return masks, expected


def test_fractions_equal_hand_computed_values_and_ignore_is_excluded():
    masks, expected = constructed_masks()
    fractions = class_fractions(masks, n_classes=6)
    assert fractions.shape == (3, 6)
    np.testing.assert_allclose(fractions, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, rtol=0, atol=1e-6)


def test_fractions_do_not_depend_on_chunking_or_memory_mapping(tmp_path):
    masks, expected = constructed_masks()
    many = np.concatenate([masks] * 7)  # 21 masks, not a multiple of the chunk
    path = tmp_path / "masks.npy"
    np.save(path, many)
    mapped = np.load(path, mmap_mode="r")
    for chunk in (1, 2, 5, 256):
        np.testing.assert_allclose(class_fractions(mapped, 6, chunk=chunk), np.tile(expected, (7, 1)), atol=1e-12)


def test_mask_without_labelled_pixels_gives_zero_row():
    masks = np.full((1, 4, 4), IGNORE_INDEX, dtype=np.uint8)
    np.testing.assert_array_equal(class_fractions(masks, 6), np.zeros((1, 6)))


def test_written_csv_reads_back_with_rows_summing_to_one(tmp_path):
    masks, expected = constructed_masks()
    # thirds are not exact in decimal: the CSV's rounding must still keep each row's sum within 1e-6
    thirds = np.zeros((1, 10, 10), dtype=np.uint8)
    thirds[0, :, 3:6] = 1
    thirds[0, :, 6:9] = 2
    thirds[0, :, 9] = IGNORE_INDEX
    fractions = class_fractions(np.concatenate([masks, thirds]), 6)
    np.testing.assert_allclose(fractions[3], [1 / 3, 1 / 3, 1 / 3, 0, 0, 0], atol=1e-12)
    ids = ["t0", "t1", "t2", "t3"]
    sets = ["strong", "weak", None, "val"]
    csv_path, summary_path = tmp_path / "out" / "weak_labels.csv", tmp_path / "out" / "summary.csv"
    write_weak_labels(csv_path, summary_path, list(CLASSES), ids, fractions, sets)

    read_ids, read_sets, read_fractions, read_classes = read_weak_labels(csv_path)
    assert read_ids == ids
    assert read_sets == ["strong", "weak", "", "val"]  # a tile the split dropped has an empty set
    assert read_classes == list(CLASSES)
    np.testing.assert_allclose(read_fractions[:3], expected, atol=1e-9)
    np.testing.assert_allclose(read_fractions[3], [1 / 3, 1 / 3, 1 / 3, 0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(read_fractions.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    assert summary_path.exists()
    assert not list((tmp_path / "out").glob(".*.partial"))


def test_summary_statistics_per_set(tmp_path):
    masks, expected = constructed_masks()
    fractions = class_fractions(masks, 6)
    write_weak_labels(
        tmp_path / "w.csv",
        tmp_path / "s.csv",
        list(CLASSES),
        ["a", "b", "c"],
        fractions,
        ["weak", "weak", "val"],
    )
    import csv

    with open(tmp_path / "s.csv", newline="") as handle:
        rows = {(r["set"], r["class"]): r for r in csv.DictReader(handle)}
    weak_c0 = rows[("weak", "c0")]
    assert int(weak_c0["n_tiles"]) == 2
    assert float(weak_c0["mean"]) == pytest.approx((30 / 80 + 0) / 2, abs=1e-6)
    assert float(weak_c0["present"]) == pytest.approx(0.5)
    assert int(rows[("all", "c4")]["n_tiles"]) == 3
    assert float(rows[("all", "c4")]["max"]) == pytest.approx(0.09, abs=1e-6)
    assert int(rows[("strong", "c0")]["n_tiles"]) == 0


def test_weak_labels_script_end_to_end(tmp_path):
    """The rule's script: fractions per tile in tiles.csv order, set names from splits.json."""
    masks, expected = constructed_masks()
    np.save(tmp_path / "masks.npy", masks)
    tiles = [Tile(f"s_y{i:05d}_x00000", "s", i, 0, 1.0) for i in range(3)]
    write_tiles_csv(tmp_path / "tiles.csv", tiles)
    sets = {"strong": [tiles[2].tile_id], "weak": [tiles[0].tile_id], "val": []}
    (tmp_path / "splits.json").write_text(json.dumps({"sets": sets}))
    out = tmp_path / "results" / "weak_labels.csv"
    result = run_stage(
        "weak_labels",
        {"dataset": "vaihingen", "kind": "proportions", "options": {}, "seed": 0, "split_seed": 0},
        {"masks": tmp_path / "masks.npy", "tiles": tmp_path / "tiles.csv", "splits": tmp_path / "splits.json"},
        {"labels": out, "summary": tmp_path / "results" / "summary.csv"},
    )
    assert result.returncode == 0, result.stderr
    ids, read_sets, fractions, classes = read_weak_labels(out)
    assert ids == [t.tile_id for t in tiles]
    assert read_sets == ["weak", "", "strong"]
    assert len(classes) == 6 and classes[1] == "building"
    np.testing.assert_allclose(fractions, expected, atol=1e-9)
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, atol=1e-6)
