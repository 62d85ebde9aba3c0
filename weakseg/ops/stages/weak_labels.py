"""Rule ``weak_labels``: the weak labels of one kind for every tile, the only stage that reads a weak tile's mask."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class WeakLabelsParams:
    """The dataset (class names), the kind of weak label, the options its labels depend on, and the seeds."""

    dataset: str
    kind: str
    options: dict
    seed: int | None
    split_seed: int

    @classmethod
    def from_config(cls, config: dict, wildcards) -> WeakLabelsParams:
        """From ``dataset.name``, wildcard ``weak_kind``, ``weak_labels.seed`` and its kind.s ``label_keys`` options.

        Only the options the labels depend on, so editing a training option of a kind (its
        loss) reruns its runs, not its labels.
        """
        from weakseg.weak import get_weak_kind

        kind = get_weak_kind(wildcards.weak_kind)
        section = config["weak_labels"]
        options = {key: section[kind.name][key] for key in kind.label_keys}
        seed = int(section["seed"]) if kind.draws else None  # a deterministic kind does not rerun on a new seed
        return cls(config["dataset"]["name"], kind.name, options, seed, int(wildcards.split_seed))

    def resolved(self):
        """``(kind, options, rng)``: the kind, its options with the dataset's classes filled in, the seeded generator.

        Raises:
            WeaksegError: an option naming a class the dataset lacks
                (:meth:`~weakseg.weak.kind.WeakKind.resolve_options`).
        """
        import numpy as np

        from weakseg.datasets import get_dataset
        from weakseg.weak import get_weak_kind

        kind, adapter = get_weak_kind(self.kind), get_dataset(self.dataset)
        options = kind.resolve_options(self.options, adapter.class_names, adapter.object_classes)
        return kind, options, np.random.default_rng([self.seed or 0, self.split_seed])


def run(params: WeakLabelsParams, input, output, threads: int) -> None:
    """Weak labels of every tile into ``output.labels``, with ``output.summary`` per set.

    From ``input.masks`` with the kind's :meth:`~weakseg.weak.kind.WeakKind.label`; for a dense
    kind, the class shares of its weak masks (``input.weak_masks``, the ``weak_masks`` stage's),
    so that the true masks are not read again. Kinds that draw (noise, points) draw from
    ``numpy.random.default_rng([seed, split_seed])``, tile by tile in the order of ``tiles.csv``.
    Labels that cannot train anything are refused
    (:meth:`~weakseg.weak.kind.WeakKind.check_labels`), so nothing is written.
    """
    import numpy as np

    from weakseg.datasets import get_dataset
    from weakseg.formats.splits import read_splits
    from weakseg.formats.tiles import read_tiles
    from weakseg.formats.weak_labels import write_weak_labels
    from weakseg.io.npy import NpyRows
    from weakseg.weak.shares import label_proportions

    adapter = get_dataset(params.dataset)
    kind, options, rng = params.resolved()
    tile_ids = [t.tile_id for t in read_tiles(input.tiles)]
    set_of = {tile: name for name, ids in read_splits(input.splits).items() for tile in ids}
    # plain reads of the masks, not a memory map: memory stays flat however many tiles there are
    if kind.dense:
        labels = label_proportions(NpyRows(input.weak_masks), adapter.n_classes)
    else:
        labels = kind.label(NpyRows(input.masks), adapter.n_classes, options, rng)
    kind.check_labels(labels, np.array([set_of.get(t) == "weak" for t in tile_ids]), params.options)
    write_weak_labels(
        output.labels,
        output.summary,
        kind.columns(adapter.class_names, params.options),
        tile_ids,
        labels,
        [set_of.get(t) for t in tile_ids],
    )


STAGE = Stage("weak_labels", WeakLabelsParams, run)
