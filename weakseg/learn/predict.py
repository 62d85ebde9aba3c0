"""The predict stage: a trained model applied to whole images or scenes of any size.

Per PNG/JPEG image or prepared scene ``<name>`` it writes the class-index mask ``<name>.png``,
the colourised mask ``<name>_color.png`` (dataset palette, unlabelled black) and
``<name>_overlay.png`` (the image half-blended with the colours); when ground truth exists (the
dataset's own scenes), ``metrics.json`` holds the task's scores over all predicted images at
their original size.

A TIFF (GeoTIFF or any raster GDAL reads) is read window by window and never whole
(:mod:`weakseg.io.georaster`), 8- or 16-bit, any band count (``predict.bands``, ``predict.scale``),
and written as Cloud-Optimized GeoTIFFs with overviews and the input's CRS and transform:
``<name>.tif``, class indices with nodata :data:`~weakseg.io.labels.IGNORE_INDEX` where the
input is nodata and the dataset palette as its colour table; optionally
``<name>_probabilities.tif``, one uint8 band per class (softmax x 255, rounded; 0 in every band
where the input is nodata); optionally ``<name>.geojson``, the class regions as polygons.
Memory is bounded by the window batch and the strip (:mod:`weakseg.learn.sliding_window`),
not the scene.
"""

from __future__ import annotations

__all__ = ["PredictImage", "RasterOptions", "Windows", "folder_images", "predict_images", "scenes_of_set"]

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from weakseg.design.scoring import Windows
from weakseg.formats.model_record import ModelSpec
from weakseg.formats.predictions import PredictImage, check_output_names, folder_images
from weakseg.formats.splits import whole_scenes
from weakseg.io.errors import WeaksegError
from weakseg.io.georaster import CogWriter, RasterReader, gdal_env, write_polygons
from weakseg.io.imageio import display_rgb, open_image, write_png
from weakseg.io.labels import IGNORE_INDEX, colorize
from weakseg.io.outputs import staged_outputs, write_json
from weakseg.learn.inference import check_model_fits, load_model, resolve_device
from weakseg.learn.metrics import confusion_matrix, segmentation_metrics
from weakseg.learn.sliding_window import blended_blocks, model_batches, predict_classes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RasterOptions:
    """How TIFF inputs are read and what is written for them (see the module docstring).

    Attributes:
        bands: 1-based band indices read, in the model's band order (None: every band).
        scale: (low, high) input values mapped to 0 and 255 for non-8-bit input (None: 8-bit as is).
        probabilities: write ``<name>_probabilities.tif``.
        vectors: ``geojson`` to write ``<name>.geojson`` (None: no polygons).
        max_megapixels: the largest raster predicted (height x width / 10^6), checked before
            any pixel is read (``predict.max_megapixels``).
    """

    bands: tuple[int, ...] | None = None
    scale: tuple[float, float] | None = None
    probabilities: bool = False
    vectors: str | None = None
    max_megapixels: float = 10_000


def predict_images(
    model_path: str | Path,
    images: list[PredictImage],
    out_dir: str | Path,
    windows: Windows,
    palette: np.ndarray,
    device_name: str = "auto",
    raster: RasterOptions | None = None,
) -> dict | None:
    """Predict every image and write the outputs listed in the module docstring to ``out_dir`` (all or nothing).

    Returns:
        The content of ``metrics.json`` (:func:`weakseg.learn.metrics.segmentation_metrics` plus
        ``n_images`` and ``images``), or None when no image has a label.

    Raises:
        WeaksegError: two images whose outputs would share a file name
            (:func:`~weakseg.formats.predictions.check_output_names`, before anything is written),
            an unreadable model or image, a model of another class count than ``palette``, an
            image whose band count differs from the model's, or a label whose size differs from
            its image; for TIFF input also those of
            :class:`~weakseg.io.georaster.RasterReader` (unknown CRS, damaged block, ...).
    """
    raster = raster or RasterOptions()
    check_output_names(images, raster.probabilities, raster.vectors)
    device = resolve_device(device_name)
    model, record = load_model(model_path, device)
    check_model_fits(record, model_path, n_classes=len(palette))
    spec = ModelSpec.from_record(record)
    class_names = list(spec.class_names)
    predict_batch = model_batches(model, device)
    confusion, labelled = np.zeros((len(class_names), len(class_names)), dtype=np.int64), []
    with staged_outputs(out_dir) as (staged,):
        staged.mkdir()
        for item in images:
            if item.is_raster:
                predict_raster(predict_batch, item, windows, raster, palette, staged, model.mean_pixel, spec)
                continue
            predicted = _predict_one(
                predict_batch, item, windows, palette, staged, model.mean_pixel, spec.frames, spec.in_channels
            )
            if item.label is not None:
                truth = np.load(item.label, mmap_mode="r")
                if truth.shape != predicted.shape:
                    raise WeaksegError(f"{item.label}: label {truth.shape} and image {predicted.shape} differ in size")
                confusion += confusion_matrix(predicted, np.asarray(truth), len(class_names))
                labelled.append(item.name)
        metrics = None
        if labelled:
            metrics = {**segmentation_metrics(confusion, class_names), "n_images": len(labelled), "images": labelled}
            metrics.update(class_names=class_names, checkpoint=str(model_path), device=str(device))
            write_json(staged / "metrics.json", metrics)
    return metrics


def _predict_one(
    predict_batch,
    item: PredictImage,
    windows: Windows,
    palette: np.ndarray,
    out: Path,
    fill: np.ndarray,
    frames: int,
    bands: int,
) -> np.ndarray:
    """Predict one image and write its mask, colours and overlay; returns the (H, W) uint8 class map.

    Raises:
        WeaksegError: the image's band count differs from the model's (naming both and the fix).
    """
    # The user's own images: Pillow's decompression-bomb limit (89 Mpx) would refuse the large
    # scenes this stage exists for, and memory stays bounded by the sliding window.
    image = open_image(item.image, max_pixels=None)
    if image.shape[2] != bands:
        kind = {1: "grayscale", 2: "grayscale with alpha", 4: "RGBA or 4-band"}.get(image.shape[2], "")
        raise WeaksegError(
            f"{item.image}: {image.shape[2]} band(s) ({kind or 'as stored'}), but the model reads {bands}; "
            f"convert the image to {bands} bands (e.g. RGB without alpha) in the band order it was trained on"
        )
    predicted = predict_classes(
        predict_batch, image, windows.window, windows.overlap, windows.batch_size, windows.shorter_side, fill=fill
    )
    write_png(out / f"{item.name}.png", predicted)
    colours = colorize(predicted, palette)
    write_png(out / f"{item.name}_color.png", colours)
    write_png(out / f"{item.name}_overlay.png", overlay(np.asarray(image), colours, frames=frames))
    log.info("%s: %d x %d px predicted", item.name, *predicted.shape)
    return predicted


def predict_raster(
    predict_batch,
    item: PredictImage,
    windows: Windows,
    raster: RasterOptions,
    palette: np.ndarray,
    out: Path,
    fill: np.ndarray,
    spec: ModelSpec,
) -> None:
    """Predict the raster ``item.image`` window by window into the COGs (and polygons) of the module docstring.

    Args:
        predict_batch: see :func:`weakseg.learn.sliding_window.blended_blocks`.
        palette: (K, 3) uint8 class colours (the class raster's colour table).
        out: the folder written to.
        fill: (C,) the model's mean pixel (0-255), put where the input is nodata or past its border.
        spec: the model's classes and input bands.

    Raises:
        WeaksegError: ``shorter_side`` is set (a raster is predicted at its own resolution), the
            raster is larger than ``raster.max_megapixels``, or see
            :class:`~weakseg.io.georaster.RasterReader`.
    """
    if windows.shorter_side is not None:
        raise WeaksegError(
            f"{item.image}: rasters are predicted at their own resolution, window by window, but "
            f"tiling.shorter_side is {windows.shorter_side}; set it to null, or resample the raster first"
        )
    class_names = list(spec.class_names)
    with gdal_env(), RasterReader(item.image, raster.bands, raster.scale, fill, spec.in_channels) as reader:
        _check_size(item, reader.info, raster.max_megapixels)
        log.info(
            "%s: %d x %d px (%.0f Mpx): predicting window by window",
            item.name,
            *reader.shape[:2],
            reader.info.megapixels,
        )
        writers = _raster_writers(out, item, reader.info, palette, class_names, raster.probabilities)
        try:
            window, overlap, batch_size = windows.window, windows.overlap, windows.batch_size
            blocks = blended_blocks(predict_batch, reader, window, overlap, batch_size, fill=fill)
            progress = tqdm(total=reader.shape[0] * reader.shape[1], unit="px", unit_scale=True, mininterval=10)
            for rows, cols, logits in blocks:
                progress.update((rows.stop - rows.start) * (cols.stop - cols.start))
                valid = reader.valid(rows, cols)
                classes = logits.argmax(0).astype(np.uint8)
                classes[~valid] = IGNORE_INDEX
                writers[0].write(rows, cols, classes)
                if raster.probabilities:
                    probabilities = torch.softmax(torch.from_numpy(logits), dim=0).numpy()
                    shares = np.round(probabilities * 255).astype(np.uint8)
                    shares[:, ~valid] = 0
                    writers[1].write(rows, cols, shares)
            progress.close()
            for writer in writers:
                writer.finish()
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        if raster.vectors:
            write_polygons(out / f"{item.name}.tif", out / f"{item.name}.geojson", class_names, IGNORE_INDEX)
    log.info("%s: %d x %d px predicted (raster, window by window)", item.name, reader.shape[0], reader.shape[1])


def _raster_writers(out: Path, item: PredictImage, info, palette, class_names: list[str], probabilities: bool):
    """The COG writers of a raster: its classes (palette as colour table), and its probabilities if asked."""
    colours = {k: tuple(int(c) for c in palette[k]) for k in range(len(class_names))}
    writers = [CogWriter(out / f"{item.name}.tif", info, 1, nodata=IGNORE_INDEX, colormap=colours)]
    if probabilities:
        path = out / f"{item.name}_probabilities.tif"
        writers.append(CogWriter(path, info, len(class_names), resampling="average", band_names=class_names))
    return writers


def _check_size(item: PredictImage, info, max_megapixels: float) -> None:
    """Refuse a raster larger than ``max_megapixels`` before any pixel is read.

    Raises:
        WeaksegError: naming the file, its size and ``predict.max_megapixels``.
    """
    if info.megapixels > max_megapixels:
        raise WeaksegError(
            f"{item.image}: {info.height} x {info.width} px ({info.megapixels:,.0f} Mpx) is more than "
            f"predict.max_megapixels ({max_megapixels:,.0f}); check the file (a sparse or damaged TIFF can claim "
            "any size, e.g. with gdalinfo), or raise predict.max_megapixels for a scene truly that large"
        )


def overlay(image: np.ndarray, colours: np.ndarray, alpha: float = 0.5, frames: int = 1) -> np.ndarray:
    """(H, W, 3) uint8: the image (a sequence's last frame, see :func:`display_rgb`) blended with ``colours``."""
    rgb = display_rgb(image, frames)
    return np.round((1 - alpha) * rgb + alpha * colours).astype(np.uint8)


def scenes_of_set(tiles, sets: dict[str, list[str]], set_name: str, files: dict[str, tuple[str, str]]) -> list:
    """The prepared scenes of ``set_name`` as :class:`PredictImage` with their labels.

    Raises:
        WeaksegError: see :func:`weakseg.formats.splits.whole_scenes`, or a scene without prepared files.
    """
    names = whole_scenes(
        tiles, sets, set_name, f"predict.input: {set_name} (whole scenes; or give predict.input a folder of images)"
    )
    missing = [s for s in names if s not in files]
    if missing:
        raise WeaksegError(f"scene {missing[0]}: no prepared image and label were given")
    return [PredictImage(s, *files[s]) for s in names]
