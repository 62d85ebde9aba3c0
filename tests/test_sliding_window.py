"""Sliding-window inference: equal to one pass when the window covers the image, seamless, any size."""

import numpy as np
import pytest
import torch
from conftest import model_spec
from torch import nn

from weakseg.design.scoring import Windows
from weakseg.formats.splits import whole_scenes
from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError
from weakseg.learn.evaluation import score_scenes
from weakseg.learn.models import build_model
from weakseg.learn.sliding_window import blended_blocks, model_batches, predict_classes, predict_logits


def _model(classes=3):
    torch.manual_seed(0)
    return build_model(model_spec("FPN", "resnet18", None, 3, classes)).eval()


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_a_window_covering_the_image_equals_one_forward_pass():
    model, image = _model(), _image(96, 96)
    blended = predict_logits(model_batches(model, torch.device("cpu")), image, 96, 0.25)
    with torch.no_grad():
        single = model(torch.from_numpy(image.transpose(2, 0, 1).copy())[None])[0].numpy()
    np.testing.assert_allclose(blended, single, atol=1e-5)


def test_a_constant_logit_model_gives_a_constant_map_without_seams():
    def constant(batch):
        logits = np.zeros((len(batch), 3, *batch.shape[2:]), np.float32)
        logits[:, 2] = 1.5
        return logits

    logits = predict_logits(constant, _image(150, 230), 64, 0.5, batch_size=3)
    np.testing.assert_allclose(logits[2], 1.5, rtol=1e-5)
    np.testing.assert_allclose(logits[:2], 0.0, atol=1e-6)


def test_column_strips_give_the_same_logits_as_one_strip():
    predict_batch = model_batches(_model(), torch.device("cpu"))
    image = _image(130, 200, seed=1)
    whole = predict_logits(predict_batch, image, 64, 0.25)
    strips = np.empty_like(whole)
    covered = np.zeros(image.shape[:2], int)
    for rows, cols, logits in blended_blocks(predict_batch, image, 64, 0.25, batch_size=2, strip=70):
        strips[:, rows, cols] = logits
        covered[rows, cols] += 1
    assert np.all(covered == 1)
    np.testing.assert_allclose(strips, whole, atol=1e-5)


def test_an_image_smaller_than_the_window_is_padded_and_predicted_at_its_own_size():
    predict_batch = model_batches(_model(), torch.device("cpu"))
    classes = predict_classes(predict_batch, _image(100, 77), 128, 0.25)
    assert classes.shape == (100, 77) and classes.dtype == np.uint8
    # at a model scale: resized to a shorter side of 64, predicted, and brought back to 100 x 77
    assert predict_classes(predict_batch, _image(100, 77), 64, 0.25, shorter_side=64).shape == (100, 77)


class _RedIsHair(nn.Module):
    """Class 1 where the first band is above 128: logits (0, band 0 - 128) of pixel values."""

    mean_pixel = np.full(3, 127.0, np.float32)

    def forward(self, images):
        z = images[:, :1].float() - 128
        return torch.cat([torch.zeros_like(z), z], dim=1)


def test_whole_scene_scoring_equals_the_confusion_matrix_computed_by_hand(tmp_path):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (90, 140, 3), dtype=np.uint8)
    truth = rng.integers(0, 2, (90, 140)).astype(np.uint8)
    truth[:5] = 255
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "label.npy", truth)
    files = {"s": (str(tmp_path / "image.npy"), str(tmp_path / "label.npy"))}
    confusion = score_scenes(_RedIsHair(), torch.device("cpu"), ["s"], files, Windows(64, 0.5, 4), 2)
    predicted = (image[..., 0] > 128).astype(int)
    labelled = truth != 255
    expected = np.array(
        [[np.sum((truth == t) & (predicted == p) & labelled) for p in (0, 1)] for t in (0, 1)], dtype=np.int64
    )
    np.testing.assert_array_equal(confusion, expected)


def test_whole_scene_scoring_refuses_scenes_split_across_sets():
    tiles = [Tile("a1", "a", 0, 0, 1.0), Tile("a2", "a", 0, 64, 1.0), Tile("b1", "b", 0, 0, 1.0)]
    assert whole_scenes(tiles, {"val": ["b1"], "strong": ["a1", "a2"]}, "val") == ["b"]
    with pytest.raises(WeaksegError, match="scene a also has tiles in strong"):
        whole_scenes(tiles, {"val": ["a1", "b1"], "strong": ["a2"]}, "val")
