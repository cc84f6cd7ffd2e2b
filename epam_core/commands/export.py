"""`epam export`: every figure (PDF, SVG, PNG) and table (CSV, LaTeX) of an evaluation run, no browser needed."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from epam_core.analysis.figure_size import DPI, INCHES
from epam_core.commands import arguments
from epam_core.errors import EpamError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="write a run's paper figures (PDF/SVG/PNG) and tables (CSV/LaTeX)"
    )
    p.add_argument("--run", type=Path, required=True, help="evaluation run directory")
    p.add_argument("--out", type=Path, required=True, help="output folder (created; written atomically)")
    p.add_argument("--style", default="paper", choices=["paper", "screen"])
    p.add_argument(
        "--width",
        type=arguments.float_in(*INCHES),
        default=3.5,
        help="figure width in inches (3.5 = one column)",
    )
    p.add_argument("--height", type=arguments.float_in(*INCHES), default=2.6, help="figure height in inches")
    p.add_argument(
        "--dpi", type=arguments.int_in(*DPI), default=300, help=f"PNG resolution ({DPI[0]}..{DPI[1]})"
    )
    p.add_argument("--formats", default="pdf,svg,png", help="comma-separated subset of pdf,svg,png")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # matplotlib's font subsetting is chatty
    from epam_core.analysis.paper_figures import FORMATS, FigureSize
    from epam_core.analysis.report import export_run
    from epam_core.runs.format import read_run

    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise EpamError(
            None, f"--formats: unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}"
        )
    run_ = read_run(args.run)
    size = FigureSize(args.width, args.height, args.dpi)
    paths = export_run(run_, args.out, args.style, size, formats, overwrite=args.overwrite)
    print(f"wrote {len(paths)} files to {args.out}")
    return 0
