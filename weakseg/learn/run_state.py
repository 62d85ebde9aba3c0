"""A run's state on disk: the resume folder's checkpoints, the history, and the finished run's outputs.

An epoch ends with :func:`save_epoch`: the best model so far (``best.pt``), ``history.csv``
and the resume checkpoint (``checkpoint.pt``: model, optimizer, scheduler, grad scaler, RNG
states, a method's extra modules such as an EMA teacher, history, settings and a fingerprint
of the inputs), each written all or nothing in the
run's resume folder (:attr:`weakseg.formats.bundles.RunFiles.resume`). :func:`resume_run`
loads it on a rerun, or refuses when the settings or the content of an input changed
(:mod:`weakseg.learn.resume`). :func:`publish` moves the finished run's files to the rule's
outputs and drops the folder.
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from weakseg.formats.bundles import RunFiles
from weakseg.formats.model_record import ModelSpec
from weakseg.io.errors import WeaksegError
from weakseg.io.outputs import staged_outputs
from weakseg.learn.inference import read_checkpoint
from weakseg.learn.resume import check_same_run, fingerprint, rng_state, set_rng_state, settings_hash
from weakseg.learn.tile_data import TrainingData

log = logging.getLogger(__name__)


def _history_fields(class_names: list[str]) -> list[str]:
    return ["epoch", "train_loss", "val_loss", "val_miou", "val_oa", "lr", "seconds"] + [
        f"iou_{c}" for c in class_names
    ]


def write_history(path: Path, history: list[dict], class_names: list[str]) -> None:
    """Per-epoch metrics as CSV (one row per epoch, columns :func:`_history_fields`)."""
    with staged_outputs(path) as (staged,):
        with open(staged, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=_history_fields(class_names))
            writer.writeheader()
            for row in history:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def save_atomically(path: Path, obj) -> None:
    """``torch.save`` to ``path`` all or nothing.

    Raises:
        WeaksegError: the write failed (a full disk makes torch raise ``RuntimeError:
            basic_ios::clear: iostream error``), naming the file, the free space and the fix.
    """
    try:
        with staged_outputs(path) as (staged,):
            torch.save(obj, staged)
    except (RuntimeError, OSError) as error:
        free = shutil.disk_usage(path.parent).free if path.parent.exists() else 0
        raise WeaksegError(
            f"{path}: cannot write the checkpoint ({str(error)[:120]}); is the disk full? {free / 2**30:.3g} GiB "
            f"free on its file system. Free space and rerun: the run resumes from its last good checkpoint"
        ) from None


@dataclass
class RunState:
    """The state of a run in progress."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    device: torch.device
    step_model: torch.nn.Module  # model, or torch.compile(model): same weights
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    start_epoch: int = 1
    generators: list[torch.Generator] = field(default_factory=list)
    inputs: dict[str, dict] = field(default_factory=dict)
    extras: dict[str, torch.nn.Module] = field(default_factory=dict)  # a method's modules (an EMA teacher)


def resume_run(run: RunState, settings: dict, inputs: dict[str, str], resume_path: Path) -> None:
    """Fingerprint the run's inputs; load an interrupted run of the same settings and inputs, if any.

    Raises:
        WeaksegError: the resume checkpoint is unreadable, or its settings or inputs differ
            (naming what changed).
    """
    if not resume_path.exists():
        run.inputs = fingerprint(inputs)
        return
    checkpoint = read_checkpoint(resume_path, f"delete {resume_path.parent} to start this run over")
    run.inputs = fingerprint(inputs, known=checkpoint.get("inputs"))
    check_same_run(checkpoint, settings, run.inputs, resume_path)
    run.model.load_state_dict(checkpoint["model"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    run.scheduler.load_state_dict(checkpoint["scheduler"])
    run.scaler.load_state_dict(checkpoint["scaler"])
    set_rng_state(checkpoint["rng"], run.generators)
    for name, module in run.extras.items():
        module.load_state_dict(checkpoint["extras"][name])
    run.history, run.best_score, run.start_epoch = (
        checkpoint["history"],
        checkpoint["best_score"],
        checkpoint["epoch"] + 1,
    )
    log.info("resuming from %s after epoch %d of %d", resume_path, checkpoint["epoch"], settings["training"]["epochs"])


def save_epoch(run: RunState, settings: dict, data: TrainingData, row: dict, resume_dir: Path) -> None:
    """Write the epoch's history, the best model so far, and the resume checkpoint (last, atomically)."""
    epoch = row["epoch"]
    score = -1.0 if row["val_miou"] is None else row["val_miou"]
    if score > run.best_score:
        run.best_score = score
        save_atomically(resume_dir / "best.pt", model_record(run.model, settings, data, epoch, row["val_miou"]))
    write_history(resume_dir / "history.csv", run.history, data.class_names)
    save_atomically(
        resume_dir / "checkpoint.pt",
        {
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler.state_dict(),
            "epoch": epoch,
            "rng": rng_state(run.generators),
            "history": run.history,
            "best_score": run.best_score,
            "settings": settings,
            "settings_hash": settings_hash(settings),
            "inputs": run.inputs,
            "extras": {name: module.state_dict() for name, module in run.extras.items()},
        },
    )


def last_good(resume_path: Path) -> str:
    """The sentence an error ends with: whether the run's last good checkpoint ``resume_path`` is intact."""
    if not resume_path.exists():
        return "No checkpoint was written yet"
    return f"The last good checkpoint ({resume_path}) is intact"


def check_finite(run: RunState, row: dict, resume_path: Path) -> None:
    """Refuse to checkpoint an epoch that left non-finite weights or a non-finite validation loss.

    Raises:
        WeaksegError: naming the epoch and the first non-finite tensor (or the loss).
    """
    state = run.model.state_dict()
    bad = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is None and (row["val_loss"] is None or math.isfinite(row["val_loss"])):
        return
    what = f"the weights {bad} are not finite" if bad else f"the validation loss is {row['val_loss']}"
    raise WeaksegError(
        f"training diverged in epoch {row['epoch']}: {what}; nothing of this epoch was saved. "
        f"{last_good(resume_path)}. Try a lower learning rate"
    )


def model_spec(settings: dict, data: TrainingData) -> ModelSpec:
    """The run's model: its ``model`` settings, with the data's bands, classes and normalisation."""
    model = settings["model"]
    return ModelSpec(
        arch=model["arch"],
        encoder=model["encoder"],
        in_channels=data.in_channels,
        class_names=tuple(data.class_names),
        task=model.get("task", "auto"),
        mean=tuple(data.mean),
        std=tuple(data.std),
        frames=model.get("frames", 1),
        encoder_weights=model["encoder_weights"],
    )


def model_record(model, settings: dict, data: TrainingData, epoch: int, miou: float | None) -> dict:
    """What ``model.pt`` holds (:mod:`weakseg.formats.model_record`): weights, the spec that rebuilds them."""
    return {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "spec": model_spec(settings, data).as_record(),
        "epoch": epoch,
        "val_miou": miou,
        "settings": settings,
    }


def publish(resume_dir: Path, out: RunFiles, final: dict, history: list[dict], checkpoint: str) -> None:
    """Move the finished run's files to the declared outputs and drop the resume folder.

    ``model.pt`` is ``final`` (``checkpoint: last``) or the best validation epoch (``best``);
    either way it records ``selected``, ``best_epoch`` and ``last_epoch``.
    """
    record = read_checkpoint(resume_dir / "best.pt") if checkpoint == "best" else final
    scores = [-1.0 if row["val_miou"] is None else row["val_miou"] for row in history]
    record.update(
        selected=checkpoint, best_epoch=history[int(np.argmax(scores))]["epoch"], last_epoch=history[-1]["epoch"]
    )
    save_atomically(resume_dir / "model.pt", record)
    with staged_outputs(out.model, out.last, out.history, out.tensorboard) as staged:
        for source, target in zip(("model.pt", "checkpoint.pt", "history.csv", "tensorboard"), staged, strict=False):
            shutil.move(str(resume_dir / source), str(target))
    shutil.rmtree(resume_dir)
