"""`epam export`: every figure (PDF, SVG, PNG) and table (CSV, LaTeX) of an evaluation run, no browser needed."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="write a run's paper figures (PDF/SVG/PNG) and tables (CSV/LaTeX)"
    )
    p.add_argument("--run", type=Path, required=True, help="evaluation run directory")
    p.add_argument("--out", type=Path, required=True, help="output directory (created)")
    p.add_argument("--style", default="paper", choices=["paper", "screen"])
    p.add_argument("--width", type=float, default=3.5, help="figure width in inches (3.5 = one column)")
    p.add_argument("--height", type=float, default=2.6, help="figure height in inches")
    p.add_argument("--dpi", type=int, default=300, help="PNG resolution")
    p.add_argument("--formats", default="pdf,svg,png", help="comma-separated subset of pdf,svg,png")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # matplotlib's font subsetting is chatty
    from epam_core.analysis.paper_figures import FORMATS, FigureSize
    from epam_core.analysis.report import export_run
    from epam_core.runs import read_run

    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SystemExit(
            f"epam export: error: unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    run_ = read_run(args.run)
    paths = export_run(run_, args.out, args.style, FigureSize(args.width, args.height, args.dpi), formats)
    print(f"wrote {len(paths)} files to {args.out}")
    return 0
