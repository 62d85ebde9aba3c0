"""Refining a teacher's class probabilities with a tile's weak label (numpy only), for pseudo-masks.

The label's constraints are imposed on the prediction before its argmax becomes a pseudo-mask
(:mod:`weakseg.methods.pseudo_masks`): presence tags zero the classes they say are absent (the
class-suppression step of CAM-based pseudo-masks, Ahn & Kwak 2018); label proportions and size
bounds rescale the class priors, the classic prior-shift adjustment of a classifier to known
class frequencies (Saerens et al., "Adjusting the outputs of a classifier to new a priori
probabilities", Neural Computation 2002), iterated until the tile's mean probabilities match the
target shares.
"""

from __future__ import annotations

import numpy as np

#: Prior-rescaling iterations (the shares match to well under 1e-3 within tens on real maps).
ITERATIONS = 50
#: Smallest mean probability a class is rescaled from (no division by zero).
EPSILON = 1e-12


def normalised(probabilities: np.ndarray) -> np.ndarray:
    """(K, H, W) probabilities divided by their sum over K (a pixel summing to 0 stays 0)."""
    total = probabilities.sum(axis=0, keepdims=True)
    return np.divide(probabilities, total, out=np.zeros_like(probabilities), where=total > 0)


def suppress(probabilities: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(K, H, W) probabilities with the classes where (K,) bool ``present`` is False set to 0, renormalised.

    A tile with no class present (an empty label) is returned unchanged: it says nothing.
    """
    if not present.any():
        return probabilities
    return normalised(probabilities * present[:, None, None])


def match_shares(probabilities: np.ndarray, target: np.ndarray, iterations: int = ITERATIONS) -> np.ndarray:
    """(K, H, W) probabilities whose class priors are rescaled so that their mean over pixels is (K,) ``target``.

    Each iteration multiplies class k by ``target_k / mean_k`` and renormalises per pixel
    (Saerens et al. 2002); a class with target 0 is removed. A target of all zeros (no labelled
    pixel) returns the probabilities unchanged.
    """
    target = np.asarray(target, dtype=np.float64)
    if not (target > 0).any():
        return probabilities
    weights = (target > 0).astype(np.float64)
    for _ in range(iterations):
        adjusted = normalised(probabilities * weights[:, None, None])
        current = adjusted.reshape(len(target), -1).mean(axis=1)
        weights = weights * np.where(target > 0, target / np.maximum(current, EPSILON), 0.0)
    return normalised(probabilities * weights[:, None, None])


def within_bounds(probabilities: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(K, H, W) probabilities rescaled so that each class's mean share lies in [lower_k, upper_k].

    The target is the current share clipped into the bounds, renormalised to sum 1, then
    :func:`match_shares`; classes whose upper bound is 0 are removed.
    """
    current = probabilities.reshape(len(lower), -1).mean(axis=1)
    target = np.clip(current, lower, upper)
    if target.sum() <= 0:
        return probabilities
    return match_shares(probabilities, target / target.sum())
