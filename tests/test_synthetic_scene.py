"""Tests of the procedural Vaihingen-like scene generator."""

from __future__ import annotations

import numpy as np
import pytest

from weakseg.datasets.synthetic_scene import CLASS_NAMES, generate_scene

IMPERVIOUS, BUILDING, LOW_VEG, TREE, CAR, CLUTTER = range(6)
SEEDS = (0, 1, 2, 3)
TILE = 64

# Broad target share of each class over many 512 x 512 scenes.
TARGET_FRACTIONS = {
    IMPERVIOUS: (0.20, 0.35),
    BUILDING: (0.15, 0.30),
    LOW_VEG: (0.20, 0.35),
    TREE: (0.10, 0.25),
    CAR: (0.005, 0.03),
    CLUTTER: (0.01, 0.05),
}


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(seed, 512, 512) for seed in SEEDS]


def _tile_fractions(label, cls):
    h, w = label.shape
    tiles = label[: h // TILE * TILE, : w // TILE * TILE].reshape(h // TILE, TILE, w // TILE, TILE)
    return (tiles == cls).mean(axis=(1, 3)).ravel()


def _nearest_mean_balanced_accuracy(scenes, classes):
    """Per-pixel nearest-class-mean colour classifier, fitted on the very pixels it
    is scored on (its best case), restricted to `classes`; mean per-class recall."""
    pixels = np.concatenate([img.reshape(-1, 3) for img, _ in scenes]).astype(np.float64)
    truth = np.concatenate([lab.ravel() for _, lab in scenes])
    keep = np.isin(truth, classes)
    pixels, truth = pixels[keep][::3], truth[keep][::3]  # a subsample keeps the test fast
    means = np.stack([pixels[truth == c].mean(axis=0) for c in classes])
    dist = ((pixels[:, None, :] - means[None, :, :]) ** 2).sum(axis=-1)
    pred = np.asarray(classes)[dist.argmin(axis=1)]
    return float(np.mean([(pred[truth == c] == c).mean() for c in classes]))


@pytest.mark.parametrize("size", [(32, 32), (96, 160), (200, 48)])
def test_shapes_and_dtypes(size):
    image, label = generate_scene(5, *size)
    assert image.shape == (*size, 3) and image.dtype == np.uint8
    assert label.shape == size and label.dtype == np.uint8
    assert label.max() < len(CLASS_NAMES)
    assert image.std() > 10  # an actual picture, not a constant fill


def test_deterministic_per_seed():
    image_a, label_a = generate_scene(7, 128, 128)
    image_b, label_b = generate_scene(7, 128, 128)
    assert image_a.tobytes() == image_b.tobytes()
    assert label_a.tobytes() == label_b.tobytes()
    image_c, label_c = generate_scene(8, 128, 128)
    assert not np.array_equal(image_a, image_c)
    assert not np.array_equal(label_a, label_c)


def test_global_rng_is_untouched():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    generate_scene(1, 64, 64)
    assert np.random.random() == expected


def test_every_class_present(scenes):
    for _, label in scenes:
        counts = np.bincount(label.ravel(), minlength=len(CLASS_NAMES))
        assert len(counts) == len(CLASS_NAMES)
        assert (counts >= 0.002 * label.size).all(), dict(zip(CLASS_NAMES, counts, strict=False))


def test_class_fractions_in_target_ranges(scenes):
    labels = np.stack([label for _, label in scenes])
    fractions = np.bincount(labels.ravel(), minlength=6) / labels.size
    for cls, (low, high) in TARGET_FRACTIONS.items():
        assert low <= fractions[cls] <= high, (CLASS_NAMES[cls], fractions[cls])


def test_class_mix_varies_between_tiles(scenes):
    for _, label in scenes:
        building = _tile_fractions(label, BUILDING)
        low_veg = _tile_fractions(label, LOW_VEG)
        # a dense urban tile and an open rural tile in the same scene
        assert building.max() > 0.5 and low_veg.max() > 0.5
        assert building.min() < 0.05
        assert _tile_fractions(label, IMPERVIOUS).max() > 0.4
        assert building.std() > 0.1


def test_irrg_band_order(scenes):
    pixels = np.concatenate([img.reshape(-1, 3) for img, _ in scenes]).astype(float)
    labels = np.concatenate([lab.ravel() for _, lab in scenes])
    veg = pixels[np.isin(labels, (LOW_VEG, TREE))].mean(axis=0)
    road = pixels[labels == IMPERVIOUS].mean(axis=0)
    # vegetation is bright in near-infrared (band 0) and darker in red (band 1)
    assert veg[0] > veg[1] + 30
    assert veg[0] > road[0] + 10


def test_colour_alone_is_not_enough(scenes):
    # Vegetation vs pavement is easy by colour (sanity check of the classifier) ...
    assert _nearest_mean_balanced_accuracy(scenes, [LOW_VEG, IMPERVIOUS]) > 0.85
    # ... but the confusable pairs and the full problem need shape and context.
    assert _nearest_mean_balanced_accuracy(scenes, [TREE, LOW_VEG]) < 0.75
    assert _nearest_mean_balanced_accuracy(scenes, [BUILDING, IMPERVIOUS]) < 0.75
    assert _nearest_mean_balanced_accuracy(scenes, list(range(6))) < 0.6


@pytest.mark.parametrize(
    ("seed", "height", "width", "name"),
    [(0, 31, 64, "height"), (0, 64, 8, "width"), (-1, 64, 64, "seed")],
)
def test_invalid_arguments_raise(seed, height, width, name):
    with pytest.raises(ValueError, match=name):
        generate_scene(seed, height, width)
