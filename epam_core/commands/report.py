"""`epam report`: a run's confidence intervals, paired tests, calibration, slices and likely label errors,
as text or JSON (the sections of ``epam_core.analysis.run_report``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="statistics of a run: bootstrap CIs, McNemar tests, calibration, slices, likely label errors",
        description=(
            "Prints a readable summary, or with --json a JSON object with the sections run, streams, paired, "
            "compare (with --compare), calibration, slices, likely_label_errors, fusion and attention (when the run "
            "has attention measures). Accuracies are fractions in [0, 1]."
        ),
    )
    p.add_argument("--run", type=Path, required=True, help="evaluation run directory")
    p.add_argument(
        "--compare", type=Path, default=None, help="a second run to test against (samples matched by id)"
    )
    p.add_argument(
        "--metadata", type=Path, default=None,
        help="CSV or Parquet table with a sample_id column; its other columns become slices",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--out", type=Path, default=None, help="write the report to this file instead of stdout")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap and cross-validation seed (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.analysis import slices
    from epam_core.analysis.run_report import ReportInputs, build_report, render_text
    from epam_core.errors import EpamError, OutputError
    from epam_core.outputs import atomic_write_file
    from epam_core.runs.format import read_run

    if args.resamples < 10:
        raise EpamError(None, f"--resamples {args.resamples}: use at least 10 bootstrap resamples")
    if args.out is not None and args.out.exists() and not (args.out.is_file() and args.overwrite):
        raise OutputError(args.out, "already exists; choose another --out or pass --overwrite (files only)")
    metadata = slices.read_metadata(args.metadata) if args.metadata else None
    inputs = ReportInputs(
        read_run(args.run),
        compare=read_run(args.compare) if args.compare else None,
        metadata=metadata,
        metadata_source=str(args.metadata),
        resamples=args.resamples,
        seed=args.seed,
    )
    report = build_report(inputs)
    text = json.dumps(report, indent=2) + "\n" if args.json else render_text(report)
    if args.out is None:
        print(text, end="")
    else:
        atomic_write_file(args.out, lambda p: p.write_text(text))
        print(f"wrote {args.out}")
    return 0
