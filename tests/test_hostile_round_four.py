"""Hostile input, round four: each case a red team found getting through, now refused or handled.

Stale or overwritten predictions, NaN that became a class, georeferencing that was lost, labels
and settings that degenerate quietly; every refusal names the file, key or value and the fix.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import REPO, assert_failed_cleanly, run_stage, write_tiles_csv

from weakseg.formats.tiles import Tile
from weakseg.io.errors import WeaksegError
from weakseg.ops.config import check_config


def _config(**changes) -> dict:
    """The default config (schema defaults are in workflow_config.yaml) with ``section.key[.key]`` values set."""
    config = yaml.safe_load((REPO / "workflow_config.yaml").read_text())
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        node = config
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return config


# --------------------------------------------------------------------------- resources


@pytest.mark.parametrize(
    "key,value,fragments",
    [
        ("resources.rules.train.mem_mb", -1000, ["resources.rules.train.mem_mb", "-1000", "at least 1 (MB)"]),
        ("resources.rules.train.mem_mb", 0, ["resources.rules.train.mem_mb", "--mem=0", "whole node"]),
        ("resources.rules.train.mem_bm", 8000, ["resources.rules.train.mem_bm", "did you mean 'mem_mb'"]),
        ("resources.job_defaults.gpu_lease", "x", ["resources.job_defaults.gpu_lease", "resources.gpus"]),
        ("resources.job_defaults.runtime", "long", ["resources.job_defaults.runtime", "'long'", "(minutes)"]),
    ],
    ids=["negative-mem", "zero-mem", "misspelt-mem", "reserved-gpu-lease", "text-runtime"],
)
def test_resources_no_job_can_honour_are_refused_naming_the_key(key, value, fragments):
    config = _config(**{key: value})
    with pytest.raises(WeaksegError) as raised:
        check_config(config)
    for fragment in fragments:
        assert fragment in str(raised.value), str(raised.value)


def test_resources_of_other_executors_and_the_defaults_pass():
    check_config(_config(**{"resources.rules.train.googlebatch_image": "x", "resources.rules.train.gpu": 0}))


def test_editing_resources_does_not_change_the_report_params():
    """The report job's params held the whole config, so a mem_mb edit reran it."""
    from weakseg.ops.stages import get_stage

    stage = get_stage("report")
    before = stage.call_json(_config(), None)
    after = stage.call_json(_config(**{"resources.rules.train.mem_mb": 64000}), None)
    assert before == after and "mem_mb" not in before
    assert stage.call_json(_config(**{"training.epochs": 3}), None) != before


# --------------------------------------------------------------------------- weak labels


def test_a_rounding_step_that_overflows_is_refused_by_the_config_check():
    config = _config(**{"weak_labels.noisy_proportions.step": 1e-310, "experiment.weak_kinds": ["noisy_proportions"]})
    with pytest.raises(WeaksegError, match=r"weak_labels.noisy_proportions.step: 1e-310 is finer than 0.001"):
        check_config(config)


def _weak_label_stage(tmp_path, kind: str, options: dict):
    """The weak_labels stage on 4 constructed 8x8 tiles (3 weak, 1 strong); returns the result and its outputs."""
    masks = np.zeros((4, 8, 8), np.uint8)
    masks[:, :, 4:] = 1  # two classes, half each
    masks[3] = 2
    np.save(tmp_path / "masks.npy", masks)
    tiles = [Tile(f"s_y{i:05d}_x00000", "s", i * 8, 0, 1.0) for i in range(4)]
    write_tiles_csv(tmp_path / "tiles.csv", tiles)
    sets = {"strong": [tiles[3].tile_id], "weak": [t.tile_id for t in tiles[:3]], "val": []}
    (tmp_path / "splits.json").write_text(json.dumps({"sets": sets}))
    outputs = {"labels": tmp_path / "out" / "weak_labels.csv", "summary": tmp_path / "out" / "summary.csv"}
    result = run_stage(
        "weak_labels",
        {"dataset": "vaihingen", "kind": kind, "options": options, "seed": 0, "split_seed": 0},
        {"masks": tmp_path / "masks.npy", "tiles": tmp_path / "tiles.csv", "splits": tmp_path / "splits.json"},
        outputs,
    )
    return result, list(outputs.values())


def test_weak_labels_that_overflow_to_nan_are_refused_and_nothing_is_written(tmp_path):
    """Before: the job succeeded with rows of NaN, and training blamed the learning rate."""
    result, outputs = _weak_label_stage(tmp_path, "noisy_proportions", {"concentration": 20.0, "step": 1e-310})
    assert_failed_cleanly(result, outputs, "weak_labels.noisy_proportions", "non-finite", "'step': 1e-310")


def test_weak_labels_empty_on_every_weak_tile_are_refused_with_the_count(tmp_path):
    """presence.threshold 1.0 on tiles that are never one class: every weak tile's tag set is empty."""
    result, outputs = _weak_label_stage(tmp_path, "presence", {"threshold": 1.0})
    assert_failed_cleanly(result, outputs, "weak_labels.presence", "every one of the 3 weak tiles", "'threshold': 1.0")
    result, _ = _weak_label_stage(tmp_path, "presence", {"threshold": 0.5})
    assert result.returncode == 0, result.stderr
    assert "all 3 weak tiles have the same label" in result.stderr  # both classes tagged on each: a warning


def test_points_are_empty_only_where_no_slot_is_used():
    from weakseg.weak.points import POINTS, sample_points

    masks = np.full((2, 4, 4), 255, np.uint8)
    masks[0, 0, 0] = 0  # one labelled pixel of class 0 at row 0, column 0: the label (0, 0, 0) is not empty
    labels = sample_points(masks, 6, 2, np.random.default_rng(0))
    assert POINTS.empty(labels).tolist() == [False, True]
