"""Cached attention measures for the dashboard pages (Attention, Sample, Robustness).

The measures and their tables are keyed by ``loaders.run_key`` (the run directory and the latest change of
its files, the measures file included); the body geometry of a live clip by ``loaders.live_key`` (it depends
on the clip and the checkpoint's input config too) and the sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.loaders import LiveKey, RunKey, live_key, run_key
from epam_core.analysis import attention_measures as am
from epam_core.errors import EpamError
from epam_core.runs.attention_measures_file import read_attention_measures
from epam_core.runs.format import EvalRun

if TYPE_CHECKING:
    from epam_core.config import EPAMNetConfig
    from epam_core.data.pipeline import Clip
    from epam_core.runs.single_clip import LiveResult


@st.cache_data(max_entries=8, show_spinner="Reading the attention measures…")
def _measures(key: RunKey, _run: EvalRun) -> pd.DataFrame | None:
    return read_attention_measures(_run)


def measures(run: EvalRun) -> pd.DataFrame | None:
    """The run's ``attention_measures.parquet`` (None when absent); raises ``RunError`` when it does not fit."""
    return _measures(run_key(run), run)


def usable_measures(run: EvalRun) -> pd.DataFrame | None:
    """``measures``, or None with a warning naming the file when it does not fit the run."""
    try:
        return measures(run)
    except EpamError as err:
        st.warning(f"The attention measures of this run are not shown. {err}")
        return None


@st.cache_data(max_entries=8, show_spinner="Aggregating the attention measures…")
def _tables(key: RunKey, _run: EvalRun, _measures: pd.DataFrame) -> dict[str, pd.DataFrame]:
    from epam_core.analysis.attention_report import attention_tables

    return attention_tables(_run, _measures)


def tables(run: EvalRun, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``attention_report.attention_tables`` of the run (cached)."""
    return _tables(run_key(run), run, frame)


def sample_variant_logits(run: EvalRun, frame: pd.DataFrame, sample_id: str) -> dict[str, np.ndarray]:
    """One sample's RGB logits (K,) with the model's, uniform and no attention."""
    i = run.index_of(sample_id)
    return {
        "model": run.logits("rgb")[i],
        "uniform": np.asarray(frame["rgb_uniform_logits"].iloc[i], dtype=np.float32),
        "none": np.asarray(frame["rgb_none_logits"].iloc[i], dtype=np.float32),
    }


@st.cache_data(max_entries=64, show_spinner=False)
def _geometry(
    key: LiveKey, sample_id: str, _clip: Clip, _config: EPAMNetConfig
) -> tuple[np.ndarray, np.ndarray]:
    from epam_core.runs.measure_attention import attention_grid, clip_geometry

    return clip_geometry(_clip, _config.input, attention_grid(_config))


def attention_moved(
    run: EvalRun, sample_id: str, clip: Clip, config: EPAMNetConfig, clean: LiveResult, noisy: LiveResult
) -> dict[str, float]:
    """How far the noisy skeleton moved the attention (``attention_shift``), and the share of each pass's
    spatial attention on the clean body (``on_body_clean`` / ``on_body_noisy``)."""
    coverage, motion = _geometry(live_key(run), sample_id, clip, config)
    shift = am.attention_shift(clean.spatial, clean.temporal, noisy.spatial, noisy.temporal)
    for name, result in (("clean", clean), ("noisy", noisy)):
        shift[f"on_body_{name}"] = am.sample_measures(result.spatial, result.temporal, coverage, motion)[
            "on_body"
        ]
    return shift
