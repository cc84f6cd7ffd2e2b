"""`epam analyze`: one video nobody annotated -> poses, the model, and a label-free evaluation run."""

from __future__ import annotations

import argparse
import shlex
import sys

from epam_core.commands import arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="run a checkpoint on a video of your own (poses extracted with MediaPipe) into an evaluation run",
        description=(
            "Extracts the 2D poses of VIDEO (MediaPipe, up to --max-persons people; run `make poses` once), "
            "crops around all of them, runs the model with the input settings stored in the checkpoint, and writes an "
            "evaluation run without a label (label -1): the three streams' scores, the attention maps, and "
            "the poses as RUN_DIR/poses.pkl. Open it with `epam dashboard --runs RUN_DIR`."
        ),
    )
    p.add_argument("video", metavar="VIDEO", help="video file")
    p.add_argument("--checkpoint", required=True, help="EPAM-Net checkpoint (ours or the authors')")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    p.add_argument(
        "--max-side",
        type=arguments.int_in(16, 8192),
        default=None,
        help="downscale frames for pose extraction (640)",
    )
    p.add_argument(
        "--max-persons",
        type=arguments.positive_int,
        default=None,
        help="people found per frame, at most (2, as in pyskl's NTU)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.poses.extract import MAX_PERSONS, MAX_SIDE
    from epam_core.runs.format import read_run
    from epam_core.runs.own_video import analyze_video

    out = analyze_video(
        args.video,
        args.checkpoint,
        args.out,
        overwrite=args.overwrite,
        max_side=args.max_side or MAX_SIDE,
        max_persons=MAX_PERSONS if args.max_persons is None else args.max_persons,
        source=shlex.join(["epam", *sys.argv[1:]]),
    )
    result = read_run(out)
    scores = result.logits("fused")[0]
    top = scores.argsort()[::-1][:5]
    print(f"{out}\ntop-5 (fused logits):")
    for k in top:
        print(f"  {result.class_names[k]:<40} {scores[k]:8.3f}")
    return 0
