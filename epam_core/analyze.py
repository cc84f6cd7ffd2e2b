"""Bring your own video: poses (MediaPipe), person-centric crop, EPAM-Net, and a label-free evaluation run.

``analyze_video`` writes a run directory the dashboard opens like any other (``epam_core.runs``), with
one sample whose label is -1 (unknown), the three streams' logits, the attention maps, and the extracted
poses inside the run (``poses.pkl``, a pyskl file). The manifest's ``dataset.videos`` is the video's
directory and the sample id is the video's file name without extension, so ``find_video`` finds it.
The clip is sampled from the whole video, as in testing on the datasets (``input.pose_frames`` frames
spread uniformly), with the input configuration stored in the checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from epam_core.checkpoint import load_checkpoint
from epam_core.data.dataset import VIDEO_SUFFIXES, find_video
from epam_core.data.pipeline import clip_to_tensors, load_clip
from epam_core.data.pyskl import save_annotations
from epam_core.errors import DataError, RunError
from epam_core.evaluation import resolve_class_names, run_manifest
from epam_core.poses.extract import MAX_SIDE, Progress, extract_video_poses, to_annotation
from epam_core.runs import AttentionMaps, atomic_dir, predictions_frame, write_run

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
    source: str = "epam analyze",
) -> Path:
    """Run ``checkpoint`` on ``video`` and write the label-free evaluation run ``out_dir`` (atomically).

    ``progress(fraction, message)`` is called during pose extraction (per frame) and at each later step.
    Raises ``DataError`` (bad video, nobody in it), ``CheckpointError`` or ``RunError`` (``out_dir`` exists).
    """
    video, out_dir = Path(video), Path(out_dir)
    report = progress or (lambda _fraction, _message: None)
    if out_dir.exists() and not overwrite:
        raise RunError(out_dir, "already exists; choose another --out or pass --overwrite")
    loaded = load_checkpoint(checkpoint)  # before the long part: a bad checkpoint fails at once
    model, config = loaded.model, loaded.model.config
    class_names = resolve_class_names(config.num_classes, (str(checkpoint), loaded.class_names))

    poses = extract_video_poses(
        [video], max_side=max_side, progress=lambda f, msg: report(POSE_SHARE * f, msg)
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
    if not torch.isfinite(out.fused_logits).all():
        raise DataError(video, "the model gave NaN or infinite scores for this video")

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
            "frames_with_person": int(poses.detected.sum()),
            "fps": poses.fps,
            "pose_estimator": "MediaPipe Pose 0.10.21 (model_complexity=1), BlazePose-33 -> COCO-17",
        },
    )
    manifest["dataset"]["name"] = video.stem
    report(0.95, "writing the evaluation run")
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
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
