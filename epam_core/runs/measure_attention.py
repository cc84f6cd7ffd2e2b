"""Attention measures during evaluation: the forward pass that also gives the RGB logits with uniform and with
no attention, the dataset whose items carry the body's geometry, and `epam attention` (measures for a run
that lacks them).

What the attention buys: EPAM-Net's RGB head sees ``f_r + f_r * A`` (``A = A_s * A_t``, (N, T, 1, h, w)).
With the RGB backbone features ``f_r`` computed once, the head also runs on ``f_r + f_r * mean(A)`` (the
attention replaced by its per-sample mean over frames and cells: "uniform") and on ``f_r`` alone (``A = 0``:
"none"). The measures themselves are ``epam_core.analysis.attention_measures``; the file is
``epam_core.runs.attention_measures_file``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from epam_core.analysis.attention_measures import (
    DEFAULT_SHAPE,
    BodyShape,
    body_part_coverage,
    joint_motion,
    sample_measures,
)
from epam_core.config import EPAMNetConfig, InputConfig
from epam_core.data.crop import keypoints_to_box
from epam_core.data.dataset import PoseRGBDataset, find_video
from epam_core.data.pipeline import Clip, clip_to_tensors, load_clip
from epam_core.distributed import DistContext
from epam_core.models.epam_net import EPAMNet, EPAMOutput

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttentionForward:
    """One forward pass: the model's output and the RGB logits (N, K) with uniform and with no attention."""

    output: EPAMOutput
    rgb_uniform_logits: Tensor
    rgb_none_logits: Tensor


def forward_with_attention_variants(model: EPAMNet, rgb: Tensor, pose: Tensor) -> AttentionForward:
    """``model(rgb, pose)`` plus the RGB head on the same backbone features with ``A = mean(A)`` and ``A = 0``:
    ``forward_features`` once, ``forward_head`` for the model's output, the RGB head twice more."""
    rgb_feats, pose_feats = model.forward_features(rgb, pose)  # (N, T_rgb, C_r, h, w), (N, T_pose, C_p, h, w)
    output = model.forward_head(rgb_feats, pose_feats)
    attention = (output.spatial_attention * output.temporal_attention[:, :, None, None]).unsqueeze(2)
    uniform = attention.mean(dim=(1, 2, 3, 4), keepdim=True)  # (N, 1, 1, 1, 1)
    return AttentionForward(
        output,
        rgb_uniform_logits=model.rgb_cls_head(rgb_feats + rgb_feats * uniform),
        rgb_none_logits=model.rgb_cls_head(rgb_feats),
    )


def attention_grid(config: EPAMNetConfig) -> tuple[int, int]:
    """(h, w) of the attention maps: the RGB crop over the RGB backbone's stride."""
    side = config.input.rgb_size // config.rgb.total_stride
    return side, side


def clip_geometry(
    clip: Clip, input_cfg: InputConfig, grid: tuple[int, int], shape: BodyShape = DEFAULT_SHAPE
) -> tuple[np.ndarray, np.ndarray]:
    """The body on the attention grid at the clip's RGB frames: part coverage (T_rgb, P, h, w) and joint
    motion (T_rgb,), from the clip's clean keypoints mapped into its crop box."""
    t_rgb, stride = clip.rgb_frames.shape[0], input_cfg.frame_stride
    kp = keypoints_to_box(clip.keypoint, clip.keypoint_score, clip.box, grid)  # (M, T_pose, V, 2) grid coords
    at_rgb = slice(None, t_rgb * stride, stride)  # RGB frame t is pose frame t * stride
    coverage = body_part_coverage(kp[:, at_rgb], clip.keypoint_score[:, at_rgb], grid, shape)
    return coverage, joint_motion(kp, clip.keypoint_score, stride, t_rgb)


class BodyGeometryDataset(PoseRGBDataset):
    """Test-mode samples with the body's geometry: ``(rgb, heatmaps, label, sample_id, coverage (T, P, h, w),
    motion (T,))``, the first four exactly as ``PoseRGBDataset`` gives them."""

    def __init__(self, *args, grid: tuple[int, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.train or self.noise:
            raise ValueError("BodyGeometryDataset is for evaluation: no training draws, no skeleton noise")
        self.grid = grid

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, int, str, Tensor, Tensor]:
        ann = self.samples[index]
        if self.cache is not None:
            clip = self.cache.load_clip(ann, self.input_cfg, train=False)
        else:
            clip = load_clip(ann, find_video(self.video_root, ann["frame_dir"]), self.input_cfg)
        rgb, heatmaps = clip_to_tensors(clip, self.input_cfg)
        coverage, motion = clip_geometry(clip, self.input_cfg, self.grid)
        return (
            rgb,
            heatmaps,
            int(ann["label"]),
            ann["frame_dir"],
            torch.from_numpy(coverage),
            torch.from_numpy(motion),
        )


def measure_rows(
    sample_ids: list[str], forward: AttentionForward, coverage: Tensor, motion: Tensor
) -> list[dict]:
    """One ``attention_measures.parquet`` row per sample of a batch."""
    out = forward.output
    rows = []
    for j, sample_id in enumerate(sample_ids):
        spatial = out.spatial_attention[j].float().cpu().numpy()  # (T, h, w)
        temporal = out.temporal_attention[j].float().cpu().numpy()  # (T,)
        rows.append(
            {
                "sample_id": str(sample_id),
                **sample_measures(spatial, temporal, coverage[j].numpy(), motion[j].numpy()),
                "motion": motion[j].numpy(),
                "rgb_uniform_logits": forward.rgb_uniform_logits[j].float().cpu().numpy(),
                "rgb_none_logits": forward.rgb_none_logits[j].float().cpu().numpy(),
            }
        )
    return rows


def measure_run(
    run_dir: str | Path, *, batch_size: int = 8, workers: int = 2, ctx: DistContext | None = None
) -> Path:
    """Compute the attention measures of an existing run with its own checkpoint and data, and add
    ``attention_measures.parquet`` to it (rank 0 writes). The checkpoint must reproduce the run's logits."""
    from epam_core.checkpoint import load_checkpoint
    from epam_core.data.pyskl import load_annotations
    from epam_core.errors import CheckpointError, DataError, RunError
    from epam_core.runs import single_clip
    from epam_core.runs.attention_measures_file import measures_frame, write_attention_measures
    from epam_core.runs.evaluate import predict
    from epam_core.runs.format import MANIFEST, read_run
    from epam_core.runs.manifest import sha256

    ctx = ctx or DistContext()
    run = read_run(run_dir)
    model_info = run.manifest.get("model") or {}
    checkpoint = run.resolve(model_info.get("checkpoint"))
    if checkpoint is None:
        raise RunError(run.path / MANIFEST, "names no model.checkpoint, so the attention cannot be measured")
    if not checkpoint.is_file():
        raise CheckpointError(checkpoint, f"checkpoint not found (named by {run.path / MANIFEST})")
    recorded = model_info.get("checkpoint_sha256")
    if recorded and sha256(checkpoint) != recorded:
        raise CheckpointError(
            checkpoint, f"is not the file the run was evaluated with (sha256 differs from {MANIFEST})"
        )
    loaded = load_checkpoint(checkpoint)
    single_clip.check_model_fits_run(run, loaded.model.config, loaded.class_names, checkpoint)
    source = single_clip.sample_source(run)
    synth = (run.manifest.get("dataset") or {}).get("synth")
    if not source.annotation.is_file() and synth:
        from epam_core.data.synth import generate_synthactions
        from epam_core.data.synth.generate import regeneration_refusal

        if (refusal := regeneration_refusal(source.annotation, source.videos, synth)) is not None:
            raise DataError(run.path / MANIFEST, refusal)  # never a user's folder
        log.info("regenerating the run's SynthActions data into %s", source.annotation.parent)
        generate_synthactions(source.annotation.parent, **synth, overwrite=True)
    if not source.annotation.is_file():
        raise DataError(source.annotation, f"annotation file not found (named by {run.path / MANIFEST})")
    if source.videos is None:
        raise RunError(run.path / MANIFEST, "names no dataset.videos: the attention needs the frames")
    config = loaded.model.config
    dataset = BodyGeometryDataset(
        load_annotations(source.annotation),
        source.videos,
        config.input,
        split=(run.manifest.get("dataset") or {}).get("split"),
        class_names=run.class_names,
        grid=attention_grid(config),
    )
    if [a["frame_dir"] for a in dataset.samples] != list(run.sample_ids):
        raise RunError(run.path, f"its samples are not those of {source.annotation} (split changed?)")
    preds = predict(
        loaded.model.to(ctx.device),
        dataset,
        ctx,
        batch_size=batch_size,
        workers=workers,
        desc="attention",
        model_path=checkpoint,
    )
    stored = run.logits("rgb")
    if len(stored) and np.abs(preds.rgb_logits - stored).max() > 1e-3 * max(1.0, float(np.abs(stored).max())):
        raise CheckpointError(checkpoint, f"does not reproduce the RGB logits stored in {run.path.name}")
    if ctx.is_main:
        write_attention_measures(run.path, measures_frame(preds.attention_measures))
    return run.path
