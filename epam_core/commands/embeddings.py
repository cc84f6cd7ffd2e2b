"""`epam embeddings`: a run's 2-D embedding maps (computed once, cached in the run) and nearest neighbours."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "embeddings",
        help="compute and cache a run's 2-D embedding maps; list a sample's nearest neighbours",
        description=(
            "Maps the clip embeddings of RUN (embeddings.npz, written by `epam evaluate --embeddings` or "
            "--extract here) to 2-D per stream and for the two concatenated, and caches them in "
            "RUN/embedding_map_<method>.npz (recomputed only when embeddings.npz changes)."
        ),
    )
    p.add_argument("--run", required=True, help="evaluation run directory")
    p.add_argument(
        "--extract",
        action="store_true",
        help="first add embeddings.npz to the run by re-running its checkpoint on its clips",
    )
    p.add_argument(
        "--method", default="umap", choices=["umap", "pca", "tsne"], help="projection (default umap)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--neighbours", metavar="SAMPLE_ID", help="print this sample's nearest neighbours per stream"
    )
    p.add_argument("-k", type=int, default=10, help="number of neighbours (default 10)")
    p.add_argument("--batch-size", type=int, default=8, help="with --extract")
    p.add_argument("--workers", type=int, default=2, help="with --extract: data-loading processes")
    p.add_argument("--device", default="auto", help="with --extract: auto, cpu or cuda")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from epam_core.analysis.embedding_map import load_or_compute_maps, map_path
    from epam_core.analysis.embeddings import SPACES, neighbour_table, read_embeddings
    from epam_core.errors import RunError
    from epam_core.runs.format import read_run

    if args.extract:
        from epam_core import distributed
        from epam_core.runs.evaluate import extract_embeddings

        print(extract_embeddings(args.run, batch_size=args.batch_size, workers=args.workers,
                                 ctx=distributed.init(args.device)))  # fmt: skip
    run_ = read_run(args.run)
    tic = time.perf_counter()
    load_or_compute_maps(run_, args.method, args.seed)
    print(f"{map_path(run_, args.method)} ({time.perf_counter() - tic:.1f} s)")
    if args.neighbours:
        embeddings = read_embeddings(run_)
        if args.neighbours not in set(run_.sample_ids):
            raise RunError(run_.path, f"has no sample {args.neighbours!r}")
        for space in SPACES:
            table = neighbour_table(run_, embeddings, space, args.neighbours, args.k)
            print(f"\n{space}:\n{table.to_string(index=False)}")
    return 0
