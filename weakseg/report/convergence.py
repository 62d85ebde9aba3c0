"""Whether the runs had stopped improving: each run's validation mIoU over its last epochs.

A run is *still improving* when the validation mIoU of its last epoch exceeds the best of the
epochs before its last ``window`` epochs (:func:`window_of`: a quarter of the run, at least 2)
by more than :data:`TOLERANCE`. A flagged upper bound or baseline means that the schedule is
too short for the comparison: every arm is then scored before it converged, and a difference
between arms may be one of speed, not of the final models.
"""

from __future__ import annotations

import math

import numpy as np

#: The rise of validation mIoU over the last epochs that counts as still improving (half a mIoU point).
TOLERANCE = 0.005


def window_of(epochs: int) -> int:
    """The last epochs looked at: a quarter of ``epochs``, at least 2."""
    return max(2, epochs // 4)


def late_rise(val_miou: list[float]) -> float:
    """``val_miou[-1]`` minus the best value before the last :func:`window_of` epochs (NaN for < 3 epochs).

    Args:
        val_miou: per-epoch validation mIoU, in epoch order (NaN entries are ignored before the window).
    """
    values = np.asarray(val_miou, dtype=np.float64)
    window = window_of(len(values))
    if len(values) <= window or not math.isfinite(values[-1]):
        return math.nan
    earlier = values[:-window]
    earlier = earlier[np.isfinite(earlier)]
    return float(values[-1] - earlier.max()) if len(earlier) else math.nan


def still_improving(runs: list[dict], histories: list[list[dict]]) -> list[dict]:
    """Per arm and fraction, the runs whose validation mIoU still rose at the end (see the module docstring).

    Args:
        runs: ``{"variant", "strong_fraction", "seed"}`` per run (``variant`` the arm).
        histories: each run's ``history.csv`` rows (``epoch``, ``val_miou``), in the order of ``runs``.

    Returns:
        Rows ``{"variant", "strong_fraction", "flagged": [seed, ...], "n": runs, "rise": mean rise of the
        flagged runs, "window": epochs looked at}``, only for arms with a flagged run.
    """
    groups: dict[tuple[str, str], dict] = {}
    for run, rows in zip(runs, histories, strict=True):
        values = [_number(r.get("val_miou")) for r in sorted(rows, key=lambda r: _number(r.get("epoch")))]
        rise = late_rise(values)
        group = groups.setdefault((run["variant"], run["strong_fraction"]), {"flagged": [], "rises": [], "n": 0})
        group["n"] += 1
        group["window"] = window_of(len(values))
        if rise > TOLERANCE:
            group["flagged"].append(run["seed"])
            group["rises"].append(rise)
    return [
        {
            "variant": variant,
            "strong_fraction": fraction,
            "flagged": sorted(group["flagged"]),
            "n": group["n"],
            "rise": float(np.mean(group["rises"])),
            "window": group["window"],
        }
        for (variant, fraction), group in groups.items()
        if group["flagged"]
    ]


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
