"""The augment stage: the strong and weak albumentations pipelines, a preview, optional offline copies.

* strong: spatial transforms on image and mask together (dihedral flips/rotations, then an
  affine shift/scale/rotate with nearest-neighbour masks), colour transforms on the image only
  (brightness, contrast, gamma on every band; saturation and hue on RGB tiles only).
* weak: only transforms that keep every label proportion exactly (the 8 dihedral symmetries
  of a square tile, and colour), because a weak tile's label *is* its label proportions.
* sequences (T frames stacked along the bands, oldest first): the frames before the last are
  albumentations ``additional_targets`` of type image, so one draw (the same flip, affine and
  colour change) applies to every frame and the mask (:func:`augment`).

Pipelines are stored with albumentations' own serialisation (``A.save`` / ``A.load``, YAML).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network check at import

import albumentations as A
import cv2
import numpy as np

from weakseg.formats.bundles import OfflineCopies
from weakseg.io.imageio import display_rgb, framed_row
from weakseg.io.labels import IGNORE_INDEX, colorize
from weakseg.io.npy import NpyWriter
from weakseg.io.outputs import staged_outputs

#: Band counts for which saturation and hue are defined (grey and RGB colour).
COLOUR_BANDS = (1, 3)
#: Name prefix of the albumentations targets holding the earlier frames of a sequence.
FRAME_TARGET = "frame_"


def _color_transforms(settings: dict, bands: int) -> list:
    """Brightness, contrast and gamma on every band alike; saturation and hue only for 1 or 3 bands.

    Brightness, contrast and gamma act on each pixel value, so they are defined for any number
    of bands (4-band RGBIR included: the infrared band gets the same draw as R, G and B).
    Saturation and hue are defined on RGB colour only, so tiles of other band counts (RGBIR)
    do without them.
    """
    gamma = [round(100 * g) for g in settings["gamma"]]
    transforms = [
        A.RandomBrightnessContrast(
            brightness_limit=settings["brightness"], contrast_limit=settings["contrast"], p=settings["p_color"]
        ),
        A.RandomGamma(gamma_limit=tuple(gamma), p=settings["p_color"]),
    ]
    if bands in COLOUR_BANDS:
        transforms.append(
            A.ColorJitter(
                brightness=0,
                contrast=0,
                saturation=tuple(settings["saturation"]),
                hue=settings["hue"],
                p=settings["p_color"],
            )
        )
    return transforms


def frame_targets(frames: int) -> dict[str, str]:
    """The albumentations ``additional_targets`` of the ``frames - 1`` frames before the last."""
    return {f"{FRAME_TARGET}{k}": "image" for k in range(frames - 1)}


def pipeline_frames(pipeline: A.Compose) -> int:
    """T, the frames per sample ``pipeline`` was built for (see :func:`frame_targets`)."""
    return 1 + sum(name.startswith(FRAME_TARGET) for name in pipeline.additional_targets)


def augment(pipeline: A.Compose, image: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """One draw of ``pipeline`` on a (H, W, T * C) uint8 tile (T frames, oldest first) and its (H, W) mask.

    Returns ``{"image": (H', W', T * C) uint8, "mask": (H', W') uint8}`` (no mask if none was
    given); every frame got the same transform as the mask.
    """
    frames = pipeline_frames(pipeline)
    parts = np.split(np.asarray(image), frames, axis=2)
    targets = {"image": parts[-1], **{f"{FRAME_TARGET}{k}": parts[k] for k in range(frames - 1)}}
    if mask is not None:
        targets["mask"] = mask
    out = pipeline(**targets)
    earlier = [out[f"{FRAME_TARGET}{k}"] for k in range(frames - 1)]
    result = {"image": np.concatenate([*earlier, out["image"]], axis=2) if earlier else out["image"]}
    if mask is not None:
        result["mask"] = out["mask"]
    return result


def strong_pipeline(settings: dict, bands: int = 3, frames: int = 1) -> A.Compose:
    """Augmentation for pixel-labelled tiles of ``frames`` frames of ``bands`` bands.

    Settings (the ``augment`` config section): ``p_spatial``, ``rotate_limit`` (degrees),
    ``scale`` ([min, max] zoom factors), ``shift`` (fraction of the tile side), and the colour
    settings of :func:`weak_pipeline`. Borders are reflected, so no fill value enters the mask.
    """
    return A.Compose(
        [
            A.D4(p=1.0),
            A.Affine(
                scale=tuple(settings["scale"]),
                translate_percent=(-settings["shift"], settings["shift"]),
                rotate=(-settings["rotate_limit"], settings["rotate_limit"]),
                border_mode=cv2.BORDER_REFLECT_101,
                p=settings["p_spatial"],
            ),
            *_color_transforms(settings, bands),
        ],
        additional_targets=frame_targets(frames),
    )


def weak_pipeline(settings: dict, bands: int = 3, frames: int = 1) -> A.Compose:
    """Augmentation for weakly labelled tiles of ``frames`` frames of ``bands`` bands: label proportions are unchanged.

    Settings: ``p_color``, ``brightness`` and ``contrast`` (limits, fractions of the range),
    ``gamma`` ([min, max], 1 = identity), ``saturation`` ([min, max] factors), ``hue``
    (max shift, fraction of the hue circle); saturation and hue apply to 1- and 3-band tiles
    only (see :func:`_color_transforms`).
    """
    return A.Compose([A.D4(p=1.0), *_color_transforms(settings, bands)], additional_targets=frame_targets(frames))


#: The strong view's photometric changes (UniMatch, Yang et al. CVPR 2023, after FixMatch): colour jitter
#: (brightness, contrast, saturation, hue) with probability 0.8, grey 0.2, Gaussian blur (sigma 0.1-2 px) 0.5.
STRONG_VIEW = {"jitter": (0.5, 0.5, 0.5, 0.25), "p_jitter": 0.8, "p_gray": 0.2, "sigma": (0.1, 2.0), "p_blur": 0.5}


def strong_view_pipeline(bands: int = 3, frames: int = 1) -> A.Compose:
    """The strongly augmented view of a weak view (consistency training): photometric only, image only.

    Geometry is left alone, so a pixel of the strong view is the same pixel of the weak view
    its pseudo-label comes from; CutMix is applied per batch in training
    (:mod:`weakseg.methods.consistency`). Settings: :data:`STRONG_VIEW`. Hue, saturation and grey
    apply to 3-band tiles only; other band counts get brightness and contrast on every band.
    """
    brightness, contrast, saturation, hue = STRONG_VIEW["jitter"]
    if bands == 3:
        colour = [
            A.ColorJitter(brightness, contrast, saturation, hue, p=STRONG_VIEW["p_jitter"]),
            A.ToGray(p=STRONG_VIEW["p_gray"]),
        ]
    else:
        colour = [A.RandomBrightnessContrast(brightness, contrast, p=STRONG_VIEW["p_jitter"])]
    blur = A.GaussianBlur(blur_limit=0, sigma_limit=STRONG_VIEW["sigma"], p=STRONG_VIEW["p_blur"])
    return A.Compose([*colour, blur], additional_targets=frame_targets(frames))


def save_pipeline(pipeline: A.Compose, path: str | Path) -> None:
    """Serialise with albumentations (YAML)."""
    A.save(pipeline, str(path), data_format="yaml")


def load_pipeline(path: str | Path) -> A.Compose:
    """Load a pipeline written by :func:`save_pipeline`."""
    return A.load(str(path), data_format="yaml")


def overlay(
    image: np.ndarray, mask: np.ndarray, palette: np.ndarray, alpha: float = 0.45, frames: int = 1
) -> np.ndarray:
    """Blend the coloured mask over an (H, W, T * C) uint8 sample as shown (:func:`display_rgb`); ignore left as is."""
    rgb = display_rgb(image, frames).astype(np.float32)
    colored = colorize(mask, palette).astype(np.float32)
    labeled = (mask != IGNORE_INDEX)[..., None]
    return np.where(labeled, (1 - alpha) * rgb + alpha * colored, rgb).astype(np.uint8)


def preview(
    images: np.ndarray, masks: np.ndarray, strong: A.Compose, weak: A.Compose, palette: np.ndarray, seed: int
) -> np.ndarray:
    """A grid, one row per tile: image | mask overlay | strong draw (overlay) | weak draw (overlay).

    Args:
        images: (N, S, S, C) uint8 (a sequence's last frame is shown); masks: (N, S, S) uint8.

    Returns:
        (N * (S + 4), 4 * (S + 4), 3) uint8 RGB.
    """
    strong.set_random_seed(seed)
    weak.set_random_seed(seed)
    frames = pipeline_frames(strong)
    rows = []
    for image, mask in zip(images, masks, strict=False):
        panels = [display_rgb(image, frames), overlay(image, mask, palette, frames=frames)]
        for pipeline in (strong, weak):
            out = augment(pipeline, image, mask)
            panels.append(overlay(out["image"], out["mask"], palette, frames=frames))
        rows.append(framed_row(panels))
    return np.concatenate(rows, axis=0)


def write_offline_copies(
    images: np.ndarray,
    masks: np.ndarray,
    rows_by_pipeline: dict[str, list[int]],
    pipelines: dict[str, A.Compose],
    tile_ids: list[str],
    copies: int,
    seed: int,
    out: OfflineCopies,
) -> int:
    """Write ``copies`` augmented copies of the tiles ``rows_by_pipeline[name]`` with ``pipelines[name]``.

    Writes ``out``: (M, T, T, C) uint8 ``images``, (M, T, T) uint8 ``masks`` and the ``copies`` CSV
    (row, tile_id, pipeline, copy); with
    ``copies = 0`` the arrays have zero rows. Copies of the ``weak`` pipeline are drawn without
    their masks (their mask rows are all 255): a weak tile's mask is never read here. Returns the
    number of copies written.
    """
    jobs = [(name, row, c) for name, rows in rows_by_pipeline.items() for row in rows for c in range(copies)]
    tile_shape = images.shape[1:]
    with staged_outputs(out.images, out.masks, out.copies) as staged:
        for pipeline in pipelines.values():
            pipeline.set_random_seed(seed)
        with (
            NpyWriter(staged[0], (len(jobs), *tile_shape), np.uint8) as out_images,
            NpyWriter(staged[1], (len(jobs), *tile_shape[:2]), np.uint8) as out_masks,
            open(staged[2], "w", newline="") as handle,
        ):
            writer = csv.writer(handle)
            writer.writerow(["row", "tile_id", "pipeline", "copy"])
            for i, (name, row, c) in enumerate(jobs):
                # Weak tiles' masks are never opened (only the weak_labels stage reads them): their copies get no mask.
                mask = np.asarray(masks[row]) if name == "strong" else None
                out = augment(pipelines[name], np.asarray(images[row]), mask)
                out_images.write(out["image"])
                out_masks.write(out["mask"] if mask is not None else np.full(tile_shape[:2], IGNORE_INDEX, np.uint8))
                writer.writerow([i, tile_ids[row], name, c])
    return len(jobs)
