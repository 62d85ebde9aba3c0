"""What training, evaluation and prediction share: device choice, autocast, loaders, batched passes, model loading."""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from weakseg.formats.model_record import ModelSpec
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX
from weakseg.learn.metrics import confusion_matrix
from weakseg.learn.models import build_model
from weakseg.learn.resume import seed_everything
from weakseg.learn.tile_data import EpochSampler
from weakseg.weak.proportions import label_proportions, predicted_proportions


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


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, C, H, W) pixel values (uint8: a quarter of float32's bytes) copied to ``device``.

    Non-blocking (from pinned memory, see :func:`make_loader`); on CUDA in ``channels_last``
    memory format, which cuDNN convolutions run fastest in under mixed precision.
    """
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else images


def forward(model, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, K, H, W) float32 logits of ``model`` on (B, C, H, W) pixel ``images``, under autocast on CUDA."""
    dtype = autocast_dtype(device)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        logits = model(to_device(images, device))
    return logits.float()


def place_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` on ``device``; on CUDA in ``channels_last`` format with cuDNN autotuning on.

    ``cudnn.benchmark`` picks the fastest convolution algorithm per input shape (tiles and
    windows have fixed shapes); nothing changes on the CPU.
    """
    if device.type != "cuda":
        return model.to(device)
    torch.backends.cudnn.benchmark = True
    return model.to(device, memory_format=torch.channels_last)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    workers: int,
    device: torch.device,
    seed: int,
    draws: int | None = None,
) -> DataLoader:
    """A DataLoader over an :class:`EpochSampler` (set ``loader.sampler.epoch`` each epoch).

    ``draws`` tiles per epoch when shuffled (default: one pass); ``workers`` persistent
    worker processes (none: load in the main process), pinned memory on CUDA. The loader draws
    its workers' base seed from its own ``loader.generator`` (seeded with ``seed``), never from
    PyTorch's global RNG: otherwise a resumed run, whose workers start at a later epoch, would
    shift the global stream (dropout) and differ from the uninterrupted run.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(len(dataset), shuffle, seed, draws),
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=functools.partial(_seed_worker, seed),
    )


def _seed_worker(seed: int, worker_id: int) -> None:
    """Seed a worker's global RNGs from the run's seed alone (not from when its loader was first iterated)."""
    seed_everything(seed * 1000 + worker_id)


@torch.no_grad()
def validate(model, loader: DataLoader, device: torch.device, n_classes: int, loss_fn=None) -> dict:
    """Run ``model`` over ``loader`` (items with ``image`` and ``mask``).

    Args:
        loss_fn: ``loss_fn(logits, batch) -> scalar tensor``, averaged over tiles; or None
            (``loss`` is then None).

    Returns:
        ``{"loss": float or None, "confusion": (K, K) int64, "proportion_abs_error": (K,) float64
        sum over tiles of |predicted - true label proportions| (both over the tile's labelled
        pixels: predicted = softmax averaged over them, true = their class shares; so a perfect
        model scores 0 whatever the share of ignore pixels), "n_tiles": int}``.
    """
    model.eval()
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    abs_error, loss_sum, count = np.zeros(n_classes), 0.0, 0
    for batch in loader:
        logits = forward(model, batch["image"], device)
        if loss_fn is not None:
            loss_sum += float(loss_fn(logits, batch)) * len(logits)
        confusion += confusion_matrix(logits.argmax(1).cpu().numpy(), batch["mask"].numpy(), n_classes)
        true = label_proportions(batch["mask"].numpy(), n_classes)
        # Held-out tiles, never weak ones: their labelled pixels may be read, so both sides count the same pixels.
        valid = (batch["mask"] != IGNORE_INDEX).to(logits.device)
        abs_error += np.abs(predicted_proportions(logits, valid).cpu().numpy() - true).sum(axis=0)
        count += len(logits)
    loss = loss_sum / max(count, 1) if loss_fn is not None else None
    return {"loss": loss, "confusion": confusion, "proportion_abs_error": abs_error, "n_tiles": count}


def read_checkpoint(path: str | Path, remedy: str = "delete it and rerun the step that writes it") -> dict:
    """``torch.load`` of a file this pipeline wrote, on the CPU.

    Args:
        remedy: what the error message tells the user to do.

    Raises:
        WeaksegError: the file is missing or unreadable (e.g. truncated by a full disk), naming it.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise WeaksegError(f"{path}: cannot read the checkpoint ({str(error)[:200]}); {remedy}") from error


def describe_model(record: dict) -> str:
    """One line naming what a ``model.pt`` record holds: architecture, encoder, bands, classes."""
    try:
        return ModelSpec.from_record(record).describe()
    except (KeyError, TypeError):
        return "no model this pipeline wrote"


def check_model_fits(record: dict, path: str | Path, n_classes: int | None = None, in_channels: int | None = None):
    """Refuse a ``model.pt`` trained for another class count or band count than the data it is given.

    Args:
        n_classes: the dataset's class count (K), or None to skip.
        in_channels: the bands of the data (C, frames x bands for sequences), or None to skip.

    Raises:
        WeaksegError: naming the file, what it holds and what the data needs.
    """
    spec = record_spec(record, path)
    if n_classes is not None and spec.n_classes != n_classes:
        raise WeaksegError(
            f"{path}: the model predicts {spec.n_classes} classes ({', '.join(spec.class_names)}) but this dataset "
            f"has {n_classes}; use a model.pt trained on this dataset ({spec.describe()})"
        )
    if in_channels is not None and spec.in_channels != in_channels:
        raise WeaksegError(
            f"{path}: the model reads {spec.in_channels} input bands but the data has {in_channels}; "
            f"use a model.pt trained on data of the same bands ({spec.describe()})"
        )


def record_spec(record: dict, path: str | Path) -> ModelSpec:
    """The :class:`ModelSpec` of a ``model.pt`` record.

    Raises:
        WeaksegError: the file holds no model record of this pipeline, naming it.
    """
    try:
        return ModelSpec.from_record(record)
    except (KeyError, TypeError) as error:
        raise WeaksegError(
            f"{path}: not a model.pt of this pipeline (no model spec: {error}); give the model.pt of a train job"
        ) from None


def load_weights(model: torch.nn.Module, record: dict, path: str | Path) -> None:
    """``model.load_state_dict(record["state_dict"])``, refusing weights of another architecture by name.

    Raises:
        WeaksegError: the state_dict does not fit ``model`` (another architecture, encoder,
            band or class count), naming the file and what it holds.
    """
    try:
        model.load_state_dict(record["state_dict"])
    except (RuntimeError, KeyError) as error:
        first = str(error).strip().splitlines()[0][:200]
        raise WeaksegError(
            f"{path}: its weights do not fit the model being built (it holds {describe_model(record)}): {first}; "
            "give a model.pt of the same model.arch, model.encoder, bands and classes"
        ) from None


def load_model(path: str | Path, device: torch.device):
    """Rebuild a model saved as ``model.pt``; returns ``(model in eval mode on device, record)``.

    Raises:
        WeaksegError: the file is unreadable, or its weights do not fit its own model record.
    """
    record = read_checkpoint(path)
    # The weights come from the record, so no encoder weights are downloaded or read again.
    model = build_model(record_spec(record, path))
    load_weights(model, record, path)
    return place_model(model, device).eval(), record
