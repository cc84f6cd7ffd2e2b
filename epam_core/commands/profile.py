"""`epam profile`: parameters and multiply-adds of a preset."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("profile", help="parameters and multiply-adds (GMAC) of EPAM-Net")
    p.add_argument("--preset", default="paper", choices=["paper", "demo"])
    p.add_argument("--num-classes", type=int, default=None, help="default: the preset's (paper 60, demo 12)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from epam_core.config import build_config
    from epam_core.profile import format_profile, profile_model

    prof = profile_model(build_config(args.preset, args.num_classes))
    print(json.dumps(prof.to_dict(), indent=2) if args.json else format_profile(prof))
    return 0
