"""Attention: does EPAM-Net's pose-driven attention look at the body, fire when the skeleton moves, and help
the RGB stream? Run and per-class aggregates of ``attention_measures.parquet``, one sample's temporal attention
against its motion, paper figures and tables."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import attention_cache, selection
from epam_core.analysis import attention_figures, paper_figures, tables
from epam_core.analysis import attention_measures as am
from epam_core.analysis.attention_report import attention_figure_builders
from epam_core.analysis.paper_figures import FigureSize
from epam_core.errors import EpamError

SHORT_LABELS = {"uniform": "uniform attention", "none": "no attention"}

run = selection.require_run()
st.title("Attention")
st.caption(
    "Where the spatial attention falls: the share of each frame's attention map on the body drawn from the "
    "clip's own keypoints (head, arms and hands, torso, legs), next to the part's share of the crop (what "
    "uniform attention gives). When the temporal attention fires: Pearson's r with the mean joint speed. What "
    "it buys: the RGB stream with the attention replaced by its per-sample mean (uniform) and with none (A = 0)."
)
try:
    frame = attention_cache.measures(run)
except EpamError as err:
    st.error(f"The attention measures of this run cannot be used. {err}")
    st.stop()
if frame is None:
    st.info(
        "This run has no attention measures (`attention_measures.parquet`). `epam evaluate` writes them; add "
        f"them to this run with `epam attention --run {run.path}`."
    )
    st.stop()

section = am.attention_section(frame, run.labels, run.logits("rgb"))
parts = am.part_table(frame)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


c1, c2, c3, c4, c5 = st.columns(5)
ratio = parts.set_index("part").loc["body", "ratio"]
c1.metric(
    "attention on the body", pct(section["on_body"]), f"{ratio:.2f}× chance" if np.isfinite(ratio) else None,
    delta_color="off", delta_arrow="off", help=f"chance (the body's share of the crop): {pct(section['on_body_chance'])}",
)  # fmt: skip
corr = section["temporal_motion_corr"]
c2.metric("temporal vs motion (mean r)", "–" if corr is None else f"{corr:+.2f}")
top1 = section["rgb_top1"]
c3.metric("RGB top-1 with the attention", pct(top1["model"]))
for col, variant in ((c4, "uniform"), (c5, "none")):
    bought = None if top1["model"] is None else f"{(top1['model'] - top1[variant]) * 100:+.1f} pp bought"
    col.metric(f"RGB top-1, {SHORT_LABELS[variant]}", pct(top1[variant]), bought, delta_color="off",
               delta_arrow="off")  # fmt: skip

st.plotly_chart(attention_figures.part_ratio_bars(parts), key="att_parts")
att_tables = attention_cache.tables(run, frame)
st.header("Per class")
st.plotly_chart(attention_figures.class_part_heatmap(att_tables["attention_classes"]), key="att_heatmap")
if "attention_gain" in att_tables:
    gain = att_tables["attention_gain"]
    st.plotly_chart(attention_figures.attention_gain_bars(gain), key="att_gain")
    st.dataframe(
        gain.drop(columns="class_id"), hide_index=True, key="att_gain_table",
        column_config={c: st.column_config.NumberColumn(format="percent") for c in
                       ("model", "uniform", "none", "gain_vs_uniform", "gain_vs_none")},
    )  # fmt: skip
else:
    st.info("This run has no labels: the accuracy the attention buys needs labels.")

st.header("One sample")
sample_id = selection.sample_picker(run)
row = frame.iloc[run.index_of(sample_id)]  # the measures are in the order of the run
left, right = st.columns([2, 1])
with left:
    if run.attention is not None:
        _, temporal = run.attention.for_sample(sample_id)
        st.plotly_chart(
            attention_figures.temporal_vs_motion(temporal, np.asarray(row["motion"])), key="att_motion"
        )
    else:
        st.info("The run stores no attention maps (`attention.npz`), only their measures.")
with right:
    st.metric("temporal attention vs motion (r)", f"{row['temporal_motion_corr']:+.2f}")
    shown = {"body": ("on_body", "on_body_chance"), **{p: (f"{p}_mass", f"{p}_chance") for p in am.PARTS}}
    st.dataframe(
        {"part": list(shown), "attention": [row[m] for m, _ in shown.values()],
         "chance": [row[c] for _, c in shown.values()]},
        hide_index=True, key="att_sample_parts",
        column_config={c: st.column_config.NumberColumn(format="percent") for c in ("attention", "chance")},
    )  # fmt: skip
    if st.button("Open in the Sample page", key="att_open"):
        selection.open_sample(sample_id)

st.header("Export")
builders = attention_figure_builders(run)
for name, build in builders.items():
    cols = st.columns([2, 1, 1, 1])
    cols[0].markdown(f"**{name}** (paper style)")
    for col, fmt in zip(cols[1:], paper_figures.FORMATS, strict=True):
        col.download_button(
            fmt.upper(), data=lambda b=build, f=fmt: paper_figures.figure_bytes(b(FigureSize(3.5, 3.3)), f),
            file_name=f"{run.path.name}_{name}.{fmt}", key=f"att_dl_{name}_{fmt}", on_click="ignore",
        )  # fmt: skip
for name, table in att_tables.items():
    cols = st.columns([2, 1, 1])
    cols[0].markdown(f"**{name}** ({len(table)} rows)")
    cols[1].download_button(
        "CSV", tables.to_csv(table), f"{run.path.name}_{name}.csv", "text/csv", key=f"att_csv_{name}",
        on_click="ignore",
    )  # fmt: skip
    cols[2].download_button(
        "LaTeX", tables.to_latex(table, caption=name.replace("_", " "), label=f"tab:{name}"),
        f"{run.path.name}_{name}.tex", "application/x-tex", key=f"att_tex_{name}", on_click="ignore",
    )  # fmt: skip
st.caption(
    f"All figures and tables of the run, from the command line: `epam export --run {run.path} --out DIR`."
)
