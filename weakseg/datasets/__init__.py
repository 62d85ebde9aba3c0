"""Dataset adapters, by the name used in ``dataset.name``."""

from __future__ import annotations

from weakseg.datasets.base import DatasetAdapter, SceneFiles
from weakseg.datasets.cityscapes import CITYSCAPES
from weakseg.datasets.figaro import FIGARO1K
from weakseg.datasets.isprs import POTSDAM, VAIHINGEN
from weakseg.datasets.synthetic import SYNTHETIC
from weakseg.errors import WeaksegError

DATASETS: dict[str, DatasetAdapter] = {d.name: d for d in (SYNTHETIC, VAIHINGEN, POTSDAM, FIGARO1K, CITYSCAPES)}


def get_dataset(name: str) -> DatasetAdapter:
    """The adapter registered as ``name``.

    Raises:
        WeaksegError: unknown name; the message lists the known ones.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise WeaksegError(f"dataset.name: unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})") from None


def official_test_prefix(name: str) -> str:
    """The scene-id prefix of dataset ``name``'s official test set (``split.use_official_test``).

    Raises:
        WeaksegError: an unknown dataset, or one without an official test set.
    """
    prefix = get_dataset(name).official_test_prefix
    if prefix is None:
        raise WeaksegError(f"split.use_official_test: dataset {name} has no official test set")
    return prefix


__all__ = ["DATASETS", "DatasetAdapter", "SceneFiles", "get_dataset", "official_test_prefix"]
