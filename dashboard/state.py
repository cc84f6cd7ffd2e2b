"""Cached loaders around epam_core for the dashboard pages, and the selections shared between pages.

A run is loaded once per process and shared (``st.cache_resource``, keyed by path and modification time, so
a re-written run is re-read); its arrays are read-only and pages never mutate it. What pages derive from a
run (summary, fusion sweep, per-class table, confusion counts, class orders) is computed once per run and
kept with ``st.cache_data`` keyed by the same ``RunKey``. Models are ``st.cache_resource`` objects too (one
per checkpoint file and modification time, in eval mode, never mutated), and every cache of a forward pass
or an attribution is keyed by the run and the checkpoint it came from, so re-evaluating into the same
directory never serves a stale result.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from epam_core.errors import CheckpointError, DataError, EpamError, RunError
from epam_core.runs.format import MANIFEST, EvalRun, list_runs, read_run

# torch, Captum and the data pipeline load on first use, so that the Overview opens without them.
if TYPE_CHECKING:
    import torch

    from epam_core.checkpoint import LoadedCheckpoint
    from epam_core.config import EPAMNetConfig, InputConfig
    from epam_core.data.pipeline import Clip
    from epam_core.data.pyskl import PoseAnnotations
    from epam_core.runs.single_clip import LiveResult

log = logging.getLogger(__name__)

RUNS_ENV = "EPAM_RUNS_DIR"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = REPO / "checkpoints" / "runs"
DEMO_RUN = "demo_synthactions"
_GENERATE_LOCK = threading.Lock()


def runs_root() -> Path:
    """The directory the run picker lists (``--runs`` of `epam dashboard`, through the environment)."""
    return Path(os.environ.get(RUNS_ENV) or DEFAULT_RUNS)


def _mtime(path: Path) -> float:
    """Latest modification time of a directory and the files directly in it (0 when absent)."""
    if not path.exists():
        return 0.0
    times = [path.stat().st_mtime] + [p.stat().st_mtime for p in path.iterdir() if p.is_file()]
    return max(times)


class RunKey(NamedTuple):
    """What a cached value derived from a run depends on: the run directory and when its files last changed."""

    path: str
    mtime: float


def run_key(run: EvalRun) -> RunKey:
    return RunKey(str(run.path.resolve()), _mtime(run.path))


@st.cache_resource(max_entries=4, show_spinner="Reading the evaluation run…")
def _read_run(path: str, mtime: float) -> EvalRun:
    return read_run(path)


def load_run(path: str | Path) -> EvalRun:
    """The run at ``path`` (one shared, read-only object until one of its files changes); raises ``RunError``."""
    return _read_run(str(Path(path).resolve()), _mtime(Path(path)))


@st.cache_data(max_entries=8, show_spinner="Computing accuracies…")
def _run_summary(key: RunKey) -> tuple[pd.DataFrame, pd.DataFrame]:
    from epam_core.analysis import metrics

    run = _read_run(*key)
    return metrics.stream_summary(run), metrics.per_class_table(run)


@st.cache_data(max_entries=8, show_spinner="Sweeping the fusion weight…")
def _fusion_sweep(key: RunKey) -> pd.DataFrame:
    from epam_core.analysis import fusion

    run = _read_run(*key)
    return fusion.weight_sweep(run.logits("rgb"), run.logits("pose"), run.labels)


def run_summary(run: EvalRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-stream summary, per-class table) of a run, computed once per run (what a compared run needs)."""
    return _run_summary(run_key(run))


def run_analysis(run: EvalRun) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-stream summary, fusion-weight sweep, per-class table) of a run, computed once per run."""
    summary, per_class = run_summary(run)
    return summary, _fusion_sweep(run_key(run)), per_class


@st.cache_data(max_entries=32, show_spinner=False)
def _confusion(key: RunKey, stream: str) -> np.ndarray:
    from epam_core.analysis import metrics

    return metrics.stream_confusion(_read_run(*key), stream)


def confusion_counts(run: EvalRun, stream: str) -> np.ndarray:
    """(K, K) confusion counts of one stream, computed once per run and stream."""
    return _confusion(run_key(run), stream)


@st.cache_data(max_entries=64, show_spinner=False)
def _class_order(key: RunKey, stream: str, method: str) -> np.ndarray:
    from epam_core.analysis import confusion

    run = _read_run(*key)
    return confusion.order_classes(_confusion(key, stream), method, run.class_names)


def class_order(run: EvalRun, stream: str, method: str) -> np.ndarray:
    """The class permutation of ``confusion.order_classes`` for one stream's matrix, once per run."""
    return _class_order(run_key(run), stream, method)


def current_run(key: str = "run_path") -> EvalRun | None:
    """The run chosen in the sidebar (``key``), or None; a broken run shows its error and stops the page."""
    path = st.session_state.get(key)
    if not path:
        return None
    try:
        return load_run(path)
    except EpamError as err:
        st.error(f"Cannot open the evaluation run. {err}")
        st.stop()


def require_run() -> EvalRun:
    """The selected run; explains what to do and stops the page when there is none."""
    run = current_run()
    if run is None:
        st.info(
            f"No evaluation run selected. Runs are listed from `{runs_root()}`; write one with `epam evaluate`."
        )
        st.stop()
    return run


def compare_run(run: EvalRun) -> EvalRun | None:
    """The second run chosen for comparison, if it has the same classes (else a warning and None)."""
    other = current_run("compare_path")
    if other is None or other.path == run.path:
        return None
    if other.class_names != run.class_names:
        st.warning(f"{other.path.name} has other classes than {run.path.name}; it cannot be compared.")
        return None
    return other


@st.cache_resource(max_entries=4, show_spinner="Preparing the figures…")
def _figure_builders(key: RunKey) -> dict[str, Any]:
    from epam_core.analysis.report import run_figures

    summary, per_class = _run_summary(key)
    return run_figures(_read_run(*key), summary=summary, sweep=_fusion_sweep(key), per_class=per_class)


def figure_builders(run: EvalRun) -> dict[str, Any]:
    """``report.run_figures`` of a run (what they draw is computed once per run; drawing is on demand)."""
    return _figure_builders(run_key(run))


@st.cache_data(max_entries=8, show_spinner=False)
def _run_tables(key: RunKey) -> dict[str, pd.DataFrame]:
    from epam_core.analysis.report import run_tables

    return run_tables(_read_run(*key))


def run_tables(run: EvalRun) -> dict[str, pd.DataFrame]:
    """``report.run_tables`` of a run, computed once per run."""
    return _run_tables(run_key(run))


@st.cache_data(max_entries=64, show_spinner="Drawing…")
def figure_file(key: RunKey, name: str, fmt: str, style: str, size: Any) -> bytes:
    """One paper figure of a run as PDF/SVG/PNG bytes (cached: the preview is drawn once per setting)."""
    from epam_core.analysis import paper_figures

    with paper_figures.style(style):
        return paper_figures.figure_bytes(_figure_builders(key)[name](size), fmt)


# --- model, clips, forward passes -------------------------------------------------------------------------


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _load_checkpoint(path: str, mtime: float) -> LoadedCheckpoint:
    import torch

    from epam_core.checkpoint import load_checkpoint

    # an interactive server on a small machine: few intra-op threads per forward pass avoid oversubscription
    torch.set_num_threads(max(1, min(4, (os.cpu_count() or 2) // 2)))
    return load_checkpoint(path)


def run_model(run: EvalRun) -> tuple[torch.nn.Module, EPAMNetConfig, Path]:
    """The run's model (cached), checked against the run; raises ``CheckpointError`` / ``RunError``."""
    ckpt = run.resolve((run.manifest.get("model") or {}).get("checkpoint"))
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


@st.cache_data(max_entries=32, show_spinner="Decoding the video…")
def _clip(
    run: RunKey,
    checkpoint: str,
    checkpoint_mtime: float,
    sample_id: str,
    _run: EvalRun,
    _input_cfg: InputConfig,
) -> Clip:
    """One decoded clip; keyed by the checkpoint too, since its input config decides the crop and frames."""
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
    clip = _clip(*model_key(run), sample_id, run, config.input)
    return clip, model, config


def model_key(run: EvalRun) -> tuple[RunKey, str, float]:
    """What a forward pass or an attribution of ``run`` depends on: the run and its checkpoint file's state."""
    ckpt = run.resolve((run.manifest.get("model") or {}).get("checkpoint"))
    mtime = ckpt.stat().st_mtime if ckpt is not None and ckpt.is_file() else 0.0
    return run_key(run), str(ckpt), mtime


@st.cache_data(max_entries=256, show_spinner=False)
def forward(
    key: tuple[RunKey, str, float],
    sample_id: str,
    noise: str | None,
    level: float,
    seed: int,
    _clip: Clip,
    _model: torch.nn.Module,
    _config: EPAMNetConfig,
) -> LiveResult:
    """The model on one clip at one noise level (cached per ``model_key``: moving the slider back is instant)."""
    from epam_core.data.noise import NoiseSpec
    from epam_core.runs import single_clip

    specs = [NoiseSpec(noise, level)] if noise and level > 0 else None
    rgb_feats = _rgb_features(key, sample_id, _clip, _model, _config)  # skeleton noise leaves them alone
    return single_clip.forward_clip(_model, _clip, _config.input, specs, seed, rgb_feats=rgb_feats)


@st.cache_resource(max_entries=32, show_spinner=False)
def _rgb_features(
    key: tuple[RunKey, str, float],
    sample_id: str,
    _clip: Clip,
    _model: torch.nn.Module,
    _config: EPAMNetConfig,
) -> torch.Tensor:
    """The RGB backbone's output for one clip (once per clip and model): each noise level then costs the pose
    stream, the attention and the heads only. Read-only: ``forward_with_rgb_features`` does not write it."""
    from epam_core.runs import single_clip

    return single_clip.clip_rgb_features(_model, _clip, _config.input)


@st.cache_data(max_entries=64, show_spinner="Computing attributions with Captum…")
def attributions(
    key: tuple[RunKey, str, float],
    sample_id: str,
    stream: str,
    target: int,
    method: str,
    _clip: Clip,
    _model: torch.nn.Module,
    _config: EPAMNetConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(per-joint importance (V,), RGB map (T, S, S)) for one sample, stream and class (cached per model_key)."""
    from epam_core.analysis import attribution
    from epam_core.runs import single_clip

    rgb, pose = single_clip.clip_tensors(_clip, _config.input)
    joints = attribution.joint_importance(_model, rgb, pose, target, stream)
    return joints, attribution.rgb_attribution(_model, rgb, pose, target, stream, method)


# --- selections shared between pages ----------------------------------------------------------------------


def synced_selectbox(label: str, options: list, state_key: str, **kwargs: Any) -> Any:
    """A selectbox whose value lives in ``session_state[state_key]`` (kept across pages, settable by others)."""
    widget_key = f"_{state_key}_widget"
    current = st.session_state.get(state_key)
    if current in options:
        st.session_state[widget_key] = current
    elif options:
        st.session_state[widget_key] = options[0]

    def copy() -> None:
        st.session_state[state_key] = st.session_state[widget_key]

    value = st.selectbox(label, options, key=widget_key, on_change=copy, **kwargs)
    st.session_state[state_key] = value
    return value


MAX_SAMPLE_OPTIONS = 1000  # a selectbox of 50k ids would ship megabytes to the browser on every rerun
ALL_CLASSES = -1


def sample_picker(run: EvalRun, only: np.ndarray | None = None, **kwargs: Any) -> str:
    """Choose one sample of a run of any size; the choice lives in ``session_state["sample_id"]``.

    A "True class" box narrows the run to one class (a few hundred clips of NTU RGB+D 120) and follows the
    sample chosen elsewhere; ``only`` (S,) bool narrows further (e.g. the fused stream's errors). At most
    ``MAX_SAMPLE_OPTIONS`` ids are listed; any id can be typed in below.
    """
    current = st.session_state.get("sample_id")
    if not run.has_sample(current):
        current = str(run.sample_ids[0])
    labels = run.labels
    classes = [ALL_CLASSES, *range(run.num_classes)] if run.has_labels else [ALL_CLASSES]
    if st.session_state.get("sample_id") != st.session_state.get(
        "_picker_followed"
    ):  # chosen on another page
        st.session_state["_picker_followed"] = st.session_state.get("sample_id")
        st.session_state["sample_class"] = (
            int(labels[run.index_of(current)]) if run.has_labels else ALL_CLASSES
        )
    left, right = st.columns([1, 2])
    cls = left.selectbox(
        "True class", classes, key="sample_class",
        format_func=lambda c: "all classes" if c == ALL_CLASSES else run.class_names[c],
    )  # fmt: skip
    keep = np.ones(len(labels), dtype=bool) if cls == ALL_CLASSES else labels == cls
    if only is not None:
        keep &= only
    options = run.sample_ids[keep][:MAX_SAMPLE_OPTIONS].tolist()
    if current not in options:
        options = [current, *options]
    with right:
        chosen = synced_selectbox("Sample", options, "sample_id", **kwargs)
    if keep.sum() > MAX_SAMPLE_OPTIONS:
        st.caption(f"Listing the first {MAX_SAMPLE_OPTIONS} of {int(keep.sum())} samples; type any id below.")
    typed = st.text_input("…or type a sample id", key="sample_typed", placeholder="e.g. S001C001P001R001A001")
    if typed.strip() and typed.strip() != chosen:
        if run.has_sample(typed.strip()):
            st.session_state["sample_id"] = st.session_state["_picker_followed"] = typed.strip()
            st.session_state.pop("sample_typed")
            st.rerun()
        st.warning(f"{run.path.name} has no sample {typed.strip()!r}.")
    return chosen


def open_sample(sample_id: str) -> None:
    """Select a sample and go to the Sample page."""
    st.session_state["sample_id"] = sample_id
    st.switch_page("app_pages/sample.py")


_PENDING_CUSTOM_RUN = "_pending_custom_run"


def select_run(path: str | Path) -> None:
    """Make the run at ``path`` the sidebar's run from the next rerun on: by name when the picker lists it,
    else as the "Run directory" (call ``st.rerun()`` after it)."""
    listed = {p.resolve(): p.name for p in list_runs(runs_root())}
    name = listed.get(Path(path).resolve())
    if name is not None:
        st.session_state["_run_name"] = name
    st.session_state[_PENDING_CUSTOM_RUN] = "" if name is not None else str(path)


def apply_run_selection() -> None:
    """Called by the entrypoint before the sidebar's widgets exist: a run chosen by a page (``select_run``)
    replaces what was typed as the run directory (a widget's value can only be set before it is drawn)."""
    if _PENDING_CUSTOM_RUN in st.session_state:
        st.session_state["custom_run"] = st.session_state.pop(_PENDING_CUSTOM_RUN)
