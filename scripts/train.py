"""Train a segmentation model: rules ``train_strong``, ``pretrain_weak`` and ``finetune``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import json_arg, run_main
from weakseg.models import IMAGENET_MEAN, IMAGENET_STD
from weakseg.tile_data import load_training_data
from weakseg.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", required=True, choices=["strong", "weak"], help="pixel labels or label proportions")
    parser.add_argument("--tiles-dir", required=True, help="folder with images.npy, masks.npy, tiles.csv")
    parser.add_argument("--splits", required=True)
    parser.add_argument("--weak-labels", required=True)
    parser.add_argument("--pipeline", required=True, help="albumentations pipeline (YAML) for online augmentation")
    parser.add_argument("--offline-dir", required=True, help="offline augmented copies from the augment stage")
    parser.add_argument("--model", type=json_arg, required=True, help="the model config section, as JSON")
    parser.add_argument("--training", type=json_arg, required=True, help="epochs, batch_size, lr, ... as JSON")
    parser.add_argument("--init-from", default=None, help="model.pt to start from (finetuning)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args()
    data = load_training_data(
        args.mode, args.tiles_dir, args.splits, args.weak_labels, args.pipeline, args.offline_dir, IMAGENET_MEAN, IMAGENET_STD,
        args.training["seed"],
    )
    settings = {"mode": args.mode, "model": args.model, "training": args.training, "init_from": args.init_from}
    train(data, settings, args.out_dir, args.threads)


if __name__ == "__main__":
    run_main(main)
