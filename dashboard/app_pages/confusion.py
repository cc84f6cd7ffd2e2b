"""Confusion: per-stream confusion matrices readable at 120 classes, top confused pairs, differences between
streams or runs; choosing a cell (click, pair or the two selectboxes) lists its samples and opens them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import analysis_cache, selection
from epam_core.analysis import confusion, figures
from epam_core.runs.format import STREAMS


def select_cell(source: str, cell: tuple[int, int]) -> None:
    """Take a cell chosen by a click or a pair, once per new choice (selections persist across reruns)."""
    if st.session_state.get(f"_cm_last_{source}") != cell:
        st.session_state[f"_cm_last_{source}"] = cell
        st.session_state["cm_cell"] = cell


def cell_from_widgets() -> None:
    st.session_state["cm_cell"] = (st.session_state["cm_true"], st.session_state["cm_pred"])


run = selection.require_run()
st.title("Confusion")
if not run.has_labels:
    st.info(
        "This run has no labels (all -1): there is no confusion matrix. The Sample page shows its predictions."
    )
    st.stop()
other = selection.compare_run(run)

c1, c2, c3, c4 = st.columns(4)
views = ["one stream", "difference of two streams"] + (
    ["difference of two runs"] if other is not None else []
)
view = c1.radio("Show", views, key="cm_view")
stream = c2.selectbox(
    "Stream", list(STREAMS), format_func=figures.STREAM_LABELS.get, index=2, key="cm_stream"
)
norm = c3.selectbox(
    "Normalise", confusion.NORMALISATIONS, key="cm_norm",
    format_func={"true": "by true class (recall)", "pred": "by prediction (precision)", "none": "raw counts"}.get,
)  # fmt: skip
order_by = c4.selectbox(
    "Order classes", confusion.ORDERINGS, key="cm_order", index=3 if run.num_classes > 30 else 0,
    help="cluster: classes confused with each other sit together",
)  # fmt: skip
query = st.text_input("Filter classes (name contains)", key="cm_query", placeholder="e.g. drink")

counts = analysis_cache.confusion_counts(run, stream)
shown = confusion.filter_classes(run.class_names, query)
if len(shown) == 0:
    st.warning(f"No class name contains {query!r}.")
    st.stop()
matrix = confusion.normalise(counts, "true" if norm == "none" and view != "one stream" else norm)
diverging = False
title = f"{figures.STREAM_LABELS[stream]} stream" + ("" if norm == "none" else f" (normalised by {norm})")
if view == "difference of two streams":
    base = c2.selectbox(
        "minus stream", list(STREAMS), format_func=figures.STREAM_LABELS.get, index=0, key="cm_base"
    )
    matrix = confusion.difference(
        counts, analysis_cache.confusion_counts(run, base), "true" if norm == "none" else norm
    )
    diverging, title = True, f"{figures.STREAM_LABELS[stream]} − {figures.STREAM_LABELS[base]}"
elif view == "difference of two runs" and other is not None:
    matrix = confusion.difference(
        counts, analysis_cache.confusion_counts(other, stream), "true" if norm == "none" else norm
    )
    diverging, title = True, f"{run.path.name} − {other.path.name} ({figures.STREAM_LABELS[stream]})"
order = analysis_cache.class_order(run, stream, order_by)
order = order[np.isin(order, shown)]
values = st.toggle("Show numbers", value=len(order) <= figures.VALUES_MAX_CLASSES, key="cm_values")
fig = figures.confusion_grid(
    matrix, order, run.class_names, title, counts=counts, diverging=diverging, show_values=values
)
# theme=None: drawn as the figure says (Streamlit's theme moves the plot area off the class-name pictures)
event = st.plotly_chart(
    fig, on_select="rerun", selection_mode="points", key="cm_chart", width="content", theme=None,
    config={"toImageButtonOptions": {"format": "svg", "filename": f"confusion_{stream}"}},
)  # fmt: skip
points = (event.selection or {}).get("points", []) if event else []
if points:  # a point of the click layer: its (x, y) is the cell's place in the shown order
    select_cell("click", figures.confusion_cell(order, points[0]))
st.caption("Click a cell (or pick a pair below) to list its samples.")

st.header("Most confused pairs")
n_pairs = st.slider("Pairs", 5, 50, 10, key="cm_pairs")
pairs = confusion.top_confused_pairs(
    counts[np.ix_(shown, shown)], [run.class_names[i] for i in shown], n_pairs
)
pairs["true_id"], pairs["pred_id"] = shown[pairs["true_id"]], shown[pairs["pred_id"]]
picked = st.dataframe(
    pairs[["true", "predicted", "count", "rate"]], hide_index=True, on_select="rerun",
    selection_mode="single-row", key="cm_pairs_table",
    column_config={"rate": st.column_config.NumberColumn("share of the true class", format="percent")},
)  # fmt: skip
rows = picked.selection.rows if picked else []
if rows:
    select_cell("pair", (int(pairs["true_id"].iloc[rows[0]]), int(pairs["pred_id"].iloc[rows[0]])))

st.header("Samples in a cell")
left, right = st.columns(2)
ids = list(range(run.num_classes))
st.session_state["cm_true"], st.session_state["cm_pred"] = st.session_state.get("cm_cell", (0, 0))
true_id = left.selectbox(
    "True class", ids, format_func=run.class_names.__getitem__, key="cm_true", on_change=cell_from_widgets
)
pred_id = right.selectbox(
    "Predicted class",
    ids,
    format_func=run.class_names.__getitem__,
    key="cm_pred",
    on_change=cell_from_widgets,
)
members = confusion.cell_samples(run.sample_ids, run.labels, run.preds(stream), true_id, pred_id)
st.markdown(
    f"**{len(members)} samples** of *{run.class_names[true_id]}* predicted as *{run.class_names[pred_id]}* "
    f"by the {figures.STREAM_LABELS[stream]} stream"
)
if len(members):
    rows = np.array([run.index_of(m) for m in members])
    listing = pd.DataFrame(
        {"sample_id": members}
        | {f"{s} prediction": [run.class_names[p] for p in run.preds(s)[rows]] for s in STREAMS}
    )
    st.dataframe(listing, hide_index=True, key="cm_members")
    chosen = st.selectbox("Sample", list(members), key="cm_sample")
    if st.button("Open on the Sample page", key="cm_open", type="primary"):
        selection.open_sample(chosen)
