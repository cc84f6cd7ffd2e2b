"""Bring your own video: poses (MediaPipe), person-centric crop, EPAM-Net, and a label-free evaluation run.

``analyze_video`` writes a run directory the dashboard opens like any other (``epam_core.runs.format``), with
one sample whose label is -1 (unknown), the three streams' logits, the attention maps, and the extracted
poses inside the run (``poses.pkl``, a pyskl file). The manifest's ``dataset.videos`` is the video's
directory and the sample id is the video's file name without extension, so ``find_video`` finds it.
The clip is sampled from the whole video, as in testing on the datasets (``input.pose_frames`` frames
spread uniformly), with the input configuration stored in the checkpoint.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import torch

from epam_core.checkpoint import load_checkpoint
from epam_core.data.dataset import VIDEO_SUFFIXES, find_video
from epam_core.data.pipeline import clip_to_tensors, load_clip
from epam_core.data.pyskl import save_annotations
from epam_core.errors import DataError
from epam_core.outputs import atomic_dir, atomic_write_file, check_replaceable
from epam_core.poses.extract import MAX_PERSONS, MAX_SIDE, Progress, extract_video_poses, to_annotation
from epam_core.runs.evaluate import check_inputs_finite, check_scores_finite
from epam_core.runs.format import MANIFEST, RUN_KIND, AttentionMaps, is_run_dir, predictions_frame, write_run
from epam_core.runs.manifest import resolve_class_names, run_manifest

log = logging.getLogger(__name__)

POSES_FILE = "poses.pkl"  # the extracted poses, inside the run directory
SPLIT = "all"
POSE_SHARE = 0.85  # of the progress bar: pose extraction is most of the time


def analyze_video(
    video: str | Path,
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
    overwrite: bool = False,
    max_side: int = MAX_SIDE,
    max_persons: int = MAX_PERSONS,
    source: str = "epam analyze",
) -> Path:
    """Run ``checkpoint`` on ``video`` and write the label-free evaluation run ``out_dir`` (atomically).

    Up to ``max_persons`` people per frame are found; the crop covers all of them.
    ``progress(fraction, message)`` is called during pose extraction (per frame) and at each later step.
    Raises ``DataError`` (bad video, nobody in it), ``CheckpointError`` or ``RunError`` (``out_dir`` exists).
    """
    video, out_dir = Path(video), Path(out_dir)
    report = progress or (lambda _fraction, _message: None)
    check_replaceable(out_dir, overwrite, is_run_dir, RUN_KIND)  # before the long part
    loaded = load_checkpoint(checkpoint)  # before the long part: a bad checkpoint fails at once
    model, config = loaded.model, loaded.model.config
    class_names = resolve_class_names(config.num_classes, (str(checkpoint), loaded.class_names))

    poses = extract_video_poses(
        [video],
        max_side=max_side,
        progress=lambda f, msg: report(POSE_SHARE * f, msg),
        max_persons=max_persons,
    )[0]
    annotation = to_annotation(poses)
    if find_video_or_none(video.parent, video.stem) != video.resolve():
        log.warning(
            "%s: find_video(%s, %r) does not give this file (suffix not in %s, or a namesake with another "
            "suffix comes first), so pages that look the video up by sample id will not find it",
            video,
            video.parent,
            video.stem,
            ", ".join(VIDEO_SUFFIXES),
        )
    report(POSE_SHARE, "decoding and cropping the sampled frames")
    clip = load_clip(annotation, video, config.input)
    rgb, heatmaps = clip_to_tensors(clip, config.input)  # (3, T_rgb, S, S), (V, T_pose, H, W)
    report(0.9, "running EPAM-Net")
    with torch.inference_mode():
        out = model(rgb[None], heatmaps[None])  # batch of one
    check_inputs_finite(rgb[None], heatmaps[None], [f"{video}"])
    check_scores_finite(out, [f"{video}"], checkpoint)

    sample_id = annotation["frame_dir"]
    predictions = predictions_frame(
        [sample_id],
        np.array([-1]),  # no label: a video nobody annotated
        out.rgb_logits.numpy(),
        out.pose_logits.numpy(),
        fusion_weights=model.fusion_weights,
        fused_logits=out.fused_logits.numpy(),
    )
    attention = AttentionMaps(
        np.array([sample_id]),
        out.spatial_attention.numpy().astype(np.float16),  # (1, T_rgb, h, w)
        out.temporal_attention.numpy().astype(np.float16),  # (1, T_rgb)
    )
    manifest = run_manifest(
        source=source,
        run_dir=out_dir,
        class_names=class_names,
        num_samples=1,
        annotation=out_dir / POSES_FILE,
        split=SPLIT,
        videos=video.parent,
        config=config,
        checkpoint=checkpoint,
        fusion_weights=model.fusion_weights,
        analyze={
            "video": video.name,
            "frames": int(annotation["total_frames"]),
            "frames_with_person": int(poses.detected.any(axis=1).sum()),
            "persons": int(annotation["keypoint"].shape[0]),
            "max_persons": max_persons,
            "fps": poses.fps,
            "pose_estimator": "MediaPipe BlazePose 0.10.21 (detector + model_complexity=1 landmarks per person), "
            "BlazePose-33 -> COCO-17",
        },
    )
    manifest["dataset"]["name"] = video.stem
    report(0.95, "writing the evaluation run")
    with atomic_dir(out_dir, overwrite, is_run_dir, RUN_KIND) as tmp:
        save_annotations(tmp / POSES_FILE, [annotation], {SPLIT: [sample_id]})
        run = write_run(tmp / "run", manifest, predictions, attention)  # validated, then moved up
        for file in run.iterdir():
            file.rename(tmp / file.name)
        run.rmdir()
    top = int(out.fused_logits[0].argmax())
    log.info("%s: fused prediction %r; wrote %s", video.name, class_names[top], out_dir)
    report(1.0, f"done: {class_names[top]}")
    return out_dir


def find_video_or_none(video_root: Path, sample_id: str) -> Path | None:
    """Where the dataset's video lookup (``find_video``) finds a sample's video, or None."""
    try:
        return find_video(video_root, sample_id).resolve()
    except DataError:
        return None


# --- where the dashboard's "Analyze a video" page puts things (a run per video, uploads kept beside them) ---

UPLOAD_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv")  # suffixes ``find_video`` knows, as uploads are saved
RUN_PREFIX = "analyze_"


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``-`` and ``_`` replaced by ``_`` (never empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"


def analysis_run_dir(runs_root: str | Path, video: str | Path) -> Path:
    """A new run directory for the analysis of ``video``: ``runs_root/analyze_<stem>``, or ``..._2``, ``..._3``
    when taken. When ``runs_root`` is itself a run, beside it (a run directory is not a place for others)."""
    root = Path(runs_root)
    if (root / MANIFEST).is_file():
        root = root.parent
    base = root / f"{RUN_PREFIX}{safe_name(Path(video).stem)}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}_{n}")
    return out


def save_upload(folder: str | Path, filename: str, data: bytes) -> Path:
    """Keep an uploaded video as ``folder/<safe stem><suffix>`` (written atomically) and return its path.

    The same bytes uploaded again reuse their file; another video of the same name gets ``_2``, ``_3``, ... so
    that ``find_video(folder, stem)`` finds exactly this file. Raises ``DataError`` for a suffix that
    ``find_video`` does not know, or an empty file.
    """
    folder, suffix = Path(folder), Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise DataError(filename, f"not a video file name this tool reads (use {', '.join(UPLOAD_SUFFIXES)})")
    if not data:
        raise DataError(filename, "is empty (0 bytes)")
    folder.mkdir(parents=True, exist_ok=True)
    base, n = safe_name(Path(filename).stem), 1
    while True:
        stem = base if n == 1 else f"{base}_{n}"
        path, taken = folder / f"{stem}{suffix}", find_video_or_none(folder, stem)
        if taken is None:
            return atomic_write_file(path, lambda tmp: tmp.write_bytes(data))
        if taken == path.resolve() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
        n += 1
