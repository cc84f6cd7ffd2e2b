"""Cost of the attention measures that `epam evaluate` adds: the body geometry per clip (in the data-loading
workers) and the two extra RGB-head passes per batch (uniform and no attention), next to a plain forward.

Run: ``.venv/bin/python benchmarks/bench_attention_measures.py [--repeats 10]``. Prints Markdown tables
(median wall time; the forward passes interleaved, median and best of N), and `predict` over the demo's
test split with and without the measures when the SynthActions data are there.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from epam_core.analysis.attention_measures import BodyShape, body_part_coverage, sample_measures
from epam_core.checkpoint import load_model
from epam_core.config import build_config
from epam_core.data.dataset import PoseRGBDataset
from epam_core.distributed import DistContext
from epam_core.models import build_model
from epam_core.runs.evaluate import predict
from epam_core.runs.measure_attention import (
    BodyGeometryDataset,
    attention_grid,
    forward_with_attention_variants,
)

PERSON = np.array(
    [[0.50, 0.12], [0.48, 0.10], [0.52, 0.10], [0.45, 0.12], [0.55, 0.12], [0.40, 0.25], [0.60, 0.25],
     [0.36, 0.40], [0.64, 0.40], [0.33, 0.53], [0.67, 0.53], [0.44, 0.55], [0.56, 0.55], [0.43, 0.72],
     [0.57, 0.72], [0.42, 0.88], [0.58, 0.88]],
)  # fmt: skip  # a standing person, as fractions of the crop


def _median_ms(repeats: int, fn, *args) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _extra_heads(model, feats: torch.Tensor, attention: torch.Tensor) -> None:
    """What ``forward_with_attention_variants`` adds to a forward pass: the head on uniform and on no attention."""
    uniform = attention.mean(dim=(1, 2, 3, 4), keepdim=True)
    model.rgb_cls_head(feats + feats * uniform)
    model.rgb_cls_head(feats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--data", default="data/synthactions/synthactions.pkl", help="also time `predict` (if present)"
    )
    parser.add_argument("--split", default="test")
    parser.add_argument("--checkpoint", default="checkpoints/epam_demo.pt")
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}\n"
    )
    print(
        "| preset | frames x grid | persons | supersample | body geometry (ms / clip) | measures (ms / clip) |"
    )
    print("|---|---|---|---|---|---|")
    for preset in ("demo", "paper"):
        config = build_config(preset)
        grid = attention_grid(config)
        t = config.input.rgb_frames
        for persons in (1, 2):
            kp = PERSON[None, None] * grid[0] + rng.normal(0, 0.1, (persons, t, 17, 2))  # (M, T, V, 2)
            score = np.ones((persons, t, 17))
            for supersample in (4, 8):
                shape = BodyShape(supersample=supersample)
                geometry = _median_ms(args.repeats, body_part_coverage, kp, score, grid, shape)
                coverage = body_part_coverage(kp, score, grid, shape)
                spatial, motion = rng.random((t, *grid)), rng.random(t)
                measures = _median_ms(args.repeats, sample_measures, spatial, motion, coverage, motion)
                print(
                    f"| {preset} | {t} x {grid[0]}x{grid[1]} | {persons} | {supersample} | {geometry:.2f} | {measures:.2f} |"
                )
    print(
        "\n| preset | batch | model(rgb, pose) (ms) | with the uniform and no-attention heads (ms) "
        "| the two extra heads alone (ms) |"
    )
    print("|---|---|---|---|---|")
    for preset, batch in (("demo", 8), ("paper", 1)):
        model = build_model(preset).eval()
        cfg = model.config.input
        rgb = torch.randn(batch, 3, cfg.rgb_frames, cfg.rgb_size, cfg.rgb_size)
        pose = torch.rand(batch, cfg.num_joints, cfg.pose_frames, cfg.heatmap_size, cfg.heatmap_size)
        plain, variants = [], []
        with torch.inference_mode():
            model(rgb, pose)  # warm-up
            for _ in range(args.repeats):  # interleaved, so that a load change hits both alike
                plain.append(_median_ms(1, model, rgb, pose))
                variants.append(_median_ms(1, forward_with_attention_variants, model, rgb, pose))
            feats = model.rgb_backbone(rgb)  # (N, T, C, h, w)
            attention = torch.rand(batch, cfg.rgb_frames, 1, *feats.shape[-2:])
            heads = _median_ms(args.repeats, _extra_heads, model, feats, attention)
        print(
            f"| {preset} | {batch} | {np.median(plain):.0f} (best {min(plain):.0f}) "
            f"| {np.median(variants):.0f} (best {min(variants):.0f}) | {heads:.2f} |"
        )
    if args.data and Path(args.data).is_file():
        print(f"\n| `predict` over {args.data} ({args.split}), batch 16, 0 workers | clips / s |")
        print("|---|---|")
        model = load_model(args.checkpoint)
        config = model.config
        plain = PoseRGBDataset(args.data, Path(args.data).parent / "videos", config.input, split=args.split)
        measured = BodyGeometryDataset(
            args.data,
            Path(args.data).parent / "videos",
            config.input,
            split=args.split,
            grid=attention_grid(config),
        )
        rates = {"without the measures": [], "with the measures (`epam evaluate`)": []}
        for _ in range(2):  # interleaved
            for name, dataset in zip(rates, (plain, measured), strict=True):
                start = time.perf_counter()
                predict(model, dataset, DistContext(), batch_size=16, workers=0, desc="bench")
                rates[name].append(len(dataset) / (time.perf_counter() - start))
        for name, values in rates.items():
            print(f"| {name} | {max(values):.1f} (runs: {', '.join(f'{v:.1f}' for v in values)}) |")


if __name__ == "__main__":
    main()
