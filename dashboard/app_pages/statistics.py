"""Statistics: bootstrap intervals of every stream's accuracies, exact McNemar tests between the streams and
against a second run, likely label errors, and the samples fusion rescues or breaks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import analysis_cache, selection
from epam_core.analysis import statistics_figures, tables
from epam_core.analysis.figures import STREAM_LABELS
from epam_core.analysis.statistics import CONFIDENCE, RESAMPLES
from epam_core.runs.format import STREAMS


def sample_list(table: pd.DataFrame, key: str, columns: list[str]) -> None:
    """A table of samples (class ids shown as names) and a button that opens the chosen one."""
    if table.empty:
        st.caption("None.")
        return
    # best first; thousands would ship megabytes
    shown = table[columns].head(selection.MAX_SAMPLE_OPTIONS).copy()
    for column in columns:
        if column == "label" or column.endswith("_pred") or column == "predicted":
            shown[column] = [run.class_names[i] for i in shown[column]]
    if len(table) > len(shown):
        st.caption(f"Listing the first {len(shown)} of {len(table)}.")
    st.dataframe(shown, hide_index=True, key=f"{key}_table")
    left, right = st.columns([3, 1])
    sample = left.selectbox("Sample", shown["sample_id"].tolist(), key=f"{key}_sample")
    if right.button("Open in the Sample page", key=f"{key}_open"):
        selection.open_sample(sample)


def p_text(p: float) -> str:
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.1e}"


run = selection.require_run()
st.title("Statistics")
if not run.has_labels:
    st.info("This run has no labels (all -1), so there are no accuracies to test.")
    st.stop()
st.caption(
    f"{CONFIDENCE * 100:.0f} % percentile bootstrap intervals ({RESAMPLES} resamples, seed 0) and exact McNemar "
    f"tests (two-sided binomial on the samples only one side gets right). `epam report --run {run.path}` prints "
    "the same numbers."
)

intervals = analysis_cache.intervals(run)
st.header("Accuracy with intervals")
left, right = st.columns([1, 1])
left.dataframe(tables.interval_table(intervals), hide_index=True, key="stat_intervals")
right.plotly_chart(statistics_figures.interval_bars(intervals), key="stat_bars")

st.header("Paired tests between streams")
rows = []
for pair, test in analysis_cache.paired(run).items():
    a, b = pair.split("_vs_")
    rows.append({"a": STREAM_LABELS[a], "b": STREAM_LABELS[b], "only a right": test["a_only"],
                 "only b right": test["b_only"], "p (exact McNemar)": p_text(test["mcnemar_p"])})  # fmt: skip
st.dataframe(pd.DataFrame(rows), hide_index=True, key="stat_paired")

other = selection.compare_run(run)
if other is not None:
    st.header(f"Against {other.path.name}")
    cmp = analysis_cache.compare(run, other)
    st.markdown(
        f"**{cmp['matched']} samples matched by id** ({cmp['only_in_run']} only in {run.path.name}, "
        f"{cmp['only_in_compare']} only in {other.path.name}, {cmp['label_mismatch']} with different labels left out)."
    )
    rows = [
        {"stream": STREAM_LABELS[s], f"top-1 {run.path.name}": cmp[s]["top1_a"], f"top-1 {other.path.name}": cmp[s]["top1_b"],
         f"only {run.path.name} right": cmp[s]["a_only"], f"only {other.path.name} right": cmp[s]["b_only"],
         "p (exact McNemar)": p_text(cmp[s]["mcnemar_p"])}
        for s in STREAMS
    ]  # fmt: skip
    pct = {c: st.column_config.NumberColumn(format="percent") for c in rows[0] if c.startswith("top-1")}
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config=pct, key="stat_compare")
else:
    st.caption("Choose a run under “Compare with” in the sidebar to test run against run.")

errors, outcomes = analysis_cache.telling_samples(run)
st.header("Likely label errors")
st.caption(
    f"{len(errors)} samples where RGB, pose and fused agree on another class than the label, each with at least "
    "50 % probability; best first (the lowest of the three probabilities, highest first)."
)
sample_list(
    errors, "errors", ["sample_id", "label", "predicted", "min_prob", "rgb_prob", "pose_prob", "fused_prob"]
)
rescues, breaks = outcomes[outcomes["outcome"] == "rescue"], outcomes[outcomes["outcome"] == "break"]
columns = ["sample_id", "label", "rgb_pred", "pose_pred", "fused_pred", "fused_label_prob"]
st.header(f"Fusion rescues ({len(rescues)})")
st.caption("Fused right while RGB and pose are both wrong.")
sample_list(rescues, "rescues", columns)
st.header(f"Fusion breaks ({len(breaks)})")
st.caption("Fused wrong while RGB or pose is right.")
sample_list(breaks, "breaks", columns)
