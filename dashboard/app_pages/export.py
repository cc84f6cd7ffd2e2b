"""Export: every figure as vector PDF / SVG and as PNG at a chosen size and style, tables as CSV and LaTeX.

Figures are drawn with matplotlib (no browser needed; fonts embedded). `epam export --run RUN --out DIR`
writes the same files from the command line.
"""

from __future__ import annotations

import streamlit as st

from dashboard import report_cache, selection
from epam_core.analysis import paper_figures, tables
from epam_core.analysis.paper_figures import FigureSize

run = selection.require_run()
st.title("Export")
st.caption(
    "Paper figures drawn with matplotlib in a colour-blind-safe palette (Okabe-Ito, viridis), TrueType fonts "
    f"embedded. From the command line: `epam export --run {run.path} --out figures/`."
)
c1, c2, c3, c4 = st.columns(4)
style = c1.selectbox(
    "Style", list(paper_figures.STYLES), key="exp_style", help="paper: 8 pt serif; screen: 11 pt sans"
)
width = c2.number_input("Width (inches)", 1.5, 14.0, 3.5, 0.25, key="exp_w", help="3.5 in = one column")
height = c3.number_input("Height (inches)", 1.0, 14.0, 2.6, 0.25, key="exp_h")
dpi = int(c4.number_input("PNG dpi", 72, 1200, 300, 50, key="exp_dpi"))
size = FigureSize(width, height, dpi)


def render(name: str, fmt: str) -> bytes:
    """One figure file, drawn when its button is pressed (or shown as the preview)."""
    return report_cache.figure_file(run, name, fmt, style, size)


MIME = {"pdf": "application/pdf", "svg": "image/svg+xml", "png": "image/png"}
builders = report_cache.figure_builders(run)
st.header("Figures")
if not builders:
    st.info("This run has no labels, so there are no accuracy figures to export.")
preview = st.selectbox("Preview", list(builders), key="exp_preview") if builders else None
if preview:
    st.image(render(preview, "png"), caption=f"{preview} at {width}×{height} in", width=640)
for name in builders:
    cols = st.columns([2, 1, 1, 1])
    cols[0].markdown(f"**{name}**")
    for col, fmt in zip(cols[1:], paper_figures.FORMATS, strict=True):
        col.download_button(
            fmt.upper(), data=lambda n=name, f=fmt: render(n, f), file_name=f"{run.path.name}_{name}.{fmt}",
            mime=MIME[fmt], key=f"dl_{name}_{fmt}", on_click="ignore",
        )  # fmt: skip

st.header("Tables")
for name, table in report_cache.run_tables(run).items():
    cols = st.columns([2, 1, 1])
    cols[0].markdown(f"**{name}** ({len(table)} rows)")
    cols[1].download_button(
        "CSV",
        lambda t=table: tables.to_csv(t),
        f"{run.path.name}_{name}.csv",
        "text/csv",
        key=f"dl_{name}_csv",
        on_click="ignore",
    )
    cols[2].download_button(
        "LaTeX", lambda t=table, n=name: tables.to_latex(t, caption=n.replace("_", " "), label=f"tab:{n}"),
        f"{run.path.name}_{name}.tex", "application/x-tex", key=f"dl_{name}_tex", on_click="ignore",
    )  # fmt: skip
