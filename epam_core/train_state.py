"""The resumable state of a training stage (``OUT/last.pt``): model, optimizer, scheduler, epoch, history.

Saved with ``torch.save`` of plain containers (atomically) and loaded with ``weights_only=True``. The RNG
needs no saving: training reseeds shuffling, augmentation and dropout from (seed, epoch) every epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from epam_core.errors import CheckpointError
from epam_core.outputs import atomic_write_file

STATE_FORMAT = "epam-train-state-1"


def save_state(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    settings: dict[str, Any],
    epoch: int,
    history: list[dict[str, float]],
) -> None:
    """Write the state after ``epoch`` epochs atomically (``settings`` is ``asdict(TrainSettings)``)."""
    state = {
        "format": STATE_FORMAT,
        "settings": settings,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": history,
    }
    atomic_write_file(path, lambda p: torch.save(state, p))


def load_state(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    settings: dict[str, Any],
) -> tuple[int, list[dict[str, float]]]:
    """Restore a training state; the settings must be those it was saved with."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, foreign pickle, ...
        raise CheckpointError(
            path, f"cannot be read as a training state ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(path, f"is not an epam training state (format {STATE_FORMAT})")
    if state["settings"] != settings:
        changed = {k: (v, settings.get(k)) for k, v in state["settings"].items() if settings.get(k) != v}
        raise CheckpointError(path, f"was trained with other settings (saved, now): {changed}")
    try:
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError as err:
        raise CheckpointError(path, f"does not fit this model ({err})") from None
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return int(state["epoch"]), list(state["history"])
