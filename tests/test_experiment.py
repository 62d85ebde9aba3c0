"""The experiment design: which runs a configuration asks for, what each depends on, nested splits."""

import copy
from pathlib import Path

import pytest
import yaml
from conftest import grid_tiles

from weakseg.data.splitting import split_tiles
from weakseg.design.experiment import VARIANTS, Run, check_experiment, init_run, planned_runs, run_settings
from weakseg.formats.splits import sets_at_fraction
from weakseg.io.errors import WeaksegError

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow_config.yaml").read_text())


def config_with(**experiment) -> dict:
    config = copy.deepcopy(CONFIG)
    config["experiment"].update(experiment)
    return config


def test_default_config_plans_five_variants_times_three_seeds():
    runs = planned_runs(CONFIG)
    assert len(runs) == 15
    assert {r.variant for r in runs} == set(VARIANTS)
    assert {r.fraction for r in runs if r.variant == "full"} == {"all"}
    assert {r.fraction for r in runs if r.variant != "full"} == {"0.1"}


def test_strong_fractions_multiply_every_variant_but_full():
    runs = planned_runs(config_with(strong_fractions=[0.05, 0.1, 0.2]))
    assert len(runs) == 3 * (4 * 3 + 1)


def test_a_grid_adds_one_run_per_point_and_seed_of_the_grid_variants():
    grid = {"training.lr": [0.001, 0.002, 0.005], "training.batch_size": [8, 16]}
    runs = planned_runs(config_with(grid=grid))
    points = [r for r in runs if r.point != "default"]
    assert len(runs) == 15 + 3 * 6 and len(points) == 18
    assert {r.variant for r in points} == {"strong_only"}
    settings = run_settings(config_with(grid=grid), points[0])
    assert (settings["training"]["lr"], settings["training"]["batch_size"]) == (0.001, 8)
    assert points[0].point == "training.lr~0.001,training.batch_size~8"


def test_each_run_depends_on_its_own_config_section_only():
    config = config_with(grid={})
    edited = copy.deepcopy(config)
    edited["training"]["lr"] = 0.01
    changed = {r.variant for r in planned_runs(config) if run_settings(config, r) != run_settings(edited, r)}
    assert changed == {"strong_only", "weak_finetuned", "joint", "full"}
    edited = copy.deepcopy(config)
    edited["pretraining"]["lr"] = 0.01
    changed = {r.variant for r in planned_runs(config) if run_settings(config, r) != run_settings(edited, r)}
    assert changed == {"weak_only"}  # weak_finetuned reruns through its input, weak_only's model.pt
    joint = run_settings(config, Run("joint", "0.1", 0))["training"]
    assert joint["joint_weight"] == config["experiment"]["joint_weight"] and joint["weak_loss"] == "cross_entropy"
    assert joint["weak_kind"] == "proportions"
    assert "weak_kind" not in run_settings(config, Run("strong_only", "0.1", 0))["training"]
    assert run_settings(config, Run("strong_only", "0.1", 2))["training"]["seed"] == 2


def test_weak_finetuned_starts_from_weak_only_of_the_same_fraction_seed_and_point():
    assert init_run(Run("weak_finetuned", "0.05", 2, "p")) == Run("weak_only", "0.05", 2, "p")
    assert init_run(Run("strong_only", "0.05", 2)) is None


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
