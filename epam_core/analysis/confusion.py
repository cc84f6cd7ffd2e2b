"""Confusion-matrix analysis that stays readable at 120 classes: normalisation, class ordering
(by accuracy or by hierarchical clustering of confusions), class subsets, top confused pairs, differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

ORDERINGS = ("index", "name", "accuracy", "cluster")
NORMALISATIONS = ("true", "pred", "none")


def normalise(cm: np.ndarray, mode: str = "true") -> np.ndarray:
    """Row-normalised ("true": recall), column-normalised ("pred": precision) or raw counts ("none") as float.

    Rows (columns) without samples stay 0, as in ``sklearn.metrics.confusion_matrix(normalize=...)``.
    """
    cm = np.asarray(cm, dtype=np.float64)
    if mode == "none":
        return cm
    if mode not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {mode!r}; choose one of {NORMALISATIONS}")
    axis = 1 if mode == "true" else 0
    total = cm.sum(axis=axis, keepdims=True)
    return np.divide(cm, total, out=np.zeros_like(cm), where=total > 0)


def order_classes(cm: np.ndarray, method: str = "index", class_names: list[str] | None = None) -> np.ndarray:
    """A permutation of the classes: by index, by name, by accuracy (worst first), or clustered so that
    classes that are confused with each other sit next to each other (average linkage on 1 - symmetric
    normalised confusion)."""
    k = cm.shape[0]
    if method == "index":
        return np.arange(k)
    if method == "name":
        if class_names is None:
            raise ValueError("ordering by name needs class_names")
        return np.argsort(np.asarray(class_names, dtype=str), kind="stable")
    norm = normalise(cm, "true")
    if method == "accuracy":
        return np.argsort(np.diag(norm), kind="stable")
    if method == "cluster":
        if k < 3:
            return np.arange(k)
        sim = (norm + norm.T) / 2
        np.fill_diagonal(sim, 1.0)
        dist = np.clip(1.0 - sim, 0.0, 1.0)
        np.fill_diagonal(dist, 0.0)
        return leaves_list(linkage(squareform(dist, checks=False), method="average"))
    raise ValueError(f"unknown ordering {method!r}; choose one of {ORDERINGS}")


def filter_classes(class_names: list[str], query: str) -> np.ndarray:
    """Indices of the classes whose name contains ``query`` (case-insensitive); all for an empty query."""
    q = query.strip().lower()
    return np.array([i for i, name in enumerate(class_names) if q in name.lower()], dtype=np.int64)


def top_confused_pairs(cm: np.ndarray, class_names: list[str], n: int = 10) -> pd.DataFrame:
    """The ``n`` largest off-diagonal cells: true, predicted, count, and the share of the true class."""
    cm = np.asarray(cm)
    rate = normalise(cm, "true")
    off = cm.copy()
    np.fill_diagonal(off, 0)
    true_idx, pred_idx = np.nonzero(off)
    order = np.lexsort((pred_idx, true_idx, -rate[true_idx, pred_idx], -off[true_idx, pred_idx]))[:n]
    t, p = true_idx[order], pred_idx[order]
    return pd.DataFrame(
        {
            "true_id": t,
            "true": [class_names[i] for i in t],
            "pred_id": p,
            "predicted": [class_names[i] for i in p],
            "count": off[t, p],
            "rate": rate[t, p],
        }
    )


def difference(cm_a: np.ndarray, cm_b: np.ndarray, mode: str = "true") -> np.ndarray:
    """``normalise(a) - normalise(b)``: positive where ``a`` puts more mass than ``b``."""
    if np.shape(cm_a) != np.shape(cm_b):
        raise ValueError(f"confusion matrices differ in shape: {np.shape(cm_a)} vs {np.shape(cm_b)}")
    return normalise(cm_a, mode) - normalise(cm_b, mode)


def cell_samples(
    sample_ids: np.ndarray, labels: np.ndarray, preds: np.ndarray, true_id: int, pred_id: int
) -> np.ndarray:
    """The sample ids in one cell of the confusion matrix (true class ``true_id``, predicted ``pred_id``)."""
    mask = (np.asarray(labels) == true_id) & (np.asarray(preds) == pred_id)
    return np.asarray(sample_ids)[mask]
