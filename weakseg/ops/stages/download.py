"""Rule ``download``: fetch (or generate) a dataset's raw scenes (:func:`weakseg.data.download.download`)."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.datasets import get_dataset
from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class DownloadParams:
    """The ``dataset`` keys the download reads (the adapter's ``download_keys``) and ``sequence_length``."""

    settings: dict

    @classmethod
    def from_config(cls, config: dict, wildcards) -> DownloadParams:
        """From ``dataset.{name, scenes, <adapter.download_keys>}`` and ``sequence.length``."""
        dataset = config["dataset"]
        keys = ["name", "scenes", *get_dataset(dataset["name"]).download_keys]
        return cls({**{k: dataset.get(k) for k in keys}, "sequence_length": config["sequence"]["length"]})


def run(params: DownloadParams, input, output, threads: int) -> None:
    """Download (or generate) the raw scenes into ``output.raw``, with its ``scenes.csv``."""
    from weakseg.data.download import download

    download(output.raw, params.settings)


STAGE = Stage("download", DownloadParams, run)
