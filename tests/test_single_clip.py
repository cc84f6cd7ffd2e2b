"""Live re-runs of one clip: with the clip's RGB features computed once, a noise level gives the logits and
attention of a full forward pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from epam_core.checkpoint import load_checkpoint
from epam_core.data.noise import NoiseSpec
from epam_core.data.pipeline import Clip
from epam_core.runs import single_clip

DEMO_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "epam_demo.pt"


def synthetic_clip(input_cfg, seed: int = 0) -> Clip:
    """A person-like cloud of 17 joints moving across a 160x120 video, random RGB frames."""
    rng = np.random.default_rng(seed)
    t_pose, t_rgb, size = input_cfg.pose_frames, input_cfg.rgb_frames, input_cfg.rgb_size
    centre = np.stack([np.linspace(50, 110, t_pose), np.full(t_pose, 60.0)], axis=1)  # (T, 2)
    keypoint = (centre[None, :, None] + rng.normal(0, 15, (1, t_pose, 17, 2))).astype(np.float32)
    indices = np.arange(t_pose)
    return Clip(
        sample_id="synthetic",
        label=0,
        rgb_frames=rng.integers(0, 256, (t_rgb, size, size, 3), dtype=np.uint8),
        keypoint=keypoint,
        keypoint_score=np.ones((1, t_pose, 17), np.float32),
        box=(10, 0, 150, 120),
        img_shape=(120, 160),
        pose_indices=indices,
        rgb_indices=indices[:: input_cfg.frame_stride],
    )


@pytest.mark.parametrize("cpu_inference", [True, False])
def test_rgb_features_once_then_noise_levels_equal_full_forward(cpu_inference: bool) -> None:
    loaded = (
        load_checkpoint(DEMO_CHECKPOINT)
        if cpu_inference
        else load_checkpoint(DEMO_CHECKPOINT, cpu_inference=None)
    )
    model, cfg = loaded.model, loaded.model.config.input
    clip = synthetic_clip(cfg)
    rgb_feats = single_clip.clip_rgb_features(model, clip, cfg)
    results = []
    for level in (0.0, 10.0):
        noise = [NoiseSpec("jitter_px", level)] if level else None
        full = single_clip.forward_clip(model, clip, cfg, noise, seed=2)
        shared = single_clip.forward_clip(model, clip, cfg, noise, seed=2, rgb_feats=rgb_feats)
        for name in ("rgb_logits", "pose_logits", "fused_logits", "spatial", "temporal"):
            np.testing.assert_allclose(getattr(shared, name), getattr(full, name), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(shared.keypoint, full.keypoint)
        results.append(shared)
    assert np.abs(results[0].rgb_logits - results[1].rgb_logits).max() > 1e-4  # noise moved the RGB stream
    assert not np.array_equal(results[0].keypoint, results[1].keypoint)
