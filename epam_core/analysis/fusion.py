"""Score-level fusion of the RGB and pose streams: ``fused = w_rgb * rgb + w_pose * pose`` on raw logits.

The sweep parametrises the weights as ``(alpha, 1 - alpha)``: alpha = 1 is RGB alone, 0 is pose alone and
0.5 ranks classes exactly as the paper's 1:1 sum does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from epam_core.analysis.metrics import mean_class_accuracy, topk_accuracy


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
    rgb: np.ndarray, pose: np.ndarray, labels: np.ndarray, alphas: np.ndarray | None = None
) -> pd.DataFrame:
    """Accuracy of ``alpha * rgb + (1 - alpha) * pose`` for each alpha: columns alpha, top1, top5, mean_class."""
    alphas = np.linspace(0.0, 1.0, 21) if alphas is None else np.asarray(alphas, dtype=float)
    num_classes = np.asarray(rgb).shape[1]
    rows = []
    for alpha in alphas:
        fused = fuse(rgb, pose, alpha_weights(float(alpha)))
        rows.append(
            {
                "alpha": float(alpha),
                "top1": topk_accuracy(fused, labels, 1),
                "top5": topk_accuracy(fused, labels, 5),
                "mean_class": mean_class_accuracy(labels, fused.argmax(axis=1), num_classes),
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
