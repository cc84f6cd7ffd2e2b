"""Bootstrap intervals and the exact McNemar test, checked against statsmodels, scipy, a naive bootstrap that
indexes samples, and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score
from statsmodels.stats.contingency_tables import mcnemar

from epam_core.analysis import metrics, statistics


def naive_bootstrap(stat, n: int, resamples: int, seed: int) -> np.ndarray:
    """The textbook bootstrap: index the samples ``resamples`` times."""
    rng = np.random.default_rng(seed)
    return np.array([stat(rng.integers(0, n, n)) for _ in range(resamples)])


def test_accuracy_interval_matches_a_naive_bootstrap():
    rng = np.random.default_rng(1)
    correct = rng.random(2000) < 0.8
    got = statistics.accuracy_interval(correct, resamples=4000, seed=3)
    naive = np.percentile(naive_bootstrap(lambda i: correct[i].mean(), correct.size, 4000, 4), [2.5, 97.5])
    assert got.value == correct.mean()
    np.testing.assert_allclose([got.low, got.high], naive, atol=0.003)  # two Monte-Carlo estimates
    assert got.low < got.value < got.high
    # and the textbook normal approximation of a proportion's 95 % interval
    se = np.sqrt(correct.mean() * (1 - correct.mean()) / correct.size)
    np.testing.assert_allclose(got.half_width, 1.96 * se, rtol=0.05)


def test_accuracy_interval_hand_cases_and_seed():
    assert statistics.accuracy_interval(np.ones(50, bool)) == statistics.Interval(1.0, 1.0, 1.0)
    assert statistics.accuracy_interval(np.zeros(7, bool)) == statistics.Interval(0.0, 0.0, 0.0)
    assert np.isnan(statistics.accuracy_interval(np.zeros(0, bool)).value)
    x = np.arange(100) % 3 == 0
    a, b = statistics.accuracy_interval(x, seed=5), statistics.accuracy_interval(x, seed=5)
    assert a == b and a != statistics.accuracy_interval(x, seed=6)
    # every resampled accuracy is a multiple of 1/S: the bounds are too
    assert a.low * 100 == pytest.approx(round(a.low * 100)) and a.high * 100 == pytest.approx(
        round(a.high * 100)
    )


def test_mean_class_interval_matches_a_naive_bootstrap():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 6, 1500)
    preds = np.where(rng.random(1500) < np.linspace(0.4, 0.95, 6)[labels], labels, (labels + 1) % 6)
    correct = preds == labels
    got = statistics.mean_class_interval(labels, correct, 6, resamples=3000, seed=0)
    assert got.value == pytest.approx(balanced_accuracy_score(labels, preds))
    naive = np.percentile(
        naive_bootstrap(lambda i: balanced_accuracy_score(labels[i], preds[i]), labels.size, 3000, 1),
        [2.5, 97.5],
    )
    np.testing.assert_allclose([got.low, got.high], naive, atol=0.004)


def test_proportion_intervals_vectorised_over_slices():
    low, high = statistics.proportion_intervals(np.array([0, 5, 10]), np.array([0, 10, 10]), seed=0)
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert low[2] == high[2] == 1.0
    assert 0.1 <= low[1] < 0.5 < high[1] <= 0.9


def test_stream_intervals_values_agree_with_metrics_and_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 300)
    logits = {s: rng.normal(size=(300, 8)).astype(np.float32) for s in ("rgb", "pose")}
    logits["rgb"][np.arange(300), labels] += 1.0
    logits["pose"][:5] = 0.0  # ties: lower class index first, as metrics.topk_accuracy
    labels[-3:] = -1  # unknown labels are left out
    table = statistics.stream_intervals(logits, labels, 8).set_index("stream")
    keep = labels >= 0
    for stream, z in logits.items():
        assert table.loc[stream, "top1"] == pytest.approx(metrics.topk_accuracy(z, labels, 1))
        assert table.loc[stream, "top5"] == pytest.approx(metrics.topk_accuracy(z, labels, 5))
        assert table.loc[stream, "mean_class"] == pytest.approx(
            metrics.mean_class_accuracy(labels, z.argmax(1), 8)
        )
        assert table.loc[stream, "top1_low"] < table.loc[stream, "top1"] < table.loc[stream, "top1_high"]
    z = logits["rgb"][keep]
    assert table.loc["rgb", "top5"] == pytest.approx(
        top_k_accuracy_score(labels[keep], z, k=5, labels=range(8))
    )


@pytest.mark.parametrize(
    ("a_only", "b_only", "both", "neither"),
    [(0, 5, 10, 3), (12, 4, 50, 9), (3, 3, 1, 0), (0, 0, 4, 2), (40, 61, 800, 99)],
)
def test_mcnemar_exact_matches_statsmodels(a_only, b_only, both, neither):
    a = np.array([1] * a_only + [0] * b_only + [1] * both + [0] * neither, bool)
    b = np.array([0] * a_only + [1] * b_only + [1] * both + [0] * neither, bool)
    got = statistics.mcnemar_exact(a, b)
    assert (got.a_only, got.b_only, got.both, got.neither) == (a_only, b_only, both, neither)
    expected = mcnemar([[both, a_only], [b_only, neither]], exact=True).pvalue
    assert got.p_value == pytest.approx(expected, rel=1e-12)
    n = a_only + b_only  # hand formula: twice the smaller binomial tail, capped at 1
    assert got.p_value == pytest.approx(min(1.0, 2 * binom.cdf(min(a_only, b_only), n, 0.5)) if n else 1.0)


def test_mcnemar_hand_worked_case():
    # 0 discordant pairs for a, 5 for b: p = 2 * 0.5**5 = 0.0625
    got = statistics.mcnemar_exact(np.array([0, 0, 0, 0, 0, 1], bool), np.array([1, 1, 1, 1, 1, 1], bool))
    assert got.p_value == pytest.approx(0.0625) and (got.a_only, got.b_only) == (0, 5)
    with pytest.raises(ValueError, match="same samples"):
        statistics.mcnemar_exact(np.ones(3, bool), np.ones(4, bool))


def test_match_samples_by_id():
    ia, ib = statistics.match_samples(np.array(["a", "b", "c", "d"]), np.array(["d", "x", "b"]))
    assert ia.tolist() == [1, 3] and ib.tolist() == [2, 0]
