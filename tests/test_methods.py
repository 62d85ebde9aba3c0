"""Weak-supervision methods: FixMatch consistency, the EMA teacher, pseudo-masks refined by each kind, the
positive control, and the registry seam (a method is one module plus one registry entry)."""

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import run_files
from test_training import _kind_options, _settings, _split_folder, _with_weak_masks

from weakseg.design.experiment import VARIANTS
from weakseg.io.labels import IGNORE_INDEX
from weakseg.learn.steps import Step, loss_functions
from weakseg.methods import get_method
from weakseg.methods.consistency import CONSISTENCY, consistency_loss, ema_update, paste_box
from weakseg.methods.pseudo_masks import pseudo_mask
from weakseg.report.methods_table import positive_control_sentences
from weakseg.report.statistics import Ratio
from weakseg.weak import get_weak_kind
from weakseg.weak.refine import match_shares, suppress, within_bounds

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["a", "b", "c"]


# ---------------------------------------------------------------- consistency (FixMatch, Mean Teacher)


def test_the_strong_view_is_another_photometric_draw_of_the_same_weak_view(tmp_path):
    from weakseg.data.augmentation import strong_view_pipeline
    from weakseg.learn.tile_data import TileDataset

    images = np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    tiles = TileDataset(tmp_path / "images.npy", None, [0, 1], None, seed=3, strong_view=strong_view_pipeline(3))
    item = tiles[(1, 0, 0)]
    assert item["strong_view"].shape == item["image"].shape == (3, 32, 32)
    assert not torch.equal(item["strong_view"], item["image"])  # another view ...
    assert torch.equal(item["image"], torch.from_numpy(images[0].transpose(2, 0, 1)))  # ... of the same weak view
    assert torch.equal(tiles[(1, 0, 0)]["strong_view"], item["strong_view"])  # seeded by (seed, epoch, draw)
    assert not torch.equal(tiles[(2, 0, 0)]["strong_view"], item["strong_view"])


def _consistency_batches():
    """A strong batch of 2 tiles and a weak batch of 2, with hand-made logits per part."""
    image = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    strong = {"image": image, "mask": torch.zeros(2, 4, 4, dtype=torch.int64)}
    weak = {"image": image + 1, "strong_view": image + 2, "weak_label": torch.full((2, 3), 1 / 3)}
    return [strong, weak]


def test_the_pseudo_label_comes_from_the_weak_view_and_trains_the_strong_view():
    batches = _consistency_batches()
    strong = torch.zeros(2, 3, 4, 4)
    weak = torch.zeros(2, 3, 4, 4)
    weak[:, 2] = 10.0  # the weak view says class 2, confidently
    view = torch.zeros(2, 3, 4, 4, requires_grad=True)
    options = {"threshold": 0.95, "weight": 2.0, "ema": 0.0, "cutmix": 0.0}
    context = {"options": options, "extras": {}, "weak_label": False, "pixel_loss": lambda logits, masks: 0.0}
    loss = CONSISTENCY.step_loss([strong, weak, view], batches, None, context)
    # by hand: uniform student logits on the strong view -> CE = log 3 at every pixel, all above the threshold
    assert float(loss.detach()) == pytest.approx(2.0 * np.log(3), rel=1e-6)
    loss.backward()
    assert view.grad[:, 2].sum() < 0 < view.grad[:, 0].sum()  # pushed towards the weak view's class
    weak[:, 2] = 0.5  # no longer confident: nothing is trained
    assert float(CONSISTENCY.step_loss([strong, weak, view], batches, None, context).detach()) == 0.0


def test_consistency_is_fixmatch_s_masked_cross_entropy_averaged_over_every_pixel():
    teacher = torch.zeros(1, 2, 1, 2)
    teacher[0, 0, 0, 0], teacher[0, 1, 0, 1] = 10.0, 0.1  # pixel 0 confident (class 0), pixel 1 not
    student = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]]]])
    expected = -np.log(np.exp(1) / (np.exp(1) + 1)) / 2  # CE of pixel 0 to class 0; pixel 1 adds 0
    assert float(consistency_loss(student, teacher, 0.95)) == pytest.approx(expected, rel=1e-6)


def test_cutmix_pastes_the_same_box_into_the_view_and_the_teacher_s_target():
    batches = _consistency_batches()
    batches[1]["strong_view"] = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    before = batches[1]["strong_view"].clone()
    CONSISTENCY.prepare_step(batches, {"cutmix": 1.0}, torch.Generator().manual_seed(0))
    top, left, h, w = box = batches[1]["cutmix_box"]
    mixed = batches[1]["strong_view"]
    assert torch.equal(mixed[0, :, top : top + h, left : left + w], before[1, :, top : top + h, left : left + w])
    assert torch.equal(mixed, paste_box(before, before.roll(1, dims=0), box))
    outside = torch.ones(8, 8, dtype=torch.bool)
    outside[top : top + h, left : left + w] = False
    assert torch.equal(mixed[0][:, outside], before[0][:, outside])


def test_the_ema_teacher_follows_mean_teacher_s_formula():
    student, teacher = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    before = [p.detach().clone() for p in teacher.parameters()]
    ema_update(teacher, student, 0.9)
    for t, b, s in zip(teacher.parameters(), before, student.parameters(), strict=True):
        assert torch.allclose(t, 0.9 * b + 0.1 * s.detach())
    extras = CONSISTENCY.extra_modules(student, {"ema": 0.99})
    assert not any(p.requires_grad for p in extras["teacher"].parameters())
    assert CONSISTENCY.extra_modules(student, {"ema": 0.0}) == {}


# ---------------------------------------------------------------- pseudo-masks refined by the weak label


def test_presence_tags_suppress_the_absent_classes():
    p = np.array([[[0.5]], [[0.3]], [[0.2]]])
    refined = get_weak_kind("presence").refine(p, np.array([1.0, 0.0, 1.0]), {})
    assert np.allclose(refined[:, 0, 0], [0.5 / 0.7, 0.0, 0.2 / 0.7])
    assert np.array_equal(suppress(p, np.zeros(3, bool)), p)  # an empty label says nothing


def test_label_proportions_rescale_the_priors_until_the_shares_match():
    p = np.full((2, 2, 2), 0.5)  # a teacher that knows nothing: 0.5 / 0.5 at every pixel
    refined = get_weak_kind("proportions").refine(p, np.array([0.75, 0.25]), {})
    assert np.allclose(refined[0], 0.75) and np.allclose(refined[1], 0.25)  # by hand: w = (3, 1)
    assert np.array_equal(pseudo_mask(refined, 0.7), np.zeros((2, 2), np.uint8))
    skewed = np.stack([np.array([[0.9, 0.6], [0.4, 0.2]]), 1 - np.array([[0.9, 0.6], [0.4, 0.2]])])
    matched = match_shares(skewed, np.array([0.25, 0.75]))
    assert np.allclose(matched.reshape(2, -1).mean(axis=1), [0.25, 0.75], atol=1e-6)


def test_size_bounds_move_a_share_into_its_interval_and_leave_one_inside_alone():
    p = np.full((2, 2, 2), 0.5)
    label = np.array([0.6, 0.0, 0.8, 1.0])  # class a in [0.6, 0.8], class b in [0, 1]
    refined = get_weak_kind("size_bounds").refine(p, label, {})
    assert np.allclose(refined.reshape(2, -1).mean(axis=1), [0.6 / 1.1, 0.5 / 1.1], atol=1e-6)
    inside = within_bounds(p, np.array([0.4, 0.4]), np.array([0.6, 0.6]))
    assert np.allclose(inside, p)


def test_a_pseudo_mask_ignores_the_unsure_pixels_and_keeps_the_labelled_ones():
    p = np.array([[[0.9, 0.55]], [[0.1, 0.45]]])  # pixel 0: class 0 at 0.9; pixel 1: class 0 at 0.55
    points = np.array([[IGNORE_INDEX, 1]], np.uint8)  # a point says pixel 1 is class 1
    assert pseudo_mask(p, 0.7).tolist() == [[0, IGNORE_INDEX]]
    assert pseudo_mask(p, 0.7, points).tolist() == [[0, 1]]


# ---------------------------------------------------------------- the positive control


def test_the_positive_control_is_the_mask_and_a_method_that_cannot_use_it_is_said_to_fail():
    mask = np.array([[0, 1], [255, 2]], np.uint8)
    kind = get_weak_kind("all_pixels")
    assert kind.positive_control and np.array_equal(kind.label_mask(mask, 3, {}, np.random.default_rng(0)), mask)
    row = {"positive_control": True, "kind": "all_pixels", "strong_fraction": "0.1", "comparison": None}
    rows = [
        {**row, "method": "good", "gap": Ratio(0.95, 0.7, 1.2, 4), "reference": "strong_only"},
        {**row, "method": "broken", "gap": Ratio(0.3, 0.1, 0.5, 4), "reference": "strong_only"},
        {**row, "method": "unknown", "gap": Ratio(0.5, -np.inf, np.inf, 4), "reference": "strong_only"},
        {**row, "method": "compute", "gap": Ratio(1.5, 1.1, 2.8, 4), "reference": "matched_joint",
         "comparison": SimpleNamespace(difference=SimpleNamespace(interval=SimpleNamespace(mean=0.005)),
                                       p_holm=1.0, verdict="no difference")},
    ]  # fmt: skip
    good, broken, unknown, compute = positive_control_sentences(rows)
    assert "95% of the gap" in good and "consistent with closing nearly all" in good
    assert "FAILS the positive control" in broken and "at most 50%" in broken
    assert "cannot judge" in unknown
    assert "compute-matched control matched_joint: +0.005 mIoU, Holm p = 1 (no difference)" in compute
    assert "full is not an upper bound for this method's compute" in compute


# ---------------------------------------------------------------- no training reads a weak tile's mask


def _tiny_folder(folder: Path, scrambled: bool, kind: str) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    masks = np.zeros((8, 32, 32), dtype=np.uint8)
    masks[:, :, 11:22], masks[:, :, 22:] = 1, 2
    np.save(folder / "images.npy", (masks[..., None] * 80 + rng.integers(0, 20, (8, 32, 32, 3))).astype(np.uint8))
    np.save(folder / "masks.npy", masks)
    _split_folder(folder, scrambled, kind)
    return folder


def _train(folder: Path, variant: str, kind: str, out: str, pseudo_masks: Path | None = None, epochs: int = 1):
    import dataclasses

    from conftest import training_files

    from weakseg.learn.tile_data import load_training_data
    from weakseg.learn.training import train

    files = _with_weak_masks(training_files(folder, folder / "weak.csv"))
    files = dataclasses.replace(files, pseudo_masks=pseudo_masks)
    data = load_training_data(
        VARIANTS[variant], "0.25", files, class_names=CLASSES, seed=0, weak_kind=get_weak_kind(kind)
    )
    settings = {**_settings(epochs, "last", VARIANTS[variant].mode), "variant": variant}
    settings["training"].update(weak_kind=kind, weak_options=_kind_options(kind))
    method = VARIANTS[variant].method
    if method is not None and get_method(method).has_options:
        options = {"threshold": 0.3, "weight": 1.0, "ema": 0.5, "cutmix": 1.0, "confidence": 0.4}
        settings["training"].update(method=method, method_options=options)
    train(data, settings, run_files(folder / out))
    return torch.load(folder / out / "model.pt", weights_only=False)["state_dict"]


def _pseudo_student(folder: Path, kind: str):
    """Teacher joint[kind] -> refined pseudo-masks -> student: the whole pseudo-mask path."""
    from weakseg.learn.pseudo_labels import WeakTiles, write_pseudo_masks

    _train(folder, "joint", kind, "teacher")
    weak_masks = folder / "weak_masks.npy"
    weak = WeakTiles(
        get_weak_kind(kind),
        _kind_options(kind),
        folder / "images.npy",
        folder / "tiles.csv",
        folder / "splits.json",
        folder / "weak.csv",
        "0.25",
        weak_masks if weak_masks.exists() else None,
    )
    write_pseudo_masks(folder / "teacher/model.pt", weak, folder / "pseudo.npy", 0.4, torch.device("cpu"))
    return _train(folder, "pseudo_masks", kind, "student", folder / "pseudo.npy")


@pytest.mark.parametrize(
    "kind, path",
    [("proportions", "consistency"), ("unlabelled", "consistency"), ("points", "pseudo"), ("boxes", "pseudo")],
)
def test_the_new_methods_never_read_the_masks_of_weak_tiles(tmp_path, kind, path):
    """Weak tiles' masks scrambled after the weak-label stages: bit-identical weights, pseudo-mask stage included."""
    weights = []
    for scrambled in (False, True):
        folder = _tiny_folder(tmp_path / f"scrambled-{scrambled}", scrambled, kind)
        weights.append(_pseudo_student(folder, kind) if path == "pseudo" else _train(folder, path, kind, "run"))
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


class _Preempted(Exception):
    """Raised after an epoch's checkpoint, as a preemption that kills the job there."""


def test_a_resumed_consistency_run_with_an_ema_teacher_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    """The EMA teacher (Mean Teacher), the strong views' draws and the CutMix boxes resume with the run."""
    import weakseg.learn.training as training

    folder = _tiny_folder(tmp_path / "tiles", False, "proportions")
    whole = _train(folder, "consistency", "proportions", "whole", epochs=2)
    save_epoch = training.save_epoch

    def save_then_stop(*args, **kwargs):
        save_epoch(*args, **kwargs)
        raise _Preempted

    monkeypatch.setattr(training, "save_epoch", save_then_stop)
    with pytest.raises(_Preempted):
        _train(folder, "consistency", "proportions", "run", epochs=2)
    checkpoint = torch.load(folder / "run/resume/checkpoint.pt", weights_only=False)
    assert checkpoint["epoch"] == 1 and "teacher" in checkpoint["extras"]
    monkeypatch.setattr(training, "save_epoch", save_epoch)
    resumed = _train(folder, "consistency", "proportions", "run", epochs=2)
    for name, value in whole.items():
        assert torch.equal(value, resumed[name]), name


# ---------------------------------------------------------------- the seam: a method is one module + an entry


def test_a_method_is_one_module_and_one_registry_entry(tmp_path):
    """A test-only method (its own variant and step) is planned, and its step runs, with nothing else changed."""
    (tmp_path / "doubled.py").write_text(
        textwrap.dedent(
            """
            from weakseg.methods.method import Method, Variant

            class Doubled(Method):
                name, title, verb, arm = "doubled", "doubled joint", "doubled joint training with", "doubled"
                variants = (
                    Variant("doubled", ("strong",), ("weak",), "training", None, True, "test", method="doubled"),
                )

                def step_loss(self, parts, batches, base_loss, context):
                    return 2 * super().step_loss(parts, batches, base_loss, context)

            DOUBLED = Doubled()
            """
        )
    )
    script = textwrap.dedent(
        f"""
        import sys, torch, yaml
        sys.path[:0] = [{str(tmp_path)!r}, {str(REPO)!r}]
        from weakseg.methods import METHODS
        METHODS["doubled"] = "doubled:DOUBLED"
        from weakseg.design.experiment import planned_runs
        from weakseg.ops.config import schema_defaults
        from weakseg.learn.steps import Step, loss_functions
        from weakseg.methods import get_method
        config = schema_defaults(yaml.safe_load(open({str(REPO / "schemas/config.schema.yaml")!r})))
        config["experiment"]["methods"] = ["pretrain_finetune", "doubled"]
        arms = sorted({{(r.variant, r.weak_kind) for r in planned_runs(config)}})
        print(arms)
        cfg = {{"loss": "cross_entropy", "weak_kind": "proportions", "weak_options": {{"loss": "cross_entropy"}},
               "joint_weight": 1.0}}
        base, _, pixel = loss_functions("joint", cfg)
        batches = [{{"image": torch.zeros(1, 3, 8, 8), "mask": torch.zeros(1, 8, 8, dtype=torch.int64)}},
                   {{"image": torch.zeros(1, 3, 8, 8), "weak_label": torch.tensor([[0.5, 0.5, 0, 0, 0, 0]])}}]
        model = torch.nn.Conv2d(3, 6, 1)
        cpu = torch.device("cpu")
        plain = Step(get_method("joint"), {{}}, base, pixel, True, 0)(model, batches, cpu, {{}}, 1, 0)
        doubled = Step(get_method("doubled"), {{}}, base, pixel, True, 0)(model, batches, cpu, {{}}, 1, 0)
        print(float(doubled / plain))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    arms, ratio = out.strip().splitlines()
    assert arms == str(sorted({("doubled", "proportions"), ("full", "none"), ("strong_only", "none"),
                               ("weak_finetuned", "proportions")}))  # fmt: skip
    assert float(ratio) == pytest.approx(2.0)


def test_runs_without_a_method_step_take_the_plain_step_of_their_mode():
    cfg = {"loss": "cross_entropy", "weak_kind": "proportions", "weak_options": {"loss": "cross_entropy"}}
    base, _, pixel = loss_functions("strong", cfg)
    step = Step(get_method("joint").__class__.__mro__[1](), {}, base, pixel, True, 0)
    model = torch.nn.Conv2d(3, 2, 1)
    batch = {"image": torch.ones(2, 3, 4, 4), "mask": torch.ones(2, 4, 4, dtype=torch.int64)}
    expected = torch.nn.functional.cross_entropy(model(batch["image"]), batch["mask"])
    assert torch.allclose(step(model, [batch], torch.device("cpu"), {}, 1, 0), expected)


def test_classes_no_run_learned_are_named_and_only_those():
    from weakseg.report.results import unlearned_classes

    rows = [
        {"iou_a": 0.5, "iou_b": 0.0, "iou_c": 0.0, "iou_d": float("nan")},
        {"iou_a": 0.4, "iou_b": 0.0, "iou_c": 0.01, "iou_d": float("nan")},
    ]
    assert unlearned_classes(rows, ["a", "b", "c", "d"]) == ["b"]  # c was learned once; d is absent (NaN)


def test_the_miou_over_the_classes_the_upper_bound_learns_leaves_out_only_those_it_never_learns():
    from weakseg.report.results import LEARNED_MIOU, upper_bound_classes, with_learned_miou

    rows = [
        {"variant": "full", "iou_a": 0.6, "iou_b": 0.0, "iou_c": 0.0},
        {"variant": "full", "iou_a": 0.5, "iou_b": 0.1, "iou_c": 0.0},
        {"variant": "strong_only", "iou_a": 0.4, "iou_b": 0.2, "iou_c": 0.3},  # c is learned here, not by full
    ]
    classes = upper_bound_classes(rows, ["a", "b", "c"])
    assert classes == ["a", "b"]
    assert [r[LEARNED_MIOU] for r in with_learned_miou(rows, classes)] == pytest.approx([0.3, 0.3, 0.3])
