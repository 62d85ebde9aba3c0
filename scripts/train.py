"""Train one run of a variant (strong fraction, seed, grid point): rule ``train``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.band_statistics import read_statistics, resolve_normalization
from weakseg.cli import json_arg, run_main, run_on_leased_gpu
from weakseg.experiment import VARIANTS
from weakseg.models import IMAGENET_MEAN, IMAGENET_STD
from weakseg.tile_data import load_training_data
from weakseg.training import train


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--run",
        type=json_arg,
        required=True,
        help="the run's settings as JSON: variant, mode, strong_fraction, seed, point, model, training",
    )
    parser.add_argument("--tiles-dir", required=True, help="folder with images.npy, masks.npy, tiles.csv")
    parser.add_argument("--splits", required=True)
    parser.add_argument("--weak-labels", required=True)
    parser.add_argument("--pipelines-dir", required=True, help="folder with the strong.yaml and weak.yaml pipelines")
    parser.add_argument("--offline-dir", required=True, help="offline augmented copies from the augment stage")
    parser.add_argument(
        "--stats", required=True, help="stats.json: the band statistics of model.normalization: dataset"
    )
    parser.add_argument("--init-from", default=None, help="model.pt to start from (weak_finetuned)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", required=True)
    run_on_leased_gpu(parser, _run)


def _run(args) -> None:
    """The stage itself, run while this job holds its GPU lease."""
    settings = {**args.run, "init_from": args.init_from}
    normalization = resolve_normalization(settings["model"])
    mean, std = read_statistics(args.stats) if normalization == "dataset" else (IMAGENET_MEAN, IMAGENET_STD)
    data = load_training_data(
        VARIANTS[settings["variant"]],
        settings["strong_fraction"],
        args.tiles_dir,
        args.splits,
        args.weak_labels,
        args.pipelines_dir,
        args.offline_dir,
        settings["training"]["seed"],
        mean,
        std,
    )
    tiles, pipelines, offline = Path(args.tiles_dir), Path(args.pipelines_dir), Path(args.offline_dir)
    inputs = {
        "tiles": tiles / "tiles.csv",
        "images": tiles / "images.npy",
        "masks": tiles / "masks.npy",
        "splits": args.splits,
        "weak_labels": args.weak_labels,
        "strong_pipeline": pipelines / "strong.yaml",
        "weak_pipeline": pipelines / "weak.yaml",
        "offline_copies": offline / "copies.csv",
        "offline_images": offline / "images.npy",
        "offline_masks": offline / "masks.npy",
        "stats": args.stats,
    }
    train(data, settings, args.out_dir, args.threads, inputs)


if __name__ == "__main__":
    run_main(main)
