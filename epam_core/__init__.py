"""EPAM-Net (RGB + 2D-pose action recognition, https://arxiv.org/abs/2408.05421): model, checkpoints, configs.

The public API is re-exported here lazily (PEP 562), so ``import epam_core`` (and ``epam --help``) does not
import torch; importing has no side effects.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EPAMNet": "epam_core.models.epam_net",
    "EPAMOutput": "epam_core.models.epam_net",
    "build_model": "epam_core.models.epam_net",
    "LoadedCheckpoint": "epam_core.checkpoint",
    "load_checkpoint": "epam_core.checkpoint",
    "load_model": "epam_core.checkpoint",
    "save_checkpoint": "epam_core.checkpoint",
}
_MODULES = {"configs": "epam_core.config", "errors": "epam_core.errors"}

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'epam_core' has no attribute {name!r}")
