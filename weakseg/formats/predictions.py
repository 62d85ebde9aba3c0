"""The files of the predict stage: which images it reads, and the names of what it writes per image.

Per PNG/JPEG image ``<name>``: ``<name>.png``, ``<name>_color.png``, ``<name>_overlay.png``; per
TIFF: ``<name>.tif``, with ``predict.probabilities`` ``<name>_probabilities.tif``, with
``predict.vectors`` ``<name>.geojson`` (see :mod:`weakseg.learn.predict`). One folder holds the
outputs of every image, so the names are checked for collisions before anything is written:
``a.tif`` beside ``a_probabilities.tif``, or ``x.png`` beside ``x_color.png``, would otherwise
overwrite one image's output with another's. Light (no torch): the workflow lists a folder's
images with it to make each image file an input of the predict job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from weakseg.io.errors import WeaksegError

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
#: Read with rasterio, window by window, and written as Cloud-Optimized GeoTIFFs.
RASTER_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class PredictImage:
    """One image to predict: its output name, file (image file or prepared ``.npy``) and optional label ``.npy``."""

    name: str
    image: str
    label: str | None = None

    @property
    def is_raster(self) -> bool:
        """Whether the image is a TIFF, read window by window and written as COGs."""
        return Path(self.image).suffix.lower() in RASTER_SUFFIXES


def output_names(item: PredictImage, probabilities: bool = False, vectors: str | None = None) -> list[str]:
    """The file names the predict stage writes for ``item`` (see the module docstring)."""
    if not item.is_raster:
        return [f"{item.name}.png", f"{item.name}_color.png", f"{item.name}_overlay.png"]
    names = [f"{item.name}.tif"]
    if probabilities:
        names.append(f"{item.name}_probabilities.tif")
    if vectors:
        names.append(f"{item.name}.{vectors}")
    return names


def check_output_names(images: list[PredictImage], probabilities: bool = False, vectors: str | None = None) -> None:
    """Refuse images two of whose outputs would have the same file name (before anything is written).

    Raises:
        WeaksegError: naming both input files, the shared output name and the fix.
    """
    owner: dict[str, PredictImage] = {}
    for item in images:
        for name in output_names(item, probabilities, vectors):
            other = owner.setdefault(name, item)
            if other is not item:
                raise WeaksegError(
                    f"predict.input: {item.image} and {other.image} would both write {name} (one would overwrite "
                    "the other); rename one of them (e.g. without the _color, _overlay or _probabilities ending)"
                )


def folder_images(folder: str | Path) -> list[PredictImage]:
    """The TIFF/PNG/JPEG images of ``folder`` (not recursive), by name.

    Raises:
        WeaksegError: the folder is missing or holds no such image (naming it), or two images
            share a name (``scene.png`` and ``scene.jpg``: their outputs would overwrite each other).
    """
    folder = Path(folder)
    if not str(folder).strip() or not folder.is_dir():
        raise WeaksegError(
            f"predict.input: {str(folder)!r} is not a folder; give a folder of images, or val or test (the scenes "
            "of that set)"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise WeaksegError(f"predict.input: {folder} holds no image ({', '.join(IMAGE_SUFFIXES)})")
    return images_of_files(files)


def images_of_files(files: list[str | Path]) -> list[PredictImage]:
    """:class:`PredictImage` of each image file, named by its stem.

    Raises:
        WeaksegError: two files share a stem (``scene.png`` and ``scene.jpg``), naming both.
    """
    by_name: dict[str, list[str]] = {}
    for path in map(Path, files):
        by_name.setdefault(path.stem, []).append(path.name)
    clashes = {name: found for name, found in by_name.items() if len(found) > 1}
    if clashes:
        name, found = next(iter(clashes.items()))
        raise WeaksegError(
            f"predict.input: {Path(files[0]).parent} holds {' and '.join(found)}, whose outputs would both be named "
            f"{name}.png ({len(clashes)} such name(s)); rename or move one of each"
        )
    return [PredictImage(Path(p).stem, str(p)) for p in files]
