"""The embedded demo dataset: procedural ISPRS-like scenes written as the archives are.

Images are written as IRRG TIFFs and labels as ISPRS colour-coded TIFFs, so every later
stage runs exactly the code path it runs on Vaihingen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from weakseg.datasets.base import DatasetAdapter, SceneFiles
from weakseg.datasets.isprs import ISPRS_CLASSES, ISPRS_IGNORE_COLORS, ISPRS_PALETTE
from weakseg.datasets.synthetic_sequence import render_sequence
from weakseg.io.imageio import write_tiff
from weakseg.io.labels import colorize


@dataclass(frozen=True)
class SyntheticDataset(DatasetAdapter):
    """Scenes generated from ``synthetic.seed``; settings ``synthetic.{n_scenes,height,width,seed}``.

    With ``sequence_length`` T > 1 (or per-frame noise or clouds) each scene is a sequence
    sample: T frames of a panning camera (``synthetic.{pan,frame_noise,cloud_probability}``,
    see :func:`~weakseg.datasets.synthetic_sequence.render_sequence`), the last one annotated.
    """

    def fetch_scenes(self, raw_dir: Path, settings: dict) -> list[SceneFiles]:
        """Generate ``n_scenes`` scenes of ``height`` x ``width`` px; scene ``i`` uses seed ``seed + i``.

        Earlier frames of a sequence are written as ``images/<scene>_t-<j>.tif``, ``j`` frames before the last.
        """
        options = settings["synthetic"]
        length = int(settings.get("sequence_length", 1))
        weather = (options.get("pan", 2), options.get("frame_noise", 0.0), options.get("cloud_probability", 0.0))
        (raw_dir / "images").mkdir()
        (raw_dir / "labels").mkdir()
        scenes = []
        for i in range(options["n_scenes"]):
            scene = f"scene{i:03d}"
            frames, label = render_sequence(options["seed"] + i, options["height"], options["width"], length, *weather)
            earlier = tuple(f"images/{scene}_t-{length - 1 - k}.tif" for k in range(length - 1))
            for path, frame in zip((*earlier, f"images/{scene}.tif"), frames, strict=True):
                write_tiff(raw_dir / path, frame)
            write_tiff(raw_dir / "labels" / f"{scene}.tif", colorize(label, self.palette_array))
            scenes.append(SceneFiles(scene, f"images/{scene}.tif", f"labels/{scene}.tif", earlier))
        return scenes


SYNTHETIC = SyntheticDataset(
    name="synthetic",
    class_names=ISPRS_CLASSES,
    palette=ISPRS_PALETTE,
    ignore_colors=ISPRS_IGNORE_COLORS,
    band_order="IRRG",
    download_keys=("synthetic",),
    has_sequences=True,
    scored_without=("clutter",),  # scored as ISPRS is, like the data it stands in for
    object_classes=("building", "car"),
)
