"""Overview: accuracy of the RGB, pose and fused streams, the fusion-weight sweep, per-class accuracy."""

from __future__ import annotations

import streamlit as st

from dashboard import analysis_cache, selection
from epam_core.analysis import figures, fusion, metrics
from epam_core.runs.format import STREAMS

run = selection.require_run()
st.title("Overview")
m = run.manifest
st.caption(
    f"`{run.path}` · {m['num_samples']} samples · {run.num_classes} classes · "
    f"dataset {(m.get('dataset') or {}).get('name', '?')} · written {m['created']} by `{m['source']}`"
)
if not run.has_labels:
    st.info(
        "This run has no labels (all -1), so there is no accuracy to show. The Sample and Robustness pages work."
    )
    st.stop()

summary, sweep, table = analysis_cache.run_analysis(run)
summary = summary.set_index("stream")
other = selection.compare_run(run)
other_summary = analysis_cache.run_summary(other)[0].set_index("stream") if other is not None else None
if other is not None:
    st.caption(f"Deltas against `{other.path.name}`.")
intervals = analysis_cache.intervals(run).set_index("stream")
paired = analysis_cache.paired(run)
for col, stream in zip(st.columns(3), STREAMS, strict=True):
    with col:
        st.subheader(figures.STREAM_LABELS[stream])
        for metric, label in (("top1", "top-1"), ("top5", "top-5"), ("mean_class", "mean class")):
            value = summary.loc[stream, metric] * 100
            delta = None
            if other_summary is not None:
                delta = f"{value - other_summary.loc[stream, metric] * 100:+.1f} pp"
            st.metric(f"{figures.STREAM_LABELS[stream]} {label}", f"{value:.1f} %", delta=delta)
            low, high = intervals.loc[stream, f"{metric}_low"], intervals.loc[stream, f"{metric}_high"]
            st.caption(f"95 % CI {low * 100:.1f}–{high * 100:.1f} %")
        if stream == "fused":
            tests = [(paired[f"fused_vs_{s}"], figures.STREAM_LABELS[s]) for s in ("rgb", "pose")]
            st.caption(
                "Fused vs "
                + ", vs ".join(f"{name}: p = {t['mcnemar_p']:.2g}" for t, name in tests)
                + " (exact McNemar; the Statistics page has the details)"
            )

st.header("Fusion weight")


@st.fragment
def fusion_panel() -> None:
    """Only this panel reruns when the slider moves: one fused top-1 over the run, the sweep is cached."""
    best_alpha, best_acc = fusion.best_weight(sweep)
    left, right = st.columns([1, 2])
    with left:
        alpha = st.slider(
            "α (RGB weight; pose weight 1 − α)", 0.0, 1.0, round(fusion.weights_alpha(run.manifest["fusion_weights"]), 2), 0.05, key="alpha",
            help="The run's fusion weights are the default; 0.5 ranks classes as the paper's 1:1 sum.",
        )  # fmt: skip
        fused = fusion.fuse(run.logits("rgb"), run.logits("pose"), fusion.alpha_weights(alpha))
        st.metric(
            "fused top-1 at α", f"{metrics.top1_accuracy(fused.argmax(axis=1), run.labels) * 100:.1f} %"
        )
        st.metric("best α", f"{best_alpha:.2f}", help=f"top-1 {best_acc * 100:.1f} % (ties: closest to 0.5)")
    with right:
        st.plotly_chart(figures.fusion_sweep(sweep, best_alpha, alpha), key="fusion_chart")


fusion_panel()

st.header("Per-class accuracy")
sort = st.selectbox(
    "Order classes by", ["fusion_gain", "fused", "rgb", "pose", "class_id", "support"], key="pc_sort"
)
table = table.sort_values(sort, kind="stable")
st.plotly_chart(figures.per_class_dots(table), key="per_class_chart")
helps, hurts = st.columns(2)
shown = ["class", "support", "rgb", "pose", "fused", "fusion_gain"]
pct = {c: st.column_config.NumberColumn(format="percent") for c in ("rgb", "pose", "fused", "fusion_gain")}
with helps:
    st.subheader("Where fusion helps most")
    st.dataframe(table.nlargest(5, "fusion_gain")[shown], hide_index=True, column_config=pct, key="helps")
with hurts:
    st.subheader("Where fusion hurts most")
    st.dataframe(table.nsmallest(5, "fusion_gain")[shown], hide_index=True, column_config=pct, key="hurts")
with st.expander("All classes (click a column header to sort)"):
    st.dataframe(table[["class_id", *shown]], hide_index=True, column_config=pct, key="all_classes")
if other is not None:
    st.header(f"Per-class difference to {other.path.name}")
    diff = analysis_cache.run_summary(other)[1]
    delta = table[["class_id", "class"]].copy()
    for stream in STREAMS:
        delta[stream] = (
            table[stream].to_numpy() - diff.set_index("class_id").loc[table["class_id"], stream].to_numpy()
        )
    st.dataframe(delta.sort_values("fused"), hide_index=True, column_config=pct, key="run_delta")
