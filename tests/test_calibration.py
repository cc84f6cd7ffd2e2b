"""ECE, NLL, reliability bins and temperature scaling, against scikit-learn, scipy and hand-worked cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import softmax
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss

from epam_core.analysis import calibration


def scores(n: int = 3000, k: int = 10, scale: float = 3.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), labels] += 1.5
    return (logits * scale).astype(np.float32), labels


def test_reliability_bins_match_sklearn_calibration_curve():
    logits, labels = scores()
    conf, correct = calibration.confidence_and_correct(logits, labels)
    np.testing.assert_allclose(conf, softmax(logits.astype(np.float64), axis=1).max(axis=1), rtol=1e-12)
    bins = calibration.reliability(conf, correct)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=15, strategy="uniform")
    filled = bins["count"] > 0
    np.testing.assert_allclose(bins["accuracy"][filled], prob_true, rtol=1e-12)
    np.testing.assert_allclose(bins["confidence"][filled], prob_pred, rtol=1e-12)
    assert bins["count"].sum() == len(labels) and len(bins) == 15
    edges = np.linspace(0, 1, 16)
    counts = np.array([((conf > lo) & (conf <= hi)).sum() for lo, hi in itertools.pairwise(edges)])
    counts[0] += (conf == 0).sum()
    np.testing.assert_array_equal(bins["count"], counts)  # (lo, hi] bins, as sklearn's searchsorted
    ece = calibration.expected_calibration_error(conf, correct)
    assert ece == pytest.approx((bins["count"][filled] / len(labels) * np.abs(prob_true - prob_pred)).sum())


def test_ece_hand_worked():
    # bin (0.6, 0.667]: conf 0.65 x2, one right -> |0.5 - 0.65|; bin (0.933, 1]: conf 1.0 x2, both right -> 0
    conf = np.array([0.65, 0.65, 1.0, 1.0])
    correct = np.array([True, False, True, True])
    assert calibration.expected_calibration_error(conf, correct) == pytest.approx(0.5 * 0.15)
    assert calibration.bin_ids(np.array([0.0, 1 / 15, 1 / 15 + 1e-9, 1.0])).tolist() == [0, 0, 1, 14]


def test_nll_matches_sklearn_log_loss():
    logits, labels = scores(k=7)
    for t in (1.0, 0.5, 2.0):
        prob = softmax(logits.astype(np.float64) / t, axis=1)
        expected = log_loss(labels, prob, labels=range(7))
        assert calibration.negative_log_likelihood(logits, labels, t) == pytest.approx(expected, rel=1e-9)


def test_fit_temperature_minimises_nll():
    logits, labels = scores(scale=4.0)  # over-confident: T > 1
    t = calibration.fit_temperature(logits, labels)
    best = minimize_scalar(
        lambda t: calibration.negative_log_likelihood(logits, labels, t), bounds=(0.05, 20), method="bounded",
        options={"xatol": 1e-8},
    )  # fmt: skip
    assert t == pytest.approx(best.x, rel=1e-4) and t > 1
    # scaling the logits by c scales the temperature by c
    assert calibration.fit_temperature(logits * 2, labels) == pytest.approx(2 * t, rel=1e-5)
    assert calibration.fit_temperature(np.zeros((5, 3)), np.zeros(5, int)) == 1.0  # nothing to fit


def test_cross_validated_temperatures_equal_per_fold_fits():
    logits, labels = scores(n=2000, scale=4.0, seed=3)
    temps = calibration.cross_validated_temperatures(logits, labels, folds=5, seed=7)
    fold_of = np.empty(2000, int)
    fold_of[np.random.default_rng(7).permutation(2000)] = np.arange(2000) % 5
    for fold in range(5):
        train = fold_of != fold
        exact = calibration.fit_temperature(logits[train], labels[train])
        np.testing.assert_allclose(temps[fold_of == fold], exact, rtol=2e-4)  # one Newton step: O(1/n^2)
    assert len(np.unique(temps)) == 5


def test_stream_calibration_improves_an_overconfident_stream():
    logits, labels = scores(scale=5.0)
    labels = labels.copy()
    labels[:10] = -1
    table = calibration.stream_calibration(
        {"rgb": logits, "pose": logits / 5.0, "fused": logits}, labels, (1.0, 1.0)
    )
    table = table.set_index("stream")
    keep = labels >= 0
    conf, right = calibration.confidence_and_correct(logits[keep], labels[keep])
    assert table.loc["rgb", "ece"] == pytest.approx(calibration.expected_calibration_error(conf, right))
    assert table.loc["rgb", "nll"] == pytest.approx(
        calibration.negative_log_likelihood(logits[keep], labels[keep])
    )
    assert table.loc["rgb", "ece_calibrated"] < table.loc["rgb", "ece"] / 2
    assert table.loc["rgb", "nll_calibrated"] < table.loc["rgb", "nll"]
    assert table.loc["rgb", "top1_calibrated"] == table.loc["rgb", "top1"]  # T > 0 keeps the ranking
    # temperature scaling cannot tell rgb from rgb / 5: same calibrated NLL, temperatures 5x apart
    assert table.loc["pose", "nll_calibrated"] == pytest.approx(table.loc["rgb", "nll_calibrated"], rel=1e-5)
    assert table.loc["rgb", "temperature"] == pytest.approx(5 * table.loc["pose", "temperature"], rel=1e-4)
    # fused of calibrated streams = the sum of two equal calibrated streams: same top-1
    assert table.loc["fused_calibrated", "top1"] == pytest.approx(table.loc["rgb", "top1"])


def test_confidence_histogram_counts():
    hist = calibration.confidence_histogram(
        np.array([0.05, 0.05, 0.5, 0.97]), np.array([1, 0, 0, 1], bool), 10
    )
    assert hist["right"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert hist["wrong"].tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
