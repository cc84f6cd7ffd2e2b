"""`epam import-scores`: mmaction2/pyskl result pickles -> an evaluation run the dashboard can open."""

from __future__ import annotations

import argparse
import shlex
import sys

from epam_core.commands import arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import-scores",
        help="turn mmaction2/pyskl RGB and pose result pickles into an evaluation run (no attention)",
        description=(
            "Each pickle is the output of mmaction2/pyskl `test.py --out`: per-sample scores in the dataset's "
            "order, or dicts with pred_score and sample_id/frame_dir. Entries are matched to the samples of "
            "--split by id when they carry ids; otherwise their number and labels must match the split."
        ),
    )
    p.add_argument("--scores", nargs=2, required=True, metavar=("RGB_PKL", "POSE_PKL"), help="result pickles")
    p.add_argument("--data", required=True, help="pyskl annotation pickle the scores were computed on")
    p.add_argument("--split", default=None, help="split of the annotation file (default: all samples)")
    p.add_argument(
        "--videos", default=None, help="video directory, recorded in the manifest for the dashboard"
    )
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument(
        "--class-names",
        default=None,
        help="ntu60, ntu120, pku_mmd, toyota_cs, toyota_cv2 or a text file with one class name per line",
    )
    p.add_argument(
        "--fusion-weights",
        nargs=2,
        type=arguments.float_in(0.0),
        default=(1.0, 1.0),
        metavar=("W_RGB", "W_POSE"),
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.runs.import_scores import import_scores

    out = import_scores(
        args.scores[0],
        args.scores[1],
        args.data,
        args.out,
        split=args.split,
        videos=args.videos,
        class_names_file=args.class_names,
        fusion_weights=tuple(args.fusion_weights),
        overwrite=args.overwrite,
        source=shlex.join(["epam", *sys.argv[1:]]),
    )
    print(out)
    return 0
