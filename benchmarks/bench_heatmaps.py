"""Heatmap volumes: vectorised ``keypoints_to_heatmaps`` vs the per-joint loop of PoseC3D, at the paper's size.

Run: ``.venv/bin/python benchmarks/bench_heatmaps.py [--repeats 20]``. Prints a Markdown table (median
wall time per clip, 17 joints x 48 frames on a 56x56 grid, sigma 0.6) and checks the two agree.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from epam_core.config import paper_config
from epam_core.data.heatmaps import keypoints_to_heatmaps, keypoints_to_heatmaps_loop


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    cfg = paper_config().input
    size = (cfg.heatmap_size, cfg.heatmap_size)
    rng = np.random.default_rng(0)
    print(
        f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, median of {args.repeats}\n"
    )
    print(
        "| persons | joints x frames x grid | loop (ms) | vectorised (ms) | speed-up | + limbs (ms) | max abs diff |"
    )
    print("|---|---|---|---|---|---|---|")
    for persons in (1, 2):
        kp = rng.uniform(0, cfg.heatmap_size, (persons, cfg.pose_frames, cfg.num_joints, 2)).astype(
            np.float32
        )
        score = rng.uniform(0.2, 1, (persons, cfg.pose_frames, cfg.num_joints)).astype(np.float32)
        diff = np.abs(
            keypoints_to_heatmaps(kp, score, size, cfg.sigma)
            - keypoints_to_heatmaps_loop(kp, score, size, cfg.sigma)
        ).max()
        loop = _median_ms(
            lambda kp=kp, score=score: keypoints_to_heatmaps_loop(kp, score, size, cfg.sigma), args.repeats
        )
        fast = _median_ms(
            lambda kp=kp, score=score: keypoints_to_heatmaps(kp, score, size, cfg.sigma), args.repeats
        )
        limbs = _median_ms(
            lambda kp=kp, score=score: keypoints_to_heatmaps(kp, score, size, cfg.sigma, with_limbs=True),
            args.repeats,
        )
        shape = f"{cfg.num_joints} x {cfg.pose_frames} x {size[0]}x{size[1]}"
        print(
            f"| {persons} | {shape} | {loop:.1f} | {fast:.2f} | {loop / fast:.1f}x | {limbs:.1f} | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()
