"""Warm the server before the first browser connects: import what the pages import and fill the caches the
Overview reads for the run a new session selects (``paths.default_run_name``).

``dashboard.serve`` runs ``warm`` in a daemon thread beside Streamlit's server. The run is read through
``loaders.load_run`` (``st.cache_resource``: process-global) and the analyses through the very
``analysis_cache`` functions the Overview calls, so the first session finds them cached; a session arriving
mid-way waits on Streamlit's per-value compute lock instead of computing again. ``st.cache_data`` keeps its
values in the Runtime's storage, which exists only once the server is up (before, a module defining such
functions checks them against a stand-in storage and warns, and a call would fill the stand-in). The heavy
imports happen in the main thread before the server starts (``preimport``: importing them in two threads at
once is not safe); the thread waits for the Runtime to start, then imports the dashboard's modules. A
failure (no run, a broken run) is logged in one line and leaves the server as it was: the pages then compute
and report as they would without the warm-up.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

log = logging.getLogger("epam.dashboard.warmup")

THREAD_NAME = "epam-warm-up"
RUNTIME_WAIT = 120.0  # seconds to wait for Streamlit's Runtime before giving up on the cache_data analyses


class _NoContextWarning(logging.Filter):
    """Drop Streamlit's "missing ScriptRunContext" warning when it comes from the warm-up thread (a cached
    function's spinner asks for a script context; the warm-up has none and needs none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName == THREAD_NAME and "missing ScriptRunContext" in record.getMessage())


def _wait_for_runtime(timeout: float) -> bool:
    """Until Streamlit's Runtime has started (its event loop runs: the main thread is done importing)."""
    from streamlit.runtime import Runtime, RuntimeState

    deadline = time.monotonic() + timeout
    while not (Runtime.exists() and Runtime.instance().state != RuntimeState.INITIAL):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def preimport() -> None:
    """What the pages import at the top, imported in the main thread before the server starts: importing
    them in a second thread while Streamlit imports plotly lets plotly's ``get_module("pandas")`` see a
    half-imported pandas (AttributeError: partially initialized module), so the warm-up thread imports
    nothing the main thread may be importing at the same time. The dashboard's own modules are left out:
    they define ``st.cache_data`` functions, which check their storage when defined and warn before the
    Runtime exists."""
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import pyarrow  # noqa: F401  (st.dataframe ships Arrow)
    import scipy.stats  # noqa: F401
    import streamlit.web.cli  # noqa: F401

    from epam_core.analysis import figures, fusion, metrics, run_report, statistics  # noqa: F401
    from epam_core.runs import format  # noqa: F401


def warm(root: Path) -> str:
    """Warm the caches for the default run under ``root``; returns what was done, with the seconds of each
    step (also logged). The run and its analyses come first (a session waits on them), plotly last."""
    tic = time.perf_counter()
    steps: list[str] = []

    def step(what: str) -> None:
        nonlocal tic
        steps.append(f"{what} {time.perf_counter() - tic:.1f} s")
        tic = time.perf_counter()

    if not _wait_for_runtime(RUNTIME_WAIT):
        return f"Streamlit's runtime did not start within {RUNTIME_WAIT:.0f} s"
    step("waiting for the server")
    from dashboard import analysis_cache, loaders, paths, selection  # noqa: F401
    from epam_core.runs.format import list_runs

    step("imports")

    runs = {p.name: p for p in list_runs(root)}
    name = paths.default_run_name(list(runs))
    if name is None:
        return f"imports only ({root} lists no run)"
    run = loaders.load_run(runs[name])
    step("reading the run")
    if not run.has_labels:
        return f"{name} read (no labels, so no accuracies to compute): {', '.join(steps)}"
    _, sweep, table = analysis_cache.run_analysis(run)
    analysis_cache.intervals(run)
    analysis_cache.paired(run)
    step("analyses")
    from epam_core.analysis import figures, fusion

    best_alpha, _ = fusion.best_weight(sweep)
    figures.fusion_sweep(sweep, best_alpha, best_alpha).to_json()  # plotly's validators load on first use
    figures.per_class_dots(table).to_json()
    step("figures")
    return f"{name} ({len(run.sample_ids)} clips x {run.num_classes} classes): {', '.join(steps)}"


def _warm_logged(root: Path) -> None:
    try:
        done = warm(root)
    except Exception as err:  # never stops the server: the pages report the same error when opened
        log.warning(
            "warm-up skipped: %s: %s", type(err).__name__, str(err).splitlines()[0] if str(err) else ""
        )
    else:
        log.info("warm-up done: %s", done)


def start(root: Path) -> threading.Thread:
    """Start ``warm(root)`` in a daemon thread (it never keeps the process alive)."""
    parent = logging.getLogger("epam.dashboard")  # the warm-up, the analyses' timings, a page's failure
    if not parent.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s [%(threadName)s] %(message)s"))
        parent.addHandler(handler)
        parent.setLevel(logging.INFO)
        parent.propagate = False
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        _NoContextWarning()
    )
    thread = threading.Thread(target=_warm_logged, args=(root,), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread
