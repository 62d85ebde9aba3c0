"""``summary.csv``: one row per run (identity, scores, per-class IoU, wall times), and Snakemake benchmark files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from weakseg.io.errors import WeaksegError
from weakseg.io.outputs import staged_outputs

#: Columns that identify a run.
RUN_COLUMNS = ("variant", "weak_kind", "strong_fraction", "seed", "point")


#: Scores of the scored set (``set``), as in ``metrics.json``
#: (``dice``: see :func:`weakseg.learn.metrics.segmentation_metrics`).
SCORE_COLUMNS = ("miou", "mean_f1", "oa", "dice", "proportion_mae")


#: The same scores without the classes the dataset's benchmark also leaves out (ISPRS: clutter;
#: ``metrics.json``'s ``without``), empty for datasets without such classes.
WITHOUT_COLUMNS = ("miou_without", "mean_f1_without", "oa_without")


#: What the run scored and how the scored epoch was chosen, and its wall time (seconds).
INFO_COLUMNS = ("epoch", "selected", "best_epoch", "last_epoch", "val_miou", "train_seconds", "eval_seconds")


#: Per-class IoU columns are ``iou_<class name>``.
IOU_PREFIX = "iou_"


def columns(class_names: list[str]) -> list[str]:
    """The header of ``summary.csv``."""
    return [
        *RUN_COLUMNS,
        "set",
        *SCORE_COLUMNS,
        *WITHOUT_COLUMNS,
        *(IOU_PREFIX + c for c in class_names),
        *INFO_COLUMNS,
    ]


def read_benchmark_seconds(path: str | Path) -> float:
    """Wall seconds (column ``s``) of a Snakemake benchmark TSV; the mean if it holds repeats.

    Raises:
        WeaksegError: not a benchmark file (no header with ``s``, no row, or a bad value).
    """
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    if not rows or "s" not in rows[0] or len(rows) < 2:
        raise WeaksegError(f"{path}: not a Snakemake benchmark file (need a header with column 's' and a row)")
    column = rows[0].index("s")
    try:
        return float(np.mean([float(row[column]) for row in rows[1:]]))
    except (ValueError, IndexError) as error:
        raise WeaksegError(f"{path}: bad value in column 's' ({error})") from error


def write_summary(path: str | Path, rows: list[dict]) -> None:
    """Write ``summary.csv`` (floats with 6 decimals, undefined scores empty), all or nothing.

    Raises:
        WeaksegError: no rows, or runs with different class names.
    """
    if not rows:
        raise WeaksegError("summary: no runs to summarise")
    class_names = [k[len(IOU_PREFIX) :] for k in rows[0] if k.startswith(IOU_PREFIX)]
    header = columns(class_names)
    for row in rows:
        if sorted(row) != sorted(header):
            raise WeaksegError(f"summary: run {[row.get(k) for k in RUN_COLUMNS]} has other columns than {header}")
    with staged_outputs(path) as (staged,):
        with open(staged, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6f}"
    return str(value)


def read_summary(path: str | Path) -> list[dict]:
    """Rows of ``summary.csv``: scores and seconds as float (NaN when empty), seed and epochs as int.

    Raises:
        WeaksegError: the file is missing or lacks a column.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [
                c for c in (*RUN_COLUMNS, "set", *SCORE_COLUMNS, *INFO_COLUMNS) if c not in (reader.fieldnames or [])
            ]
            rows = list(reader)
    except OSError as error:
        raise WeaksegError(f"{path}: cannot read ({error})") from error
    if missing:
        raise WeaksegError(f"{path}: missing column(s) {', '.join(missing)}")
    integers = ("seed", "epoch", "best_epoch", "last_epoch")
    text = ("variant", "weak_kind", "strong_fraction", "point", "set", "selected")
    return [
        {
            k: (v if k in text else int(v) if k in integers else float(v) if v != "" else math.nan)
            for k, v in row.items()
        }
        for row in rows
    ]
