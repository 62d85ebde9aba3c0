"""What the report stage reads: one record of the ``report`` rule's named files and the config."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from weakseg.io.errors import WeaksegError


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report reads; paths as passed by the ``report`` rule.

    ``main_runs`` are the run folders (``variant/weak-K/strong-F/seed-S/default``) of the runs at the
    configured hyperparameters; ``histories``, ``confusions`` and ``predictions`` hold one
    path per main run, in the same order; ``audits`` one ``audit.json`` per pseudo-mask student
    among them (:mod:`weakseg.ops.stages.pseudo_mask_audit`), and ``audit_previews`` its preview PNG.
    """

    config: dict
    dataset: str
    summary: Path
    tiles: Path
    images: Path
    masks: Path
    class_pixels: Path
    splits: Path
    weak_labels: Path
    weak_summary: Path
    preview: Path
    template: Path
    css: Path
    main_runs: tuple[str, ...]
    histories: tuple[Path, ...]
    confusions: tuple[Path, ...]
    predictions: tuple[Path, ...]
    benchmarks: tuple[Path, ...] = ()
    stats: Path | None = None
    audits: tuple[Path, ...] = ()
    audit_previews: tuple[Path, ...] = ()


def read_csv(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """The rows of a CSV file the report reads, as dicts of strings.

    Raises:
        WeaksegError: a column of ``required`` is missing, naming the file.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise WeaksegError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)
