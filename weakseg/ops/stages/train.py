"""Rule ``train``: train one run (a variant at a strong fraction, seed and grid point)."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.design.experiment import Run, run_settings
from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class TrainParams:
    """What the run's training depends on (:func:`weakseg.design.experiment.run_settings`), and its dataset."""

    settings: dict
    dataset: str

    @classmethod
    def from_config(cls, config: dict, wildcards) -> TrainParams:
        """The run's settings (its variant's section with the grid point's overrides, model, seed) and dataset."""
        return cls(run_settings(config, Run.from_wildcards(wildcards)), config["dataset"]["name"])


def run(params: TrainParams, input, output, threads: int) -> None:
    """Train on the run's sets into ``output.{model, last, history, tensorboard}``.

    Every named input is fingerprinted for the resume check (:mod:`weakseg.learn.resume`).
    """
    from weakseg.data.band_statistics import resolve_normalization
    from weakseg.datasets import get_dataset
    from weakseg.design.experiment import VARIANTS
    from weakseg.formats.bundles import RunFiles, TrainingFiles
    from weakseg.formats.stats import read_statistics
    from weakseg.learn.models import IMAGENET_MEAN, IMAGENET_STD
    from weakseg.learn.tile_data import load_training_data
    from weakseg.learn.training import train
    from weakseg.weak import get_weak_kind

    files = vars(input)
    settings = {**params.settings, "init_from": files.get("init")}
    normalization = resolve_normalization(settings["model"])
    mean, std = read_statistics(input.stats) if normalization == "dataset" else (IMAGENET_MEAN, IMAGENET_STD)
    data = load_training_data(
        VARIANTS[settings["variant"]],
        settings["strong_fraction"],
        TrainingFiles.of(files),
        class_names=get_dataset(params.dataset).class_names,
        seed=settings["training"]["seed"],
        mean=mean,
        std=std,
        weak_kind=get_weak_kind(settings["training"]["weak_kind"]) if "weak_kind" in settings["training"] else None,
    )
    train(data, settings, RunFiles.of(output), threads, files)


STAGE = Stage("train", TrainParams, run, gpu=True)
