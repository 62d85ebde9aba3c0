"""Cityscapes end to end: configs/cityscapes.yaml with the sequence overlay, on synthetic cities."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from weakseg.formats.model_record import ModelSpec
from weakseg.formats.splits import read_splits
from weakseg.formats.tiles import read_tiles, rows_of

pytestmark = pytest.mark.pipeline

RUN = "weak_finetuned/weak-proportions/strong-0.1/seed-0/default"


def test_the_sequence_study_trains_the_convlstm_on_four_frames(cityscapes_run):
    record = torch.load(cityscapes_run / f"results/models/{RUN}/model.pt", map_location="cpu", weights_only=False)
    spec = ModelSpec.from_record(record)
    assert spec.arch == "ResNetConvLSTM" and spec.frames == 4
    assert spec.in_channels == 12 and spec.n_classes == 19
    images = np.load(cityscapes_run / "data/cityscapes/tiles/images.npy", mmap_mode="r")
    assert images.shape[1:] == (64, 64, 12)
    metrics = json.loads((cityscapes_run / f"results/eval/{RUN}/metrics.json").read_text())
    assert metrics["set"] == "test" and 0 <= metrics["miou"] <= 1
    splits = read_splits(cityscapes_run / "results/split/seed-0/splits.json")
    assert splits["test"] and all(t.startswith("val_synthval0_") for t in splits["test"])
    assert (cityscapes_run / "results/report.html").stat().st_size > 10_000


def test_the_stats_rule_equals_numpy_over_the_training_tiles(cityscapes_run):
    stats = json.loads((cityscapes_run / "results/stats/seed-0/stats.json").read_text())
    splits = read_splits(cityscapes_run / "results/split/seed-0/splits.json")
    row_of = rows_of(read_tiles(cityscapes_run / "data/cityscapes/tiles/tiles.csv"))
    rows = sorted(row_of[t] for name in ("strong", "weak") for t in splits[name])
    images = np.load(cityscapes_run / "data/cityscapes/tiles/images.npy")
    pixels = images[rows].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0) / 255, rtol=1e-9)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0) / 255, rtol=1e-9)
    record = torch.load(cityscapes_run / f"results/models/{RUN}/model.pt", map_location="cpu", weights_only=False)
    np.testing.assert_allclose(ModelSpec.from_record(record).mean, stats["mean"])
    page = (cityscapes_run / "results/report.html").read_text()
    assert "band mean of the training tiles (DN)" in page
    assert ", ".join(f"{255 * m:.1f}" for m in stats["mean"]) in page


def test_the_gallery_holds_every_frame_the_truth_and_scores(cityscapes_run):
    folder = cityscapes_run / f"results/eval/{RUN}/predictions"
    predictions = sorted(folder.glob("*.png"))
    assert len(predictions) == 2
    for prediction in predictions:
        assert (folder / "truth" / prediction.name).is_file()
        assert len(list(folder.glob(f"frames/{prediction.stem}_t*.png"))) == 4
    assert (folder / "scores.csv").read_text().count("\n") == 3
