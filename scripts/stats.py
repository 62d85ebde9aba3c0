"""Per-band mean and standard deviation of a split's training tiles: rule ``stats``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from weakseg.band_statistics import band_statistics, write_statistics
from weakseg.cli import run_main
from weakseg.splitting import pool_rows, read_splits
from weakseg.tiling import read_tiles, rows_of


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", required=True, help="images.npy of the tile stage")
    parser.add_argument("--tiles", required=True, help="tiles.csv")
    parser.add_argument("--splits", required=True, help="splits.json: its strong and weak sets are the training tiles")
    parser.add_argument("--frames", type=int, default=1, help="T, frames per sample")
    parser.add_argument("--out", required=True, help="stats.json")
    args = parser.parse_args()
    row_of = rows_of(read_tiles(args.tiles))
    sets = read_splits(args.splits)
    images = np.load(args.images, mmap_mode="r")
    write_statistics(args.out, band_statistics(images, pool_rows(sets, row_of), args.frames))


if __name__ == "__main__":
    run_main(main)
