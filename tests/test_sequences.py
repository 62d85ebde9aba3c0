"""Frame sequences: synthetic rendering, one augmentation draw per sample, the ConvLSTM model, band statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import model_spec

from weakseg.data.augmentation import strong_pipeline, weak_pipeline
from weakseg.data.band_statistics import band_statistics
from weakseg.datasets.synthetic_scene import generate_scene
from weakseg.datasets.synthetic_sequence import render_sequence
from weakseg.io.errors import WeaksegError
from weakseg.learn.models import build_model
from weakseg.learn.tile_data import TileDataset
from weakseg.ops.config import check_sequences

AUGMENT = {
    "p_spatial": 0.0,
    "rotate_limit": 0,
    "scale": [1.0, 1.0],
    "shift": 0.0,
    "p_color": 0.0,
    "brightness": 0.2,
    "contrast": 0.2,
    "gamma": [0.5, 1.5],
    "saturation": [0.5, 1.5],
    "hue": 0.05,
}


def test_frames_pan_over_the_scene_and_one_frame_is_the_plain_scene():
    frames, label = render_sequence(4, 64, 96, 3, pan=2)
    assert frames.shape == (3, 64, 96, 3) and label.shape == (64, 96)
    # the camera moves 2 px per frame: frame k's content is frame k+1's, 2 px further
    np.testing.assert_array_equal(frames[0][:-2, :-2], frames[1][2:, 2:])
    np.testing.assert_array_equal(frames[1][:-2, :-2], frames[2][2:, 2:])
    image, scene_label = generate_scene(4, 64, 96)
    single, single_label = render_sequence(4, 64, 96, 1)
    np.testing.assert_array_equal(single[0], image)
    np.testing.assert_array_equal(single_label, scene_label)


def test_noise_and_clouds_differ_per_frame():
    frames, _ = render_sequence(1, 64, 64, 4, pan=0, frame_noise=30.0, cloud_probability=1.0)
    differences = [np.abs(frames[k].astype(int) - frames[0]).mean() for k in range(1, 4)]
    assert min(differences) > 10
    assert frames.mean() > render_sequence(1, 64, 64, 4, pan=0)[0].mean() + 5  # clouds brighten


def _sequence_tiles(n: int = 6, frames: int = 4, size: int = 32):
    """Tiles whose frame k is ``40 * mask + k``: frame order and alignment with the mask are checkable."""
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 5, (n, size, size)).astype(np.uint8)
    masks[:, : size // 2, : size // 3] = 4  # asymmetric, so every flip and rotation shows
    images = np.concatenate([np.repeat((40 * masks + k)[..., None], 3, axis=3) for k in range(frames)], axis=3).astype(
        np.uint8
    )
    return images, masks


@pytest.mark.parametrize("build", [strong_pipeline, weak_pipeline])
def test_the_loader_returns_the_frames_in_order_with_one_shared_flip(tmp_path, build):
    images, masks = _sequence_tiles()
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "masks.npy", masks)
    dataset = TileDataset(tmp_path / "images.npy", tmp_path / "masks.npy", range(6), build(AUGMENT, 3, 4), seed=1)
    changed = 0
    for epoch in range(4):
        for index in range(6):
            item = dataset[(epoch, index, index)]
            image, mask = item["image"].numpy(), item["mask"].numpy()
            assert image.shape == (12, 32, 32)
            for k in range(4):  # frame k, oldest first, moved exactly as the mask
                np.testing.assert_array_equal(image[3 * k : 3 * k + 3], np.broadcast_to(40 * mask + k, (3, 32, 32)))
            changed += not np.array_equal(mask, masks[index])
    assert changed > 12  # the dihedral draws did move the tiles


def test_changing_only_the_first_frame_changes_the_convlstm_output():
    torch.manual_seed(0)
    model = build_model(model_spec("ResNetConvLSTM", "resnet18", None, 12, 5, frames=4)).eval()
    frames = torch.randint(0, 256, (2, 12, 64, 64), dtype=torch.uint8)
    edited = frames.clone()
    edited[:, :3] = 255 - edited[:, :3]
    with torch.no_grad():
        assert (model(frames) - model(edited)).abs().max() > 1e-4
        last_only = frames.clone()
        last_only[:, -3:] = 255 - last_only[:, -3:]
        assert (model(frames) - model(last_only)).abs().max() > 1e-4


def test_with_one_frame_it_is_the_plain_encoder_decoder():
    torch.manual_seed(0)
    model = build_model(model_spec("ResNetConvLSTM", "resnet18", None, 3, 5, frames=1)).eval()
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(model(images), model.net.fpn(model.normalize(images)), rtol=0, atol=0)


def test_sequences_need_the_sequence_model():
    config = {
        "sequence": {"length": 4},
        "dataset": {"name": "synthetic", "cities": None, "synthetic_cities": {}},
        "model": {"arch": "FPN"},
        "predict": {"input": "val"},
        "split": {"group_by": "tile"},
    }
    with pytest.raises(WeaksegError, match="sequence.length: 4 frames need model.arch: ResNetConvLSTM"):
        check_sequences(config)
    with pytest.raises(WeaksegError, match="ResNetConvLSTM"):
        build_model(model_spec("FPN", "resnet18", None, 12, 5, frames=4))
    config["model"]["arch"] = "ResNetConvLSTM"
    check_sequences(config)


def test_band_statistics_equal_numpy_in_chunks_and_over_frames():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (40, 16, 16, 6), dtype=np.uint8)
    rows = [3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
    stats = band_statistics(images, rows, frames=2, chunk=4)
    pixels = images[rows].reshape(-1, 3).astype(np.float64)  # both frames' 3 bands pooled
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0) / 255, rtol=1e-12)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0) / 255, rtol=1e-10)
    assert stats["n_pixels"] == len(rows) * 16 * 16 * 2 and stats["n_tiles"] == len(rows)
    with pytest.raises(WeaksegError, match="no training tile"):
        band_statistics(images, [])
