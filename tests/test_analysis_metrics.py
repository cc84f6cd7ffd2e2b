"""Metrics, fusion and confusion analysis, checked against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from epam_core.analysis import confusion, fusion, metrics
from epam_core.runs.format import EvalRun, predictions_frame, run_from_tables


@pytest.fixture
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 200)
    logits = rng.normal(size=(200, 7)).astype(np.float32)
    logits[np.arange(200), labels] += 1.0  # better than chance, no ties
    return logits, labels


@pytest.mark.parametrize("k", [1, 2, 5])
def test_topk_matches_sklearn(scores, k):
    logits, labels = scores
    assert metrics.topk_accuracy(logits, labels, k) == pytest.approx(
        top_k_accuracy_score(labels, logits, k=k, labels=np.arange(7))
    )


def test_confusion_and_class_metrics_match_sklearn(scores):
    logits, labels = scores
    preds = logits.argmax(1)
    cm = metrics.confusion_matrix(labels, preds, 7)
    np.testing.assert_array_equal(cm, sk_confusion_matrix(labels, preds, labels=np.arange(7)))
    assert metrics.mean_class_accuracy(labels, preds, 7) == pytest.approx(
        balanced_accuracy_score(labels, preds)
    )
    np.testing.assert_allclose(
        confusion.normalise(cm, "true"), sk_confusion_matrix(labels, preds, normalize="true")
    )
    np.testing.assert_allclose(
        confusion.normalise(cm, "pred"), sk_confusion_matrix(labels, preds, normalize="pred")
    )


def test_unknown_labels_are_left_out():
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    labels = np.array([0, 0, -1])
    assert metrics.topk_accuracy(logits, labels) == 0.5
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, logits.argmax(1), 2), [[1, 1], [0, 0]])
    acc = metrics.per_class_accuracy(labels, logits.argmax(1), 2)
    assert acc[0] == 0.5 and np.isnan(acc[1])
    assert np.isnan(metrics.topk_accuracy(logits, np.full(3, -1)))
    assert np.isnan(metrics.mean_class_accuracy(np.full(3, -1), logits.argmax(1), 2))


def test_top1_leaves_unlabelled_clips_out():
    """The one rule for label -1: neither right nor wrong; NaN when nothing is labelled."""
    preds = np.array([0, 1, 1, 0])
    assert metrics.top1_accuracy(preds, np.array([0, 0, -1, -1])) == 0.5  # not 1/4, not 3/4
    assert metrics.top1_accuracy(preds, np.array([0, 1, 1, 1])) == 0.75
    assert np.isnan(metrics.top1_accuracy(preds, np.full(4, -1)))
    assert np.isnan(metrics.top1_accuracy(np.zeros(0, np.int64), np.zeros(0, np.int64)))
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # the last row ties: class 0, as topk_accuracy
    labels = np.array([0, 0, 0])
    assert metrics.top1_accuracy(logits.argmax(1), labels) == metrics.topk_accuracy(logits, labels, 1)


def test_robustness_curves_leave_unlabelled_clips_out():
    sweep = pd.DataFrame(
        {
            "noise": "jitter_px",
            "level": [0.0] * 6,
            "seed": [0, 0, 0, 1, 1, 1],
            "label": [0, 1, -1, 0, 1, -1],
            **{f"{s}_pred": [0, 0, 1, 0, 1, 1] for s in ("rgb", "pose", "fused")},
        }
    )
    pose = metrics.robustness_curves(sweep, "jitter_px").set_index("stream").loc["pose"]
    assert (pose["top1"], pose["top1_std"], pose["samples"]) == (0.75, 0.25, 2)


def _run(labels, rgb, pose) -> EvalRun:
    frame = predictions_frame([f"s{i}" for i in range(len(labels))], labels, rgb, pose)
    names = [f"c{i}" for i in range(rgb.shape[1])]
    return run_from_tables(None, {"class_names": names}, frame)


def test_stream_summary_and_per_class_table():
    labels = np.array([0, 0, 1, 1])
    rgb = np.array([[1, 0], [1, 0], [1, 0], [1, 0]], dtype=np.float32)  # always class 0
    pose = np.array([[0, 1], [0, 1], [0, 1], [0, 1]], dtype=np.float32) * 0.5  # always class 1
    run = _run(labels, rgb, pose)
    summary = metrics.stream_summary(run).set_index("stream")
    assert summary.loc["rgb", "top1"] == 0.5 and summary.loc["pose", "top1"] == 0.5
    assert summary.loc["fused", "top1"] == 0.5  # fused = rgb + pose -> class 0
    assert summary.loc["rgb", "top5"] == 1.0
    table = metrics.per_class_table(run)
    assert table["support"].tolist() == [2, 2]
    assert table["rgb"].tolist() == [1.0, 0.0] and table["pose"].tolist() == [0.0, 1.0]
    assert table["fusion_gain"].tolist() == [0.0, -1.0]


def test_topk_scores_softmax():
    df = metrics.topk_scores(np.array([0.0, np.log(3.0)]), ["a", "b"], k=2)
    assert df["class"].tolist() == ["b", "a"]
    np.testing.assert_allclose(df["prob"], [0.75, 0.25])


def test_fusion_sweep_and_best_weight():
    labels = np.array([0, 1, 2, 0])
    rgb = np.eye(3)[[0, 1, 1, 0]] * 2.0  # right on samples 0, 1, 3
    pose = np.eye(3)[[1, 1, 2, 2]] * 1.0  # right on samples 1, 2
    sweep = fusion.weight_sweep(rgb, pose, labels, np.array([0.0, 0.25, 0.5, 1.0]))
    # alpha 0: pose only (2/4); 0.25: 0.5*rgb vs 0.75*pose -> pose wins where they differ (2/4);
    # 0.5 and 1.0: rgb wins where they differ (3/4)
    assert sweep["top1"].tolist() == [0.5, 0.5, 0.75, 0.75]
    assert fusion.best_weight(sweep) == (0.5, 0.75)  # tie -> closest to 1:1
    np.testing.assert_allclose(fusion.fuse(rgb, pose, (1.0, 2.0)), rgb + 2 * pose)
    with pytest.raises(ValueError, match="alpha"):
        fusion.alpha_weights(1.5)


def test_orderings_and_filter():
    cm = np.array([[5, 0, 5, 0], [0, 9, 0, 1], [4, 0, 6, 0], [0, 2, 0, 8]])
    assert confusion.order_classes(cm, "accuracy").tolist() == [0, 2, 3, 1]
    order = confusion.order_classes(cm, "cluster").tolist()
    assert sorted(order) == [0, 1, 2, 3]
    assert abs(order.index(0) - order.index(2)) == 1 and abs(order.index(1) - order.index(3)) == 1
    assert confusion.order_classes(cm, "name", ["d", "c", "b", "a"]).tolist() == [3, 2, 1, 0]
    assert confusion.filter_classes(["Drink water", "eat meal", "drop"], "DR").tolist() == [0, 2]
    with pytest.raises(ValueError, match="ordering"):
        confusion.order_classes(cm, "bogus")


def test_top_confused_pairs_and_cells():
    cm = np.array([[5, 0, 5, 0], [0, 9, 0, 1], [4, 0, 6, 0], [0, 2, 0, 8]])
    pairs = confusion.top_confused_pairs(cm, ["a", "b", "c", "d"], n=3)
    assert list(zip(pairs["true"], pairs["predicted"], pairs["count"], strict=True)) == [
        ("a", "c", 5),
        ("c", "a", 4),
        ("d", "b", 2),
    ]
    assert pairs["rate"].iloc[0] == 0.5
    ids = confusion.cell_samples(np.array(["x", "y", "z"]), np.array([0, 0, 1]), np.array([1, 1, 1]), 0, 1)
    assert ids.tolist() == ["x", "y"]
    diff = confusion.difference(cm, np.eye(4, dtype=int) * 10)
    assert diff[0, 0] == pytest.approx(-0.5) and diff[0, 2] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shape"):
        confusion.difference(cm, np.eye(3))


def test_weights_alpha_and_stream_confusion():
    assert fusion.weights_alpha((1.0, 1.0)) == 0.5 and fusion.weights_alpha((3.0, 1.0)) == 0.75
    run = _run(np.array([0, 1, 1]), np.eye(2)[[0, 0, 1]], np.zeros((3, 2)))
    np.testing.assert_array_equal(metrics.stream_confusion(run, "rgb"), [[1, 0], [1, 1]])
