"""`epam attention`: measure where a run's attention falls and what it buys; adds attention_measures.parquet."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "attention",
        help="measure a run's attention (on the body, per part, vs motion; RGB with uniform / no attention)",
        description=(
            "Re-runs the run's own checkpoint on its own samples and writes RUN/attention_measures.parquet "
            "(`epam evaluate` writes it too; this adds it to a run that lacks it, e.g. an older one). The "
            "checkpoint must be the file the run names and reproduce its RGB logits. Under `torchrun` "
            "samples are shared out."
        ),
    )
    p.add_argument("--run", required=True, help="evaluation run directory")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="video-decoding processes per process")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core import distributed
    from epam_core.attention_eval import measure_run

    ctx = distributed.init(args.device)
    out = measure_run(args.run, batch_size=args.batch_size, workers=args.workers, ctx=ctx)
    distributed.shutdown(ctx)  # not on errors: a failed rank exits and torchrun stops the others
    if ctx.is_main:
        print(out / "attention_measures.parquet")
    return 0
