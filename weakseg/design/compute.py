"""What a run cost in compute: optimiser steps and images passed forward, its own and those it was built on.

The report shows them beside every method's score, since a method that trains longer or on more
images per step may gain from compute alone; each method's compute-matched control
(``strong_only_long``, ``matched_<method>``) takes as many steps and images without weak labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.design.experiment import Run, steps_and_images


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
    return Compute(*steps_and_images(config, run))
