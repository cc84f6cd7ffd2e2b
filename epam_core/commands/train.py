"""`epam train`: one stage of the paper's recipe (rgb / pose pre-training, joint fine-tuning); torchrun-aware."""

from __future__ import annotations

import argparse

from epam_core.commands import arguments

# Learning rates when --lr is not given: the paper's fine-tuning rate (docs/epam_net_spec.md §5.1: 0.0015 at
# batch 12) and a from-scratch rate for the single-stream stages, both scaled linearly with the global batch
# size.
DEFAULT_LR_PER_SAMPLE = {"rgb": 0.1 / 16, "pose": 0.1 / 16, "joint": 0.0015 / 12}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one stage: rgb / pose (single stream) or joint (two-stream fine-tuning)",
        description=(
            "SGD (momentum 0.9, weight decay 3e-4), cosine decay per iteration, gradient clipping at 40. "
            "Writes OUT/model.pt (the model) and OUT/last.pt (to --resume) after every epoch. "
            "Under `torchrun --nproc_per_node=N` the same command trains with DDP."
        ),
    )
    p.add_argument("--stage", required=True, choices=("rgb", "pose", "joint"))
    p.add_argument("--data", required=True, help="pyskl annotation pickle")
    p.add_argument("--videos", default=None, help="video directory (default: videos/ next to --data)")
    p.add_argument("--split", default="train", help="split to train on (default: train)")
    p.add_argument(
        "--cache", default=None, help="crop cache from `epam prepare` (read instead of decoding the videos)"
    )
    p.add_argument("--out", required=True, help="output directory for model.pt and last.pt")
    p.add_argument("--preset", default="demo", choices=("demo", "paper"), help="model preset")
    p.add_argument("--epochs", type=arguments.positive_int, default=10)
    p.add_argument("--batch-size", type=arguments.positive_int, default=8, help="per process")
    p.add_argument(
        "--lr",
        type=arguments.positive_float,
        default=None,
        help="peak learning rate (default: scaled by batch size)",
    )
    p.add_argument("--seed", type=arguments.non_negative_int, default=0)
    p.add_argument("--workers", type=arguments.workers, default="auto", help=arguments.WORKERS_HELP)
    p.add_argument("--init-rgb", default=None, help="joint stage: checkpoint of the rgb stage")
    p.add_argument("--init-pose", default=None, help="joint stage: checkpoint of the pose stage")
    p.add_argument(
        "--device", type=arguments.device, default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if it exists")
    p.add_argument("--overwrite", action="store_true", help="start again even if OUT/last.pt exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core import distributed
    from epam_core.training import TrainSettings, train

    ctx = distributed.init(args.device)
    lr = args.lr or DEFAULT_LR_PER_SAMPLE[args.stage] * args.batch_size * ctx.world_size
    settings = TrainSettings(
        stage=args.stage, epochs=args.epochs, lr=lr, batch_size=args.batch_size, seed=args.seed
    )
    train(
        args.data,
        args.out,
        settings,
        preset=args.preset,
        videos=args.videos,
        cache=args.cache,
        split=args.split,
        workers=distributed.data_workers(args.workers),
        init_rgb=args.init_rgb,
        init_pose=args.init_pose,
        resume=args.resume,
        overwrite=args.overwrite,
        ctx=ctx,
    )
    distributed.shutdown(ctx)  # not on errors: a failed rank exits and torchrun stops the others
    return 0
