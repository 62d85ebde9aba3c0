"""Checks of the study design that JSON Schema cannot express: set fractions, tile grid, grouping, the experiment.

Each names the config key at fault and the fix; :func:`weakseg.ops.config.check_config` runs
them when the workflow starts, and the stages that read the values run them again.
"""

from __future__ import annotations

import math

from weakseg.design.experiment import (
    GRID_SECTIONS,
    POOL,
    REQUIRED_SETS,
    SET_NAMES,
    VARIANTS,
    kinds_of,
    strong_fractions,
)
from weakseg.io.errors import WeaksegError


def check_fractions(fractions: dict) -> None:
    """Require the sets strong, weak, val (and optionally test), each > 0, summing to 1 (within 1e-6).

    Raises:
        WeaksegError: naming ``split.fractions`` and the values at fault.
    """
    keys = set(fractions)
    if not set(REQUIRED_SETS) <= keys <= set(SET_NAMES):
        raise WeaksegError(
            f"split.fractions must have the keys {', '.join(REQUIRED_SETS)} and optionally test; "
            f"got {sorted(fractions)}"
        )
    bad = {k: v for k, v in fractions.items() if not v > 0 and not (k == "test" and v == 0)}
    if bad:
        raise WeaksegError(f"split.fractions: every fraction must be > 0 (test may be 0); got {bad}")
    total = sum(fractions.values())
    if abs(total - 1) > 1e-6:
        raise WeaksegError(f"split.fractions must sum to 1; {fractions} sums to {total:.6g}")


def check_tile_grid(tile_size: int, stride: int) -> None:
    """Require 0 < stride <= tile_size (pixels) and a tile size that is a multiple of 32.

    32 is the output stride of the smp encoders; a larger stride would skip pixels.

    Raises:
        WeaksegError: naming ``tiling.stride`` or ``tiling.tile_size`` and the values.
    """
    if stride < 1 or stride > tile_size:
        raise WeaksegError(
            f"tiling.stride: {stride} px must be in 1..tile_size ({tile_size} px); more would skip pixels"
        )
    if tile_size % 32:
        raise WeaksegError(f"tiling.tile_size: {tile_size} px must be a multiple of 32 (the encoders' output stride)")


def check_grouping(group_by: str, stride: int, tile_size: int) -> None:
    """Refuse ``group_by: tile`` when tiles overlap (stride < tile_size, both in pixels).

    Overlapping neighbours would land in different sets and share pixels across them.

    Raises:
        WeaksegError: naming ``split.group_by`` and the stride and tile size.
    """
    if group_by == "tile" and stride < tile_size:
        raise WeaksegError(
            f"split.group_by: 'tile' with overlapping tiles (stride {stride} < tile_size {tile_size} px) would put "
            "overlapping tiles in different sets; use 'block' or 'scene'"
        )


def check_experiment(config: dict) -> None:
    """Checks of the ``experiment`` section that JSON Schema cannot express.

    Raises:
        WeaksegError: naming the key: an unknown variant or grid variant, a strong fraction
            not below the share of strong + weak tiles (at that share the weak set is empty), a grid key outside
            :data:`GRID_SECTIONS` or not in its section, or a non-finite number.
    """
    experiment = config["experiment"]
    for key in ("variants", "grid_variants"):
        unknown = [v for v in experiment[key] if v not in VARIANTS]
        if unknown:
            raise WeaksegError(f"config experiment.{key}: {unknown} not in the variants {', '.join(VARIANTS)}")
    for key in ("variants", "grid_variants"):
        idle = [v for v in experiment[key] if not kinds_of(v, experiment["weak_kinds"])]
        if idle:
            raise WeaksegError(
                f"config experiment.{key}: {idle} can train on none of experiment.weak_kinds "
                f"{experiment['weak_kinds']} (kinds without labels, such as unlabelled, train in joint only); add a "
                "kind with labels"
            )
    pool = sum(config["split"]["fractions"].get(name, 0) for name in POOL)
    for fraction in strong_fractions(config):
        if not (0 < fraction < pool - 1e-9) or not math.isfinite(fraction):
            raise WeaksegError(
                f"config experiment.strong_fractions: {fraction} must be > 0 and below the share of strong + weak "
                f"tiles ({pool:g} = split.fractions.strong + split.fractions.weak), so that weak tiles remain"
            )
    for key, values in experiment["grid"].items():
        section, _, name = key.partition(".")
        if section not in GRID_SECTIONS or name not in config.get(section, {}):
            raise WeaksegError(
                f"config experiment.grid: {key!r} is not a key of the sections {', '.join(GRID_SECTIONS)} "
                "(write it as section.key, e.g. training.lr)"
            )
        if not values:
            raise WeaksegError(f"config experiment.grid.{key}: give at least one value")
