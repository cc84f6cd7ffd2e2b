"""`epam demo`: regenerate the bundled demo (data, checkpoint, evaluation run, robustness sweep)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="regenerate SynthActions, train the demo model, evaluate it and sweep skeleton noise",
        description=(
            "Deterministic: writes OUT_DIR/epam_demo.pt and OUT_DIR/runs/demo_synthactions/ (the run the "
            "dashboard opens), with the SynthActions clips in DATA_DIR (generated when absent) and the "
            "per-stage training outputs in WORK_DIR. About 15 minutes on 2 CPU cores."
        ),
    )
    p.add_argument("--out-dir", default="checkpoints", help="where the checkpoint and run go")
    p.add_argument("--data-dir", default="data/synthactions", help="SynthActions directory")
    p.add_argument("--work-dir", default="runs/demo_training", help="per-stage training outputs")
    p.add_argument("--workers", type=int, default=2, help="data-loading processes")
    p.add_argument("--regenerate-data", action="store_true", help="rewrite DATA_DIR even if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.runs.demo import format_summary, run_demo

    numbers = run_demo(args.out_dir, args.data_dir, args.work_dir, args.workers, args.regenerate_data)
    print(format_summary(numbers))
    return 0
