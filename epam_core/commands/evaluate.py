"""`epam evaluate`: a checkpoint over a dataset split -> an evaluation run directory; torchrun-aware."""

from __future__ import annotations

import argparse
import shlex
import sys

from epam_core.commands import arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a checkpoint and write an evaluation run (predictions, attention, manifest)",
        description=(
            "Writes RUN_DIR atomically: manifest.json, predictions.parquet (per-stream logits) and attention.npz. "
            "Under `torchrun --nproc_per_node=N` every process takes every N-th sample and the run is the same "
            "as a single-process one."
        ),
    )
    p.add_argument("--checkpoint", required=True, help="EPAM-Net checkpoint (ours or the authors')")
    p.add_argument("--data", required=True, help="pyskl annotation pickle")
    p.add_argument("--videos", default=None, help="video directory (default: videos/ next to --data)")
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument(
        "--cache", default=None, help="crop cache from `epam prepare` (read instead of decoding the videos)"
    )
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--batch-size", type=arguments.positive_int, default=8)
    p.add_argument("--workers", type=arguments.workers, default="auto", help=arguments.WORKERS_HELP)
    p.add_argument(
        "--class-names",
        default=None,
        help="ntu60, ntu120, pku_mmd, toyota_cs, toyota_cv2 or a text file with one class per line "
        "(if neither the checkpoint nor the annotation file names the classes)",
    )
    p.add_argument(
        "--device", type=arguments.device, default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    arguments.add_precision(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument(
        "--metadata", default=None,
        help="CSV or Parquet table with a sample_id column, stored in the run as metadata.parquet: its other "
        "columns become slices in `epam report` and on the dashboard's Slices page",
    )  # fmt: skip
    p.add_argument(
        "--embeddings",
        action="store_true",
        help="also store each clip's pooled RGB and pose features (embeddings.npz, float16) for the "
        "embedding maps (`epam embeddings`, the dashboard's Embeddings page)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core import distributed
    from epam_core.analysis import slices
    from epam_core.runs.evaluate import evaluate

    metadata = slices.read_metadata(args.metadata) if args.metadata else None  # checked before the long run
    ctx = distributed.init(args.device)
    out = evaluate(
        args.checkpoint,
        args.data,
        args.out,
        videos=args.videos,
        cache=args.cache,
        split=args.split,
        batch_size=args.batch_size,
        workers=distributed.data_workers(args.workers),
        class_names_file=args.class_names,
        overwrite=args.overwrite,
        source=shlex.join(["epam", *sys.argv[1:]]),
        ctx=ctx,
        embeddings=args.embeddings,
        precision=args.precision,
    )
    distributed.shutdown(ctx)  # not on errors: a failed rank exits and torchrun stops the others
    if ctx.is_main:
        if metadata is not None:
            slices.save_run_metadata(out, metadata)
        print(out)
    return 0
