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
    tiles_dir, offline_dir = Path(tiles_dir), Path(offline_dir)
    tile_ids = [t.tile_id for t in read_tiles(tiles_dir / "tiles.csv")]
    row_of = {tile: row for row, tile in enumerate(tile_ids)}
    sets = read_splits(splits_path)
    label_ids, _, fractions, class_names = read_weak_labels(weak_labels_path)
    fraction_of = dict(zip(label_ids, fractions))

    def rows_and_fractions(ids: list[str], source: str):
        missing = [t for t in ids if t not in row_of or t not in fraction_of]
        if missing:
            raise WeaksegError(f"{splits_path}: tiles {missing[:5]} are not in {source}; rerun the split")
        return [row_of[t] for t in ids], np.array([fraction_of[t] for t in ids]).reshape(len(ids), -1)

    train_rows, train_fractions = rows_and_fractions(sets[mode], f"{tiles_dir / 'tiles.csv'} or {weak_labels_path}")
    val_rows, val_fractions = rows_and_fractions(sets["val"], f"{tiles_dir / 'tiles.csv'} or {weak_labels_path}")
    images, masks = tiles_dir / "images.npy", tiles_dir / "masks.npy"
    weak = mode == "weak"
    with open(offline_dir / "copies.csv", newline="") as handle:
        copies = [row for row in csv.DictReader(handle) if row["set"] == mode]
    if copies:
        copy_rows = [int(row["row"]) for row in copies]
        copy_fractions = np.array([fraction_of[row["tile_id"]] for row in copies])
        train = EpochConcatDataset(
            [
                TileDataset(images, masks, train_rows, mean, std, None, train_fractions if weak else None, seed),
                TileDataset(offline_dir / "images.npy", offline_dir / "masks.npy", copy_rows, mean, std, None,
                            copy_fractions if weak else None, seed),
            ]
        )
    else:
        pipeline = load_pipeline(pipeline_path)
        train = TileDataset(images, masks, train_rows, mean, std, pipeline, train_fractions if weak else None, seed)
    val = TileDataset(images, masks, val_rows, mean, std, None, val_fractions, seed)
    in_channels = int(np.load(images, mmap_mode="r").shape[3])
    return TrainingData(train, val, in_channels, list(class_names))
