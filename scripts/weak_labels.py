"""Compute the weak label (class fractions) of every tile: rule ``weak_labels``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from weakseg.cli import run_main
from weakseg.datasets import get_dataset
from weakseg.splitting import read_splits
from weakseg.tiling import read_tiles
from weakseg.weak_labels import class_fractions, write_weak_labels


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--masks", required=True, help="masks.npy")
    parser.add_argument("--tiles", required=True, help="tiles.csv")
    parser.add_argument("--splits", required=True, help="splits.json")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True, help="weak_labels.csv")
    parser.add_argument("--summary", required=True, help="summary CSV per split set")
    args = parser.parse_args()
    adapter = get_dataset(args.dataset)
    tile_ids = [t.tile_id for t in read_tiles(args.tiles)]
    sets = read_splits(args.splits)
    set_of = {tile: name for name, ids in sets.items() for tile in ids}
    fractions = class_fractions(np.load(args.masks, mmap_mode="r"), adapter.n_classes)
    write_weak_labels(
        args.out, args.summary, tile_ids, fractions, [set_of.get(t) for t in tile_ids], adapter.class_names
    )


if __name__ == "__main__":
    run_main(main)
