"""Rule ``pseudo_masks``: the teacher's predictions on the weak tiles, refined by their weak labels.

The method is :mod:`weakseg.methods.pseudo_masks`; the work :mod:`weakseg.learn.pseudo_labels`.
The teacher is the run :func:`weakseg.design.experiment.teacher_run` names (``joint[kind]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class PseudoMasksParams:
    """The dataset, the kind and its label options, the confidence, the strong fraction and the device."""

    dataset: str
    kind: str
    options: dict
    confidence: float
    strong_fraction: str
    device: str

    @classmethod
    def from_config(cls, config: dict, wildcards) -> PseudoMasksParams:
        """From the kind's label options, ``methods.pseudo_masks.confidence``, ``training.device`` and the wildcards.

        Only the options the labels depend on (``label_keys``), as for the weak_labels stage:
        a training option of the kind (its loss) changes the teacher, and so the pseudo-masks
        through their input, not through these params.
        """
        from weakseg.weak import get_weak_kind

        kind = get_weak_kind(wildcards.weak_kind)
        return cls(
            config["dataset"]["name"],
            kind.name,
            {key: config["weak_labels"][kind.name][key] for key in kind.label_keys},
            float(config["methods"]["pseudo_masks"]["confidence"]),
            wildcards.strong_fraction,
            config["training"]["device"],
        )


def run(params: PseudoMasksParams, input, output, threads: int) -> None:
    """``output.masks`` (N, T, T) uint8 pseudo-masks and ``output.summary`` (JSON: weak tiles, labelled share).

    Raises:
        WeaksegError: a stale weak-label table, or options naming classes the dataset lacks.
    """
    import json
    import logging
    from pathlib import Path

    import torch

    from weakseg.datasets import get_dataset
    from weakseg.io.outputs import staged_outputs
    from weakseg.learn.inference import resolve_device
    from weakseg.learn.pseudo_labels import WeakTiles, write_pseudo_masks
    from weakseg.weak import get_weak_kind

    torch.set_num_threads(max(threads, 1))
    kind, adapter = get_weak_kind(params.kind), get_dataset(params.dataset)
    options = kind.resolve_options(params.options, adapter.class_names, adapter.object_classes)
    weak_masks = getattr(input, "weak_masks", None)
    weak = WeakTiles(
        kind,
        options,
        Path(input.images),
        Path(input.tiles),
        Path(input.splits),
        Path(input.weak_labels),
        params.strong_fraction,
        None if weak_masks is None else Path(weak_masks),
    )
    with staged_outputs(output.summary) as (summary,):
        found = write_pseudo_masks(
            Path(input.model), weak, Path(output.masks), params.confidence, resolve_device(params.device)
        )
        Path(summary).write_text(json.dumps({**found, "confidence": params.confidence}, indent=2))
    logging.getLogger("pseudo_masks").info("%s: %s", params.kind, found)


STAGE = Stage("pseudo_masks", PseudoMasksParams, run, gpu=True)
