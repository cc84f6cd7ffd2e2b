"""`epam dashboard`: the Streamlit analysis dashboard (binds 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from epam_core.commands import arguments
from epam_core.errors import RunError
from epam_core.typed_paths import DATA_ROOT_ENV, HOST_ENV, is_loopback

APP = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"
DEFAULT_RUNS = APP.parents[1] / "checkpoints" / "runs"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dashboard", help="open the analysis dashboard in the browser (Streamlit)")
    p.add_argument(
        "--runs", type=Path, default=DEFAULT_RUNS, help="directory of evaluation runs (or one run)"
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=arguments.int_in(1, 65535), default=8501)
    p.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="a folder whose videos and checkpoints may be typed into the pages when --host is not loopback "
        "(besides --runs; on loopback any path may be typed)",
    )
    p.set_defaults(func=run)


def streamlit_command(host: str, port: int) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watcher, no tracebacks; run
    through ``dashboard.serve``, which warms the default run's caches while the server starts."""
    return [
        sys.executable, "-m", "dashboard.serve", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def run(args: argparse.Namespace) -> NoReturn:
    """Replace this process with the Streamlit server (``os.execve``): a signal sent to `epam dashboard`
    (SIGTERM from a service manager, Ctrl-C) reaches the server itself, which then frees the port."""
    if not args.runs.exists():
        raise RunError(args.runs, "runs directory not found (pass --runs DIR)")
    if args.data_root is not None and not args.data_root.is_dir():
        raise RunError(args.data_root, "--data-root folder not found")
    env = {**os.environ, "EPAM_RUNS_DIR": str(args.runs.resolve()), HOST_ENV: args.host}
    env.pop(DATA_ROOT_ENV, None)
    if args.data_root is not None:
        env[DATA_ROOT_ENV] = str(args.data_root.resolve())
    print(f"EPAM-Net dashboard on http://{args.host}:{args.port}  (runs from {args.runs}; Ctrl-C stops it)")
    if not is_loopback(args.host):
        roots = ", ".join(str(p) for p in (args.runs, args.data_root) if p is not None)
        print(f"served beyond this machine: paths typed into the pages must lie under {roots}")
    sys.stdout.flush()
    sys.stderr.flush()
    command = streamlit_command(args.host, args.port)
    os.execve(command[0], command, env)
