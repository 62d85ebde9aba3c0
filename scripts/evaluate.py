"""Evaluate one trained run on the scored set (test if the split has one, else val): rule ``evaluate``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import json_arg, run_main, run_on_leased_gpu
from weakseg.datasets import get_dataset
from weakseg.evaluation import SCORED_SETS, SceneScoring, evaluate
from weakseg.prepare import scene_files


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--run", type=json_arg, required=True, help="the run's identity as JSON: variant, strong_fraction, seed, point"
    )
    parser.add_argument("--model", required=True, help="model.pt of the run")
    parser.add_argument("--tiles-dir", required=True)
    parser.add_argument("--splits", required=True)
    parser.add_argument("--weak-labels", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--scored-set", required=True, choices=SCORED_SETS)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--gallery-tiles", type=int, required=True)
    parser.add_argument("--device", required=True, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--scene-images", nargs="*", default=[], help="prepared/<scene>/image.npy (scenes mode)")
    parser.add_argument("--scene-labels", nargs="*", default=[], help="prepared/<scene>/label.npy, same order")
    parser.add_argument("--window", type=int, default=256, help="sliding window, pixels (scenes mode)")
    parser.add_argument("--overlap", type=float, default=0.25, help="fraction of the window (scenes mode)")
    parser.add_argument("--shorter-side", type=int, default=None, help="model scale, pixels (scenes mode)")
    run_on_leased_gpu(parser, _run)


def _run(args) -> None:
    """The stage itself, run while this job holds its GPU lease."""
    scenes = None
    if args.scene_images:
        files = scene_files(args.scene_images, args.scene_labels)
        scenes = SceneScoring(files, args.window, args.overlap, args.batch_size, args.shorter_side)
    evaluate(
        args.run,
        args.model,
        args.tiles_dir,
        args.splits,
        args.weak_labels,
        get_dataset(args.dataset).palette_array,
        args.out_dir,
        args.batch_size,
        args.gallery_tiles,
        args.device,
        args.threads,
        args.scored_set,
        scenes,
    )


if __name__ == "__main__":
    run_main(main)
