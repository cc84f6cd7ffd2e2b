"""Re-running a run's model on one of its samples: locate the sample's annotation and video, check that the
checkpoint fits the run, and do one (optionally noisy) forward pass. Used by the Sample and Robustness pages.

The expensive part, decoding and cropping the video (``pipeline.load_clip``), is done once per sample; a
noise level only changes the keypoints, hence the heatmaps and the forward pass. Of the forward pass it
changes only the pose stream: ``clip_rgb_features`` once per sample, then ``forward_clip(...,
rgb_feats=...)`` per level runs the pose backbone, the attention and the heads alone (the same logits).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from epam_core.config import EPAMNetConfig, InputConfig
from epam_core.data.crop import keypoints_to_box
from epam_core.data.noise import NoiseSpec, apply_noise
from epam_core.data.pipeline import Clip, clip_to_tensors
from epam_core.errors import CheckpointError, RunError
from epam_core.models.epam_net import EPAMNet
from epam_core.runs.format import EvalRun


@dataclass(frozen=True)
class SampleSource:
    """Where one sample of a run comes from."""

    annotation: Path
    videos: Path | None
    crop_cache: Path | None = None  # the crop cache the run was evaluated from (``epam prepare``), if any


@dataclass(frozen=True)
class LiveResult:
    """One forward pass on one clip: logits (K,) per stream, attention, and the keypoints that were drawn."""

    rgb_logits: np.ndarray
    pose_logits: np.ndarray
    fused_logits: np.ndarray
    spatial: np.ndarray  # (T_rgb, h, w)
    temporal: np.ndarray  # (T_rgb,)
    keypoint: np.ndarray  # (M, T_pose, V, 2) image pixels, after noise
    keypoint_score: np.ndarray  # (M, T_pose, V)

    def logits(self, stream: str) -> np.ndarray:
        return {"rgb": self.rgb_logits, "pose": self.pose_logits, "fused": self.fused_logits}[stream]


def sample_source(run: EvalRun) -> SampleSource:
    """The annotation file, video directory and crop cache named by the run's manifest (RunError when absent)."""
    dataset: dict[str, Any] = run.manifest.get("dataset") or {}
    annotation = run.resolve(dataset.get("annotation"))
    if annotation is None:
        raise RunError(run.path / "manifest.json", "names no dataset.annotation, so samples cannot be shown")
    return SampleSource(
        annotation, run.resolve(dataset.get("videos")), run.resolve(dataset.get("crop_cache"))
    )


def run_config(run: EvalRun) -> EPAMNetConfig | None:
    """The model config recorded in the manifest, if any."""
    config = (run.manifest.get("model") or {}).get("config")
    return EPAMNetConfig.from_dict(config) if config else None


def check_model_fits_run(
    run: EvalRun, config: EPAMNetConfig, class_names: list[str] | None, checkpoint: Path
) -> None:
    """Raise ``CheckpointError`` when the checkpoint cannot be the model of this run."""
    if config.num_classes != run.num_classes:
        raise CheckpointError(
            checkpoint,
            f"has {config.num_classes} classes but the run {run.path.name} has {run.num_classes}: "
            "it is not the model of this run",
        )
    if class_names is not None and list(class_names) != run.class_names:
        raise CheckpointError(checkpoint, f"names other classes than the run {run.path.name}")
    recorded = run_config(run)
    if recorded is not None and recorded.input != config.input:
        raise CheckpointError(
            checkpoint,
            f"expects other inputs than the run {run.path.name} records (model.config.input differs)",
        )


def noisy_clip(clip: Clip, noise: list[NoiseSpec] | None, seed: int = 0) -> Clip:
    """The clip with skeleton noise applied to its image-pixel keypoints (the RGB frames are shared)."""
    if not noise:
        return clip
    keypoint, score = apply_noise(clip.keypoint, clip.keypoint_score, list(noise), seed=seed, box=clip.box)
    return replace(clip, keypoint=keypoint, keypoint_score=score)


def clip_rgb_features(model: EPAMNet, clip: Clip, input_cfg: InputConfig) -> Tensor:
    """The RGB backbone's output for one clip, (1, T_rgb, C_r, h, w): what skeleton noise cannot change."""
    rgb = clip_to_tensors(clip, input_cfg)[0]  # (3, T_rgb, S, S)
    with torch.inference_mode():
        return model.rgb_features(rgb[None])


def forward_clip(
    model: EPAMNet,
    clip: Clip,
    input_cfg: InputConfig,
    noise: list[NoiseSpec] | None = None,
    seed: int = 0,
    rgb_feats: Tensor | None = None,
) -> LiveResult:
    """The model on one clip, with optional skeleton noise (same seed, same noise).

    ``rgb_feats``: ``clip_rgb_features(model, clip, input_cfg)``, so that only the pose stream runs.
    """
    clip = noisy_clip(clip, noise, seed)
    rgb, heatmaps = clip_to_tensors(clip, input_cfg)
    with torch.inference_mode():
        if rgb_feats is None:
            out = model(rgb[None], heatmaps[None])
        else:
            out = model.forward_with_rgb_features(rgb_feats, heatmaps[None])
    return LiveResult(
        out.rgb_logits[0].float().numpy(),
        out.pose_logits[0].float().numpy(),
        out.fused_logits[0].float().numpy(),
        out.spatial_attention[0].float().numpy(),
        out.temporal_attention[0].float().numpy(),
        clip.keypoint,
        clip.keypoint_score,
    )


def clip_tensors(clip: Clip, input_cfg: InputConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(rgb (1, 3, T, S, S), heatmaps (1, V, T_pose, H, W)): the batch of one clip, e.g. for attributions."""
    rgb, heatmaps = clip_to_tensors(clip, input_cfg)
    return rgb[None], heatmaps[None]


def rgb_keypoints(clip: Clip, frame_stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints at the RGB frames, in crop pixels: (T_rgb, M, V, 2) and scores (T_rgb, M, V)."""
    size = clip.rgb_frames.shape[1]
    kp = keypoints_to_box(clip.keypoint, clip.keypoint_score, clip.box, (size, size))  # (M, T_pose, V, 2)
    kp = kp[:, ::frame_stride][:, : clip.rgb_frames.shape[0]]
    score = clip.keypoint_score[:, ::frame_stride][:, : clip.rgb_frames.shape[0]]
    return kp.transpose(1, 0, 2, 3), score.transpose(1, 0, 2)
