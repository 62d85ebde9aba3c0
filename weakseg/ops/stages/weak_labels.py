"""Rule ``weak_labels``: the weak label of every tile, the only stage that reads a weak tile's mask."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class WeakLabelsParams:
    """The dataset (class names) and the kind of weak label (``experiment.weak_kind``)."""

    dataset: str
    kind: str

    @classmethod
    def from_config(cls, config: dict, wildcards) -> WeakLabelsParams:
        """From ``dataset.name`` and ``experiment.weak_kind``."""
        return cls(config["dataset"]["name"], config["experiment"]["weak_kind"])


def run(params: WeakLabelsParams, input, output, threads: int) -> None:
    """Weak labels of every tile of ``input.masks`` into ``output.labels``, with ``output.summary`` per set."""
    import numpy as np

    from weakseg.datasets import get_dataset
    from weakseg.formats.splits import read_splits
    from weakseg.formats.tiles import read_tiles
    from weakseg.formats.weak_labels import write_weak_labels
    from weakseg.weak import get_weak_kind

    adapter, kind = get_dataset(params.dataset), get_weak_kind(params.kind)
    tile_ids = [t.tile_id for t in read_tiles(input.tiles)]
    set_of = {tile: name for name, ids in read_splits(input.splits).items() for tile in ids}
    labels = kind.label(np.load(input.masks, mmap_mode="r"), adapter.n_classes)
    write_weak_labels(
        output.labels,
        output.summary,
        kind.columns(adapter.class_names),
        tile_ids,
        labels,
        [set_of.get(t) for t in tile_ids],
    )


STAGE = Stage("weak_labels", WeakLabelsParams, run)
