"""The schema's choices are the code's registries: one source per fact, checked both ways.

A new dataset, architecture, loss, weak-label kind, variant, grouping or rule that is not in the
schema (or a schema choice the code does not know) fails here, naming both lists.
"""

from pathlib import Path

import pytest
import yaml

from weakseg.data.splitting import GROUPINGS
from weakseg.datasets import DATASETS, get_dataset
from weakseg.design.experiment import VARIANTS
from weakseg.design.task import TASKS
from weakseg.io.errors import WeaksegError
from weakseg.io.registry import lookup
from weakseg.learn.losses import SEGMENTATION_LOSSES
from weakseg.learn.models import ARCHITECTURES
from weakseg.learn.training import CHECKPOINTS
from weakseg.methods import METHODS, get_method
from weakseg.ops.stages import STAGE_MODULES, get_stage
from weakseg.weak import WEAK_KINDS, get_weak_kind

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[1] / "schemas/config.schema.yaml").read_text())


def node(path: str) -> dict:
    current = SCHEMA
    for key in path.split("."):
        current = current["properties"][key]
    return current


def enum(path: str) -> list:
    found = node(path)
    return found["items"]["enum"] if "items" in found else found["enum"]


@pytest.mark.parametrize(
    "path, registry",
    [
        ("dataset.name", DATASETS),
        ("model.arch", ARCHITECTURES),
        ("model.task", TASKS),
        ("training.loss", SEGMENTATION_LOSSES),
        ("training.checkpoint", CHECKPOINTS),
        ("split.group_by", GROUPINGS),
        ("experiment.variants", VARIANTS),
        ("experiment.grid_variants", VARIANTS),
        ("experiment.weak_kinds", WEAK_KINDS),
        ("experiment.methods", METHODS),
    ],
)
def test_a_schema_enum_equals_its_registry(path, registry):
    assert sorted(enum(path)) == sorted(registry), f"schema {path} vs the code's registry"


def test_each_method_with_options_has_its_section_and_its_arm_among_its_variants():
    with_options = sorted(name for name in METHODS if get_method(name).has_options)
    assert sorted(node("methods")["properties"]) == with_options
    for name in METHODS:
        method = get_method(name)
        assert method.variants[-1].name == method.arm and VARIANTS[method.arm].method == name


def test_each_kind_has_its_options_losses_and_annotation_cost_in_the_schema():
    assert sorted(k for k in node("weak_labels")["properties"] if k != "seed") == sorted(WEAK_KINDS)
    assert sorted(k for k in node("annotation")["properties"] if k != "full") == sorted(WEAK_KINDS)
    for name in WEAK_KINDS:
        kind = get_weak_kind(name)
        options = node(f"weak_labels.{name}")["properties"]
        assert set(kind.label_keys) <= set(options), name
        if kind.losses:
            assert options["loss"]["enum"] == list(kind.losses) and options["loss"]["default"] == kind.losses[0]
        else:
            assert "loss" not in options, name
    assert set(node("experiment.weak_kinds")["default"]) <= set(WEAK_KINDS)


def test_the_kinds_planned_for_joint_only_are_those_without_a_label():
    """The plan reads needs_pixel_loss from the registry (it was a hand copy, PIXEL_LOSS_KINDS)."""
    from weakseg.design.experiment import kinds_of

    without_label = sorted(n for n in WEAK_KINDS if get_weak_kind(n).needs_pixel_loss)
    assert without_label == ["unlabelled"]
    assert kinds_of("joint", list(WEAK_KINDS)) == list(WEAK_KINDS)
    assert kinds_of("weak_only", list(WEAK_KINDS)) == [n for n in WEAK_KINDS if n not in without_label]


def test_the_rules_of_the_resources_section_are_the_stages():
    assert sorted(node("resources.rules")["propertyNames"]["enum"]) == sorted(STAGE_MODULES)
    assert all(get_stage(name).name == name for name in STAGE_MODULES)


def test_the_label_sets_and_bands_are_those_of_the_isprs_adapters():
    adapters = [get_dataset(name) for name in ("vaihingen", "potsdam")]
    assert sorted(enum("dataset.labels")) == sorted({k for a in adapters for k in a.label_archives})
    bands = {k for a in adapters for k in a.image_archives}
    assert {b for b in enum("dataset.bands") if b is not None} == bands


def test_dataset_capabilities_come_from_the_adapters():
    """What a dataset can do is data on its adapter, and the config check asks the adapter."""
    assert get_dataset("cityscapes").has_cities and get_dataset("cityscapes").has_sequences
    assert get_dataset("synthetic").has_sequences and not get_dataset("synthetic").has_cities
    assert not get_dataset("vaihingen").has_sequences
    for name in DATASETS:
        keys = set(get_dataset(name).download_keys)
        assert keys <= set(node("dataset")["properties"]), f"{name} downloads with keys the schema lacks"


@pytest.mark.parametrize(
    "registry, key, get",
    [(DATASETS, "dataset.name", get_dataset), (WEAK_KINDS, "experiment.weak_kinds", get_weak_kind)]
    + [(METHODS, "experiment.methods", get_method)],
)
def test_each_registry_finds_its_entries_and_names_the_key_and_the_known_names_for_an_unknown_one(registry, key, get):
    for name in registry:
        assert get(name).name == name
    with pytest.raises(WeaksegError, match=rf"^{key}: unknown \w+ 'tags' \(known: {', '.join(sorted(registry))}\)$"):
        get("tags")


def test_a_registry_entry_is_a_module_and_an_attribute_imported_when_asked_for():
    import json

    assert lookup({"dumps": "json:dumps"}, "dumps", key="k", what="thing") is json.dumps
    with pytest.raises(WeaksegError, match=r"^k: unknown thing 'load' \(known: dumps\)$"):
        lookup({"dumps": "json:dumps"}, "load", key="k", what="thing")
