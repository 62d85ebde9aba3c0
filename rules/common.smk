import csv
import json
import os


def _fail(key, message):
    raise ValueError(f"config {key}: {message}")


def check_config(cfg):
    """Checks JSON Schema cannot express; run before any job, naming the key at fault."""
    fractions = cfg["split"]["fractions"]
    total = sum(fractions.values())
    if abs(total - 1) > 1e-6:
        _fail("split.fractions", f"{fractions} sums to {total:.6g}, not 1")
    tiling = cfg["tiling"]
    if tiling["stride"] > tiling["tile_size"]:
        _fail("tiling.stride", f"{tiling['stride']} px > tile_size {tiling['tile_size']} px would skip pixels")
    if cfg["split"]["group_by"] == "tile" and tiling["stride"] < tiling["tile_size"]:
        _fail("split.group_by", "'tile' with overlapping tiles (stride < tile_size) would put overlapping tiles in different sets; use 'block' or 'scene'")
    if tiling["tile_size"] % 32:
        _fail("tiling.tile_size", f"{tiling['tile_size']} px must be a multiple of 32 (the encoders' output stride)")
    for key in ("scale", "gamma", "saturation"):
        low, high = cfg["augment"][key]
        if low > high:
            _fail(f"augment.{key}", f"[{low}, {high}] is not an increasing range")


check_config(config)

DATASET = config["dataset"]["name"]
DATA = f"data/{DATASET}"
VARIANTS = ["strong_only", "weak_only", "weak_finetuned"]


wildcard_constraints:
    dataset=DATASET,
    variant="|".join(VARIANTS),


def as_json(value):
    """A config value as one shell-quotable params string (its change reruns the rule)."""
    return json.dumps(value, sort_keys=True)


def download_settings():
    """The dataset keys the download uses: name, generator or source, label set, bands, scenes."""
    keys = ["name", "scenes"] + (["synthetic"] if DATASET == "synthetic" else ["source", "labels", "bands"])
    return as_json({k: config["dataset"][k] for k in keys})


def snap_option():
    dataset = config["dataset"]
    return f"--snap-max-distance {dataset['snap_max_distance']}" if dataset["snap_to_palette"] else ""


def prepared(kind):
    """Input function: the prepared ``image`` or ``label`` array of every scene the download listed."""

    def files(wildcards):
        raw = checkpoints.download.get(dataset=wildcards.dataset).output[0]
        with open(os.path.join(raw, "scenes.csv"), newline="") as handle:
            scenes = [row["scene"] for row in csv.DictReader(handle)]
        return expand("data/{dataset}/prepared/{scene}/{kind}.npy", dataset=wildcards.dataset, scene=scenes, kind=kind)

    return files


def device_settings():
    """training.device and log_every_batches, shared by pretraining (its section has no own)."""
    return {k: config["training"][k] for k in ("device", "log_every_batches")}

