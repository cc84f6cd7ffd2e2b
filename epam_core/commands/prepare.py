"""`epam prepare`: decode every clip once into a crop cache that evaluate, robustness, train and the dashboard read."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="decode and crop every clip once into a crop cache (--cache of evaluate, robustness, train)",
        description=(
            "Writes CACHE/cache.json and one CACHE/clips/<sample>.npz per sample: the person crops at the "
            "model's size (uint8) and the crop box. Each file is written atomically; running the same "
            "command again completes an interrupted cache. The format is described in "
            "epam_core/data/crop_cache.py."
        ),
    )
    p.add_argument("--data", required=True, help="pyskl annotation pickle")
    p.add_argument("--videos", default=None, help="video directory (default: videos/ next to --data)")
    p.add_argument("--out", required=True, help="cache directory to write or complete")
    p.add_argument("--split", default=None, help="only this split (default: every sample of --data)")
    p.add_argument(
        "--preset", default="paper", choices=("demo", "paper"), help="input sizes of this model preset"
    )
    p.add_argument(
        "--checkpoint", default=None, help="take the input sizes from this checkpoint instead of --preset"
    )
    p.add_argument(
        "--frames",
        default="test",
        choices=("test", "all"),
        help="test: the deterministic test-time frames (evaluate, robustness, dashboard); "
        "all: every frame (also training's random sampling; several times larger)",
    )
    p.add_argument("--workers", type=int, default=2, help="decoding processes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.config import build_config
    from epam_core.data.crop_cache import prepare_cache
    from epam_core.data.dataset import default_videos
    from epam_core.data.pyskl import load_annotations, select_split

    if args.checkpoint is not None:
        from epam_core.checkpoint import load_checkpoint

        input_cfg = load_checkpoint(args.checkpoint).model.config.input
    else:
        input_cfg = build_config(args.preset, None).input
    samples = select_split(load_annotations(args.data), args.split)
    written, present = prepare_cache(
        samples,
        default_videos(args.data, args.videos),
        args.out,
        input_cfg,
        frames=args.frames,
        workers=args.workers,
        annotation=args.data,
    )
    print(f"{args.out}: {written} clips written, {present} already there")
    return 0
