"""ISPRS 2D semantic labeling benchmark: Vaihingen and Potsdam.

Class names and colour code from the benchmark's description (Rottensteiner et al., 2012,
"The ISPRS benchmark on urban object classification and 3D building reconstruction");
archive names and official MD5s as distributed by ISPRS.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from weakseg.datasets.archives import ArchiveSource, extract_matching
from weakseg.datasets.base import DatasetAdapter, SceneFiles
from weakseg.io.errors import WeaksegError
from weakseg.io.imageio import read_image, tiff_map

log = logging.getLogger(__name__)

ISPRS_CLASSES = ("impervious_surfaces", "building", "low_vegetation", "tree", "car", "clutter")
ISPRS_PALETTE = ((255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 255, 0), (255, 0, 0))
#: The eroded ("noBoundary") ground truth marks class borders black: no label there.
ISPRS_IGNORE_COLORS = ((0, 0, 0),)


@dataclass(frozen=True)
class IsprsDataset(DatasetAdapter):
    """An ISPRS dataset read from its official zip archives.

    Attributes:
        image_archives: band order -> (archive name, member pattern with the scene id as group 1).
        label_archives: ``complete`` / ``eroded`` -> (archive name, member pattern).
        official_md5: archive name -> official MD5, where known.
        official_train_scenes, official_test_scenes: the benchmark's training and test scenes
            (scene ids as the archives name them), as split by the ISPRS release and by
            mmsegmentation's converters (``tools/dataset_converters/{vaihingen,potsdam}.py``).
    """

    download_keys: tuple[str, ...] = ("source", "labels", "bands", "scoring_labels")
    #: Label sets that mark unlabelled pixels black (the eroded class borders); the others label every pixel.
    ignore_marked: tuple[str, ...] = ("eroded",)
    scored_without: tuple[str, ...] = ("clutter",)
    object_classes: tuple[str, ...] = ("building", "car")
    image_archives: dict = field(default_factory=dict)
    label_archives: dict = field(default_factory=dict)
    official_md5: dict = field(default_factory=dict)
    official_train_scenes: tuple[str, ...] = ()
    official_test_scenes: tuple[str, ...] = ()

    @property
    def label_sets(self) -> tuple[str, ...]:
        """``complete`` and ``eroded`` (class borders black: no label), the keys of :attr:`label_archives`."""
        return tuple(self.label_archives)

    @property
    def official_test(self) -> str:
        """The benchmark's test scenes."""
        return f"the {len(self.official_test_scenes)} official test scenes of the ISPRS benchmark"

    def is_official_test(self, scene: str) -> bool:
        """Whether ``scene`` is one of :attr:`official_test_scenes`."""
        return scene in self.official_test_scenes

    def _choose(self, table: dict, key: str | None, config_key: str) -> tuple[str, str]:
        key = key or next(iter(table))
        if key not in table:
            raise WeaksegError(f"{config_key}: {key!r} is not available for {self.name} (choose from {sorted(table)})")
        return table[key]

    def fetch_scenes(self, raw_dir: Path, settings: dict) -> list[SceneFiles]:
        """Locate, verify and extract the image and label archives into ``raw_dir``.

        Settings used: ``source.folder``, ``source.url``, ``source.md5`` (overrides),
        ``source.max_extracted_gib`` (limit per archive, GiB),
        ``labels`` (complete | eroded), ``scoring_labels`` (None, or the label set scored
        on: its archive is extracted too, into ``scoring_labels/``), ``bands``. Scenes with an
        image but no label (the benchmark's withheld test areas) are skipped.

        Raises:
            WeaksegError: an archive is missing, corrupt or holds no matching member, no scene
                has both an image and a label, or a scene lacks its scoring label (naming it).
        """
        source = ArchiveSource.from_settings(settings)
        found = {}
        choices = {
            "images": self._choose(self.image_archives, settings.get("bands"), "dataset.bands"),
            "labels": self._choose(self.label_archives, settings.get("labels"), "dataset.labels"),
        }
        if settings.get("scoring_labels"):
            choices["scoring_labels"] = self._choose(
                self.label_archives, settings["scoring_labels"], "dataset.scoring_labels"
            )
        for role, (archive_name, pattern) in choices.items():
            archive = source.fetch(archive_name, raw_dir.parent / "archives", self.official_md5)
            destination = raw_dir / role
            destination.mkdir()
            found[role] = extract_matching(archive, re.compile(pattern), destination, source.max_extracted_bytes)
            if not found[role]:
                raise WeaksegError(f"{archive}: no member matches the {self.name} {role} pattern {pattern}")
        unlabeled = sorted(set(found["images"]) - set(found["labels"]))
        if unlabeled:
            log.info("%d scenes have no label and are skipped: %s", len(unlabeled), ", ".join(unlabeled))
        scenes = sorted(set(found["images"]) & set(found["labels"]))
        if not scenes:
            raise WeaksegError(f"{self.name}: no scene has both an image and a label in the archives")
        self._check_labels(found, scenes, settings, choices)
        scoring = found.get("scoring_labels")

        def relative(role: str, scene: str) -> str:
            return str(found[role][scene].relative_to(raw_dir))

        return [
            SceneFiles(
                s,
                relative("images", s),
                relative("labels", s),
                scoring_label=relative("scoring_labels", s) if scoring is not None else "",
            )
            for s in scenes
        ]

    def _check_labels(self, found: dict, scenes: list[str], settings: dict, choices: dict) -> None:
        """Every scene has its scoring label, and each label's black share fits its set (:meth:`_check_label_set`)."""
        scoring = found.get("scoring_labels")
        if scoring is not None:
            lacking = [s for s in scenes if s not in scoring]
            if lacking:
                raise WeaksegError(
                    f"{choices['scoring_labels'][0]}: no {settings['scoring_labels']} label of scene(s) "
                    f"{', '.join(lacking)}; use the complete archive, or list the scenes it has in dataset.scenes"
                )
        for role in ("labels", "scoring_labels"):
            if role in found:
                set_name = settings.get(role) or next(iter(self.label_archives))
                for scene in scenes:
                    self._check_label_set(found[role][scene], set_name, choices[role][0])

    def _check_label_set(self, path: Path, set_name: str, archive: str) -> None:
        """Refuse a label whose black (ignore) share contradicts its set: a swapped or mislabelled archive.

        The eroded set marks every class border black (about 8% of Vaihingen's pixels); the
        complete set labels every pixel. Every :data:`SAMPLE_ROWS`-th row is read, which finds a
        border pattern however the scene is laid out, at a fraction of a full decode.

        Raises:
            WeaksegError: a complete label with more than :data:`MAX_BLACK_COMPLETE` black pixels,
                or an eroded one with none, naming the file, the archive and the fix.
        """
        share = _black_share(path)
        marked = set_name in self.ignore_marked
        if marked and share == 0:
            found = "no black (unlabelled) pixel, like a complete label"
        elif not marked and share > MAX_BLACK_COMPLETE:
            found = f"{100 * share:.1f}% black (unlabelled) pixels, like an eroded label"
        else:
            return
        raise WeaksegError(
            f"{path}: this {set_name} label (from {archive}) has {found}; the archives' contents look swapped "
            f"or mislabelled: put the {set_name} labels in {archive} (or change dataset.labels / "
            "dataset.scoring_labels), then delete the raw folder and rerun"
        )


#: Rows of a label read to judge its label set (every 8th).
SAMPLE_ROWS = 8
#: The largest black share a complete label may have (a stray pixel is tolerated, a border pattern is not).
MAX_BLACK_COMPLETE = 0.005


def _black_share(path: Path) -> float:
    """The share of pure black (0, 0, 0) pixels in every :data:`SAMPLE_ROWS`-th row of a colour-coded label.

    Where those rows hold none, the share over every row (a whole read, so the rare clean label costs one decode).
    """
    label = tiff_map(path)
    if label is None:  # compressed or not a plain RGB TIFF: decode it whole
        label = read_image(path)
    share = _black(np.asarray(label[::SAMPLE_ROWS]))
    # none in the sampled rows: the other rows decide (a border may run along unsampled rows only)
    return share if share > 0 else _black(np.asarray(label))


def _black(rows: np.ndarray) -> float:
    return float(np.mean(rows == 0)) if rows.ndim == 2 else float(np.mean(np.all(rows[..., :3] == 0, axis=-1)))


VAIHINGEN = IsprsDataset(
    name="vaihingen",
    class_names=ISPRS_CLASSES,
    palette=ISPRS_PALETTE,
    ignore_colors=ISPRS_IGNORE_COLORS,
    band_order="IRRG",
    image_archives={"IRRG": ("ISPRS_semantic_labeling_Vaihingen.zip", r"top/top_mosaic_09cm_(area\d+)\.tif")},
    label_archives={
        "complete": (
            "ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip",
            r"(?:.*/)?top_mosaic_09cm_(area\d+)\.tif",
        ),
        "eroded": (
            "ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip",
            r"(?:.*/)?top_mosaic_09cm_(area\d+)_noBoundary\.tif",
        ),
    },
    official_md5={
        "ISPRS_semantic_labeling_Vaihingen.zip": "462b8dca7b6fa9eaf729840f0cdfc7f3",
        "ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip": "4802dd6326e2727a352fb735be450277",
    },
    # The 16 areas whose labels the benchmark released for training, and the 17 it scored.
    official_train_scenes=tuple(f"area{n}" for n in (1, 3, 5, 7, 11, 13, 15, 17, 21, 23, 26, 28, 30, 32, 34, 37)),
    official_test_scenes=tuple(f"area{n}" for n in (2, 4, 6, 8, 10, 12, 14, 16, 20, 22, 24, 27, 29, 31, 33, 35, 38)),
)

POTSDAM = IsprsDataset(
    name="potsdam",
    class_names=ISPRS_CLASSES,
    palette=ISPRS_PALETTE,
    ignore_colors=ISPRS_IGNORE_COLORS,
    band_order="IRRG",
    image_archives={
        "IRRG": ("3_Ortho_IRRG.zip", r"(?:.*/)?top_potsdam_(\d+_\d+)_IRRG\.tif"),
        "RGB": ("2_Ortho_RGB.zip", r"(?:.*/)?top_potsdam_(\d+_\d+)_RGB\.tif"),
        # R, G, B and near-infrared: models get 4 input channels
        "RGBIR": ("4_Ortho_RGBIR.zip", r"(?:.*/)?top_potsdam_(\d+_\d+)_RGBIR\.tif"),
    },
    label_archives={
        "complete": ("5_Labels_all.zip", r"(?:.*/)?top_potsdam_(\d+_\d+)_label\.tif"),
        "eroded": ("5_Labels_all_noBoundary.zip", r"(?:.*/)?top_potsdam_(\d+_\d+)_label_noBoundary\.tif"),
    },
    # 24 training and 14 test tiles of 6000 x 6000 px, named <row>_<column>.
    official_train_scenes=(
        *("2_10", "2_11", "2_12", "3_10", "3_11", "3_12", "4_10", "4_11", "4_12", "5_10", "5_11", "5_12"),
        *("6_7", "6_8", "6_9", "6_10", "6_11", "6_12", "7_7", "7_8", "7_9", "7_10", "7_11", "7_12"),
    ),
    official_test_scenes=(
        *("2_13", "2_14", "3_13", "3_14", "4_13", "4_14", "4_15"),
        *("5_13", "5_14", "5_15", "6_13", "6_14", "6_15", "7_13"),
    ),
)
