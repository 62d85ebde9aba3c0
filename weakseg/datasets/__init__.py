"""Dataset adapters, by the name used in ``dataset.name``: a lazy registry.

An adapter's module is imported when the adapter is first asked for, so a job imports only its
own dataset's dependencies (``cityscapesscripts`` only for Cityscapes).
"""

from __future__ import annotations

from weakseg.datasets.base import DatasetAdapter, SceneFiles
from weakseg.io.errors import WeaksegError
from weakseg.io.registry import lookup

#: ``dataset.name`` -> ``module:attribute`` of its adapter. Adding a dataset: one adapter module
#: plus one entry here (the schema's ``dataset.name`` enum is tested against these keys).
DATASETS: dict[str, str] = {
    "synthetic": "weakseg.datasets.synthetic:SYNTHETIC",
    "vaihingen": "weakseg.datasets.isprs:VAIHINGEN",
    "potsdam": "weakseg.datasets.isprs:POTSDAM",
    "figaro1k": "weakseg.datasets.figaro:FIGARO1K",
    "cityscapes": "weakseg.datasets.cityscapes:CITYSCAPES",
}


def get_dataset(name: str) -> DatasetAdapter:
    """The adapter registered as ``name`` (importing its module on first use).

    Raises:
        WeaksegError: unknown name; the message lists the known ones.
    """
    return lookup(DATASETS, name, key="dataset.name", what="dataset")


def official_test_adapter(name: str) -> DatasetAdapter:
    """The adapter of dataset ``name``, which must have an official test set (``split.use_official_test``).

    Raises:
        WeaksegError: an unknown dataset, or one without an official test set.
    """
    adapter = get_dataset(name)
    if adapter.official_test is None:
        raise WeaksegError(f"split.use_official_test: dataset {name} has no official test set")
    return adapter


__all__ = ["DATASETS", "DatasetAdapter", "SceneFiles", "get_dataset", "official_test_adapter"]
