"""Evaluation throughput (clips/s, video decoding and heatmaps included) of the demo preset on SynthActions.

Runs ``epam_core.runs.evaluate.predict`` (what ``epam evaluate`` runs) over the test split for several batch
sizes and data-loading worker counts, and prints a Markdown table.

    .venv/bin/python benchmarks/bench_evaluation.py [--data data/synthactions/synthactions.pkl]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from torch.utils.data import Subset

from epam_core.checkpoint import load_checkpoint
from epam_core.data.dataset import PoseRGBDataset
from epam_core.distributed import DistContext
from epam_core.runs.evaluate import predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/synthactions/synthactions.pkl")
    parser.add_argument("--checkpoint", default="checkpoints/epam_demo.pt")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.checkpoint).model
    dataset = PoseRGBDataset(
        args.data, Path(args.data).parent / "videos", model.config.input, split=args.split
    )
    print(
        f"{len(dataset)} clips of {args.data} ({args.split}), {os.cpu_count()} CPUs, {args.threads} threads"
    )
    predict(
        model, Subset(dataset, range(8)), DistContext(), batch_size=4, desc="warm-up"
    )  # oneDNN, page cache
    print("| batch | workers | seconds | clips/s |\n|---|---|---|---|")
    for batch_size in args.batch_sizes:
        for workers in args.workers:
            tic = time.perf_counter()
            predict(model, dataset, DistContext(), batch_size=batch_size, workers=workers, desc="bench")
            seconds = time.perf_counter() - tic
            print(f"| {batch_size} | {workers} | {seconds:.1f} | {len(dataset) / seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
