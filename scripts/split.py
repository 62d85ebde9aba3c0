"""Split tiles into val / test / pool (strong + weak) sets: rule ``split``."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from weakseg.cli import json_arg, run_main, write_json
from weakseg.datasets import get_dataset, official_test_prefix
from weakseg.outputs import staged_outputs
from weakseg.splitting import GROUPINGS, split_tiles
from weakseg.tiling import read_tiles


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", required=True, help="tiles.csv")
    parser.add_argument("--tile-size", type=int, required=True, help="pixels")
    parser.add_argument("--stride", type=int, required=True, help="pixels")
    parser.add_argument(
        "--fractions", type=json_arg, required=True, help='e.g. {"strong": 0.1, "weak": 0.7, "val": 0.2}'
    )
    parser.add_argument("--group-by", required=True, choices=GROUPINGS)
    parser.add_argument("--dataset", default=None, help="dataset name (needed by group_by city: its scene -> city)")
    parser.add_argument("--block-size", type=int, required=True, help="tiles per block side")
    parser.add_argument("--seed", type=int, required=True, help="the split seed")
    parser.add_argument("--official-test-of", default=None, help="a dataset name: its official test scenes are test")
    parser.add_argument("--out", required=True, help="splits.json")
    args = parser.parse_args()
    test_prefix = official_test_prefix(args.official_test_of) if args.official_test_of else None
    splits = split_tiles(
        read_tiles(args.tiles),
        args.tile_size,
        args.stride,
        args.fractions,
        args.group_by,
        args.block_size,
        args.seed,
        test_prefix,
        get_dataset(args.dataset).scene_group if args.dataset else None,
    )
    with staged_outputs(args.out) as (staged,):
        write_json(staged, splits)


if __name__ == "__main__":
    run_main(main)
