"""Robustness sweeps: the model re-run with skeleton noise at several levels and seeds.

Each sample's video is decoded once (``pipeline.load_clip``); only its heatmaps are redrawn for every
(noise, level, seed) condition, because skeleton noise moves keypoints and leaves the RGB frames alone.
For the same reason the RGB backbone runs once per sample (``EPAMNet.forward_features`` of the clip and the
first batch of conditions): EPAM-Net's attention acts on the RGB backbone's output, so every further batch
of conditions re-runs only the pose backbone, the attention and the heads
(``EPAMNet.forward_with_rgb_features``; the logits are those of a full forward pass). The RGB logits
still change: the attention that guides the RGB stream comes from the pose features.
Under ``torchrun`` samples are sharded like evaluation and gathered back into dataset order.

The noise of a row with seed ``s`` is ``apply_noise(..., seed=s)`` on that sample's clip (the same ``s`` for
every sample), so re-running one sample live with the same seed reproduces its row exactly.

``precision`` (``epam_core.precision``) runs the forward passes under autocast; a sweep runs in the precision
its run was evaluated in (the manifest's ``precision``, fp32 when absent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from epam_core.analysis.metrics import robustness_curves
from epam_core.checkpoint import load_checkpoint, nonfinite_weight
from epam_core.config import InputConfig
from epam_core.data.crop_cache import CropCache, open_cache
from epam_core.data.dataset import default_videos, find_video
from epam_core.data.loader import EpamLoader
from epam_core.data.noise import NoiseSpec
from epam_core.data.pipeline import Clip, clip_to_tensors, load_clip
from epam_core.data.pyskl import load_annotations, select_split
from epam_core.distributed import DistContext, ShardSampler, gather_by_index, prepare_model
from epam_core.errors import CheckpointError, DataError, RunError
from epam_core.models.epam_net import EPAMNet
from epam_core.precision import autocast, check_precision, float_output
from epam_core.runs.evaluate import check_inputs_finite, check_scores_finite, evaluate
from epam_core.runs.format import ROBUSTNESS, read_run, write_robustness
from epam_core.runs.manifest import sha256

log = logging.getLogger(__name__)

COLUMNS = ("noise", "level", "seed", "sample_id", "label")


@dataclass(frozen=True)
class Condition:
    """One point of the sweep: a noise type at a level, drawn with a seed."""

    noise: str
    level: float
    seed: int


def sweep_conditions(noises: Sequence[tuple[str, Sequence[float]]], seeds: Sequence[int]) -> list[Condition]:
    """Every (noise, level, seed) combination, noise by noise, level by level."""
    return [
        Condition(name, float(level), int(seed))
        for name, levels in noises
        for level in levels
        for seed in seeds
    ]


def subset_indices(num_samples: int, subset: int | None) -> list[int]:
    """``subset`` evenly spaced sample indices (all when ``subset`` is None or not smaller)."""
    if subset is not None and subset < 1:
        raise DataError(None, f"--subset must be at least 1 sample, got {subset}")
    if subset is None or subset >= num_samples:
        return list(range(num_samples))
    return sorted({int(i) for i in np.linspace(0, num_samples - 1, subset).round()})


class ClipDataset(Dataset):
    """Decoded clips of annotated samples (no noise, no flip): what the sweep redraws heatmaps from.

    With ``cache`` (a crop cache, ``epam prepare``) the clips come from it instead of the videos.
    """

    def __init__(
        self,
        samples: Sequence[dict[str, Any]],
        video_root: str | Path | None,
        input_cfg: InputConfig,
        cache: str | Path | CropCache | None = None,
    ):
        self.samples = list(samples)
        self.video_root = video_root
        self.input_cfg = input_cfg
        self.cache = open_cache(cache, input_cfg)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Clip:
        ann = self.samples[index]
        if self.cache is not None:
            return self.cache.load_clip(ann, self.input_cfg)
        return load_clip(ann, find_video(self.video_root, ann["frame_dir"]), self.input_cfg)


Logits = tuple[np.ndarray, np.ndarray, np.ndarray]  # (rgb, pose, fused) logits of one clip, each (K,)


@torch.inference_mode()
def sweep_clip(
    model: EPAMNet,
    clip: Clip,
    input_cfg: InputConfig,
    conditions: Sequence[Condition],
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    progress: Callable[[int], object] = lambda _done: None,
    model_path: str | Path | None = None,
    precision: str = "fp32",
) -> list[Logits]:
    """The logits of one clip under every condition, in order: the RGB backbone once (next to the pose
    backbone of the first batch), then the pose stream, attention and heads for each further batch of
    ``batch_size`` conditions (``progress(n)`` after each batch of n).

    Non-finite inputs or scores stop it with an ``EpamError`` naming the sample (and ``model_path``)."""
    rgb = clip_to_tensors(clip, input_cfg)[0].to(device)  # (3, T, S, S)
    rgb_feats = None  # (1, T, C_r, h, w): skeleton noise cannot change it
    outputs = []
    for start in range(0, len(conditions), batch_size):
        chunk = conditions[start : start + batch_size]
        heatmaps = torch.stack(
            [
                clip_to_tensors(clip, input_cfg, noise=[NoiseSpec(c.noise, c.level)], seed=c.seed)[1]
                for c in chunk
            ]
        ).to(device)  # (C, V, T_pose, H, W)
        ids = [f"{clip.sample_id} under {c.noise}={c.level:g} seed {c.seed}" for c in chunk]
        check_inputs_finite(rgb.expand(len(chunk), *rgb.shape), heatmaps, ids)
        with autocast(precision, device):  # rgb_feats stay in the autocast dtype between batches
            if rgb_feats is None:
                rgb_feats, pose_feats = model.forward_features(rgb[None], heatmaps)
                out = model.forward_head(rgb_feats, pose_feats)
            else:
                out = model.forward_with_rgb_features(rgb_feats, heatmaps)
        out = float_output(out, cpu=True)  # one copy per batch
        check_scores_finite(out, ids, model_path, precision)
        for j in range(len(chunk)):
            outputs.append(
                tuple(logits[j].numpy() for logits in (out.rgb_logits, out.pose_logits, out.fused_logits))
            )
        progress(len(chunk))
    return outputs


def sweep(
    model: EPAMNet,
    clips: ClipDataset,
    conditions: Sequence[Condition],
    ctx: DistContext,
    batch_size: int = 8,
    workers: int = 0,
    model_path: str | Path | None = None,
    precision: str = "fp32",
) -> pd.DataFrame:
    """The ``robustness.parquet`` table: one row per (condition, sample), conditions in the given order.

    Non-finite weights or scores stop it with an ``EpamError`` naming ``model_path`` and the sample.
    ``model`` must already be on ``ctx.device``."""
    check_precision(precision, ctx.device)
    if (problem := nonfinite_weight(model.state_dict())) is not None:
        raise CheckpointError(model_path, f"the model's {problem}; refusing to run it")
    model.eval()
    sampler = ShardSampler(len(clips), ctx.rank, ctx.world_size)
    loader = EpamLoader(clips, batch_size=None, sampler=sampler, num_workers=workers)
    order: list[int] = []
    per_sample: list[list[Logits]] = []
    total = len(sampler) * len(conditions)
    with tqdm(total=total, desc="robustness", unit="clip", disable=not ctx.is_main) as bar:
        for index, clip in zip(sampler, loader, strict=True):
            order.append(index)
            per_sample.append(
                sweep_clip(
                    model,
                    clip,
                    clips.input_cfg,
                    conditions,
                    batch_size,
                    ctx.device,
                    bar.update,
                    model_path,
                    precision,
                )
            )
    per_sample = gather_by_index(ctx, order, per_sample)
    return robustness_frame(clips.samples, conditions, per_sample)


def robustness_frame(
    samples: Sequence[dict[str, Any]],
    conditions: Sequence[Condition],
    per_sample: Sequence[Sequence[Logits]],
) -> pd.DataFrame:
    """Rows ordered by condition, then by sample; ``per_sample[i][c]`` = (rgb, pose, fused) logits (K,)."""
    rows = []
    for c, cond in enumerate(conditions):
        for ann, outputs in zip(samples, per_sample, strict=True):
            rgb, pose, fused = outputs[c]
            rows.append(
                {
                    "noise": cond.noise,
                    "level": cond.level,
                    "seed": cond.seed,
                    "sample_id": str(ann["frame_dir"]),
                    "label": int(ann["label"]),
                    "rgb_logits": rgb,
                    "pose_logits": pose,
                    "fused_logits": fused,
                    "rgb_pred": int(rgb.argmax()),
                    "pose_pred": int(pose.argmax()),
                    "fused_pred": int(fused.argmax()),
                }
            )
    frame = pd.DataFrame(rows)
    if not rows:
        return pd.DataFrame(columns=[*COLUMNS, "rgb_logits", "pose_logits", "fused_logits"])
    return frame.astype({"level": np.float64, "seed": np.int64, "label": np.int64})


def run_robustness(
    checkpoint: str | Path,
    annotation: str | Path,
    out: str | Path,
    noises: Sequence[tuple[str, Sequence[float]]],
    seeds: Sequence[int] = (0, 1),
    *,
    videos: str | Path | None = None,
    split: str | None = None,
    subset: int | None = None,
    batch_size: int = 8,
    workers: int = 0,
    overwrite: bool = False,
    ctx: DistContext | None = None,
    cache: str | Path | None = None,
    precision: str = "fp32",
    **evaluate_kwargs: Any,
) -> Path:
    """Add a sweep to the run ``out`` of ``checkpoint``, evaluating first when ``out`` does not exist yet.

    An existing run must come from the same checkpoint file (sha256), have been evaluated in ``precision``
    and list every swept sample; an existing sweep is only replaced with ``overwrite``.
    """
    ctx = ctx or DistContext()
    check_precision(precision, ctx.device)
    out = Path(out)
    subset_indices(1, subset)  # a bad --subset fails before anything is evaluated or written
    if not seeds or not all(noise_levels for _, noise_levels in noises):
        raise DataError(None, "the sweep needs at least one --seeds value and one level per --noise")
    if not out.exists():
        evaluate(
            checkpoint, annotation, out, videos=videos, split=split, batch_size=batch_size, workers=workers,
            ctx=ctx, cache=cache, precision=precision, **evaluate_kwargs,
        )  # fmt: skip
    run = read_run(out)  # every rank reads it: the check below fails on all ranks alike
    if run.robustness is not None and not overwrite:
        raise RunError(out / ROBUSTNESS, "already exists; pass --overwrite to replace the sweep")
    recorded = (run.manifest.get("model") or {}).get("checkpoint_sha256")
    if recorded != sha256(checkpoint):
        raise RunError(out, f"was written by another checkpoint than {checkpoint} (sha256 differs)")
    if (evaluated := run.manifest.get("precision", "fp32")) != precision:
        raise RunError(
            out, f"was evaluated with --precision {evaluated}; sweep it with the same (not {precision})"
        )
    samples = select_split(load_annotations(annotation), split)
    samples = [samples[i] for i in subset_indices(len(samples), subset)]
    unknown = sorted({s["frame_dir"] for s in samples} - set(run.sample_ids))
    if unknown:
        raise RunError(out, f"has no predictions for {len(unknown)} swept samples, e.g. {unknown[0]!r}")
    model = prepare_model(load_checkpoint(checkpoint).model, ctx.device)
    conditions = sweep_conditions(noises, seeds)
    log.info("robustness: %d samples x %d conditions", len(samples), len(conditions))
    clips = ClipDataset(samples, default_videos(annotation, videos), model.config.input, cache=cache)
    table = sweep(
        model, clips, conditions, ctx, batch_size=batch_size, workers=workers, model_path=checkpoint,
        precision=precision,
    )  # fmt: skip
    if ctx.is_main:
        write_robustness(out, table)
        for noise, _ in noises:
            curves = robustness_curves(table, noise)
            rows = curves[curves["stream"] == "pose"]
            curve = "  ".join(
                f"{lv:g}: {100 * acc:.1f}%" for lv, acc in zip(rows["level"], rows["top1"], strict=True)
            )
            log.info("pose top-1 under %s  %s", noise, curve)
    return out
