"""What a run's ``manifest.json`` says (the keys are documented in ``epam_core.runs.format``): the model
section (config, checkpoint path and SHA-256), the dataset section (annotation, split, videos, crop cache,
SynthActions generator arguments), with paths relative to the run directory; and which class names a run
gets. Used by every module that writes a run.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from epam_core.errors import DataError
from epam_core.runs.format import new_manifest

if TYPE_CHECKING:
    from epam_core.config import EPAMNetConfig

log = logging.getLogger(__name__)


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def relative_to_run(path: str | Path | None, run_dir: str | Path) -> str | None:
    """``path`` relative to the run directory (so the run moves with its data), absolute if impossible."""
    if path is None:
        return None
    absolute = Path(path).resolve()
    try:
        return os.path.relpath(absolute, Path(run_dir).resolve())
    except ValueError:  # another drive on Windows
        return str(absolute)


def resolve_class_names(
    num_classes: int,
    *candidates: tuple[str, Sequence[str] | None],
) -> list[str]:
    """The first of ``(origin, names)`` that is given; its length must match the model's classes."""
    for origin, names in candidates:
        if names is None:
            continue
        if len(names) != num_classes:
            raise DataError(origin, f"names {len(names)} classes, the model predicts {num_classes}")
        return [str(n) for n in names]
    log.warning("no class names in the checkpoint, the annotation file or --class-names: using class_<i>")
    return [f"class_{i}" for i in range(num_classes)]


def run_manifest(
    *,
    source: str,
    run_dir: str | Path,
    class_names: list[str],
    num_samples: int,
    annotation: str | Path,
    split: str | None,
    videos: str | Path | None,
    config: EPAMNetConfig | None = None,
    checkpoint: str | Path | None = None,
    synth: dict[str, Any] | None = None,
    fusion_weights: tuple[float, float] | None = None,
    cache: str | Path | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The manifest of a run: model (config, checkpoint + sha256), dataset, class names, fusion weights.

    ``cache``: the crop cache the run read its clips from; the dashboard's Sample page reads it too.
    """
    weights = (
        fusion_weights if fusion_weights is not None else config.fusion_weights if config else (1.0, 1.0)
    )
    model = None
    if config is not None or checkpoint is not None:
        model = {
            "config": None if config is None else config.to_dict(),
            "checkpoint": relative_to_run(checkpoint, run_dir),
            "checkpoint_sha256": None if checkpoint is None else sha256(checkpoint),
        }
    dataset = {
        "name": Path(annotation).stem,
        "annotation": relative_to_run(annotation, run_dir),
        "split": split,
        "videos": relative_to_run(videos, run_dir),
        "synth": synth,
    }
    if cache is not None:
        dataset["crop_cache"] = relative_to_run(cache, run_dir)
    return new_manifest(
        source=source,
        class_names=class_names,
        num_samples=num_samples,
        fusion_weights=weights,
        model=model,
        dataset=dataset,
        **extra,
    )
