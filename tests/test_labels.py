"""Colour-coded labels to class indices: exact palette, ignore colours, refusing or snapping the rest."""

import numpy as np
import pytest
from conftest import ISPRS_COLORS, VAIHINGEN_LABELS, read_tiff_bytes, read_zip_member

from weakseg.datasets import get_dataset
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX, colorize, colors_to_index

PALETTE = np.array(ISPRS_COLORS, dtype=np.uint8)
BLACK = np.zeros((1, 3), dtype=np.uint8)


def random_index(shape=(20, 30), n_classes=6, seed=0):
    return np.random.default_rng(seed).integers(0, n_classes, shape).astype(np.uint8)


def test_palette_colours_decode_to_their_class_and_ignore_colour_to_255():
    index = random_index()
    index[0, :5] = IGNORE_INDEX
    rgb = PALETTE[np.where(index == IGNORE_INDEX, 0, index)].copy()
    rgb[index == IGNORE_INDEX] = 0  # black = no label
    decoded, n_snapped = colors_to_index(rgb, PALETTE, BLACK, "label.tif")
    np.testing.assert_array_equal(decoded, index)
    assert decoded.dtype == np.uint8 and n_snapped == 0


def test_extra_alpha_band_is_ignored():
    index = random_index(seed=1)
    rgba = np.concatenate([PALETTE[index], np.full(index.shape + (1,), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(colors_to_index(rgba, PALETTE, BLACK, "x")[0], index)


def test_colorize_inverts_decoding_and_blacks_out_ignore():
    index = random_index(seed=2)
    index[3:5, 3:9] = IGNORE_INDEX
    rgb = colorize(index, PALETTE)
    assert rgb.shape == index.shape + (3,) and rgb.dtype == np.uint8
    assert (rgb[index == IGNORE_INDEX] == 0).all()
    np.testing.assert_array_equal(colors_to_index(rgb, PALETTE, BLACK, "x")[0], index)


def test_unknown_colour_is_refused_with_file_colour_and_count():
    index = random_index()
    rgb = PALETTE[index].copy()
    rgb[2:5, 2:9] = (12, 34, 56)  # 21 px of a colour not in the palette
    rgb[10, 10] = (200, 100, 50)  # 1 px of another
    with pytest.raises(WeaksegError) as error:
        colors_to_index(rgb, PALETTE, BLACK, "labels/area9.tif")
    message = str(error.value)
    assert "labels/area9.tif" in message
    assert "22 pixels" in message and "2 colours" in message
    assert "RGB(12, 34, 56): 21 px" in message and "RGB(200, 100, 50): 1 px" in message
    assert "snap_to_palette" in message  # says how to accept it


def test_many_unknown_colours_are_summarised():
    rgb = np.zeros((1, 20, 3), dtype=np.uint8)
    rgb[0, :, 0] = np.arange(100, 120)  # 20 distinct off-palette colours
    with pytest.raises(WeaksegError, match="and 12 more colours"):
        colors_to_index(rgb, PALETTE, np.zeros((0, 3), np.uint8), "many.tif")


def test_snapping_maps_close_colours_and_refuses_far_ones():
    index = random_index(seed=3)
    rgb = PALETTE[index].astype(np.int16)
    noisy = np.zeros(index.shape, bool)
    noisy[::3, ::2] = True
    # every channel 6 units towards mid-grey: sqrt(3 * 6**2) = 10.4 units from the true colour
    rgb[noisy] = np.where(rgb[noisy] > 127, rgb[noisy] - 6, rgb[noisy] + 6)
    rgb = rgb.astype(np.uint8)
    changed = (rgb != PALETTE[index]).any(axis=2)
    assert changed.sum() == noisy.sum() > 20
    decoded, n_snapped = colors_to_index(rgb, PALETTE, BLACK, "noisy.tif", snap_max_distance=10.5)
    np.testing.assert_array_equal(decoded, index)
    assert n_snapped == changed.sum()
    with pytest.raises(WeaksegError, match=r"noisy\.tif.*snap_max_distance=10.0"):
        colors_to_index(rgb, PALETTE, BLACK, "noisy.tif", snap_max_distance=10.0)


def test_snapping_to_an_ignore_colour_gives_ignore():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (5, 5, 5)  # near black
    rgb[1, 1] = (250, 250, 250)  # near white = class 0
    decoded, n = colors_to_index(rgb, PALETTE, BLACK, "x", snap_max_distance=10)
    assert decoded.tolist() == [[IGNORE_INDEX, IGNORE_INDEX], [IGNORE_INDEX, 0]]
    assert n == 2


def test_non_rgb_label_is_refused():
    with pytest.raises(WeaksegError, match="gray.tif"):
        colors_to_index(np.zeros((4, 4, 1), np.uint8), PALETTE, BLACK, "gray.tif")


def test_vaihingen_adapter_uses_the_isprs_colour_code():
    adapter = get_dataset("vaihingen")
    np.testing.assert_array_equal(adapter.palette_array, PALETTE)
    assert adapter.n_classes == 6 and adapter.class_names[1] == "building"


def off_palette(rgb: np.ndarray) -> np.ndarray:
    """Pixels whose colour is none of the six class colours (computed here, independently)."""
    return ~(rgb[..., None, :3] == PALETTE).all(axis=-1).any(axis=-1)


def test_real_vaihingen_labels_clean_decodes_dirty_needs_snapping(vaihingen_dir, vaihingen_dirty_labels):
    adapter = get_dataset("vaihingen")
    clean = read_tiff_bytes(read_zip_member(vaihingen_dir / VAIHINGEN_LABELS, "area4.tif"))
    dirty = read_tiff_bytes(read_zip_member(vaihingen_dirty_labels, "area4.tif"))
    assert clean.shape == dirty.shape and clean.shape[2] == 3
    assert not off_palette(clean).any()
    clean_index, n = adapter.label_to_index(clean, "clean.tif")
    assert n == 0 and clean_index.max() < 6
    blended = off_palette(dirty)
    assert 0.05 < blended.mean() < 0.08  # the README: about 6.6% off-palette

    with pytest.raises(WeaksegError) as error:
        adapter.label_to_index(dirty, "dirty/area4.tif")
    assert "dirty/area4.tif" in str(error.value) and f"{blended.sum()} pixels" in str(error.value)

    # A blend of two palette colours is at most half their distance from one of them.
    half_diameter = np.ceil(np.linalg.norm(PALETTE[:, None].astype(float) - PALETTE[None], axis=-1).max() / 2)
    snapped, n_snapped = adapter.label_to_index(dirty, "dirty/area4.tif", snap_max_distance=float(half_diameter))
    assert n_snapped == blended.sum()
    # on-palette pixels keep their class; snapped pixels take one of the classes around them
    np.testing.assert_array_equal(snapped[~blended], clean_index[~blended])
    assert (snapped == clean_index).mean() > 0.97
