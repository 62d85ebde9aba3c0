"""An interrupted training run resumes as the same run, and refuses to resume as another.

Runs scripts/train.py directly (as the train rule does) on the data stages of the shortened demo,
killing it with SIGKILL after its first checkpoint.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, copy_workflow, run_snakemake, stage_call
from test_pipeline import SHORT_DEMO

from weakseg.datasets import get_dataset
from weakseg.formats.model_record import ModelSpec
from weakseg.learn.models import build_model

pytestmark = pytest.mark.pipeline

#: What the resumed runs read: the data stages of the shortened demo (split 0), no training.
DATA_TARGETS = (
    "results/stats/seed-0/stats.json",
    "results/augment/seed-0/strong.yaml",
    "results/weak_labels/seed-0/proportions/weak_labels.csv",
)


@pytest.fixture(scope="module")
def data_run(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("data"))
    (workdir / "short.yaml").write_text(yaml.safe_dump(SHORT_DEMO))
    result = run_snakemake(workdir, *DATA_TARGETS, "--cores", "2", "--configfile", "short.yaml", timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def _save_model(path: Path, seed: int) -> None:
    """A model.pt for the demo's classes and bands, its weights drawn with ``seed``."""
    torch.manual_seed(seed)
    spec = ModelSpec("FPN", "resnet18", 3, get_dataset("synthetic").class_names)
    record = {"state_dict": build_model(spec).state_dict(), "spec": spec.as_record(), "epoch": 1, "val_miou": None}
    torch.save(record, path)


def _train_command(
    workdir: Path,
    out_dir: Path,
    lr: float,
    epochs: int,
    threads: int = 1,
    variant: str = "strong_only",
    splits: str = "results/split/seed-0/splits.json",
    init_from: Path | None = None,
) -> list[str]:
    training = {
        "epochs": epochs,
        "steps_per_epoch": 2,
        "batch_size": 16,
        "lr": lr,
        "weight_decay": 0.0,
        "loss": "cross_entropy",
        "seed": 0,
        "device": "cpu",
        "log_every_batches": 10,
        "checkpoint": "last",
    }
    model = {"arch": "FPN", "encoder": "resnet18", "encoder_weights": None}
    run = {
        "variant": variant,
        "mode": "strong",
        "strong_fraction": "0.1",
        "seed": 0,
        "point": "default",
        "model": model,
        "training": training,
    }
    inputs = {
        "tiles": "data/synthetic/tiles/tiles.csv",
        "images": "data/synthetic/tiles/images.npy",
        "masks": "data/synthetic/tiles/masks.npy",
        "splits": splits,
        "strong_pipeline": "results/augment/seed-0/strong.yaml",
        "weak_pipeline": "results/augment/seed-0/weak.yaml",
        "offline_copies": "results/augment/seed-0/offline/copies.csv",
        "offline_images": "results/augment/seed-0/offline/images.npy",
        "offline_masks": "results/augment/seed-0/offline/masks.npy",
        "stats": "results/stats/seed-0/stats.json",
        **({"init": str(init_from)} if init_from else {}),
    }
    outputs = {name: str(out_dir / name) for name in ("model.pt", "last.pt", "history.csv", "tensorboard")}
    outputs = dict(zip(("model", "last", "history", "tensorboard"), outputs.values(), strict=True))
    call = stage_call({"settings": run, "dataset": "synthetic"}, inputs, outputs)
    return [sys.executable, str(REPO / "scripts/train.py"), *call, "--threads", str(threads)]


def _kill_after_first_checkpoint(command: list[str], workdir: Path, checkpoint: Path) -> None:
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists(), "no checkpoint was written before the kill"


def test_an_interrupted_training_resumes_and_finishes_its_epochs(data_run, tmp_path):
    out_dir = tmp_path / "run"
    command = _train_command(data_run, out_dir, lr=0.002, epochs=3)
    _kill_after_first_checkpoint(command, data_run, out_dir / "resume/checkpoint.pt")
    assert not (out_dir / "model.pt").exists()
    result = subprocess.run(command, cwd=data_run, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = re.search(r"resuming from .* after epoch (\d+) of 3", result.stderr)
    assert resumed and 1 <= int(resumed.group(1)) < 3
    epochs = [line.split(",")[0] for line in (out_dir / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3"]
    assert not (out_dir / "resume").exists()


def test_resuming_with_changed_settings_is_refused(data_run, tmp_path):
    out_dir = tmp_path / "run"
    _kill_after_first_checkpoint(
        _train_command(data_run, out_dir, 0.002, 4), data_run, out_dir / "resume/checkpoint.pt"
    )
    before = (out_dir / "resume/checkpoint.pt").read_bytes()
    result = subprocess.run(
        _train_command(data_run, out_dir, 0.01, 4), cwd=data_run, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert "training.lr: 0.002 -> 0.01" in result.stderr and "refusing" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out_dir / "resume/checkpoint.pt").read_bytes() == before
    assert not (out_dir / "model.pt").exists()


def _history_without_times(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def test_a_resumed_run_equals_the_uninterrupted_run_bit_for_bit(data_run, tmp_path):
    # threads 2: one persistent DataLoader worker, which starts at the resumed epoch
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    result = subprocess.run(
        _train_command(data_run, whole, 0.002, 3, threads=2), cwd=data_run, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    command = _train_command(data_run, resumed, 0.002, 3, threads=2)
    _kill_after_first_checkpoint(command, data_run, resumed / "resume/checkpoint.pt")
    result = subprocess.run(command, cwd=data_run, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"resuming from .* after epoch [12] of 3", result.stderr)
    assert _history_without_times(resumed / "history.csv") == _history_without_times(whole / "history.csv")
    expected = torch.load(whole / "model.pt", weights_only=False)["state_dict"]
    actual = torch.load(resumed / "model.pt", weights_only=False)["state_dict"]
    for name, value in expected.items():
        assert torch.equal(value, actual[name]), name


def _moved_tile_split(data_run: Path, path: Path) -> Path:
    """The demo split with one strong tile moved to the validation set (as a changed split.seed would)."""
    splits = json.loads((data_run / "results/split/seed-0/splits.json").read_text())
    splits["sets"]["val"].append(splits["sets"]["strong"].pop())
    path.write_text(json.dumps(splits))
    return path


def test_resuming_after_the_split_changed_is_refused(data_run, tmp_path):
    out_dir, splits = tmp_path / "run", tmp_path / "splits.json"
    splits.write_bytes((data_run / "results/split/seed-0/splits.json").read_bytes())
    command = _train_command(data_run, out_dir, 0.002, 4, splits=str(splits))
    _kill_after_first_checkpoint(command, data_run, out_dir / "resume/checkpoint.pt")
    before = (out_dir / "resume/checkpoint.pt").read_bytes()
    _moved_tile_split(data_run, splits)
    result = subprocess.run(command, cwd=data_run, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"input splits ({splits}): content changed" in result.stderr and "refusing to mix runs" in result.stderr
    assert f"delete {out_dir / 'resume'} to start over" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out_dir / "resume/checkpoint.pt").read_bytes() == before


def test_resuming_after_the_initial_weights_changed_is_refused(data_run, tmp_path):
    out_dir, init = tmp_path / "run", tmp_path / "pretrained.pt"
    _save_model(init, seed=0)
    command = _train_command(data_run, out_dir, 0.002, 4, variant="weak_finetuned", init_from=init)
    _kill_after_first_checkpoint(command, data_run, out_dir / "resume/checkpoint.pt")
    _save_model(init, seed=1)  # weak_only retrained under the same path
    result = subprocess.run(command, cwd=data_run, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"input init ({init}): content changed" in result.stderr


def test_a_corrupt_resume_checkpoint_names_the_file_and_how_to_start_over(data_run, tmp_path):
    out_dir = tmp_path / "run"
    command = _train_command(data_run, out_dir, 0.002, 4)
    _kill_after_first_checkpoint(command, data_run, out_dir / "resume/checkpoint.pt")
    checkpoint = out_dir / "resume/checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])  # a full disk
    for _ in range(2):
        result = subprocess.run(command, cwd=data_run, capture_output=True, text=True, timeout=300)
        assert result.returncode == 1
        assert f"{checkpoint}: cannot read the checkpoint" in result.stderr
        assert f"delete {out_dir / 'resume'} to start this run over" in result.stderr
        assert "Traceback" not in result.stderr
    shutil.rmtree(out_dir / "resume")
    result = subprocess.run(command, cwd=data_run, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out_dir / "model.pt").is_file()
