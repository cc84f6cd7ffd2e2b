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
