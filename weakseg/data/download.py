"""The download stage: raw scene files and their index, ``scenes.csv``."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from weakseg.datasets import SceneFiles, get_dataset
from weakseg.io.errors import WeaksegError
from weakseg.io.names import check_name
from weakseg.io.outputs import staged_outputs

log = logging.getLogger(__name__)

SCENES_FILE = "scenes.csv"
#: Joins the earlier frames of a sequence sample in the ``frames`` column of ``scenes.csv``.
FRAME_SEPARATOR = ";"


def download(raw_dir: str | Path, settings: dict) -> list[SceneFiles]:
    """Fetch (or generate) the scenes of ``settings['name']`` into the folder ``raw_dir``.

    Writes ``raw_dir/scenes.csv`` (columns scene, image, label, frames, scoring_label; paths
    relative to ``raw_dir``; frames: the earlier frames of a sequence sample, oldest first,
    joined by ``;``; scoring_label: the label scored on, empty when it is ``label``).
    ``settings['scenes']``, when a list, keeps only those scene ids. The folder appears only
    when everything succeeded.

    Raises:
        WeaksegError: unknown dataset, missing/corrupt/unsafe archive, a listed scene id
            that is not in the data, or a scene id that is not a safe file name (see
            :func:`weakseg.io.names.check_name`; it would become a folder and a command-line word).
    """
    adapter = get_dataset(settings["name"])
    with staged_outputs(raw_dir) as (staged,):
        staged.mkdir()
        scenes = adapter.fetch_scenes(staged, settings)
        for scene in scenes:
            check_name(
                scene.scene,
                f"{adapter.name}: scene id",
                f"it comes from the file {Path(scene.image).name!r}: rename that file (or its folder) and rerun",
            )
        wanted = settings.get("scenes")
        if wanted:
            missing = sorted(set(wanted) - {s.scene for s in scenes})
            if missing:
                raise WeaksegError(
                    f"dataset.scenes: {', '.join(missing)} not in {adapter.name} "
                    f"(available: {', '.join(s.scene for s in scenes)})"
                )
            scenes = [s for s in scenes if s.scene in set(wanted)]
        with open(staged / SCENES_FILE, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["scene", "image", "label", "frames", "scoring_label"])
            writer.writerows(
                [s.scene, s.image, s.label, FRAME_SEPARATOR.join(s.frames), s.scoring_label] for s in scenes
            )
    log.info("%d scenes of %s in %s", len(scenes), adapter.name, raw_dir)
    return scenes


def read_scenes(raw_dir: str | Path) -> list[SceneFiles]:
    """The scenes listed in ``raw_dir/scenes.csv``, paths still relative to ``raw_dir``."""
    with open(Path(raw_dir) / SCENES_FILE, newline="") as handle:
        return [
            SceneFiles(
                row["scene"],
                row["image"],
                row["label"],
                tuple(filter(None, row.get("frames", "").split(FRAME_SEPARATOR))),
                row.get("scoring_label") or "",
            )
            for row in csv.DictReader(handle)
        ]
