"""`--precision`: the model alone in fp32, bf16 and fp16 (CUDA only): clips/s and the logit difference to fp32.

Two models: the paper preset with random, trained-like weights (BN statistics and affine parameters drawn as
in `epam bench`) on random inputs, and the bundled demo checkpoint on SynthActions clips (one per class,
generated into a temporary directory). Per precision: max |logits - fp32 logits| of each stream, the largest
|fp32 logit| for scale, the share of clips whose fused top-1 equals fp32's, and clips/s of the forward pass
(eval mode, inference mode, the model as `epam evaluate` loads it: CPU-inference form on the CPU, channels_last
weights on CUDA; CUDA timed with synchronize). fp16 is skipped on the CPU, where `epam` refuses it.

    .venv/bin/python benchmarks/bench_precision.py [--paper-clips 8] [--batch 4] [--reps 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from epam_core.checkpoint import load_checkpoint
from epam_core.commands.bench import _randomize
from epam_core.config import build_config
from epam_core.data.dataset import PoseRGBDataset
from epam_core.data.pyskl import load_annotations
from epam_core.data.synth.generate import ClipSettings, generate_synthactions
from epam_core.distributed import prepare_model
from epam_core.fast import CpuInferenceOptions, prepare_cpu_inference
from epam_core.models.epam_net import EPAMNet
from epam_core.precision import PRECISIONS, autocast, float_output
from epam_core.profile import example_inputs

REPO = Path(__file__).resolve().parents[1]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def run(
    model, batches, precision: str, device: torch.device, reps: int
) -> tuple[dict[str, np.ndarray], float]:
    """Logits of every batch (float32, on the CPU) and clips/s (best of ``reps`` passes over the batches)."""
    logits: dict[str, list[np.ndarray]] = {"rgb": [], "pose": [], "fused": []}
    best = float("inf")
    for rep in range(reps + 1):  # the first pass warms up (cuDNN autotuning, oneDNN primitive caches)
        _sync(device)
        tic = time.perf_counter()
        for rgb, pose in batches:
            with autocast(precision, device):
                out = model(rgb.to(device, non_blocking=True), pose.to(device, non_blocking=True))
            if rep == 0:
                out = float_output(out)
                for stream in logits:
                    logits[stream].append(getattr(out, f"{stream}_logits").cpu().numpy())
        _sync(device)
        if rep > 0:
            best = min(best, time.perf_counter() - tic)
    clips = sum(len(rgb) for rgb, _ in batches)
    return {k: np.concatenate(v) for k, v in logits.items()}, clips / best


def table(name: str, model, batches, device: torch.device, reps: int) -> None:
    print(f"\n### {name}: {sum(len(r) for r, _ in batches)} clips, batch {len(batches[0][0])}\n")
    print(
        "| precision | clips/s | max abs diff rgb / pose / fused | max abs fp32 logit | fused top-1 = fp32 |"
    )
    print("|---|---|---|---|---|")
    reference = None
    for precision in PRECISIONS:
        if precision == "fp16" and device.type != "cuda":
            print("| fp16 | (CUDA only) | | | |")
            continue
        logits, rate = run(model, batches, precision, device, reps)
        if reference is None:
            reference = logits
        diffs = " / ".join(f"{np.abs(logits[s] - reference[s]).max():.4f}" for s in ("rgb", "pose", "fused"))
        scale = max(np.abs(reference[s]).max() for s in reference)
        agree = (logits["fused"].argmax(1) == reference["fused"].argmax(1)).mean()
        print(f"| {precision} | {rate:.2f} | {diffs} | {scale:.2f} | {100 * agree:.0f}% |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper-clips", type=int, default=8, help="random clips for the paper preset")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--reps", type=int, default=2, help="timed passes after the warm-up pass")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("paper", "demo"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, device {device}"
        + (
            f" ({torch.cuda.get_device_name(device)})"
            if device.type == "cuda"
            else f", {args.threads} threads"
        )
        + f"; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    if "paper" not in args.skip:
        torch.manual_seed(0)
        config = build_config("paper")
        plain = EPAMNet(config).eval()
        _randomize(plain)
        model = prepare_cpu_inference(plain, CpuInferenceOptions()) if device.type == "cpu" else plain
        batches = []
        for _ in range(0, args.paper_clips, args.batch):
            rgb, pose = example_inputs(config, args.batch)
            batches.append((rgb.normal_(), pose.uniform_()))
        table("Paper preset, random trained-like weights, random inputs", prepare_model(model, device), batches,
              device, args.reps)  # fmt: skip
    if "demo" not in args.skip:
        model = prepare_model(load_checkpoint(REPO / "checkpoints" / "epam_demo.pt").model, device)
        with tempfile.TemporaryDirectory(prefix="epam_precision_") as tmp:
            annotation = generate_synthactions(
                Path(tmp) / "synth", num_classes=12, per_class=2, seed=5, workers=1, progress=False,
                settings=ClipSettings(width=120, height=90, num_frames=24),
            )  # fmt: skip
            anns = load_annotations(annotation)
            data = PoseRGBDataset(
                anns, annotation.parent / "videos", model.config.input, class_names=anns.class_names
            )
            items = [data[i][:2] for i in range(len(data))]
        batches = [
            tuple(torch.stack(t) for t in zip(*items[i : i + args.batch], strict=True))
            for i in range(0, len(items), args.batch)
        ]
        table("Demo checkpoint, SynthActions clips", model, batches, device, args.reps)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
