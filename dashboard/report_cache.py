"""Cached paper figures and tables of a run for the Export page (``epam_core.analysis.report``).

Keyed by ``loaders.run_key``, like the analysis they are drawn from (``analysis_cache``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.analysis_cache import run_analysis
from dashboard.loaders import RunKey, read_cached_run, run_key
from epam_core.runs.format import EvalRun


@st.cache_resource(max_entries=4, show_spinner="Preparing the figures…")
def _figure_builders(key: RunKey) -> dict[str, Any]:
    from epam_core.analysis.report import run_figures

    run = read_cached_run(*key)
    summary, sweep, per_class = run_analysis(run)
    return run_figures(run, summary=summary, sweep=sweep, per_class=per_class)


def figure_builders(run: EvalRun) -> dict[str, Any]:
    """``report.run_figures`` of a run (what they draw is computed once per run; drawing is on demand)."""
    return _figure_builders(run_key(run))


@st.cache_data(max_entries=8, show_spinner=False)
def _run_tables(key: RunKey) -> dict[str, pd.DataFrame]:
    from epam_core.analysis.report import run_tables

    return run_tables(read_cached_run(*key))


def run_tables(run: EvalRun) -> dict[str, pd.DataFrame]:
    """``report.run_tables`` of a run, computed once per run."""
    return _run_tables(run_key(run))


@st.cache_data(max_entries=64, show_spinner="Drawing…")
def _figure_file(key: RunKey, name: str, fmt: str, style: str, size: Any) -> bytes:
    from epam_core.analysis import paper_figures

    with paper_figures.style(style):
        return paper_figures.figure_bytes(_figure_builders(key)[name](size), fmt)


def figure_file(run: EvalRun, name: str, fmt: str, style: str, size: Any) -> bytes:
    """One paper figure of a run as PDF/SVG/PNG bytes (cached: the preview is drawn once per setting)."""
    return _figure_file(run_key(run), name, fmt, style, size)
