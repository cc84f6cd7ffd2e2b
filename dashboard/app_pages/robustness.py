"""Robustness: skeleton noise applied live to one sample (noisy skeleton, new attention, new scores), and
accuracy-vs-level curves from the run's sweep or computed on a subset on demand."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import streamlit as st

from dashboard import attention_cache, live_cache, loaders, selection
from epam_core.analysis import figures, metrics, overlay
from epam_core.data.coco_keypoints import COCO_LIMBS
from epam_core.data.noise import NOISE_TYPES
from epam_core.errors import EpamError
from epam_core.runs import single_clip
from epam_core.runs.format import STREAMS
from epam_core.runs.robustness import Condition, robustness_frame

run = selection.require_run()
st.title("Robustness")
sample_id = selection.sample_picker(run)
c2, c3 = st.columns([4, 1])
noise = c2.selectbox("Noise type", list(NOISE_TYPES), key="noise_type")
seed = int(c3.number_input("Seed", 0, 10_000, 0, key="noise_seed"))
spec = NOISE_TYPES[noise]
st.caption(f"**{noise}** ({spec.unit}): {spec.description}")


@st.fragment
def live_panel() -> None:
    """Re-runs only this panel when the level moves: the clip is decoded once, the heatmaps and forward change."""
    try:
        clip, model, config = loaders.load_clip(run, sample_id)
    except EpamError as err:
        st.error(f"Sample {sample_id} cannot be re-run. {err}")
        return
    level = st.slider(
        f"Level ({spec.unit})", 0.0, float(spec.max_level), 0.0, spec.max_level / 20, key="noise_level"
    )
    start = time.perf_counter()
    result = live_cache.forward(loaders.live_key(run), sample_id, noise, level, seed, clip, model, config)
    elapsed = time.perf_counter() - start
    label = int(run.labels[run.index_of(sample_id)])
    cols = st.columns(4)
    cols[0].metric("true class", run.class_names[label] if label >= 0 else "unknown")
    for col, stream in zip(cols[1:], STREAMS, strict=True):
        top = metrics.topk_scores(result.logits(stream), run.class_names, 1).iloc[0]
        col.metric(
            f"{figures.STREAM_LABELS[stream]} prediction",
            top["class"],
            f"p = {top['prob']:.3f}",
            delta_color="off",
            delta_arrow="off",
        )
    st.caption(f"Forward pass with noise: {elapsed * 1000:.0f} ms (cached levels are instant).")
    clean = live_cache.forward(loaders.live_key(run), sample_id, noise, 0.0, seed, clip, model, config)
    moved = attention_cache.attention_moved(run, sample_id, clip, config, clean, result)
    cols = st.columns(4)
    cols[0].metric(
        "attention moved (TV distance)", f"{moved['tv_distance']:.3f}", help="0: same map, 1: disjoint"
    )
    cols[1].metric("centre of attention moved", f"{moved['centroid_shift']:.2f} cells")
    cols[2].metric("temporal attention change", f"{moved['temporal_change']:.3f}")
    cols[3].metric("on the (clean) body: clean → noisy",
                   f"{moved['on_body_clean'] * 100:.1f} → {moved['on_body_noisy'] * 100:.1f} %")  # fmt: skip
    frames = overlay.overlay_attention(clip.rgb_frames, result.spatial, 0.45)
    noisy = replace(clip, keypoint=result.keypoint, keypoint_score=result.keypoint_score)
    kp, score = single_clip.rgb_keypoints(noisy, config.input.frame_stride)
    frames = np.stack(
        [overlay.draw_skeleton(f, p, s, COCO_LIMBS) for f, p, s in zip(frames, kp, score, strict=True)]
    )
    st.image(
        overlay.frame_strip(frames, result.temporal),
        caption="noisy skeleton and the new attention",
        width="stretch",
    )
    k = min(5, run.num_classes)
    scores = {s: metrics.topk_scores(result.logits(s), run.class_names, k) for s in STREAMS}
    st.plotly_chart(figures.topk_bars(scores, f"Top-{k} scores at {noise} = {level:g}"), key="robust_topk")


live_panel()

st.header("Accuracy vs noise level")
if not run.has_labels:
    st.info("This run has no labels: accuracy curves need labels.")
    st.stop()
sweep = run.robustness
if sweep is not None and noise in set(sweep["noise"]):
    curves = metrics.robustness_curves(sweep, noise)
    st.caption(
        f"From the run's sweep (`robustness.parquet`), mean ± std over {sweep['seed'].nunique()} seeds."
    )
    st.plotly_chart(figures.robustness_curves(curves, noise, spec.unit), key="robust_curves")
    st.dataframe(curves, hide_index=True, key="robust_table")
else:
    have = ", ".join(sorted(set(sweep["noise"]))) if sweep is not None else "none"
    st.caption(f"The run's sweep has no {noise} (it has: {have}). Compute it on a subset of the samples:")
    n = st.number_input("Samples", 1, len(run.sample_ids), min(24, len(run.sample_ids)), key="subset_n")
    key = (loaders.live_key(run), noise, int(n), seed)
    if st.button("Compute on a subset", key="subset_go"):
        conditions = [Condition(noise, float(level), seed) for level in spec.default_levels]
        samples, per_sample, bar = [], [], st.progress(0.0, text="Re-running the model…")
        ids = list(run.sample_ids[: int(n)])
        for i, sid in enumerate(ids):
            try:
                clip, model, config = loaders.load_clip(run, sid)
            except EpamError as err:
                st.warning(f"Skipped {sid}: {err}")
                continue
            results = [live_cache.forward(loaders.live_key(run), sid, c.noise, c.level, c.seed, clip, model, config)
                       for c in conditions]  # fmt: skip
            samples.append({"frame_dir": sid, "label": clip.label})
            per_sample.append([tuple(res.logits(s) for s in STREAMS) for res in results])
            bar.progress((i + 1) / len(ids), text=f"{i + 1}/{len(ids)} samples")
        st.session_state["subset_sweep"] = (key, robustness_frame(samples, conditions, per_sample))
    stored = st.session_state.get("subset_sweep")
    if stored and stored[0] == key and len(stored[1]):
        curves = metrics.robustness_curves(stored[1], noise)
        st.plotly_chart(figures.robustness_curves(curves, noise, spec.unit), key="subset_curves")
        st.dataframe(curves, hide_index=True, key="subset_table")
