"""The dataset adapter interface: what every dataset tells the pipeline about itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from weakseg.io.imageio import read_image
from weakseg.io.labels import colors_to_index


@dataclass(frozen=True)
class SceneFiles:
    """One scene's image and label files, paths relative to the raw data folder.

    ``frames`` are the frames before ``image`` of a sequence sample, oldest first (empty for
    single images); ``image`` is the annotated, last frame. ``scoring_label`` is the scene's
    label of the scoring label set (``dataset.scoring_labels``, e.g. ISPRS's eroded ground
    truth), or empty when the scene is scored on ``label``.
    """

    scene: str
    image: str
    label: str
    frames: tuple[str, ...] = ()
    scoring_label: str = ""


@dataclass(frozen=True)
class DatasetAdapter:
    """Class names, label encoding and file layout of one dataset.

    Subclasses implement :meth:`fetch_scenes` (download/extract or generate the raw files).
    Colour-coded labels (ISPRS) are decoded with ``palette`` and ``ignore_colors``; datasets
    with index labels (Cityscapes train ids, Figaro1k's 0/1 masks) override
    :meth:`label_to_index` and keep ``palette`` for display.

    Attributes:
        name: the value of ``dataset.name`` in the config.
        class_names: one name per class index, in index order.
        palette: (K, 3) RGB colour per class, as nested tuples.
        ignore_colors: label colours meaning "no label", mapped to the ignore index 255.
        band_order: names of the image bands, e.g. ``"IRRG"`` (near-infrared, red, green).
        download_keys: the keys of the config's ``dataset`` section (besides ``name`` and
            ``scenes``) that :meth:`fetch_scenes` reads: the download's parameters.
        has_sequences: whether scenes can be frame sequences (``sequence.length`` > 1).
        has_cities: whether scenes belong to cities (``dataset.cities``, ``split.group_by: city``).
        scored_without: classes the dataset's benchmark also reports scores without (ISPRS:
            clutter), see :func:`weakseg.learn.metrics.segmentation_metrics`.
        object_classes: the classes of countable objects (ISPRS: building, car), the default
            of the kinds that box or move objects (``weak_labels.boxes.classes``,
            ``weak_labels.noisy_masks.classes``).
    """

    name: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    ignore_colors: tuple[tuple[int, int, int], ...] = ()
    band_order: str = "RGB"
    download_keys: tuple[str, ...] = ("source", "labels", "bands")
    has_sequences: bool = False
    has_cities: bool = False
    scored_without: tuple[str, ...] = ()
    object_classes: tuple[str, ...] = ()

    @property
    def n_classes(self) -> int:
        """K, the number of classes."""
        return len(self.class_names)

    @property
    def palette_array(self) -> np.ndarray:
        """(K, 3) uint8 class colours."""
        return np.array(self.palette, dtype=np.uint8).reshape(-1, 3)

    @property
    def label_sets(self) -> tuple[str, ...]:
        """The ground-truth variants ``dataset.labels`` / ``dataset.scoring_labels`` choose from (none: one set)."""
        return ()

    @property
    def official_test(self) -> str | None:
        """The dataset's official test set in words (for messages and ``splits.json``), or None: it has none."""
        return None

    def is_official_test(self, scene: str) -> bool:
        """Whether scene ``scene`` belongs to the official test set (``split.use_official_test``)."""
        return False

    def check_settings(self, settings: dict) -> None:
        """Refuse ``dataset`` settings this dataset cannot honour (default: accept all).

        Raises:
            WeaksegError: naming the ``dataset.<key>`` at fault (without the ``config`` prefix).
        """

    def scene_group(self, scene: str) -> str:
        """The group a scene belongs to for ``split.group_by: city`` (default: the scene itself)."""
        return scene

    def is_synthetic_scene(self, scene: str) -> bool:
        """Whether scene ``scene`` is a synthetic demo scene mixed into real data (default: never)."""
        return False

    def read_label(self, path: str | Path) -> np.ndarray:
        """Read a raw label file as (H, W, C) uint8 (see :func:`weakseg.io.imageio.read_image`)."""
        return read_image(path)

    def label_to_index(
        self, label: np.ndarray, source: str, snap_max_distance: float | None = None
    ) -> tuple[np.ndarray, int]:
        """Decode a raw label image to (H, W) uint8 class indices (255 = ignore).

        Returns ``(index, n_snapped)``; see :func:`weakseg.io.labels.colors_to_index` for the
        arguments and the errors raised.
        """
        return colors_to_index(
            label,
            self.palette_array,
            np.array(self.ignore_colors, dtype=np.uint8).reshape(-1, 3),
            source,
            snap_max_distance,
        )

    def fetch_scenes(self, raw_dir: Path, settings: dict) -> list[SceneFiles]:
        """Write the raw scene files under ``raw_dir`` and list them.

        Args:
            raw_dir: an existing, empty folder.
            settings: the ``dataset`` section of the config.
        """
        raise NotImplementedError
