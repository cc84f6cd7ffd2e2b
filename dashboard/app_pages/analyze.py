"""Analyze a video: a video of one's own (uploaded, or a path on the server) -> poses (MediaPipe), the model,
and a label-free evaluation run under the runs directory, which becomes the selected run (`epam analyze`)."""

from __future__ import annotations

import streamlit as st

from dashboard import loaders, paths, selection
from dashboard import session_keys as keys
from epam_core import typed_paths
from epam_core.errors import EpamError
from epam_core.runs import own_video

UPLOAD, LOCAL = "Upload a file", "Path on this machine"
DEMO_CHECKPOINT = paths.REPO / "checkpoints" / "epam_demo.pt"


def default_checkpoint() -> str:
    """The selected run's checkpoint when it has one on disk, else the bundled demo checkpoint."""
    try:
        path = st.session_state.get(keys.RUN_PATH)
        run = loaders.load_run(path) if path else None
    except EpamError:
        run = None
    ckpt = run.resolve((run.manifest.get("model") or {}).get("checkpoint")) if run else None
    return str(ckpt if ckpt is not None and ckpt.is_file() else DEMO_CHECKPOINT)


st.title("Analyze a video")
root = paths.runs_root()
st.caption(
    "Extracts the poses of up to the given number of people per frame (MediaPipe, run `make poses` once), "
    "keeps who is who across frames, crops around all of them, runs the model and writes an evaluation run "
    f"without a label into `{root}`, like `epam analyze VIDEO --checkpoint CKPT --out RUN_DIR --max-persons N`. "
    "Pose extraction takes a few seconds per hundred frames; stay on this page until it ends."
)
source = st.radio("Video", [UPLOAD, LOCAL], horizontal=True, key="analyze_source")
if source == UPLOAD:
    upload = st.file_uploader(
        "Video file",
        type=[s.lstrip(".") for s in own_video.UPLOAD_SUFFIXES],
        key="analyze_upload",
        help=f"Kept in `{root / 'uploads'}`, which the run refers to for its frames",
    )
    typed = ""
else:
    upload = None
    typed = st.text_input("Video path", key="analyze_path", placeholder="/data/clips/my_clip.mp4").strip()
if note := typed_paths.dashboard_note(root, st.get_option("server.address")):
    st.caption(note)
checkpoint = st.text_input(
    "Checkpoint", value=default_checkpoint(), key="analyze_checkpoint", help="An EPAM-Net checkpoint (.pt)"
).strip()
max_persons = st.number_input(
    "People per frame, at most",
    min_value=1,
    max_value=4,
    value=own_video.MAX_PERSONS,
    step=1,
    key="analyze_max_persons",
    help="2 as in pyskl's NTU files: the two-person classes (hugging, handshaking, ...) need both skeletons",
)

if st.button("Analyze", type="primary", key="analyze_go", disabled=not (upload or typed) or not checkpoint):
    st.session_state.pop("analyze_done", None)
    bar = st.progress(0.0, text="starting")
    last = ["starting"]

    def report(fraction: float, message: str) -> None:
        last[0] = message
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

    try:
        if upload is not None:
            video = own_video.save_upload(root / "uploads", upload.name, upload.getvalue())
        else:
            video = typed_paths.check_dashboard_path(typed, root, st.get_option("server.address"))
        out = own_video.analysis_run_dir(root, video)
        offered = (default_checkpoint(), DEMO_CHECKPOINT)  # the page's own suggestions may always be used
        ckpt = typed_paths.check_dashboard_path(checkpoint, root, st.get_option("server.address"), offered)
        own_video.analyze_video(
            video,
            ckpt,
            out,
            progress=report,
            max_persons=int(max_persons),
            source="epam dashboard (Analyze a video)",
        )
        run = loaders.load_run(out)
        sample_id, prediction = str(run.sample_ids[0]), run.class_names[int(run.logits("fused")[0].argmax())]
        found = own_video.find_video_or_none(video.parent, sample_id)
    except (EpamError, OSError) as err:
        bar.empty()
        st.error(f"The analysis did not finish. {err}")
    else:
        st.session_state["analyze_done"] = {
            "run": str(out),
            "sample": sample_id,
            "message": last[0],
            "prediction": prediction,
            "frames_found": found == video.resolve(),
        }
        selection.select_run(out)
        st.rerun()  # the sidebar shows the new run as the selected one

done = st.session_state.get("analyze_done")
if done:
    st.progress(1.0, text=done["message"])
    st.success(f"Wrote the run `{done['run']}` and selected it. Fused prediction: **{done['prediction']}**.")
    if not done["frames_found"]:
        st.warning(
            f"The Sample page looks the frames up by name ({', '.join(own_video.UPLOAD_SUFFIXES)}) and will not "
            "find this video's; rename it to one of those suffixes to see them."
        )
    if st.button("Open it on the Sample page", key="analyze_open", icon=":material/movie:"):
        selection.open_sample(done["sample"])
