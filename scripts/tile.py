"""Cut prepared scenes into tiles: rule ``tile``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import run_main
from weakseg.prepare import scene_files
from weakseg.tiling import write_tiles


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", nargs="+", required=True, help="prepared/<scene>/image.npy files")
    parser.add_argument("--labels", nargs="+", required=True, help="prepared/<scene>/label.npy files, same order")
    parser.add_argument("--tile-size", type=int, required=True, help="pixels")
    parser.add_argument("--stride", type=int, required=True, help="pixels")
    parser.add_argument("--min-labeled-fraction", type=float, required=True)
    parser.add_argument("--shorter-side", type=int, default=None, help="pixels; resize scenes to it first")
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args()
    scenes = [(scene, image, label) for scene, (image, label) in scene_files(args.images, args.labels).items()]
    write_tiles(scenes, args.tile_size, args.stride, args.min_labeled_fraction, args.out_dir, args.shorter_side)


if __name__ == "__main__":
    run_main(main)
