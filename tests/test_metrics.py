import numpy as np
import pytest

from weakseg.learn.metrics import confusion_matrix, segmentation_metrics

NAMES = ["a", "b", "c"]


def test_confusion_matrix_counts_labelled_pixels_by_true_and_predicted_class():
    target = np.array([[0, 0, 1], [1, 255, 2]])
    predicted = np.array([[0, 1, 1], [0, 2, 2]])
    expected = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(confusion_matrix(predicted, target, 3), expected)


def test_metrics_equal_hand_computed_values_and_skip_classes_absent_everywhere():
    confusion = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    metrics = segmentation_metrics(confusion, NAMES)
    a, b, c = (metrics["per_class"][n] for n in NAMES)
    # class a: TP 5, FP 2, FN 1; class b: TP 3, FP 1, FN 2; class c: never present nor predicted.
    assert a["iou"] == pytest.approx(5 / 8)
    assert a["precision"] == pytest.approx(5 / 7)
    assert a["recall"] == pytest.approx(5 / 6)
    assert a["f1"] == pytest.approx(10 / 13)
    assert b["iou"] == pytest.approx(3 / 6)
    assert b["f1"] == pytest.approx(6 / 9)
    assert (a["support"], b["support"], c["support"]) == (6, 5, 0)
    assert c["iou"] is None and c["f1"] is None
    assert metrics["miou"] == pytest.approx((5 / 8 + 3 / 6) / 2)
    assert metrics["mean_f1"] == pytest.approx((10 / 13 + 6 / 9) / 2)
    assert metrics["oa"] == pytest.approx(8 / 11)
    assert metrics["absent_classes"] == ["c"]


def test_a_class_absent_from_ground_truth_but_predicted_scores_zero_and_counts():
    confusion = np.array([[5, 1, 1], [2, 3, 0], [0, 0, 0]])
    metrics = segmentation_metrics(confusion, NAMES)
    assert metrics["per_class"]["c"]["iou"] == 0.0
    assert metrics["miou"] == pytest.approx((5 / 9 + 3 / 6 + 0) / 3)
    assert metrics["oa"] == pytest.approx(8 / 12)


def test_majority_class_prediction_gives_low_miou():
    target = np.array([0] * 60 + [1] * 30 + [2] * 10)
    metrics = segmentation_metrics(confusion_matrix(np.zeros_like(target), target, 3), NAMES)
    assert metrics["miou"] == pytest.approx(0.6 / 3)
    assert metrics["oa"] == pytest.approx(0.6)
