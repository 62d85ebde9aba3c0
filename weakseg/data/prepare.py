"""The prepare stage: one scene's image and class-index label as NumPy arrays."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from weakseg.datasets import DatasetAdapter
from weakseg.io.errors import WeaksegError
from weakseg.io.imageio import read_image, tiff_map
from weakseg.io.labels import IGNORE_INDEX
from weakseg.io.npy import NpyWriter
from weakseg.io.outputs import staged_outputs
from weakseg.io.scaling import resize_image, resize_label

log = logging.getLogger(__name__)


def prepare_scene(
    image_path: str | Path,
    label_path: str | Path,
    adapter: DatasetAdapter,
    snap_max_distance: float | None = None,
    frames: tuple[str | Path, ...] = (),
    size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a scene (the frames of a sequence sample, stacked) and decode its label.

    Args:
        frames: the frames before ``image`` of a sequence sample, oldest first.
        size: (height, width) in pixels to resize to (``dataset.resize``; images bilinear,
            labels nearest neighbour), or None for the files' own size.

    Returns:
        ``(image, label)``: (H, W, T * C) uint8 image, the T = len(frames) + 1 frames of C bands
        oldest first along the last axis, and (H, W) uint8 class indices, 255 = ignore.

    Raises:
        WeaksegError: unreadable file, unknown label colour (see
            :func:`weakseg.io.labels.colors_to_index`), or image, frame and label of different size
            (the message names the files and shapes).
    """
    image = read_image(image_path)
    earlier = [read_image(path) for path in frames]
    for path, frame in zip(frames, earlier, strict=True):
        if frame.shape != image.shape:
            raise WeaksegError(
                f"frame {path} has shape {frame.shape} but the annotated frame {image_path} {image.shape}"
            )
    image = np.concatenate([*earlier, image], axis=2) if earlier else image
    raw_label = adapter.read_label(label_path)
    _check_label_size(image_path, image.shape, label_path, raw_label.shape)
    label, _ = adapter.label_to_index(raw_label, str(label_path), snap_max_distance)
    if size is not None:
        image, label = resize_image(image, tuple(size)), resize_label(label, tuple(size))
    return image, label


def _check_label_size(image_path, image_shape: tuple, label_path, label_shape: tuple) -> None:
    """Raise naming both files unless the image and its label have the same height and width."""
    if tuple(image_shape[:2]) != tuple(label_shape[:2]):
        raise WeaksegError(
            f"image {image_path} is {image_shape[0]}x{image_shape[1]} px but label {label_path} is "
            f"{label_shape[0]}x{label_shape[1]} px (shapes {tuple(image_shape)} and {tuple(label_shape)})"
        )


def _check_scoring_label_size(label_path, label_shape: tuple, image_shape: tuple) -> None:
    """Raise naming the file unless a scoring label has its scene image's height and width."""
    if tuple(label_shape[:2]) != tuple(image_shape[:2]):
        raise WeaksegError(
            f"scoring label {label_path} is {label_shape[0]}x{label_shape[1]} px but its scene's image is "
            f"{image_shape[0]}x{image_shape[1]} px; dataset.scoring_labels must be the same scenes at the same size"
        )


def prepare_scoring_label(
    label_path: str | Path,
    image_shape: tuple[int, ...],
    adapter: DatasetAdapter,
    snap_max_distance: float | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode a scene's label of the scoring label set (e.g. ISPRS's eroded ground truth).

    Args:
        image_shape: the scene's raw image shape (H, W, ...) in pixels, which the label must match.
        size: (height, width) to resize to (nearest neighbour), as :func:`prepare_scene` does.

    Returns:
        (H, W) uint8 class indices, 255 = ignore (the eroded labels' black class borders).

    Raises:
        WeaksegError: unreadable file, unknown colour, or a size other than the image's.
    """
    raw_label = adapter.read_label(label_path)
    _check_scoring_label_size(label_path, raw_label.shape, image_shape)
    label, _ = adapter.label_to_index(raw_label, str(label_path), snap_max_distance)
    return resize_label(label, tuple(size)) if size is not None else label


def scene_files(images: list[str], labels: list[str]) -> dict[str, tuple[str, str]]:
    """Scene id -> (image, label) of ``prepared/<scene>/{image,label}.npy`` paths given in the same order.

    Raises:
        WeaksegError: the lists differ in length, or an image and its label are in different scene folders.
    """
    if len(images) != len(labels):
        raise WeaksegError(f"{len(images)} prepared images but {len(labels)} labels; give one label per image")
    files = {}
    for image, label in zip(images, labels, strict=True):
        if Path(image).parent.name != Path(label).parent.name:
            raise WeaksegError(f"{image} and {label} are not of the same scene")
        files[Path(image).parent.name] = (image, label)
    return files


#: Rows decoded at a time when a scene is prepared band by band.
BAND_ROWS = 512


def _decodable_by_bands(adapter: DatasetAdapter, size: tuple[int, int] | None) -> bool:
    """Whether labels may be decoded band by band: colour-coded, read by the base adapter, not resized."""
    return size is None and type(adapter).read_label is DatasetAdapter.read_label


def prepare_to_files(
    image_path: str | Path,
    label_path: str | Path,
    adapter: DatasetAdapter,
    image_out: str | Path,
    label_out: str | Path,
    snap_max_distance: float | None = None,
    frames: tuple[str | Path, ...] = (),
    size: tuple[int, int] | None = None,
) -> None:
    """Prepare a scene (see :func:`prepare_scene`) into ``image_out`` and ``label_out`` (.npy, both or neither).

    Uncompressed TIFF scenes with colour-coded labels (the ISPRS archives), neither resized nor
    sequences, are decoded :data:`BAND_ROWS` rows at a time through memory maps opened per
    band, so memory is one band whatever the scene's size (a 6000 x 6000 px Potsdam tile as a
    2000 x 2500 px Vaihingen area); other scenes are read whole.

    Raises:
        WeaksegError: see :func:`prepare_scene`.
    """
    streamed = not frames and _decodable_by_bands(adapter, size)
    image_map = tiff_map(image_path) if streamed else None
    label_map = tiff_map(label_path) if image_map is not None else None
    if label_map is None:
        image, label = prepare_scene(image_path, label_path, adapter, snap_max_distance, frames, size)
        write_prepared(image_out, label_out, image, label)
        return
    _check_label_size(image_path, image_map.shape, label_path, label_map.shape)
    height, width, bands = image_map.shape
    del image_map, label_map
    with (
        staged_outputs(image_out, label_out) as (image_tmp, label_tmp),
        NpyWriter(image_tmp, (height, width, bands), np.uint8) as images,
        NpyWriter(label_tmp, (height, width), np.uint8) as labels,
    ):
        for y in range(0, height, BAND_ROWS):
            # maps opened for one band and closed with it: the scene's pages do not pile up
            images.write(np.array(tiff_map(image_path)[y : y + BAND_ROWS]))
            labels.write(_label_band(label_path, y, adapter, snap_max_distance))


def _label_band(label_path, y: int, adapter: DatasetAdapter, snap_max_distance: float | None) -> np.ndarray:
    """(h, W) uint8 class indices of rows ``y`` to ``y + BAND_ROWS`` of a colour-coded TIFF label."""
    raw = np.array(tiff_map(label_path)[y : y + BAND_ROWS])
    return adapter.label_to_index(raw, str(label_path), snap_max_distance)[0]


def prepare_scoring_to_file(
    label_path: str | Path,
    image_shape: tuple[int, ...],
    adapter: DatasetAdapter,
    label_out: str | Path,
    snap_max_distance: float | None = None,
    size: tuple[int, int] | None = None,
) -> None:
    """:func:`prepare_scoring_label` into ``label_out`` (.npy, all or nothing), band by band where it can.

    An uncompressed TIFF label at its own size is decoded :data:`BAND_ROWS` rows at a time, as
    :func:`prepare_to_files` does; other labels are decoded whole.

    Raises:
        WeaksegError: see :func:`prepare_scoring_label`, or the label has no labelled pixel.
    """
    streamed = _decodable_by_bands(adapter, size)
    label_map = tiff_map(label_path) if streamed else None
    if label_map is None:
        label = prepare_scoring_label(label_path, image_shape, adapter, snap_max_distance, size)
        _check_something_to_score(label_path, int(np.count_nonzero(label != IGNORE_INDEX)))
        with staged_outputs(label_out) as (staged,), open(staged, "wb") as handle:
            np.save(handle, label)
        return
    _check_scoring_label_size(label_path, label_map.shape, image_shape)
    height, width = label_map.shape[:2]
    del label_map
    labelled = 0
    with staged_outputs(label_out) as (staged,), NpyWriter(staged, (height, width), np.uint8) as labels:
        for y in range(0, height, BAND_ROWS):
            band = _label_band(label_path, y, adapter, snap_max_distance)
            labelled += int(np.count_nonzero(band != IGNORE_INDEX))
            labels.write(band)
        _check_something_to_score(label_path, labelled)


def _check_something_to_score(label_path, labelled: int) -> None:
    """Refuse a scoring label without a labelled pixel: its scene would be scored on nothing (mIoU None)."""
    if labelled == 0:
        raise WeaksegError(
            f"{label_path}: this scoring label has no labelled pixel (all of it is the ignore colour), so its scene "
            "has nothing to score; check the archive (dataset.scoring_labels) or leave the scene out (dataset.scenes)"
        )


def write_prepared(image_out: str | Path, label_out: str | Path, image: np.ndarray, label: np.ndarray) -> None:
    """Save ``image`` and ``label`` as ``.npy`` files, both or neither."""
    with staged_outputs(image_out, label_out) as (image_tmp, label_tmp):
        for path, array in ((image_tmp, image), (label_tmp, label)):
            with open(path, "wb") as handle:
                np.save(handle, array)
