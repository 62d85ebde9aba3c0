"""Benchmark: the trainer's img/s next to the compute ceiling, and their ratio (prints figures).

The trainer is :func:`weakseg.learn.training._train_epoch` over a full epoch: the real DataLoader
(workers = threads - 1, pinned memory on CUDA), augmentation, uint8 copies to the device and
normalisation there, on random tiles written as ``.npy`` arrays. The ceiling is the same
model, batch size, precision (bf16 autocast on CUDA) and memory format stepping on one batch
already on the device. Each setting runs on the CPU and, when present, on CUDA. Not a test:
it prints, it asserts nothing.

    python benchmarks/throughput.py                         # the three standard settings
    python benchmarks/throughput.py --settings FPN:resnet18:128:8 --devices cpu --threads 2
    python benchmarks/throughput.py --loader-only           # the input pipeline alone, per CPU core

``--loader-only`` times the training input pipeline without a model: tile reads from ``.npy``,
albumentations' strong pipeline, collation, in the main process on one core and one torch
thread (``workers = 0``), at 256 and 512 px, and prints the cores one GPU needs to be fed at
:data:`GPU_GOAL` img/s and at the model's own CPU rate (``--model-rate``). The profile's
``cpus_per_gpu`` comes from it (docs/clusters.md).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from weakseg.data.augmentation import strong_pipeline
from weakseg.learn.inference import autocast_dtype, make_loader, to_device
from weakseg.learn.losses import SegmentationLoss
from weakseg.learn.tile_data import TileDataset, TrainingData
from weakseg.learn.training import _build, _loaders, _step, _train_epoch

#: arch:encoder:tile px:batch of the issue's three settings; batch per device.
STANDARD = {
    "cuda": ["FPN:resnet18:128:32", "FPN:resnet18:256:32", "DeepLabV3Plus:resnet50:512:16"],
    "cpu": ["FPN:resnet18:128:8", "FPN:resnet18:256:8", "DeepLabV3Plus:resnet50:512:2"],
}

#: img/s one GPU trains FPN-ResNet-18 at 256 px (the project's GPU goal; docs/clusters.md).
GPU_GOAL = 1500
#: tile px -> batch of the loader-only measurement (the CUDA settings' batches).
LOADER_TILES = {256: 32, 512: 16}

AUGMENT = {
    "p_spatial": 0.5,
    "rotate_limit": 30,
    "scale": [0.8, 1.25],
    "shift": 0.1,
    "p_color": 0.5,
    "brightness": 0.2,
    "contrast": 0.2,
    "gamma": [0.5, 1.5],
    "saturation": [0.5, 1.5],
    "hue": 0.05,
}


def ceiling(run, batch: dict, steps: int, loss_fn) -> float:
    """img/s of ``steps`` optimiser steps on one batch already on the device, as the trainer steps.

    The best of two measurements, as for the trainer (its best of two epochs).
    """
    images, masks = to_device(batch["image"], run.device), batch["mask"].to(run.device)
    dtype = autocast_dtype(run.device)
    run.step_model.train()

    def step():
        with torch.autocast(run.device.type, dtype=dtype, enabled=dtype is not None):
            logits = run.step_model(images)
        loss = loss_fn(logits.float(), masks)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()

    for _ in range(3):  # warm-up (cuDNN autotuning)
        step()
    rates = []
    for _ in range(2):
        _sync(run.device)
        started = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(run.device)
        rates.append(steps * len(images) / (time.perf_counter() - started))
    return max(rates)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="*", help="arch:encoder:tile:batch (default: the standard three)")
    parser.add_argument("--devices", nargs="*", default=["cpu", "cuda"], choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps per epoch")
    parser.add_argument("--threads", type=int, default=None, help="torch threads; workers = threads - 1 (all cores)")
    parser.add_argument("--compile", action="store_true", help="training.compile: true")
    parser.add_argument("--loader-only", action="store_true", help="the input pipeline alone, per CPU core")
    parser.add_argument(
        "--model-rate", type=float, default=5.3, help="the model's CPU img/s for --loader-only (FPN-R18, 256 px)"
    )
    return parser.parse_args()


def _settings(arch: str, encoder: str, batch_size: int, steps: int, device: str, compile_model: bool) -> dict:
    """Training settings of a strong run without pretrained weights (3 epochs of ``steps`` steps)."""
    return {
        "mode": "strong",
        "model": {"arch": arch, "encoder": encoder, "encoder_weights": None},
        "training": {
            "epochs": 3,
            "steps_per_epoch": steps,
            "batch_size": batch_size,
            "lr": 1e-3,
            "weight_decay": 0.0,
            "loss": "cross_entropy",
            "seed": 0,
            "device": device,
            "log_every_batches": 1000,
            "checkpoint": "last",
            "compile": compile_model,
        },
    }


def measure(setting: str, device: torch.device, steps: int, threads: int, compile_model: bool) -> tuple[float, float]:
    """(trainer img/s over its best of two full epochs, ceiling img/s) of one arch:encoder:tile:batch."""
    arch, encoder, tile, batch_size = setting.split(":")
    tile, batch_size = int(tile), int(batch_size)
    settings = _settings(arch, encoder, batch_size, steps, device.type, compile_model)
    with tempfile.TemporaryDirectory() as folder:
        dataset = _tiles(Path(folder), tile, max(64, 2 * batch_size))
        data = TrainingData(dataset, dataset, 3, [str(k) for k in range(6)])
        run = _build(data, settings, device)
        loaders, _ = _loaders(run, data, settings["training"], max(threads - 1, 0), device)
        step_loss, _ = _step("strong", settings["training"], False, run)
        resume = Path(folder) / "none"
        _train_epoch(run, loaders, step_loss, 1, settings["training"], resume)  # warm-up, workers start
        trainer = []
        for epoch in (2, 3):
            _sync(device)
            started = time.perf_counter()
            _train_epoch(run, loaders, step_loss, epoch, settings["training"], resume)
            _sync(device)
            trainer.append(steps * batch_size / (time.perf_counter() - started))
        batch = next(iter(loaders[0]))
        return max(trainer), ceiling(run, batch, steps, SegmentationLoss("cross_entropy"))


def _tiles(folder: Path, tile: int, n: int) -> TileDataset:
    """``n`` random tiles of ``tile`` px written as .npy arrays, read through the strong pipeline."""
    rng = np.random.default_rng(0)
    np.save(folder / "images.npy", rng.integers(0, 256, (n, tile, tile, 3), dtype=np.uint8))
    np.save(folder / "masks.npy", rng.integers(0, 6, (n, tile, tile), dtype=np.uint8))
    pipeline, proportions = strong_pipeline(AUGMENT), np.full((n, 6), 1 / 6)
    return TileDataset(folder / "images.npy", folder / "masks.npy", list(range(n)), pipeline, proportions)


def loader_rate(tile: int, batch_size: int, batches: int) -> float:
    """img/s of the training input pipeline alone on one core (best of two passes of ``batches``)."""
    with tempfile.TemporaryDirectory() as folder:
        dataset = _tiles(Path(folder), tile, max(64, 2 * batch_size))
        loader = make_loader(dataset, batch_size, True, 0, torch.device("cpu"), 0, batches * batch_size)
        rates = []
        for epoch in range(3):  # the first pass warms the page cache
            loader.sampler.epoch = epoch
            started = time.perf_counter()
            for _ in loader:
                pass
            rates.append(batches * batch_size / (time.perf_counter() - started))
        return max(rates[1:])


def loader_table(batches: int, model_rate: float) -> None:
    """Print the loader's img/s per core and the cores one GPU needs, per tile size."""
    torch.set_num_threads(1)
    header = f"{'tile px':>7}{'batch':>6}{'img/s per core':>16}{f'cores for {GPU_GOAL} img/s':>22}"
    print(f"{header}{'cores for the model on CPU':>28}")
    for tile, batch_size in LOADER_TILES.items():
        rate = loader_rate(tile, batch_size, batches)
        print(f"{tile:>7}{batch_size:>6}{rate:>16.1f}{GPU_GOAL / rate:>22.1f}{model_rate / rate:>28.2f}", flush=True)


def main() -> None:
    """Measure each setting on each device present and print a table."""
    args = _parse_args()
    if args.loader_only:
        loader_table(args.steps, args.model_rate)
        return
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    print(f"{'device':<8}{'setting':<32}{'trainer img/s':>14}{'ceiling img/s':>15}{'ratio':>7}")
    for name in devices:
        device = torch.device(name)
        label = torch.cuda.get_device_name() if name == "cuda" else f"cpu x{threads}"
        for setting in args.settings or STANDARD[name]:
            trainer, top = measure(setting, device, args.steps, threads, args.compile)
            print(f"{name:<8}{setting:<32}{trainer:>14.1f}{top:>15.1f}{trainer / top:>7.3f}  ({label})", flush=True)


if __name__ == "__main__":
    main()
