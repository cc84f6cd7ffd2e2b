"""Likely label errors and fusion rescues / breaks on hand-made logits."""

from __future__ import annotations

import numpy as np
import pytest

from epam_core.analysis import label_errors


def logits_for(rows: list[tuple[int, float]], k: int = 4) -> np.ndarray:
    """One row per (class, strength): a one-hot-ish logit row."""
    z = np.zeros((len(rows), k), np.float32)
    for i, (c, s) in enumerate(rows):
        z[i, c] = s
    return z


def test_likely_label_errors_rank_by_the_lowest_probability():
    ids = np.array(["a", "b", "c", "d", "e"])
    labels = np.array([0, 0, 0, 0, -1])
    rgb = logits_for([(1, 5), (2, 9), (1, 5), (0, 9), (1, 9)])
    pose = logits_for([(1, 9), (2, 9), (3, 5), (0, 9), (1, 9)])
    fused = logits_for([(1, 9), (2, 3), (1, 9), (0, 9), (1, 9)])
    table = label_errors.likely_label_errors(ids, labels, {"rgb": rgb, "pose": pose, "fused": fused})
    # a: all say 1; b: all say 2, but the fused stream is less sure; c: pose disagrees; d: right; e: no label
    assert table["sample_id"].tolist() == ["a", "b"]
    p = lambda s: np.exp(s) / (np.exp(s) + 3)  # noqa: E731 (probability of the top class of a logits_for row)
    assert table["min_prob"].tolist() == pytest.approx([p(5), p(3)])
    assert table["predicted"].tolist() == [1, 2]
    strict = label_errors.likely_label_errors(ids, labels, {"rgb": rgb, "pose": pose, "fused": fused}, 0.9)
    assert strict["sample_id"].tolist() == ["a"]  # p(5) = 0.98, p(3) = 0.87


def test_fusion_rescues_and_breaks():
    ids = np.array(["r1", "r2", "b1", "ok", "none"])
    labels = np.array([0, 0, 0, 0, 0])
    rgb = logits_for([(1, 2), (1, 2), (0, 2), (0, 2), (1, 2)])
    pose = logits_for([(2, 2), (3, 2), (1, 2), (0, 2), (1, 2)])
    fused = logits_for([(0, 1), (0, 4), (1, 3), (0, 2), (1, 2)])
    table = label_errors.fusion_outcomes(ids, labels, {"rgb": rgb, "pose": pose, "fused": fused})
    assert table["sample_id"].tolist() == ["r2", "r1", "b1"]  # rescues by fused probability, then breaks
    assert table["outcome"].tolist() == ["rescue", "rescue", "break"]
    assert table["rgb_pred"].tolist() == [1, 1, 0]
