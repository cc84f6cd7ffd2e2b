"""The person-centric crop (docs/epam_net_spec.md §3.2-3.3) and the horizontal flip shared by RGB frames and
keypoints.

One box per clip: the smallest box around every scored keypoint (score > 0) of every person, enlarged
by ``padding`` around its centre, made square, clipped to the image (PoseC3D ``PoseCompact`` with
``hw_ratio=1, allow_imgpad=False``). The caller decides which frames the box covers; the pipeline uses
all frames of the annotation, as the authors' offline RGB crop does, so the RGB crop and the heatmaps
come from one box and align exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

from epam_core.data.coco_keypoints import COCO_FLIP_INDEX

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) in image pixels; x1, y1 exclusive
MIN_BOX = 10  # PoseCompact threshold: a smaller box means "no person", use the whole frame


def person_box(
    keypoint: np.ndarray, keypoint_score: np.ndarray, img_shape: tuple[int, int], padding: float = 0.25
) -> Box:
    """The square crop box around all scored keypoints (whole frame if they span < 10 px).

    Shapes: keypoint M × T × V × 2, keypoint_score M × T × V.
    """
    h, w = img_shape
    xy = np.asarray(keypoint)[np.asarray(keypoint_score) > 0]  # (K, 2)
    if len(xy) == 0:
        return (0, 0, w, h)
    (min_x, min_y), (max_x, max_y) = xy.min(axis=0), xy.max(axis=0)
    if max_x - min_x < MIN_BOX or max_y - min_y < MIN_BOX:
        return (0, 0, w, h)
    cx, cy = (min_x + max_x) / 2, (min_y + max_y) / 2
    half = max(max_x - min_x, max_y - min_y) / 2 * (1 + padding)  # square: the longer side decides
    # PoseCompact truncates to int after clipping (allow_imgpad=False)
    return (int(max(0, cx - half)), int(max(0, cy - half)), int(min(w, cx + half)), int(min(h, cy + half)))


def crop_resize(frames: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Crop every frame to ``box`` and resize to size × size. Shape: T × H × W × 3 -> T × size × size × 3."""
    x0, y0, x1, y1 = box
    crop = frames[:, y0:y1, x0:x1]  # (T, y1 - y0, x1 - x0, 3)
    shrink = crop.shape[1] >= size and crop.shape[2] >= size
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR  # area averaging avoids aliasing when shrinking
    return np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in crop])


def keypoints_to_box(
    keypoint: np.ndarray, keypoint_score: np.ndarray, box: Box, grid: tuple[int, int]
) -> np.ndarray:
    """Keypoints in image pixels -> coordinates on a ``grid`` (h, w) spanning ``box``; score-0 joints stay 0.

    Shape: M × T × V × 2 (a new array). As PoseC3D's Resize, coordinates scale by grid / box size.
    """
    x0, y0, x1, y1 = box
    scale = np.array([grid[1] / (x1 - x0), grid[0] / (y1 - y0)], dtype=np.float32)
    out = (np.asarray(keypoint, dtype=np.float32) - np.array([x0, y0], dtype=np.float32)) * scale
    return np.where((np.asarray(keypoint_score) > 0)[..., None], out, np.float32(0))


def flip_keypoints(
    keypoint: np.ndarray,
    keypoint_score: np.ndarray,
    width: float,
    flip_index: tuple[int, ...] = COCO_FLIP_INDEX,
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror keypoints (x -> width - x for scored joints, PoseC3D Flip) and swap left/right joints.

    Shapes: M × T × V × 2 and M × T × V, returned as new arrays. PoseC3D maps x to ``width - x`` rather than
    ``width - 1 - x``: on the integer heatmap grid a flipped joint lands one cell right of the mirrored RGB
    pixel; kept for fidelity to the trained models.
    """
    kp = np.array(keypoint, dtype=np.float32)
    visible = np.asarray(keypoint_score) > 0
    kp[..., 0] = np.where(visible, width - kp[..., 0], kp[..., 0])
    index = list(flip_index)
    return kp[:, :, index], np.asarray(keypoint_score)[:, :, index].copy()


def flip_frames(frames: np.ndarray) -> np.ndarray:
    """Mirror frames left-right. Shape: T × H × W × 3 (a new contiguous array)."""
    return np.ascontiguousarray(frames[:, :, ::-1])
