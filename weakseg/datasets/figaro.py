"""Figaro1k: hair segmentation in 1050 unconstrained face images (binary: background, hair).

Layout of the official archive ``Figaro1k.zip`` (Svanera et al., 2016, "Figaro, hair detection
and segmentation in the wild", ICIP): ``Figaro1k/Original/{Training,Testing}/FrameNNNNN-org.jpg``
(RGB JPEG, sizes vary) and ``Figaro1k/GT/{Training,Testing}/FrameNNNNN-gt.pbm`` (1-bit PBM,
hair = white = ``True``). Each image is a scene, named ``Training_FrameNNNNN`` or
``Testing_FrameNNNNN``; the ``Testing`` images are the official test set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from weakseg.datasets.archives import ArchiveSource, extract_matching
from weakseg.datasets.base import DatasetAdapter, SceneFiles
from weakseg.io.errors import WeaksegError


@dataclass(frozen=True)
class FigaroDataset(DatasetAdapter):
    """Figaro1k read from its official zip archive; labels are 0/1 masks, not colours.

    Attributes:
        archive: the archive's file name.
        parts: the archive's subsets, in order (the last is the official test set).
        official_md5: archive name -> MD5, where published (none is, for Figaro1k: set
            ``dataset.source.md5`` to verify a copy).
    """

    archive: str = "Figaro1k.zip"
    parts: tuple[str, ...] = ("Training", "Testing")
    official_md5: dict | None = None

    @property
    def official_test(self) -> str:
        """The images of the ``Testing`` folder."""
        return f"the {self.parts[-1]} images (scene ids {self.parts[-1]}_*)"

    def is_official_test(self, scene: str) -> bool:
        """Scenes of the ``Testing`` folder: ids ``Testing_<frame>``."""
        return scene.startswith(f"{self.parts[-1]}_")

    def fetch_scenes(self, raw_dir: Path, settings: dict) -> list[SceneFiles]:
        """Locate, verify and extract the archive's images and masks into ``raw_dir``.

        Settings used: ``source.folder``, ``source.url``, ``source.md5``, ``source.max_extracted_gib``.

        Raises:
            WeaksegError: the archive cannot be found or verified, or an image has no mask
                (or a mask no image); the message names the file.
        """
        source = ArchiveSource.from_settings(settings)
        archive = source.fetch(self.archive, raw_dir.parent / "archives", self.official_md5)
        max_bytes = source.max_extracted_bytes
        scenes = []
        for part in self.parts:
            images = self._extract(
                archive, rf"Figaro1k/Original/{part}/(Frame\d+)-org\.jpg", raw_dir / "images" / part, max_bytes
            )
            masks = self._extract(
                archive, rf"Figaro1k/GT/{part}/(Frame\d+)-gt\.pbm", raw_dir / "labels" / part, max_bytes
            )
            for lonely, other in ((images, masks), (masks, images)):
                missing = sorted(set(lonely) - set(other))
                if missing:
                    kind = "mask" if lonely is images else "image"
                    raise WeaksegError(f"{archive}: {lonely[missing[0]].name} ({part}) has no {kind} in the archive")
            scenes += [
                SceneFiles(
                    f"{part}_{frame}", str(images[frame].relative_to(raw_dir)), str(masks[frame].relative_to(raw_dir))
                )
                for frame in sorted(images)
            ]
        if not scenes:
            raise WeaksegError(
                f"{archive}: no Figaro1k image found (expected Figaro1k/Original/<part>/FrameNNNNN-org.jpg)"
            )
        return scenes

    @staticmethod
    def _extract(archive: Path, pattern: str, destination: Path, max_bytes: int) -> dict[str, Path]:
        destination.mkdir(parents=True)
        return extract_matching(archive, re.compile(pattern), destination, max_bytes)

    def read_label(self, path: str | Path) -> np.ndarray:
        """(H, W, 1) uint8 0/1 from a 1-bit mask (hair = 1).

        Raises:
            WeaksegError: the file is unreadable or not a 1-bit image (naming it and its mode).
        """
        try:
            with Image.open(path) as image:
                if image.mode != "1":
                    raise WeaksegError(f"{path}: expected a 1-bit mask (PIL mode '1'), got mode {image.mode!r}")
                return np.asarray(image).astype(np.uint8)[..., None]
        except OSError as error:
            raise WeaksegError(f"{path}: cannot read the mask ({error})") from error

    def label_to_index(
        self, label: np.ndarray, source: str, snap_max_distance: float | None = None
    ) -> tuple[np.ndarray, int]:
        """(H, W) uint8 class indices from a 0/1 mask (no colour to snap: returns 0 snapped pixels)."""
        return np.ascontiguousarray(label[..., 0]), 0


FIGARO1K = FigaroDataset(
    name="figaro1k",
    class_names=("background", "hair"),
    palette=((96, 96, 96), (255, 215, 0)),  # black is kept for unlabelled pixels
    band_order="RGB",
    object_classes=("hair",),
)
