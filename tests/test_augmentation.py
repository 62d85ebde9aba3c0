"""Augmentation: the weak pipeline keeps label proportions exactly; the strong one keeps image and mask aligned."""

import numpy as np
import pytest
import yaml
from conftest import REPO, offline_files

from weakseg.data.augmentation import load_pipeline, overlay, preview, save_pipeline, strong_pipeline, weak_pipeline
from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak.proportions import label_proportions as class_fractions

DRAWS = 200
N_CLASSES = 6
BLOCK = 16  # px per mask block (>= 12)


@pytest.fixture(scope="module")
def settings() -> dict:
    """The augment section of the shipped workflow_config.yaml."""
    with open(REPO / "workflow_config.yaml") as handle:
        return yaml.safe_load(handle)["augment"]


def blocky_mask(n_blocks: int = 4) -> np.ndarray:
    """``n_blocks`` x ``n_blocks`` blocks of BLOCK px; horizontal and vertical neighbours differ in class."""
    blocks = (np.arange(n_blocks)[:, None] * 4 + np.arange(n_blocks)[None]) % N_CLASSES
    return np.kron(blocks, np.ones((BLOCK, BLOCK), dtype=int)).astype(np.uint8)


#: One grey level per class, increasing with the class index. Grey is the colour that every colour
#: transform of the pipelines maps to grey: brightness/contrast and gamma are increasing functions
#: of intensity, saturation and hue leave grey alone, so the *order* of the class colours survives
#: (levels 70..165 stay clear of clipping at 0 and 255 for the configured limits).
LEVELS = np.linspace(70, 165, N_CLASSES).round().astype(np.uint8)


def render(mask: np.ndarray) -> np.ndarray:
    return np.repeat(LEVELS[mask][..., None], 3, axis=2)


def interior(mask: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels whose whole (2r+1)^2 neighbourhood has their class (mask eroded by ``radius``; tile border excluded)."""
    height, width = mask.shape
    padded = np.pad(mask.astype(np.int16), radius, constant_values=-1)
    inside = np.ones(mask.shape, dtype=bool)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            inside &= padded[radius + dy : radius + dy + height, radius + dx : radius + dx + width] == mask
    return inside


def alignment_problem(image: np.ndarray, mask: np.ndarray) -> str | None:
    """Why ``image`` is not a (colour-transformed) rendering of ``mask``; None if it is.

    Inside every eroded class region the colour must be uniform (max - min <= 2 per band), and
    the classes' mean colours must be in the order of the classes' own grey levels.
    """
    core = interior(mask)
    means = {}
    for k in np.unique(mask):
        pixels = image[core & (mask == k)].astype(int)
        if len(pixels) == 0:
            continue
        spread = pixels.max(axis=0) - pixels.min(axis=0)
        if spread.max() > 2:
            return f"class {k}: colours spread by {spread.tolist()} inside its region"
        means[int(k)] = pixels.mean()
    if len(means) < 2:
        return f"only {len(means)} class regions left after erosion"
    ordered = [means[k] for k in sorted(means)]
    if not all(a < b for a, b in zip(ordered, ordered[1:], strict=False)):
        return f"class mean colours out of order: {means}"
    return None


def test_alignment_check_accepts_the_rendering_and_rejects_a_shifted_mask():
    mask = blocky_mask()
    image = render(mask)
    assert alignment_problem(image, mask) is None
    for axis in (0, 1):
        for shift in (-3, 3):
            assert alignment_problem(image, np.roll(mask, shift, axis=axis)) is not None
    # a mask flipped while the image is not
    assert alignment_problem(image, mask[::-1]) is not None


def test_strong_pipeline_keeps_image_and_mask_aligned(settings):
    pipeline = strong_pipeline(settings)
    pipeline.set_random_seed(0)
    mask = blocky_mask()
    image = render(mask)
    n_resampled = n_recoloured = n_shift_detected = 0
    dihedral = {np.rot90(m, k).tobytes() for m in (mask, mask.T) for k in range(4)}
    for draw in range(DRAWS):
        out = pipeline(image=image, mask=mask)
        out_image, out_mask = out["image"], out["mask"]
        assert out_image.shape == image.shape and out_mask.shape == mask.shape
        assert out_mask.dtype == np.uint8
        assert set(np.unique(out_mask)) <= set(range(N_CLASSES)), "mask values were interpolated or filled"
        problem = alignment_problem(out_image, out_mask)
        assert problem is None, f"draw {draw}: {problem}"
        # the same check on a mask shifted by 3 px fails: the check can tell misalignment
        n_shift_detected += alignment_problem(out_image, np.roll(out_mask, 3, axis=1)) is not None
        n_resampled += out_mask.tobytes() not in dihedral
        core = interior(out_mask)
        n_recoloured += any(
            abs(out_image[core & (out_mask == k)].mean() - LEVELS[k]) > 1 for k in np.unique(out_mask[core])
        )
    assert n_shift_detected == DRAWS
    # the draws did exercise the affine and the colour transforms (p = 0.5 each)
    assert DRAWS * 0.3 < n_resampled < DRAWS * 0.7
    assert n_recoloured > DRAWS * 0.5


def test_weak_pipeline_keeps_class_fractions_exactly(settings):
    pipeline = weak_pipeline(settings)
    pipeline.set_random_seed(0)
    rng = np.random.default_rng(0)
    tiles = 4
    masks = rng.integers(0, N_CLASSES, (tiles, 64, 64)).astype(np.uint8)
    masks[:, :16, :40] = 2  # uneven regions, so that a non-dihedral warp would change counts
    masks[1, 30:, 50:] = IGNORE_INDEX
    images = rng.integers(0, 256, (tiles, 64, 64, 3)).astype(np.uint8)
    before = class_fractions(masks, N_CLASSES)
    changed = 0
    for draw in range(DRAWS):
        i = draw % tiles
        out = pipeline(image=images[i], mask=masks[i])
        after = class_fractions(out["mask"][None], N_CLASSES)[0]
        np.testing.assert_array_equal(after, before[i], err_msg=f"draw {draw}")
        assert (out["mask"] == IGNORE_INDEX).sum() == (masks[i] == IGNORE_INDEX).sum()
        changed += not np.array_equal(out["mask"], masks[i])
    assert changed > DRAWS // 2  # the dihedral transforms did move pixels


def test_weak_pipeline_moves_image_and_mask_together(settings):
    pipeline = weak_pipeline(settings)
    pipeline.set_random_seed(1)
    mask = blocky_mask()
    for draw in range(50):
        out = pipeline(image=render(mask), mask=mask)
        assert alignment_problem(out["image"], out["mask"]) is None, draw


def test_weak_pipeline_has_no_resampling_transform(settings):
    names = [type(t).__name__ for t in weak_pipeline(settings).transforms]
    assert "Affine" not in names and "D4" in names
    assert "Affine" in [type(t).__name__ for t in strong_pipeline(settings).transforms]


@pytest.mark.parametrize("build", [strong_pipeline, weak_pipeline])
def test_pipelines_round_trip_through_save_and_load(settings, build, tmp_path):
    import albumentations as A

    pipeline = build(settings)
    path = tmp_path / "pipeline.yaml"
    save_pipeline(pipeline, path)
    loaded = load_pipeline(path)
    assert A.to_dict(loaded) == A.to_dict(pipeline)
    # and they draw the same augmentations from the same seed
    mask = blocky_mask()
    image = render(mask)
    pipeline.set_random_seed(3)
    loaded.set_random_seed(3)
    for _ in range(20):
        a, b = pipeline(image=image, mask=mask), loaded(image=image, mask=mask)
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["mask"], b["mask"])


def test_settings_reach_the_transforms(settings):
    custom = dict(settings, rotate_limit=10, p_spatial=1.0, scale=[0.9, 1.1], gamma=[0.8, 1.2], p_color=0.25)
    transforms = {type(t).__name__: t for t in strong_pipeline(custom).transforms}
    affine = transforms["Affine"]
    assert affine.p == 1.0
    assert tuple(affine.rotate) == (-10, 10)
    assert tuple(affine.scale["x"]) == (0.9, 1.1)
    assert tuple(transforms["RandomGamma"].gamma_limit) == (80, 120)
    assert transforms["ColorJitter"].p == 0.25


def test_preview_grid_and_overlay(settings):
    mask = blocky_mask()
    images = np.stack([render(mask)] * 2)
    masks = np.stack([mask, np.full_like(mask, IGNORE_INDEX)])
    palette = np.array([[255, 0, 0]] * N_CLASSES, dtype=np.uint8)
    grid = preview(images, masks, strong_pipeline(settings), weak_pipeline(settings), palette, seed=0)
    tile = mask.shape[0]
    assert grid.shape == (2 * (tile + 4), 4 * (tile + 4), 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[2 : 2 + tile, 2 : 2 + tile], images[0])
    blended = overlay(images[0], masks[0], palette)
    assert (blended[..., 0] >= images[0][..., 0]).all()  # red overlay raises red
    np.testing.assert_array_equal(overlay(images[1], masks[1], palette), images[1])  # ignore left as is


def test_offline_copies_of_weak_tiles_carry_no_mask_and_are_reproducible(settings, tmp_path):
    import csv

    from weakseg.data.augmentation import write_offline_copies

    rng = np.random.default_rng(4)
    masks = np.stack([blocky_mask(), np.roll(blocky_mask(), 5, axis=0), blocky_mask()[::-1]])
    masks[2, :10] = IGNORE_INDEX
    images = np.stack([render(np.where(m == IGNORE_INDEX, 0, m)) for m in masks])
    images = (images + rng.integers(0, 3, images.shape)).astype(np.uint8)
    pipelines = {"strong": strong_pipeline(settings), "weak": weak_pipeline(settings)}
    rows_by_set = {"strong": [0], "weak": [1, 2]}
    ids = ["t0", "t1", "t2"]
    n = write_offline_copies(images, masks, rows_by_set, pipelines, ids, 3, 0, offline_files(tmp_path / "a"))
    assert n == 9
    out_masks = np.load(tmp_path / "a" / "masks.npy")
    out_images = np.load(tmp_path / "a" / "images.npy")
    assert out_images.shape == (9, *images.shape[1:]) and out_masks.shape == (9, *masks.shape[1:])
    with open(tmp_path / "a" / "copies.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["tile_id"], r["pipeline"], r["copy"]) for r in rows] == [
        (t, s, str(c)) for s, t in (("strong", "t0"), ("weak", "t1"), ("weak", "t2")) for c in range(3)
    ]
    source = {t: i for i, t in enumerate(ids)}
    for row, copy_mask in zip(rows, out_masks, strict=False):
        original = masks[source[row["tile_id"]]]
        if row["pipeline"] == "weak":  # a weak tile's mask is never read: its copies carry none
            assert (copy_mask == IGNORE_INDEX).all()
        else:  # the strong pipeline moves the mask with the image and keeps its classes
            assert set(np.unique(copy_mask)) - {IGNORE_INDEX} <= set(np.unique(original)) - {IGNORE_INDEX}
    # the same seed gives the same bytes
    write_offline_copies(images, masks, rows_by_set, pipelines, ids, 3, 0, offline_files(tmp_path / "b"))
    for name in ("images.npy", "masks.npy", "copies.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # no copies: empty arrays, header-only CSV
    assert write_offline_copies(images, masks, rows_by_set, pipelines, ids, 0, 0, offline_files(tmp_path / "c")) == 0
    assert np.load(tmp_path / "c" / "images.npy").shape == (0, *images.shape[1:])


def test_four_band_tiles_get_brightness_contrast_gamma_on_every_band_and_no_hue():
    settings = yaml.safe_load((REPO / "workflow_config.yaml").read_text())["augment"]
    settings.update(p_color=1.0)
    rng = np.random.default_rng(0)
    image = rng.integers(30, 220, (32, 32, 4), dtype=np.uint8)
    mask = rng.integers(0, 6, (32, 32), dtype=np.uint8)
    for build in (strong_pipeline, weak_pipeline):
        names = [type(t).__name__ for t in build(settings, 4).transforms]
        assert "ColorJitter" not in names and {"RandomBrightnessContrast", "RandomGamma"} <= set(names)
        assert "ColorJitter" in [type(t).__name__ for t in build(settings, 3).transforms]
        pipeline = build(settings, 4)
        pipeline.set_random_seed(1)
        out = pipeline(image=image, mask=mask)
        assert out["image"].shape == (32, 32, 4) and out["image"].dtype == np.uint8
        assert not np.array_equal(out["image"][..., 3], image[..., 3])  # the infrared band is transformed too
