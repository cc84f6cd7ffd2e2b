"""Embeddings: every clip of the run as a point of a 2-D map of its RGB, pose or concatenated embedding,
coloured by class, prediction, correctness or stream agreement (above ``embeddings_cache.DRAW_MAX`` clips a
seeded sample stratified by the colouring is drawn, all on request); a box or lasso lists every clip inside,
drawn or not, and opens one on the Sample page; a clip's nearest neighbours in each stream (cosine)."""

from __future__ import annotations

import streamlit as st

from dashboard import embeddings_cache, selection
from dashboard import session_keys as keys
from epam_core.analysis import embedding_map, figures, paper_figures
from epam_core.analysis.embedding_map import COLOUR_BY, METHODS
from epam_core.analysis.embeddings import SPACE_LABELS, SPACES, sample_table
from epam_core.analysis.paper_figures import FigureSize
from epam_core.errors import EpamError
from epam_core.runs.format import STREAMS

METHOD_NAMES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}
DETAILED_HOVER_MAX = 20_000  # points drawn; above, the class names in the hover are off by default
ALL = "all"  # the "Points drawn" choice that draws every clip
MIME = {"pdf": "application/pdf", "svg": "image/svg+xml", "png": "image/png"}

run = selection.require_run()
st.title("Embeddings")
try:
    emb = embeddings_cache.embeddings(run)
except EpamError as err:
    st.error(f"Cannot read the embeddings. {err}")
    st.stop()
if emb is None:
    st.info(
        f"This run has no clip embeddings (`{run.path.name}/embeddings.npz`). `epam evaluate --embeddings` "
        f"stores them; `epam embeddings --run {run.path} --extract` adds them to this run when its checkpoint "
        "and videos are at hand. Runs made by `epam import-scores` hold scores only, so they have none."
    )
    st.stop()

c1, c2, c3, c4 = st.columns(4)
space = c1.selectbox("Map", SPACES, format_func=SPACE_LABELS.get, key="emb_space")
colourings = list(COLOUR_BY) if run.has_labels else ["predicted class", "stream agreement"]
colour_by = c2.selectbox("Colour by", colourings, key="emb_colour")
per_stream = colour_by in ("predicted class", "right / wrong")
stream = c3.selectbox(
    "Stream", list(STREAMS), format_func=figures.STREAM_LABELS.get, index=2, key="emb_stream",
    disabled=not per_stream, help="the stream whose prediction colours the points",
)  # fmt: skip
method = c4.selectbox("Projection", METHODS, format_func=METHOD_NAMES.get, key="emb_method")

maps = embeddings_cache.cached_maps(run, method)
if maps is None:
    st.info(
        f"The {METHOD_NAMES[method]} maps of this run's {len(emb):,} clips are not computed yet. They are "
        "computed once and cached in the run directory (UMAP of 50,000 clips: about a minute per map on two "
        "idle cores, several on a busy machine). From the command line: "
        f"`epam embeddings --run {run.path} --method {method}`."
    )
    if not st.button("Compute the maps", key="emb_compute", type="primary"):
        st.stop()
    bar = st.progress(0.0, text="Starting…")
    try:
        maps = embeddings_cache.compute_maps(
            run, method, lambda done, total, s: bar.progress(done / total, text=f"{done}/{total} maps {s}")
        )
    except EpamError as err:
        st.error(f"Cannot compute the maps. {err}")
        st.stop()
    bar.empty()

labels, preds, _ = embeddings_cache.classes(run)
left, right = st.columns([1, 2])
choices = [n for n in embeddings_cache.DRAW_CHOICES if n < len(emb)]  # none: every clip is drawn
draw = ALL
if choices:
    draw = left.selectbox(
        "Points drawn", [*choices, ALL], format_func=lambda n: f"all {len(emb):,}" if n == ALL else f"{n:,}",
        index=choices.index(embeddings_cache.DRAW_MAX) if embeddings_cache.DRAW_MAX in choices else len(choices),
        key="emb_draw", help="above this many clips the map draws a seeded sample, stratified by the colouring "
        "(every group keeps points); a box, a lasso and the neighbours still use every clip. Drawing all "
        "50,000 clips of a run takes seconds in a browser.",
    )  # fmt: skip
draw_limit = None if draw == ALL else int(draw)
detailed = right.toggle(
    "Classes in the hover", value=min(draw_limit or len(emb), len(emb)) <= DETAILED_HOVER_MAX, key="emb_hover",
    help="the true class and every stream's prediction in each point's hover; off, the hover shows the clip "
    "and its group, and the chart sent to the browser is about a fifth as large (10,000 points: 2.3 -> 0.5 MB; "
    "50,000: 11 -> 2.2 MB)",
)  # fmt: skip
fig, drawn = embeddings_cache.scatter(run, maps, space, colour_by, stream, detailed, draw_limit)
if drawn < len(emb):
    st.caption(
        f"Drawn: **{drawn:,} of {len(emb):,} clips**, a seeded sample stratified by the colouring (every group "
        "keeps points; the legend counts all its clips). A box or lasso selects every clip inside it, drawn or "
        "not; *Points drawn* draws them all."
    )
event = st.plotly_chart(
    fig, on_select="rerun", selection_mode=("box", "lasso", "points"), key="emb_chart",
    config={"toImageButtonOptions": {"format": "svg", "filename": f"embeddings_{space}"}},
)  # fmt: skip
# a new box / lasso (or a cleared one) replaces the stored selection; the selection belongs to one map
latest = {k: list(v) for k, v in (event.selection if event else {}).items()}
if latest != st.session_state.get("_emb_last_event"):
    st.session_state["_emb_last_event"] = latest
    st.session_state["emb_selection"] = {**latest, "map": (method, space)}
map_selection = st.session_state.get("emb_selection") or {}
if map_selection.get("map", (method, space)) != (method, space):
    map_selection = {}

codes, groups = embedding_map.colour_groups(colour_by, labels, preds, run.class_names, stream)
cols = st.columns([3, 1, 1, 1])
cols[0].caption(
    "Drag a box or a lasso (toolbar) to list the clips inside; click a legend entry to hide a group."
)
for col, fmt in zip(cols[1:], paper_figures.FORMATS, strict=True):
    col.download_button(
        fmt.upper(), file_name=f"{run.path.name}_embeddings_{space}_{method}.{fmt}", mime=MIME[fmt],
        data=lambda f=fmt: paper_figures.figure_bytes(
            paper_figures.embedding_map(maps.xy[space], codes, groups, SPACE_LABELS[space], FigureSize(3.5, 3.5)), f
        ),
        key=f"emb_dl_{fmt}", on_click="ignore",
    )  # fmt: skip

st.header("Selected clips")
rows = embeddings_cache.selected_rows(run, maps, space, map_selection)
if rows.size == 0:
    st.caption("Nothing selected yet.")
else:
    table = sample_table(rows, emb.sample_ids, labels, preds, run.class_names)
    st.markdown(f"**{len(rows):,} clips** selected on the {SPACE_LABELS[space]} map")
    picked = st.dataframe(
        table, hide_index=True, on_select="rerun", selection_mode="single-row", key="emb_table", height=280
    )
    chosen = int(picked.selection.rows[0]) if picked and picked.selection.rows else 0
    if st.button(
        f"Open {table['sample_id'].iloc[chosen]} on the Sample page", key="emb_open", type="primary"
    ):
        selection.open_sample(str(table["sample_id"].iloc[chosen]))
    if st.session_state.get("_emb_chosen") != table["sample_id"].iloc[chosen]:  # a new pick fills it in
        st.session_state["_emb_chosen"] = st.session_state["emb_nn_id"] = str(table["sample_id"].iloc[chosen])

st.header("Nearest neighbours")
st.session_state.setdefault("emb_nn_id", st.session_state.get(keys.SAMPLE_ID) or str(emb.sample_ids[0]))
left, right = st.columns([3, 1])
query = left.text_input("Sample id", key="emb_nn_id", help="a row picked above fills this in").strip()
k = right.number_input("Neighbours", 1, 100, 10, key="emb_nn_k")
if not emb.has_sample(query):
    st.warning(f"This run has no sample {query!r}.")
    st.stop()
row = emb.index_of(query)
names = [*run.class_names, "unknown"]
st.caption(
    f"{query}: true {names[labels[row]]}; predicted RGB {names[preds['rgb'][row]]}, pose "
    f"{names[preds['pose'][row]]}, fused {names[preds['fused'][row]]}. Each table shows the prediction of "
    "its own stream (fused for the concatenation)."
)
for col, s in zip(st.columns(len(SPACES)), SPACES, strict=True):
    own = f"{'fused' if s == 'concat' else s} prediction"
    col.subheader(SPACE_LABELS[s])
    col.dataframe(
        embeddings_cache.neighbours(run, emb, s, query, int(k))[["sample_id", "cosine", "true", own]],
        hide_index=True,
        key=f"emb_nn_{s}",
        column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
    )
