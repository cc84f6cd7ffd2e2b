"""`epam dashboard`: the Streamlit analysis dashboard (binds 127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from epam_core.errors import RunError

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
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=run)


def streamlit_command(host: str, port: int) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watcher, no tracebacks."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if not args.runs.exists():
        raise RunError(args.runs, "runs directory not found (pass --runs DIR)")
    env = {**os.environ, "EPAM_RUNS_DIR": str(args.runs.resolve())}
    print(f"EPAM-Net dashboard on http://{args.host}:{args.port}  (runs from {args.runs}; Ctrl-C stops it)")
    try:
        return subprocess.call(streamlit_command(args.host, args.port), env=env)
    except KeyboardInterrupt:
        return 0
