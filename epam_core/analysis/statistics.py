"""Confidence intervals and paired significance tests for the accuracies of a run.

Bootstrap intervals are percentile intervals of ``resamples`` resamples (with replacement, seeded). They are
computed from counts, never by indexing S samples B times: the number of correct samples in a resample of a
run with c of S correct is Binomial(S, c/S), and a resample's (class, right/wrong) counts are one
Multinomial(S, p) draw over the 2K cells, so 1,000 resamples of a 50k-sample run cost milliseconds.

The paired test is the exact McNemar test: a two-sided binomial test (p = 0.5) on the discordant pairs,
the samples that only one of the two classifiers gets right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

CONFIDENCE = 0.95
RESAMPLES = 1000
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A statistic with its bootstrap interval [low, high]."""

    value: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        """Half the width of the interval (the ``± x`` of a table cell)."""
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class PairedTest:
    """Exact McNemar test of classifiers a and b on the same samples."""

    a_only: int  # samples only a gets right
    b_only: int  # samples only b gets right
    both: int
    neither: int
    p_value: float


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the last axis of ``stats`` (..., B)."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail], axis=-1)
    return low, high


def proportion_intervals(
    successes: np.ndarray,
    n: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap intervals (low, high) of the proportions ``successes / n`` (same shape as the inputs);
    NaN where n is 0."""
    successes, n = np.asarray(successes, dtype=np.int64), np.asarray(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    p = np.divide(successes, n, out=np.zeros(successes.shape), where=n > 0)
    draws = rng.binomial(n[..., None], p[..., None], size=(*n.shape, resamples))  # (..., B)
    low, high = _percentiles(draws / np.maximum(n, 1)[..., None], confidence)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def accuracy_interval(
    correct: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE
) -> Interval:
    """Mean of the boolean ``correct`` (S,) with its bootstrap interval."""
    correct = np.asarray(correct, dtype=bool)
    if correct.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    low, high = proportion_intervals(correct.sum(), np.int64(correct.size), resamples, seed, confidence)
    return Interval(float(correct.mean()), float(low), float(high))


def mean_class_interval(
    labels: np.ndarray,
    correct: np.ndarray,
    num_classes: int,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Mean-class accuracy (mean recall over the classes present) with its bootstrap interval.

    ``labels`` (S,) are class ids of labelled samples, ``correct`` (S,) whether each was predicted right. A
    resample draws S samples with replacement; its class-by-outcome counts are one multinomial draw.
    """
    labels, correct = np.asarray(labels, dtype=np.int64), np.asarray(correct, dtype=bool)
    if labels.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    cells = np.bincount(labels * 2 + correct, minlength=2 * num_classes)  # (2K,): class k wrong, right
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(labels.size, cells / labels.size, size=resamples).reshape(resamples, -1, 2)
    support = draws.sum(axis=2)  # (B, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = draws[:, :, 1] / support  # NaN for a class absent from a resample
        stats = np.nanmean(recall, axis=1)  # (B,)
        value = np.nanmean(cells[1::2] / cells.reshape(-1, 2).sum(axis=1))
    low, high = _percentiles(stats, confidence)
    return Interval(float(value), float(low), float(high))


def topk_correct(logits: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(S,) bool: the label is among the ``k`` highest logits, ties broken by the lower class index first
    (as ``metrics.topk_accuracy``), computed from the label's rank without sorting."""
    logits, labels = np.asarray(logits), np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        return np.zeros(0, dtype=bool)
    target = np.take_along_axis(logits, labels[:, None], axis=1)  # (S, 1)
    before = np.arange(logits.shape[1]) < labels[:, None]  # (S, K): classes ranked first on a tie
    rank = (logits > target).sum(axis=1) + ((logits == target) & before).sum(axis=1)
    return rank < k


def stream_intervals(
    logits: dict[str, np.ndarray],
    labels: np.ndarray,
    num_classes: int,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per stream: top1, top5, mean_class, each with ``_low`` / ``_high`` bounds; labelled samples only."""
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    rows = []
    for stream, stream_logits in logits.items():
        row: dict[str, object] = {"stream": stream}
        z, y = np.asarray(stream_logits)[keep], labels[keep]
        top1 = z.argmax(axis=1) == y if y.size else np.zeros(0, dtype=bool)
        top5 = topk_correct(z, y, min(5, num_classes))
        for name, interval in (
            ("top1", accuracy_interval(top1, resamples, seed, confidence)),
            ("top5", accuracy_interval(top5, resamples, seed, confidence)),
            ("mean_class", mean_class_interval(y, top1, num_classes, resamples, seed, confidence)),
        ):
            row |= {name: interval.value, f"{name}_low": interval.low, f"{name}_high": interval.high}
        rows.append(row)
    return pd.DataFrame(rows)


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> PairedTest:
    """Exact McNemar test of two classifiers' per-sample correctness (S,) on the same samples."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired test needs the same samples; got {a.shape} and {b.shape}")
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    discordant = a_only + b_only
    p_value = 1.0 if discordant == 0 else float(binomtest(a_only, discordant, 0.5).pvalue)
    return PairedTest(a_only, b_only, int((a & b).sum()), int((~a & ~b).sum()), p_value)


def match_samples(ids_a: np.ndarray, ids_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ia, ib) of the sample ids the two runs share, in the order of ``ids_a``."""
    where = pd.Index(np.asarray(ids_b, dtype=str)).get_indexer(np.asarray(ids_a, dtype=str))  # -1: absent
    ia = np.flatnonzero(where >= 0)
    return ia, where[ia]
