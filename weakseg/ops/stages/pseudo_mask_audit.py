"""Rule ``pseudo_mask_audit``: the pseudo-masks scored against the weak tiles' true masks, for the report only.

The diagnostic every weakly supervised segmentation paper reports (pseudo-mask mIoU). It reads
the true masks of weak tiles, so it runs after the student's training and nothing trains on its
output: only the report reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from weakseg.ops.stage import Stage


@dataclass(frozen=True)
class AuditParams:
    """The dataset (class names) and the run's strong fraction (which tiles are weak)."""

    dataset: str
    strong_fraction: str

    @classmethod
    def from_config(cls, config: dict, wildcards) -> AuditParams:
        """From ``dataset.name`` and the ``strong_fraction`` wildcard."""
        return cls(config["dataset"]["name"], wildcards.strong_fraction)


def run(params: AuditParams, input, output, threads: int) -> None:
    """``output.audit`` (JSON: mIoU, per-class IoU, labelled share of the pseudo-masks) and ``output.preview``.

    The preview (PNG) shows the first weak tiles: image, true mask, pseudo-mask.
    """
    import json
    from pathlib import Path

    from weakseg.datasets import get_dataset
    from weakseg.formats.splits import sets_at_fraction
    from weakseg.formats.tiles import read_tiles, rows_of
    from weakseg.io.imageio import write_png
    from weakseg.io.outputs import staged_outputs
    from weakseg.learn.metrics import segmentation_metrics
    from weakseg.learn.pseudo_labels import audit_preview, audit_pseudo_masks

    adapter = get_dataset(params.dataset)
    class_names = list(adapter.class_names)
    row_of = rows_of(read_tiles(input.tiles))
    weak = sets_at_fraction(json.loads(Path(input.splits).read_text()), params.strong_fraction)["weak"]
    rows = [row_of[t] for t in weak]
    confusion = audit_pseudo_masks(Path(input.pseudo_masks), Path(input.masks), rows, len(class_names))
    scores = segmentation_metrics(confusion, class_names)
    summary = json.loads(Path(input.summary).read_text())
    audit = {
        "miou": scores["miou"],
        "oa": scores["oa"],
        "labelled": summary["labelled"],
        "tiles": len(weak),
        "per_class": {c: scores["per_class"][c]["iou"] for c in class_names},
    }
    palette = adapter.palette_array
    preview = audit_preview(Path(input.images), Path(input.masks), Path(input.pseudo_masks), rows, palette)
    with staged_outputs(output.audit, output.preview) as (staged_audit, staged_preview):
        Path(staged_audit).write_text(json.dumps(audit, indent=2))
        write_png(staged_preview, preview)


STAGE = Stage("pseudo_mask_audit", AuditParams, run)
