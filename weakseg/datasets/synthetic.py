"""The embedded demo dataset: procedural ISPRS-like scenes written as the archives are.

Images are written as IRRG TIFFs and labels as ISPRS colour-coded TIFFs, so every later
stage runs exactly the code path it runs on Vaihingen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from weakseg.datasets.base import DatasetAdapter, SceneFiles
from weakseg.datasets.isprs import ISPRS_CLASSES, ISPRS_IGNORE_COLORS, ISPRS_PALETTE
from weakseg.datasets.synthetic_scene import generate_scene
from weakseg.imageio import write_tiff
from weakseg.labels import colorize


@dataclass(frozen=True)
class SyntheticDataset(DatasetAdapter):
    """Scenes generated from ``synthetic.seed``; settings ``synthetic.{n_scenes,height,width,seed}``."""

    def fetch_scenes(self, raw_dir: Path, settings: dict) -> list[SceneFiles]:
        """Generate ``n_scenes`` scenes of ``height`` x ``width`` px; scene ``i`` uses seed ``seed + i``."""
        options = settings["synthetic"]
        (raw_dir / "images").mkdir()
        (raw_dir / "labels").mkdir()
        scenes = []
        for i in range(options["n_scenes"]):
            scene = f"scene{i:03d}"
            image, label = generate_scene(options["seed"] + i, options["height"], options["width"])
            write_tiff(raw_dir / "images" / f"{scene}.tif", image)
            write_tiff(raw_dir / "labels" / f"{scene}.tif", colorize(label, self.palette_array))
            scenes.append(SceneFiles(scene, f"images/{scene}.tif", f"labels/{scene}.tif"))
        return scenes


SYNTHETIC = SyntheticDataset(
    name="synthetic",
    class_names=ISPRS_CLASSES,
    palette=ISPRS_PALETTE,
    ignore_colors=ISPRS_IGNORE_COLORS,
    band_order="IRRG",
)
