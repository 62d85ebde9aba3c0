"""The experiment design: the table of variants, and the runs a configuration asks for.

A *run* is one training job: a variant, the kind of weak label it uses (``none`` for runs
without weak labels), a strong fraction (the share of all tiles with pixel labels), a seed and
a grid point. The Snakemake rules take these as wildcards; this module
is the one place that says which runs exist and what each one trains on. It imports neither
torch nor numpy, so the workflow can plan without them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from weakseg.io.errors import WeaksegError
from weakseg.io.names import label_value
from weakseg.methods import get_method, method_variants
from weakseg.methods.method import Method, Variant
from weakseg.weak import get_weak_kind

#: Sets of a split: pixel-labelled ``strong``, weakly labelled ``weak``, ``val`` (selection:
#: epochs, grid points) and the optional ``test`` (scoring, when ``split.fractions.test`` > 0).
SET_NAMES = ("strong", "weak", "val", "test")
#: Sets every split has (``test`` is optional).
REQUIRED_SETS = ("strong", "weak", "val")
#: The strong and weak sets together: the tiles a model may learn from.
POOL = ("strong", "weak")
#: The held-out sets: tiles no model learns from; one of them is scored (see ``scored_set``).
HELD_OUT = ("val", "test")
#: Config sections a grid may vary.
GRID_SECTIONS = ("training", "pretraining", "model")
#: Keys of the ``training`` section every run shares, whatever its schedule section.
SHARED_TRAINING_KEYS = ("device", "log_every_batches", "checkpoint", "compile")
#: The ``fraction`` wildcard of runs that do not depend on the strong fraction.
ALL_TILES = "all"
#: The ``point`` wildcard of runs with the configured hyperparameters.
DEFAULT_POINT = "default"


#: The variants of no method: the baseline, its compute-matched control and the upper bound.
CONTROL_VARIANTS = (
    Variant("strong_only", ("strong",), (), "training", None, True, "pixel loss on the strong set (the baseline)"),
    Variant(
        "strong_only_long",
        ("strong",),
        (),
        "training",
        None,
        True,
        "control: strong_only with as many optimiser steps as weak_finetuned (pretraining + training)",
        steps_matched_to="weak_finetuned",
    ),
)
#: Every variant: the controls, each method's variants (:func:`weakseg.methods.method_variants`), the upper bound.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        *CONTROL_VARIANTS,
        *method_variants(),
        Variant(
            "full",
            ("strong", "weak"),
            (),
            "training",
            None,
            False,
            "upper bound: pixel labels of the strong and weak sets",
        ),
    )
}
BASELINE = "strong_only"
UPPER_BOUND = "full"
#: The ``weak_kind`` of runs that use no weak label.
NO_WEAK = "none"


def uses_weak_labels(variant: str) -> bool:
    """Whether runs of ``variant`` depend on weak labels: it trains on them or starts from a run that does."""
    v = VARIANTS[variant]
    return bool(v.weak_sets) or (v.init_from is not None and uses_weak_labels(v.init_from))


def kinds_of(variant: str, weak_kinds: list[str]) -> list[str]:
    """The ``weak_kind`` values ``variant`` runs with: ``none``, or each of ``weak_kinds`` it can train on.

    A kind whose weak loss teaches nothing alone (no label: its
    :attr:`~weakseg.weak.kind.WeakKind.needs_pixel_loss`) only with a ``joint`` variant; a
    shuffled control only with kinds that have labels to shuffle.
    """
    if not uses_weak_labels(variant):
        return [NO_WEAK]
    joint = VARIANTS[variant].mode == "joint"
    shuffled = any(VARIANTS[v].shuffled for v in lineage_of(variant))
    return [k for k in weak_kinds if not get_weak_kind(k).needs_pixel_loss or (joint and not shuffled)]


def lineage_of(variant: str) -> list[str]:
    """``variant`` and the variants it starts from, in order (``weak_finetuned`` -> ``[weak_finetuned, weak_only]``)."""
    chain = [variant]
    while VARIANTS[chain[-1]].init_from is not None:
        chain.append(VARIANTS[chain[-1]].init_from)
    return chain


@dataclass(frozen=True, order=True)
class Run:
    """One training job; its wildcards are the fields, its folder :attr:`path` (:meth:`parse` reads one back).

    The one place a run folder is written and read: the plan, the rules, the report and the
    dashboard all go through it.
    """

    variant: str
    strong_fraction: str
    seed: int
    point: str = DEFAULT_POINT
    weak_kind: str = NO_WEAK

    @property
    def path(self) -> str:
        """``{variant}/weak-{weak_kind}/strong-{strong_fraction}/seed-{seed}/{point}``, as in the rules' paths."""
        return f"{self.variant}/weak-{self.weak_kind}/strong-{self.strong_fraction}/seed-{self.seed}/{self.point}"

    @property
    def arm(self) -> str:
        """How tables name the run's variant and kind: ``variant`` or ``variant[kind]``."""
        return self.variant if self.weak_kind == NO_WEAK else f"{self.variant}[{self.weak_kind}]"

    @classmethod
    def parse(cls, path: str) -> Run:
        """The run of a folder :attr:`path` (the last five parts of ``path``, separated by ``/``).

        Raises:
            WeaksegError: ``path`` does not end in ``variant/weak-K/strong-F/seed-S/point`` (S an integer).
        """
        parts = str(path).replace("\\", "/").rstrip("/").split("/")[-5:]
        ok = len(parts) == 5 and parts[1].startswith("weak-") and parts[2].startswith("strong-")
        seed = parts[3].removeprefix("seed-") if ok and parts[3].startswith("seed-") else ""
        if not seed.isdigit():
            raise WeaksegError(f"{path!r} is not a run folder of the form variant/weak-K/strong-F/seed-S/point")
        return cls(parts[0], parts[2].removeprefix("strong-"), int(seed), parts[4], parts[1].removeprefix("weak-"))

    @classmethod
    def from_wildcards(cls, wildcards) -> Run:
        """The run of a job's ``variant``, ``weak_kind``, ``strong_fraction``, ``seed`` and ``point`` wildcards."""
        return cls(
            wildcards.variant, wildcards.strong_fraction, int(wildcards.seed), wildcards.point, wildcards.weak_kind
        )

    def as_dict(self) -> dict:
        """``{"variant", "weak_kind", "strong_fraction", "seed", "point"}``: the run's identity in files and tables."""
        return {
            "variant": self.variant,
            "weak_kind": self.weak_kind,
            "strong_fraction": self.strong_fraction,
            "seed": self.seed,
            "point": self.point,
        }


def fraction_label(fraction: float) -> str:
    """A strong fraction as its wildcard: ``0.1`` -> ``"0.1"`` (shortest round-trip form)."""
    return format(float(fraction), "g")


def strong_fractions(config: dict) -> list[float]:
    """``experiment.strong_fractions``, or ``[split.fractions.strong]`` when it is null."""
    values = config["experiment"]["strong_fractions"]
    return list(values) if values else [config["split"]["fractions"]["strong"]]


def split_seed(config: dict, seed: int) -> int:
    """The split a run of ``seed`` uses: its own seed with ``experiment.resample_split``, else ``split.seed``."""
    return int(seed) if config["experiment"]["resample_split"] else int(config["split"]["seed"])


def grid_points(grid: dict) -> list[tuple[str, dict]]:
    """Every point of ``experiment.grid`` as ``(label, {dotted key: value})``, in a fixed order.

    The label is the point's wildcard, e.g. ``training.lr~0.001,training.batch_size~8`` (keys
    in the order given, values as :func:`weakseg.io.names.label_value`: JSON, strings bare, any
    character unsafe in a path segment percent-encoded). An empty grid has no points.
    """
    if not grid:
        return []
    keys = list(grid)
    points = []
    for values in itertools.product(*(grid[k] for k in keys)):
        pairs = zip(keys, values, strict=False)
        label = ",".join(f"{k}~{label_value(v)}" for k, v in pairs)
        points.append((label, dict(zip(keys, values, strict=False))))
    return points


def point_overrides(config: dict, point: str) -> dict:
    """The ``{dotted key: value}`` of grid point ``point`` (empty for ``default``).

    Raises:
        WeaksegError: ``point`` is not a point of ``experiment.grid``.
    """
    if point == DEFAULT_POINT:
        return {}
    for label, overrides in grid_points(config["experiment"]["grid"]):
        if label == point:
            return overrides
    raise WeaksegError(f"grid point {point!r} is not in experiment.grid")


def planned_runs(config: dict) -> list[Run]:
    """The runs the report scores: every selected variant x weak kind x fraction x seed, plus the grid.

    The selected variants are ``experiment.variants`` and the arms of ``experiment.methods``
    (:func:`selected_variants`).

    Variants that use weak labels run once per kind of ``experiment.weak_kinds`` they can train
    on (:func:`kinds_of`), the others once (kind ``none``), so adding a kind plans only its
    runs. ``full`` runs once per seed (fraction ``all``). Grid points run for each variant of
    ``experiment.grid_variants``, at every kind, strong fraction and seed. Runs a variant starts
    from (``weak_only`` for ``weak_finetuned``) are dependencies, not listed unless selected.
    """
    experiment = config["experiment"]
    fractions = [fraction_label(f) for f in strong_fractions(config)]
    kinds = list(experiment["weak_kinds"])
    runs = []
    for names, points in (
        (selected_variants(config), [DEFAULT_POINT]),
        (experiment["grid_variants"], [label for label, _ in grid_points(experiment["grid"])]),
    ):
        for name in names:
            for point in points:
                for kind in kinds_of(name, kinds):
                    for seed in experiment["seeds"]:
                        for fraction in fractions if VARIANTS[name].per_fraction else [ALL_TILES]:
                            runs.append(Run(name, fraction, int(seed), point, kind))
    return list(dict.fromkeys(runs))


def selected_variants(config: dict) -> list[str]:
    """``experiment.variants``, then the arm of each method of ``experiment.methods`` (each once)."""
    experiment = config["experiment"]
    arms = [get_method(name).arm for name in experiment.get("methods", [])]
    return list(dict.fromkeys([*experiment["variants"], *arms]))


def main_runs(config: dict) -> list[Run]:
    """The planned runs at the configured hyperparameters (grid points have a table of their own)."""
    return [run for run in planned_runs(config) if run.point == DEFAULT_POINT]


def scored_set(config: dict) -> str:
    """The set every reported number comes from: ``test`` when the split has one, else ``val``."""
    split = config["split"]
    return "test" if split["fractions"].get("test", 0) > 0 or split["use_official_test"] else "val"


def init_run(run: Run) -> Run | None:
    """The run whose ``model.pt`` ``run`` starts from (same kind, fraction, seed, point), or None."""
    parent = VARIANTS[run.variant].init_from
    return None if parent is None else Run(parent, run.strong_fraction, run.seed, run.point, run.weak_kind)


def teacher_run(run: Run) -> Run | None:
    """The run whose ``model.pt`` predicts ``run``'s pseudo-masks (same kind, fraction, seed, point), or None."""
    teacher = VARIANTS[run.variant].teacher
    return None if teacher is None else Run(teacher, run.strong_fraction, run.seed, run.point, run.weak_kind)


def _with_overrides(config: dict, overrides: dict) -> dict:
    sections = {name: dict(config[name]) for name in GRID_SECTIONS}
    for key, value in overrides.items():
        section, name = key.split(".", 1)
        sections[section][name] = value
    return sections


def run_settings(config: dict, run: Run) -> dict:
    """What a run's training depends on from the config (its ``params``, so an edit reruns it).

    Returns:
        ``{"variant", "mode", "weak_kind", "strong_fraction", "seed", "point", "model", "training"}``;
        ``training`` holds the schedule of the variant's section (grid overrides applied),
        the keys of :data:`SHARED_TRAINING_KEYS`, ``seed``; for variants that train on weak
        labels also ``weak_kind`` and ``weak_options`` (``weak_labels.<kind>``), for shuffled
        ones ``shuffled_weak_labels``, for joint-mode variants ``joint_weight``, for a method
        with options (consistency, pseudo-masks) ``method`` and ``method_options``
        (``methods.<name>``), and for a compute-matched control ``epochs`` lengthened by
        :func:`matched_extra_epochs` and ``batch_size`` by :func:`matched_batch_size`. Runs
        without weak labels carry no weak-label setting, so changing a kind reruns exactly the
        runs that use it.
    """
    variant = VARIANTS[run.variant]
    sections = _with_overrides(config, point_overrides(config, run.point))
    schedule = dict(sections[variant.section])
    training = {**schedule, **{k: sections["training"][k] for k in SHARED_TRAINING_KEYS}, "seed": int(run.seed)}
    if variant.weak_sets:
        training["weak_kind"] = run.weak_kind
        training["weak_options"] = dict(config["weak_labels"][run.weak_kind])
    if variant.shuffled:
        training["shuffled_weak_labels"] = True
    if variant.mode == "joint":
        training["joint_weight"] = config["experiment"]["joint_weight"]
    if variant.method is not None and get_method(variant.method).has_options:
        training["method"] = variant.method
        training["method_options"] = dict(config["methods"][variant.method])
    if variant.steps_matched_to is not None:
        training["epochs"] += matched_extra_epochs(sections, variant.steps_matched_to)
        training["batch_size"] = matched_batch_size(sections, variant.steps_matched_to)
    return {
        "variant": variant.name,
        "mode": variant.mode,
        "weak_kind": run.weak_kind,
        "strong_fraction": run.strong_fraction,
        "seed": int(run.seed),
        "point": run.point,
        "model": {**sections["model"], "frames": config["sequence"]["length"]},
        "training": training,
    }


def chain_of(variant: str) -> list[str]:
    """``variant``, the variants it starts from and, for a pseudo-mask student, its teacher's: all it was built on."""
    chain, pending = [], [variant]
    while pending:
        name = pending.pop(0)
        chain.append(name)
        pending += [v for v in (VARIANTS[name].init_from, VARIANTS[name].teacher) if v is not None]
    return chain


def _steps_and_images(sections: dict, variant: str) -> tuple[int, int]:
    """Optimiser steps, and images passed forward, of ``variant``'s runs (:func:`chain_of`), summed.

    A compute-matched control counts with its lengthened and widened schedule.
    """
    steps = images = 0
    for name in chain_of(variant):
        v = VARIANTS[name]
        section = sections[v.section]
        epochs, batch = int(section["epochs"]), int(section["batch_size"])
        if v.steps_matched_to is not None:
            epochs += matched_extra_epochs(sections, v.steps_matched_to)
            batch = matched_batch_size(sections, v.steps_matched_to)
        own = epochs * int(section["steps_per_epoch"])
        method = get_method(v.method) if v.method is not None else Method()
        steps += own
        images += own * batch * method.batches_per_step(v.mode)
    return steps, images


def steps_and_images(config: dict, run: Run) -> tuple[int, int]:
    """Optimiser steps and images passed forward of ``run`` and the runs it is built on, at its grid point."""
    return _steps_and_images(_with_overrides(config, point_overrides(config, run.point)), run.variant)


def total_steps(sections: dict, variant: str) -> int:
    """Optimiser steps of a run of ``variant`` and of the runs it is built on (epochs x steps_per_epoch each)."""
    return _steps_and_images(sections, variant)[0]


def matched_extra_epochs(sections: dict, matched_to: str) -> int:
    """Epochs of ``training.steps_per_epoch`` steps to add to a ``training`` schedule to reach ``matched_to``'s steps.

    Rounded up: the control gets at least the steps of the variant it is matched to, and at
    most ``steps_per_epoch - 1`` more (none when the step counts divide, as by default).
    """
    training = sections["training"]
    missing = total_steps(sections, matched_to) - int(training["epochs"]) * int(training["steps_per_epoch"])
    return max(0, -(-missing // int(training["steps_per_epoch"])))


def matched_batch_size(sections: dict, matched_to: str) -> int:
    """The batch size at which a control's steps see as many images as ``matched_to``'s: images / steps, rounded.

    ``weak_finetuned`` (one batch per step): the batch size itself; ``joint`` (a strong and a
    weak batch per step): twice it; ``consistency`` (the strong view is a third): three times.
    """
    steps, images = _steps_and_images(sections, matched_to)
    return max(1, round(images / max(steps, 1)))


#: ``model.encoder_weights`` values that name no file: random init, or smp's ImageNet download.
NAMED_WEIGHTS = (None, "imagenet")


def local_encoder_weights(model: dict) -> str | None:
    """The local encoder state_dict (a path) a run's ``model`` settings start from, or None.

    It is an input of the train job and part of its resume fingerprint, so replacing the file
    reruns the run instead of resuming it.
    """
    weights = model.get("encoder_weights")
    return None if weights in NAMED_WEIGHTS else str(weights)
