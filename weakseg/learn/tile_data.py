"""PyTorch datasets over the memory-mapped tile arrays written by the tile and augment stages."""

from __future__ import annotations

import bisect
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Sampler

from weakseg.design.experiment import Variant
from weakseg.formats.bundles import TileFiles, TrainingFiles
from weakseg.formats.splits import sets_at_fraction
from weakseg.formats.tiles import read_tiles, rows_of
from weakseg.formats.weak_labels import read_weak_labels
from weakseg.io.errors import WeaksegError
from weakseg.learn.models import IMAGENET_MEAN, IMAGENET_STD
from weakseg.methods import get_method
from weakseg.weak.kind import WeakKind


class TileDataset(Dataset):
    """Tiles ``rows`` of ``images.npy`` / ``masks.npy``, optionally augmented, as tensors.

    Arrays are opened with ``mmap_mode="r"`` on first access (so each DataLoader worker maps
    them itself and only the tiles read are paged in).

    Each item is a dict:
        ``image``: (C, T, T) uint8 pixel values (the model normalises them on its device);
        ``mask``: (T, T) int64 class indices, 255 = ignore (only when ``masks_path`` is given:
        a weakly labelled set passes None, and its pixel labels are never opened);
        ``weak_label``: (D,) float32 weak label, when ``weak_labels`` was given; with
        ``weak_to_mask`` (a spatial kind, e.g. points) instead the (T, T) int64 mask it renders
        the label as, augmented with the image;
        ``strong_view``: with a ``strong_view`` pipeline (consistency training), (C, T, T) uint8
        the augmented image after that pipeline's photometric changes (same geometry);
        ``row``: the tile's row in the arrays.

    Items are looked up by ``(epoch, draw, index)`` keys (from :class:`EpochSampler`; ``draw``
    is the position in the epoch's stream), ``(epoch, index)`` or a plain index (epoch 0).
    Augmentation draws are seeded by ``(seed, epoch, draw)``, so a run gives the same draws
    with any number of (persistent) workers and after a resume, and a tile drawn twice in an
    epoch gets two different augmentations.
    """

    def __init__(
        self,
        images_path: str,
        masks_path: str | None,
        rows: list[int],
        transform=None,
        weak_labels: np.ndarray | None = None,
        seed: int = 0,
        weak_to_mask=None,
        strong_view=None,
    ):
        self.images_path = str(images_path)
        self.masks_path = None if masks_path is None else str(masks_path)
        self.rows = list(rows)
        self.transform = transform
        self.weak_labels = None if weak_labels is None else np.asarray(weak_labels, dtype=np.float32)
        self.seed = seed
        self.weak_to_mask = weak_to_mask
        self.strong_view = strong_view
        self._images = self._masks = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | tuple[int, ...]) -> dict:
        epoch, draw, index = split_key(key)
        if self._images is None:
            self._images = np.load(self.images_path, mmap_mode="r")
            if self.masks_path is not None:
                self._masks = np.load(self.masks_path, mmap_mode="r")
        row = self.rows[index]
        targets = {"image": np.asarray(self._images[row])}
        if self._masks is not None:
            targets["mask"] = np.asarray(self._masks[row])
        weak_mask = None  # a spatial kind's label, rendered (sets with masks are never augmented with one)
        if self.weak_to_mask is not None:
            weak_mask = self.weak_to_mask(self.weak_labels[index], *targets["image"].shape[:2])
        if self.transform is not None:
            from weakseg.data.augmentation import augment  # albumentations only where a pipeline is used

            self.transform.set_random_seed(draw_seed(self.seed, epoch, draw) % 2**32)
            if weak_mask is not None:
                # The rendered weak label rides the mask target, so flips and rotations move its pixels too.
                targets = augment(self.transform, targets["image"], weak_mask)
                weak_mask = targets.pop("mask")
            else:
                targets = augment(self.transform, targets["image"], targets.get("mask"))
        item = {
            "image": torch.from_numpy(np.ascontiguousarray(targets["image"].transpose(2, 0, 1))),
            "row": row,
        }
        if self.strong_view is not None:
            item["strong_view"] = self._strong_view(targets["image"], epoch, draw)
        if "mask" in targets:
            item["mask"] = torch.from_numpy(targets["mask"].astype(np.int64))
        if weak_mask is not None:
            item["weak_label"] = torch.from_numpy(weak_mask.astype(np.int64))
        elif self.weak_labels is not None:
            item["weak_label"] = torch.from_numpy(self.weak_labels[index])
        return item

    def _strong_view(self, image: np.ndarray, epoch: int, draw: int) -> torch.Tensor:
        """(C, T, T) uint8: one draw of :attr:`strong_view` on the (T, T, C) weak view, seeded apart from it."""
        from weakseg.data.augmentation import augment

        self.strong_view.set_random_seed((draw_seed(self.seed, epoch, draw) + 0x57) % 2**32)
        view = augment(self.strong_view, image)["image"]
        return torch.from_numpy(np.ascontiguousarray(view.transpose(2, 0, 1)))


def draw_seed(seed: int, epoch: int, draw: int) -> int:
    """The seed of one draw's random stream (augmentation, strong view, a step's CutMix): ``(seed, epoch, draw)`` mixed.

    The same with any number of DataLoader workers and after a resume; callers reduce it to
    their generator's range.
    """
    return (seed * 1_000_003 + epoch) * 1_000_003 + draw


def split_key(key: int | tuple[int, ...]) -> tuple[int, int, int]:
    """``(epoch, draw, index)`` of a dataset key: ``index``, ``(epoch, index)`` or ``(epoch, draw, index)``."""
    if not isinstance(key, tuple):
        return 0, int(key), int(key)
    if len(key) == 2:
        return int(key[0]), int(key[1]), int(key[1])
    return int(key[0]), int(key[1]), int(key[2])


class EpochConcatDataset(ConcatDataset):
    """:class:`~torch.utils.data.ConcatDataset` that passes ``(epoch, draw, index)`` keys through."""

    def __getitem__(self, key: int | tuple[int, ...]) -> dict:
        epoch, draw, index = split_key(key)
        part = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][(epoch, draw, index - start)]


class EpochSampler(Sampler):
    """Yields ``(epoch, draw, index)`` keys: ``draws`` indices per epoch, or ``0..size-1`` in order.

    Shuffled: consecutive permutations of the dataset, seeded by ``(seed, epoch, pass)``, cut
    to ``draws`` indices (default: one pass), so every epoch has the same number of optimiser
    steps whatever the set's size. Set :attr:`epoch` before each epoch. The epoch travels with
    each key, so DataLoader workers can stay alive across epochs (``persistent_workers``) and
    still draw fresh, reproducible augmentations.
    """

    def __init__(self, size: int, shuffle: bool, seed: int = 0, draws: int | None = None):
        self.size, self.shuffle, self.seed, self.epoch = size, shuffle, seed, 0
        self.draws = size if draws is None or not shuffle else draws

    def __len__(self) -> int:
        return self.draws

    def __iter__(self):
        if not self.shuffle:
            order = np.arange(self.size)
        else:
            passes = -(-self.draws // max(self.size, 1))
            order = np.concatenate(
                [np.random.default_rng([self.seed, self.epoch, k]).permutation(self.size) for k in range(passes)]
            )[: self.draws]
        return iter([(self.epoch, draw, int(i)) for draw, i in enumerate(order)])


@dataclass
class TrainingData:
    """What one run trains and validates on.

    Attributes:
        train: the tiles of the run's main loss, augmented as configured: pixel-labelled
            tiles (items with ``mask``) in strong and joint mode, weakly labelled tiles
            (items with ``weak_label`` and no ``mask``) in weak mode.
        val: the validation tiles, unaugmented, with masks (and their ``weak_label`` when the
            run uses weak labels).
        in_channels: bands per tile.
        class_names: K names.
        mean, std: the input normalisation of the run's model, fractions of 255 per band.
        weak: joint mode only: the weakly labelled tiles of the weak loss (no masks).
    """

    train: Dataset
    val: Dataset
    in_channels: int
    class_names: list[str]
    weak: Dataset | None = None
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))


@dataclass
class SplitTiles:
    """The tiles of a split: their rows in the tile arrays and, for runs that use them, their weak labels.

    Attributes:
        files: the tile arrays (``tiles``, ``images`` and, for pixel-labelled sets, ``masks``).
        splits: the content of ``splits.json`` (see :func:`weakseg.data.splitting.split_tiles`).
        row_of: tile id -> row in the arrays.
        weak_label_of: tile id -> (D,) float64 weak label (empty without a weak-label table).
        class_names: K names.
        splits_path, weak_labels_path: where ``splits`` and ``weak_label_of`` were read, for messages.
        weak_to_mask: a spatial kind's :meth:`~weakseg.weak.kind.WeakKind.to_mask`, or None.
    """

    files: TileFiles
    splits: dict
    row_of: dict[str, int]
    weak_label_of: dict[str, np.ndarray]
    class_names: list[str]
    splits_path: Path
    weak_labels_path: Path | None
    weak_to_mask: object = None

    @classmethod
    def load(
        cls,
        files: TileFiles,
        splits_path: str | Path,
        class_names: list[str] | tuple[str, ...],
        weak_labels_path: str | Path | None = None,
    ) -> SplitTiles:
        """Read ``tiles.csv``, ``splits.json`` and, when given (runs that use weak labels), ``weak_labels.csv``."""
        row_of = rows_of(read_tiles(files.tiles))
        weak_label_of = {}
        if weak_labels_path is not None:
            label_ids, _, labels, _ = read_weak_labels(weak_labels_path)
            weak_label_of = dict(zip(label_ids, labels, strict=False))
        with open(splits_path) as handle:
            splits = json.load(handle)
        return cls(
            files,
            splits,
            row_of,
            weak_label_of,
            list(class_names),
            Path(splits_path),
            None if weak_labels_path is None else Path(weak_labels_path),
        )

    @property
    def sets(self) -> dict[str, list[str]]:
        """The reference sets (strong, weak, val, test) of ``splits.json``."""
        return {"test": [], **self.splits["sets"]}

    def sets_at(self, fraction: str | float | None) -> dict[str, list[str]]:
        """The sets at strong fraction ``fraction`` (see :func:`weakseg.data.splitting.sets_at_fraction`)."""
        try:
            return sets_at_fraction(self.splits, fraction)
        except KeyError as error:
            raise WeaksegError(
                f"{self.splits_path}: no key {error} (written by an older version); rerun the split"
            ) from error

    def rows_and_weak_labels(self, ids: list[str]) -> tuple[list[int], np.ndarray | None]:
        """Array rows and (len(ids), D) weak labels of tiles ``ids`` (None without a weak-label table).

        Raises:
            WeaksegError: a tile is missing from ``tiles.csv`` or the weak labels (a stale split).
        """
        weak = self.weak_labels_path is not None
        missing = [t for t in ids if t not in self.row_of or (weak and t not in self.weak_label_of)]
        if missing:
            raise WeaksegError(
                f"{self.splits_path}: tiles {missing[:5]} are not in {self.files.tiles}"
                f"{f' or {self.weak_labels_path}' if weak else ''}; rerun the split"
            )
        labels = np.array([self.weak_label_of[t] for t in ids]).reshape(len(ids), -1) if weak else None
        return [self.row_of[t] for t in ids], labels

    def dataset(
        self, ids: list[str], transform=None, pixel_labels: bool = True, seed: int = 0, strong_view=None
    ) -> TileDataset:
        """A :class:`TileDataset` of tiles ``ids``, their weak labels (if loaded), their masks if ``pixel_labels``.

        A spatial kind's labels are rendered as masks (:attr:`weak_to_mask`) for weakly labelled
        sets and unaugmented ones (validation), never for augmented pixel-labelled sets.
        """
        rows, weak_labels = self.rows_and_weak_labels(ids)
        masks = self.files.masks if pixel_labels else None
        render = self.weak_to_mask if weak_labels is not None and (not pixel_labels or transform is None) else None
        return TileDataset(self.files.images, masks, rows, transform, weak_labels, seed, render, strong_view)

    def shuffle_weak_labels(self, ids: list[str], seed: int) -> None:
        """Give each tile of ``ids`` the weak label of another (a seeded permutation): the shuffled-labels control."""
        labels = [self.weak_label_of[t] for t in ids]
        order = np.random.default_rng([seed, 0x5EED]).permutation(len(ids))
        self.weak_label_of.update({t: labels[j] for t, j in zip(ids, order, strict=True)})


class WeakMaskRows:
    """A dense kind's weak masks as a ``weak_to_mask``: the "label" of a tile is its row in ``weak_masks.npy``.

    Picklable (each DataLoader worker maps the file itself, on first use).
    """

    def __init__(self, path: str | Path):
        self.path, self._masks = str(path), None

    def __getstate__(self) -> dict:
        return {"path": self.path, "_masks": None}

    def __call__(self, label: np.ndarray, height: int, width: int) -> np.ndarray:
        """(H, W) uint8 weak mask at row ``label[0]`` (a (1,) float array)."""
        if self._masks is None:
            self._masks = np.load(self.path, mmap_mode="r")
        return np.asarray(self._masks[int(label[0])])


def _training_set(
    tiles: SplitTiles, ids: list[str], pixel_labels: bool, files: TrainingFiles, seed: int, strong_view=None
):
    """Tiles ``ids`` augmented online with their pipeline (strong or weak), or with their offline copies.

    ``strong_view``: a pipeline that also gives each tile a strongly augmented view (consistency).
    """
    pipeline = "strong" if pixel_labels else "weak"
    with open(files.offline.copies, newline="") as handle:
        wanted = set(ids)
        copies = [row for row in csv.DictReader(handle) if row["pipeline"] == pipeline and row["tile_id"] in wanted]
    if not copies:
        from weakseg.data.augmentation import load_pipeline  # albumentations only where a pipeline is loaded

        return tiles.dataset(ids, load_pipeline(files.pipelines.of_pipeline(pipeline)), pixel_labels, seed, strong_view)
    copy_labels = None
    if tiles.weak_labels_path is not None:
        copy_labels = np.array([tiles.weak_label_of[row["tile_id"]] for row in copies])
    masks = files.offline.masks if pixel_labels else None
    return EpochConcatDataset(
        [
            tiles.dataset(ids, None, pixel_labels, seed, strong_view),
            TileDataset(
                files.offline.images,
                masks,
                [int(row["row"]) for row in copies],
                None,
                copy_labels,
                seed,
                strong_view=strong_view,
            ),
        ]
    )


def _use_weak_masks(tiles: SplitTiles, path: Path | None, what: str) -> None:
    """Each tile's weak label becomes its row in the (N, T, T) masks at ``path`` (a shuffle then permutes rows).

    ``what`` names the masks in the error: a dense kind's weak masks, or a student's pseudo-masks.

    Raises:
        WeaksegError: no file was given.
    """
    if path is None:
        raise WeaksegError(f"this run trains on {what}: give them")
    tiles.weak_label_of = {t: np.array([tiles.row_of[t]], dtype=np.float64) for t in tiles.weak_label_of}
    tiles.weak_to_mask = WeakMaskRows(path)


def _strong_view(variant: Variant, files: TrainingFiles):
    """The strong-view pipeline of a method that trains on one (consistency), else None."""
    if variant.method is None or not get_method(variant.method).strong_view:
        return None
    from weakseg.data.augmentation import load_pipeline, pipeline_frames, strong_view_pipeline

    frames = pipeline_frames(load_pipeline(files.pipelines.weak))
    bands = int(np.load(files.tiles.images, mmap_mode="r").shape[3]) // frames
    return strong_view_pipeline(bands, frames)


def load_training_data(
    variant: Variant,
    strong_fraction: str,
    files: TrainingFiles,
    *,
    class_names: list[str] | tuple[str, ...],
    seed: int,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    weak_kind: WeakKind | None = None,
) -> TrainingData:
    """Datasets for one run of ``variant`` at ``strong_fraction`` (``"all"``: the pool).

    Pixel-labelled training tiles are the union of the variant's ``pixel_sets``, augmented with
    ``files.pipelines.strong``; weakly labelled ones the union of its ``weak_sets``,
    augmented with ``files.pipelines.weak`` and read without their masks (their pixel labels are never
    opened). Offline copies from the augment stage replace online augmentation when present.
    Weak labels come from ``files.weak_labels``, read only by variants with weak sets
    (None otherwise); a spatial ``weak_kind`` (points) renders them as masks, a dense one
    (scribbles, boxes, coarse, noisy masks) reads its weak masks from ``files.weak_masks``, a
    pseudo-mask student (a variant with a ``teacher``) its pseudo-masks from
    ``files.pseudo_masks``, a consistency run's weak tiles also come in a strong view, and a
    shuffled variant permutes them among the weak tiles (seeded by ``seed``). ``mean``
    and ``std`` (fractions of 255 per band) are the input normalisation of the run's model.

    Raises:
        WeaksegError: a tile id of the split missing from ``tiles.csv`` or the weak labels,
            a variant with weak sets but no ``files.weak_labels``, or an empty set at this fraction.
    """
    if variant.weak_sets and files.weak_labels is None:
        raise WeaksegError(f"variant {variant.name} trains on weak labels: give the weak-label table")
    tiles = SplitTiles.load(files.tiles, files.splits, class_names, files.weak_labels)
    sets = tiles.sets_at(strong_fraction)
    union = lambda names: [t for name in names for t in sets[name]]  # noqa: E731
    if variant.teacher is not None:
        _use_weak_masks(tiles, files.pseudo_masks, "its teacher's pseudo-masks (pseudo_masks.npy)")
    elif weak_kind is not None and weak_kind.dense and variant.weak_sets:
        _use_weak_masks(tiles, files.weak_masks, "a dense kind's weak masks (weak_masks.npy)")
    elif weak_kind is not None and weak_kind.spatial:
        tiles.weak_to_mask = weak_kind.to_mask
    if variant.shuffled:
        tiles.shuffle_weak_labels(union(variant.weak_sets), seed)
    parts = []
    if variant.pixel_sets:
        parts.append(_training_set(tiles, union(variant.pixel_sets), True, files, seed))
    if variant.weak_sets:
        parts.append(_training_set(tiles, union(variant.weak_sets), False, files, seed, _strong_view(variant, files)))
    val = tiles.dataset(sets["val"], seed=seed)
    in_channels = int(np.load(files.tiles.images, mmap_mode="r").shape[3])
    weak = parts[1] if len(parts) > 1 else None
    return TrainingData(parts[0], val, in_channels, tiles.class_names, weak, list(mean), list(std))
