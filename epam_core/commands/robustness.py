"""`epam robustness`: re-run a checkpoint under skeleton noise and add robustness.parquet to a run."""

from __future__ import annotations

import argparse
import shlex
import sys

from epam_core.commands import arguments
from epam_core.errors import EpamError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "robustness",
        help="sweep skeleton noise levels and seeds; writes robustness.parquet into the run",
        description=(
            "Each sample's video is decoded once; its heatmaps are redrawn under every noise level and seed. "
            "When RUN_DIR does not exist it is evaluated first. Under `torchrun` samples are shared out."
        ),
    )
    p.add_argument("--checkpoint", required=True, help="EPAM-Net checkpoint (the one the run was made with)")
    p.add_argument("--data", required=True, help="pyskl annotation pickle")
    p.add_argument("--videos", default=None, help="video directory (default: videos/ next to --data)")
    p.add_argument("--split", default="test", help="split to sweep (default: test)")
    p.add_argument(
        "--cache", default=None, help="crop cache from `epam prepare` (read instead of decoding the videos)"
    )
    p.add_argument("--out", required=True, help="run directory (created by evaluation when absent)")
    p.add_argument(
        "--noise",
        nargs="+",
        required=True,
        metavar="TYPE[:LEVELS]",
        help="e.g. jitter_px:0,2,4,8 joint_dropout:0,0.2,0.4 (a bare TYPE uses its default levels)",
    )
    p.add_argument(
        "--seeds",
        nargs="+",
        type=arguments.non_negative_int,
        default=[0, 1],
        help="noise seeds (default: 0 1)",
    )
    p.add_argument(
        "--subset", type=arguments.positive_int, default=None, help="sweep N evenly spaced samples only"
    )
    p.add_argument("--batch-size", type=arguments.positive_int, default=8)
    p.add_argument("--workers", type=arguments.workers, default="auto", help=arguments.WORKERS_HELP)
    p.add_argument(
        "--device", type=arguments.device, default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    arguments.add_precision(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing sweep")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core import distributed
    from epam_core.data.noise import parse_noise_arg
    from epam_core.runs.robustness import run_robustness

    try:
        noises = [parse_noise_arg(text) for text in args.noise]
    except ValueError as err:
        raise EpamError(None, f"--noise: {err}") from None
    ctx = distributed.init(args.device)
    out = run_robustness(
        args.checkpoint,
        args.data,
        args.out,
        noises,
        args.seeds,
        videos=args.videos,
        cache=args.cache,
        split=args.split,
        subset=args.subset,
        batch_size=args.batch_size,
        workers=distributed.data_workers(args.workers),
        precision=args.precision,
        overwrite=args.overwrite,
        ctx=ctx,
        source=shlex.join(["epam", *sys.argv[1:]]),
    )
    distributed.shutdown(ctx)  # not on errors: a failed rank exits and torchrun stops the others
    if ctx.is_main:
        print(out)
    return 0
