"""The experiment design: which runs a configuration asks for, what each depends on, nested splits."""

import copy
import re
from pathlib import Path

import pytest
import yaml
from conftest import grid_tiles

from weakseg.data.splitting import split_tiles
from weakseg.design.checks import check_experiment
from weakseg.design.experiment import (
    NO_WEAK,
    VARIANTS,
    Run,
    init_run,
    planned_runs,
    run_settings,
    selected_variants,
    uses_weak_labels,
)
from weakseg.formats.splits import sets_at_fraction
from weakseg.io.errors import WeaksegError

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow_config.yaml").read_text())


def config_with(**experiment) -> dict:
    config = copy.deepcopy(CONFIG)
    config["experiment"].update(experiment)
    return config


def test_default_config_plans_every_variant_times_every_seed_with_label_proportions():
    runs = planned_runs(CONFIG)
    variants, seeds = selected_variants(CONFIG), CONFIG["experiment"]["seeds"]
    assert variants == ["strong_only", "full", "weak_finetuned"]  # the variants, then each method's arm
    assert len(runs) == len(seeds) * len(variants)
    assert {r.variant for r in runs} == set(variants)
    assert {r.strong_fraction for r in runs if r.variant == "full"} == {"all"}
    assert {r.strong_fraction for r in runs if r.variant != "full"} == {"0.1"}
    assert {r.weak_kind for r in runs if uses_weak_labels(r.variant)} == {"proportions"}
    assert {r.weak_kind for r in runs if not uses_weak_labels(r.variant)} == {NO_WEAK}


def test_strong_fractions_multiply_every_variant_but_full():
    runs = planned_runs(config_with(strong_fractions=[0.05, 0.1, 0.2]))
    per_fraction = len(selected_variants(CONFIG)) - 1
    assert len(runs) == len(CONFIG["experiment"]["seeds"]) * (3 * per_fraction + 1)


ALL_VARIANTS = list(VARIANTS)
ALL_KINDS = ["proportions", "noisy_proportions", "presence", "size_bounds", "points", "unlabelled"]


def test_every_kind_and_control_plans_exactly_the_expected_runs():
    runs = planned_runs(config_with(variants=ALL_VARIANTS, weak_kinds=ALL_KINDS, seeds=[0, 1]))
    # Per seed: 6 runs without weak labels (strong_only, strong_only_long, the three matched_<method> controls,
    # full); five kinds with labels x the
    # four variants that train on them or start from them alone (weak_only, weak_finetuned, shuffled_weak_only,
    # shuffled_labels); six kinds x the three joint-mode arms (joint, consistency, pseudo_masks; unlabelled
    # trains in joint mode only).
    assert len(runs) == 2 * (6 + 5 * 4 + 6 * 3)
    assert {r.variant for r in runs if r.weak_kind == "unlabelled"} == {"joint", "consistency", "pseudo_masks"}
    assert len(set(runs)) == len(runs)
    for run in runs:
        assert Run.parse(f"results/models/{run.path}") == run


def test_adding_a_kind_plans_only_its_runs():
    before = set(planned_runs(config_with(weak_kinds=["proportions"])))
    after = set(planned_runs(config_with(weak_kinds=["proportions", "presence"])))
    assert before < after
    added = after - before
    assert {r.weak_kind for r in added} == {"presence"}
    assert {r.variant for r in added} == {v for v in selected_variants(CONFIG) if uses_weak_labels(v)}
    # ... and the settings of the runs both plans share are unchanged, so nothing of them reruns.
    config_a, config_b = config_with(weak_kinds=["proportions"]), config_with(weak_kinds=["proportions", "presence"])
    assert all(run_settings(config_a, r) == run_settings(config_b, r) for r in before)


def test_a_kind_option_reruns_only_the_runs_of_that_kind():
    config = config_with(weak_kinds=["proportions", "presence"], variants=ALL_VARIANTS)
    edited = copy.deepcopy(config)
    edited["weak_labels"]["presence"]["r"] = 9.0
    changed = {
        (r.variant, r.weak_kind) for r in planned_runs(config) if run_settings(config, r) != run_settings(edited, r)
    }
    # The runs that train on presence tags; the fine-tuned ones rerun through the model they start from.
    assert changed == {
        ("weak_only", "presence"),
        ("shuffled_weak_only", "presence"),
        ("joint", "presence"),
        ("consistency", "presence"),
        ("pseudo_masks", "presence"),
    }


def test_a_grid_adds_one_run_per_point_and_seed_of_the_grid_variants():
    grid = {"training.lr": [0.001, 0.002, 0.005], "training.batch_size": [8, 16]}
    runs = planned_runs(config_with(grid=grid))
    points = [r for r in runs if r.point != "default"]
    seeds = len(CONFIG["experiment"]["seeds"])
    assert len(runs) == seeds * len(selected_variants(CONFIG)) + seeds * 6 and len(points) == seeds * 6
    assert {r.variant for r in points} == {"strong_only"}
    settings = run_settings(config_with(grid=grid), points[0])
    assert (settings["training"]["lr"], settings["training"]["batch_size"]) == (0.001, 8)
    assert points[0].point == "training.lr~0.001,training.batch_size~8"


def test_each_run_depends_on_its_own_config_section_only():
    config = config_with(grid={}, variants=ALL_VARIANTS)
    edited = copy.deepcopy(config)
    edited["training"]["lr"] = 0.01
    changed = {r.variant for r in planned_runs(config) if run_settings(config, r) != run_settings(edited, r)}
    assert changed == {
        "strong_only",
        "strong_only_long",
        "weak_finetuned",
        "shuffled_labels",
        "matched_joint",
        "joint",
        "matched_consistency",
        "consistency",
        "matched_pseudo_masks",
        "pseudo_masks",
        "full",
    }
    edited = copy.deepcopy(config)
    edited["pretraining"]["lr"] = 0.01
    changed = {r.variant for r in planned_runs(config) if run_settings(config, r) != run_settings(edited, r)}
    assert changed == {"weak_only", "shuffled_weak_only"}  # the fine-tuned ones rerun through their input
    edited["pretraining"]["epochs"] += 1  # and the compute-matched control follows the pretraining length
    changed = {r.variant for r in planned_runs(config) if run_settings(config, r) != run_settings(edited, r)}
    assert changed == {"weak_only", "shuffled_weak_only", "strong_only_long"}
    joint = run_settings(config, Run("joint", "0.1", 0, weak_kind="proportions"))["training"]
    assert joint["joint_weight"] == config["experiment"]["joint_weight"]
    assert joint["weak_kind"] == "proportions" and joint["weak_options"] == {"loss": "cross_entropy"}
    assert "weak_kind" not in run_settings(config, Run("strong_only", "0.1", 0))["training"]
    assert run_settings(config, Run("strong_only", "0.1", 2))["training"]["seed"] == 2
    shuffled = run_settings(config, Run("shuffled_weak_only", "0.1", 0, weak_kind="proportions"))["training"]
    assert shuffled["shuffled_weak_labels"] is True


@pytest.mark.parametrize("pre_steps", [8, 5])
def test_the_compute_matched_control_takes_at_least_the_steps_of_pretraining_plus_finetuning(pre_steps):
    config = copy.deepcopy(CONFIG)
    config["pretraining"]["steps_per_epoch"] = pre_steps
    long = run_settings(config, Run("strong_only_long", "0.1", 0))["training"]
    pre, fine = config["pretraining"], config["training"]
    target = pre["epochs"] * pre["steps_per_epoch"] + fine["epochs"] * fine["steps_per_epoch"]
    steps = long["epochs"] * long["steps_per_epoch"]
    assert target <= steps < target + fine["steps_per_epoch"]
    assert (steps == target) == (pre_steps == fine["steps_per_epoch"])
    assert {k: v for k, v in long.items() if k != "epochs"} == {
        k: v for k, v in run_settings(config, Run("strong_only", "0.1", 0))["training"].items() if k != "epochs"
    }


def test_weak_finetuned_starts_from_weak_only_of_the_same_kind_fraction_seed_and_point():
    assert init_run(Run("weak_finetuned", "0.05", 2, "p", "presence")) == Run("weak_only", "0.05", 2, "p", "presence")
    assert init_run(Run("shuffled_labels", "0.05", 2, weak_kind="points")) == Run(
        "shuffled_weak_only", "0.05", 2, weak_kind="points"
    )
    assert init_run(Run("strong_only", "0.05", 2)) is None


def test_a_study_of_only_unlabelled_tiles_refuses_variants_that_cannot_use_them():
    with pytest.raises(WeaksegError, match="weak_finetuned.*can train on none"):
        check_experiment(config_with(weak_kinds=["unlabelled"], variants=["strong_only", "weak_finetuned"]))
    check_experiment(config_with(weak_kinds=["unlabelled"], variants=["strong_only", "joint"]))


@pytest.mark.parametrize(
    "experiment,fragment",
    [
        ({"variants": ["nope"]}, "experiment.variants"),
        ({"grid_variants": ["nope"]}, "experiment.grid_variants"),
        ({"strong_fractions": [0.85]}, "experiment.strong_fractions"),
        ({"grid": {"lr": [0.1]}}, "experiment.grid"),
        ({"grid": {"training.nope": [0.1]}}, "training.nope"),
    ],
)
def test_bad_experiment_settings_name_the_key(experiment, fragment):
    with pytest.raises(WeaksegError, match=fragment):
        check_experiment(config_with(**experiment))


def test_test_share_gives_four_disjoint_sets_and_nested_strong_sets():
    tiles = [t for s in range(4) for t in grid_tiles(f"scene{s}", 320, 320, 32, 32)]  # 400 tiles
    fractions = {"strong": 0.1, "weak": 0.6, "val": 0.15, "test": 0.15}
    splits = split_tiles(tiles, 32, 32, fractions, group_by="tile", seed=3)
    owner = {}
    for name, ids in splits["sets"].items():
        for tile in ids:
            assert tile not in owner, f"{tile} in {owner[tile]} and {name}"
            owner[tile] = name
    assert set(owner) == {t.tile_id for t in tiles}
    assert abs(len(splits["sets"]["test"]) - 60) <= 1 and abs(len(splits["sets"]["val"]) - 60) <= 1
    previous = set()
    for fraction in (0.05, 0.1, 0.2, 0.4):
        sets = sets_at_fraction(splits, fraction)
        assert previous <= set(sets["strong"]), fraction  # nested
        assert abs(len(sets["strong"]) - fraction * 400) <= 1
        assert sets["val"] == splits["sets"]["val"] and sets["test"] == splits["sets"]["test"]
        assert set(sets["strong"]) | set(sets["weak"]) == set(splits["pool"])
        assert not set(sets["strong"]) & set(sets["weak"])
        previous = set(sets["strong"])
    assert sets_at_fraction(splits, 0.1) == {k: splits["sets"][k] for k in ("strong", "weak", "val", "test")}
    assert set(sets_at_fraction(splits, "all")["strong"]) == set(splits["pool"])


def test_weak_tiles_touching_a_strong_tile_sit_out_at_that_fraction():
    tiles = [t for s in range(6) for t in grid_tiles(f"scene{s}", 200, 200, 32, 16)]
    splits = split_tiles(
        tiles, 32, 16, {"strong": 0.1, "weak": 0.7, "val": 0.2}, group_by="block", block_size=2, seed=1
    )
    position = {t.tile_id: t for t in tiles}
    for fraction in (0.1, 0.3):
        sets = sets_at_fraction(splits, fraction)
        for a in sets["strong"]:
            for b in sets["weak"]:
                ta, tb = position[a], position[b]
                assert ta.scene != tb.scene or abs(ta.y - tb.y) >= 32 or abs(ta.x - tb.x) >= 32, (a, b)
    with pytest.raises(WeaksegError, match="strong fraction 0.0001"):
        sets_at_fraction(splits, 0.0001)


def test_weak_runs_on_eroded_labels_get_a_warning_and_complete_labels_none():
    from weakseg.ops.config import config_warnings

    eroded = copy.deepcopy(CONFIG)
    eroded["dataset"].update(name="vaihingen", labels="eroded")
    assert any("under-state classes with long borders" in w for w in config_warnings(eroded))
    eroded["experiment"].update(variants=["strong_only", "full"], methods=[])
    assert config_warnings(eroded) == []
    assert config_warnings(CONFIG) == []


def test_a_split_far_from_the_nominal_strong_share_is_warned_about():
    from weakseg.ops.stages.split import strong_share_warning

    splits = {"sets": {"strong": ["t"] * 13}, "n_tiles": 1000, "n_groups": 4}
    assert "realised 1.3% strong tiles for a nominal 10%" in strong_share_warning(splits, 0.1)
    splits["sets"]["strong"] = ["t"] * 95
    assert strong_share_warning(splits, 0.1) is None


@pytest.mark.parametrize(
    "section, key, where",
    [("pretraining", "loss", "weak_labels.<kind>.loss"), ("experiment", "weak_kind", "experiment.weak_kinds")],
)
def test_a_key_of_an_earlier_config_names_where_it_moved(section, key, where):
    from weakseg.ops.config import check_moved_keys

    config = copy.deepcopy(CONFIG)
    config[section][key] = "proportions"
    with pytest.raises(WeaksegError, match=f"config {section}.{key}: this key moved to {re.escape(where)}"):
        check_moved_keys(config)
    check_moved_keys(CONFIG)


def test_point_labels_refuse_offline_copies_that_would_misplace_them():
    from weakseg.ops.config import check_weak_kinds

    config = config_with(weak_kinds=["proportions", "points"])
    config["augment"]["offline_copies"] = 2
    with pytest.raises(WeaksegError, match="augment.offline_copies.*points.*tied to pixels"):
        check_weak_kinds(config)
    config["experiment"]["weak_kinds"] = ["proportions", "presence"]
    check_weak_kinds(config)


@pytest.mark.parametrize("method", ["pretrain_finetune", "joint", "consistency", "pseudo_masks"])
def test_each_method_s_control_takes_as_many_steps_and_images_as_its_arm(method):
    from weakseg.design.compute import run_compute
    from weakseg.methods import get_method

    arm, control = get_method(method).arm, get_method(method).compute_control
    for config in (CONFIG, config_with(grid={})):
        assert run_compute(config, Run(control, "0.1", 0)) == run_compute(
            config, Run(arm, "0.1", 0, weak_kind="points")
        )
    # by hand, at the defaults (8 x 8 steps of 16 tiles; pretraining 6 x 8): joint 64 steps of 32 images,
    # consistency 64 of 48 (the strong view), pseudo-masks 128 of 32 (teacher and student), pretraining 112 of 16
    expected = {"pretrain_finetune": (112, 16), "joint": (64, 32), "consistency": (64, 48), "pseudo_masks": (128, 32)}
    steps, per_step = expected[method]
    assert run_compute(CONFIG, Run(control, "0.1", 0)).images == steps * per_step
    assert run_settings(CONFIG, Run(control, "0.1", 0))["training"]["batch_size"] == per_step
