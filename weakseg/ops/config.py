"""Checks of the config that its JSON Schema cannot express, run by ``rules/common.smk`` before any job.

Pure Python plus ``jsonschema`` (a Snakemake dependency) and the dataset registry (numpy,
Pillow), so the Snakefile can plan and check without torch. Every message starts with ``config <key>:``.
"""

from __future__ import annotations

import math
from pathlib import Path

from weakseg.datasets import DATASETS, get_dataset, official_test_adapter
from weakseg.datasets.credentials import check_source_url
from weakseg.design.checks import check_experiment, check_fractions, check_grouping, check_tile_grid
from weakseg.design.experiment import grid_points, local_encoder_weights, selected_variants, uses_weak_labels
from weakseg.design.task import check_loss, resolve_task
from weakseg.io.errors import WeaksegError
from weakseg.io.names import check_name
from weakseg.ops.resources import check_resources
from weakseg.weak import get_weak_kind


def _fail(key: str, message: str):
    raise WeaksegError(f"config {key}: {message}")


def check_finite(value, key: str = "") -> None:
    """Refuse NaN and infinities anywhere in a config (YAML ``.nan``, ``.inf``).

    JSON Schema accepts them as numbers, and they would reach PyTorch as a learning rate.

    Raises:
        WeaksegError: naming the dotted key of the first non-finite number.
    """
    if isinstance(value, dict):
        for name, item in value.items():
            check_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_finite(item, f"{key}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        _fail(key, f"{value} is not a finite number")


def check_task(config: dict) -> None:
    """The binary task, BCE losses, the official test set and the model scale fit the dataset and each other."""
    adapter = get_dataset(config["dataset"]["name"])
    split = config["split"]
    try:
        check_loss(config["training"]["loss"], resolve_task(config["model"]["task"], adapter.n_classes))
        if split["use_official_test"]:
            official_test_adapter(adapter.name)
    except WeaksegError as error:
        raise WeaksegError(f"config {error}") from None
    if split["use_official_test"]:
        if split["fractions"].get("test", 0) > 0:
            _fail("split.fractions.test", "must be absent or 0 with split.use_official_test (the test set is given)")
    shorter_side = config["tiling"]["shorter_side"]
    if shorter_side is not None and shorter_side < config["tiling"]["tile_size"]:
        _fail(
            "tiling.shorter_side", f"{shorter_side} px is less than tiling.tile_size {config['tiling']['tile_size']} px"
        )


def check_whole_scenes(config: dict) -> None:
    """Whole-scene scoring needs whole scenes in the scored set; the window is a multiple of 32 px.

    (``predict`` on a set checks its scenes when it runs: its default, ``val``, must not stop
    other targets of a split by tiles.)
    """
    split, window = config["split"], config["evaluation"]["window"]
    whole = split["group_by"] in ("scene", "city") or split["use_official_test"]
    if config["evaluation"]["mode"] == "scenes" and not whole:
        _fail("evaluation.mode", "'scenes' needs whole scenes in the scored set: set split.group_by: scene")
    if window % 32:
        _fail("evaluation.window", f"{window} px must be a multiple of 32 (the encoders' output stride)")


def check_scoring_labels(config: dict) -> None:
    """``dataset.scoring_labels`` names another label set of the dataset, scored on whole scenes.

    The scoring labels are prepared per scene, not tiled: tile-mode scoring would read the
    training labels' tiles, so the ISPRS protocol (complete labels to train, eroded to score)
    scores whole scenes (``evaluation.mode: scenes``), as the benchmark does.
    """
    dataset = config["dataset"]
    scoring, adapter = dataset.get("scoring_labels"), get_dataset(dataset["name"])
    if scoring is None:
        return
    if scoring not in adapter.label_sets:
        sets = ", ".join(adapter.label_sets) or "none: it has one label set"
        _fail("dataset.scoring_labels", f"{scoring!r} is not a label set of {adapter.name} ({sets}); set it to null")
    if scoring == dataset["labels"]:
        _fail("dataset.scoring_labels", f"{scoring!r} is dataset.labels already; set it to null")
    if config["evaluation"]["mode"] != "scenes":
        _fail(
            "dataset.scoring_labels",
            f"{scoring!r} labels are scored on whole scenes: set evaluation.mode: scenes (and split.group_by: scene "
            "or split.use_official_test)",
        )


def check_sequences(config: dict) -> None:
    """Frame sequences need the sequence model and a dataset with sequences; cities need Cityscapes."""
    length, dataset = config["sequence"]["length"], config["dataset"]["name"]
    if length > 1:
        if config["model"]["arch"] != "ResNetConvLSTM":
            _fail("sequence.length", f"{length} frames need model.arch: ResNetConvLSTM (got {config['model']['arch']})")
        if not get_dataset(dataset).has_sequences:
            known = _with("has_sequences")
            _fail("sequence.length", f"{length} frames: dataset {dataset} has no frame sequences ({known})")
        if config["predict"]["input"] not in ("val", "test"):
            _fail("predict.input", "a folder of single images cannot feed a sequence model (sequence.length > 1)")
    adapter = get_dataset(dataset)
    try:
        adapter.check_settings(config["dataset"])
    except WeaksegError as error:
        raise WeaksegError(f"config {error}") from None
    if not adapter.has_cities:
        only = f"datasets of cities only ({_with('has_cities')}; dataset.name is {dataset})"
        for key in ("cities", "synthetic_cities", "mix_synthetic"):
            if config["dataset"].get(key):
                _fail(f"dataset.{key}", f"is for {only}")
        if config["split"]["group_by"] == "city":
            _fail("split.group_by", f"'city' is for {only}")


def _with(capability: str) -> str:
    """The registered datasets that have ``capability`` (an adapter attribute), for messages."""
    return ", ".join(name for name in DATASETS if getattr(get_dataset(name), capability))


def check_encoder_weights(config: dict) -> None:
    """A local ``model.encoder_weights`` (or grid value of it) names an existing file.

    It is an input of every train job using it; checked here so that a typo is named before
    any job instead of surfacing as Snakemake's missing-input error.
    """
    values = [config["model"]["encoder_weights"], *config["experiment"]["grid"].get("model.encoder_weights", [])]
    for value in values:
        path = local_encoder_weights({"encoder_weights": value})
        if path is not None and not Path(path).is_file():
            _fail(
                "model.encoder_weights",
                f"{path!r} is neither null, 'imagenet' nor an existing file (relative paths start at the "
                "project folder); give the path of a local encoder state_dict (.pth)",
            )


def check_names(config: dict) -> None:
    """``dataset.cities`` and ``dataset.scenes`` hold path-safe names (:func:`weakseg.io.names.check_name`)."""
    for key in ("cities", "scenes"):
        for name in config["dataset"].get(key) or []:
            try:
                check_name(name, f"an entry of dataset.{key},", "no scene or city of the pipeline can carry it")
            except WeaksegError as error:
                _fail(f"dataset.{key}", str(error))


def check_ranges(config: dict) -> None:
    """``[low, high]`` ranges of the ``augment`` section must not decrease; ``predict.scale`` must increase.

    Also ``predict.input`` must not be empty (a folder, ``val`` or ``test``).
    """
    for key in ("scale", "gamma", "saturation"):
        low, high = config["augment"][key]
        if low > high:
            _fail(f"augment.{key}", f"[{low}, {high}] is not an increasing range")
    if not config["predict"]["input"].strip():
        _fail("predict.input", "is empty; give a folder of images, or val or test (the scenes of that set)")
    scale = config["predict"].get("scale")
    if scale is not None and not scale[0] < scale[1]:
        _fail("predict.scale", f"{scale} maps nothing: give [low, high] with low < high, e.g. [0, 4095]")


def check_grid_values(config: dict, schema: dict) -> None:
    """Each value of ``experiment.grid`` must pass the schema of the key it overrides.

    Raises:
        WeaksegError: naming the grid key, the value and the schema's complaint.
    """
    import jsonschema

    sections = schema["properties"]
    for _, overrides in grid_points(config["experiment"]["grid"]):
        for key, value in overrides.items():
            section, _, name = key.partition(".")
            key_schema = sections[section]["properties"].get(name)
            if key_schema is None:
                continue  # check_experiment names unknown keys
            error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(key_schema).iter_errors(value))
            if error is not None:
                _fail(f"experiment.grid.{key}", f"{value!r}: {error.message}")


def check_weak_kinds(config: dict) -> None:
    """Each kind of ``experiment.weak_kinds`` is registered and its options (``weak_labels.<kind>``) pass its checks.

    Options naming classes are checked against the dataset's
    (:meth:`~weakseg.weak.kind.WeakKind.resolve_options`).
    """
    adapter = get_dataset(config["dataset"]["name"])
    for name in config["experiment"]["weak_kinds"]:
        kind = get_weak_kind(name)
        try:
            kind.check_options(config["weak_labels"][name])
            kind.resolve_options(config["weak_labels"][name], adapter.class_names, adapter.object_classes)
        except WeaksegError as error:
            raise WeaksegError(f"config {error}") from None
        if kind.spatial and config["augment"]["offline_copies"] > 0:
            _fail(
                "augment.offline_copies",
                f"weak kind {name} has labels tied to pixels, which offline copies (augmented without them) would "
                "misplace; set it to 0 (online augmentation moves the labels with the image)",
            )


def config_warnings(config: dict) -> list[str]:
    """What is allowed but probably not meant: each a line for the user, nothing refused.

    * weak runs on eroded ISPRS labels: the weak labels are shares of the labelled pixels,
      and eroded ground truth leaves the class borders unlabelled, so classes with long borders
      (cars) are under-stated by roughly 8-24% (relative); complete labels are the practice.
    """
    warnings = []
    variants = selected_variants(config) + config["experiment"]["grid_variants"]
    if config["dataset"].get("labels") == "eroded" and any(uses_weak_labels(v) for v in variants):
        warnings.append(
            "config dataset.labels: eroded ground truth leaves class borders unlabelled, so the weak labels "
            "(shares of labelled pixels) under-state classes with long borders; use labels: complete for "
            "weak labels and training (the ISPRS practice: score on eroded labels)"
        )
    return warnings


#: Keys of earlier configs -> where their setting lives now.
MOVED_KEYS = {
    ("pretraining", "loss"): "weak_labels.<kind>.loss (each kind of weak label has its own loss)",
    ("experiment", "weak_kind"): "experiment.weak_kinds, a list (e.g. [proportions])",
}


def check_moved_keys(config: dict) -> None:
    """Refuse keys of earlier configs that moved, naming where they went (run before the schema's generic message).

    Raises:
        WeaksegError: ``config <key>: ... moved to <new key>``.
    """
    for (section, key), where in MOVED_KEYS.items():
        if isinstance(config.get(section), dict) and key in config[section]:
            _fail(f"{section}.{key}", f"this key moved to {where}; edit your config file")


def check_config(config: dict, schema_path: str | Path | None = None) -> None:
    """Every check of a schema-validated config (defaults filled in) that the schema cannot express.

    Args:
        schema_path: the config schema (YAML), to check grid values against their keys' schemas.

    Raises:
        WeaksegError: ``config <key>: <what is wrong>``.
    """
    check_finite(config)
    check_source_url(config["dataset"].get("source", {}).get("url"))
    try:
        check_tile_grid(config["tiling"]["tile_size"], config["tiling"]["stride"])
        check_fractions(config["split"]["fractions"])
        check_grouping(config["split"]["group_by"], config["tiling"]["stride"], config["tiling"]["tile_size"])
    except WeaksegError as error:
        raise WeaksegError(f"config {error}") from None
    check_names(config)
    check_encoder_weights(config)
    check_ranges(config)
    check_task(config)
    check_whole_scenes(config)
    check_scoring_labels(config)
    check_sequences(config)
    check_experiment(config)
    check_weak_kinds(config)
    check_resources(config["resources"])
    if schema_path is not None:
        import yaml

        with open(schema_path) as handle:
            check_grid_values(config, yaml.safe_load(handle))


def _is_section(node: dict) -> bool:
    """An object whose keys have defaults of their own (not a value with ``required`` keys, e.g. fractions)."""
    return node.get("type") == "object" and "properties" in node and "required" not in node


def schema_defaults(schema: dict) -> dict:
    """The config that the schema's defaults alone give: ``{section: {key: default}}``, recursively.

    An object with ``properties`` is built from its keys' defaults; any other key takes its
    own ``default``; keys without one are left out.
    """
    config = {}
    for key, node in schema.get("properties", {}).items():
        if _is_section(node):
            config[key] = schema_defaults(node)
        elif "default" in node:
            config[key] = node["default"]
    return config
