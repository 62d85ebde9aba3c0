"""The ISPRS protocol: complete labels to train, eroded labels to score, scores with and without clutter."""

import csv
import shutil
import zipfile
from io import BytesIO

import numpy as np
import pytest
import tifffile
import yaml
from conftest import (
    REPO,
    VAIHINGEN_IMAGES,
    VAIHINGEN_LABELS,
    VAIHINGEN_SAMPLE_MD5,
    assert_failed_cleanly,
    read_zip_member,
    run_stage,
)

from weakseg.data.download import download, read_scenes
from weakseg.datasets import get_dataset
from weakseg.formats.protocol import protocol_card
from weakseg.io.errors import WeaksegError
from weakseg.learn.metrics import confusion_matrix, segmentation_metrics
from weakseg.ops.config import check_config

ERODED = "ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip"


def test_scores_with_and_without_clutter_equal_those_computed_by_hand():
    # an eroded ground truth (255: a class border, not scored) and a prediction; classes a, b, clutter
    truth = np.array([[0, 0, 1, 1], [0, 255, 1, 1], [2, 2, 255, 1], [2, 0, 0, 1]])
    predicted = np.array([[0, 1, 1, 1], [0, 0, 1, 2], [2, 0, 1, 1], [2, 2, 0, 1]])
    metrics = segmentation_metrics(confusion_matrix(predicted, truth, 3), ["a", "b", "clutter"], ("clutter",))
    # 14 scored pixels; true a: 3 right, 1 as b, 1 as clutter; true b: 5 right, 1 as clutter;
    # true clutter: 2 right, 1 as a.
    assert metrics["oa"] == pytest.approx(10 / 14)
    f1 = {"a": 2 * 3 / (2 * 3 + 1 + 2), "b": 2 * 5 / (2 * 5 + 1 + 1), "clutter": 2 * 2 / (2 * 2 + 2 + 1)}
    assert metrics["mean_f1"] == pytest.approx(np.mean(list(f1.values())))
    assert {c: s["f1"] for c, s in metrics["per_class"].items()} == pytest.approx(f1)
    # Without clutter: its 3 true pixels are not scored (a loses the false positive from clutter);
    # the pixel of a and the pixel of b predicted as clutter stay errors.
    without = metrics["without"]
    assert without["classes"] == ["clutter"] and list(without["per_class"]) == ["a", "b"]
    assert without["oa"] == pytest.approx(8 / 11)
    assert without["per_class"]["a"]["f1"] == pytest.approx(2 * 3 / (2 * 3 + 0 + 2))
    assert without["per_class"]["b"]["f1"] == pytest.approx(2 * 5 / (2 * 5 + 1 + 1))
    assert without["mean_f1"] == pytest.approx((6 / 8 + 10 / 12) / 2)
    assert without["miou"] == pytest.approx((3 / 5 + 5 / 7) / 2)
    with pytest.raises(ValueError, match="'road'"):
        segmentation_metrics(confusion_matrix(predicted, truth, 3), ["a", "b", "clutter"], ("road",))


def eroded(label_rgb: np.ndarray) -> np.ndarray:
    """The ISPRS erosion by hand: pixels with a 4-neighbour of another colour become black (no label)."""
    keys = label_rgb.astype(np.int32) @ np.array([65536, 256, 1])
    border = np.zeros(keys.shape, dtype=bool)
    border[1:] |= keys[1:] != keys[:-1]
    border[:-1] |= keys[:-1] != keys[1:]
    border[:, 1:] |= keys[:, 1:] != keys[:, :-1]
    border[:, :-1] |= keys[:, :-1] != keys[:, 1:]
    out = label_rgb.copy()
    out[border] = 0
    return out


@pytest.fixture
def archives_with_eroded_labels(tmp_path, vaihingen_dir):
    """The real Vaihingen sample's archives plus an eroded-label archive made from its labels."""
    folder = tmp_path / "archives"
    folder.mkdir()
    for name in (VAIHINGEN_IMAGES, VAIHINGEN_LABELS):
        shutil.copy(vaihingen_dir / name, folder / name)
    complete = tifffile.imread(BytesIO(read_zip_member(vaihingen_dir / VAIHINGEN_LABELS, "area4.tif")))
    buffer = BytesIO()
    tifffile.imwrite(buffer, eroded(complete), photometric="rgb")
    with zipfile.ZipFile(folder / ERODED, "w") as archive:
        archive.writestr("top_mosaic_09cm_area4_noBoundary.tif", buffer.getvalue())
    return folder, complete


def _settings(folder, *rewritten: str) -> dict:
    """Download settings of the archives in ``folder``: complete labels, scored on eroded ones.

    The made-up eroded archive, and any ``rewritten`` archive, skip the MD5 check.
    """
    md5 = {**VAIHINGEN_SAMPLE_MD5, ERODED: "skip", **dict.fromkeys(rewritten, "skip")}
    return {
        "name": "vaihingen",
        "scenes": None,
        "source": {"folder": str(folder), "url": None, "md5": md5},
        "labels": "complete",
        "scoring_labels": "eroded",
        "bands": None,
    }


def test_the_eroded_labels_are_downloaded_and_prepared_for_scoring_beside_the_complete_ones(
    tmp_path, archives_with_eroded_labels
):
    folder, complete = archives_with_eroded_labels
    raw = tmp_path / "data/vaihingen/raw"
    scenes = download(raw, _settings(folder))
    assert [s.scoring_label for s in scenes] == ["scoring_labels/top_mosaic_09cm_area4_noBoundary.tif"]
    assert read_scenes(raw) == scenes
    with open(raw / "scenes.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["scene", "image", "label", "frames", "scoring_label"]

    prepared = tmp_path / "data/vaihingen/prepared/area4"
    params = {"dataset": "vaihingen", "scene": "area4", "snap_max_distance": None, "resize": None}
    outputs = {"image": prepared / "image.npy", "label": prepared / "label.npy"}
    assert run_stage("prepare", params, {"raw": raw}, outputs).returncode == 0
    result = run_stage(
        "prepare_scoring",
        {**params, "scoring_labels": "eroded"},
        {"raw": raw},
        {"label": prepared / "scoring_label.npy"},
    )
    assert result.returncode == 0, result.stderr
    training, scoring = np.load(prepared / "label.npy"), np.load(prepared / "scoring_label.npy")
    border = (eroded(complete) == 0).all(axis=2) & ~(complete == 0).all(axis=2)
    assert border.mean() > 0.01, "the sample's class borders should be a visible share of its pixels"
    assert (scoring[border] == 255).all() and (training[border] != 255).all()
    np.testing.assert_array_equal(scoring[~border], training[~border])


def test_a_scene_without_an_eroded_label_is_named(tmp_path, archives_with_eroded_labels):
    folder, _ = archives_with_eroded_labels
    with zipfile.ZipFile(folder / ERODED, "w") as archive:
        archive.writestr("top_mosaic_09cm_area5_noBoundary.tif", b"not this scene")
    with pytest.raises(WeaksegError, match=rf"{ERODED}: no eroded label of scene\(s\) area4"):
        download(tmp_path / "raw", _settings(folder))
    assert not (tmp_path / "raw").exists()


def _config(**changes):
    config = yaml.safe_load((REPO / "workflow_config.yaml").read_text())
    config["dataset"]["name"] = "vaihingen"
    for key, value in changes.items():
        section, name = key.split(".")
        config[section][name] = value
    return config


def test_scoring_labels_are_checked_before_any_job():
    with pytest.raises(WeaksegError, match=r"dataset.scoring_labels: 'eroded' labels are scored on whole scenes"):
        check_config(_config(**{"dataset.scoring_labels": "eroded"}))
    scenes = {"evaluation.mode": "scenes", "split.group_by": "scene"}
    with pytest.raises(WeaksegError, match=r"dataset.scoring_labels: 'complete' is dataset.labels already"):
        check_config(_config(**{"dataset.scoring_labels": "complete", **scenes}))
    synthetic = _config(**{"dataset.scoring_labels": "eroded", **scenes})
    synthetic["dataset"]["name"] = "synthetic"
    with pytest.raises(WeaksegError, match=r"'eroded' is not a label set of synthetic \(none: it has one"):
        check_config(synthetic)
    check_config(_config(**{"dataset.scoring_labels": "eroded", **scenes}))


def test_the_protocol_card_says_which_labels_classes_and_split_the_scores_come_from():
    config = _config(**{"dataset.scoring_labels": "eroded", "evaluation.mode": "scenes"})
    config["split"]["use_official_test"] = True
    card = protocol_card(config, get_dataset("vaihingen"))
    assert card == {
        "dataset": "vaihingen",
        "training_labels": "complete labels",
        "scoring_labels": "eroded labels",
        "classes": ["impervious_surfaces", "building", "low_vegetation", "tree", "car", "clutter"],
        "also_scored_without": ["clutter"],
        "scored_set": "test",
        "split": "official: the 17 official test scenes of the ISPRS benchmark",
        "scoring": "whole scenes, sliding window",
    }


def _rewrite_label_archive(path, member: str, label: np.ndarray) -> None:
    buffer = BytesIO()
    tifffile.imwrite(buffer, label, photometric="rgb")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, buffer.getvalue())


def test_swapped_label_archives_are_refused_at_the_download(tmp_path, archives_with_eroded_labels):
    """Hostile round four: eroded pictures inside the complete archive trained on eroded labels without a word."""
    folder, complete = archives_with_eroded_labels
    _rewrite_label_archive(folder / VAIHINGEN_LABELS, "top_mosaic_09cm_area4.tif", eroded(complete))
    with pytest.raises(WeaksegError) as raised:
        download(tmp_path / "raw", _settings(folder, VAIHINGEN_LABELS))
    message = str(raised.value)
    assert "top_mosaic_09cm_area4.tif: this complete label" in message and "black (unlabelled) pixels" in message
    assert "swapped" in message and not (tmp_path / "raw").exists()
    # the other way round: a complete picture in the eroded archive
    _rewrite_label_archive(folder / VAIHINGEN_LABELS, "top_mosaic_09cm_area4.tif", complete)
    _rewrite_label_archive(folder / ERODED, "top_mosaic_09cm_area4_noBoundary.tif", complete)
    with pytest.raises(WeaksegError, match=r"this eroded label \(from .*\) has no black \(unlabelled\) pixel"):
        download(tmp_path / "raw", _settings(folder, VAIHINGEN_LABELS))


def test_an_eroded_label_with_nothing_to_score_is_refused_naming_it(tmp_path, archives_with_eroded_labels):
    """Hostile round four: an all-black eroded label was scored, giving mIoU and OA None in the tables."""
    folder, complete = archives_with_eroded_labels
    raw = tmp_path / "data/vaihingen/raw"
    download(raw, _settings(folder))
    scoring = raw / "scoring_labels/top_mosaic_09cm_area4_noBoundary.tif"
    tifffile.imwrite(scoring, np.zeros_like(complete), photometric="rgb")  # every pixel black: no label
    prepared = tmp_path / "data/vaihingen/prepared/area4"
    params = {"dataset": "vaihingen", "scene": "area4", "snap_max_distance": None, "resize": None}
    output = prepared / "scoring_label.npy"
    result = run_stage("prepare_scoring", {**params, "scoring_labels": "eroded"}, {"raw": raw}, {"label": output})
    assert_failed_cleanly(result, [output], f"{scoring}: this scoring label has no labelled pixel", "dataset.scenes")
