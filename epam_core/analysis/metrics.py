"""Accuracy metrics over logits, consistent with scikit-learn's definitions.

Samples whose label is -1 (unknown, as in label-free runs) are left out of every metric; when no sample has
a label the metrics are NaN. ``top1_accuracy`` is the one top-1 accuracy of the project (runs' summaries, the
robustness sweep, the attention variants and the dashboard all use it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from epam_core.runs.format import STREAMS, EvalRun


def labelled(labels: np.ndarray) -> np.ndarray:
    """Boolean mask (S,) of samples with a known label."""
    return np.asarray(labels) >= 0


def top1_accuracy(preds: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy: the fraction of labelled samples whose prediction (the argmax of the logits, ties to
    the lower class index) is their label.

    Label -1 (an unlabelled clip, as in a run of one's own video or of imported scores without labels) counts
    neither as right nor as wrong: such samples are left out. NaN when no sample is labelled.
    """
    preds, labels = np.asarray(preds), np.asarray(labels)
    keep = labelled(labels)
    return float((preds[keep] == labels[keep]).mean()) if keep.any() else float("nan")


def topk_hits(logits: np.ndarray, labels: np.ndarray, k: int = 1) -> np.ndarray:
    """(S,) bool: the label is among the ``k`` highest logits (ties: lower index first, as a stable sort).

    The label's rank is counted (classes scoring higher, plus equal ones with a lower index) instead of
    sorting every row: one pass over (S, K). Samples with label -1 are never hits.
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    keep = labelled(labels)
    safe = np.where(keep, labels, 0)
    own = np.take_along_axis(logits, safe[:, None], axis=1)  # (S, 1)
    before = np.arange(logits.shape[1])[None, :] < safe[:, None]  # (S, K): classes that win a tie
    rank = (logits > own).sum(axis=1) + ((logits == own) & before).sum(axis=1)
    return keep & (rank < k)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of labelled samples whose label is among the ``k`` highest logits (ties: lower index first).

    Equals ``sklearn.metrics.top_k_accuracy_score`` when there are no ties; NaN when no sample is labelled.
    """
    keep = labelled(labels)
    if not keep.any():
        return float("nan")
    return float(topk_hits(logits, labels, k)[keep].mean())


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = true class, columns = predicted class (sklearn's layout)."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    keep = labelled(labels)
    flat = labels[keep].astype(np.int64) * num_classes + preds[keep]
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def stream_confusion(run: EvalRun, stream: str) -> np.ndarray:
    """(K, K) confusion counts of one stream of a run."""
    return confusion_matrix(run.labels, run.preds(stream), run.num_classes)


def per_class_accuracy(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """(K,) recall of each class; NaN for a class with no sample."""
    cm = confusion_matrix(labels, preds, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def mean_class_accuracy(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> float:
    """Mean of the per-class accuracies over the classes present (sklearn's balanced accuracy)."""
    acc = per_class_accuracy(labels, preds, num_classes)
    return float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan")


def stream_summary(run: EvalRun) -> pd.DataFrame:
    """One row per stream (rgb, pose, fused): top-1, top-5 and mean-class accuracy."""
    labels = run.labels
    rows = []
    for stream in STREAMS:
        logits = run.logits(stream)
        preds = run.preds(stream)
        rows.append(
            {
                "stream": stream,
                "top1": top1_accuracy(preds, labels),
                "top5": topk_accuracy(logits, labels, 5),
                "mean_class": mean_class_accuracy(labels, preds, run.num_classes),
            }
        )
    return pd.DataFrame(rows)


def per_class_table(run: EvalRun) -> pd.DataFrame:
    """Per-class accuracy of the three streams, the support, and ``fusion_gain`` = fused - max(rgb, pose)."""
    labels = run.labels
    table = pd.DataFrame(
        {
            "class_id": np.arange(run.num_classes),
            "class": run.class_names,
            "support": np.bincount(labels[labelled(labels)], minlength=run.num_classes),
        }
    )
    for stream in STREAMS:
        table[stream] = per_class_accuracy(labels, run.preds(stream), run.num_classes)
    table["fusion_gain"] = table["fused"] - table[["rgb", "pose"]].max(axis=1)
    return table


def topk_scores(logits: np.ndarray, class_names: list[str], k: int = 5) -> pd.DataFrame:
    """The ``k`` best classes of one sample's logits (K,) with their softmax probabilities."""
    logits = np.asarray(logits, dtype=np.float64)
    prob = np.exp(logits - logits.max())
    prob /= prob.sum()
    order = np.argsort(-logits, kind="stable")[:k]
    return pd.DataFrame({"class": [class_names[i] for i in order], "class_id": order, "prob": prob[order]})


def robustness_curves(sweep: pd.DataFrame, noise: str) -> pd.DataFrame:
    """Top-1 accuracy per (level, stream) of one noise type of a robustness sweep (``robustness.parquet``
    rows), averaged over seeds: columns level, stream, top1, top1_std (over seeds), samples."""
    part = sweep[(sweep["noise"] == noise) & labelled(sweep["label"])]
    rows = []
    for stream in STREAMS:
        for level, at_level in part.groupby("level"):
            by_seed = [group for _, group in at_level.groupby("seed")]
            per_seed = np.array([top1_accuracy(g[f"{stream}_pred"], g["label"]) for g in by_seed])
            rows.append(
                {
                    "level": float(level),
                    "stream": stream,
                    "top1": float(per_seed.mean()),
                    "top1_std": float(per_seed.std()),
                    "samples": len(by_seed[0]),
                }
            )
    return pd.DataFrame(rows, columns=["level", "stream", "top1", "top1_std", "samples"])
