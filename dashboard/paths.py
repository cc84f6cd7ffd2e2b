"""Where the dashboard finds evaluation runs and the files bundled with the repository."""

from __future__ import annotations

import os
from pathlib import Path

RUNS_ENV = "EPAM_RUNS_DIR"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = REPO / "checkpoints" / "runs"
DEMO_RUN = "demo_synthactions"


def runs_root() -> Path:
    """The directory the run picker lists (``--runs`` of `epam dashboard`, through the environment)."""
    return Path(os.environ.get(RUNS_ENV) or DEFAULT_RUNS)


def default_run_name(names: list[str], query: str | None = None) -> str | None:
    """The run the sidebar selects when a session opens: the ``?run=`` of the URL when listed, else the
    bundled demo when listed, else the first listed run (None when there is none)."""
    if query in names:
        return query
    if DEMO_RUN in names:
        return DEMO_RUN
    return names[0] if names else None
