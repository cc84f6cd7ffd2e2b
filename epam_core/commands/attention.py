"""`epam attention`: where a run's attention falls and what it buys (attention_measures.parquet), and a summary."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "attention",
        help="measure a run's attention (on the body, per part, vs motion; RGB with uniform / no attention)",
        description=(
            "Prints the run means of RUN/attention_measures.parquet. When the run lacks the file (`epam "
            "evaluate` writes it; older runs lack it) or with --recompute, the run's own checkpoint is re-run "
            "on its own samples first; it must be the file the run names and reproduce its RGB logits. Under "
            "`torchrun` samples are shared out."
        ),
    )
    p.add_argument("--run", required=True, help="evaluation run directory")
    p.add_argument("--recompute", action="store_true", help="measure again even if the run has the file")
    p.add_argument("--json", action="store_true", help="print the report's `attention` section as JSON")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="video-decoding processes per process")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.analysis.attention_report import attention_report, format_attention_report
    from epam_core.runs.attention_measures_file import ATTENTION_MEASURES
    from epam_core.runs.format import read_run

    run_ = read_run(args.run)
    if args.recompute or not (run_.path / ATTENTION_MEASURES).exists():
        from epam_core import distributed
        from epam_core.runs.measure_attention import measure_run

        ctx = distributed.init(args.device)
        measure_run(run_.path, batch_size=args.batch_size, workers=args.workers, ctx=ctx)
        distributed.shutdown(ctx)  # not on errors: a failed rank exits and torchrun stops the others
        if not ctx.is_main:
            return 0
    section = attention_report(read_run(run_.path))
    print(json.dumps(section, indent=2) if args.json else format_attention_report(section))
    return 0
