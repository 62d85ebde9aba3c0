"""Rule ``evaluate``: score one trained run on the scored set (test if the split has one, else val)."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.datasets import get_dataset
from weakseg.design.experiment import Run, scored_set
from weakseg.design.scoring import Scoring, Windows
from weakseg.formats.protocol import protocol_card
from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class EvaluateParams:
    """The run, its dataset and how it is scored.

    Attributes:
        run: the run's identity (:meth:`~weakseg.design.experiment.Run.as_dict`), copied into ``metrics.json``.
        scoring: the scored set, batch, gallery, device, windows (``evaluation.mode: scenes``)
            and protocol card (:class:`~weakseg.design.scoring.Scoring`).
    """

    run: dict
    dataset: str
    scoring: Scoring

    @classmethod
    def from_config(cls, config: dict, wildcards) -> EvaluateParams:
        """From ``evaluation``, ``training.device``, ``tiling.shorter_side`` and the run's wildcards."""
        evaluation = config["evaluation"]
        batch_size = evaluation["batch_size"]
        scoring = Scoring(
            scored_set=scored_set(config),
            batch_size=batch_size,
            gallery_tiles=evaluation["gallery_tiles"],
            device=config["training"]["device"],
            windows=Windows.from_config(config, batch_size) if evaluation["mode"] == "scenes" else None,
            protocol=protocol_card(config, get_dataset(config["dataset"]["name"])),
        )
        return cls(Run.from_wildcards(wildcards).as_dict(), config["dataset"]["name"], scoring)


def run(params: EvaluateParams, input, output, threads: int) -> None:
    """Score ``input.model``: ``output.{metrics, per_class, confusion, predictions}``."""
    from pathlib import Path

    from weakseg.data.prepare import scene_files
    from weakseg.formats.bundles import EvaluationFiles, EvaluationInputs, TileFiles
    from weakseg.learn.evaluation import evaluate

    scenes = scene_files(input.scene_images, input.scene_labels) if params.scoring.windows is not None else {}
    inputs = EvaluationInputs(Path(input.model), TileFiles.of(input), Path(input.splits), scenes)
    evaluate(params.run, inputs, EvaluationFiles.of(output), get_dataset(params.dataset), params.scoring, threads)


STAGE = Stage("evaluate", EvaluateParams, run, gpu=True)
