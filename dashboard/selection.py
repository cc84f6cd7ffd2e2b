"""What the user has selected, shared between the pages: the run, the run to compare with and the sample.

The values live in ``st.session_state`` under the keys of ``dashboard.session_keys``; the sidebar of the
entrypoint sets the runs on every rerun, a page may choose a run (``select_run``) or a sample
(``open_sample``) for the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from dashboard import session_keys as keys
from dashboard.loaders import load_run
from dashboard.paths import runs_root
from epam_core.errors import EpamError
from epam_core.runs.format import EvalRun, list_runs


def current_run(key: str = keys.RUN_PATH) -> EvalRun | None:
    """The run whose path is in ``session_state[key]``, or None; a broken run shows its error and stops the
    page."""
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
    other = current_run(keys.COMPARE_PATH)
    if other is None or other.path == run.path:
        return None
    if other.class_names != run.class_names:
        st.warning(f"{other.path.name} has other classes than {run.path.name}; it cannot be compared.")
        return None
    return other


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
    """Choose one sample of a run of any size; the choice lives in ``session_state[SAMPLE_ID]``.

    A "True class" box narrows the run to one class (a few hundred clips of NTU RGB+D 120) and follows the
    sample chosen elsewhere; ``only`` (S,) bool narrows further (e.g. the fused stream's errors). At most
    ``MAX_SAMPLE_OPTIONS`` ids are listed; any id can be typed in below.
    """
    state = st.session_state
    current = state.get(keys.SAMPLE_ID)
    if not run.has_sample(current):
        current = str(run.sample_ids[0])
    labels = run.labels
    classes = [ALL_CLASSES, *range(run.num_classes)] if run.has_labels else [ALL_CLASSES]
    if state.get(keys.SAMPLE_ID) != state.get(keys.PICKER_FOLLOWED):  # chosen on another page
        state[keys.PICKER_FOLLOWED] = state.get(keys.SAMPLE_ID)
        state[keys.SAMPLE_CLASS] = int(labels[run.index_of(current)]) if run.has_labels else ALL_CLASSES
    left, right = st.columns([1, 2])
    cls = left.selectbox(
        "True class", classes, key=keys.SAMPLE_CLASS,
        format_func=lambda c: "all classes" if c == ALL_CLASSES else run.class_names[c],
    )  # fmt: skip
    keep = np.ones(len(labels), dtype=bool) if cls == ALL_CLASSES else labels == cls
    if only is not None:
        keep &= only
    options = run.sample_ids[keep][:MAX_SAMPLE_OPTIONS].tolist()
    if current not in options:
        options = [current, *options]
    with right:
        chosen = synced_selectbox("Sample", options, keys.SAMPLE_ID, **kwargs)
    if keep.sum() > MAX_SAMPLE_OPTIONS:
        st.caption(f"Listing the first {MAX_SAMPLE_OPTIONS} of {int(keep.sum())} samples; type any id below.")
    typed = st.text_input(
        "…or type a sample id", key=keys.SAMPLE_TYPED, placeholder="e.g. S001C001P001R001A001"
    )
    if typed.strip() and typed.strip() != chosen:
        if run.has_sample(typed.strip()):
            state[keys.SAMPLE_ID] = state[keys.PICKER_FOLLOWED] = typed.strip()
            state.pop(keys.SAMPLE_TYPED)
            st.rerun()
        st.warning(f"{run.path.name} has no sample {typed.strip()!r}.")
    return chosen


def open_sample(sample_id: str) -> None:
    """Select a sample and go to the Sample page."""
    st.session_state[keys.SAMPLE_ID] = sample_id
    st.switch_page("app_pages/sample.py")


def select_run(path: str | Path) -> None:
    """Make the run at ``path`` the sidebar's run from the next rerun on: by name when the picker lists it,
    else as the "Run directory" (call ``st.rerun()`` after it)."""
    listed = {p.resolve(): p.name for p in list_runs(runs_root())}
    name = listed.get(Path(path).resolve())
    if name is not None:
        st.session_state[keys.RUN_NAME] = name
    st.session_state[keys.PENDING_CUSTOM_RUN] = "" if name is not None else str(path)


def apply_run_selection() -> None:
    """Called by the entrypoint before the sidebar's widgets exist: a run chosen by a page (``select_run``)
    replaces what was typed as the run directory (a widget's value can only be set before it is drawn)."""
    if keys.PENDING_CUSTOM_RUN in st.session_state:
        st.session_state[keys.CUSTOM_RUN] = st.session_state.pop(keys.PENDING_CUSTOM_RUN)
