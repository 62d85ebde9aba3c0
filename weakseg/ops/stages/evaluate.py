"""Rule ``evaluate``: score one trained run on the scored set (test if the split has one, else val)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from weakseg.datasets import get_dataset
from weakseg.design.experiment import Run, scored_set
from weakseg.formats.protocol import protocol_card
from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class EvaluateParams:
    """The run, the scored set and how it is scored.

    Attributes:
        run: the run's identity (variant, weak_kind, strong_fraction, seed, point), copied into ``metrics.json``.
        batch_size: tiles (or windows) per forward pass; gallery_tiles: predictions drawn per run.
        scenes: ``evaluation.mode: scenes``: score whole scenes by sliding window of ``window``
            pixels, ``overlap`` (share of the window), at model scale ``shorter_side`` (pixels or None).
        protocol: how the numbers are made, written to ``metrics.json``
            (:func:`weakseg.formats.protocol.protocol_card`).
    """

    run: dict
    dataset: str
    scored_set: str
    batch_size: int
    gallery_tiles: int
    device: str
    scenes: bool
    window: int
    overlap: float
    shorter_side: int | None
    protocol: dict

    @classmethod
    def from_config(cls, config: dict, wildcards) -> EvaluateParams:
        """From ``evaluation``, ``training.device``, ``tiling.shorter_side`` and the run's wildcards."""
        run, evaluation = Run.from_wildcards(wildcards), config["evaluation"]
        return cls(
            run=run.as_dict(),
            dataset=config["dataset"]["name"],
            scored_set=scored_set(config),
            batch_size=evaluation["batch_size"],
            gallery_tiles=evaluation["gallery_tiles"],
            device=config["training"]["device"],
            scenes=evaluation["mode"] == "scenes",
            window=evaluation["window"],
            overlap=evaluation["overlap"],
            shorter_side=config["tiling"]["shorter_side"],
            protocol=protocol_card(config, get_dataset(config["dataset"]["name"])),
        )


def run(params: EvaluateParams, input, output, threads: int) -> None:
    """Score ``input.model``: ``output.{metrics, per_class, confusion, predictions}`` in one folder."""
    from weakseg.data.prepare import scene_files
    from weakseg.learn.evaluation import SceneScoring, evaluate

    adapter, scenes = get_dataset(params.dataset), None
    if params.scenes:
        files = scene_files(input.scene_images, input.scene_labels)
        scenes = SceneScoring(files, params.window, params.overlap, params.batch_size, params.shorter_side)
    evaluate(
        params.run,
        input.model,
        tiles_dir=Path(input.tiles).parent,
        splits_path=input.splits,
        class_names=adapter.class_names,
        palette=adapter.palette_array,
        out_dir=Path(output.metrics).parent,
        batch_size=params.batch_size,
        gallery_tiles=params.gallery_tiles,
        device_name=params.device,
        threads=threads,
        scored_set=params.scored_set,
        scenes=scenes,
        without=adapter.scored_without,
        protocol=params.protocol,
    )


STAGE = Stage("evaluate", EvaluateParams, run, gpu=True)
