"""Cached loaders around epam_core for the dashboard pages: runs, the model of a run, annotations and clips.

A run is loaded once per process and shared (``st.cache_resource``, keyed by path and modification time, so
a re-written run is re-read); its arrays are read-only and pages never mutate it. Models are
``st.cache_resource`` objects too (one per checkpoint file and modification time, in eval mode, never
mutated). A decoded clip, and every forward pass or attribution of it, is keyed by ``live_key``: the run, its
checkpoint and the data its clips are read from, so re-evaluating into the same directory, replacing the
checkpoint or regenerating the data never serves a stale result.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import streamlit as st

from epam_core.errors import CheckpointError, DataError, RunError
from epam_core.runs.format import MANIFEST, EvalRun, read_run

# torch and the data pipeline load on first use, so that the Overview opens without them.
if TYPE_CHECKING:
    import torch

    from epam_core.checkpoint import LoadedCheckpoint
    from epam_core.config import EPAMNetConfig, InputConfig
    from epam_core.data.pipeline import Clip
    from epam_core.data.pyskl import PoseAnnotations

_GENERATE_LOCK = threading.Lock()


def _mtime(path: Path) -> float:
    """Latest modification time of a directory and the files directly in it (0 when absent)."""
    if not path.exists():
        return 0.0
    times = [path.stat().st_mtime] + [p.stat().st_mtime for p in path.iterdir() if p.is_file()]
    return max(times)


def _own_mtime(path: Path | None) -> float:
    """Modification time of one file or directory itself, not of what a directory holds (0 when absent)."""
    try:
        return path.stat().st_mtime if path is not None else 0.0
    except OSError:
        return 0.0


class RunKey(NamedTuple):
    """What a cached value derived from a run depends on: the run directory and when its files last changed."""

    path: str
    mtime: float


def run_key(run: EvalRun) -> RunKey:
    return RunKey(str(run.path.resolve()), _mtime(run.path))


@st.cache_resource(max_entries=4, show_spinner="Reading the evaluation run…")
def read_cached_run(path: str, mtime: float) -> EvalRun:
    """The run at ``path`` as of ``mtime`` (the fields of a ``RunKey``); one shared, read-only object."""
    return read_run(path)


def load_run(path: str | Path) -> EvalRun:
    """The run at ``path`` (one shared, read-only object until one of its files changes); raises ``RunError``."""
    return read_cached_run(str(Path(path).resolve()), _mtime(Path(path)))


# --- model, clips ------------------------------------------------------------------------------------------


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _load_checkpoint(path: str, mtime: float) -> LoadedCheckpoint:
    from epam_core.checkpoint import load_checkpoint
    from epam_core.fast import CpuInferenceOptions

    return load_checkpoint(path, cpu_inference=CpuInferenceOptions.for_interactive_server())


def _checkpoint_path(run: EvalRun) -> Path | None:
    return run.resolve((run.manifest.get("model") or {}).get("checkpoint"))


def run_model(run: EvalRun) -> tuple[torch.nn.Module, EPAMNetConfig, Path]:
    """The run's model (cached), checked against the run; raises ``CheckpointError`` / ``RunError``."""
    ckpt = _checkpoint_path(run)
    if ckpt is None:
        raise RunError(run.path / MANIFEST, "names no model.checkpoint, so the model cannot be re-run")
    if not ckpt.is_file():
        raise CheckpointError(ckpt, f"checkpoint not found (named by {run.path / MANIFEST})")
    from epam_core.runs import single_clip  # torch: only once there is a model to run

    loaded = _load_checkpoint(str(ckpt), ckpt.stat().st_mtime)
    single_clip.check_model_fits_run(run, loaded.model.config, loaded.class_names, ckpt)
    return loaded.model, loaded.model.config, ckpt


@st.cache_resource(max_entries=4, show_spinner="Reading the annotations…")
def _annotations(path: str, mtime: float) -> PoseAnnotations:
    from epam_core.data.pyskl import load_annotations

    return load_annotations(path)


def ensure_videos(run: EvalRun) -> None:
    """Regenerate the bundled demo's SynthActions data (annotation and videos) next to the annotation file the
    manifest names, when the manifest carries the generator arguments and the data are absent."""
    dataset = run.manifest.get("dataset") or {}
    synth, annotation = dataset.get("synth"), run.resolve(dataset.get("annotation"))
    videos = run.resolve(dataset.get("videos"))
    if not synth or annotation is None or (annotation.is_file() and (videos is None or videos.is_dir())):
        return
    from epam_core.data.synth import generate_synthactions
    from epam_core.data.synth.generate import regeneration_refusal

    if (refusal := regeneration_refusal(annotation, videos, synth)) is not None:  # never a user's folder
        raise DataError(run.path / MANIFEST, refusal)
    with (
        _GENERATE_LOCK,  # one generation per process, however many sessions ask
        st.spinner(f"Generating the demo videos into {annotation.parent} (first use only, a few minutes)…"),
    ):
        if not (annotation.is_file() and (videos is None or videos.is_dir())):
            generate_synthactions(annotation.parent, **synth, overwrite=True, progress=False)
    _annotations.clear()


class LiveKey(NamedTuple):
    """What a decoded clip, a forward pass or an attribution of a run depends on: the run, its checkpoint file
    (whose input config decides the crop and the frames) and the annotation file, video directory and crop
    cache the clips are read from (each directory's own modification time: a file added, removed or
    replaced by rename changes it)."""

    run: RunKey
    checkpoint: str
    checkpoint_mtime: float
    data_mtimes: tuple[float, float, float]


def live_key(run: EvalRun) -> LiveKey:
    """The ``LiveKey`` of ``run`` now (a few stat calls: cheap on every rerun)."""
    ckpt = _checkpoint_path(run)
    dataset = run.manifest.get("dataset") or {}
    sources = (run.resolve(dataset.get(field)) for field in ("annotation", "videos", "crop_cache"))
    annotation, videos, crop_cache = (_own_mtime(path) for path in sources)
    return LiveKey(run_key(run), str(ckpt), _own_mtime(ckpt), (annotation, videos, crop_cache))


@st.cache_data(max_entries=32, show_spinner="Decoding the video…")
def _clip(key: LiveKey, sample_id: str, _run: EvalRun, _input_cfg: InputConfig) -> Clip:
    """One decoded clip of the run at ``key`` with the input config of its checkpoint."""
    from epam_core.data.dataset import find_video
    from epam_core.data.pipeline import load_clip
    from epam_core.runs import single_clip

    source = single_clip.sample_source(_run)
    if not source.annotation.is_file():
        raise DataError(source.annotation, f"annotation file not found (named by {_run.path / MANIFEST})")
    annotation = _annotations(str(source.annotation), source.annotation.stat().st_mtime).sample(sample_id)
    if source.crop_cache is not None and source.crop_cache.is_dir():  # the run was evaluated from crops
        from epam_core.data.crop_cache import CropCache

        return CropCache(source.crop_cache, _input_cfg).load_clip(annotation, _input_cfg)
    if source.videos is None:
        raise RunError(_run.path / MANIFEST, "names no dataset.videos, so the frames cannot be shown")
    return load_clip(annotation, find_video(source.videos, sample_id), _input_cfg)


def load_clip(run: EvalRun, sample_id: str) -> tuple[Clip, torch.nn.Module, EPAMNetConfig]:
    """The decoded, cropped clip of one sample and the run's model; raises ``EpamError`` naming the file."""
    model, config, _ = run_model(run)
    ensure_videos(run)
    clip = _clip(live_key(run), sample_id, run, config.input)
    return clip, model, config
