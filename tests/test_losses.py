import math

import pytest
import torch

from weakseg.io.errors import WeaksegError
from weakseg.learn.losses import SegmentationLoss
from weakseg.weak.proportions import PROPORTIONS, proportion_loss
from weakseg.weak.proportions import predicted_proportions as predicted_fractions


def _logits():
    # One tile, two classes, three pixels: softmax (0.5, 0.5), (0.75, 0.25) and a third, unlabelled pixel.
    logits = torch.zeros(1, 2, 1, 3)
    logits[0, 0, 0, 1] = math.log(3.0)
    logits[0, 0, 0, 2] = 10.0
    labeled = torch.tensor([[[True, True, False]]])
    return logits, labeled


def test_predicted_fractions_average_softmax_over_labelled_pixels_only():
    logits, labeled = _logits()
    fractions = predicted_fractions(logits, labeled)
    assert fractions.shape == (1, 2)
    assert fractions[0].tolist() == pytest.approx([0.625, 0.375])


@pytest.mark.parametrize(
    "kind, target, expected",
    [
        ("cross_entropy", [1.0, 0.0], -math.log(0.625)),
        ("cross_entropy", [0.25, 0.75], -(0.25 * math.log(0.625) + 0.75 * math.log(0.375))),
        ("kl", [0.25, 0.75], 0.25 * math.log(0.25 / 0.625) + 0.75 * math.log(0.75 / 0.375)),
        ("kl", [1.0, 0.0], math.log(1 / 0.625)),
        ("l1", [0.25, 0.75], abs(0.625 - 0.25) + abs(0.375 - 0.75)),
    ],
)
def test_proportion_loss_equals_hand_computed_value(kind, target, expected):
    logits, labeled = _logits()
    loss = proportion_loss(predicted_fractions(logits, labeled), torch.tensor([target]), kind)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("kind", ["cross_entropy", "kl", "l1"])
def test_proportion_loss_gradient_moves_predicted_fractions_toward_the_weak_label(kind):
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 8, 8, requires_grad=True)
    labeled = torch.rand(2, 8, 8) > 0.2
    target = torch.tensor([[0.7, 0.1, 0.2, 0.0], [0.0, 0.0, 0.5, 0.5]])
    optimizer = torch.optim.SGD([logits], lr=100.0)  # each logit gets ~1/64 of the tile gradient
    start = (predicted_fractions(logits, labeled) - target).abs().sum().item()
    for _ in range(50):
        optimizer.zero_grad()
        proportion_loss(predicted_fractions(logits, labeled), target, kind).backward()
        optimizer.step()
    end = (predicted_fractions(logits, labeled) - target).abs().sum().item()
    assert end < 0.5 * start


def test_proportion_loss_is_minimal_at_the_true_proportions():
    target = torch.tensor([[0.2, 0.3, 0.5]])
    at_target = proportion_loss(target.clone(), target, "kl")
    elsewhere = proportion_loss(torch.tensor([[0.3, 0.3, 0.4]]), target, "kl")
    assert at_target.item() == pytest.approx(0.0, abs=1e-6)
    assert elsewhere.item() > 0.01


def test_unknown_losses_are_refused_naming_the_key():
    with pytest.raises(WeaksegError, match="weak_labels.<kind>.loss"):
        proportion_loss(torch.ones(1, 2) / 2, torch.ones(1, 2) / 2, "hinge")
    with pytest.raises(WeaksegError, match="training.loss"):
        SegmentationLoss("focal")


def test_segmentation_loss_ignores_unlabelled_pixels():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1] = 5.0
    masks = torch.tensor([[[1, 1], [255, 255]]])
    confident_right = SegmentationLoss("cross_entropy")(logits, masks).item()
    masks_wrong_where_ignored = torch.tensor([[[1, 1], [0, 2]]])
    assert confident_right < 0.02
    assert SegmentationLoss("cross_entropy")(logits, masks_wrong_where_ignored).item() > 1.0
    assert SegmentationLoss("cross_entropy+dice")(logits, masks).item() > confident_right


def test_joint_loss_is_pixel_loss_plus_weight_times_proportion_loss():
    from weakseg.learn.losses import joint_loss

    def kind_loss(logits, labels):
        return PROPORTIONS.loss(logits, labels, {"loss": "cross_entropy"})

    generator = torch.Generator().manual_seed(0)
    strong_logits = torch.randn(2, 3, 4, 4, generator=generator)
    masks = torch.randint(0, 3, (2, 4, 4), generator=generator)
    masks[0, 0, 0] = 255
    weak_logits = torch.randn(3, 3, 4, 4, generator=generator)
    fractions = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8]])
    pixel = SegmentationLoss("cross_entropy")
    expected_pixel = torch.nn.functional.cross_entropy(strong_logits, masks, ignore_index=255)
    probabilities = torch.softmax(weak_logits, dim=1).mean(dim=(2, 3))
    expected_weak = -(fractions * probabilities.log()).sum(dim=1).mean()
    assert torch.allclose(predicted_fractions(weak_logits), probabilities)
    assert torch.allclose(proportion_loss(probabilities, fractions), expected_weak)
    for weight in (0.0, 0.5, 2.0):
        total = joint_loss(strong_logits, masks, weak_logits, fractions, pixel, kind_loss, weight)
        assert torch.allclose(total, expected_pixel + weight * expected_weak), weight
