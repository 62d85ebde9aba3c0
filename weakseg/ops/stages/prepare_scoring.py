"""Rule ``prepare_scoring``: decode one scene's label of the scoring label set (``dataset.scoring_labels``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from weakseg.ops.stage import Stage
from weakseg.ops.stages.prepare import PrepareParams


@dataclass(frozen=True)
class PrepareScoringParams(PrepareParams):
    """:class:`~weakseg.ops.stages.prepare.PrepareParams` plus the label set scored on.

    Attributes:
        scoring_labels: ``dataset.scoring_labels`` (e.g. ``eroded``); its files were listed by the download.
    """

    scoring_labels: str | None = None

    @classmethod
    def from_config(cls, config: dict, wildcards) -> PrepareScoringParams:
        """From :meth:`PrepareParams.from_config` and ``dataset.scoring_labels``."""
        base = PrepareParams.from_config(config, wildcards)
        return cls(**vars(base), scoring_labels=config["dataset"].get("scoring_labels"))


def run(params: PrepareScoringParams, input, output, threads: int) -> None:
    """Decode scene ``params.scene``'s scoring label of ``input.raw`` to ``output.label``."""
    from weakseg.data.download import read_scenes
    from weakseg.data.prepare import prepare_scoring_to_file
    from weakseg.datasets import get_dataset
    from weakseg.io.errors import WeaksegError
    from weakseg.io.imageio import image_shape

    scenes = {s.scene: s for s in read_scenes(input.raw)}
    files = scenes.get(params.scene)
    if files is None or not files.scoring_label:
        raise WeaksegError(
            f"{input.raw}/scenes.csv lists no {params.scoring_labels} label of scene {params.scene!r}; "
            "rerun the download (snakemake --forcerun download) after setting dataset.scoring_labels"
        )
    raw = Path(input.raw)
    prepare_scoring_to_file(
        raw / files.scoring_label,
        image_shape(raw / files.image),
        get_dataset(params.dataset),
        output.label,
        params.snap_max_distance,
        tuple(params.resize) if params.resize else None,
    )


STAGE = Stage("prepare_scoring", PrepareScoringParams, run)
