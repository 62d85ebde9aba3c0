"""File bundles: a stage's named files as records, and nested records through a stage's call."""

from types import SimpleNamespace

import pytest
from test_stages import CONFIG, WILDCARDS

from weakseg.design.scoring import Scoring, Windows
from weakseg.formats.bundles import OfflineCopies, Pipelines, TileFiles, TrainingFiles
from weakseg.io.errors import WeaksegError
from weakseg.ops.stages import get_stage


def test_a_bundle_takes_the_rules_names():
    output = SimpleNamespace(images="t/a.npy", masks="t/b.npy", tiles="t/c.csv", class_pixels="t/d.npy", log="x")
    assert TileFiles.of(output, complete=True).class_pixels.name == "d.npy"
    # a reader's rule names only what it reads; the optional fields stay empty
    assert TileFiles.of({"tiles": "t/c.csv", "masks": "t/b.npy"}).images is None
    offline = OfflineCopies.of(
        {"offline_images": "i.npy", "offline_masks": "m.npy", "offline_copies": "c.csv"}, "offline_{}"
    )
    assert (offline.images.name, offline.copies.name) == ("i.npy", "c.csv")
    assert (
        Pipelines.of({"strong_pipeline": "s.yaml", "weak_pipeline": "w.yaml"}, "{}_pipeline").of_pipeline("weak").name
        == "w.yaml"
    )


def test_a_rule_that_lacks_a_name_is_refused_naming_it():
    with pytest.raises(WeaksegError, match="names no file offline_masks .* disagree"):
        OfflineCopies.of({"offline_images": "i.npy", "offline_copies": "c.csv"}, "offline_{}")
    with pytest.raises(WeaksegError, match="names no file class_pixels"):
        TileFiles.of({"images": "a", "masks": "b", "tiles": "c"}, complete=True)


def test_a_train_jobs_inputs_make_one_training_bundle():
    named = {
        **{k: f"d/{k}" for k in ("images", "masks", "tiles", "class_pixels", "splits", "stats")},
        **{f"offline_{k}": f"o/{k}" for k in ("images", "masks", "copies")},
        **{f"{k}_pipeline": f"p/{k}.yaml" for k in ("strong", "weak")},
    }
    files = TrainingFiles.of(named)
    assert (
        files.weak_labels is None
        and str(files.offline.masks) == "o/masks"
        and str(files.pipelines.strong) == "p/strong.yaml"
    )
    assert str(TrainingFiles.of({**named, "weak_labels": "w.csv"}).weak_labels) == "w.csv"


def test_nested_records_survive_the_stages_call():
    """Evaluate's Scoring holds a Windows record in scenes mode; predict always holds one."""
    config = {**CONFIG, "evaluation": {**CONFIG["evaluation"], "mode": "scenes", "window": 96, "overlap": 0.5}}
    for name in ("evaluate", "predict"):
        stage = get_stage(name)
        params, _, _ = stage.decode(stage.call_json(config, WILDCARDS), '{"input": {}, "output": {}}')
        assert params == stage.params.from_config(config, WILDCARDS)
        windows = params.scoring.windows if name == "evaluate" else params.windows
        assert isinstance(windows, Windows) and (windows.window, windows.overlap) == (96, 0.5)


def test_a_scored_set_outside_the_held_out_sets_is_refused():
    with pytest.raises(WeaksegError, match="scored set 'weak' is not one of val, test"):
        Scoring(scored_set="weak")
