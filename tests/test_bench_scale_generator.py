"""The synthetic runs of the dashboard scale benchmark (benchmarks/scale_run.py) look like real ones."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from scale_run import (
    NTU120_XSUB_TRAIN,
    NTU_ID,
    ROBUSTNESS_NOISES,
    ROBUSTNESS_SEEDS,
    Targets,
    calibrated_logits,
    ntu_sample_ids,
    write_scale_run,
)

from epam_core.data.class_names import get_class_names
from epam_core.runs.format import read_run


def test_sample_ids_are_unique_ntu_cross_subject_ids_of_their_label() -> None:
    labels = np.repeat(np.arange(120), 40)
    ids = ntu_sample_ids(labels, np.random.default_rng(0))
    assert len(set(ids)) == len(ids)
    parts = np.array([[int(g) for g in NTU_ID.match(s).groups()] for s in ids])  # (S, 5): S C P R A
    assert parts[:, 0].min() >= 1 and parts[:, 0].max() <= 32
    assert set(parts[:, 1]) == {1, 2, 3} and set(parts[:, 3]) == {1, 2}
    assert not set(parts[:, 2]) & set(NTU120_XSUB_TRAIN)
    assert set(parts[:, 2]) <= set(range(1, 107))
    np.testing.assert_array_equal(parts[:, 4], labels + 1)


def test_accuracies_hit_the_targets_and_errors_look_real() -> None:
    k = 60
    labels = np.repeat(np.arange(k), 150)
    targets = Targets(0.85, 0.82, 0.90)
    logits = calibrated_logits(labels, k, targets, np.random.default_rng(1))
    preds = {s: v.argmax(axis=1) for s, v in logits.items()}
    preds["fused"] = (logits["rgb"] + logits["pose"]).argmax(axis=1)
    for stream in ("rgb", "pose", "fused"):
        assert np.mean(preds[stream] == labels) == pytest.approx(getattr(targets, stream), abs=0.01)
    rgb_wrong, pose_wrong = preds["rgb"] != labels, preds["pose"] != labels
    assert pose_wrong[rgb_wrong].mean() > 1.5 * pose_wrong.mean()  # errors are correlated
    both = rgb_wrong & pose_wrong
    assert (
        np.mean(preds["rgb"][both] == preds["pose"][both]) > 0.3
    )  # and often the same confusion (1/59 by chance)
    # a class's errors go mostly to a few similar classes: the top wrong class takes far more than chance
    shares = []
    for c in range(k):
        wrong = preds["rgb"][(labels == c) & rgb_wrong]
        if len(wrong) >= 10:
            shares.append(np.bincount(wrong).max() / len(wrong))
    assert np.mean(shares) > 0.3


def test_written_run_reads_back_with_ntu_names_attention_and_sweep(tmp_path: Path) -> None:
    out = write_scale_run(tmp_path / "run", 600, 60, robustness_clips=50)
    run = read_run(out)
    assert run.class_names == get_class_names("ntu60")
    assert len(run.sample_ids) == 600 and all(NTU_ID.match(s) for s in run.sample_ids)
    np.testing.assert_array_equal([int(s[-3:]) - 1 for s in run.sample_ids], run.labels)
    assert run.logits("rgb").shape == (600, 60)
    np.testing.assert_allclose(run.logits("fused"), run.logits("rgb") + run.logits("pose"), rtol=1e-6)
    assert np.mean(run.logits("fused").argmax(1) == run.labels) == pytest.approx(0.90, abs=0.03)
    assert run.attention.spatial.shape == (600, 16, 7, 7) and run.attention.spatial.dtype == np.float16
    assert run.attention.temporal.shape == (600, 16)
    assert 0 <= run.attention.spatial.min() and run.attention.spatial.max() <= 1
    sweep = run.robustness
    levels = sum(len(v) for _, v in ROBUSTNESS_NOISES)
    assert len(sweep) == 50 * levels * len(ROBUSTNESS_SEEDS)
    clean = sweep[sweep["level"] == 0]
    noisy = sweep[(sweep["noise"] == "jitter_px") & (sweep["level"] == 8.0)]
    assert (noisy["pose_pred"] == noisy["label"]).mean() < (clean["pose_pred"] == clean["label"]).mean()
