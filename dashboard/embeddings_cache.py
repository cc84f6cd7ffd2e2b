"""Cached loaders of the Embeddings page: a run's embeddings, its 2-D maps, classes and hover texts, figures,
the clips in a selection and the nearest neighbours of a clip.

Everything is kept once per process (``st.cache_resource``: a 50k-clip run's 65 MB of embeddings and its
figures are not pickled on every rerun; nothing here is mutated after it is built), keyed by the run's path
and the (mtime_ns, size) of the files it comes from, so a rewritten run or a recomputed map is re-read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from epam_core.analysis import embedding_map, figures
from epam_core.analysis.embedding_map import EmbeddingMaps
from epam_core.analysis.embeddings import (
    SPACE_LABELS,
    Embeddings,
    embeddings_path,
    neighbour_table,
    predicted_classes,
    read_embeddings,
)
from epam_core.runs.format import EvalRun

Stamp = tuple[int, int]
DRAW_MAX = 10_000  # clips; above, the map draws a sample of this many (benchmarks/RESULTS.md, Embeddings)
DRAW_CHOICES = (5_000, 10_000, 20_000)  # the page's other choices of points drawn, besides all


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
    detailed: bool, draw_limit: int | None, _run: EvalRun, _maps: EmbeddingMaps,
) -> tuple[go.Figure, int]:  # fmt: skip
    labels, preds, hover = classes(_run)
    codes, groups = embedding_map.colour_groups(colour_by, labels, preds, _run.class_names, stream)
    drawn = embedding_map.drawn_rows(codes, draw_limit)  # (D,) every group present keeps points
    title = f"{SPACE_LABELS[space]} embeddings ({method.upper() if method != 'tsne' else 't-SNE'})"
    xy = _maps.xy[space][drawn]
    if detailed:
        fig = figures.embedding_scatter(xy, codes[drawn], groups, hover[drawn], title)
    else:
        template = "<b>%{text}</b><br>%{fullData.name}<extra></extra>"
        fig = figures.embedding_scatter(xy, codes[drawn], groups, _run.sample_ids[drawn], title, template)
    if len(drawn) < len(codes):  # the points' rows in the run, and every group's size in the legend
        counts = np.bincount(codes, minlength=len(groups))
        present = [g for g in range(len(groups)) if counts[g]]  # embedding_scatter's traces, in order
        for trace, g in zip(fig.data, present, strict=True):
            trace.customdata = drawn[np.asarray(trace.customdata)].astype(np.int32)
            trace.name = f"{groups[g]} ({counts[g]})"
    return fig, len(drawn)


def scatter(
    run: EvalRun, maps: EmbeddingMaps, space: str, colour_by: str, stream: str, detailed: bool = True,
    draw_limit: int | None = None,
) -> tuple[go.Figure, int]:  # fmt: skip
    """(the page's WebGL scatter, how many points it draws): built once per run, map, colouring and
    ``draw_limit`` (do not modify it). ``detailed``: the hover names the true class and every stream's
    prediction, else the clip and its group only. Above ``draw_limit`` clips, a seeded sample stratified by
    the colouring is drawn (``embedding_map.drawn_rows``); each point's ``customdata`` is its row in the run
    and the legend counts every clip of a group."""
    return _scatter(
        str(run.path), _run_stamp(run), maps.method, space, colour_by, stream, detailed, draw_limit, run, maps
    )


@st.cache_resource(max_entries=32, show_spinner=False)
def _selected_rows(
    path: str, stamp: Stamp, method: str, space: str, selection: str, _maps: EmbeddingMaps
) -> np.ndarray:
    return embedding_map.rows_in_selection(_maps.xy[space], json.loads(selection))


def selected_rows(run: EvalRun, maps: EmbeddingMaps, space: str, selection: dict) -> np.ndarray:
    """``embedding_map.rows_in_selection`` on the run's map of ``space``: a box or lasso holds every clip
    inside it, drawn or not. Kept per selection (a lasso over 50,000 clips takes 0.1-0.2 s, and every rerun
    of the page asks again); do not modify it."""
    shapes = {k: selection.get(k) or [] for k in ("box", "lasso")}
    if not any(shapes.values()):  # a click: the rows of the clicked points
        shapes["points"] = [{"customdata": p.get("customdata")} for p in selection.get("points") or []]
    stamp = _stamp(embedding_map.map_path(run, maps.method))
    return _selected_rows(str(run.path), stamp, maps.method, space, json.dumps(shapes, default=float), maps)


@st.cache_resource(max_entries=64, show_spinner=False)
def _neighbours(
    path: str, stamp: tuple[Stamp, ...], space: str, sample_id: str, k: int, _run: EvalRun, _emb: Embeddings
) -> pd.DataFrame:
    labels, preds, _ = classes(_run)
    return neighbour_table(_run, _emb, space, sample_id, k, labels, preds)


def neighbours(run: EvalRun, emb: Embeddings, space: str, sample_id: str, k: int) -> pd.DataFrame:
    """``neighbour_table`` of ``sample_id`` in ``space``, kept per clip and k (do not modify it)."""
    return _neighbours(str(run.path), _run_stamp(run), space, sample_id, k, run, emb)
