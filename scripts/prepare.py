"""Decode one scene to an image array and a class-index label array: rule ``prepare``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import run_main
from weakseg.datasets import get_dataset
from weakseg.download import read_scenes
from weakseg.errors import WeaksegError
from weakseg.prepare import prepare_scene, write_prepared


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", required=True, help="raw data folder holding scenes.csv")
    parser.add_argument("--scene", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument(
        "--snap-max-distance", type=float, default=None, help="snap off-palette colours within this RGB distance"
    )
    parser.add_argument("--resize", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"), help="resize to this size, pixels")
    parser.add_argument("--image-out", required=True)
    parser.add_argument("--label-out", required=True)
    args = parser.parse_args()
    scenes = {s.scene: s for s in read_scenes(args.raw)}
    if args.scene not in scenes:
        raise WeaksegError(f"scene {args.scene!r} is not in {args.raw}/scenes.csv")
    files = scenes[args.scene]
    raw = Path(args.raw)
    image, label = prepare_scene(
        raw / files.image,
        raw / files.label,
        get_dataset(args.dataset),
        args.snap_max_distance,
        tuple(raw / frame for frame in files.frames),
        args.resize,
    )
    write_prepared(args.image_out, args.label_out, image, label)


if __name__ == "__main__":
    run_main(main)
