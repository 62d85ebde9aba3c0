"""Rule ``prepare``: decode one scene to an image array and a class-index label array."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class PrepareParams:
    """The scene, its dataset, label snapping and resizing.

    Attributes:
        snap_max_distance: snap off-palette label colours within this RGB distance (None: refuse them).
        resize: (height, width) in pixels to resize the scene to, or None.
    """

    dataset: str
    scene: str
    snap_max_distance: float | None
    resize: list[int] | None

    @classmethod
    def from_config(cls, config: dict, wildcards) -> PrepareParams:
        """From ``dataset.{snap_to_palette, snap_max_distance, resize}`` and the ``scene`` wildcard."""
        dataset = config["dataset"]
        snap = dataset["snap_max_distance"] if dataset["snap_to_palette"] else None
        return cls(wildcards.dataset, wildcards.scene, snap, list(dataset["resize"]) if dataset["resize"] else None)


def run(params: PrepareParams, input, output, threads: int) -> None:
    """Decode scene ``params.scene`` of ``input.raw`` to ``output.image`` and ``output.label``."""
    from weakseg.data.download import read_scenes
    from weakseg.data.prepare import prepare_to_files
    from weakseg.datasets import get_dataset
    from weakseg.io.errors import WeaksegError

    scenes = {s.scene: s for s in read_scenes(input.raw)}
    if params.scene not in scenes:
        raise WeaksegError(f"scene {params.scene!r} is not in {input.raw}/scenes.csv")
    files, raw = scenes[params.scene], Path(input.raw)
    prepare_to_files(
        raw / files.image,
        raw / files.label,
        get_dataset(params.dataset),
        output.image,
        output.label,
        params.snap_max_distance,
        tuple(raw / frame for frame in files.frames),
        tuple(params.resize) if params.resize else None,
    )


STAGE = Stage("prepare", PrepareParams, run)
