import csv
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

sys.path.insert(0, workflow.basedir)

from weakseg.ops.config import check_config, config_warnings
from weakseg.io.errors import WeaksegError
from weakseg.design.experiment import (
    NO_WEAK,
    VARIANTS,
    Run,
    init_run,
    local_encoder_weights,
    main_runs,
    planned_runs,
    run_settings,
    split_seed,
    teacher_run,
)
from weakseg.io.names import SAFE_NAME_PATTERN
from weakseg.formats.predictions import folder_images
from weakseg.ops.stage import files_json
from weakseg.ops.stages import get_stage
from weakseg.weak import WEAK_KINDS, get_weak_kind

try:
    check_config(config, os.path.join(workflow.basedir, "schemas/config.schema.yaml"))
except WeaksegError as error:
    raise WorkflowError(str(error)) from None
for warning in config_warnings(config):
    logger.warning(warning)

DATASET = config["dataset"]["name"]
#: Every run the report scores (variant x strong fraction x seed, and the grid).
RUNS = planned_runs(config)
#: The runs at the configured hyperparameters (the grid's points are shown in their own table).
MAIN_RUNS = main_runs(config)
#: The split of the data-stage sections of the report.
REFERENCE_SPLIT = config["split"]["seed"]
#: The kind of weak label the report's weak-label section shows (the first of experiment.weak_kinds).
REFERENCE_KIND = config["experiment"]["weak_kinds"][0]
#: Kinds whose label is a weak mask per tile (rule weak_masks).
DENSE_KINDS = [name for name in WEAK_KINDS if get_weak_kind(name).dense]


def gpu_lease_options():
    """The GPU lease arguments of the train, evaluate and predict jobs (weakseg.ops.gpu_lease).

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
    weak_kind="|".join([NO_WEAK, *WEAK_KINDS]),
    strong_fraction=r"all|[0-9][0-9.e-]*",
    seed=r"\d+",
    split_seed=r"\d+",
    point=r"[^/]+",
    scene=SAFE_NAME_PATTERN,


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
    """The prepared ``image`` or ``label`` array of every scene the download listed.

    ``scoring_label``: the label scored on, ``rules.prepare_scoring``'s when ``dataset.scoring_labels``
    is set (e.g. ISPRS's eroded ground truth), else the prepared ``label``.
    """
    if kind == "scoring_label":
        if config["dataset"].get("scoring_labels"):
            return expand(rules.prepare_scoring.output.label, dataset=dataset, scene=scenes(dataset))
        kind = "label"
    return expand(rules.prepare.output[kind], dataset=dataset, scene=scenes(dataset))


def prepared(kind):
    """Input function: :func:`prepared_paths` of the job's dataset."""

    def files(wildcards):
        return prepared_paths(wildcards.dataset, kind)

    return files


def stage_call(name):
    """A rule's ``params.call``: the config values its stage reads, as JSON (a change reruns it).

    The stage module (``weakseg/ops/stages/<name>.py``) defines which values it reads;
    :func:`stage_shell` hands them to ``scripts/<name>.py`` with ``params.files``.
    """
    stage = get_stage(name)

    def call(wildcards):
        try:
            return stage.call_json(config, wildcards)
        except WeaksegError as error:
            raise WorkflowError(str(error)) from None

    return call


def stage_shell(name):
    """A rule's shell line: ``scripts/<name>.py`` on its ``params.call`` and ``params.files`` (weakseg.ops.stage.SHELL)."""
    return get_stage(name).shell


def stage_files(wildcards, input, output):
    """A rule's ``params.files``: its named inputs and outputs as JSON (derived from them, so no rerun trigger)."""
    try:
        return files_json(input, output)
    except WeaksegError as error:
        raise WorkflowError(str(error)) from None


def output_of(rule, key, **wildcards):
    """The path of ``rules.<rule>.output.<key>`` with ``wildcards`` filled in: one path per fact.

    ``key`` ``benchmark`` gives the rule's benchmark file.
    """
    path = getattr(rules, rule).benchmark if key == "benchmark" else getattr(rules, rule).output[key]
    return expand(path, **wildcards)[0]


def run_output(rule, key, run):
    """:func:`output_of` for the run ``run`` (a :class:`Run`: its wildcards are its fields)."""
    return output_of(rule, key, **run.as_dict())


def weak_label_inputs(wildcards):
    """Inputs of a weak_labels job: the tiles and split, and the true masks, or a dense kind's weak masks."""
    s, kind = wildcards.split_seed, wildcards.weak_kind
    masks = (
        {"weak_masks": output_of("weak_masks", "masks", split_seed=s, weak_kind=kind)}
        if kind in DENSE_KINDS
        else {"masks": tile_files()["masks"]}
    )
    return {**masks, "tiles": tile_files()["tiles"], "splits": output_of("split", "splits", split_seed=s)}


def split_files(seed, weak_kind=NO_WEAK):
    """The split-dependent inputs of a run of ``seed``: splits, pipelines, offline copies, band statistics,
    and the weak labels of ``weak_kind`` (none for ``none``; a dense kind's weak masks too)."""
    s = split_seed(config, seed)
    weak = {}
    if weak_kind != NO_WEAK:
        weak["weak_labels"] = output_of("weak_labels", "labels", split_seed=s, weak_kind=weak_kind)
    if weak_kind in DENSE_KINDS:
        weak["weak_masks"] = output_of("weak_masks", "masks", split_seed=s, weak_kind=weak_kind)
    return {
        "splits": output_of("split", "splits", split_seed=s),
        **weak,
        **{
            key: output_of("augment", key, split_seed=s)
            for key in ("offline_copies", "offline_images", "offline_masks")
        },
        "strong_pipeline": output_of("augment", "strong", split_seed=s),
        "weak_pipeline": output_of("augment", "weak", split_seed=s),
        "stats": output_of("stats", "stats", split_seed=s),
    }


def tile_files():
    """The ``tile`` rule's outputs for the configured dataset: ``images``, ``masks``, ``tiles`` (rules.tile.output)."""
    return {key: expand(path, dataset=DATASET)[0] for key, path in rules.tile.output.items()}


def train_inputs(wildcards):
    """Inputs of a train job: tiles, its split's files, local encoder weights and the model it starts from (if any).

    The weak-label table of the run's kind only for variants that train on weak labels: the
    others never read it, so a change of a kind's labels reruns only the runs that use them.
    """
    kind = wildcards.weak_kind if VARIANTS[wildcards.variant].weak_sets else NO_WEAK
    files = {**tile_files(), **split_files(int(wildcards.seed), kind)}
    weights = local_encoder_weights(run_settings(config, Run.from_wildcards(wildcards))["model"])
    if weights is not None:
        files["encoder_weights"] = weights
    parent = init_run(Run.from_wildcards(wildcards))
    if parent is not None:
        files["init"] = run_output("train", "model", parent)
    teacher = teacher_run(Run.from_wildcards(wildcards))
    if teacher is not None:
        files["pseudo_masks"] = run_output("pseudo_masks", "masks", teacher)
    return files


def pseudo_mask_student(wildcards):
    """The student run (variant with a teacher, weakseg.methods.pseudo_masks) of a pseudo-mask job's wildcards."""
    variant = next(v.name for v in VARIANTS.values() if v.teacher is not None)
    return Run(variant, wildcards.strong_fraction, int(wildcards.seed), wildcards.point, wildcards.weak_kind)


def pseudo_mask_audit(run, key):
    """The ``audit`` or ``preview`` file of a pseudo-mask student ``run`` (its wildcards without the variant)."""
    named = {k: v for k, v in run.as_dict().items() if k != "variant"}
    return output_of("pseudo_mask_audit", key, **named)


def pseudo_mask_inputs(wildcards):
    """Inputs of a pseudo_masks job: the teacher (joint[kind]), the tiles, the split and the kind's labels.

    Never the true masks: a dense kind's weak masks stand in for them.
    """
    teacher = teacher_run(pseudo_mask_student(wildcards))
    split = split_files(teacher.seed, teacher.weak_kind)
    files = {key: tile_files()[key] for key in ("images", "tiles")}
    files.update({key: split[key] for key in ("splits", "weak_labels", "weak_masks") if key in split})
    return {**files, "model": run_output("train", "model", teacher)}


def pseudo_mask_audit_inputs(wildcards):
    """Inputs of a pseudo_mask_audit job: the pseudo-masks and, now that the student has trained, the true masks."""
    student = pseudo_mask_student(wildcards)
    named = dict(wildcards.items())
    return {
        "pseudo_masks": output_of("pseudo_masks", "masks", **named),
        "summary": output_of("pseudo_masks", "summary", **named),
        "masks": tile_files()["masks"],
        "images": tile_files()["images"],
        "tiles": tile_files()["tiles"],
        "splits": split_files(student.seed)["splits"],
        "student": run_output("train", "model", student),
    }


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
    """Inputs of an evaluate job: the run's model, tiles and split (scenes: see :func:`scene_inputs`)."""
    return {
        "model": run_output("train", "model", Run.from_wildcards(wildcards)),
        **tile_files(),
        "splits": split_files(int(wildcards.seed))["splits"],
    }


def predict_inputs(wildcards):
    """Inputs of a predict job: the run's model, and the folder's image files or the split (scenes: see :func:`scene_inputs`).

    Each image file is an input, so replacing or adding an image reruns the job (a folder's
    mtime does not change when a file in it is rewritten).
    """
    files = {"model": run_output("train", "model", Run.from_wildcards(wildcards))}
    if not PREDICTS_SCENES:
        try:
            images = folder_images(config["predict"]["input"])
        except WeaksegError as error:
            raise WorkflowError(str(error)) from None
        return {**files, "images": [item.image for item in images]}
    return {**files, "tiles": tile_files()["tiles"], "splits": split_files(int(wildcards.seed))["splits"]}


def data_benchmarks():
    """Benchmark files of the data stages this experiment used (for the report's wall-time table).

    Not ``prepare``: its scenes are known only after the download checkpoint, and the report
    must be plannable before it.
    """
    splits = sorted({split_seed(config, run.seed) for run in RUNS})
    kinds = sorted({run.weak_kind for run in RUNS} - {NO_WEAK})
    return [
        output_of("download", "benchmark", dataset=DATASET),
        output_of("tile", "benchmark", dataset=DATASET),
        *[output_of(stage, "benchmark", split_seed=s) for stage in ("split", "augment", "stats") for s in splits],
        *[output_of("weak_labels", "benchmark", split_seed=s, weak_kind=k) for s in splits for k in kinds],
    ]


def report_inputs(wildcards):
    """Everything the report reads: the summary, the reference split's data files, the main runs' files."""
    split = split_files(REFERENCE_SPLIT, REFERENCE_KIND)
    return {
        **tile_files(),
        "splits": split["splits"],
        "weak_labels": split["weak_labels"],
        "weak_summary": output_of("weak_labels", "summary", split_seed=REFERENCE_SPLIT, weak_kind=REFERENCE_KIND),
        "stats": split["stats"],
        "preview": output_of("augment", "preview", split_seed=REFERENCE_SPLIT),
        "summary": rules.summary.output.summary,
        "histories": [run_output("train", "history", run) for run in MAIN_RUNS],
        "confusions": [run_output("evaluate", "confusion", run) for run in MAIN_RUNS],
        "predictions": [run_output("evaluate", "predictions", run) for run in MAIN_RUNS],
        "audits": [pseudo_mask_audit(run, "audit") for run in MAIN_RUNS if VARIANTS[run.variant].teacher is not None],
        "audit_previews": [
            pseudo_mask_audit(run, "preview") for run in MAIN_RUNS if VARIANTS[run.variant].teacher is not None
        ],
        "benchmarks": [
            *data_benchmarks(),
            *rules.summary.input.train_benchmarks,
            *rules.summary.input.eval_benchmarks,
            rules.summary.benchmark,
        ],
        "template": "report/templates/report.html.j2",
        "css": "report/templates/report.css",
    }
