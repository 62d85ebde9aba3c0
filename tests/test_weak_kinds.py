"""Each kind of weak label: its label on a hand-made mask, its loss at and away from the truth, its shapes."""

import math

import numpy as np
import pytest
import torch

from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak import WEAK_KINDS, get_weak_kind
from weakseg.weak.noisy_proportions import noisy_label_proportions
from weakseg.weak.points import points_mask
from weakseg.weak.presence import lse_pool
from weakseg.weak.size_bounds import size_penalty

RNG = np.random.default_rng


def hand_mask() -> np.ndarray:
    """One 10 x 10 tile: 50 px class 0, 30 px class 1, 10 px class 2, 10 px ignore; class 3 absent."""
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[5:8] = 1
    mask[8] = 2
    mask[9] = IGNORE_INDEX
    return mask[None]


# Shares of the labelled pixels: 50/90, 30/90, 10/90, 0.
SHARES = np.array([50, 30, 10, 0]) / 90


def logits_with_proportions(proportions, height: int = 8, width: int = 8) -> torch.Tensor:
    """(1, K, H, W) logits whose softmax is ``proportions`` at every pixel (so the pooled shares equal them)."""
    p = torch.tensor(proportions, dtype=torch.float32).clamp_min(1e-6)
    return p.log().view(1, -1, 1, 1).expand(1, len(proportions), height, width).clone()


def test_the_registry_holds_the_eleven_kinds_and_each_has_a_title_and_a_source():
    assert sorted(WEAK_KINDS) == sorted(
        ["proportions", "noisy_proportions", "presence", "size_bounds", "points", "unlabelled"]
        + ["scribbles", "boxes", "coarse", "noisy_masks", "all_pixels"]
    )
    for name in WEAK_KINDS:
        kind = get_weak_kind(name)
        assert kind.name == name and kind.title and kind.citation


def test_proportions_are_the_shares_of_the_labelled_pixels():
    label = get_weak_kind("proportions").label(hand_mask(), 4, {}, RNG(0))
    np.testing.assert_allclose(label, [SHARES], atol=1e-12)


@pytest.mark.parametrize("kind", ["proportions", "noisy_proportions"])
@pytest.mark.parametrize("loss", ["cross_entropy", "kl", "l1"])
def test_a_proportion_loss_is_least_at_the_true_shares_and_grows_away_from_them(kind, loss):
    weak = get_weak_kind(kind)
    target = torch.tensor([[0.5, 0.3, 0.2]])
    at_truth = weak.loss(logits_with_proportions([0.5, 0.3, 0.2]), target, {"loss": loss})
    values = [
        weak.loss(logits_with_proportions([0.5 + d, 0.3 - d / 2, 0.2 - d / 2]), target, {"loss": loss}).item()
        for d in (0.1, 0.2, 0.3)
    ]
    assert at_truth.item() <= values[0] < values[1] < values[2]
    if loss != "cross_entropy":
        assert at_truth.item() == pytest.approx(0.0, abs=1e-5)


def test_noisy_proportions_are_unbiased_with_the_dirichlet_variance():
    truth = np.tile([0.6, 0.3, 0.1, 0.0], (20000, 1))
    noisy = noisy_label_proportions(truth, 20.0, 0.0, RNG(0))
    np.testing.assert_allclose(noisy.sum(axis=1), 1.0)
    assert (noisy[:, 3] == 0).all()  # an absent class stays absent
    np.testing.assert_allclose(noisy.mean(axis=0), truth[0], atol=0.005)
    # Var = t (1 - t) / (concentration + 1) (the Dirichlet's variance).
    np.testing.assert_allclose(noisy.var(axis=0)[:3], truth[0, :3] * (1 - truth[0, :3]) / 21, rtol=0.05)


def test_noisy_proportions_round_to_the_step_keep_present_classes_and_repeat_with_the_seed():
    kind = get_weak_kind("noisy_proportions")
    masks = np.repeat(hand_mask(), 50, axis=0)
    options = {"concentration": 5.0, "step": 0.1}
    a, b = kind.label(masks, 4, options, RNG(3)), kind.label(masks, 4, options, RNG(3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, kind.label(masks, 4, options, RNG(4)))
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert (a[:, :3] > 0).all() and (a[:, 3] == 0).all()
    assert len(np.unique(a[:, 0])) > 1  # noisy: tiles with the same mask get different estimates
    units = a / 0.1
    np.testing.assert_allclose(units, np.round(units), atol=1e-9)  # every value a multiple of the step


def test_rounding_to_the_step_moves_a_share_by_less_than_a_step_and_raises_only_small_present_ones():
    from weakseg.weak.noisy_proportions import round_shares

    shares = np.random.default_rng(0).dirichlet([4.0, 4.0, 2.0, 0.3], size=2000)
    present = np.ones(4, bool)
    rounded = np.array([round_shares(row, present, 0.1) for row in shares])
    np.testing.assert_allclose(rounded.sum(axis=1), 1.0)
    np.testing.assert_allclose(rounded * 10, np.round(rounded * 10), atol=1e-9)
    large, plain = shares >= 0.1, (shares >= 0.1).all(axis=1)  # plain: tiles without a share under a step
    assert plain.sum() >= 100 and np.abs(rounded - shares)[plain].max() < 0.1 + 1e-9
    assert abs((rounded - shares)[plain].mean()) < 0.01  # no systematic shift of the shares a person sees
    np.testing.assert_allclose(rounded[~large], 0.1)  # the documented bias: a present share under a step is a step
    np.testing.assert_allclose(round_shares(np.array([0.05, 0.47, 0.48]), present[:3], 0.1), [0.1, 0.4, 0.5])


def test_presence_tags_follow_the_threshold():
    kind = get_weak_kind("presence")
    np.testing.assert_array_equal(kind.label(hand_mask(), 4, {"threshold": 0.05}, RNG(0)), [[1, 1, 1, 0]])
    np.testing.assert_array_equal(kind.label(hand_mask(), 4, {"threshold": 0.2}, RNG(0)), [[1, 1, 0, 0]])


def test_log_sum_exp_pooling_lies_between_mean_and_max_and_has_one_value_per_tile_and_class():
    logits = torch.randn(3, 4, 8, 8)
    pooled = lse_pool(logits, 5.0)
    assert pooled.shape == (3, 4)
    assert (pooled >= logits.mean(dim=(2, 3)) - 1e-5).all() and (pooled <= logits.amax(dim=(2, 3)) + 1e-5).all()
    np.testing.assert_allclose(lse_pool(logits, 0.01), logits.mean(dim=(2, 3)), atol=0.01)  # r -> 0: the mean


def test_the_presence_loss_falls_as_the_prediction_agrees_with_the_tags():
    kind = get_weak_kind("presence")
    target = torch.tensor([[1.0, 0.0, 1.0]])
    options = {"r": 5.0}
    losses = [
        kind.loss(torch.tensor([s, -s, s]).view(1, 3, 1, 1).expand(1, 3, 4, 4), target, options) for s in (0, 2, 6)
    ]
    assert losses[0] > losses[1] > losses[2]
    assert losses[0].item() == pytest.approx(math.log(2), abs=1e-5)  # logits 0: BCE of p = 0.5


def test_size_bounds_widen_the_true_share_and_fix_absent_classes_at_zero():
    kind = get_weak_kind("size_bounds")
    label = kind.label(hand_mask(), 4, {"margin": 0.1}, RNG(0))
    np.testing.assert_allclose(label[0, :4], [SHARES[0] - 0.1, SHARES[1] - 0.1, SHARES[2] - 0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(label[0, 4:], [SHARES[0] + 0.1, SHARES[1] + 0.1, SHARES[2] + 0.1, 0.0], atol=1e-12)
    assert kind.columns(["a", "b"], {}) == ["a_min", "b_min", "a_max", "b_max"]


def test_the_size_penalty_is_zero_inside_the_bounds_and_quadratic_outside():
    bounds = torch.tensor([[0.2, 0.0, 0.4, 0.3]])  # class 0 in [0.2, 0.4], class 1 in [0.0, 0.3]
    assert size_penalty(torch.tensor([[0.3, 0.1]]), bounds).item() == 0.0
    assert size_penalty(torch.tensor([[0.1, 0.5]]), bounds).item() == pytest.approx(0.1**2 + 0.2**2)
    kind = get_weak_kind("size_bounds")
    inside = kind.loss(logits_with_proportions([0.3, 0.7]), torch.tensor([[0.2, 0.6, 0.4, 0.8]]), {})
    outside = kind.loss(logits_with_proportions([0.9, 0.1]), torch.tensor([[0.2, 0.6, 0.4, 0.8]]), {})
    assert inside.item() == pytest.approx(0.0, abs=1e-6) and outside.item() == pytest.approx(0.5**2 + 0.5**2, rel=1e-4)


def test_points_are_labelled_pixels_with_their_class_and_render_as_a_sparse_mask():
    kind = get_weak_kind("points")
    masks = np.repeat(hand_mask(), 20, axis=0)
    label = kind.label(masks, 4, {"per_tile": 7}, RNG(0))
    assert label.shape == (20, 21) and len(kind.columns(["a"], {"per_tile": 7})) == 21
    for row in label:
        points = row.reshape(-1, 3).astype(int)
        assert len({(r, c) for r, c, _ in points}) == 7  # without replacement
        for r, c, cls in points:
            assert masks[0, r, c] == cls != IGNORE_INDEX
        rendered = kind.to_mask(row, 10, 10)
        assert (rendered != IGNORE_INDEX).sum() == 7
        assert all(rendered[r, c] == cls for r, c, cls in points)
    tiny = np.full((1, 4, 4), IGNORE_INDEX, dtype=np.uint8)
    tiny[0, 0, 0] = 2
    one = kind.label(tiny, 3, {"per_tile": 3}, RNG(0))
    np.testing.assert_array_equal(one, [[0, 0, 2, -1, -1, -1, -1, -1, -1]])  # unused slots
    assert (points_mask(one[0], 4, 4) != IGNORE_INDEX).sum() == 1


def test_the_point_loss_is_the_cross_entropy_at_the_points_only():
    kind = get_weak_kind("points")
    logits = torch.randn(2, 3, 5, 5)
    target = torch.full((2, 5, 5), IGNORE_INDEX, dtype=torch.int64)
    target[0, 1, 2], target[1, 4, 4] = 2, 0
    expected = -(torch.log_softmax(logits[0, :, 1, 2], 0)[2] + torch.log_softmax(logits[1, :, 4, 4], 0)[0]).item() / 2
    assert kind.loss(logits, target, {}).item() == pytest.approx(expected, rel=1e-5)
    empty = torch.full((2, 5, 5), IGNORE_INDEX, dtype=torch.int64)
    assert kind.loss(logits.requires_grad_(), empty, {}).item() == 0.0


def test_points_move_with_their_pixels_under_the_weak_augmentation(tmp_path):
    """A flipped or rotated tile keeps each point on the pixel it labelled."""
    import yaml
    from conftest import REPO

    from weakseg.data.augmentation import weak_pipeline
    from weakseg.learn.tile_data import TileDataset

    kind = get_weak_kind("points")
    masks = np.zeros((1, 16, 16), dtype=np.uint8)
    masks[0, :, 8:] = 1
    masks[0, 12:, :4] = 2
    # The image's first band encodes the class, so a point's class can be read off the augmented image.
    images = np.repeat(masks[..., None] * 100, 3, axis=3).astype(np.uint8)
    np.save(tmp_path / "images.npy", images)
    label = kind.label(masks, 3, {"per_tile": 12}, RNG(0))
    settings = yaml.safe_load((REPO / "workflow_config.yaml").read_text())["augment"]
    settings.update(p_color=0.0)
    data = TileDataset(tmp_path / "images.npy", None, [0], weak_pipeline(settings), label, 0, kind.to_mask)
    moved = 0
    for draw in range(8):
        item = data[(0, draw, 0)]
        target, band = item["weak_label"].numpy(), item["image"][0].numpy()
        assert (target != IGNORE_INDEX).sum() == 12
        assert (band[target != IGNORE_INDEX] == target[target != IGNORE_INDEX] * 100).all()
        moved += not np.array_equal(target, kind.to_mask(label[0], 16, 16))
    assert moved  # some draws did flip or rotate the tile


def test_unlabelled_tiles_have_no_label_and_learn_from_confident_pseudo_labels():
    kind = get_weak_kind("unlabelled")
    assert kind.label(np.zeros((5, 4, 4), np.uint8), 3, {}, RNG(0)).shape == (5, 0)
    assert kind.columns(["a", "b"], {}) == [] and kind.needs_pixel_loss
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1, 0, 0] = 10.0  # one confident pixel, three uniform ones
    loss = kind.loss(logits, torch.zeros(1, 0), {"confidence": 0.9})
    expected = -torch.log_softmax(logits[0, :, 0, 0], 0)[1].item() / 4  # mean over the four pixels
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert kind.loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 0), {"confidence": 0.9}).item() == 0.0
