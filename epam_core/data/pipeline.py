"""One sample's model inputs: sampled frames, the person crop, keypoints, and their tensors
(docs/epam_net_spec.md §3).

``load_clip`` does the expensive, noise-independent part once (decode and crop the RGB frames);
``clip_to_tensors`` turns a clip into the two network inputs and can be called again with skeleton
noise or a flip. The crop box comes from the keypoints of *all* frames of the annotation, as the
authors' offline RGB crop (docs/epam_net_spec.md §3.2); the RGB frames are cropped online with that same
box, so the RGB crop and the heatmap grid cover exactly the same image region (the authors' MMCompact box,
taken from the 48 sampled frames only, aligned only approximately).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from epam_core.config import InputConfig
from epam_core.data.crop import Box, crop_resize, flip_frames, flip_keypoints, keypoints_to_box, person_box
from epam_core.data.heatmaps import keypoints_to_heatmaps
from epam_core.data.pyskl import normalize_annotation, validate_annotation
from epam_core.data.sampling import pose_indices, rgb_indices
from epam_core.data.video import read_frames, video_info
from epam_core.errors import DataError

if TYPE_CHECKING:
    from epam_core.data.noise import NoiseSpec

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01  # video and annotation frame sizes may differ by a scale, not by a shape


@dataclass(frozen=True)
class Clip:
    """A sample's sampled frames: cropped RGB, and keypoints in original image pixels with the crop box."""

    sample_id: str
    label: int
    rgb_frames: np.ndarray  # (T_rgb, S, S, 3) uint8, RGB order, cropped to ``box`` and resized
    keypoint: np.ndarray  # (M, T_pose, V, 2) float32, pixels of the video frames
    keypoint_score: np.ndarray  # (M, T_pose, V) float32
    box: Box  # (x0, y0, x1, y1) in video pixels
    img_shape: tuple[int, int]  # (h, w) of the video frames
    pose_indices: np.ndarray  # (T_pose,) frame indices of the keypoints
    rgb_indices: np.ndarray  # (T_rgb,) = pose_indices[::frame_stride]


def load_clip(
    annotation: Mapping[str, Any],
    video_path: str | Path,
    input_cfg: InputConfig,
    train: bool = False,
    rng: np.random.Generator | None = None,
) -> Clip:
    """Sample, decode and crop one annotated video (pyskl sample dict). Random sampling when ``train``."""
    video_path = Path(video_path)
    ann, keypoint, video_shape = _annotated_video(annotation, video_path)
    return _build_clip(
        ann,
        keypoint,
        video_shape,
        lambda idx, box: crop_resize(_read(video_path, idx, ann), box, input_cfg.rgb_size),
        input_cfg,
        train,
        rng,
    )


def load_crops(
    annotation: Mapping[str, Any], video_path: str | Path, input_cfg: InputConfig, frame_indices: np.ndarray
) -> tuple[np.ndarray, Box, tuple[int, int]]:
    """The person crops of the frames ``frame_indices`` (T × S × S × 3 uint8), the clip's box, the video's (h, w).

    What ``load_clip`` crops, for any frames: the crop cache (``epam prepare``) stores these.
    """
    video_path = Path(video_path)
    ann, keypoint, video_shape = _annotated_video(annotation, video_path)
    box = person_box(keypoint, ann["keypoint_score"], video_shape, padding=input_cfg.crop_padding)
    return crop_resize(_read(video_path, frame_indices, ann), box, input_cfg.rgb_size), box, video_shape


def clip_from_crops(
    annotation: Mapping[str, Any],
    video_shape: tuple[int, int],
    read_crops: Callable[[np.ndarray, Box], np.ndarray],
    input_cfg: InputConfig,
    train: bool = False,
    rng: np.random.Generator | None = None,
    source: str | Path | None = None,
) -> Clip:
    """``load_clip`` with the crops from ``read_crops(rgb_indices, box)`` instead of the video (crop cache).

    ``video_shape`` (h, w) is the video's frame size; ``source`` names the crops' file in errors.
    """
    ann = normalize_annotation(annotation, None, 0)
    validate_annotation(ann, None)
    keypoint = _to_video_pixels(ann, tuple(video_shape), source)
    return _build_clip(ann, keypoint, tuple(video_shape), read_crops, input_cfg, train, rng)


def clip_from_arrays(
    frames: np.ndarray,
    keypoint: np.ndarray,
    keypoint_score: np.ndarray,
    input_cfg: InputConfig,
    sample_id: str = "video",
    label: int = -1,
) -> Clip:
    """A test-mode clip from decoded RGB frames (T × H × W × 3 uint8) and their keypoints (M × T × V × 2).

    For videos without an annotation file (bring-your-own-video): the keypoints come from a pose
    estimator run on the same frames.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    ann = {
        "frame_dir": sample_id,
        "label": label,
        "img_shape": frames.shape[1:3],
        "total_frames": frames.shape[0],
        "keypoint": keypoint,
        "keypoint_score": keypoint_score,
    }
    ann = normalize_annotation(ann, None, 0)
    validate_annotation(ann, None)
    kp = ann["keypoint"].astype(np.float32)
    return _build_clip(
        ann,
        kp,
        frames.shape[1:3],
        lambda idx, box: crop_resize(frames[idx], box, input_cfg.rgb_size),
        input_cfg,
        False,
        None,
    )


def clip_to_tensors(
    clip: Clip,
    input_cfg: InputConfig,
    noise: Sequence[NoiseSpec] | None = None,
    seed: int = 0,
    flip: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The network inputs of a clip: RGB 3 × T_rgb × S × S normalised, heatmaps V × T_pose × H × W (float32).

    Skeleton ``noise`` is applied to the image-pixel keypoints (seeded by ``seed``) before they are mapped
    into the box and drawn; the RGB frames do not change with it. ``flip`` mirrors both streams.
    """
    keypoint, score = clip.keypoint, clip.keypoint_score
    if noise:
        from epam_core.data.noise import apply_noise  # the robustness probe; only needed with noise

        keypoint, score = apply_noise(keypoint, score, list(noise), seed=seed, box=clip.box)
    grid = (input_cfg.heatmap_size, input_cfg.heatmap_size)
    keypoint = keypoints_to_box(keypoint, score, clip.box, grid)  # (M, T_pose, V, 2) heatmap pixels
    frames = clip.rgb_frames
    if flip:
        keypoint, score = flip_keypoints(keypoint, score, width=input_cfg.heatmap_size)
        frames = flip_frames(frames)
    heatmaps = keypoints_to_heatmaps(keypoint, score, grid, sigma=input_cfg.sigma)  # (V, T_pose, H, W)
    mean = np.asarray(input_cfg.rgb_mean, dtype=np.float32)
    std = np.asarray(input_cfg.rgb_std, dtype=np.float32)
    rgb = ((frames.astype(np.float32) - mean) / std).transpose(3, 0, 1, 2)  # (T, S, S, 3) -> (3, T, S, S)
    return torch.from_numpy(np.ascontiguousarray(rgb)), torch.from_numpy(heatmaps)


def _build_clip(
    ann: Mapping[str, Any],
    keypoint: np.ndarray,
    img_shape: tuple[int, int],
    read_crops: Callable[[np.ndarray, Box], np.ndarray],
    input_cfg: InputConfig,
    train: bool,
    rng: np.random.Generator | None,
) -> Clip:
    score = ann["keypoint_score"].astype(np.float32)
    if keypoint.shape[2] != input_cfg.num_joints:
        raise DataError(
            None,
            f"sample {ann['frame_dir']!r}: {keypoint.shape[2]} joints, the model uses {input_cfg.num_joints}",
        )
    pose_idx = pose_indices(ann["total_frames"], input_cfg, train=train, rng=rng)
    rgb_idx = rgb_indices(pose_idx, input_cfg.frame_stride)
    box = person_box(keypoint, score, img_shape, padding=input_cfg.crop_padding)  # all frames (module doc)
    rgb = read_crops(rgb_idx, box)  # (T_rgb, S, S, 3)
    return Clip(
        sample_id=ann["frame_dir"],
        label=int(ann["label"]),
        rgb_frames=rgb,
        keypoint=keypoint[:, pose_idx],
        keypoint_score=score[:, pose_idx],
        box=box,
        img_shape=tuple(img_shape),
        pose_indices=pose_idx,
        rgb_indices=rgb_idx,
    )


def _annotated_video(
    annotation: Mapping[str, Any], video_path: Path
) -> tuple[dict[str, Any], np.ndarray, tuple[int, int]]:
    """The checked annotation, its keypoints in the video's pixels and the video's (h, w)."""
    ann = normalize_annotation(annotation, None, 0)
    validate_annotation(ann, None)
    info = video_info(video_path)
    if info.num_frames < ann["total_frames"]:
        raise DataError(
            video_path,
            f"sample {ann['frame_dir']!r}: the video has {info.num_frames} frames but its annotation "
            f"{ann['total_frames']} (video shorter than its annotation)",
        )
    video_shape = (info.height, info.width)
    return ann, _to_video_pixels(ann, video_shape, video_path), video_shape


def _to_video_pixels(
    ann: Mapping[str, Any], video_shape: tuple[int, int], video_path: str | Path | None
) -> np.ndarray:
    """float32 keypoints in the video's pixels: rescaled when the video is a resized copy of the annotated one."""
    keypoint = ann["keypoint"].astype(np.float32)
    (ah, aw), (vh, vw) = ann["img_shape"], video_shape
    if (ah, aw) == (vh, vw):
        return keypoint
    if abs(aw / ah - vw / vh) > ASPECT_TOLERANCE * aw / ah:
        raise DataError(
            video_path,
            f"sample {ann['frame_dir']!r}: video frames are {vw}x{vh} but the keypoints are for {aw}x{ah} images",
        )
    log.debug("%s: rescaling keypoints from %dx%d to %dx%d", ann["frame_dir"], aw, ah, vw, vh)
    return keypoint * np.array([vw / aw, vh / ah], dtype=np.float32)


def _read(video_path: Path, indices: np.ndarray, ann: Mapping[str, Any]) -> np.ndarray:
    try:
        return read_frames(video_path, indices)
    except DataError as err:
        raise DataError(
            video_path,
            f"sample {ann['frame_dir']!r} (annotation: {ann['total_frames']} frames): {err.problem}",
        ) from None
