"""The summary stage: one row per run in ``results/summary.csv``, the table the report is computed from."""

from __future__ import annotations

import json
import math
from pathlib import Path

from weakseg.formats.summary import (
    INFO_COLUMNS,
    IOU_PREFIX,
    RUN_COLUMNS,
    SCORE_COLUMNS,
    WITHOUT_COLUMNS,
    read_benchmark_seconds,
)
from weakseg.io.errors import WeaksegError


def summary_row(metrics_path: str | Path, train_benchmark: str | Path, eval_benchmark: str | Path) -> dict:
    """The ``summary.csv`` row of one run from its ``metrics.json`` and the two benchmark files.

    Raises:
        WeaksegError: a file is unreadable, ``metrics.json`` lacks a key, or its ``miou`` is
            not a finite number (the run would drop out of the statistics unseen).
    """
    try:
        with open(metrics_path, encoding="utf-8") as handle:
            metrics = json.load(handle)
        row = {key: metrics[key] for key in (*RUN_COLUMNS, "set", *SCORE_COLUMNS, *INFO_COLUMNS[:5])}
        row.update({IOU_PREFIX + c: metrics["per_class"][c]["iou"] for c in metrics["class_names"]})
        without = metrics.get("without") or {}
        row.update({column: without.get(column.removesuffix("_without")) for column in WITHOUT_COLUMNS})
    except (OSError, json.JSONDecodeError) as error:
        raise WeaksegError(f"{metrics_path}: cannot read ({error})") from error
    except KeyError as error:
        raise WeaksegError(f"{metrics_path}: missing key {error}; rerun its evaluate job") from error
    if not isinstance(row["miou"], int | float) or not math.isfinite(row["miou"]):
        # a run without a score would drop out of every interval and test without a word
        raise WeaksegError(
            f"{metrics_path}: miou is {row['miou']!r}, so this run would silently drop out of the statistics; "
            "its evaluation scored nothing or the file was edited: delete the file and rerun its evaluate job"
        )
    row["train_seconds"] = read_benchmark_seconds(train_benchmark)
    row["eval_seconds"] = read_benchmark_seconds(eval_benchmark)
    return row
