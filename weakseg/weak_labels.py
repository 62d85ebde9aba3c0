"""The weak_labels stage: per tile, the fraction of its labelled pixels in each class.

These label proportions are the only supervision the weak set gets ("learning from label
proportions", Quadrianto et al., 2009).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from weakseg.experiment import SET_NAMES
from weakseg.outputs import staged_outputs


def class_fractions(masks: np.ndarray, n_classes: int, chunk: int = 256) -> np.ndarray:
    """Label proportions of each mask.

    Args:
        masks: (N, H, W) uint8 class indices, 255 (ignore) excluded from the count.
        n_classes: K.
        chunk: masks processed at a time, to bound memory on memory-mapped input.

    Returns:
        (N, K) float64 fractions; each row sums to 1 (a mask with no labelled pixel gives a
        row of zeros).
    """
    fractions = np.zeros((len(masks), n_classes), dtype=np.float64)
    for start in range(0, len(masks), chunk):
        block = np.asarray(masks[start : start + chunk])
        block = block.reshape(len(block), -1)
        # One bincount over (mask, class) pairs; ignore and out-of-range values land in bin K.
        values = np.where(block < n_classes, block, n_classes).astype(np.int64)
        offsets = (np.arange(len(block)) * (n_classes + 1))[:, None]
        counts = np.bincount((values + offsets).ravel(), minlength=len(block) * (n_classes + 1))
        counts = counts.reshape(len(block), n_classes + 1)[:, :n_classes].astype(np.float64)
        totals = counts.sum(axis=1, keepdims=True)
        fractions[start : start + len(block)] = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return fractions


def summarize(fractions: np.ndarray, set_of_tile: list[str | None], class_names: tuple[str, ...]) -> list[dict]:
    """Per split set and class: tile count, mean, std, min, max of the fraction, share present.

    The share present is that of tiles where the class has fraction > 0. Rows for strong, weak,
    val, test (only when some tile is in it), and ``all``.
    """
    rows = []
    labels = np.array([s if s is not None else "" for s in set_of_tile])
    for name in [n for n in SET_NAMES if n != "test" or n in labels] + ["all"]:
        selected = fractions if name == "all" else fractions[labels == name]
        for k, class_name in enumerate(class_names):
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
    tile_ids: list[str],
    fractions: np.ndarray,
    set_of_tile: list[str | None],
    class_names: tuple[str, ...],
) -> None:
    """Write ``weak_labels.csv`` (tile_id, set, one column per class name) and the summary CSV.

    Fractions are written with 10 decimals, so a row read back still sums to 1 within 1e-6.
    ``set`` is empty for tiles the split dropped.
    """
    with staged_outputs(csv_path, summary_path) as (labels_tmp, summary_tmp):
        with open(labels_tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["tile_id", "set", *class_names])
            for tile, name, row in zip(tile_ids, set_of_tile, fractions, strict=False):
                writer.writerow([tile, name or "", *(f"{v:.10f}" for v in row)])
        rows = summarize(fractions, set_of_tile, class_names)
        with open(summary_tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()} for row in rows)


def read_weak_labels(csv_path: str | Path) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """Read ``weak_labels.csv``: ``(tile_ids, sets, fractions (N, K) float64, class_names)``."""
    with open(csv_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    class_names = header[2:]
    fractions = np.array([[float(v) for v in row[2:]] for row in rows], dtype=np.float64).reshape(-1, len(class_names))
    return [r[0] for r in rows], [r[1] for r in rows], fractions, class_names
