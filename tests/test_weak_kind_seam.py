"""Adding a kind of weak label takes one module and one registry entry: shown with a test-only kind.

``ImageTags`` below is that module (image-level tags: a class is present when it covers at least
10% of the tile's labelled pixels, trained with a multi-label loss on log-sum-exp pooled logits).
It is registered by one entry in ``WEAK_KINDS`` (here monkeypatched; in the package, a line of
``weakseg/weak/__init__.py``) and, for configs, one value of the schema's ``experiment.weak_kinds``
enum with its options section ``weak_labels.<kind>``. Nothing else changes: the weak_labels stage
computes its labels, training pools and trains with it, and adding the kind plans only its runs.
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, run_files, training_files

from weakseg.data.augmentation import save_pipeline, weak_pipeline
from weakseg.design.experiment import VARIANTS, Run, planned_runs, run_settings, selected_variants, uses_weak_labels
from weakseg.formats.weak_labels import read_weak_labels
from weakseg.io.errors import WeaksegError
from weakseg.learn.tile_data import load_training_data
from weakseg.learn.training import train
from weakseg.ops.config import check_weak_kinds
from weakseg.ops.stages import get_stage
from weakseg.weak import WEAK_KINDS, get_weak_kind
from weakseg.weak.kind import WeakKind

CLASSES = ["a", "b", "c"]


class ImageTags(WeakKind):
    """Test-only kind: per class, 1.0 if it covers at least ``share`` of the labelled pixels, else 0.0."""

    name = "test_tags"
    title = "image-level tags"
    losses = ("bce",)
    label_keys = ("share",)

    def label(self, masks, n_classes, options, rng):
        from weakseg.weak.proportions import label_proportions

        return (label_proportions(masks, n_classes) >= options["share"]).astype(np.float64)

    def loss(self, logits, target, options):
        pooled = torch.logsumexp(logits.float(), dim=(2, 3)) - float(np.log(logits.shape[2] * logits.shape[3]))
        return torch.nn.functional.binary_cross_entropy_with_logits(pooled, target.float())


TAGS = ImageTags()


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(WEAK_KINDS, "test_tags", "test_weak_kind_seam:TAGS")
    return get_weak_kind("test_tags")


@pytest.fixture
def tiles(tmp_path):
    """8 tiles of 32x32 px: tiles t0-t3 hold classes a and b, t4-t7 a and c; t0, t1 strong, t2-t5 weak."""
    masks = np.zeros((8, 32, 32), dtype=np.uint8)
    masks[:4, :, 16:] = 1
    masks[4:, :, 16:] = 2
    masks[:, :2] = 255
    rng = np.random.default_rng(0)
    images = (masks[..., None] % 255 * 80 + rng.integers(0, 20, (8, 32, 32, 3))).astype(np.uint8)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "masks.npy", masks)
    ids = [f"t{i}" for i in range(8)]
    (tmp_path / "tiles.csv").write_text(
        "tile_id,scene,y,x,labeled_fraction\n" + "".join(f"{t},s,0,{32 * i},0.9\n" for i, t in enumerate(ids))
    )
    sets = {"strong": ids[:2], "weak": ids[2:6], "val": ids[6:]}
    pool = {t: {"rank": 0.5 + i, "neighbour_rank": None} for i, t in enumerate(ids[:6])}
    (tmp_path / "splits.json").write_text(json.dumps({"sets": sets, "pool": pool, "n_tiles": 8, "n_groups": 8}))
    (tmp_path / "offline").mkdir()
    (tmp_path / "offline/copies.csv").write_text("row,tile_id,pipeline,copy\n")
    settings = yaml.safe_load((REPO / "workflow_config.yaml").read_text())["augment"]
    save_pipeline(weak_pipeline(settings), tmp_path / "weak.yaml")
    return tmp_path


def test_the_kind_is_found_by_name_and_an_unknown_one_is_named(registered):
    assert registered is TAGS
    with pytest.raises(WeaksegError, match="experiment.weak_kinds.*'tags'.*known: .*proportions.*test_tags"):
        get_weak_kind("tags")


def test_the_weak_labels_stage_computes_the_new_kind(registered, tiles):
    stage = get_stage("weak_labels")
    params = stage.params(dataset="synthetic", kind="test_tags", options={"share": 0.1}, seed=0, split_seed=0)
    files = {"masks": tiles / "masks.npy", "tiles": tiles / "tiles.csv", "splits": tiles / "splits.json"}
    output = SimpleNamespace(labels=str(tiles / "weak.csv"), summary=str(tiles / "summary.csv"))
    synthetic = ["impervious_surfaces", "building", "low_vegetation", "tree", "car", "clutter"]
    stage.run(params, SimpleNamespace(**{k: str(v) for k, v in files.items()}), output, 1)
    ids, sets, labels, columns = read_weak_labels(tiles / "weak.csv")
    assert columns == synthetic and sets[:6] == ["strong", "strong", "weak", "weak", "weak", "weak"]
    np.testing.assert_array_equal(labels[0], [1, 1, 0, 0, 0, 0])  # classes 0 and 1 present
    np.testing.assert_array_equal(labels[7], [1, 0, 1, 0, 0, 0])


def test_the_config_takes_the_kind_and_only_weak_runs_carry_it(registered):
    import yaml

    from weakseg.ops.config import schema_defaults

    config = schema_defaults(yaml.safe_load((REPO / "schemas/config.schema.yaml").read_text()))
    config["experiment"]["weak_kinds"] = ["proportions", "test_tags"]
    config["weak_labels"]["test_tags"] = {"share": 0.1, "loss": "bce"}
    check_weak_kinds(config)
    runs = planned_runs(config)
    assert {r.variant for r in runs if r.weak_kind == "test_tags"} == {
        v for v in selected_variants(config) if uses_weak_labels(v)
    }
    run = Run("weak_only", "0.1", 0, weak_kind="test_tags")
    assert run_settings(config, run)["training"]["weak_options"] == {"share": 0.1, "loss": "bce"}
    assert "weak_kind" not in run_settings(config, Run("strong_only", "0.1", 0))["training"]
    config["weak_labels"]["test_tags"]["loss"] = "kl"
    with pytest.raises(WeaksegError, match="weak_labels.test_tags.loss.*'kl'.*test_tags.*bce"):
        check_weak_kinds(config)


def test_training_pools_and_learns_with_the_new_kind(registered, tiles):
    labels = TAGS.label(np.load(tiles / "masks.npy"), 3, {"share": 0.1}, np.random.default_rng(0))
    rows = "".join(f"t{i},{s},{','.join(str(v) for v in labels[i])}\n" for i, s in enumerate("sswwwwvv"))
    (tiles / "weak.csv").write_text("tile_id,set,a,b,c\n" + rows)
    data = load_training_data(
        VARIANTS["weak_only"],
        "0.25",
        training_files(tiles, tiles / "weak.csv"),
        class_names=CLASSES,
        seed=0,
    )
    training = {
        "epochs": 3,
        "steps_per_epoch": 4,
        "batch_size": 4,
        "lr": 0.01,
        "weight_decay": 0.0,
        "weak_kind": "test_tags",
        "weak_options": {"share": 0.1, "loss": "bce"},
        "seed": 0,
        "device": "cpu",
        "log_every_batches": 1,
        "checkpoint": "last",
    }
    settings = {"mode": "weak", "model": {"arch": "FPN", "encoder": "resnet18", "encoder_weights": None}}
    history = train(data, {**settings, "training": training, "init_from": None}, run_files(tiles / "run"))
    losses = [row["train_loss"] for row in history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
