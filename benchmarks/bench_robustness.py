"""Robustness-sweep throughput (conditions/s for one clip) at the paper preset: a full forward pass per
condition (what ``epam robustness`` did before) against the RGB backbone once per clip and only the pose
stream, attention and heads per condition (``robustness.sweep_clip``, what it does now).

One process, the CPU-inference model (``load_checkpoint``'s default) with random trained-like weights, a
synthetic clip of the preset's size (video decoding is once per clip in both and not timed); heatmap drawing
with the noise is timed, as in the sweep. Interleaved rounds; the logits of both are checked equal first.

    .venv/bin/python benchmarks/bench_robustness.py [--preset paper] [--rounds 3] [--conditions 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from epam_core.commands.bench import _randomize
from epam_core.config import InputConfig, build_config
from epam_core.data.noise import NoiseSpec
from epam_core.data.pipeline import Clip, clip_to_tensors
from epam_core.fast import CpuInferenceOptions, prepare_cpu_inference
from epam_core.models.epam_net import EPAMNet
from epam_core.runs.robustness import Condition, sweep_clip, sweep_conditions


def synthetic_clip(input_cfg: InputConfig, seed: int = 0) -> Clip:
    """17 joints around a person moving across a 640x480 video; random RGB frames of the crop size."""
    rng = np.random.default_rng(seed)
    t_pose, t_rgb, size = input_cfg.pose_frames, input_cfg.rgb_frames, input_cfg.rgb_size
    centre = np.stack([np.linspace(200, 440, t_pose), np.full(t_pose, 240.0)], axis=1)  # (T, 2)
    keypoint = (centre[None, :, None] + rng.normal(0, 60, (1, t_pose, 17, 2))).astype(np.float32)
    indices = np.arange(t_pose)
    return Clip(
        "synthetic", 0, rng.integers(0, 256, (t_rgb, size, size, 3), dtype=np.uint8), keypoint,
        np.ones((1, t_pose, 17), np.float32), (100, 0, 540, 480), (480, 640), indices,
        indices[:: input_cfg.frame_stride],
    )  # fmt: skip


@torch.inference_mode()
def full_forward_per_condition(
    model: EPAMNet, clip: Clip, input_cfg: InputConfig, conditions: list[Condition], batch_size: int
) -> list[np.ndarray]:
    """The sweep before: both backbones for every batch of conditions (the fused logits)."""
    rgb = clip_to_tensors(clip, input_cfg)[0]
    fused = []
    for start in range(0, len(conditions), batch_size):
        chunk = conditions[start : start + batch_size]
        heatmaps = torch.stack(
            [
                clip_to_tensors(clip, input_cfg, noise=[NoiseSpec(c.noise, c.level)], seed=c.seed)[1]
                for c in chunk
            ]
        )
        out = model(rgb.expand(len(chunk), *rgb.shape), heatmaps)
        fused.extend(out.fused_logits.numpy())
    return fused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", choices=["paper", "demo"])
    parser.add_argument("--conditions", type=int, default=8, help="conditions per clip (one batch)")
    parser.add_argument("--batch-size", type=int, default=8, help="conditions per forward pass")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = build_config(args.preset)
    plain = EPAMNet(config)
    _randomize(plain)
    model = prepare_cpu_inference(plain, CpuInferenceOptions())
    input_cfg = config.input
    clip = synthetic_clip(input_cfg)
    levels = [1.0 + i for i in range((args.conditions + 1) // 2)]
    conditions = sweep_conditions([("jitter_px", levels)], [0, 1])[: args.conditions]

    def before() -> list[np.ndarray]:
        return full_forward_per_condition(model, clip, input_cfg, conditions, args.batch_size)

    def after() -> list[np.ndarray]:
        return [fused for _, _, fused in sweep_clip(model, clip, input_cfg, conditions, args.batch_size)]

    a, b = np.stack(before()), np.stack(after())
    err = float(np.abs(a - b).max() / np.abs(a).max())
    assert err <= 1e-5, f"the two sweeps disagree: relative error {err:.2e}"
    variants = {"full forward per condition (before)": before, "RGB backbone once per clip (now)": after}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"preset {args.preset}, {len(conditions)} conditions per clip in batches of {args.batch_size}, "
        f"{args.threads} threads, {args.rounds} rounds; logits equal (relative error {err:.1e}); "
        f"load average at the end (1/5/15 min) {load}\n"
    )
    print("| sweep | median s per clip | conditions/s | speed-up |\n|---|---|---|---|")
    base = statistics.median(seconds["full forward per condition (before)"])
    for name, times in seconds.items():
        med = statistics.median(times)
        print(f"| {name} | {med:.2f} | {len(conditions) / med:.2f} | {base / med:.2f}x |")


if __name__ == "__main__":
    main()
