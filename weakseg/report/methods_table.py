"""The methods x kinds table: each method's arm at each kind, against the same controls, positive control first.

One row per (strong fraction, kind, method): the arm's mIoU (95% interval over seeds), its
difference to its reference (its method's compute-matched control when the study ran it) with
the family's Holm p and verdict (:mod:`weakseg.report.comparisons`), the share of the gap
between ``strong_only`` and ``full`` it closed (Fieller's interval), its compute (optimiser steps
and images passed forward, with the runs it was built on: :mod:`weakseg.design.compute`), the
annotation hours behind it, and for pseudo-masks their quality on the weak tiles (the audit).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from weakseg.design.compute import run_compute
from weakseg.design.experiment import BASELINE, DEFAULT_POINT, UPPER_BOUND, VARIANTS, Run
from weakseg.methods import METHODS, get_method
from weakseg.report.comparisons import gap_closed, reference_of
from weakseg.report.results import arm_name, by_seed, fractions_of, kinds_of_rows
from weakseg.report.statistics import mean_interval
from weakseg.weak import get_weak_kind

#: The share of the gap to ``full`` a method must be able to close on the positive control: the
#: report says a method fails when the upper end of its Fieller interval is below it.
POSITIVE_CONTROL_SHARE = 0.9


def ordered_kinds(rows: list[dict]) -> list[str]:
    """The kinds of the runs, the positive control(s) first, then in order of appearance."""
    kinds = kinds_of_rows(rows)
    return sorted(kinds, key=lambda k: (not get_weak_kind(k).positive_control, kinds.index(k)))


def read_audits(paths) -> dict[tuple[str, str, int], float]:
    """``(kind, fraction, seed)`` -> pseudo-mask mIoU of each ``audit.json`` (its folder names the student run)."""
    found = {}
    for path in paths:
        run = Run.parse(str(Path(path).parent))
        miou = json.loads(Path(path).read_text())["miou"]
        found[run.weak_kind, run.strong_fraction, run.seed] = math.nan if miou is None else float(miou)
    return found


def methods_table(family: dict, rows: list[dict], config: dict, audits: dict, hours: list[dict]) -> list[dict]:
    """The rows of the table (see the module docstring).

    Args:
        family: :func:`~weakseg.report.comparisons.family_comparisons`.
        rows: ``summary.csv`` rows prepared by :func:`~weakseg.report.results.with_arms`.
        config: the study's config (schedules, for the compute).
        audits: :func:`read_audits`.
        hours: :func:`~weakseg.report.results.annotation_hours` rows.

    Returns:
        Rows ``{"strong_fraction", "kind", "method", "arm", "reference", "miou": Interval,
        "comparison": Comparison | None, "gap": Ratio | None, "compute": Compute, "hours",
        "pseudo_miou": Interval | None, "positive_control": bool}``.
    """
    table = []
    hours_of = {(h["variant"], h["strong_fraction"]): h["hours"] for h in hours}
    for fraction in fractions_of(rows):
        for kind in ordered_kinds(rows):
            for name in METHODS:
                method = get_method(name)
                arm = arm_name(method.arm, kind)
                scores = by_seed(rows, arm, fraction, "miou")
                if not scores:
                    continue
                reference = reference_of(rows, arm, fraction)
                teacher = VARIANTS[method.arm].teacher is not None  # the audits are of a student's pseudo-masks
                pseudo = [audits[kind, fraction, s] for s in scores if teacher and (kind, fraction, s) in audits]
                table.append(
                    {
                        "strong_fraction": fraction,
                        "kind": kind,
                        "method": method.title,
                        "arm": arm,
                        "reference": reference,
                        "miou": mean_interval(list(scores.values())),
                        "comparison": family.get((arm, reference, fraction)),
                        "gap": gap_closed(rows, arm, fraction),
                        "compute": run_compute(config, Run(method.arm, fraction, 0, DEFAULT_POINT, kind)),
                        "hours": hours_of.get((arm, fraction)),
                        "pseudo_miou": mean_interval(pseudo) if pseudo else None,
                        "positive_control": get_weak_kind(kind).positive_control,
                    }
                )
    return table


def control_compute(config: dict, rows: list[dict]) -> dict[str, object]:
    """Arm -> :class:`~weakseg.design.compute.Compute` of the runs without weak labels (baseline, controls, full)."""
    found = {}
    for r in rows:
        if r["weak_kind"] == "none" and r["variant"] not in found:
            found[r["variant"]] = run_compute(config, Run(r["base"], r["strong_fraction"], 0, DEFAULT_POINT))
    return found


def positive_control_sentences(table: list[dict]) -> list[str]:
    """One sentence per method run on a positive control: the share of the gap it closed, and whether it fails."""
    sentences = []
    for row in table:
        if not row["positive_control"] or row["gap"] is None:
            continue
        gap = row["gap"]
        interval = f"{gap.estimate:.0%} of the gap between {BASELINE} and {UPPER_BOUND} (95% Fieller interval "
        interval += f"{_share(gap.low)} to {_share(gap.high)})"
        if not (np.isfinite(gap.low) and np.isfinite(gap.high)):
            verdict = (
                f"the interval is unbounded ({UPPER_BOUND} is not separated from {BASELINE} with these seeds), so the "
                "control cannot judge the method"
            )
        elif gap.high >= POSITIVE_CONTROL_SHARE:
            verdict = f"consistent with closing nearly all of it (at least {POSITIVE_CONTROL_SHARE:.0%})"
        else:
            verdict = (
                f"it FAILS the positive control: with every pixel of the weak tiles labelled it closes at most "
                f"{gap.high:.0%}, so it cannot use the information a weak label carries, and its results with real "
                "weak labels say little about those labels"
            )
        what = f"{row['method']} on {row['kind']} ({row['strong_fraction']} strong)"
        sentences.append(f"{what} closes {interval}: {verdict}.{_against_compute(row)}")
    return sentences


def _against_compute(row: dict) -> str:
    """A sentence on the positive control against the method's compute-matched control (empty without one)."""
    c = row["comparison"]
    if c is None or row["reference"] == BASELINE:
        return ""
    text = f" Against its compute-matched control {row['reference']}: {c.difference.interval.mean:+.3f} mIoU, "
    text += f"Holm p = {c.p_holm:.3g} ({c.verdict})"
    if c.verdict != "helped":
        text += (
            "; with the information of the upper bound on the weak tiles it did not detectably beat the same "
            f"compute spent on the strong tiles' pixel labels alone, so {UPPER_BOUND} is not an upper bound for "
            "this method's compute and the gap closed overstates what the labels gave"
        )
    return text + "."


def _share(value: float) -> str:
    return "unbounded" if not np.isfinite(value) else f"{value:.0%}"
