"""Build and save the augmentation pipelines, a preview and optional offline copies: rule ``augment``."""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from weakseg.augmentation import (
    COLOUR_BANDS,
    preview,
    save_pipeline,
    strong_pipeline,
    weak_pipeline,
    write_offline_copies,
)
from weakseg.cli import json_arg, run_main
from weakseg.datasets import get_dataset
from weakseg.imageio import write_png
from weakseg.outputs import staged_outputs
from weakseg.splitting import pool_rows, read_splits
from weakseg.tiling import read_tiles, rows_of


def main() -> None:
    """Parse the command line and run the stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", type=json_arg, required=True, help="the augment config section, as JSON")
    parser.add_argument("--images", required=True)
    parser.add_argument("--masks", required=True)
    parser.add_argument("--tiles", required=True)
    parser.add_argument("--splits", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--frames", type=int, default=1, help="T, frames per sample (sequence.length)")
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args()
    settings, out = args.settings, Path(args.out_dir)
    images, masks = np.load(args.images, mmap_mode="r"), np.load(args.masks, mmap_mode="r")
    tiles = read_tiles(args.tiles)
    tile_ids, row_of = [t.tile_id for t in tiles], rows_of(tiles)
    sets = read_splits(args.splits)
    # Offline copies of every tile of the pool with both pipelines: the strong and weak sets
    # of every strong fraction are drawn from the pool (see weakseg.splitting).
    pool = pool_rows(sets, row_of)
    rows_by_pipeline = {"strong": pool, "weak": pool}
    bands = images.shape[3] // args.frames
    if bands not in COLOUR_BANDS:
        logging.getLogger("augment").info("%d-band frames: saturation and hue (defined for RGB) are not applied", bands)
    pipelines = {
        "strong": strong_pipeline(settings, bands, args.frames),
        "weak": weak_pipeline(settings, bands, args.frames),
    }
    strong_rows = [row_of[t] for t in sets["strong"]]
    shown = np.random.default_rng(settings["seed"]).permutation(strong_rows)[: settings["preview_tiles"]]
    shown = np.sort(shown)
    grid = preview(
        images[shown], masks[shown], *pipelines.values(), get_dataset(args.dataset).palette_array, settings["seed"]
    )
    with staged_outputs(out / "strong.yaml", out / "weak.yaml", out / "preview.png") as (strong_tmp, weak_tmp, png_tmp):
        save_pipeline(pipelines["strong"], strong_tmp)
        save_pipeline(pipelines["weak"], weak_tmp)
        write_png(png_tmp, grid)
    write_offline_copies(
        images,
        masks,
        rows_by_pipeline,
        pipelines,
        tile_ids,
        settings["offline_copies"],
        settings["seed"],
        out / "offline",
    )


if __name__ == "__main__":
    run_main(main)
