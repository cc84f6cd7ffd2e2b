"""Cached loaders of the Embeddings page: a run's embeddings, its 2-D maps, classes and hover texts, figures.

Everything is kept once per process (``st.cache_resource``: a 50k-clip run's 65 MB of embeddings and its
figures are not pickled on every rerun; nothing here is mutated after it is built), keyed by the run's path
and the (mtime_ns, size) of the files it comes from, so a rewritten run or a recomputed map is re-read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from epam_core.analysis import embedding_map, figures
from epam_core.analysis.embedding_map import EmbeddingMaps
from epam_core.analysis.embeddings import (
    SPACE_LABELS,
    Embeddings,
    embeddings_path,
    predicted_classes,
    read_embeddings,
)
from epam_core.runs.format import EvalRun

Stamp = tuple[int, int]


def _stamp(path: Path) -> Stamp:
    """(mtime_ns, size) of a file, (0, 0) when it is absent."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def _run_stamp(run: EvalRun) -> tuple[Stamp, ...]:
    return tuple(_stamp(p) for p in sorted(run.path.iterdir()) if p.is_file())


@st.cache_resource(max_entries=4, show_spinner="Reading the embeddings…")
def _embeddings(path: str, stamp: Stamp, _run: EvalRun) -> Embeddings | None:
    return read_embeddings(_run)


def embeddings(run: EvalRun) -> Embeddings | None:
    """The run's embeddings (None when it has none); raises ``RunError`` for a damaged file."""
    return _embeddings(str(run.path), _stamp(embeddings_path(run)), run)


@st.cache_resource(max_entries=8, show_spinner="Reading the cached map…")
def _maps(path: str, method: str, stamps: tuple[Stamp, Stamp], _run: EvalRun) -> EmbeddingMaps | None:
    return embedding_map.cached_maps(_run, method)


def cached_maps(run: EvalRun, method: str) -> EmbeddingMaps | None:
    """The run's maps for ``method`` if they are cached and current, else None."""
    stamps = (_stamp(embeddings_path(run)), _stamp(embedding_map.map_path(run, method)))
    return _maps(str(run.path), method, stamps, run)


def compute_maps(run: EvalRun, method: str, progress: Callable[[int, int, str], None]) -> EmbeddingMaps:
    """Compute (and cache in the run) the maps, reporting each finished map to ``progress``."""
    maps = embedding_map.load_or_compute_maps(run, method, progress=progress)
    _maps.clear()
    return maps


@st.cache_resource(max_entries=4, show_spinner=False)
def _classes(
    path: str, stamp: tuple[Stamp, ...], _run: EvalRun
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    labels, preds = _run.labels, predicted_classes(_run)
    names = np.asarray([*_run.class_names, "unknown"], dtype=object)
    hover = (
        "<b>" + _run.sample_ids.astype(object) + "</b><br>true " + names[labels] + "<br>RGB " + names[preds["rgb"]]
        + " · pose " + names[preds["pose"]] + " · fused " + names[preds["fused"]]
    )  # fmt: skip
    return labels, preds, hover


def classes(run: EvalRun) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(labels (S,), predicted classes {rgb, pose, fused: (S,)}, hover text (S,)) of the run."""
    return _classes(str(run.path), _run_stamp(run), run)


@st.cache_resource(max_entries=16, show_spinner="Drawing the map…")
def _scatter(
    path: str, stamp: tuple[Stamp, ...], method: str, space: str, colour_by: str, stream: str,
    detailed: bool, _run: EvalRun, _maps: EmbeddingMaps,
) -> go.Figure:  # fmt: skip
    labels, preds, hover = classes(_run)
    codes, groups = embedding_map.colour_groups(colour_by, labels, preds, _run.class_names, stream)
    title = f"{SPACE_LABELS[space]} embeddings ({method.upper() if method != 'tsne' else 't-SNE'})"
    if detailed:
        return figures.embedding_scatter(_maps.xy[space], codes, groups, hover, title)
    return figures.embedding_scatter(
        _maps.xy[space],
        codes,
        groups,
        _run.sample_ids,
        title,
        "<b>%{text}</b><br>%{fullData.name}<extra></extra>",
    )


def scatter(
    run: EvalRun, maps: EmbeddingMaps, space: str, colour_by: str, stream: str, detailed: bool = True
) -> go.Figure:
    """The page's WebGL scatter (built once per run, map and colouring; do not modify it). ``detailed``: the
    hover names the true class and every stream's prediction, else the clip and its group only."""
    return _scatter(
        str(run.path), _run_stamp(run), maps.method, space, colour_by, stream, detailed, run, maps
    )
