"""The experiment end to end: Snakemake on a shortened demo, then what its outputs must satisfy."""

from __future__ import annotations

import html
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, copy_workflow, run_snakemake
from weakseg.metrics import confusion_matrix, segmentation_metrics

pytestmark = pytest.mark.pipeline

#: The demo data, with fewer epochs so that the whole run takes a minute or two on 2 CPU cores.
SHORT_DEMO = {"training": {"epochs": 25}, "pretraining": {"epochs": 3}, "evaluation": {"gallery_tiles": 3}}


def planned_jobs(workdir: Path, *args) -> dict[str, int]:
    """Rule -> job count of what ``snakemake -n`` would run now."""
    result = run_snakemake(workdir, "-n", *args)
    assert result.returncode == 0, result.stderr + result.stdout
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("demo"))
    (workdir / "short.yaml").write_text(yaml.safe_dump(SHORT_DEMO))
    result = run_snakemake(workdir, "--cores", "2", "--configfile", "short.yaml", timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_the_run_writes_every_artifact_of_the_experiment(demo_run):
    for variant in ("strong_only", "weak_only", "weak_finetuned"):
        assert (demo_run / f"results/models/{variant}/model.pt").is_file()
        assert any((demo_run / f"results/models/{variant}/tensorboard").iterdir())
        assert not (demo_run / f"results/models/{variant}/resume").exists()
        history = (demo_run / f"results/models/{variant}/history.csv").read_text().splitlines()
        assert len(history) == 1 + (3 if variant == "weak_only" else 25)
        assert len(list((demo_run / f"results/eval/{variant}/predictions").glob("*.png"))) == 3
    assert (demo_run / "results/report.html").stat().st_size > 10_000
    assert (demo_run / "results/benchmarks/train_strong.tsv").is_file()


def test_strong_only_beats_predicting_the_majority_class(demo_run):
    splits = json.loads((demo_run / "results/split/splits.json").read_text())
    tiles = (demo_run / "data/synthetic/tiles/tiles.csv").read_text().splitlines()[1:]
    row_of = {line.split(",")[0]: i for i, line in enumerate(tiles)}
    masks = np.load(demo_run / "data/synthetic/tiles/masks.npy")
    strong = masks[[row_of[t] for t in splits["sets"]["strong"]]]
    val = masks[[row_of[t] for t in splits["sets"]["val"]]]
    majority = np.bincount(strong[strong != 255], minlength=6).argmax()
    names = [str(i) for i in range(6)]
    baseline = segmentation_metrics(confusion_matrix(np.full_like(val, majority), val, 6), names)["miou"]
    learned = json.loads((demo_run / "results/eval/strong_only/metrics.json").read_text())["miou"]
    assert learned > 2.5 * baseline, (learned, baseline)


def test_report_numbers_equal_metrics_json(demo_run):
    page = (demo_run / "results/report.html").read_text()
    assert "http://" not in page and "https://" not in page
    cells, diffs = {}, {}
    for match in re.finditer(r"<td([^>]*)>([^<]*)<", page):
        attributes = dict(re.findall(r"""data-([a-z-]+)=['"]([^'"]+)['"]""", match.group(1)))
        if "variant" in attributes:
            target = diffs if "diff-to" in attributes else cells
            target[(attributes["variant"], attributes["metric"])] = float(html.unescape(match.group(2)))
    strong = json.loads((demo_run / "results/eval/strong_only/metrics.json").read_text())
    checked = 0
    for variant in ("strong_only", "weak_only", "weak_finetuned"):
        metrics = json.loads((demo_run / f"results/eval/{variant}/metrics.json").read_text())
        for key in ("miou", "mean_f1", "oa", "fraction_mae"):
            assert cells[(variant, key)] == pytest.approx(metrics[key], abs=5e-5)
            if variant != "strong_only":
                assert diffs[(variant, key)] == pytest.approx(metrics[key] - strong[key], abs=5e-4)
            checked += 1
    assert checked == 12


def test_editing_the_learning_rate_reruns_training_and_what_follows_only(demo_run):
    assert planned_jobs(demo_run, "--configfile", "short.yaml") == {}
    config = yaml.safe_load((demo_run / "short.yaml").read_text())
    config["training"]["lr"] = 0.001
    (demo_run / "lr.yaml").write_text(yaml.safe_dump(config))
    planned = planned_jobs(demo_run, "--configfile", "lr.yaml")
    assert planned == {"train_strong": 1, "finetune": 1, "evaluate": 2, "report": 1, "all": 1}


def _train_command(workdir: Path, out_dir: Path, lr: float, epochs: int) -> list[str]:
    training = {"epochs": epochs, "batch_size": 16, "lr": lr, "weight_decay": 0.0, "loss": "cross_entropy",
                "seed": 0, "device": "cpu", "log_every_batches": 10}
    model = {"arch": "FPN", "encoder": "resnet18", "encoder_weights": None}
    return [
        sys.executable, str(REPO / "scripts/train.py"), "--mode", "strong",
        "--tiles-dir", "data/synthetic/tiles", "--splits", "results/split/splits.json",
        "--weak-labels", "results/weak_labels/weak_labels.csv", "--pipeline", "results/augment/strong.yaml",
        "--offline-dir", "results/augment/offline", "--model", json.dumps(model), "--training", json.dumps(training),
        "--threads", "1", "--out-dir", str(out_dir),
    ]


def _kill_after_first_checkpoint(command: list[str], workdir: Path, checkpoint: Path) -> None:
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists(), "no checkpoint was written before the kill"


def test_an_interrupted_training_resumes_and_finishes_its_epochs(demo_run, tmp_path):
    out_dir = tmp_path / "run"
    command = _train_command(demo_run, out_dir, lr=0.002, epochs=4)
    _kill_after_first_checkpoint(command, demo_run, out_dir / "resume/checkpoint.pt")
    assert not (out_dir / "model.pt").exists()
    result = subprocess.run(command, cwd=demo_run, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = re.search(r"resuming from .* after epoch (\d+) of 4", result.stderr)
    assert resumed and 1 <= int(resumed.group(1)) < 4
    epochs = [line.split(",")[0] for line in (out_dir / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3", "4"]
    assert not (out_dir / "resume").exists()


def test_resuming_with_changed_settings_is_refused(demo_run, tmp_path):
    out_dir = tmp_path / "run"
    _kill_after_first_checkpoint(_train_command(demo_run, out_dir, 0.002, 4), demo_run, out_dir / "resume/checkpoint.pt")
    before = (out_dir / "resume/checkpoint.pt").read_bytes()
    result = subprocess.run(_train_command(demo_run, out_dir, 0.01, 4), cwd=demo_run, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "training.lr: 0.002 -> 0.01" in result.stderr and "refusing" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out_dir / "resume/checkpoint.pt").read_bytes() == before
    assert not (out_dir / "model.pt").exists()
