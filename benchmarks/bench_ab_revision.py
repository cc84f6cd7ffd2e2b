"""A/B eval latency of EPAM-Net: the model of another git revision against this working tree's, each in
the form its ``load_model`` returns (``prepare_cpu_inference`` where the revision has it), same weights,
interleaved rounds in one process, so that a busy shared machine slows both alike. Prints the medians and the median of the per-round ratios.

    .venv/bin/python benchmarks/bench_ab_revision.py --before 900eaab [--batches 1 8] [--rounds 5]

The revision's ``epam_core`` is exported with ``git archive`` into a temporary directory and imported as the
package ``epam_before`` (its absolute imports renamed); its models must have the same state-dict layout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from epam_core.commands.bench import _randomize
from epam_core.config import build_config
from epam_core.fast import prepare_cpu_inference
from epam_core.models import build_model
from epam_core.profile import example_inputs

REPO = Path(__file__).resolve().parents[1]


def import_revision(revision: str, into: Path):
    """``epam_core`` of ``revision`` as the module ``epam_before``; returns its ``models`` module and its
    ``fast.prepare_cpu_inference`` (None before the fast path became a conversion: its models held it)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "epam_core"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    (into / "epam_core").rename(into / "epam_before")
    for path in (into / "epam_before").rglob("*.py"):
        path.write_text(path.read_text().replace("epam_core", "epam_before"))
    sys.path.insert(0, str(into))
    import epam_before.models

    try:
        from epam_before.fast import prepare_cpu_inference as prepare_before
    except ImportError:
        prepare_before = None
    return epam_before.models, prepare_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--preset", default="paper", choices=["paper", "demo"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        before_models, prepare_before = import_revision(args.before, Path(tmp))
        torch.manual_seed(0)
        plain = build_model(args.preset)
        _randomize(plain)
        after = prepare_cpu_inference(plain)
        before = before_models.build_model(args.preset).eval()
        before.load_state_dict(plain.state_dict(), strict=True)
        if prepare_before is not None:  # each revision in the form its load_model returns
            before = prepare_before(before)
        config = build_config(args.preset)
        print(
            f"before: {args.before}, after: working tree; preset {args.preset}, {args.threads} threads, {args.rounds} rounds\n"
        )
        print(
            "| batch | before median ms | after median ms | after / before (median per round) |\n|---|---|---|---|"
        )
        with torch.no_grad():
            for batch in args.batches:
                rgb, pose = example_inputs(config, batch)
                rgb.normal_()
                pose.uniform_()
                a, b = before(rgb, pose).fused_logits, after(rgb, pose).fused_logits
                err = ((a - b).abs().max() / a.abs().max()).item()
                assert err <= 1e-5, f"before and after disagree: relative error {err:.2e}"
                reps = 3 if batch == 1 else 1
                times: dict[str, list[float]] = {"before": [], "after": []}
                for _ in range(args.rounds):
                    for name, model in (("before", before), ("after", after)):
                        samples = []
                        for _ in range(reps):
                            start = time.perf_counter()
                            model(rgb, pose)
                            samples.append(time.perf_counter() - start)
                        times[name].append(statistics.median(samples))
                ratio = statistics.median(x / y for x, y in zip(times["after"], times["before"], strict=True))
                print(
                    f"| {batch} | {1e3 * statistics.median(times['before']):.1f} | "
                    f"{1e3 * statistics.median(times['after']):.1f} | {ratio:.3f} |",
                    flush=True,
                )
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload average at the end (1/5/15 min): {load}")


if __name__ == "__main__":
    main()
