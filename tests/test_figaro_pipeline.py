"""The Figaro1k experiment and predict on its test images, run by Snakemake on the real sample (a subset)."""

import json
import zipfile

import numpy as np
import yaml
from conftest import ONE_THREAD_JOBS, REPO, _require, copy_workflow, run_snakemake
from PIL import Image
from test_figaro import FIGARO_ZIP


def _subset(n_training: int, n_testing: int) -> list[str]:
    with zipfile.ZipFile(FIGARO_ZIP) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("Figaro1k/Original/") and n.endswith(".jpg"))
    scenes = {
        part: [f"{part}_{n.rsplit('/', 1)[1][:10]}" for n in names if f"/{part}/" in n]
        for part in ("Training", "Testing")
    }
    return scenes["Training"][:n_training] + scenes["Testing"][:n_testing]


def test_figaro1k_runs_the_binary_experiment_and_predicts_whole_test_images(tmp_path):
    _require(FIGARO_ZIP)
    workdir = copy_workflow(tmp_path / "workflow")
    (workdir / "configs").mkdir(exist_ok=True)
    (workdir / "configs/figaro1k.yaml").write_bytes((REPO / "configs/figaro1k.yaml").read_bytes())
    short = {
        "dataset": {"source": {"folder": str(FIGARO_ZIP.parent)}, "scenes": _subset(12, 2)},
        "tiling": {"tile_size": 64, "stride": 64, "shorter_side": 64},
        "split": {"fractions": {"strong": 0.2, "weak": 0.6, "val": 0.2}},
        "training": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4},
        "pretraining": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4},
        "experiment": {"seeds": [0], "variants": ["strong_only", "weak_only", "weak_finetuned"]},
        "evaluation": {"gallery_tiles": 2, "window": 64},
    }
    (workdir / "fixture.yaml").write_text(yaml.safe_dump(short))
    predict = "results/predict/weak_finetuned/weak-proportions/strong-0.2/seed-0/default"
    result = run_snakemake(
        workdir,
        "all",
        predict,
        "--cores",
        "2",
        *ONE_THREAD_JOBS,
        "--configfile",
        "configs/figaro1k.yaml",
        "fixture.yaml",
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    splits = json.loads((workdir / "results/split/seed-0/splits.json").read_text())
    assert splits["sets"]["test"] and all(t.startswith("Testing_") for t in splits["sets"]["test"])
    run = "weak_finetuned/weak-proportions/strong-0.2/seed-0/default"
    metrics = json.loads((workdir / f"results/eval/{run}/metrics.json").read_text())
    assert metrics["set"] == "test" and metrics["mode"] == "scenes" and metrics["n_scenes"] == 2
    originals = [np.load(p) for p in sorted((workdir / "data/figaro1k/prepared").glob("Testing_*/label.npy"))]
    assert metrics["n_pixels"] == sum(label.size for label in originals)  # scored at the original size
    record = json.loads((workdir / predict / "metrics.json").read_text())
    assert record["n_images"] == 2 and 0 <= record["dice"] <= 1
    for scene, label in zip(sorted(record["images"]), originals, strict=True):
        mask = np.asarray(Image.open(workdir / predict / f"{scene}.png"))
        assert mask.shape == label.shape
        assert (workdir / predict / f"{scene}_overlay.png").is_file()
    summary = (workdir / "results/summary.csv").read_text().splitlines()
    assert "dice" in summary[0].split(",") and len(summary) == 4
