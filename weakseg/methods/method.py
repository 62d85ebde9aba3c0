"""The interface of a weak-supervision method, and the variants (ways of training one run) it adds.

A *method* is how a kind of weak label is used: pretraining then finetuning, joint training,
FixMatch consistency, pseudo-masks. It is the second axis of the study, beside the kind. Each
method adds the variants it needs to the variant table (:data:`weakseg.design.experiment.VARIANTS`):
its *arm* (the variant whose runs answer "does this kind, used this way, help?") and the runs the
arm starts from or is controlled by. The training loop stays one loop: a method shapes a step
through :meth:`Method.step_inputs` and :meth:`Method.step_loss`, and keeps extra state (an EMA
teacher) through :meth:`Method.extra_modules` and :meth:`Method.after_step`. Hooks import torch
themselves, so the workflow plans without it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One way of training a model.

    Attributes:
        name: the ``variant`` wildcard.
        pixel_sets: sets whose pixel labels give the pixel loss.
        weak_sets: sets whose weak labels (of the run's ``weak_kind``) give the weak loss.
        section: config section holding the schedule (epochs, steps, batch size, lr, loss).
        init_from: variant whose ``model.pt`` (same kind, fraction, seed and grid point) it starts from.
        per_fraction: False if the training set does not depend on the strong fraction.
        description: one line for the report.
        shuffled: the weak labels are permuted among the weak tiles (seeded by the run's seed):
            same images, same steps, no information in the labels.
        steps_matched_to: the variant whose total optimiser steps and images (its own and those
            of the runs it is built on) this one's schedule is lengthened and widened to (a
            compute-matched control: more epochs, and a batch of as many images as its steps see).
        method: the method (:data:`weakseg.methods.METHODS`) whose step the run takes; None for
            the plain steps of the controls, the baseline and the upper bound.
        teacher: the variant whose model (same kind, fraction, seed and point) predicts the
            pseudo-masks this variant's weak tiles are trained on (rule ``pseudo_masks``).
    """

    name: str
    pixel_sets: tuple[str, ...]
    weak_sets: tuple[str, ...]
    section: str
    init_from: str | None
    per_fraction: bool
    description: str
    shuffled: bool = False
    steps_matched_to: str | None = None
    method: str | None = None
    teacher: str | None = None

    @property
    def mode(self) -> str:
        """``strong`` (pixel loss only), ``weak`` (weak loss only) or ``joint`` (both)."""
        if self.pixel_sets and self.weak_sets:
            return "joint"
        return "strong" if self.pixel_sets else "weak"


def matched_control(method: str, arm: str) -> Variant:
    """The compute-matched control of ``method``'s ``arm``: ``strong_only`` with the arm's steps and images per step."""
    return Variant(
        f"matched_{method}",
        ("strong",),
        (),
        "training",
        None,
        True,
        f"control: strong_only with as many optimiser steps and images as {arm} (and the runs it is built on)",
        steps_matched_to=arm,
    )


class Method:
    """One weak-supervision method (a member of :data:`weakseg.methods.METHODS`).

    Attributes:
        name: the value in ``experiment.methods``.
        title: how the report names it.
        verb: how the answer says it, before the kind (``pretraining on``).
        arm: the variant whose runs answer for the method (one per kind).
        variants: the variants the method adds to the table (its arm last).
        compute_control: the compute-matched control of its arm (``strong_only_long`` for
            ``weak_finetuned``, ``matched_<name>`` for the others): pixel labels only, as many
            optimiser steps and images as the arm and the runs it is built on.
        controls: variants, beyond the compute-matched one, its arm is compared with; those that
            use weak labels are taken at the arm's kind (``shuffled_labels[points]``).
        citation: where the method comes from.
        has_options: the config has a ``methods.<name>`` section the method's runs read.
        strong_view: the weak tiles also come in a strongly augmented view (``strong_view``).
    """

    name: str
    title: str
    verb: str
    arm: str
    variants: tuple[Variant, ...] = ()
    compute_control: str = "strong_only_long"
    controls: tuple[str, ...] = ()
    citation: str = ""
    has_options: bool = False
    strong_view: bool = False

    def batches_per_step(self, mode: str) -> int:
        """Batches of ``batch_size`` images one step passes forward: 1 (strong or weak mode), 2 (joint)."""
        return 2 if mode == "joint" else 1

    def weak_loss(self, kind, options: dict):
        """``loss(logits, target)`` on a weak batch, or None for the kind's own loss (default)."""
        return None

    def prepare_step(self, batches: list[dict], options: dict, generator) -> None:
        """Change one step's batches in place before its forward pass (CutMix); default nothing."""

    def step_inputs(self, batches: list[dict]) -> list:
        """The image tensors of one step's single forward pass (default: each batch's ``image``)."""
        return [batch["image"] for batch in batches]

    def step_loss(self, parts: list, batches: list[dict], base_loss, context: dict):
        """Scalar loss of one step from the logits of :meth:`step_inputs`, in the same order.

        Args:
            parts: (B_i, K, H, W) float32 logits per input tensor.
            batches: the step's batches (strong, then weak in joint mode).
            base_loss: ``base_loss(parts, batch, weak_batch)``, the mode's plain loss on the
                logits of the batches' ``image`` tensors (one part per batch).
            context: ``options`` (``methods.<name>``), ``extras`` (:meth:`extra_modules`),
                ``generator`` (a torch.Generator seeded per step), ``weak_label`` (whether the
                kind has a label to train on), ``pixel_loss``.
        """
        return base_loss(parts[: len(batches)], *batches)

    def extra_modules(self, model, options: dict) -> dict:
        """Modules the method keeps beside the model (saved in the resume checkpoint); default none."""
        return {}

    def after_step(self, model, extras: dict, options: dict) -> None:
        """Called after each optimiser step (an EMA teacher follows the student here); default nothing."""
