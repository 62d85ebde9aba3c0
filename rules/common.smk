import csv
import json
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError

sys.path.insert(0, workflow.basedir)

from weakseg.config import check_config
from weakseg.errors import WeaksegError
from weakseg.experiment import VARIANTS, Run, init_run, local_encoder_weights, planned_runs, run_settings, split_seed
from weakseg.names import SAFE_NAME_PATTERN

try:
    check_config(config, os.path.join(workflow.basedir, "schemas/config.schema.yaml"))
except WeaksegError as error:
    raise WorkflowError(str(error)) from None

DATASET = config["dataset"]["name"]
DATA = f"data/{DATASET}"
#: Every run the report scores (variant x strong fraction x seed, and the grid).
RUNS = planned_runs(config)
#: The runs at the configured hyperparameters (the grid's points are shown in their own table).
MAIN_RUNS = [run for run in RUNS if run.point == "default"]
#: The split of the data-stage sections of the report.
REFERENCE_SPLIT = config["split"]["seed"]
SCORED_SET = (
    "test" if config["split"]["fractions"].get("test", 0) > 0 or config["split"]["use_official_test"] else "val"
)


def gpu_lease_options():
    """The GPU lease arguments of the train, evaluate and predict jobs (weakseg.gpu_lease).

    A string resource, deliberately not params: which device a job runs on never changes its
    result, so editing the resources section reruns nothing.
    """
    resources = config["resources"]
    gpus = resources["gpus"]
    devices = "auto" if gpus is None else ",".join(str(g) for g in gpus) or "none"
    return shlex.join(
        ["--gpus", devices, "--jobs-per-gpu", str(resources["jobs_per_gpu"]), "--lease-dir", resources["lease_dir"]]
    )


#: See gpu_lease_options.
GPU_LEASE = gpu_lease_options()


def job_resources(rule):
    """The resources of ``rule``'s jobs: ``resources.job_defaults`` overlaid with ``resources.rules.<rule>``.

    In the config, not a profile's ``set-resources``: a layered ``--configfile`` merges key by key,
    where a second ``set-resources`` would replace the whole map. Resources never rerun a job.
    """
    resources = config["resources"]
    return {**resources["job_defaults"], **resources["rules"].get(rule, {})}


wildcard_constraints:
    dataset=DATASET,
    variant="|".join(VARIANTS),
    fraction=r"all|[0-9][0-9.e-]*",
    seed=r"\d+",
    split_seed=r"\d+",
    point=r"[^/]+",
    scene=SAFE_NAME_PATTERN,


def as_json(value):
    """A config value as one shell-quotable params string (its change reruns the rule)."""
    return json.dumps(value, sort_keys=True)


def download_settings():
    """The dataset keys the download uses (name, generator or source, label set, bands, cities, scenes) and T."""
    keys = {
        "synthetic": ["synthetic"],
        "cityscapes": ["source", "cities", "synthetic_cities", "mix_synthetic", "synthetic"],
    }.get(DATASET, ["source", "labels", "bands"])
    settings = {k: config["dataset"][k] for k in ["name", "scenes", *keys]}
    return as_json({**settings, "sequence_length": config["sequence"]["length"]})


def resize_option():
    """``--resize H W`` when scenes are resized as they are prepared (``dataset.resize``), else nothing."""
    size = config["dataset"]["resize"]
    return shlex.join(["--resize", str(size[0]), str(size[1])]) if size else ""


def snap_option():
    """``--snap-max-distance D`` when off-palette label colours are snapped (``dataset.snap_to_palette``)."""
    dataset = config["dataset"]
    return shlex.join(["--snap-max-distance", str(dataset["snap_max_distance"])]) if dataset["snap_to_palette"] else ""


def scenes(dataset):
    """The scene ids the download listed (after the download checkpoint ran)."""
    raw = checkpoints.download.get(dataset=dataset).output[0]
    index = os.path.join(raw, "scenes.csv")
    if not os.path.isfile(index):
        raise WorkflowError(
            f"{index} is missing, so {raw} is incomplete (edited or copied in part). Delete the folder {raw} and "
            "rerun: the download step rebuilds it (archives already downloaded are reused)"
        )
    with open(index, newline="") as handle:
        return [row["scene"] for row in csv.DictReader(handle)]


def prepared_paths(dataset, kind):
    """The prepared ``image`` or ``label`` array of every scene the download listed."""
    return expand("data/{dataset}/prepared/{scene}/{kind}.npy", dataset=dataset, scene=scenes(dataset), kind=kind)


def prepared(kind):
    """Input function: :func:`prepared_paths` of the job's dataset."""

    def files(wildcards):
        return prepared_paths(wildcards.dataset, kind)

    return files


def run_of(wildcards):
    return Run(wildcards.variant, wildcards.fraction, int(wildcards.seed), wildcards.point)


def split_files(seed):
    """The split-dependent inputs of a run of ``seed``: splits, weak labels, pipelines, offline copies, band statistics."""
    s = split_seed(config, seed)
    return {
        "splits": f"results/split/seed-{s}/splits.json",
        "weak_labels": f"results/weak_labels/seed-{s}/weak_labels.csv",
        "strong_pipeline": f"results/augment/seed-{s}/strong.yaml",
        "weak_pipeline": f"results/augment/seed-{s}/weak.yaml",
        "offline": f"results/augment/seed-{s}/offline/copies.csv",
        "offline_images": f"results/augment/seed-{s}/offline/images.npy",
        "offline_masks": f"results/augment/seed-{s}/offline/masks.npy",
        "stats": f"results/stats/seed-{s}/stats.json",
    }


def tile_files():
    return {
        "tiles": f"{DATA}/tiles/tiles.csv",
        "images": f"{DATA}/tiles/images.npy",
        "masks": f"{DATA}/tiles/masks.npy",
    }


def train_inputs(wildcards):
    """Inputs of a train job: tiles, its split's files, local encoder weights and the model it starts from (if any)."""
    files = {**tile_files(), **split_files(int(wildcards.seed))}
    weights = local_encoder_weights(run_settings(config, run_of(wildcards))["model"])
    if weights is not None:
        files["encoder_weights"] = weights
    parent = init_run(run_of(wildcards))
    if parent is not None:
        files["init"] = f"results/models/{parent.path}/model.pt"
    return files


def scene_inputs(kind, needed):
    """Input function: the prepared ``kind`` arrays of every scene when ``needed``, else none.

    A named input of its own, not part of an ``unpack``: the scene list waits for the download
    checkpoint, and a pending named input leaves the job's other inputs (and a dry run) intact.
    """

    def files(wildcards):
        return prepared_paths(DATASET, kind) if needed else []

    return files


#: Whether evaluate scores whole scenes, and whether predict predicts the scenes of a set.
SCORES_SCENES = config["evaluation"]["mode"] == "scenes"
PREDICTS_SCENES = config["predict"]["input"] in ("val", "test")


def evaluate_inputs(wildcards):
    """Inputs of an evaluate job: the run's model, tiles, split and weak labels (scenes: see :func:`scene_inputs`)."""
    split = split_files(int(wildcards.seed))
    return {
        "model": f"results/models/{run_of(wildcards).path}/model.pt",
        **tile_files(),
        "splits": split["splits"],
        "weak_labels": split["weak_labels"],
    }


def scene_options(input):
    """The evaluate options of scenes mode: the prepared arrays, window, overlap and model scale."""
    if not SCORES_SCENES:
        return ""
    evaluation = config["evaluation"]
    window = shlex.join(["--window", str(evaluation["window"]), "--overlap", str(evaluation["overlap"])])
    return f"{scene_arguments(input)} {window} {shorter_side_option()}"


def shorter_side_option():
    """``--shorter-side N`` when scenes are brought to a model scale (``tiling.shorter_side``), else nothing."""
    shorter_side = config["tiling"]["shorter_side"]
    return shlex.join(["--shorter-side", str(shorter_side)]) if shorter_side else ""


def scene_arguments(input):
    """``--scene-images ... --scene-labels ...`` of a job's prepared scene arrays, each path shell-quoted."""
    return shlex.join(["--scene-images", *input.scene_images, "--scene-labels", *input.scene_labels])


def predict_inputs(wildcards):
    """Inputs of a predict job: the run's model, and the image folder or the split (scenes: see :func:`scene_inputs`)."""
    files = {"model": f"results/models/{run_of(wildcards).path}/model.pt"}
    if not PREDICTS_SCENES:
        return {**files, "folder": config["predict"]["input"]}
    return {**files, "tiles": tile_files()["tiles"], "splits": split_files(int(wildcards.seed))["splits"]}


def predict_source(wildcards, input):
    """The predict options naming what to predict: ``--folder`` or the set's scenes with their arrays."""
    source = config["predict"]["input"]
    if not PREDICTS_SCENES:
        return shlex.join(["--folder", source])
    return f"{shlex.join(['--set', source, '--splits', input.splits, '--tiles', input.tiles])} {scene_arguments(input)}"


def run_identity(wildcards):
    run = run_of(wildcards)
    return as_json({"variant": run.variant, "strong_fraction": run.fraction, "seed": run.seed, "point": run.point})


def data_benchmarks():
    """Benchmark files of the data stages this experiment used (for the report's wall-time table).

    Not ``prepare``: its scenes are known only after the download checkpoint, and the report
    must be plannable before it.
    """
    splits = sorted({split_seed(config, run.seed) for run in RUNS})
    return [
        f"results/benchmarks/download/{DATASET}.tsv",
        f"results/benchmarks/tile/{DATASET}.tsv",
        *expand(
            "results/benchmarks/{stage}/seed-{s}.tsv", stage=["split", "weak_labels", "augment", "stats"], s=splits
        ),
    ]


def report_inputs(wildcards):
    """Everything the report reads: the summary, the reference split's data files, the main runs' files."""
    split = split_files(REFERENCE_SPLIT)
    return {
        **tile_files(),
        "splits": split["splits"],
        "weak_labels": split["weak_labels"],
        "weak_summary": f"results/weak_labels/seed-{REFERENCE_SPLIT}/summary.csv",
        "stats": split["stats"],
        "preview": f"results/augment/seed-{REFERENCE_SPLIT}/preview.png",
        "summary": "results/summary.csv",
        "histories": [f"results/models/{run.path}/history.csv" for run in MAIN_RUNS],
        "confusions": [f"results/eval/{run.path}/confusion.csv" for run in MAIN_RUNS],
        "predictions": [f"results/eval/{run.path}/predictions" for run in MAIN_RUNS],
        "benchmarks": [
            *data_benchmarks(),
            *[f"results/benchmarks/train/{run.path}.tsv" for run in RUNS],
            *[f"results/benchmarks/evaluate/{run.path}.tsv" for run in RUNS],
            "results/benchmarks/summary.tsv",
        ],
        "template": "report/templates/report.html.j2",
        "css": "report/templates/report.css",
    }
