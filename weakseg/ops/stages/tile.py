"""Rule ``tile``: cut the prepared scenes into tiles (:func:`weakseg.data.tiling.write_tiles`)."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class TileParams:
    """Tile side and stride (pixels), the share of labelled pixels a tile needs, the model scale (pixels or None)."""

    tile_size: int
    stride: int
    min_labeled_fraction: float
    shorter_side: int | None
    n_classes: int

    @classmethod
    def from_config(cls, config: dict, wildcards) -> TileParams:
        """From the ``tiling`` section, and the dataset's number of classes (for the per-tile class counts)."""
        from weakseg.datasets import get_dataset

        tiling = config["tiling"]
        return cls(
            tiling["tile_size"],
            tiling["stride"],
            tiling["min_labeled_fraction"],
            tiling["shorter_side"],
            get_dataset(config["dataset"]["name"]).n_classes,
        )


def run(params: TileParams, input, output, threads: int) -> None:
    """Tile ``input.images``/``input.labels`` into ``output.{images, masks, tiles, class_pixels}``."""
    from weakseg.data.prepare import scene_files
    from weakseg.data.tiling import write_tiles
    from weakseg.formats.bundles import TileFiles

    scenes = [(scene, image, label) for scene, (image, label) in scene_files(input.images, input.labels).items()]
    write_tiles(
        scenes,
        params.tile_size,
        params.stride,
        params.min_labeled_fraction,
        TileFiles.of(output, complete=True),
        params.shorter_side,
        n_classes=params.n_classes,
    )


STAGE = Stage("tile", TileParams, run)
