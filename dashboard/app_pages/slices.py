"""Slices: accuracy of the three streams per camera, setup, performer, view, ... (parsed from the sample ids
or from an uploaded metadata table), a slice x class heatmap, and the samples of a slice."""

from __future__ import annotations

import streamlit as st

from dashboard import analysis_cache, selection
from epam_core.analysis import slices, statistics_figures
from epam_core.analysis.figures import STREAM_LABELS
from epam_core.errors import EpamError

run = selection.require_run()
st.title("Slices")
st.caption(
    "Fields come from the sample ids (NTU `SsssCcccPpppRrrrAaaa`: setup, camera, performer, replication; PKU-MMD "
    "views L/M/R; Toyota Smarthome subject and camera), from a table stored with `epam evaluate --metadata`, "
    f"or from a CSV/Parquet file with a `sample_id` column uploaded here. `epam report --run {run.path}` prints "
    "the same numbers."
)
if not run.has_labels:
    st.info("This run has no labels (all -1), so there is no accuracy per slice.")
    st.stop()

upload = st.file_uploader(
    "Metadata table (CSV or Parquet, with a sample_id column)", type=["csv", "parquet"], key="slice_upload"
)
if upload is not None:
    try:
        analysis_cache.store_upload(upload.name, upload.getvalue())
    except EpamError as err:
        st.error(str(err))
try:
    fields = analysis_cache.metadata_codes(run)
except EpamError as err:
    st.error(str(err))
    st.stop()
if not fields:
    st.info(
        "No sample metadata: the ids follow none of the NTU, PKU-MMD or Toyota namings, and no table was given. "
        "Upload one above or pass `--metadata FILE` to `epam evaluate` / `epam report`."
    )
    st.stop()

left, right = st.columns(2)
with left:
    field = selection.synced_selectbox("Slice by", list(fields), "slice_field")
stream = right.selectbox(
    "Heatmap stream", ["fused", "rgb", "pose"], format_func=STREAM_LABELS.get, key="slice_stream"
)
table, (accuracy, counts, values) = analysis_cache.slice_tables(run, field, stream)

st.plotly_chart(statistics_figures.slice_bars(table, field), key="slice_bars")
pct = {c: st.column_config.NumberColumn(format="percent") for c in table.columns if c not in ("value", "n")}
picked = st.dataframe(
    table,
    hide_index=True,
    column_config=pct,
    on_select="rerun",
    selection_mode="single-row",
    key="slice_table",
)
rows = picked.selection.rows if picked else []
if rows and st.session_state.get("_slice_last_row") != (field, rows[0]):
    st.session_state["_slice_last_row"] = (field, rows[0])
    st.session_state["slice_value"] = str(table["value"].iloc[rows[0]])
st.caption("Click a row (or pick a value below) to list that slice's samples.")
st.plotly_chart(
    statistics_figures.slice_class_heatmap(accuracy, counts, values, run.class_names, field, stream),
    key="slice_heatmap",
)

st.header("Samples of a slice")
c1, c2 = st.columns(2)
with c1:
    value = selection.synced_selectbox("Value", [str(v) for v in values], "slice_value")
classes = ["(all)", *run.class_names]
chosen = c2.selectbox("True class", classes, key="slice_class")
class_id = None if chosen == "(all)" else run.class_names.index(chosen)
preds = analysis_cache.predictions(run)
members = slices.slice_samples(
    run.sample_ids, analysis_cache.field_values(run, field), value, run.labels, preds, class_id
)
shown = members.head(selection.MAX_SAMPLE_OPTIONS).copy()  # a 17k-sample camera slice would ship megabytes
for column in ("label", "rgb_pred", "pose_pred", "fused_pred"):
    shown[column] = [run.class_names[i] if i >= 0 else "unknown" for i in shown[column]]
right_share = (members["fused_pred"] == members["label"]).mean() if len(members) else float("nan")
st.markdown(f"**{len(members)} samples** with {field} = {value}; fused top-1 {right_share * 100:.1f} %")
if len(members) > len(shown):
    st.caption(f"Listing the first {len(shown)}; narrow by true class to see others.")
st.dataframe(shown, hide_index=True, key="slice_samples")
if len(members):
    sample = st.selectbox("Sample", shown["sample_id"].tolist(), key="slice_sample")
    if st.button("Open in the Sample page", key="slice_open"):
        selection.open_sample(sample)
