"""Rule ``predict``: apply a trained run to whole images or scenes of any size (sliding window)."""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.design.scoring import Windows
from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class PredictParams:
    """What to predict (``source``: a folder of images, or ``val``/``test``: the scenes of that set) and how.

    Attributes:
        windows: the sliding-window setting (:class:`~weakseg.design.scoring.Windows`), with
            ``predict.batch_size`` windows per forward pass.
        bands, scale, probabilities, vectors, max_megapixels: how TIFF input is read, what is
            written for it and the largest raster accepted (:class:`weakseg.learn.predict.RasterOptions`).
    """

    dataset: str
    source: str
    windows: Windows
    device: str
    bands: tuple[int, ...] | None = None
    scale: tuple[float, float] | None = None
    probabilities: bool = False
    vectors: str | None = None
    max_megapixels: float = 10_000

    @classmethod
    def from_config(cls, config: dict, wildcards) -> PredictParams:
        """From ``predict``, ``evaluation.{window, overlap}``, ``tiling.shorter_side`` and ``training.device``."""
        predict = config["predict"]
        return cls(
            dataset=config["dataset"]["name"],
            source=predict["input"],
            windows=Windows.from_config(config, predict["batch_size"]),
            device=config["training"]["device"],
            bands=tuple(predict["bands"]) if predict.get("bands") else None,
            scale=tuple(predict["scale"]) if predict.get("scale") is not None else None,
            probabilities=predict.get("probabilities", False),
            vectors=predict.get("vectors"),
            max_megapixels=predict["max_megapixels"],
        )

    @property
    def predicts_scenes(self) -> bool:
        """Whether ``source`` names a set of the split (else it is a folder)."""
        return self.source in ("val", "test")


def run(params: PredictParams, input, output, threads: int) -> None:
    """Predict with ``input.model`` into the folder ``output.predictions``."""
    from weakseg.data.prepare import scene_files
    from weakseg.datasets import get_dataset
    from weakseg.formats.predictions import images_of_files
    from weakseg.formats.splits import read_splits
    from weakseg.formats.tiles import read_tiles
    from weakseg.learn.predict import RasterOptions, predict_images, scenes_of_set

    if params.predicts_scenes:
        files = scene_files(input.scene_images, input.scene_labels)
        images = scenes_of_set(read_tiles(input.tiles), read_splits(input.splits), params.source, files)
    else:
        images = images_of_files(input.images)
    palette = get_dataset(params.dataset).palette_array
    raster = RasterOptions(params.bands, params.scale, params.probabilities, params.vectors, params.max_megapixels)
    predict_images(input.model, images, output.predictions, params.windows, palette, params.device, raster)


STAGE = Stage("predict", PredictParams, run, gpu=True)
