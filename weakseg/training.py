"""The training loop behind train_strong, pretrain_weak and finetune.

* ``strong`` mode: pixel-wise loss on pixel-labelled tiles (train_strong, finetune).
* ``weak`` mode: the proportion loss between each tile's predicted class fractions (softmax
  averaged over its labelled pixels) and its weak label (pretrain_weak); pixel labels are
  never read, only which pixels are labelled.

Every epoch writes a resume checkpoint (model, optimizer, scheduler, epoch, RNG states,
history, best score) under ``out_dir/resume/``; a rerun resumes from it, and refuses to if
the settings changed. Declared outputs appear only when the run completes:
``model.pt`` (best epoch by validation mIoU), ``last.pt`` (the final checkpoint),
``history.csv`` and ``tensorboard/``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from weakseg.errors import WeaksegError
from weakseg.losses import SegmentationLoss, predicted_fractions, proportion_loss
from weakseg.metrics import confusion_matrix, segmentation_metrics
from weakseg.models import build_model
from weakseg.outputs import staged_outputs
from weakseg.tile_data import EpochSampler, TrainingData, labeled_pixels

log = logging.getLogger(__name__)

MODES = ("strong", "weak")


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; ``cuda`` without a GPU is an error.

    Raises:
        WeaksegError: ``training.device: cuda`` on a machine where CUDA is unavailable.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise WeaksegError("training.device: 'cuda' was asked for but CUDA is not available here (use auto or cpu)")
    return torch.device(name)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision on CUDA: bf16 where supported, else fp16; none on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def settings_hash(settings: dict) -> str:
    """sha256 (hex) of the settings as sorted JSON: what a resume must match."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, workers: int, device: torch.device, seed: int) -> DataLoader:
    """A DataLoader over an :class:`EpochSampler` (set ``loader.sampler.epoch`` each epoch).

    ``workers`` persistent worker processes (none: load in the main process), pinned memory
    on CUDA.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(len(dataset), shuffle, seed),
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
    )


@torch.no_grad()
def validate(model, loader: DataLoader, device: torch.device, n_classes: int, loss_fn) -> dict:
    """Run ``model`` over ``loader``.

    Args:
        loss_fn: ``loss_fn(logits, batch, masks) -> scalar tensor``, averaged over tiles; or
            None (``loss`` is then None).

    Returns:
        ``{"loss": float or None, "confusion": (K, K) int64, "fraction_abs_error": (K,) float64 sum of
        |predicted - weak label| over tiles, "n_tiles": int}``.
    """
    model.eval()
    dtype = autocast_dtype(device)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    abs_error, loss_sum, count = np.zeros(n_classes), 0.0, 0
    for batch in loader:
        images, masks = batch["image"].to(device, non_blocking=True), batch["mask"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(images)
        logits = logits.float()
        if loss_fn is not None:
            loss_sum += float(loss_fn(logits, batch, masks)) * len(images)
        confusion += confusion_matrix(logits.argmax(1).cpu().numpy(), masks.cpu().numpy(), n_classes)
        fractions = predicted_fractions(logits, labeled_pixels(masks)).cpu().numpy()
        abs_error += np.abs(fractions - batch["fractions"].numpy()).sum(axis=0)
        count += len(images)
    loss = loss_sum / max(count, 1) if loss_fn is not None else None
    return {"loss": loss, "confusion": confusion, "fraction_abs_error": abs_error, "n_tiles": count}


def _history_fields(class_names: list[str]) -> list[str]:
    return ["epoch", "train_loss", "val_loss", "val_miou", "val_oa", "lr", "seconds"] + [f"iou_{c}" for c in class_names]


def write_history(path: Path, history: list[dict], class_names: list[str]) -> None:
    """Per-epoch metrics as CSV (one row per epoch, columns :func:`_history_fields`)."""
    with staged_outputs(path) as (staged,):
        with open(staged, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=_history_fields(class_names))
            writer.writeheader()
            for row in history:
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def _save(path: Path, obj) -> None:
    with staged_outputs(path) as (staged,):
        torch.save(obj, staged)


def _check_resume(checkpoint: dict, settings: dict, path: Path) -> None:
    if checkpoint["settings_hash"] == settings_hash(settings):
        return
    old, new = _flatten(checkpoint["settings"]), _flatten(settings)
    changed = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
    raise WeaksegError(
        f"{path} is an interrupted run with other settings ({changed}); refusing to mix runs. "
        f"Restore the settings to resume it, or delete {path.parent} to start over"
    )


def _flatten(settings: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def train(data: TrainingData, settings: dict, out_dir: str | Path, threads: int = 1) -> list[dict]:
    """Train a model and write ``model.pt``, ``last.pt``, ``history.csv`` and ``tensorboard/`` in ``out_dir``.

    Args:
        data: training and validation tiles.
        settings: ``mode`` (strong | weak), ``model`` (arch, encoder, encoder_weights),
            ``training`` (epochs, batch_size, lr, weight_decay, loss, seed, device,
            log_every_batches), and ``init_from`` (a ``model.pt`` to start from, or None).
            AdamW with cosine annealing of the learning rate over the epochs.
        threads: CPU threads; DataLoader workers = threads - 1.

    Returns:
        The history: one dict per epoch (see :func:`write_history`).

    Raises:
        WeaksegError: bad settings, an interrupted run with other settings, or a loss that
            turned NaN/inf (the last good resume checkpoint is left intact).
    """
    mode, cfg = settings["mode"], settings["training"]
    if mode not in MODES:
        raise WeaksegError(f"mode {mode!r} is not one of {MODES}")
    out_dir = Path(out_dir)
    resume_dir = out_dir / "resume"
    resume_path = resume_dir / "checkpoint.pt"
    device = resolve_device(cfg["device"])
    torch.set_num_threads(max(threads, 1))
    _seed_everything(cfg["seed"])
    n_classes = len(data.class_names)
    model_cfg = settings["model"]
    model = build_model(model_cfg["arch"], model_cfg["encoder"], model_cfg["encoder_weights"], data.in_channels, n_classes)
    if settings.get("init_from"):
        model.load_state_dict(torch.load(settings["init_from"], map_location="cpu", weights_only=False)["state_dict"])
        log.info("initialised from %s", settings["init_from"])
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    dtype = autocast_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)

    segmentation_loss = SegmentationLoss(cfg["loss"]) if mode == "strong" else None

    def loss_fn(logits, batch, masks):
        if mode == "strong":
            return segmentation_loss(logits, masks)
        target = batch["fractions"].to(logits.device)
        return proportion_loss(predicted_fractions(logits, labeled_pixels(masks)), target, cfg["loss"])

    history, best_score, start_epoch = [], -math.inf, 1
    if resume_path.exists():
        checkpoint = torch.load(resume_path, map_location="cpu", weights_only=False)
        _check_resume(checkpoint, settings, resume_path)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scaler.load_state_dict(checkpoint["scaler"])
        _set_rng_state(checkpoint["rng"])
        history, best_score, start_epoch = checkpoint["history"], checkpoint["best_score"], checkpoint["epoch"] + 1
        log.info("resuming from %s after epoch %d of %d", resume_path, checkpoint["epoch"], cfg["epochs"])
    resume_dir.mkdir(parents=True, exist_ok=True)

    workers = max(threads - 1, 0)
    train_loader = make_loader(data.train, cfg["batch_size"], True, workers, device, cfg["seed"])
    val_loader = make_loader(data.val, cfg["batch_size"], False, workers, device, cfg["seed"])
    writer = SummaryWriter(str(resume_dir / "tensorboard"), purge_step=start_epoch)
    log.info("%s training on %s: %d train tiles, %d val tiles, epochs %d-%d", mode, device, len(data.train), len(data.val), start_epoch, cfg["epochs"])
    for epoch in range(start_epoch, cfg["epochs"] + 1):
        started = time.perf_counter()
        model.train()
        train_loader.sampler.epoch = epoch
        loss_sum, count = 0.0, 0
        progress = tqdm(train_loader, desc=f"epoch {epoch}/{cfg['epochs']}", file=sys.stderr, mininterval=5, ascii=True)
        for step, batch in enumerate(progress):
            images = batch["image"].to(device, non_blocking=True)
            masks = batch["mask"].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = model(images)
            loss = loss_fn(logits.float(), batch, masks)
            if not torch.isfinite(loss):
                raise WeaksegError(
                    f"loss became {loss.item()} at epoch {epoch}, batch {step + 1}; stopped. The last good checkpoint "
                    f"({resume_path if resume_path.exists() else 'none yet'}) is intact. Try a lower learning rate"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.item() * len(images)
            count += len(images)
            if (step + 1) % cfg["log_every_batches"] == 0:
                progress.set_postfix(loss=f"{loss_sum / count:.4f}")
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        val = validate(model, val_loader, device, n_classes, loss_fn)
        scores = segmentation_metrics(val["confusion"], data.class_names)
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / max(count, 1),
            "val_loss": val["loss"],
            "val_miou": scores["miou"],
            "val_oa": scores["oa"],
            "lr": lr,
            "seconds": round(time.perf_counter() - started, 3),
            **{f"iou_{c}": scores["per_class"][c]["iou"] for c in data.class_names},
        }
        history.append(row)
        for key in ("train_loss", "val_loss", "val_miou", "val_oa", "lr"):
            if row[key] is not None:
                writer.add_scalar(key, row[key], epoch)
        writer.flush()
        log.info("epoch %d: train loss %.4f, val loss %.4f, val mIoU %s, %.1f s", epoch, row["train_loss"], row["val_loss"], row["val_miou"], row["seconds"])
        score = -1.0 if row["val_miou"] is None else row["val_miou"]
        if score > best_score:
            best_score = score
            _save(resume_dir / "best.pt", _model_record(model, settings, data, epoch, row["val_miou"]))
        write_history(resume_dir / "history.csv", history, data.class_names)
        _save(
            resume_path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch,
                "rng": _rng_state(),
                "history": history,
                "best_score": best_score,
                "settings": settings,
                "settings_hash": settings_hash(settings),
            },
        )
    writer.close()
    _publish(resume_dir, out_dir)
    return history


def _model_record(model, settings: dict, data: TrainingData, epoch: int, miou: float | None) -> dict:
    """What ``model.pt`` holds: weights plus what is needed to rebuild and describe the model."""
    return {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model": settings["model"],
        "in_channels": data.in_channels,
        "class_names": data.class_names,
        "epoch": epoch,
        "val_miou": miou,
        "settings": settings,
    }


def _publish(resume_dir: Path, out_dir: Path) -> None:
    """Move the finished run's files to the declared outputs and drop the resume folder."""
    with staged_outputs(out_dir / "model.pt", out_dir / "last.pt", out_dir / "history.csv", out_dir / "tensorboard") as staged:
        for source, target in zip(("best.pt", "checkpoint.pt", "history.csv", "tensorboard"), staged):
            shutil.move(str(resume_dir / source), str(target))
    shutil.rmtree(resume_dir)


def load_model(path: str | Path, device: torch.device):
    """Rebuild a model saved as ``model.pt``; returns ``(model in eval mode on device, record)``."""
    record = torch.load(path, map_location="cpu", weights_only=False)
    cfg = record["model"]
    # The weights come from the record, so no encoder weights are downloaded or read again.
    model = build_model(cfg["arch"], cfg["encoder"], None, record["in_channels"], len(record["class_names"]))
    model.load_state_dict(record["state_dict"])
    return model.to(device).eval(), record

