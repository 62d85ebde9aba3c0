"""Segmentation metrics from a confusion matrix over labelled pixels.

Per-class IoU, precision, recall and F1 come from smp's metric functions
(``segmentation_models_pytorch.metrics``) applied to the per-class TP/FP/FN/TN read off the
confusion matrix; mIoU and mean F1 are macro averages; OA is the trace over the total.
"""

from __future__ import annotations

import math

import numpy as np
import segmentation_models_pytorch as smp
import torch

from weakseg.io.labels import IGNORE_INDEX

ABSENT_CLASS_POLICY = (
    "Macro means (mIoU, mean F1) average over classes; a class absent from both the ground truth and the "
    "predictions has an undefined score (0/0, shown as n/a) and is left out of the means; a class absent from "
    "the ground truth but predicted scores 0 and is included."
)


def confusion_matrix(
    predicted: np.ndarray, target: np.ndarray, n_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Count pixels by (true class, predicted class), ignore pixels excluded.

    Args:
        predicted, target: integer arrays of the same shape (any), class indices.

    Returns:
        (K, K) int64; row = true class, column = predicted class.
    """
    predicted, target = np.asarray(predicted).ravel(), np.asarray(target).ravel()
    keep = (target != ignore_index) & (target < n_classes)
    codes = target[keep].astype(np.int64) * n_classes + predicted[keep].astype(np.int64)
    return np.bincount(codes, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _scores(confusion: torch.Tensor, rows: list[int]) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Smp's per-class scores of the classes ``rows``, counting only pixels whose true class is in ``rows``.

    Returns ``(scores, tp, support)``: {"iou", "precision", "recall", "f1"} -> (len(rows),)
    tensors with NaN for 0/0; TP and support per class.
    """
    kept = confusion[rows]  # pixels of the other true classes are not scored
    tp = kept[:, rows].diagonal()
    fp = kept[:, rows].sum(dim=0) - tp
    fn = kept.sum(dim=1) - tp  # predicting an excluded class is still an error
    tn = kept.sum() - tp - fp - fn
    stats = [t[None] for t in (tp, fp, fn, tn)]
    nan = float("nan")
    scores = {
        "iou": smp.metrics.iou_score(*stats, reduction="none", zero_division=nan)[0],
        "precision": smp.metrics.precision(*stats, reduction="none", zero_division=nan)[0],
        "recall": smp.metrics.recall(*stats, reduction="none", zero_division=nan)[0],
        "f1": smp.metrics.f1_score(*stats, reduction="none", zero_division=nan)[0],
    }
    return scores, tp, tp + fn


def _summary(confusion: torch.Tensor, class_names: list[str], rows: list[int]) -> dict:
    scores, tp, support = _scores(confusion, rows)
    total = int(support.sum())
    per_class = {
        class_names[r]: {**{k: _clean(v[i].item()) for k, v in scores.items()}, "support": int(support[i])}
        for i, r in enumerate(rows)
    }
    return {
        "miou": _clean(torch.nanmean(scores["iou"]).item()),
        "mean_f1": _clean(torch.nanmean(scores["f1"]).item()),
        "oa": _clean(tp.sum().item() / total) if total else None,
        "per_class": per_class,
    }


def segmentation_metrics(confusion: np.ndarray, class_names: list[str], without: tuple[str, ...] = ()) -> dict:
    """Per-class and mean scores from a confusion matrix.

    Args:
        confusion: (K, K) counts, row = true class, column = predicted class.
        class_names: K names.
        without: classes the benchmark also reports scores without (ISPRS: clutter, as in
            its results tables, Rottensteiner et al. 2012): their pixels of the ground truth
            are not scored, their columns stay, so predicting them elsewhere is still an error.

    Returns:
        ``{"miou", "mean_f1", "oa", "dice", "per_class": {name: {"iou", "precision", "recall",
        "f1", "support"}}, "absent_classes", "absent_class_policy"}``; undefined scores are
        ``None`` (see :data:`ABSENT_CLASS_POLICY`). ``dice`` is the Dice coefficient 2TP / (2TP
        + FP + FN), i.e. F1: of the positive class (index 1) with two classes, the headline of
        binary tasks such as Figaro1k; the mean over classes (= ``mean_f1``) otherwise. With
        ``without``, also ``"without": {"classes", "miou", "mean_f1", "oa", "per_class"}`` over
        the other classes.

    Raises:
        ValueError: a class of ``without`` is not in ``class_names``.
    """
    confusion = torch.as_tensor(np.asarray(confusion, dtype=np.int64))
    everything = _summary(confusion, class_names, list(range(len(class_names))))
    per_class = everything["per_class"]
    metrics = {
        **everything,
        "dice": per_class[class_names[1]]["f1"] if len(class_names) == 2 else everything["mean_f1"],
        "absent_classes": [name for name in class_names if per_class[name]["support"] == 0],
        "absent_class_policy": ABSENT_CLASS_POLICY,
    }
    if without:
        unknown = sorted(set(without) - set(class_names))
        if unknown:
            raise ValueError(f"classes {unknown} to score without are not among {class_names}")
        kept = [i for i, name in enumerate(class_names) if name not in without]
        metrics["without"] = {"classes": list(without), **_summary(confusion, class_names, kept)}
    return metrics
