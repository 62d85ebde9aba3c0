"""What a run cost in compute: optimiser steps and images passed forward, its own and those it was built on.

The report shows them beside every method's score, since a method that trains longer or on more
images per step may gain from compute alone (the compute-matched control ``strong_only_long``
matches ``weak_finetuned``'s steps; see docs/study.md for how it relates to the other methods).
"""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.design.experiment import VARIANTS, Run, init_run, run_settings, teacher_run
from weakseg.methods import get_method
from weakseg.methods.method import Method


@dataclass(frozen=True)
class Compute:
    """A run's compute, summed over the runs it was built on (the run it starts from, its teacher).

    Attributes:
        steps: optimiser steps.
        images: tiles passed forward in training (steps x batch size x batches per step; a
            consistency step's strong view counts as an image).
    """

    steps: int
    images: int


def run_compute(config: dict, run: Run) -> Compute:
    """The :class:`Compute` of ``run`` and of every run it starts from or learns from (a pseudo-mask teacher)."""
    steps = images = 0
    pending = [run]
    while pending:
        current = pending.pop()
        training = run_settings(config, current)["training"]
        variant = VARIANTS[current.variant]
        method = get_method(variant.method) if variant.method else Method()
        own = int(training["epochs"]) * int(training["steps_per_epoch"])
        steps += own
        images += own * int(training["batch_size"]) * method.batches_per_step(variant.mode)
        pending += [r for r in (init_run(current), teacher_run(current)) if r is not None]
    return Compute(steps, images)
