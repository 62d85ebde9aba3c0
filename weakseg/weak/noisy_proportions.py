"""Noisy label proportions: what an annotator's estimate of a tile's class shares looks like.

Noise model (documented, seeded): the true shares ``t`` of the classes present in the tile are
replaced by a draw from a Dirichlet distribution with parameters ``concentration * t``, so
the estimate is unbiased (``E[p] = t``) with variance ``t (1 - t) / (concentration + 1)``
(the Dirichlet's moments; e.g. ``concentration`` 20: a true share of 0.3 is estimated with a
standard deviation of 0.10). Classes absent from the tile stay at 0 (an annotator sees that a
class is absent). With ``step`` > 0 the estimate is then rounded to multiples of ``step`` that
sum to 1 (as a person answering "about 30%" does; :func:`round_shares`): each share moves by less
than one step, except that a present class is never rounded to nothing (a share under ``step``
becomes ``step``, a known upward bias for small classes, taken from the others). Training is that of exact label
proportions.
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
            noisy[i] = round_shares(noisy[i], present, step)
    return noisy


def round_shares(shares: np.ndarray, present: np.ndarray, step: float) -> np.ndarray:
    """(K,) shares summing to 1 rounded to multiples of ``step`` that still sum to 1, as a person would give them.

    Largest-remainder rounding (Hamilton's apportionment): each class gets the whole steps of
    its share, a present class at least one (the annotator saw it), and the steps left go to the
    largest remainders (or, when the minimum of one step overshoots, come off the smallest
    remainders of classes above one step). So every value is a multiple of ``step``, the sum is
    1, and a share moves by less than one step, except where present shares under ``step`` are
    raised to ``step``: those steps come off the other classes. When ``step`` does not divide 1
    (e.g. 0.3) or more classes are present than there are steps, the shares are rounded to the
    nearest multiple (present ones at least one step) and renormalised, so they sum to 1 but are
    not all multiples of ``step``.

    Args:
        shares: (K,) float64, summing to 1; present: (K,) bool; step: in (0, 1).
    """
    inverse = 1 / step
    total = round(inverse) if np.isfinite(inverse) else 0  # a step of ~1e-310 overflows: left to check_labels
    if total == 0 or abs(total * step - 1) > 1e-9 or present.sum() > total:
        rounded = np.round(shares / step) * step
        rounded[present] = np.maximum(rounded[present], step)
        return rounded / rounded.sum()
    exact = shares / step
    units = np.floor(exact + 1e-9)
    units[present] = np.maximum(units[present], 1)
    remainder = exact - units  # negative for a present class raised to one step
    while units.sum() < total:
        k = int(np.argmax(np.where(present, remainder, -np.inf)))
        units[k] += 1
        remainder[k] -= 1
    while units.sum() > total:
        k = int(np.argmin(np.where(units > 1, remainder, np.inf)))
        units[k] -= 1
        remainder[k] += 1
    return units * step


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
