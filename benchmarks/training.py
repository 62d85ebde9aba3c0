"""Benchmark: training img/s of the project's own loop next to the compute ceiling (prints figures).

The ceiling is the same model, batch size and threads stepping on one batch already in
memory (no data loading, no augmentation, no host-to-device copy). The loop is
:func:`weakseg.training._train_epoch` over the real DataLoader and augmentation pipeline on
random tiles written as ``.npy`` arrays. Not a test: it prints, it asserts nothing.

    python benchmarks/training.py --tile-size 128 --batch-size 8 --threads 2
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from weakseg.augmentation import strong_pipeline
from weakseg.inference import make_loader, resolve_device
from weakseg.losses import SegmentationLoss
from weakseg.models import IMAGENET_MEAN, IMAGENET_STD
from weakseg.tile_data import TileDataset, TrainingData
from weakseg.training import _build, _loss_functions, _train_epoch

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
    """img/s of ``steps`` optimiser steps on one batch already on the device."""
    images, masks = batch["image"].to(run.device), batch["mask"].to(run.device)
    run.model.train()
    for _ in range(2):  # warm-up
        loss = loss_fn(run.model(images), masks)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
    _sync(run.device)
    started = time.perf_counter()
    for _ in range(steps):
        loss = loss_fn(run.model(images), masks)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
    _sync(run.device)
    return steps * len(images) / (time.perf_counter() - started)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="FPN")
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--tile-size", type=int, default=128, help="pixels")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps per measurement")
    parser.add_argument("--threads", type=int, default=2, help="torch threads; DataLoader workers = threads - 1")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return parser.parse_args()


def _settings(args: argparse.Namespace) -> dict:
    """Training settings of a strong run without pretrained weights (3 epochs of ``--steps`` steps)."""
    return {
        "mode": "strong",
        "model": {"arch": args.arch, "encoder": args.encoder, "encoder_weights": None},
        "training": {
            "epochs": 3,
            "steps_per_epoch": args.steps,
            "batch_size": args.batch_size,
            "lr": 1e-3,
            "weight_decay": 0.0,
            "loss": "cross_entropy",
            "seed": 0,
            "device": args.device,
            "log_every_batches": 1000,
            "checkpoint": "last",
        },
    }


def main() -> None:
    """Parse the command line and run the stage."""
    args = _parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    settings = _settings(args)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        n, t = 64, args.tile_size
        np.save(Path(folder) / "images.npy", rng.integers(0, 256, (n, t, t, 3), dtype=np.uint8))
        np.save(Path(folder) / "masks.npy", rng.integers(0, 6, (n, t, t), dtype=np.uint8))
        dataset = TileDataset(
            Path(folder) / "images.npy",
            Path(folder) / "masks.npy",
            list(range(n)),
            IMAGENET_MEAN,
            IMAGENET_STD,
            strong_pipeline(AUGMENT),
            np.full((n, 6), 1 / 6),
        )
        data = TrainingData(dataset, dataset, 3, [str(k) for k in range(6)])
        run = _build(data, settings, device)
        loader = make_loader(
            dataset, args.batch_size, True, max(args.threads - 1, 0), device, 0, args.steps * args.batch_size
        )
        step_loss, _ = _loss_functions("strong", settings["training"])
        _train_epoch(run, [loader], step_loss, 1, settings["training"], Path(folder) / "none")  # warm-up, workers start
        loop = []
        for epoch in (2, 3):
            _sync(device)
            started = time.perf_counter()
            _train_epoch(run, [loader], step_loss, epoch, settings["training"], Path(folder) / "none")
            _sync(device)
            loop.append(args.steps * args.batch_size / (time.perf_counter() - started))
        batch = next(iter(make_loader(dataset, args.batch_size, True, 0, device, 0)))
        top = ceiling(run, batch, args.steps, SegmentationLoss("cross_entropy"))
    setup = f"{args.arch}-{args.encoder}, {args.tile_size} px tiles, batch {args.batch_size}"
    print(f"{setup}, {args.threads} threads, {device}")
    print(f"training loop:   {max(loop):8.1f} img/s")
    print(f"compute ceiling: {top:8.1f} img/s")
    print(f"ratio:           {max(loop) / top:8.3f}")


if __name__ == "__main__":
    main()
