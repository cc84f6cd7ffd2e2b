"""`epam bench`: eval-mode latency of EPAMNet (plain, and in the CPU-inference form of
``epam_core.fast.prepare_cpu_inference``) against the literal reference transcription.

One process, all models resident, interleaved rounds: every round times a calibration conv2d (3x3, 64->64,
8x56x56, 1.85 GFLOP) and then every (model, batch) variant, so that the machine's drift hits all of them
alike and the ratios stay meaningful on a noisy shared CPU. Before timing, both models get the same random
weights and must give the same logits. Per variant: median of the per-round medians, and the best round.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Variant:
    name: str
    batch: int
    gflop: float  # FLOPs (2 per multiply-add) of one call, in G
    fn: Callable[[], object]
    reps: int
    medians: list[float]  # seconds, one per round
    baseline: str | None = None  # the variant its speed-up is measured against


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="eval latency of EPAMNet vs the reference implementation")
    p.add_argument("--preset", default="paper", choices=["paper", "demo"])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (inductor, freezing)")
    p.add_argument("--quick", action="store_true", help="smoke run: demo preset, batch 1, one short round")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from epam_core.config import build_config
    from epam_core.fast import CpuInferenceOptions, prepare_cpu_inference
    from epam_core.models.epam_net import EPAMNet
    from epam_core.models.reference import ReferenceEPAMNet
    from epam_core.profile import count_gmac, example_inputs

    if args.quick:
        args.preset, args.batches, args.rounds, args.warmup = "demo", [1], 1, 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = build_config(args.preset)
    plain, ref = EPAMNet(config).eval(), ReferenceEPAMNet(config).eval()
    _randomize(plain)
    ref.load_state_dict(plain.state_dict(), strict=True)
    fast = prepare_cpu_inference(plain, CpuInferenceOptions(threads=args.threads))
    compiled = _compile(plain) if args.compile else None

    variants: list[Variant] = []
    calib = torch.randn(8, 64, 56, 56)
    calib_w = torch.randn(64, 64, 3, 3)
    variants.append(
        Variant(
            "calibration conv2d 3x3 64->64 8x56x56",
            8,
            2 * 64 * 64 * 9 * 56 * 56 * 8 / 1e9,
            lambda: torch.nn.functional.conv2d(calib, calib_w, padding=1),
            5,
            [],
        )
    )
    with torch.no_grad():
        for batch in args.batches:
            rgb, pose = example_inputs(config, batch)
            rgb.normal_()
            pose.uniform_()
            # counted on the reference: FlopCounterMode does not see the fused oneDNN calls of the fast path
            gflop = 2 * count_gmac(ref, rgb, pose)
            expected = ref(rgb, pose).fused_logits
            _check_same(fast(rgb, pose).fused_logits, expected, "EPAMNet (CPU inference)", batch)
            _check_same(plain(rgb, pose).fused_logits, expected, "EPAMNet (plain)", batch)
            reps = 1 if batch > 4 or args.quick else 3
            base = f"reference (Conv3d, NCTHW) b{batch}"
            variants.append(Variant(base, batch, gflop, _call(ref, rgb, pose), reps, []))
            variants.append(
                Variant(f"EPAMNet plain b{batch}", batch, gflop, _call(plain, rgb, pose), reps, [], base)
            )
            variants.append(
                Variant(
                    f"EPAMNet CPU inference b{batch}", batch, gflop, _call(fast, rgb, pose), reps, [], base
                )
            )
            if compiled is not None:
                log.info("compiling for batch %d (minutes on 2 cores)", batch)
                start = time.perf_counter()
                compiled(rgb, pose)
                log.info("compiled batch %d in %.0f s", batch, time.perf_counter() - start)
                _check_same(compiled(rgb, pose).fused_logits, ref(rgb, pose).fused_logits, "compiled", batch)
                variants.append(
                    Variant(
                        f"EPAMNet torch.compile b{batch}",
                        batch,
                        gflop,
                        _call(compiled, rgb, pose),
                        reps,
                        [],
                        base,
                    )
                )
        _measure(variants, args.rounds, args.warmup)
    print(_table(variants, args, config.preset))
    return 0


def _randomize(model) -> None:
    """Trained-like weights and BN statistics, so that the logits comparison means something."""
    import torch

    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                elif "bn" in name:
                    t.copy_(
                        torch.randn(t.shape, generator=g) * 0.2 + (1.0 if name.endswith("weight") else 0.0)
                    )


def _compile(model):
    """torch.compile of the plain model with inductor's freezing (weights become constants: BN folding and layout chosen at
    compile time); static shapes, so each batch size gets its own graph. Minutes on 2 cores."""
    import torch
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    return torch.compile(model, dynamic=False)


def _call(model, rgb, pose) -> Callable[[], object]:
    return lambda: model(rgb, pose)


def _check_same(actual, expected, what: str, batch: int) -> None:
    """Relative error (max |diff| / max |expected|) of the logits must be <= 1e-5, as in the tests."""
    err = ((actual - expected).abs().max() / expected.abs().max()).item()
    if err > 1e-5:
        raise RuntimeError(f"{what} and the reference disagree at batch {batch}: relative error {err:.2e}")
    log.info("%s batch %d: logits equal to the reference (relative error %.1e)", what, batch, err)


def _measure(variants: list[Variant], rounds: int, warmup: int) -> None:
    from tqdm import tqdm

    for v in variants:
        for _ in range(warmup):
            v.fn()
    for _ in tqdm(range(rounds), desc="bench rounds", unit="round"):
        for v in variants:
            times = []
            for _ in range(v.reps):
                start = time.perf_counter()
                v.fn()
                times.append(time.perf_counter() - start)
            v.medians.append(statistics.median(times))


def _table(variants: list[Variant], args: argparse.Namespace, preset: str) -> str:
    calib = variants[0]
    calib_rate = calib.gflop / statistics.median(calib.medians)
    by_name = {v.name: v for v in variants}
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [
        f"preset {preset}, {args.threads} threads, {args.rounds} rounds (warm-up {args.warmup}); "
        f"calibration {calib_rate:.0f} GFLOP/s; load average at the end (1/5/15 min) {load}",
        "",
        "| variant | batch | median ms | best ms | GFLOP/s | % of calib | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        med, best = statistics.median(v.medians), min(v.medians)
        rate = v.gflop / med
        speedup = (
            f"{statistics.median(by_name[v.baseline].medians) / med:.2f}x"
            if v.baseline
            else "1.00x"
            if v is not calib
            else "–"
        )
        lines.append(
            f"| {v.name} | {v.batch} | {med * 1e3:.1f} | {best * 1e3:.1f} | {rate:.3g} | "
            f"{100 * rate / calib_rate:.0f}% | {speedup} |"
        )
    return "\n".join(lines)
