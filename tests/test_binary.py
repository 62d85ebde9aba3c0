"""The binary task: one logit, BCEWithLogitsLoss, Dice and IoU of the positive class."""

import numpy as np
import pytest
import torch
from conftest import model_spec
from torch import nn

from weakseg.design.task import resolve_task
from weakseg.io.errors import WeaksegError
from weakseg.learn.losses import SegmentationLoss
from weakseg.learn.metrics import confusion_matrix, segmentation_metrics
from weakseg.learn.models import build_model


def test_two_class_datasets_are_binary_unless_overridden():
    assert resolve_task("auto", 2) == "binary"
    assert resolve_task("auto", 6) == "multiclass"
    assert resolve_task("multiclass", 2) == "multiclass"
    with pytest.raises(WeaksegError, match="binary needs a dataset with 2 classes"):
        resolve_task("binary", 6)


def test_a_binary_model_has_one_output_channel_seen_as_logits_0_z():
    model = build_model(model_spec("Unet", "resnet18", None, 3, 2)).eval()
    assert model.binary
    assert model.net.segmentation_head[0].out_channels == 1
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
        z = model.net(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 2, 64, 64) and z.shape == (1, 1, 64, 64)
    assert torch.all(out[:, 0] == 0)
    assert not build_model(model_spec("Unet", "resnet18", None, 3, 2, "multiclass")).binary


def test_the_binary_loss_equals_bce_with_logits_over_labelled_pixels():
    torch.manual_seed(0)
    z = torch.randn(2, 1, 4, 5)
    masks = torch.randint(0, 2, (2, 4, 5))
    masks[0, 0, :3] = 255
    logits = torch.cat([torch.zeros_like(z), z], dim=1)
    valid = masks != 255
    expected = nn.BCEWithLogitsLoss()(z[:, 0][valid], masks[valid].float())
    assert torch.allclose(SegmentationLoss("bce", binary=True)(logits, masks), expected)
    # on logits (0, z), two-class cross-entropy is the same loss
    assert torch.allclose(SegmentationLoss("cross_entropy")(logits, masks), expected, atol=1e-6)
    both = SegmentationLoss("bce+dice", binary=True)(logits, masks)
    assert both > expected
    with pytest.raises(WeaksegError, match="for binary tasks"):
        SegmentationLoss("bce", binary=False)


def test_dice_and_iou_of_the_positive_class_equal_hand_computed_values():
    predicted = np.array([[1, 1, 0, 0], [1, 0, 0, 1]])
    truth = np.array([[1, 0, 0, 0], [1, 1, 255, 1]])
    confusion = confusion_matrix(predicted, truth, 2)
    tp, fp, fn = 3, 1, 1  # hair: (0,0), (1,0), (1,3); (0,1) false positive; (1,1) missed; (1,2) ignored
    metrics = segmentation_metrics(confusion, ["background", "hair"])
    assert metrics["dice"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert metrics["per_class"]["hair"]["iou"] == pytest.approx(tp / (tp + fp + fn))
    assert metrics["oa"] == pytest.approx(5 / 7)
