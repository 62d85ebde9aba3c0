"""Cityscapes: urban street scenes with 19 evaluated classes (Cordts et al., 2016, CVPR).

Official layout (archives ``leftImg8bit_trainvaltest.zip``, ``gtFine_trainvaltest.zip`` and
``leftImg8bit_sequence_trainvaltest.zip``, or those folders already extracted):

* images ``leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png``;
* labels ``gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png`` (label
  ids 0..33, -1), mapped to the 19 train ids with the official table of ``cityscapesscripts``;
* sequences ``leftImg8bit_sequence/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png``: 30
  frames per snippet, of which the 20th is the annotated one.

Each annotated frame is a scene, named ``<split>_<city>_<seq>_<frame>``; the ``test`` split has
no public labels and is skipped. The official ``val`` split serves as the test set
(``split.use_official_test``); ``split.group_by: city`` keeps the frames of a city together.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS
from PIL import Image

from weakseg.datasets.archives import ArchiveSource, extract_matching
from weakseg.datasets.base import DatasetAdapter, SceneFiles
from weakseg.datasets.synthetic_sequence import render_sequence
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX

log = logging.getLogger(__name__)

#: The evaluated classes, in train-id order 0..18, from the official label table.
TRAIN_LABELS = sorted(
    (lab for lab in CITYSCAPES_LABELS if 0 <= lab.trainId < IGNORE_INDEX), key=lambda lab: lab.trainId
)
#: The splits with public labels.
LABELLED_SPLITS = ("train", "val")
#: Class index of the synthetic demo (ISPRS-like classes) -> Cityscapes label id: road,
#: building, terrain, vegetation, car, static (not evaluated).
SYNTHETIC_LABEL_IDS = np.array([7, 11, 22, 21, 26, 4], dtype=np.uint8)
#: The city names of the synthetic demo cities start with this (``synthtrain0``, ``synthval0``).
SYNTHETIC_CITY_PREFIX = "synth"


def label_id_to_train_id() -> np.ndarray:
    """(256,) uint8 lookup table: label id -> train id, 255 for classes not evaluated.

    From ``cityscapesscripts.helpers.labels`` (the official table); ids absent from it (and
    ``license plate``, id -1) map to 255.
    """
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label in CITYSCAPES_LABELS:
        if 0 <= label.id < 256 and 0 <= label.trainId < IGNORE_INDEX:
            table[label.id] = label.trainId
    return table


@dataclass(frozen=True)
class CityscapesDataset(DatasetAdapter):
    """Cityscapes from its official archives or folders, annotated frames as scenes.

    Attributes:
        archives: folder name -> archive name, for images, labels and sequences.
        official_md5: archive name -> MD5, where published (none is here: set
            ``dataset.source.md5`` to verify your copy).
    """

    archives: dict = field(
        default_factory=lambda: {
            "leftImg8bit": "leftImg8bit_trainvaltest.zip",
            "gtFine": "gtFine_trainvaltest.zip",
            "leftImg8bit_sequence": "leftImg8bit_sequence_trainvaltest.zip",
        }
    )
    official_md5: dict = field(default_factory=dict)

    @property
    def official_test(self) -> str:
        """The official ``val`` frames (the official test labels are not public)."""
        return "the official val frames (scene ids val_*)"

    def is_official_test(self, scene: str) -> bool:
        """Scenes of the official ``val`` split: ids ``val_<city>_...``."""
        return scene.startswith("val_")

    def check_settings(self, settings: dict) -> None:
        """See :func:`check_synthetic_mix`."""
        check_synthetic_mix(settings)

    def scene_group(self, scene: str) -> str:
        """The city of scene ``<split>_<city>_<seq>_<frame>``."""
        return scene.split("_")[1]

    def is_synthetic_scene(self, scene: str) -> bool:
        """Whether the scene's city is a demo city of ``synthetic_cities`` (``synthtrain<i>``, ``synthval<i>``)."""
        return self.scene_group(scene).startswith(SYNTHETIC_CITY_PREFIX)

    def read_label(self, path: str | Path) -> np.ndarray:
        """(H, W, 1) uint8 label ids from a ``*_gtFine_labelIds.png``.

        Raises:
            WeaksegError: unreadable, or not a single-band 8-bit image (naming the file and mode).
        """
        try:
            with Image.open(path) as image:
                if image.mode not in ("L", "P"):
                    raise WeaksegError(f"{path}: expected an 8-bit label-id image (mode 'L'), got {image.mode!r}")
                return np.asarray(image, dtype=np.uint8)[..., None]
        except OSError as error:
            raise WeaksegError(f"{path}: cannot read the label ids ({error})") from error

    def label_to_index(
        self, label: np.ndarray, source: str, snap_max_distance: float | None = None
    ) -> tuple[np.ndarray, int]:
        """(H, W) uint8 train ids 0..18 (255 = not evaluated) from label ids; nothing to snap."""
        return label_id_to_train_id()[label[..., 0]], 0

    def fetch_scenes(self, raw_dir: Path, settings: dict) -> list[SceneFiles]:
        """Gather the annotated frames (and their earlier frames for sequences) into ``raw_dir``.

        Settings used: ``source.folder`` (the archives, or the extracted ``leftImg8bit``,
        ``gtFine`` and ``leftImg8bit_sequence`` folders), ``source.url``, ``source.md5``,
        ``source.max_extracted_gib``, ``cities`` (null = all), ``sequence_length`` (T, default 1),
        ``synthetic_cities`` ({train: n, val: n}: demo cities rendered in the official naming,
        with ``synthetic.{n_scenes,height,width,seed,pan,frame_noise,cloud_probability}``).

        Raises:
            WeaksegError: an archive or folder is missing or invalid, an annotated frame has no
                image, a train/val image has no label, a city of ``cities`` has no frame, a
                frame of a sequence is missing (the message names it), or synthetic cities
                would mix with real data without ``mix_synthetic`` (see :func:`check_synthetic_mix`).
        """
        source = settings.get("source", {})
        check_synthetic_mix(settings)
        roots = [raw_dir / "synthetic"] if _write_synthetic_cities(raw_dir / "synthetic", settings) else []
        cities = settings.get("cities")
        wanted_city = lambda key: cities is None or key.split("/")[1] in cities  # noqa: E731
        labels = self._gather("gtFine", "gtFine_labelIds", raw_dir, roots, source, wanted_city)
        absent_cities = sorted(set(cities or ()) - {k.split("/")[1] for k in labels})
        if absent_cities:
            raise WeaksegError(
                f"dataset.cities: no labelled frame of {', '.join(absent_cities)} in {_where(source)}; check the "
                "spelling against the city folders (e.g. aachen) or remove the entry"
            )
        test = [k for k in labels if k.split("/")[0] not in LABELLED_SPLITS]
        if test:
            log.info("%d frames of the test split skipped: its labels are not public", len(test))
        keys = sorted(k for k in labels if k.split("/")[0] in LABELLED_SPLITS)
        if not keys:
            raise WeaksegError(f"cityscapes: no labelled frame found (dataset.cities: {cities}, {_where(source)})")
        labelled_image = lambda key: key.split("/")[0] in LABELLED_SPLITS and wanted_city(key)  # noqa: E731
        images = self._gather("leftImg8bit", "leftImg8bit", raw_dir, roots, source, labelled_image)
        missing = [k for k in keys if k not in images]
        if missing:
            raise WeaksegError(f"cityscapes: no image leftImg8bit/{missing[0]}_leftImg8bit.png for its label")
        unlabelled = sorted(set(images) - set(keys))
        if unlabelled:
            raise WeaksegError(
                f"cityscapes: {len(unlabelled)} image(s) of the train/val splits have no gtFine label, e.g. "
                f"leftImg8bit/{unlabelled[0]}_leftImg8bit.png (expected gtFine/{unlabelled[0]}_gtFine_labelIds.png); "
                f"add the labels or remove those images ({_where(source)})"
            )
        earlier, frames = self._earlier_frames(keys, int(settings.get("sequence_length", 1)), raw_dir, roots, source)
        return [
            SceneFiles(
                _scene_id(key),
                str(images[key].relative_to(raw_dir)),
                str(labels[key].relative_to(raw_dir)),
                tuple(str(frames[f].relative_to(raw_dir)) for f in earlier[key]),
            )
            for key in keys
        ]

    def _earlier_frames(self, keys: list[str], length: int, raw_dir: Path, roots: list[Path], source: dict):
        """``(key -> its T - 1 earlier frame keys, frame key -> file)`` of the annotated frames ``keys``.

        Raises:
            WeaksegError: an earlier frame of a sequence of ``length`` frames is missing or unreadable.
        """
        earlier = {key: _earlier_frames(key, length) for key in keys}
        needed = {f for frames in earlier.values() for f in frames}
        try:
            frames = (
                self._gather("leftImg8bit_sequence", "leftImg8bit", raw_dir, roots, source, needed) if needed else {}
            )
        except WeaksegError as error:
            first = min(needed)
            raise WeaksegError(
                f"cityscapes: sequence.length {length} needs the earlier frames of every annotated frame, "
                f"e.g. leftImg8bit_sequence/{first}_leftImg8bit.png, and they cannot be read: {error}"
            ) from error
        for key in keys:
            absent = [f for f in earlier[key] if f not in frames]
            if absent:
                raise WeaksegError(
                    f"cityscapes: frame leftImg8bit_sequence/{absent[0]}_leftImg8bit.png is missing "
                    f"({_where(source)}); sequence.length {length} needs the {length - 1} frames before "
                    f"{_scene_id(key)}"
                )
        return earlier, frames

    def _gather(self, folder: str, suffix: str, raw_dir: Path, roots: list[Path], source: dict, wanted) -> dict:
        """Frame key ``<split>/<city>/<stem>`` -> file under ``raw_dir``, for the files of ``folder`` in ``wanted``.

        ``wanted`` is a set of keys or a predicate. Files are read from ``roots`` (folders under
        ``raw_dir``), then, for keys still wanted, from ``source.folder`` (the extracted folder,
        copied, or else the archive, extracted) or ``source.url``.
        """
        pattern = re.compile(rf"{folder}/((?:train|val|test)/[^/]+/[^/]+)_{suffix}\.png")
        found = {}
        for root in roots:
            found.update(_walk(root, folder, pattern, _accepts(wanted)))
        if isinstance(wanted, set) and wanted <= set(found):
            return found
        keep = lambda key: _accepts(wanted)(key) and key not in found  # noqa: E731
        archives = ArchiveSource.from_settings({"source": source})
        base, url = archives.folder, archives.url
        if base and (Path(base).expanduser() / folder).is_dir():
            for key, path in _walk(Path(base).expanduser(), folder, pattern, keep).items():
                found[key] = raw_dir / folder / path.relative_to(Path(base).expanduser() / folder)
                found[key].parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, found[key])
        elif base or url:
            archive = archives.fetch(self.archives[folder], raw_dir.parent / "archives", self.official_md5)
            (raw_dir / folder).mkdir(exist_ok=True)
            found.update(extract_matching(archive, pattern, raw_dir / folder, archives.max_extracted_bytes, keep))
        return found


def _walk(root: Path, folder: str, pattern: re.Pattern, keep) -> dict[str, Path]:
    """Key -> path of the files ``root/<folder>/<split>/<city>/*.png`` matching ``pattern`` and ``keep``."""
    found = {}
    for path in sorted((root / folder).glob("*/*/*.png")):
        match = pattern.fullmatch(path.relative_to(root).as_posix())
        if match and keep(match.group(1)):
            found[match.group(1)] = path
    return found


def _accepts(wanted):
    """A predicate of a set of keys or of a predicate."""
    return wanted.__contains__ if isinstance(wanted, set) else wanted


def _scene_id(key: str) -> str:
    """``val/frankfurt/frankfurt_000000_000294`` -> ``val_frankfurt_000000_000294``."""
    split, _, stem = key.split("/")
    return f"{split}_{stem}"


def _earlier_frames(key: str, length: int) -> list[str]:
    """Keys of the ``length - 1`` frames before frame ``key``, oldest first."""
    prefix, frame = key.rsplit("_", 1)
    return [f"{prefix}_{int(frame) - j:06d}" for j in range(length - 1, 0, -1)]


def _where(source: dict) -> str:
    folder, url = source.get("folder"), source.get("url")
    return f"dataset.source.folder: {folder}, dataset.source.url: {url}"


def check_synthetic_mix(settings: dict) -> None:
    """Refuse synthetic demo cities beside real data unless ``mix_synthetic`` asks for them.

    Layered configs merge mappings key by key, so ``synthetic_cities: {}`` on top of a demo
    config clears nothing; without this check a real study would silently train and score on
    demo frames.

    Raises:
        WeaksegError: naming ``dataset.synthetic_cities``, ``dataset.mix_synthetic`` and the fix.
    """
    counts = {k: n for k, n in (settings.get("synthetic_cities") or {}).items() if n}
    source = settings.get("source") or {}
    if counts and (source.get("folder") or source.get("url")) and not settings.get("mix_synthetic"):
        raise WeaksegError(
            f"dataset.synthetic_cities: {counts} would add synthetic demo frames to the real data of "
            f"{_where(source)}; leave out the demo overlay (configs/cityscapes-demo.yaml) or set the counts to 0 "
            "to use the real data only, or set dataset.mix_synthetic: true to mix them deliberately"
        )


def _write_synthetic_cities(root: Path, settings: dict) -> bool:
    """Render ``settings['synthetic_cities']`` demo cities under ``root`` in the official naming.

    ``{train: n, val: m}`` cities named ``synthtrain<i>`` / ``synthval<i>``, each with
    ``synthetic.n_scenes`` snippets whose annotated frame is frame 19 (the 20th, as in the
    official data), preceded by ``sequence_length - 1`` frames (see
    :func:`~weakseg.datasets.synthetic_sequence.render_sequence`). Returns whether any was written.
    """
    counts = settings.get("synthetic_cities") or {}
    options = settings.get("synthetic", {})
    length = int(settings.get("sequence_length", 1))
    written = False
    for split, n_cities in sorted(counts.items()):
        for c in range(n_cities):
            city = f"{SYNTHETIC_CITY_PREFIX}{split}{c}"
            for s in range(options["n_scenes"]):
                seed = options["seed"] + 1000 * c + s + (500 if split == "val" else 0)
                frames, label = render_sequence(
                    seed,
                    options["height"],
                    options["width"],
                    length,
                    options.get("pan", 2),
                    options.get("frame_noise", 0.0),
                    options.get("cloud_probability", 0.0),
                )
                stem = f"{city}_{s:06d}"
                _save_png(root / f"gtFine/{split}/{city}/{stem}_000019_gtFine_labelIds.png", SYNTHETIC_LABEL_IDS[label])
                _save_png(root / f"leftImg8bit/{split}/{city}/{stem}_000019_leftImg8bit.png", frames[-1])
                for k, frame in enumerate(frames):
                    name = f"{stem}_{19 - (length - 1 - k):06d}_leftImg8bit.png"
                    _save_png(root / f"leftImg8bit_sequence/{split}/{city}/{name}", frame)
                written = True
    return written


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


CITYSCAPES = CityscapesDataset(
    name="cityscapes",
    class_names=tuple(label.name.replace(" ", "_") for label in TRAIN_LABELS),
    palette=tuple(tuple(label.color) for label in TRAIN_LABELS),
    band_order="RGB",
    download_keys=("source", "cities", "synthetic_cities", "mix_synthetic", "synthetic"),
    has_sequences=True,
    has_cities=True,
    # Cityscapes' "things" (instance classes): person, rider, car, truck, bus, train, motorcycle, bicycle.
    object_classes=tuple(label.name.replace(" ", "_") for label in TRAIN_LABELS if label.hasInstances),
)
