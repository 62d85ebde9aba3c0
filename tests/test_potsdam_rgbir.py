"""ISPRS Potsdam with four bands (RGBIR): the whole experiment on archives in the official layout."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
import yaml
from conftest import ISPRS_COLORS, ONE_THREAD_JOBS, REPO, copy_workflow, run_snakemake
from test_isprs_protocol import eroded

from weakseg.datasets.synthetic_scene import generate_scene
from weakseg.design.experiment import Run
from weakseg.formats.model_record import ModelSpec

pytestmark = pytest.mark.pipeline

#: Two tiles of the benchmark's training set and one of its test set (configs/potsdam.yaml scores on it).
SCENES = ("2_10", "3_11", "2_13")


def _tiff(array: np.ndarray, **options) -> bytes:
    buffer = BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def write_potsdam_archives(folder: Path, size: int = 192) -> None:
    """``4_Ortho_RGBIR.zip``, ``5_Labels_all.zip`` and ``5_Labels_all_noBoundary.zip`` as ISPRS ships them.

    Images: ``4_Ortho_RGBIR/top_potsdam_<id>_RGBIR.tif``, (H, W, 4) uint8 R, G, B, IR.
    Labels: ``top_potsdam_<id>_label.tif``, (H, W, 3) uint8 in the ISPRS colour code; eroded
    labels ``top_potsdam_<id>_label_noBoundary.tif``, class borders black. Synthetic scenes.
    """
    palette = np.array(ISPRS_COLORS, dtype=np.uint8)
    with (
        zipfile.ZipFile(folder / "4_Ortho_RGBIR.zip", "w") as images,
        zipfile.ZipFile(folder / "5_Labels_all.zip", "w") as labels,
        zipfile.ZipFile(folder / "5_Labels_all_noBoundary.zip", "w") as eroded_labels,
    ):
        for seed, scene in enumerate(SCENES):
            irrg, label = generate_scene(seed, size, size)
            rgbir = np.stack(
                [irrg[..., 1], irrg[..., 2], (irrg[..., 2] // 2 + 40).astype(np.uint8), irrg[..., 0]], axis=-1
            )
            images.writestr(
                f"4_Ortho_RGBIR/top_potsdam_{scene}_RGBIR.tif",
                _tiff(rgbir, photometric="rgb", extrasamples=["unspecified"]),
            )
            labels.writestr(f"top_potsdam_{scene}_label.tif", _tiff(palette[label], photometric="rgb"))
            eroded_labels.writestr(
                f"top_potsdam_{scene}_label_noBoundary.tif", _tiff(eroded(palette[label]), photometric="rgb")
            )


def test_potsdam_rgbir_runs_the_whole_experiment(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    (workdir / "configs").mkdir(exist_ok=True)
    (workdir / "configs/potsdam.yaml").write_bytes((REPO / "configs/potsdam.yaml").read_bytes())
    archives = tmp_path / "archives"
    archives.mkdir()
    write_potsdam_archives(archives)
    short = {
        "dataset": {"source": {"folder": str(archives)}},
        "tiling": {"tile_size": 64, "stride": 64},
        "split": {"group_by": "tile"},
        "model": {"encoder_weights": None},
        "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4},
        "pretraining": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4},
        "experiment": {"seeds": [0], "variants": ["strong_only", "weak_finetuned", "joint"]},
        "evaluation": {"gallery_tiles": 2, "window": 128, "overlap": 0.25},
    }
    (workdir / "fixture.yaml").write_text(yaml.safe_dump(short))
    result = run_snakemake(
        workdir, "--cores", "2", *ONE_THREAD_JOBS, "--configfile", "configs/potsdam.yaml", "fixture.yaml", timeout=900
    )
    assert result.returncode == 0, result.stderr[-5000:]
    images = np.load(workdir / "data/potsdam/tiles/images.npy", mmap_mode="r")
    assert images.shape[1:] == (64, 64, 4)
    first = workdir / "data/potsdam/raw/images/top_potsdam_2_10_RGBIR.tif"
    assert tifffile.imread(first).shape == (192, 192, 4)
    for variant in ("strong_only", "weak_only", "weak_finetuned", "joint"):
        run = Run(variant, "0.1", 0, weak_kind="none" if variant == "strong_only" else "proportions")
        record = torch.load(workdir / f"results/models/{run.path}/model.pt", weights_only=False)
        assert ModelSpec.from_record(record).in_channels == 4
        first_conv = next(v for k, v in record["state_dict"].items() if k.endswith("conv1.weight"))
        assert first_conv.shape[1] == 4
    splits = json.loads((workdir / "results/split/seed-0/splits.json").read_text())["sets"]
    assert splits["test"] and {t.split("_y")[0] for t in splits["test"]} == {"2_13"}  # the official test tile
    assert not any(t.startswith("2_13") for name in ("strong", "weak", "val") for t in splits[name])
    run = "strong_only/weak-none/strong-0.1/seed-0/default"
    metrics = json.loads((workdir / f"results/eval/{run}/metrics.json").read_text())
    assert metrics["set"] == "test"
    # the ISPRS protocol: trained on the complete labels, scored on the whole test tile's eroded labels
    assert metrics["protocol"]["training_labels"] == "complete labels"
    assert metrics["protocol"]["scoring_labels"] == "eroded labels" and metrics["mode"] == "scenes"
    scoring = np.load(workdir / "data/potsdam/prepared/2_13/scoring_label.npy")
    training = np.load(workdir / "data/potsdam/prepared/2_13/label.npy")
    assert metrics["n_pixels"] == np.sum(scoring != 255) < np.sum(training != 255)
    assert metrics["without"]["classes"] == ["clutter"] and "clutter" not in metrics["without"]["per_class"]
    log = (workdir / "results/logs/augment/seed-0.log").read_text()
    assert "4-band frames: saturation and hue" in log
    report = (workdir / "results/report.html").read_text()
    assert len(report) > 10_000 and "eroded labels, whole scenes, sliding window; the test set, official" in report
