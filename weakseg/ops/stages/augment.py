"""Rule ``augment``: build and save the augmentation pipelines, a preview and the offline copies."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class AugmentParams:
    """The ``augment`` section, the dataset (its palette, for the preview) and T frames per sample."""

    settings: dict
    dataset: str
    frames: int

    @classmethod
    def from_config(cls, config: dict, wildcards) -> AugmentParams:
        """From ``augment``, ``dataset.name`` and ``sequence.length``."""
        return cls(config["augment"], config["dataset"]["name"], config["sequence"]["length"])


def run(params: AugmentParams, input, output, threads: int) -> None:
    """Pipelines ``output.strong``/``output.weak``, ``output.preview`` and the offline copies of the pool."""
    from weakseg.data.augmentation import COLOUR_BANDS, strong_pipeline, weak_pipeline, write_offline_copies
    from weakseg.formats.bundles import OfflineCopies
    from weakseg.formats.splits import pool_rows, read_splits
    from weakseg.formats.tiles import read_tiles, rows_of
    from weakseg.io.npy import NpyRows

    settings = params.settings
    images, masks = NpyRows(input.images), NpyRows(input.masks)  # plain reads: memory stays flat
    tiles = read_tiles(input.tiles)
    tile_ids, row_of = [t.tile_id for t in tiles], rows_of(tiles)
    sets = read_splits(input.splits)
    # Offline copies of every tile of the pool with both pipelines: the strong and weak sets
    # of every strong fraction are drawn from the pool (see weakseg.data.splitting).
    pool = pool_rows(sets, row_of)
    bands = images.shape[3] // params.frames
    if bands not in COLOUR_BANDS:
        logging.getLogger("augment").info("%d-band frames: saturation and hue (defined for RGB) are not applied", bands)
    pipelines = {
        "strong": strong_pipeline(settings, bands, params.frames),
        "weak": weak_pipeline(settings, bands, params.frames),
    }
    _write_pipelines(params, pipelines, images, masks, [row_of[t] for t in sets["strong"]], output)
    write_offline_copies(
        images,
        masks,
        {"strong": pool, "weak": pool},
        pipelines,
        tile_ids,
        settings["offline_copies"],
        settings["seed"],
        OfflineCopies.of(output, "offline_{}"),
    )


def _write_pipelines(params: AugmentParams, pipelines: dict, images, masks, strong_rows: list[int], output) -> None:
    """``output.strong``/``output.weak`` (the pipelines) and ``output.preview`` (strong tiles through both)."""
    import numpy as np

    from weakseg.data.augmentation import preview, save_pipeline
    from weakseg.datasets import get_dataset
    from weakseg.io.imageio import write_png
    from weakseg.io.outputs import staged_outputs

    settings = params.settings
    shown = np.sort(np.random.default_rng(settings["seed"]).permutation(strong_rows)[: settings["preview_tiles"]])
    palette = get_dataset(params.dataset).palette_array
    grid = preview(images[shown], masks[shown], *pipelines.values(), palette, settings["seed"])
    with staged_outputs(output.strong, output.weak, output.preview) as (strong_tmp, weak_tmp, png_tmp):
        save_pipeline(pipelines["strong"], strong_tmp)
        save_pipeline(pipelines["weak"], weak_tmp)
        write_png(png_tmp, grid)


STAGE = Stage("augment", AugmentParams, run)
