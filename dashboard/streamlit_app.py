"""EPAM-Net analysis dashboard: the shared sidebar (run pickers) and the page router.

Run it with `epam dashboard [--runs DIR]` (or `make dashboard`); the runs directory comes in through the
``EPAM_RUNS_DIR`` environment variable and defaults to the bundled ``checkpoints/runs``.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard import paths, selection
from dashboard import session_keys as keys
from epam_core import typed_paths
from epam_core.errors import EpamError
from epam_core.runs.format import list_runs

log = logging.getLogger("epam.dashboard")

st.set_page_config(page_title="EPAM-Net dashboard", page_icon=":material/movie:", layout="wide")

PAGES = [
    st.Page(
        "app_pages/overview.py", title="Overview", icon=":material/bar_chart:", url_path="home", default=True
    ),
    # the default page is served at "/" only; this hidden twin answers the Overview's own URL, /overview
    st.Page(
        "app_pages/overview.py",
        title="Overview",
        icon=":material/bar_chart:",
        url_path="overview",
        visibility="hidden",
    ),
    st.Page("app_pages/confusion.py", title="Confusion", icon=":material/grid_on:", url_path="confusion"),
    st.Page("app_pages/sample.py", title="Sample", icon=":material/movie:", url_path="sample"),
    st.Page(
        "app_pages/statistics.py", title="Statistics", icon=":material/functions:", url_path="statistics"
    ),
    st.Page("app_pages/slices.py", title="Slices", icon=":material/view_column:", url_path="slices"),
    st.Page("app_pages/calibration.py", title="Calibration", icon=":material/speed:", url_path="calibration"),
    st.Page(
        "app_pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:", url_path="embeddings"
    ),
    st.Page("app_pages/robustness.py", title="Robustness", icon=":material/tune:", url_path="robustness"),
    st.Page(
        "app_pages/attention.py",
        title="Attention",
        icon=":material/center_focus_strong:",
        url_path="attention",
    ),
    st.Page("app_pages/export.py", title="Export", icon=":material/download:", url_path="export"),
    st.Page("app_pages/analyze.py", title="Analyze a video", icon=":material/upload:", url_path="analyze"),
]


def sidebar() -> None:
    """Pick the evaluation run (default: the bundled demo) and a second run to compare with."""
    root = paths.runs_root()
    runs = {p.name: str(p) for p in list_runs(root)}
    with st.sidebar:
        st.header("Evaluation run")
        other = st.text_input(
            "Run directory (optional)", key=keys.CUSTOM_RUN, help="Any run written by `epam evaluate`"
        )
        if note := typed_paths.dashboard_note(root, st.get_option("server.address")):
            st.caption(note)
        if other.strip():
            try:
                typed = typed_paths.check_dashboard_path(other.strip(), root, st.get_option("server.address"))
            except EpamError as err:
                st.session_state[keys.RUN_PATH] = None
                st.error(str(err))
            else:
                st.session_state[keys.RUN_PATH] = str(typed)
                st.caption(f"Using `{st.session_state[keys.RUN_PATH]}`")
        elif runs:
            names = list(runs)
            st.session_state.setdefault(
                keys.RUN_NAME, paths.default_run_name(names, st.query_params.get("run"))
            )
            name = selection.synced_selectbox("Run", names, keys.RUN_NAME, help=f"Runs found in {root}")
            st.session_state[keys.RUN_PATH] = runs[name]
            st.query_params["run"] = name
        else:
            st.session_state[keys.RUN_PATH] = None
            st.warning(
                f"No evaluation runs in `{root}`. Write one with `epam evaluate` or pass `--runs DIR`."
            )
        compare = ["(none)", *[n for n in runs if runs[n] != st.session_state.get(keys.RUN_PATH)]]
        choice = selection.synced_selectbox("Compare with", compare, keys.COMPARE_NAME)
        st.session_state[keys.COMPARE_PATH] = runs.get(choice)


selection.apply_run_selection()  # a run started on the Analyze page becomes the selected one
sidebar()
if "sample" in st.query_params:  # shareable link to one sample: ?sample=ID
    st.session_state.setdefault(keys.SAMPLE_ID, st.query_params["sample"])
page = st.navigation(PAGES)
try:
    page.run()
except Exception as err:  # the last line of defence: a message, never a traceback in the browser
    log.exception("page %s failed", page.title)
    st.error(f"This page hit an unexpected error: {type(err).__name__}: {err}. The other pages still work.")
