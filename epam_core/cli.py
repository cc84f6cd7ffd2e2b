"""The `epam` command line. Each subcommand lives in its own module under ``epam_core.commands`` and
exposes ``register(subparsers)``; heavy imports happen inside the command, so ``epam --help`` is quick."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from epam_core.errors import EpamError

COMMANDS: list[str] = [
    "epam_core.commands.profile",
    "epam_core.commands.bench",
    "epam_core.commands.extract_poses",
    "epam_core.commands.analyze",
    "epam_core.commands.train",
    "epam_core.commands.prepare",
    "epam_core.commands.evaluate",
    "epam_core.commands.robustness",
    "epam_core.commands.attention",
    "epam_core.commands.import_scores",
    "epam_core.commands.demo",
    "epam_core.commands.dashboard",
    "epam_core.commands.export",
    "epam_core.commands.report",
    "epam_core.commands.embeddings",
    "epam_core.commands.synth",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epam", description="EPAM-Net: train, evaluate and analyse RGB + pose action recognition."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except EpamError as err:
        print(f"epam {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"epam {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
