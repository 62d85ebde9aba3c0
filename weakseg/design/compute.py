"""What a run cost in compute: optimiser steps and images passed forward, its own and those it was built on.

The report shows them beside every method's score, since a method that trains longer or on more
images per step may gain from compute alone; each method's compute-matched control
(``strong_only_long``, ``matched_<method>``) takes as many steps and images without weak labels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from weakseg.design.experiment import VARIANTS, Run, chain_of, run_settings
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
    """The :class:`Compute` of ``run`` and of every run it is built on (:func:`~weakseg.design.experiment.chain_of`)."""
    steps = images = 0
    for name in chain_of(run.variant):
        training = run_settings(config, dataclasses.replace(run, variant=name))["training"]
        variant = VARIANTS[name]
        method = get_method(variant.method) if variant.method else Method()
        own = int(training["epochs"]) * int(training["steps_per_epoch"])
        steps += own
        images += own * int(training["batch_size"]) * method.batches_per_step(variant.mode)
    return Compute(steps, images)
