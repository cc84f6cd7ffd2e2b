"""Sample: the model's person-centric frames with EPAM-Net's spatial attention overlaid, its temporal attention
as a bar under each frame, the skeleton, the three streams' top-k scores, and Captum attributions on demand."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import attention_cache, live_cache, loaders, selection
from epam_core.analysis import attention_figures, figures, metrics, overlay, paper_figures
from epam_core.analysis import attention_measures as attention_measures_lib
from epam_core.data.coco_keypoints import COCO_KEYPOINTS, COCO_LIMBS
from epam_core.errors import EpamError
from epam_core.runs.format import STREAMS

run = selection.require_run()
st.title("Sample")
wrong_only = st.toggle(
    "Only samples the fused stream gets wrong", key="sample_wrong", disabled=not run.has_labels
)


def describe(sample_id: str) -> str:
    i = run.index_of(sample_id)
    label = int(run.labels[i])
    truth = run.class_names[label] if label >= 0 else "unlabelled"
    return f"{sample_id} · {truth} → {run.class_names[int(run.preds('fused')[i])]}"


wrong = (run.labels >= 0) & (run.preds("fused") != run.labels)
sample_id = selection.sample_picker(
    run, only=wrong if wrong_only and wrong.any() else None, format_func=describe
)
st.query_params["sample"] = sample_id
row = run.index_of(sample_id)
label = int(run.labels[row])
k = min(5, run.num_classes)
scores = {s: metrics.topk_scores(run.logits(s)[row], run.class_names, k) for s in STREAMS}
cols = st.columns(4)
cols[0].metric("true class", run.class_names[label] if label >= 0 else "unknown")
for col, s in zip(cols[1:], STREAMS, strict=True):
    top = scores[s].iloc[0]
    col.metric(
        f"{figures.STREAM_LABELS[s]} prediction",
        top["class"],
        f"p = {top['prob']:.2f}",
        delta_color="off",
        delta_arrow="off",
    )
st.plotly_chart(figures.topk_bars(scores, f"Top-{k} scores in the run"), key="sample_topk")
attention_measures = attention_cache.usable_measures(run)  # RGB with uniform / no attention, when recorded
if attention_measures is not None:
    variants = attention_cache.sample_variant_logits(run, attention_measures, sample_id)
    st.plotly_chart(
        attention_figures.rgb_variant_bars(
            attention_measures_lib.variant_scores(variants, run.class_names, k)
        ),
        key="sample_rgb_variants",
    )

st.header("Frames, attention and skeleton")
try:
    clip, model, config = loaders.load_clip(run, sample_id)
except EpamError as err:
    st.error(f"The frames of {sample_id} cannot be shown. {err}")
    if run.attention is None:
        st.stop()
    st.caption("The attention stored in the run (`attention.npz`), on its own grid:")
    spatial, temporal = run.attention.for_sample(sample_id)
    st.image(
        overlay.attention_grid_strip(spatial, temporal),
        caption=f"{len(spatial)} RGB frames: spatial attention on its {spatial.shape[1]}×{spatial.shape[2]} "
        "grid (viridis, 0 to 1); bar under each map = temporal attention",
        width="stretch",
    )
    st.plotly_chart(figures.temporal_bars(temporal), key="sample_temporal")
    st.stop()

from epam_core.analysis.attribution import RGB_METHODS  # noqa: E402
from epam_core.runs import single_clip  # noqa: E402 - torch and Captum only once there are frames to show

c1, c2, c3 = st.columns(3)
show_att = c1.toggle("Spatial attention overlay", value=True, key="sample_att")
show_skel = c2.toggle("Skeleton", value=True, key="sample_skel")
alpha = c3.slider("Overlay opacity", 0.0, 1.0, 0.45, 0.05, key="sample_alpha")
if run.attention is not None:
    spatial, temporal = run.attention.for_sample(sample_id)
    st.caption("Attention as stored in the run (`attention.npz`).")
else:
    result = live_cache.forward(loaders.live_key(run), sample_id, None, 0.0, 0, clip, model, config)
    spatial, temporal = result.spatial, result.temporal
    st.caption("The run stores no attention; it was recomputed with the run's model.")
frames = clip.rgb_frames
if show_att:
    frames = overlay.overlay_attention(frames, spatial, alpha)
if show_skel:
    kp, score = single_clip.rgb_keypoints(clip, config.input.frame_stride)
    frames = np.stack(
        [overlay.draw_skeleton(f, p, s, COCO_LIMBS) for f, p, s in zip(frames, kp, score, strict=True)]
    )
st.image(
    overlay.frame_strip(frames, temporal),
    caption=f"{len(frames)} RGB frames (video frames {', '.join(map(str, clip.rgb_indices))}); "
    "bar under each frame = temporal attention",
    width="stretch",
)
strip_title = f"{sample_id}: spatial attention, skeleton; bars = temporal attention"
cols = st.columns([2, 1, 1, 1])
cols[0].caption("Download this strip as a paper figure:")
for col, fmt in zip(cols[1:], paper_figures.FORMATS, strict=True):
    col.download_button(
        fmt.upper(), data=lambda f=fmt: paper_figures.figure_bytes(
            paper_figures.attention_strip(frames, temporal, strip_title), f
        ), file_name=f"{sample_id}_attention.{fmt}", key=f"strip_{fmt}", on_click="ignore",
    )  # fmt: skip
legend, bars = st.columns([1, 2])
with legend:
    st.pyplot(overlay.legend_figure("spatial / temporal attention"), width="content")
    st.caption(
        f"Attention computed on a {spatial.shape[1]}×{spatial.shape[2]} grid, upsampled bilinearly to "
        f"{clip.rgb_frames.shape[1]}×{clip.rgb_frames.shape[2]} px."
    )
with bars:
    st.plotly_chart(figures.temporal_bars(temporal), key="sample_temporal")

st.header("Attributions (Captum)")
a1, a2, a3 = st.columns(3)
stream = a1.selectbox("Stream", STREAMS, index=2, format_func=figures.STREAM_LABELS.get, key="attr_stream")
target = a2.selectbox(
    "Class", list(range(run.num_classes)), index=int(run.preds("fused")[row]), format_func=run.class_names.__getitem__,
    key="attr_target",
)  # fmt: skip
method = a3.selectbox(
    "RGB method", RGB_METHODS, format_func={"gradcam": "Grad-CAM", "saliency": "Saliency"}.get
)
key = (loaders.live_key(run), sample_id, stream, int(target), method)
if st.button("Compute attributions", key="attr_go"):
    st.session_state["attr_key"] = key
if st.session_state.get("attr_key") == key:
    joints, rgb_map = live_cache.attributions(*key, clip, model, config)
    st.plotly_chart(
        figures.joint_importance(joints, list(COCO_KEYPOINTS), f"Per-joint importance ({stream} stream)"),
        key="attr_joints",
    )
    if rgb_map.any():
        st.image(
            overlay.frame_strip(
                overlay.overlay_attention(clip.rgb_frames, rgb_map, 0.55), rgb_map.mean(axis=(1, 2))
            ),
            caption=f"{method} on the RGB frames (bar = mean over the frame)",
            width="stretch",
        )
    else:
        st.info(f"The {stream} stream does not depend on the RGB frames here: no RGB attribution.")
else:
    st.caption(
        "Attributions are computed on demand (a few seconds on CPU) and cached per sample, stream and class."
    )
