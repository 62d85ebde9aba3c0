"""Rule ``weak_masks``: a dense kind's weak mask of every tile (scribbles, boxes, coarse, noisy map masks).

With ``weak_labels``, the only stages that read a weak tile's mask. Only dense kinds
(:attr:`weakseg.weak.kind.WeakKind.dense`) have this rule's jobs.
"""

from __future__ import annotations

from weakseg.ops.stage import Stage
from weakseg.ops.stages.weak_labels import WeakLabelsParams

#: Tiles read at a time.
CHUNK = 256


def run(params: WeakLabelsParams, input, output, threads: int) -> None:
    """``output.masks``: (N, T, T) uint8, the weak mask of each tile of ``input.masks``, rows in ``tiles.csv`` order.

    In chunks of :data:`CHUNK` tiles (memory is one chunk, whatever the dataset), drawing from
    ``numpy.random.default_rng([seed, split_seed])`` in row order, as the ``weak_labels`` stage does.

    Raises:
        WeaksegError: a kind that is not dense, or options naming classes the dataset lacks.
    """
    import logging

    from tqdm import tqdm

    from weakseg.datasets import get_dataset
    from weakseg.io.errors import WeaksegError
    from weakseg.io.npy import NpyRows, NpyWriter
    from weakseg.io.outputs import staged_outputs

    kind, options, rng = params.resolved()
    if not kind.dense:
        raise WeaksegError(f"weak kind {kind.name} has no weak masks (it is not dense); its labels are weak_labels.csv")
    masks, n_classes = NpyRows(input.masks), get_dataset(params.dataset).n_classes
    with staged_outputs(output.masks) as (staged,), NpyWriter(staged, masks.shape, "uint8") as writer:
        for start in tqdm(range(0, len(masks), CHUNK), desc=f"weak masks ({kind.name})", unit="chunk", mininterval=10):
            for mask in masks[start : start + CHUNK]:  # chunks of plain reads: memory is CHUNK tiles
                writer.write(kind.label_mask(mask, n_classes, options, rng))
    logging.getLogger("weak_masks").info("%s: %d weak masks with options %s", kind.name, len(masks), options)


STAGE = Stage("weak_masks", WeakLabelsParams, run)
