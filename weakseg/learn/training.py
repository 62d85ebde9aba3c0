"""The training loop behind the ``train`` rule: one loop for every variant.

* ``strong`` mode: pixel-wise loss on pixel-labelled tiles (strong_only, weak_finetuned, full).
* ``weak`` mode: the weak loss of the run's weak-label kind (``weak_kind``, see
  :mod:`weakseg.weak`) between each tile's pooled prediction and its weak label (weak_only;
  for label proportions: the softmax averaged over every pixel of the tile). The masks of
  weak tiles are never opened.
* ``joint`` mode: each step sums the pixel loss on a strong batch and ``joint_weight`` x
  the weak loss on a weak batch (one forward pass over both batches).

A run's method (``training.method``: FixMatch consistency, a pseudo-mask student) shapes each
step without changing this loop (:mod:`weakseg.learn.steps`, :mod:`weakseg.methods`): which
images go through the forward pass, the loss of their logits, and extra state such as an EMA
teacher, kept in the resume checkpoint.

Training length is counted in optimiser steps, the same for every variant: ``epochs`` x
``steps_per_epoch`` batches of ``batch_size`` tiles, whatever the size of the training set
(so ``full``, with eight times the tiles of ``strong_only``, takes the same time, and a
comparison of variants is one of supervision, not of compute). An epoch is a fixed number of
steps followed by a validation pass and a resume checkpoint (model, optimizer, scheduler,
RNG states, history, a fingerprint of the inputs) in the run's resume folder
(:mod:`weakseg.learn.run_state`); a rerun resumes
from it, and refuses to if the settings or the content of any input changed (see
:mod:`weakseg.learn.resume`). An epoch that leaves non-finite weights is never checkpointed.
Declared outputs appear only when the run completes: ``model.pt`` (the final epoch with
``checkpoint: last``, the best validation epoch with ``best``), ``last.pt`` (the final resume
checkpoint), ``history.csv`` and ``tensorboard/``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from weakseg.design.experiment import VARIANTS, local_encoder_weights
from weakseg.formats.bundles import RunFiles
from weakseg.io.errors import WeaksegError
from weakseg.learn.inference import (
    autocast_dtype,
    check_model_fits,
    load_weights,
    make_loader,
    place_model,
    read_checkpoint,
    resolve_device,
    validate,
)
from weakseg.learn.metrics import segmentation_metrics
from weakseg.learn.models import build_model, resolve_task
from weakseg.learn.resume import seed_everything
from weakseg.learn.run_state import (
    RunState,
    check_finite,
    last_good,
    model_record,
    model_spec,
    publish,
    resume_run,
    save_epoch,
)
from weakseg.learn.steps import Step, loss_functions, run_method
from weakseg.learn.tile_data import TrainingData
from weakseg.weak import get_weak_kind

log = logging.getLogger(__name__)

MODES = ("strong", "weak", "joint")
CHECKPOINTS = ("last", "best")


def _build(data: TrainingData, settings: dict, device: torch.device) -> RunState:
    """Model (from ``init_from`` if given), AdamW, cosine annealing over the epochs, grad scaler."""
    cfg = settings["training"]
    model = build_model(model_spec(settings, data))
    if settings.get("init_from"):
        parent = read_checkpoint(settings["init_from"])
        check_model_fits(parent, settings["init_from"], len(data.class_names), data.in_channels)
        load_weights(model, parent, settings["init_from"])
        log.info("initialised from %s", settings["init_from"])
    place_model(model, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    scaler = torch.amp.GradScaler("cuda", enabled=autocast_dtype(device) == torch.float16)
    # The compiled module shares the weights; state_dicts are taken from the plain one.
    step_model = torch.compile(model) if cfg.get("compile") else model
    return RunState(model, optimizer, scheduler, scaler, device, step_model)


def _train_epoch(run: RunState, loaders: list, step: Step, epoch: int, cfg: dict, resume_path: Path) -> float:
    """One epoch of optimiser steps; returns the mean training loss per tile.

    Raises:
        WeaksegError: the loss became NaN or infinite (nothing of this epoch is saved).
    """
    run.model.train()
    for loader in loaders:
        loader.sampler.epoch = epoch
    loss_sum, count = 0.0, 0
    progress = tqdm(
        zip(*loaders, strict=False),
        total=len(loaders[0]),
        desc=f"epoch {epoch}/{cfg['epochs']}",
        file=sys.stderr,
        mininterval=5,
        ascii=True,
    )
    for index, batches in enumerate(progress):
        loss = step(run.step_model, list(batches), run.device, run.extras, epoch, index)
        if not torch.isfinite(loss):
            raise WeaksegError(
                f"loss became {loss.item()} at epoch {epoch}, batch {index + 1}; stopped. {last_good(resume_path)}. "
                "Try a lower learning rate"
            )
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        step.method.after_step(run.model, run.extras, step.options)
        loss_sum += loss.item() * len(batches[0]["image"])
        count += len(batches[0]["image"])
        if (index + 1) % cfg["log_every_batches"] == 0:
            progress.set_postfix(loss=f"{loss_sum / count:.4f}")
    return loss_sum / max(count, 1)


def _epoch_row(epoch: int, train_loss: float, val: dict, lr: float, seconds: float, class_names: list[str]) -> dict:
    scores = segmentation_metrics(val["confusion"], class_names)
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_loss": val["loss"],
        "val_miou": scores["miou"],
        "val_oa": scores["oa"],
        "lr": lr,
        "seconds": round(seconds, 3),
        **{f"iou_{c}": scores["per_class"][c]["iou"] for c in class_names},
    }


def train(
    data: TrainingData, settings: dict, out: RunFiles, threads: int = 1, inputs: dict[str, str] | None = None
) -> list[dict]:
    """Train a model and write ``out`` (model, last checkpoint, history, tensorboard) when it completes.

    Args:
        data: training and validation tiles (and the weak tiles in joint mode).
        settings: ``mode`` (strong | weak | joint), ``model`` (arch, encoder, encoder_weights),
            ``training`` (epochs, steps_per_epoch, batch_size, lr, weight_decay, loss or
            weak_kind and weak_options in weak and joint mode, joint_weight in joint mode, seed, device,
            log_every_batches,
            checkpoint: last | best; ``method`` and ``method_options`` for a method with options),
            and ``init_from`` (a ``model.pt`` to start from, or None);
            other keys (variant, fraction, ...) only identify the run. AdamW with cosine
            annealing of the learning rate over the epochs.
        threads: CPU threads; DataLoader workers = threads - 1.
        inputs: role -> path of every file the run's data came from (tiles, split, weak
            labels, pipelines, offline copies); fingerprinted with ``init_from`` and local
            encoder weights so that a resume is refused when any of them changed (see
            :mod:`weakseg.learn.resume`).

    Returns:
        The history: one dict per epoch (see :func:`~weakseg.learn.run_state.write_history`).

    Raises:
        WeaksegError: bad settings, an empty set, an unreadable resume checkpoint, an
            interrupted run with other settings or inputs, or a loss, weights or validation loss
            that turned NaN/inf (the last good resume checkpoint is left intact).
    """
    mode, cfg = _checked_settings(data, settings)
    resume_dir = out.resume
    resume_path = resume_dir / "checkpoint.pt"
    device = resolve_device(cfg["device"])
    tile_shape = np.load(data.val.images_path, mmap_mode="r").shape[1:]  # every set shares the tile arrays
    check_batch_fits(cfg["batch_size"], tile_shape, f"{_section(settings)}.batch_size", device)
    torch.set_num_threads(max(threads, 1))
    seed_everything(cfg["seed"])
    run = _build(data, settings, device)
    loaders, val_loader = _loaders(run, data, cfg, max(threads - 1, 0), device)
    inputs = {**(inputs or {}), **({"init": settings["init_from"]} if settings.get("init_from") else {})}
    weights = local_encoder_weights(settings["model"])
    if weights is not None:
        inputs["encoder_weights"] = weights
    run.extras = run_method(cfg).extra_modules(run.model, cfg.get("method_options", {}))
    resume_run(run, settings, inputs, resume_path)
    resume_dir.mkdir(parents=True, exist_ok=True)
    binary = resolve_task(settings["model"].get("task", "auto"), len(data.class_names)) == "binary"
    step, val_loss = _step(mode, cfg, binary, run)
    writer = SummaryWriter(str(resume_dir / "tensorboard"), purge_step=run.start_epoch)
    weak = f" + {len(data.weak)} weak tiles" if data.weak is not None else ""
    log.info(
        "%s training on %s: %d train tiles%s, %d val tiles, epochs %d-%d of %d steps",
        *(mode, device, len(data.train), weak, len(data.val), run.start_epoch, cfg["epochs"], cfg["steps_per_epoch"]),
    )
    for epoch in range(run.start_epoch, cfg["epochs"] + 1):
        started = time.perf_counter()
        train_loss = _train_epoch(run, loaders, step, epoch, cfg, resume_path)
        lr = run.optimizer.param_groups[0]["lr"]
        run.scheduler.step()
        val = validate(run.model, val_loader, device, len(data.class_names), val_loss)
        row = _epoch_row(epoch, train_loss, val, lr, time.perf_counter() - started, data.class_names)
        check_finite(run, row, resume_path)
        run.history.append(row)
        _log_epoch(writer, row)
        save_epoch(run, settings, data, row, resume_dir)
    writer.close()
    final = model_record(run.model, settings, data, cfg["epochs"], run.history[-1]["val_miou"])
    publish(resume_dir, out, final, run.history, cfg.get("checkpoint", "last"))
    return run.history


def _step(mode: str, cfg: dict, binary: bool, run: RunState) -> tuple[Step, object]:
    """The run's :class:`~weakseg.learn.steps.Step` and its validation loss."""
    method = run_method(cfg)
    step_loss, val_loss, pixel = loss_functions(mode, cfg, binary, method)
    weak_label = mode == "strong" or get_weak_kind(cfg["weak_kind"]).has_label
    options = cfg.get("method_options", {})
    return Step(method, options, step_loss, pixel, weak_label, cfg["seed"]), val_loss


def _loaders(run: RunState, data: TrainingData, cfg: dict, workers: int, device: torch.device) -> tuple[list, object]:
    """The training loaders (train, then weak in joint mode) and the validation loader.

    Every loader has its own seeded generator, kept on ``run`` so the resume checkpoint holds
    their states; each training loader draws ``steps_per_epoch * batch_size`` tiles an epoch.
    """
    draws = cfg["steps_per_epoch"] * cfg["batch_size"]
    loaders = [
        make_loader(d, cfg["batch_size"], True, workers, device, cfg["seed"], draws)
        for d in (data.train, data.weak)
        if d is not None
    ]
    val_loader = make_loader(data.val, cfg["batch_size"], False, workers, device, cfg["seed"])
    run.generators = [loader.generator for loader in (*loaders, val_loader)]
    return loaders, val_loader


#: Bytes per input value on the device (float32 after normalisation).
_FLOAT_BYTES = 4


def available_memory(device: torch.device) -> int:
    """Bytes of memory of ``device``: the GPU's total memory on CUDA, the host's physical RAM on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_batch_fits(batch_size: int, tile_shape: tuple[int, ...], key: str, device: torch.device) -> None:
    """Refuse a batch whose float32 input tensor alone exceeds the memory of the job's device.

    A lower bound (activations take many times more), checked on the job's own host before
    the model is built, so a typo such as ``batch_size: 1000000`` fails in a second with its
    key named instead of a memory error minutes later.

    Args:
        tile_shape: (H, W, C) of one tile, pixels and bands (C = frames x bands).
        key: the config key of the batch size, e.g. ``training.batch_size``.

    Raises:
        WeaksegError: naming ``key``, the bytes needed and the bytes the device has.
    """
    needed = batch_size * math.prod(tile_shape) * _FLOAT_BYTES
    have = available_memory(device)
    if needed > have:
        raise WeaksegError(
            f"{key}: a batch of {batch_size} tiles of {' x '.join(map(str, tile_shape))} needs "
            f"{needed / 2**30:.3g} GiB for its float32 inputs alone, more than the {have / 2**30:.3g} GiB of "
            f"{device.type}; use a batch size of tens to hundreds of tiles"
        )


def _checked_settings(data: TrainingData, settings: dict) -> tuple[str, dict]:
    """``(mode, training settings)``, after checking them against each other and ``data``."""
    mode, cfg = settings["mode"], settings["training"]
    if mode not in MODES:
        raise WeaksegError(f"mode {mode!r} is not one of {MODES}")
    if cfg.get("checkpoint", "last") not in CHECKPOINTS:
        raise WeaksegError(f"training.checkpoint: {cfg['checkpoint']!r} is not one of {', '.join(CHECKPOINTS)}")
    if (mode == "joint") != (data.weak is not None):
        raise WeaksegError("joint mode needs both pixel-labelled and weakly labelled training tiles")
    for name, tiles in (("training", data.train), ("validation", data.val), ("weak", data.weak)):
        if tiles is not None and len(tiles) == 0:
            raise WeaksegError(
                f"the {name} set of this run has no tiles; use more scenes, smaller tiles or other fractions"
            )
    return mode, cfg


def _section(settings: dict) -> str:
    """The config section of the run's schedule (``training`` or ``pretraining``), for messages."""
    return VARIANTS[settings["variant"]].section if settings.get("variant") in VARIANTS else "training"


def _log_epoch(writer: SummaryWriter, row: dict) -> None:
    for key in ("train_loss", "val_loss", "val_miou", "val_oa", "lr"):
        if row[key] is not None:
            writer.add_scalar(key, row[key], row["epoch"])
    writer.flush()
    log.info(
        "epoch %d: train loss %.4f, val loss %.4f, val mIoU %s, %.1f s",
        row["epoch"],
        row["train_loss"],
        row["val_loss"],
        row["val_miou"],
        row["seconds"],
    )
