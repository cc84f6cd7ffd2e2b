"""`epam synth`: generate the SynthActions benchmark (videos, pyskl poses, class names, splits)."""

from __future__ import annotations

import argparse
import sys

from epam_core.commands import arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    from epam_core.data.synth.actions import ACTIONS

    p = subparsers.add_parser(
        "synth",
        help="render the SynthActions benchmark: videos with ground-truth 2D poses",
        description=(
            "Renders K actions x N clips of an articulated person (COCO-17) on varied scenes and writes "
            "OUT/videos/<id>.webm (VP9), OUT/synthactions.pkl (pyskl format, train/test split 3:1) and "
            "OUT/class_names.txt. Deterministic: the same arguments give the same dataset. "
            f"Classes, in order: {', '.join(f'{a.name} ({a.decides})' for a in ACTIONS)}; the word in "
            "brackets says which stream can tell the class apart."
        ),
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (written atomically)")
    p.add_argument(
        "--classes",
        type=arguments.int_in(1, len(ACTIONS)),
        default=12,
        metavar="K",
        help=f"number of classes, 1..{len(ACTIONS)}",
    )
    p.add_argument(
        "--per-class", type=arguments.int_in(1, 10_000), default=40, metavar="N", help="clips per class"
    )
    p.add_argument("--seed", type=arguments.non_negative_int, default=0)
    p.add_argument("--frames", type=arguments.int_in(24, 600), default=48, help="frames per clip (24..600)")
    p.add_argument(
        "--size",
        type=arguments.int_in(32, 1280),
        nargs=2,
        default=(160, 120),
        metavar=("W", "H"),
        help="video size",
    )
    p.add_argument(
        "--workers",
        type=arguments.non_negative_int,
        default=2,
        help="processes (the output does not depend on it)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.data.synth.generate import ClipSettings, generate_synthactions

    settings = ClipSettings(width=args.size[0], height=args.size[1], num_frames=args.frames)
    try:
        path = generate_synthactions(
            args.out, args.classes, args.per_class, args.seed, settings, workers=args.workers,
            overwrite=args.overwrite,
        )  # fmt: skip
    except ValueError as err:
        print(f"epam synth: error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0
