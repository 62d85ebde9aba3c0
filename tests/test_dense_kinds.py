"""Dense kinds (scribbles, boxes, coarse masks, noisy map masks): weak masks of hand-made masks, their noise
statistics, their movement under augmentation, their losses, and their two stages."""

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, run_stage, tile_files, write_tiles_csv

from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError
from weakseg.io.labels import IGNORE_INDEX
from weakseg.weak import get_weak_kind
from weakseg.weak.boxes import box_mask, object_boxes
from weakseg.weak.coarse import cell_majority, coarse_mask, pooled_cell_loss
from weakseg.weak.noisy_masks import moved, noisy_mask, object_noise
from weakseg.weak.scribbles import scribble_mask

RNG = np.random.default_rng
DENSE = ("scribbles", "boxes", "coarse", "noisy_masks")


def blobs() -> np.ndarray:
    """20 x 20: class 0 background, an L-shaped class-1 building, a 2 x 3 class-2 car, a 1-px class-2 speck."""
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[2:10, 2:5] = 1
    mask[7:10, 5:12] = 1  # the L: rows 2-9, columns 2-11
    mask[14:16, 12:15] = 2  # the car: rows 14-15, columns 12-14
    mask[18, 1] = 2
    mask[0, :] = IGNORE_INDEX
    return mask


def test_every_stroke_lies_inside_its_region_with_the_regions_class():
    mask = blobs()
    for width in (1, 3, 5):
        weak = scribble_mask(mask, 3, 1.0, width, RNG(0))
        labelled = weak != IGNORE_INDEX
        assert (weak[labelled] == mask[labelled]).all()  # inside its region, with its class
        for k in range(3):  # every region of every class got a stroke
            assert (weak == k).any()
    thin, wide = scribble_mask(mask, 3, 1.0, 1, RNG(0)), scribble_mask(mask, 3, 1.0, 5, RNG(0))
    assert (thin != IGNORE_INDEX).sum() < (mask != IGNORE_INDEX).sum() / 4  # a stroke, not the region
    assert ((thin != IGNORE_INDEX) <= (wide != IGNORE_INDEX)).all() and (wide != IGNORE_INDEX).sum() > (
        thin != IGNORE_INDEX
    ).sum()
    assert (scribble_mask(mask, 3, 0.0, 3, RNG(0)) == IGNORE_INDEX).all()


def test_a_share_of_the_regions_is_scribbled():
    mask = np.zeros((40, 40), dtype=np.uint8)
    mask[0::4, :] = mask[1::4, :] = 1  # stripes of 2 rows: ten of class 1, ten of class 0, 20 regions
    counts = []
    for seed in range(200):
        weak = scribble_mask(mask, 2, 0.5, 1, RNG(seed))
        counts.append(sum(bool((weak[r] != IGNORE_INDEX).any()) for r in range(0, 40, 2)))
    assert abs(np.mean(counts) / 20 - 0.5) < 0.03  # 4000 Bernoulli(0.5) draws: sd 0.008


def test_boxes_are_tight_filled_small_on_top_and_ignore_elsewhere():
    mask = blobs()
    assert object_boxes(mask, [1, 2], 1) == [(1, 2, 2, 9, 11), (2, 14, 12, 15, 14), (2, 18, 1, 18, 1)]
    assert object_boxes(mask, [1, 2], 2) == [(1, 2, 2, 9, 11), (2, 14, 12, 15, 14)]  # the speck is too small
    weak = box_mask(mask.shape, [(1, 0, 0, 9, 9), (2, 2, 2, 3, 3)])
    assert (weak[2:4, 2:4] == 2).all() and (weak[:10, :10] != IGNORE_INDEX).all()  # the car on the building
    assert (weak[10:] == IGNORE_INDEX).all() and (weak[:, 10:] == IGNORE_INDEX).all()
    kind = get_weak_kind("boxes")
    options = kind.resolve_options({"classes": None, "min_area": 2}, ("ground", "building", "car"), ("building", "car"))
    assert options["classes"] == [1, 2]
    weak = kind.label_mask(mask, 3, options, RNG(0))
    assert (weak[2:10, 2:12] == 1).all() and (weak[14:16, 12:15] == 2).all() and weak[18, 1] == IGNORE_INDEX


def test_a_boxed_class_the_dataset_lacks_is_refused_naming_the_key():
    kind = get_weak_kind("boxes")
    with pytest.raises(WeaksegError, match=r"weak_labels.boxes.classes: \['roof'\] are not classes"):
        kind.resolve_options({"classes": ["roof"], "min_area": 1}, ("ground", "building"), ())
    with pytest.raises(WeaksegError, match="names no object classes"):
        kind.resolve_options({"classes": None, "min_area": 1}, ("ground", "building"), ())


def test_coarse_cells_take_the_majority_of_their_labelled_pixels():
    mask = np.array(
        [
            [0, 0, 1, 1, 2, 255],
            [0, 1, 1, 2, 255, 255],
            [2, 2, 255, 255, 0, 1],
            [2, 1, 255, 255, 1, 0],
        ],
        dtype=np.uint8,
    )
    # cells of 2 x 2: (0,0,0,1) -> 0; (1,1,1,2) -> 1; (2,255,255,255) -> 2; (2,2,2,1) -> 2; none -> 255;
    # (0,1,1,0): a tie, to the lower index -> 0
    assert cell_majority(mask, 3, 2).tolist() == [[0, 1, 2], [2, 255, 0]]
    assert coarse_mask(mask, 3, 2)[:2, :2].tolist() == [[0, 0], [0, 0]]
    assert coarse_mask(mask, 3, 4).shape == mask.shape  # 4 does not divide 6: the last cell is cut back


def test_the_coarse_loss_compares_the_pooled_softmax_on_the_cells_and_is_least_at_the_truth():
    cells = torch.tensor([[0, 1], [2, 255]])
    target = cells.repeat_interleave(4, 0).repeat_interleave(4, 1)[None]  # (1, 8, 8)
    truth = torch.nn.functional.one_hot(target.clamp(max=2), 3).permute(0, 3, 1, 2).float() * 8
    wrong = truth.roll(1, dims=1)
    assert pooled_cell_loss(truth, target, 4) < 0.01 < pooled_cell_loss(wrong, target, 4)
    # half of a cell wrong: the pooled probability of the cell's class is about 1/2
    half = truth.clone()
    half[0, :, :2, :4] = wrong[0, :, :2, :4]
    loss = pooled_cell_loss(half, target, 4)
    assert loss == pytest.approx(-np.log(0.5) / 3, abs=0.01)  # one of the three labelled cells at log 2
    assert pooled_cell_loss(truth, torch.full_like(target, IGNORE_INDEX), 4) == 0


def test_the_noise_draws_follow_their_parameters_over_1000_objects():
    draws = object_noise(RNG(0), 1000, shift=3, morph=2, drop=0.2)
    assert abs(draws[:, 0].mean() - 0.2) < 3 * np.sqrt(0.2 * 0.8 / 1000)
    for column, bound in ((1, 3), (2, 3), (3, 2)):
        values = draws[:, column]
        assert set(np.unique(values)) == set(range(-bound, bound + 1))  # uniform on the integers
        assert abs(values.mean()) < 3 * np.sqrt(((2 * bound + 1) ** 2 - 1) / 12 / 1000)


def test_each_kept_object_moves_by_its_draw_and_grows_or_shrinks_by_its_radius():
    mask = np.zeros((40, 40), dtype=np.uint8)
    mask[15:25, 15:25] = 1  # one 10 x 10 object
    options = {"classes": [1], "background": 0, "shift": 3, "morph": 2, "drop": 0.2}
    dropped = 0
    for seed in range(1000):
        (gone, dy, dx, r) = object_noise(RNG(seed), 1, 3, 2, 0.2)[0]
        weak = noisy_mask(mask, options, RNG(seed))
        if gone:
            dropped += 1
            assert not (weak == 1).any()
            continue
        rows, cols = np.nonzero(weak == 1)
        assert (rows.mean(), cols.mean()) == pytest.approx((19.5 + dy, 19.5 + dx), abs=1e-9)
        area = len(rows)
        assert (area > 100) if r > 0 else (area < 100) if r < 0 else (area == 100)
        assert (weak[weak != 1] == 0).all()  # what the object left is background
    assert abs(dropped / 1000 - 0.2) < 3 * np.sqrt(0.2 * 0.8 / 1000)


def test_a_moved_object_is_cut_at_the_tile_border_and_ignore_stays_ignore():
    region = np.zeros((6, 6), dtype=bool)
    region[0:2, 0:2] = True
    assert moved(region, -1, -1, 0).sum() == 1 and moved(region, 5, 5, 0)[5, 5]
    mask = blobs()
    weak = noisy_mask(mask, {"classes": [1, 2], "background": 0, "shift": 2, "morph": 1, "drop": 0.0}, RNG(1))
    assert (weak[0] == IGNORE_INDEX).all() and set(np.unique(weak)) <= {0, 1, 2, IGNORE_INDEX}


@pytest.mark.parametrize("name", DENSE)
def test_a_dense_kinds_loss_is_least_at_its_weak_mask(name):
    kind = get_weak_kind(name)
    options = kind.resolve_options(_defaults(name), ("ground", "building", "car"), ("building", "car"))
    weak = torch.from_numpy(kind.label_mask(blobs(), 3, options, RNG(0)).astype(np.int64))[None]
    truth = torch.nn.functional.one_hot(weak.clamp(max=2), 3).permute(0, 3, 1, 2).float() * 6
    assert kind.loss(truth, weak, options) < kind.loss(truth.roll(1, dims=1), weak, options)
    assert kind.loss(torch.zeros_like(truth), weak, options) > kind.loss(truth, weak, options)


@pytest.mark.parametrize("name", DENSE)
def test_a_weak_mask_moves_with_its_pixels_under_the_weak_augmentation(tmp_path, name):
    """The image's first band encodes the true class; after a flip or rotation every labelled weak pixel
    still sits on a pixel of its class (scribbles, boxes' objects, coarse cells)."""
    from weakseg.data.augmentation import weak_pipeline
    from weakseg.learn.tile_data import TileDataset, WeakMaskRows

    kind = get_weak_kind(name)
    mask = np.zeros((16, 16), dtype=np.uint8)
    mask[:, 8:], mask[12:, :4] = 1, 2
    options = kind.resolve_options(_defaults(name), ("ground", "building", "car"), ("building", "car"))
    options = {**options, "shift": 0, "morph": 0, "drop": 0.0, "factor": 4}  # noise-free, cells on the grid
    weak = kind.label_mask(mask, 3, options, RNG(0))
    np.save(tmp_path / "images.npy", np.repeat(mask[None, ..., None] * 100, 3, axis=3).astype(np.uint8))
    np.save(tmp_path / "weak_masks.npy", weak[None])
    settings = yaml.safe_load((REPO / "workflow_config.yaml").read_text())["augment"]
    settings.update(p_color=0.0)
    data = TileDataset(tmp_path / "images.npy", None, [0], weak_pipeline(settings), np.zeros((1, 1)), 0)
    data.weak_to_mask = WeakMaskRows(tmp_path / "weak_masks.npy")
    changed = 0
    for draw in range(8):
        item = data[(0, draw, 0)]
        target, band = item["weak_label"].numpy(), item["image"][0].numpy()
        labelled = target != IGNORE_INDEX
        assert labelled.sum() == (weak != IGNORE_INDEX).sum()
        assert (band[labelled] == target[labelled] * 100).all()
        changed += not np.array_equal(target, weak)
    assert changed


def test_the_two_stages_write_weak_masks_and_their_class_shares(tmp_path):
    """weak_masks writes one weak mask per tile; weak_labels summarises them as class shares, reading no true mask."""
    scene = np.where(blobs() == 2, 4, blobs())  # ISPRS classes: 1 building, 4 car
    masks = np.stack([scene, np.zeros((20, 20), np.uint8)])
    tiles = tile_files(tmp_path / "tiles")
    tiles.tiles.parent.mkdir()
    np.save(tiles.masks, masks)
    write_tiles_csv(tiles.tiles, [Tile("t0", "s", 0, 0, 1.0), Tile("t1", "s", 0, 20, 1.0)])
    (tmp_path / "splits.json").write_text('{"sets": {"strong": ["t0"], "weak": ["t0", "t1"], "val": []}}')
    params = {"dataset": "synthetic", "kind": "boxes", "options": {"classes": None, "min_area": 1}}
    params.update(seed=None, split_seed=0)
    common = {"tiles": tiles.tiles, "splits": tmp_path / "splits.json"}
    out = tmp_path / "weak"
    result = run_stage("weak_masks", params, {"masks": tiles.masks, **common}, {"masks": out / "weak_masks.npy"})
    assert result.returncode == 0, result.stderr
    weak = np.load(out / "weak_masks.npy")
    assert weak.shape == masks.shape and (weak[0, 2:10, 2:12] == 1).all() and (weak[1] == IGNORE_INDEX).all()
    files = {"labels": out / "weak_labels.csv", "summary": out / "summary.csv"}
    tiles.masks.unlink()  # the weak_labels stage of a dense kind reads the weak masks only
    result = run_stage("weak_labels", params, {"weak_masks": out / "weak_masks.npy", **common}, files)
    assert result.returncode == 0, result.stderr
    rows = (out / "weak_labels.csv").read_text().splitlines()
    assert rows[0] == "tile_id,set," + ",".join(
        ("impervious_surfaces", "building", "low_vegetation", "tree", "car", "clutter")
    )
    shares = np.array(rows[1].split(",")[2:], dtype=float)
    building, car = 8 * 10, 2 * 3 + 1  # the L's box; the car's box and the speck's
    assert shares[1] == pytest.approx(building / (building + car)) and shares[4] == pytest.approx(
        car / (building + car)
    )
    assert np.array(rows[2].split(",")[2:], dtype=float).sum() == 0  # no object: an empty label


def _defaults(name: str) -> dict:
    from weakseg.ops.config import schema_defaults

    return schema_defaults(yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text()))["weak_labels"][name]
