"""Robustness sweeps: level 0 is the plain evaluation; noise changes the pose stream; runs are checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from epam_core.analysis.metrics import robustness_curves
from epam_core.checkpoint import load_checkpoint, save_checkpoint
from epam_core.data.noise import NoiseSpec
from epam_core.data.pipeline import clip_to_tensors
from epam_core.data.pyskl import load_annotations
from epam_core.data.synth.generate import ClipSettings, generate_synthactions
from epam_core.errors import RunError
from epam_core.fast import CpuInferenceOptions
from epam_core.models import build_model
from epam_core.runs.format import read_run
from epam_core.runs.robustness import (
    ClipDataset,
    Condition,
    run_robustness,
    subset_indices,
    sweep_clip,
    sweep_conditions,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    settings = ClipSettings(width=80, height=60, num_frames=24)
    annotation = generate_synthactions(
        root / "synth", num_classes=3, per_class=4, seed=5, settings=settings, workers=1, progress=False
    )
    torch.manual_seed(1)
    checkpoint = save_checkpoint(root / "random.pt", build_model("demo", 3))
    return annotation, checkpoint


def test_conditions_and_subsets():
    assert sweep_conditions([("jitter_px", [0, 2])], [0, 1]) == [
        Condition("jitter_px", 0.0, 0),
        Condition("jitter_px", 0.0, 1),
        Condition("jitter_px", 2.0, 0),
        Condition("jitter_px", 2.0, 1),
    ]
    assert subset_indices(10, 4) == [0, 3, 6, 9]
    assert subset_indices(3, 5) == [0, 1, 2] and subset_indices(3, None) == [0, 1, 2]


def test_sweep_at_level_zero_equals_plain_evaluation(tiny, tmp_path):
    annotation, checkpoint = tiny
    out = tmp_path / "run"
    noises = [("jitter_px", [0.0, 6.0]), ("joint_dropout", [0.0, 0.5])]
    run_robustness(checkpoint, annotation, out, noises, seeds=[0, 1], split="test", batch_size=3)
    run = read_run(out)
    table = run.robustness
    assert len(table) == 2 * 2 * 2 * 3  # noise types x levels x seeds x test samples
    assert list(table.columns[:5]) == ["noise", "level", "seed", "sample_id", "label"]
    for (noise, seed), rows in table[table["level"] == 0].groupby(["noise", "seed"]):
        assert rows["sample_id"].tolist() == run.sample_ids.tolist(), (noise, seed)
        for stream in ("rgb", "pose", "fused"):
            swept = run.robustness_logits(stream)[rows.index]
            np.testing.assert_allclose(swept, run.logits(stream), atol=1e-5)
            assert rows[f"{stream}_pred"].tolist() == run.predictions[f"{stream}_pred"].tolist()
    noisy = table[(table["noise"] == "jitter_px") & (table["level"] == 6.0)]
    pose_noisy = run.robustness_logits("pose")[noisy.index]
    scale = np.abs(run.logits("pose")).max()  # random weights: logits are small
    assert np.abs(pose_noisy[:3] - run.logits("pose")).max() > 0.01 * scale  # jitter moved the pose stream
    assert np.abs(pose_noisy[:3] - pose_noisy[3:]).max() > 0.01 * scale  # the two seeds draw different noise
    curves = robustness_curves(table, "jitter_px")
    curve = curves[curves["stream"] == "pose"]
    assert curve["level"].tolist() == [0.0, 6.0] and curve["top1"].between(0, 1).all()
    with pytest.raises(RunError, match="already exists"):
        run_robustness(checkpoint, annotation, out, noises, seeds=[0], split="test")


def test_sweep_refuses_a_run_of_another_checkpoint(tiny, tmp_path):
    annotation, checkpoint = tiny
    other = save_checkpoint(tmp_path / "other.pt", build_model("demo", 3))
    out = tmp_path / "run"
    run_robustness(checkpoint, annotation, out, [("jitter_px", [0.0])], seeds=[0], split="test", subset=1)
    assert len(read_run(out).robustness) == 1
    with pytest.raises(RunError, match="another checkpoint"):
        run_robustness(
            other, annotation, out, [("jitter_px", [1.0])], seeds=[0], split="test", overwrite=True
        )


@pytest.mark.parametrize("cpu_inference", [True, False])
def test_sweep_of_a_clip_equals_a_full_forward_pass_per_condition(tiny, cpu_inference):
    """The RGB backbone once per clip, the pose stream per condition: the logits of ``model(rgb, pose)``."""
    annotation, _ = tiny
    demo = (
        Path(__file__).resolve().parents[1] / "checkpoints" / "epam_demo.pt"
    )  # trained: the attention, hence the RGB stream, follows the skeleton
    model = load_checkpoint(demo, cpu_inference=CpuInferenceOptions() if cpu_inference else None).model
    anns = load_annotations(annotation)
    clip = ClipDataset(anns.annotations[:1], annotation.parent / "videos", model.config.input)[0]
    conditions = sweep_conditions([("jitter_px", [0.0, 8.0]), ("joint_dropout", [0.5])], [0, 3])
    done = []
    logits = sweep_clip(model, clip, model.config.input, conditions, batch_size=4, progress=done.append)
    assert done == [4, 2] and len(logits) == len(conditions)
    for cond, (rgb_logits, pose_logits, fused_logits) in zip(conditions, logits, strict=True):
        rgb, heatmaps = clip_to_tensors(
            clip, model.config.input, noise=[NoiseSpec(cond.noise, cond.level)], seed=cond.seed
        )
        with torch.no_grad():
            full = model(rgb[None], heatmaps[None])
        np.testing.assert_allclose(rgb_logits, full.rgb_logits[0].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pose_logits, full.pose_logits[0].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(fused_logits, full.fused_logits[0].numpy(), rtol=1e-5, atol=1e-5)
    clean, noisy = logits[0][0], logits[2][0]  # jitter 0 and 8 px, seed 0: the RGB stream moved
    assert np.abs(clean - noisy).max() > 1e-4
