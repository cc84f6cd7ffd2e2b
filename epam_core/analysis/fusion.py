"""Score-level fusion of the RGB and pose streams: ``fused = w_rgb * rgb + w_pose * pose`` on raw logits.

The sweep parametrises the weights as ``(alpha, 1 - alpha)``: alpha = 1 is RGB alone, 0 is pose alone and
0.5 ranks classes exactly as the paper's 1:1 sum does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from epam_core.analysis.metrics import labelled


def fuse(rgb: np.ndarray, pose: np.ndarray, weights: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """(S, K) fused logits."""
    return weights[0] * np.asarray(rgb, dtype=np.float32) + weights[1] * np.asarray(pose, dtype=np.float32)


def alpha_weights(alpha: float) -> tuple[float, float]:
    """(w_rgb, w_pose) = (alpha, 1 - alpha)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (got {alpha})")
    return float(alpha), float(1.0 - alpha)


def weights_alpha(weights: tuple[float, float]) -> float:
    """alpha = w_rgb / (w_rgb + w_pose) of given fusion weights (0.5 for the paper's 1:1)."""
    total = weights[0] + weights[1]
    return float(weights[0] / total) if total > 0 else 0.5


def weight_sweep(
    rgb: np.ndarray,
    pose: np.ndarray,
    labels: np.ndarray,
    alphas: np.ndarray | None = None,
    chunk: int = 4096,
) -> pd.DataFrame:
    """Accuracy of ``alpha * rgb + (1 - alpha) * pose`` for each alpha: columns alpha, top1, top5, mean_class.

    One pass over the samples in chunks of ``chunk``: each chunk's fused logits for every alpha at once,
    (A, chunk, K), the label's rank counted as in ``topk_hits``. Same values as a loop of ``topk_accuracy``.
    """
    alphas = np.linspace(0.0, 1.0, 21) if alphas is None else np.asarray(alphas, dtype=float)
    rgb, pose = np.asarray(rgb, dtype=np.float32), np.asarray(pose, dtype=np.float32)
    labels = np.asarray(labels)
    keep = labelled(labels)
    rgb, pose, labels = rgb[keep], pose[keep], labels[keep]
    num_classes = rgb.shape[1]
    w_rgb = alphas.astype(np.float32)[:, None, None]  # (A, 1, 1)
    w_pose = (1.0 - alphas).astype(np.float32)[:, None, None]
    top1 = np.zeros(len(alphas))
    top5 = np.zeros(len(alphas))
    confusion = np.zeros((len(alphas), num_classes * num_classes), dtype=np.int64)  # (A, K*K) counts
    for start in range(0, len(labels), chunk):
        y = labels[start : start + chunk]
        fused = w_rgb * rgb[None, start : start + chunk] + w_pose * pose[None, start : start + chunk]
        own = np.take_along_axis(fused, np.broadcast_to(y[None, :, None], (len(alphas), len(y), 1)), axis=2)
        before = np.arange(num_classes)[None, None, :] < y[None, :, None]  # classes winning a tie
        rank = (fused > own).sum(axis=2) + ((fused == own) & before).sum(axis=2)  # (A, chunk)
        top1 += (rank < 1).sum(axis=1)
        top5 += (rank < min(5, num_classes)).sum(axis=1)
        cells = y[None, :] * num_classes + fused.argmax(axis=2)  # (A, chunk)
        for a in range(len(alphas)):
            confusion[a] += np.bincount(cells[a], minlength=num_classes * num_classes)
    count = len(labels)
    rows = []
    for a, alpha in enumerate(alphas):
        cm = confusion[a].reshape(num_classes, num_classes)
        support = cm.sum(axis=1)
        recall = np.diag(cm)[support > 0] / support[support > 0]
        rows.append(
            {
                "alpha": float(alpha),
                "top1": top1[a] / count if count else float("nan"),
                "top5": top5[a] / count if count else float("nan"),
                "mean_class": float(recall.mean()) if recall.size else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def best_weight(sweep: pd.DataFrame, metric: str = "top1") -> tuple[float, float]:
    """(alpha, accuracy) of the best row; among equal accuracies, the alpha closest to 0.5 (the 1:1 sum)."""
    if sweep[metric].isna().all():
        return float("nan"), float("nan")
    best = sweep[metric].max()
    tied = sweep[np.isclose(sweep[metric], best)]
    row = tied.iloc[int(np.argmin(np.abs(tied["alpha"].to_numpy() - 0.5)))]
    return float(row["alpha"]), float(row[metric])
