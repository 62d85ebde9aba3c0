"""Read and write scene images: tifffile for TIFF, Pillow for everything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from weakseg.io.errors import WeaksegError

#: Pillow's own decompression-bomb limit (pixels), the default of :func:`read_image`.
PILLOW_MAX_PIXELS = Image.MAX_IMAGE_PIXELS


def read_image(path: str | Path, max_pixels: int | None = PILLOW_MAX_PIXELS) -> np.ndarray:
    """Read an image as (H, W, C) uint8, bands in file order.

    Band-first TIFFs (C, H, W with C <= 4) are transposed; a single-band image gets C = 1.

    Args:
        max_pixels: the largest PNG/JPEG (pixels) Pillow may decode; it refuses twice this as a
            decompression bomb. None lifts the limit, for trusted input of any size (predict).

    Raises:
        WeaksegError: the file is missing, unreadable, too large for ``max_pixels``, or not 8-bit.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            array = tifffile.imread(path)
        else:
            array = _read_pillow(path, max_pixels)
    except Image.DecompressionBombError as error:
        raise WeaksegError(
            f"{path}: {error}. Pillow refuses images this large unless asked; the predict rule reads them "
            "(trusted input of any size): use it, or cut the image into smaller files"
        ) from None
    except (OSError, ValueError, tifffile.TiffFileError) as error:
        raise WeaksegError(f"{path}: cannot read image ({error})") from error
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.dtype != np.uint8:
        raise WeaksegError(f"{path}: expected 8-bit pixels, got {array.dtype}")
    if array.ndim == 2:
        array = array[..., None]
    elif array.ndim == 3 and array.shape[0] <= 4 and array.shape[2] > 4:
        array = np.moveaxis(array, 0, -1)
    if array.ndim != 3:
        raise WeaksegError(f"{path}: expected a 2-D image, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _read_pillow(path: Path, max_pixels: int | None) -> np.ndarray:
    """Decode a PNG/JPEG with Pillow under the decompression-bomb limit ``max_pixels`` (pixels, None: none)."""
    # Pillow reads the limit from a module global; the scripts are single-threaded.
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
    try:
        with Image.open(path) as image:
            return np.asarray(image)
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def open_image(path: str | Path, max_pixels: int | None = PILLOW_MAX_PIXELS) -> np.ndarray:
    """(H, W, C) uint8 image, as a memory map where the file allows (``.npy``, uncompressed TIFF).

    Large scenes are then read window by window; other files are read whole (:func:`read_image`,
    with ``max_pixels``).
    """
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, mmap_mode="r")
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            array = tifffile.memmap(path, mode="r")
        except (ValueError, OSError, tifffile.TiffFileError):
            return read_image(path, max_pixels)
        if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] <= 4:
            return array
    return read_image(path, max_pixels)


def image_shape(path: str | Path) -> tuple[int, int]:
    """(height, width) in pixels of an image file, read from its header (the pixels are not decoded).

    Raises:
        WeaksegError: the file is missing or not an image.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                return int(page.imagelength), int(page.imagewidth)
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, ValueError, tifffile.TiffFileError) as error:
        raise WeaksegError(f"{path}: cannot read the image header ({error})") from error


def write_tiff(path: str | Path, array: np.ndarray) -> None:
    """Write an (H, W) or (H, W, C) uint8 array as an uncompressed contiguous TIFF."""
    photometric = "rgb" if array.ndim == 3 else "minisblack"
    tifffile.imwrite(path, np.ascontiguousarray(array), photometric=photometric)


def write_png(path: str | Path, array: np.ndarray) -> None:
    """Write an (H, W) or (H, W, 3) uint8 array as PNG."""
    Image.fromarray(np.ascontiguousarray(array)).save(path, format="PNG")


def framed_row(panels: list[np.ndarray], border: int = 2) -> np.ndarray:
    """(H + 2 border, sum of (W_i + 2 border), 3) uint8: (H, W_i, 3) panels side by side, each in a white frame."""
    frame = ((border, border), (border, border), (0, 0))
    return np.concatenate([np.pad(p, frame, constant_values=255) for p in panels], axis=1)


def display_rgb(image: np.ndarray, frames: int = 1) -> np.ndarray:
    """(H, W, 3) uint8 to show for an (H, W, T * C) uint8 sample of ``frames`` frames.

    The last (annotated) frame's first three bands, or its first band as grey if it has fewer.
    """
    last = image[..., image.shape[2] - image.shape[2] // frames :]
    return last[..., :3] if last.shape[2] >= 3 else np.repeat(last[..., :1], 3, axis=2)


def tiff_map(path: str | Path) -> np.ndarray | None:
    """An uncompressed, contiguous (H, W, C) uint8 TIFF (C <= 4) as a read-only memory map, or None if it is not one.

    Lets a caller read a large scene or label a band of rows at a time instead of decoding it whole.
    """
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        return None
    try:
        array = tifffile.memmap(path, mode="r")
    except (ValueError, OSError, tifffile.TiffFileError):
        return None
    return array if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] <= 4 else None
