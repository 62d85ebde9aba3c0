"""Noisy label proportions: what an annotator's estimate of a tile's class shares looks like.

Noise model (documented, seeded): the true shares ``t`` of the classes present in the tile are
replaced by a draw from a Dirichlet distribution with parameters ``concentration * t``, so
the estimate is unbiased (``E[p] = t``) with variance ``t (1 - t) / (concentration + 1)``
(the Dirichlet's moments; e.g. ``concentration`` 20: a true share of 0.3 is estimated with a
standard deviation of 0.10). Classes absent from the tile stay at 0 (an annotator sees that a
class is absent). With ``step`` > 0 the estimate is then rounded to multiples of ``step`` (as a
person answering "about 30%" does) and renormalised to sum to 1. Training is that of exact
label proportions.
"""

from __future__ import annotations

import numpy as np

from weakseg.io.errors import WeaksegError
from weakseg.weak.kind import WeakKind
from weakseg.weak.shares import PROPORTION_LOSSES, label_proportions


def noisy_label_proportions(
    proportions: np.ndarray, concentration: float, step: float, rng: np.random.Generator
) -> np.ndarray:
    """Noisy estimates of label proportions (the module's noise model).

    Args:
        proportions: (N, K) float64 true shares, rows summing to 1 (or all zero).
        concentration: Dirichlet concentration, > 0; larger is less noisy.
        step: round to multiples of this share (0: no rounding), in [0, 1).
        rng: drawn from once per tile with a present class, in row order.

    Returns:
        (N, K) float64; rows sum to 1 (all-zero rows stay zero).
    """
    noisy = np.zeros_like(proportions, dtype=np.float64)
    for i, row in enumerate(proportions):
        present = row > 0
        if not present.any():
            continue
        noisy[i, present] = rng.dirichlet(concentration * row[present])
        if step > 0:
            rounded = np.round(noisy[i] / step) * step
            # A present class never rounds to nothing: the annotator saw it.
            rounded[present] = np.maximum(rounded[present], min(step, 1.0) / 2)
            noisy[i] = rounded / rounded.sum()
    return noisy


#: The finest rounding ``step`` accepted (a share of 0.1%): finer steps round nothing a person would,
#: and below ~1e-308 ``share / step`` overflows to infinity and the labels become NaN.
MIN_STEP = 1e-3


class NoisyProportions(WeakKind):
    """Label proportions as estimated by a person (see the module docstring)."""

    name = "noisy_proportions"
    title = "noisy label proportions"
    losses = PROPORTION_LOSSES
    label_keys = ("concentration", "step")
    draws = True
    citation = "the noise model of this module (Dirichlet around the true shares, optional rounding)"

    def label(self, masks: np.ndarray, n_classes: int, options: dict, rng: np.random.Generator) -> np.ndarray:
        """:func:`noisy_label_proportions` of :func:`~weakseg.weak.proportions.label_proportions`."""
        return noisy_label_proportions(
            label_proportions(masks, n_classes), float(options["concentration"]), float(options["step"]), rng
        )

    def check_options(self, options: dict) -> None:
        """Also refuse a rounding ``step`` between 0 and :data:`MIN_STEP`.

        Raises:
            WeaksegError: naming ``weak_labels.noisy_proportions.step``, the value and the fix.
        """
        super().check_options(options)
        step = float(options["step"])
        if 0 < step < MIN_STEP:
            raise WeaksegError(
                f"weak_labels.noisy_proportions.step: {step!r} is finer than {MIN_STEP} (a share of 0.1%); use 0 "
                "for no rounding, or a step a person would round to, e.g. 0.05 or 0.1"
            )

    def refine(self, probabilities: np.ndarray, label: np.ndarray, options: dict) -> np.ndarray:
        """As label proportions: priors rescaled to the noisy shares (:func:`~weakseg.weak.refine.match_shares`)."""
        from weakseg.weak.refine import match_shares

        return match_shares(probabilities, label)

    def loss(self, logits, target, options: dict):
        """As for exact proportions: :func:`~weakseg.weak.proportions.proportion_loss` over every pixel."""
        from weakseg.weak.proportions import predicted_proportions, proportion_loss  # torch: training only

        return proportion_loss(predicted_proportions(logits), target, options["loss"])


NOISY_PROPORTIONS = NoisyProportions()
