"""Apply a trained model to whole images or scenes (sliding window): rule ``predict``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import run_main, run_on_leased_gpu
from weakseg.datasets import get_dataset
from weakseg.predict import Windows, folder_images, predict_images, scenes_of_set
from weakseg.prepare import scene_files
from weakseg.splitting import read_splits
from weakseg.tiling import read_tiles


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="model.pt of a run")
    parser.add_argument("--dataset", required=True, help="for the palette")
    parser.add_argument("--folder", help="a folder of TIFF/PNG/JPEG images")
    parser.add_argument("--set", choices=["val", "test"], help="or: the scenes of this set of --splits")
    parser.add_argument("--splits", help="splits.json (with --set)")
    parser.add_argument("--tiles", help="tiles.csv (with --set)")
    parser.add_argument("--scene-images", nargs="*", default=[], help="prepared/<scene>/image.npy (with --set)")
    parser.add_argument("--scene-labels", nargs="*", default=[], help="prepared/<scene>/label.npy, same order")
    parser.add_argument("--window", type=int, required=True, help="pixels")
    parser.add_argument("--overlap", type=float, required=True, help="fraction of the window")
    parser.add_argument("--batch-size", type=int, required=True, help="windows per forward pass")
    parser.add_argument("--shorter-side", type=int, default=None, help="model scale, pixels")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--out-dir", required=True)
    run_on_leased_gpu(parser, _run)


def _run(args) -> None:
    """The stage itself, run while this job holds its GPU lease."""
    if args.folder:
        images = folder_images(args.folder)
    else:
        files = scene_files(args.scene_images, args.scene_labels)
        images = scenes_of_set(read_tiles(args.tiles), read_splits(args.splits), args.set, files)
    windows = Windows(args.window, args.overlap, args.batch_size, args.shorter_side)
    predict_images(args.model, images, args.out_dir, windows, get_dataset(args.dataset).palette_array, args.device)


if __name__ == "__main__":
    run_main(main)
