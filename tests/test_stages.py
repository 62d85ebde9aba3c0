"""The stage contract: each rule's parameters survive the trip through its shell line unchanged."""

import json
from types import SimpleNamespace

import pytest
import yaml
from conftest import REPO

from weakseg.io.errors import WeaksegError
from weakseg.ops.config import schema_defaults
from weakseg.ops.stage import files_json
from weakseg.ops.stages import STAGE_MODULES, get_stage

CONFIG = schema_defaults(yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text()))
WILDCARDS = SimpleNamespace(
    dataset="synthetic",
    scene="scene000",
    split_seed="0",
    variant="joint",
    weak_kind="presence",
    strong_fraction="0.1",
    seed="1",
    point="default",
)


@pytest.mark.parametrize("name", sorted(STAGE_MODULES))
def test_the_parameters_round_trip_through_the_call(name):
    stage = get_stage(name)
    call = stage.call_json(CONFIG, WILDCARDS)
    files = files_json({"a": "x.npy", "b": ["y", "z"]}, {"out": "o.csv"})
    params, input, output = stage.decode(call, files)
    assert params == stage.params.from_config(CONFIG, WILDCARDS)
    assert (input.a, input.b, output.out) == ("x.npy", ["y", "z"], "o.csv")
    assert stage.shell.startswith(f"python scripts/{name}.py {{params.call:q}} {{params.files:q}}")
    assert (REPO / "scripts" / f"{name}.py").is_file()


def test_a_call_is_the_config_values_the_stage_reads_only():
    """Editing a value a stage does not read leaves its call, and so its jobs, alone."""
    edited = json.loads(json.dumps(CONFIG))
    edited["training"]["lr"] = 0.5
    unchanged = {
        name
        for name in STAGE_MODULES
        if get_stage(name).call_json(edited, WILDCARDS) == get_stage(name).call_json(CONFIG, WILDCARDS)
    }
    assert set(STAGE_MODULES) - unchanged == {"train", "report"}  # joint reads training.lr; the report shows it
    edited = json.loads(json.dumps(CONFIG))
    edited["weak_labels"]["presence"]["r"] = 9.0  # a training option of the job's kind: its runs, not its labels
    changed = {
        n
        for n in STAGE_MODULES
        if get_stage(n).call_json(edited, WILDCARDS) != get_stage(n).call_json(CONFIG, WILDCARDS)
    }
    assert changed == {"train", "report"}
    edited["weak_labels"]["presence"]["threshold"] = 0.3  # a label option: its labels too
    changed = {
        n
        for n in STAGE_MODULES
        if get_stage(n).call_json(edited, WILDCARDS) != get_stage(n).call_json(CONFIG, WILDCARDS)
    }
    # weak_masks shares weak_labels' parameters (a dense kind's label options rerun both); presence has no such job;
    # the pseudo-masks are refined by the labels, so they read the label options too
    assert changed == {"weak_masks", "weak_labels", "pseudo_masks", "train", "report"}


def test_a_call_that_is_not_the_stages_is_refused_naming_the_script():
    stage = get_stage("tile")
    with pytest.raises(WeaksegError, match="scripts/tile.py: the argument is not a tile call"):
        stage.decode('{"tile_size": 64}', files_json({}, {}))
    with pytest.raises(WeaksegError, match="not a tile call"):
        stage.decode("{not json", files_json({}, {}))
