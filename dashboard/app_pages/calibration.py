"""Calibration: per stream, a reliability diagram and the expected calibration error (15 equal-width bins of
the top-1 probability), negative log-likelihood, confidence histograms of right and wrong predictions, and
temperature scaling fitted by cross-validation inside the run, with the fusion of the scaled streams."""

from __future__ import annotations

import streamlit as st

from dashboard import analysis_cache, selection
from epam_core.analysis import calibration, statistics_figures
from epam_core.analysis.figures import STREAM_LABELS

run = selection.require_run()
st.title("Calibration")
if not run.has_labels:
    st.info("This run has no labels (all -1), so calibration cannot be measured.")
    st.stop()
st.caption(
    f"ECE over {calibration.ECE_BINS} equal-width bins of the top-1 softmax probability; NLL in nats. The "
    f"temperature of each stream is fitted on {calibration.FOLDS - 1} of {calibration.FOLDS} folds of this run and "
    "applied to the fifth, so no sample is scored by a temperature fitted on it. **Fitting on the test set is "
    "still optimistic**: fit the temperature on a validation split before quoting calibrated numbers in a paper."
)
table = analysis_cache.calibration_view(run, "fused")["table"]
fused = table.set_index("stream").loc["fused_calibrated"]
raw_fused = table.set_index("stream").loc["fused"]
c1, c2, c3 = st.columns(3)
c1.metric("fused ECE", f"{raw_fused['ece']:.3f}")
c2.metric(
    "fused ECE with calibrated streams",
    f"{fused['ece']:.3f}",
    delta=f"{fused['ece'] - raw_fused['ece']:+.3f}",
    delta_color="inverse",
)
c3.metric(
    "fused top-1 with calibrated streams", f"{fused['top1'] * 100:.1f} %",
    delta=f"{(fused['top1'] - raw_fused['top1']) * 100:+.1f} pp",
)  # fmt: skip
pct = {
    "top1": st.column_config.NumberColumn(format="percent"),
    "top1_calibrated": st.column_config.NumberColumn(format="percent"),
}
st.dataframe(table, hide_index=True, column_config=pct, key="cal_table")

stream = st.selectbox("Stream", ["fused", "rgb", "pose"], format_func=STREAM_LABELS.get, key="cal_stream")
view = analysis_cache.calibration_view(run, stream)
bins = {
    f"{stream} (T = 1)": view["reliability"],
    f"{stream} (T = {view['temperature']:.2f})": view["reliability_scaled"],
}
left, right = st.columns(2)
left.plotly_chart(
    statistics_figures.reliability_diagram(bins, f"Reliability: {STREAM_LABELS[stream]}"),
    key="cal_reliability",
)
after = right.toggle("Histogram after temperature scaling", key="cal_after")
right.plotly_chart(
    statistics_figures.confidence_histogram(
        view["histogram_scaled" if after else "histogram"],
        f"Confidence of {STREAM_LABELS[stream]} predictions" + (" (scaled)" if after else ""),
    ),
    key="cal_hist",
)
