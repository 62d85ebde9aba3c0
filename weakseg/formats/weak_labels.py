"""``weak_labels.csv``: one row per tile (tile_id, set, the D columns of its weak-label kind).

Written by the ``weak_labels`` stage with a summary per split set; read by training (the runs
that use weak labels) and the report.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from weakseg.design.experiment import SET_NAMES
from weakseg.io.outputs import staged_outputs

#: Columns of the summary CSV.
SUMMARY_COLUMNS = ("set", "class", "n_tiles", "mean", "std", "min", "max", "present")


def summarize(labels: np.ndarray, set_of_tile: list[str | None], columns: list[str]) -> list[dict]:
    """Per split set and label column: tile count, mean, std, min, max of the value, share present.

    Args:
        labels: (N, D) float64 weak labels; columns: their D names.

    The share present is that of tiles whose value is > 0. Rows for strong, weak, val, test
    (only when some tile is in it), and ``all``; none for a kind without columns (unlabelled).
    """
    rows = []
    values, names = labels, np.array([s if s is not None else "" for s in set_of_tile])
    for name in [n for n in SET_NAMES if n != "test" or n in set_of_tile] + ["all"]:
        selected = values if name == "all" else values[names == name]
        for k, class_name in enumerate(columns):
            column = selected[:, k] if len(selected) else np.zeros(1)
            rows.append(
                {
                    "set": name,
                    "class": class_name,
                    "n_tiles": len(selected),
                    "mean": float(column.mean()),
                    "std": float(column.std()),
                    "min": float(column.min()),
                    "max": float(column.max()),
                    "present": float((column > 0).mean()),
                }
            )
    return rows


def write_weak_labels(
    csv_path: str | Path,
    summary_path: str | Path,
    columns: list[str],
    tile_ids: list[str],
    labels: np.ndarray,
    set_of_tile: list[str | None],
) -> None:
    """Write ``weak_labels.csv`` (tile_id, set, one column per label value) and the summary CSV, both or neither.

    Args:
        columns: the D column names (the kind's :meth:`~weakseg.weak.kind.WeakKind.columns`).
        labels: (N, D) float64, from the kind's ``label``; set_of_tile: empty for tiles the split dropped.

    Values are written with 10 decimals, so a row of label proportions read back still sums to
    1 within 1e-6.
    """
    with staged_outputs(csv_path, summary_path) as (labels_tmp, summary_tmp):
        with open(labels_tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["tile_id", "set", *columns])
            for tile, name, row in zip(tile_ids, set_of_tile, labels, strict=False):
                writer.writerow([tile, name or "", *(f"{v:.10f}" for v in row)])
        rows = summarize(labels, set_of_tile, columns)
        with open(summary_tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=SUMMARY_COLUMNS)
            writer.writeheader()
            writer.writerows({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()} for row in rows)


def read_weak_labels(csv_path: str | Path) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """Read ``weak_labels.csv``: ``(tile_ids, sets, labels (N, D) float64, column names)``."""
    with open(csv_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    columns = header[2:]
    labels = np.array([[float(v) for v in row[2:]] for row in rows], dtype=np.float64).reshape(len(rows), len(columns))
    return [r[0] for r in rows], [r[1] for r in rows], labels, columns
