"""Telling samples: likely label errors (all three streams agree, confidently, on another class than the label),
fusion rescues (fused right, both streams wrong) and fusion breaks (fused wrong, a stream right).

Each function takes the per-stream logits (S, K) and labels (S,) of a run and returns a table of samples, best
first, with the columns the dashboard lists and `epam report` prints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from epam_core.analysis.calibration import probabilities
from epam_core.config import BRANCHES
from epam_core.runs.format import STREAMS

MIN_PROBABILITY = 0.5  # "confidently": every stream gives the agreed class at least this probability


def _label_probability(prob: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.take_along_axis(prob, labels[:, None], axis=1)[:, 0]


def likely_label_errors(
    sample_ids: np.ndarray,
    labels: np.ndarray,
    logits: dict[str, np.ndarray],
    min_probability: float = MIN_PROBABILITY,
) -> pd.DataFrame:
    """Samples whose rgb, pose and fused top-1 agree on a class other than the label, each stream giving it at
    least ``min_probability``; ranked by the lowest of the three probabilities (highest first).

    Columns: sample_id, label, predicted, min_prob, rgb_prob, pose_prob, fused_prob (of the predicted class).
    """
    labels = np.asarray(labels, dtype=np.int64)
    preds = {s: np.asarray(z).argmax(axis=1) for s, z in logits.items()}
    agreed = preds["fused"]
    keep = (labels >= 0) & (agreed != labels)
    for stream in BRANCHES:
        keep &= preds[stream] == agreed
    idx = np.flatnonzero(keep)
    table = pd.DataFrame(
        {"sample_id": np.asarray(sample_ids, dtype=str)[idx], "label": labels[idx], "predicted": agreed[idx]}
    )
    for stream in STREAMS:
        prob = probabilities(np.asarray(logits[stream])[idx])  # (S', K)
        table[f"{stream}_prob"] = _label_probability(prob, agreed[idx])
    table.insert(3, "min_prob", table[["rgb_prob", "pose_prob", "fused_prob"]].min(axis=1))
    table = table[table["min_prob"] >= min_probability]
    return table.sort_values("min_prob", ascending=False, kind="stable").reset_index(drop=True)


def fusion_outcomes(
    sample_ids: np.ndarray, labels: np.ndarray, logits: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Every labelled sample that fusion rescues or breaks: sample_id, label, outcome ("rescue": fused right,
    rgb and pose wrong; "break": fused wrong, rgb or pose right), rgb_pred, pose_pred, fused_pred and each
    stream's probability of the label. Rescues first, each group by the fused probability of the label
    (rescues: highest first; breaks: lowest first, the clearest breaks)."""
    labels = np.asarray(labels, dtype=np.int64)
    right = {s: np.asarray(z).argmax(axis=1) == labels for s, z in logits.items()}
    rescue = (labels >= 0) & right["fused"] & ~right["rgb"] & ~right["pose"]
    broken = (labels >= 0) & ~right["fused"] & (right["rgb"] | right["pose"])
    idx = np.flatnonzero(rescue | broken)
    table = pd.DataFrame(
        {
            "sample_id": np.asarray(sample_ids, dtype=str)[idx],
            "label": labels[idx],
            "outcome": np.where(rescue[idx], "rescue", "break"),
        }
    )
    for stream in STREAMS:
        z = np.asarray(logits[stream])[idx]
        table[f"{stream}_pred"] = z.argmax(axis=1) if idx.size else np.zeros(0, dtype=np.int64)
        table[f"{stream}_label_prob"] = _label_probability(probabilities(z), labels[idx]) if idx.size else []
    key = np.where(table["outcome"] == "rescue", -table["fused_label_prob"], 1 + table["fused_label_prob"])
    return table.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
