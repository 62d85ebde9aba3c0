"""Rule ``stats``: per-band mean and standard deviation of a split's training tiles."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class StatsParams:
    """``frames``: T, frames per sample (``sequence.length``); the statistics are per band of one frame."""

    frames: int

    @classmethod
    def from_config(cls, config: dict, wildcards) -> StatsParams:
        """From ``sequence.length``."""
        return cls(config["sequence"]["length"])


def run(params: StatsParams, input, output, threads: int) -> None:
    """Band statistics of the pool (strong + weak sets) of ``input.splits`` into ``output.stats``."""
    from weakseg.data.band_statistics import band_statistics
    from weakseg.formats.splits import pool_rows, read_splits
    from weakseg.formats.stats import write_statistics
    from weakseg.formats.tiles import read_tiles, rows_of
    from weakseg.io.npy import NpyRows

    row_of = rows_of(read_tiles(input.tiles))
    images = NpyRows(input.images)  # plain reads, not a memory map: memory stays flat
    write_statistics(output.stats, band_statistics(images, pool_rows(read_splits(input.splits), row_of), params.frames))


STAGE = Stage("stats", StatsParams, run)
