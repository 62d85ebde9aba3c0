"""Rule ``split``: split tiles into val / test / pool (strong + weak) sets (:mod:`weakseg.data.splitting`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class SplitParams:
    """The split's shares, grouping and seed.

    Attributes:
        tile_size, stride: of the tiling, pixels (blocks are built on the tile grid).
        fractions: ``split.fractions``, shares of the tiles (``strong``, ``weak``, ``val``, ``test``).
        use_official_test: the dataset's official test scenes are the test set.
    """

    dataset: str
    tile_size: int
    stride: int
    fractions: dict
    group_by: str
    block_size: int
    seed: int
    use_official_test: bool

    @classmethod
    def from_config(cls, config: dict, wildcards) -> SplitParams:
        """From ``split``, ``tiling.{tile_size, stride}`` and the ``split_seed`` wildcard."""
        split, tiling = config["split"], config["tiling"]
        return cls(
            dataset=config["dataset"]["name"],
            tile_size=tiling["tile_size"],
            stride=tiling["stride"],
            fractions=split["fractions"],
            group_by=split["group_by"],
            block_size=split["block_size"],
            seed=int(wildcards.split_seed),
            use_official_test=split["use_official_test"],
        )


def run(params: SplitParams, input, output, threads: int) -> None:
    """Split the tiles of ``input.tiles`` into ``output.splits`` (JSON)."""
    from weakseg.data.splitting import split_tiles
    from weakseg.datasets import get_dataset, official_test_adapter
    from weakseg.formats.tiles import read_tiles
    from weakseg.io.outputs import staged_outputs, write_json

    official = official_test_adapter(params.dataset) if params.use_official_test else None
    splits = split_tiles(
        read_tiles(input.tiles),
        params.tile_size,
        params.stride,
        params.fractions,
        params.group_by,
        params.block_size,
        params.seed,
        official.is_official_test if official else None,
        get_dataset(params.dataset).scene_group,
        official.official_test if official else None,
    )
    with staged_outputs(output.splits) as (staged,):
        write_json(staged, splits)
    warning = strong_share_warning(splits, params.fractions["strong"])
    if warning:
        logging.getLogger("split").warning(warning)


#: A realised strong share further than this from the nominal one (relative) is worth a warning.
SHARE_TOLERANCE = 0.25


def strong_share_warning(splits: dict, nominal: float) -> str | None:
    """A warning when the realised strong share (tiles) is more than 25% (relative) off ``nominal``, else None.

    Grouped splits (scenes, blocks, cities) move whole groups, so few large groups can realise
    a share far from the one asked for (one study realised 1.3% for a nominal 10%).
    """
    from weakseg.formats.splits import strong_share

    realised = strong_share(splits, splits["sets"]["strong"])
    if abs(realised - nominal) <= SHARE_TOLERANCE * nominal:
        return None
    return (
        f"split.fractions.strong: the split realised {100 * realised:.1f}% strong tiles for a nominal "
        f"{100 * nominal:g}% ({splits['n_groups']} groups of tiles); the report states the realised share. "
        "Use smaller groups (split.group_by, split.block_size) or more scenes to come closer"
    )


STAGE = Stage("split", SplitParams, run)
