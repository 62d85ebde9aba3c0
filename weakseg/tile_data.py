"""PyTorch datasets over the memory-mapped tile arrays written by the tile and augment stages."""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Sampler

from weakseg.augmentation import load_pipeline
from weakseg.errors import WeaksegError
from weakseg.labels import IGNORE_INDEX
from weakseg.splitting import read_splits
from weakseg.tiling import read_tiles
from weakseg.weak_labels import read_weak_labels


class TileDataset(Dataset):
    """Tiles ``rows`` of ``images.npy`` / ``masks.npy``, optionally augmented, as tensors.

    Arrays are opened with ``mmap_mode="r"`` on first access (so each DataLoader worker maps
    them itself and only the tiles read are paged in).

    Each item is a dict:
        ``image``: (C, T, T) float32, ``(x / 255 - mean) / std`` per band;
        ``mask``: (T, T) int64 class indices, 255 = ignore;
        ``fractions``: (K,) float32 weak label, when ``fractions`` was given;
        ``row``: the tile's row in the arrays.

    Items are looked up by ``(epoch, index)`` keys (from :class:`EpochSampler`) or a plain
    index (epoch 0). Augmentation draws are seeded by ``(seed, epoch, index)``, so a run gives
    the same draws with any number of (persistent) workers and after a resume.
    """

    def __init__(
        self,
        images_path: str,
        masks_path: str,
        rows: list[int],
        mean: list[float],
        std: list[float],
        transform=None,
        fractions: np.ndarray | None = None,
        seed: int = 0,
    ):
        self.images_path, self.masks_path = str(images_path), str(masks_path)
        self.rows = list(rows)
        self.transform = transform
        self.fractions = None if fractions is None else np.asarray(fractions, dtype=np.float32)
        self.seed = seed
        self._mean = np.asarray(mean, dtype=np.float32) * 255
        self._std = np.asarray(std, dtype=np.float32) * 255
        self._images = self._masks = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        if self._images is None:
            self._images = np.load(self.images_path, mmap_mode="r")
            self._masks = np.load(self.masks_path, mmap_mode="r")
        row = self.rows[index]
        image, mask = np.asarray(self._images[row]), np.asarray(self._masks[row])
        if self.transform is not None:
            self.transform.set_random_seed(((self.seed * 1_000_003 + epoch) * 1_000_003 + index) % 2**32)
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        channels = image.shape[2]
        mean, std = _bands(self._mean, channels), _bands(self._std, channels)
        item = {
            "image": torch.from_numpy(((image.astype(np.float32) - mean) / std).transpose(2, 0, 1).copy()),
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "row": row,
        }
        if self.fractions is not None:
            item["fractions"] = torch.from_numpy(self.fractions[index])
        return item


class EpochConcatDataset(ConcatDataset):
    """:class:`~torch.utils.data.ConcatDataset` that passes ``(epoch, index)`` keys through."""

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        part = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][(epoch, index - start)]


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` keys: a permutation seeded by ``(seed, epoch)``, or in order.

    Set :attr:`epoch` before each epoch. The epoch travels with each key, so DataLoader
    workers can stay alive across epochs (``persistent_workers``) and still draw fresh,
    reproducible augmentations.
    """

    def __init__(self, size: int, shuffle: bool, seed: int = 0):
        self.size, self.shuffle, self.seed, self.epoch = size, shuffle, seed, 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size) if self.shuffle else range(self.size)
        return iter([(self.epoch, int(i)) for i in order])


def _bands(values: np.ndarray, channels: int) -> np.ndarray:
    """Per-band statistics for ``channels`` bands: the given ones, repeated cyclically."""
    return np.resize(values, channels)


def labeled_pixels(masks: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool: True where a pixel has a label (not 255)."""
    return masks != IGNORE_INDEX


@dataclass
class TrainingData:
    """What one run trains and validates on.

    Attributes:
        train: the training tiles (with ``fractions`` in weak mode), augmented as configured.
        val: the validation tiles, unaugmented, with their weak labels as ``fractions``.
        in_channels: bands per tile.
        class_names: K names.
    """

    train: Dataset
    val: Dataset
    in_channels: int
    class_names: list[str]


@dataclass
class SplitTiles:
    """The tiles of a split: their rows in the tile arrays and their weak labels.

    Attributes:
        tiles_dir: folder with ``images.npy``, ``masks.npy`` and ``tiles.csv``.
        sets: set name -> tile ids (from ``splits.json``).
        row_of: tile id -> row in the arrays.
        fraction_of: tile id -> (K,) float64 weak label.
        class_names: K names (the weak-label columns).
        splits_path, weak_labels_path: where ``sets`` and ``fraction_of`` were read, for messages.
    """

    tiles_dir: Path
    sets: dict[str, list[str]]
    row_of: dict[str, int]
    fraction_of: dict[str, np.ndarray]
    class_names: list[str]
    splits_path: Path
    weak_labels_path: Path

    @classmethod
    def load(cls, tiles_dir: str | Path, splits_path: str | Path, weak_labels_path: str | Path) -> SplitTiles:
        """Read ``tiles.csv``, ``splits.json`` and ``weak_labels.csv``."""
        tiles_dir = Path(tiles_dir)
        tile_ids = [t.tile_id for t in read_tiles(tiles_dir / "tiles.csv")]
        label_ids, _, fractions, class_names = read_weak_labels(weak_labels_path)
        return cls(
            tiles_dir,
            read_splits(splits_path),
            {tile: row for row, tile in enumerate(tile_ids)},
            dict(zip(label_ids, fractions)),
            list(class_names),
            Path(splits_path),
            Path(weak_labels_path),
        )

    def rows_and_fractions(self, ids: list[str]) -> tuple[list[int], np.ndarray]:
        """Array rows and (len(ids), K) weak labels of tiles ``ids``.

        Raises:
            WeaksegError: a tile is missing from ``tiles.csv`` or the weak labels (a stale split).
        """
        missing = [t for t in ids if t not in self.row_of or t not in self.fraction_of]
        if missing:
            raise WeaksegError(
                f"{self.splits_path}: tiles {missing[:5]} are not in {self.tiles_dir / 'tiles.csv'} or "
                f"{self.weak_labels_path}; rerun the split"
            )
        return [self.row_of[t] for t in ids], np.array([self.fraction_of[t] for t in ids]).reshape(len(ids), -1)

    def dataset(self, ids: list[str], mean, std, transform=None, with_fractions: bool = True, seed: int = 0) -> TileDataset:
        """A :class:`TileDataset` of tiles ``ids`` (with their weak labels if ``with_fractions``)."""
        rows, fractions = self.rows_and_fractions(ids)
        return TileDataset(
            self.tiles_dir / "images.npy", self.tiles_dir / "masks.npy", rows, mean, std, transform,
            fractions if with_fractions else None, seed,
        )


def load_training_data(
    mode: str,
    tiles_dir: str | Path,
    splits_path: str | Path,
    weak_labels_path: str | Path,
    pipeline_path: str | Path,
    offline_dir: str | Path,
    mean: list[float],
    std: list[float],
    seed: int,
) -> TrainingData:
    """Datasets for one run: the strong (``mode="strong"``) or weak (``"weak"``) set, and val.

    The training set is augmented online with the pipeline at ``pipeline_path``, unless the
    augment stage wrote offline copies: then the originals plus their copies, unaugmented.
    Weak labels come from ``weak_labels.csv`` (the weak set's only supervision).

    Raises:
        WeaksegError: a tile id of the split missing from ``tiles.csv`` or the weak labels.
    """
    tiles, offline_dir = SplitTiles.load(tiles_dir, splits_path, weak_labels_path), Path(offline_dir)
    weak = mode == "weak"
    with open(offline_dir / "copies.csv", newline="") as handle:
        copies = [row for row in csv.DictReader(handle) if row["set"] == mode]
    if copies:
        copy_fractions = np.array([tiles.fraction_of[row["tile_id"]] for row in copies])
        train = EpochConcatDataset(
            [
                tiles.dataset(tiles.sets[mode], mean, std, None, weak, seed),
                TileDataset(offline_dir / "images.npy", offline_dir / "masks.npy", [int(row["row"]) for row in copies],
                            mean, std, None, copy_fractions if weak else None, seed),
            ]
        )
    else:
        train = tiles.dataset(tiles.sets[mode], mean, std, load_pipeline(pipeline_path), weak, seed)
    val = tiles.dataset(tiles.sets["val"], mean, std, seed=seed)
    in_channels = int(np.load(tiles.tiles_dir / "images.npy", mmap_mode="r").shape[3])
    return TrainingData(train, val, in_channels, tiles.class_names)
