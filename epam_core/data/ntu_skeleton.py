"""Raw NTU RGB+D ``.skeleton`` files (Kinect v2) as COCO-17 keypoints in RGB-video pixels.

A file lists, for every frame, the tracked bodies; each body has 25 joints with 12 values:
x y z (camera space, m), depthX depthY (depth image px), colorX colorY (pixels of the 1920x1080 RGB
video), orientation w x y z, tracking state (0 not tracked, 1 inferred, 2 tracked). We keep colorX/colorY.

Kinect-25 -> COCO-17, left and right exchanged:

    nose <- Head (3)       left/right shoulder <- ShoulderRight/Left (8, 4)
    eyes, ears: none       left/right elbow    <- ElbowRight/Left (9, 5)
                           left/right wrist    <- WristRight/Left (10, 6)
                           left/right hip      <- HipRight/Left (16, 12)
                           left/right knee     <- KneeRight/Left (17, 13)
                           left/right ankle    <- AnkleRight/Left (18, 14)

Kinect's "left" is the subject's left, but the NTU colour videos are mirror images (Kinect v2 mirrors its
colour stream): the subject's left shoulder appears where an image-based pose estimator (HRNet,
MediaPipe) sees a right shoulder. The pyskl files the model is trained on come from such estimators, so
the exchange makes Kinect keypoints follow their convention. Checked on the shared clip
S001C001P001R001A001 against MediaPipe keypoints of the same video: median distance of the nose and
the 12 limb joints 12 px exchanged vs 42 px not exchanged (the person is about 380 px tall).

Kinect has no eyes or ears: those four joints get score 0 (coordinates 0), so their heatmaps are empty
rather than invented. The Kinect head joint is the centre of the head, a few centimetres behind and
above the nose. Score from the tracking state: tracked 1.0, inferred 0.5, not tracked 0.

Bodies: every Kinect body id becomes a person; when there are more than ``max_persons`` (Kinect often
adds short-lived spurious bodies), the ones present in the most frames are kept, ties broken by the
larger joint motion. Frames where a person is absent have score 0.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from epam_core.data.pyskl import UNKNOWN_LABEL
from epam_core.errors import DataError

log = logging.getLogger(__name__)

NTU_IMG_SHAPE = (1080, 1920)  # (h, w) of the NTU RGB+D videos
NUM_KINECT_JOINTS = 25
# COCO joint j comes from Kinect joint KINECT_TO_COCO[j]; -1: Kinect has no such joint (score 0).
KINECT_TO_COCO = (3, -1, -1, -1, -1, 8, 4, 9, 5, 10, 6, 16, 12, 17, 13, 18, 14)
TRACKING_SCORE = np.array([0.0, 0.5, 1.0], dtype=np.float32)  # by tracking state 0, 1, 2
_ACTION = re.compile(r"A(\d{3})")


def read_skeleton(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Parse a ``.skeleton`` file: body ids, colour-image joints and tracking states.

    Shapes: (B,) ids, colour xy B × T × 25 × 2 float32 (NaN where a body is absent), tracking B × T × 25 int.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "skeleton file not found")
    tokens = path.read_text(encoding="ascii", errors="replace").split()
    pos = 0

    def take(n: int) -> list[str]:
        nonlocal pos
        if pos + n > len(tokens):
            raise DataError(path, "is truncated (ends in the middle of a frame)")
        pos += n
        return tokens[pos - n : pos]

    try:
        num_frames = int(take(1)[0])
        frames: list[dict[str, np.ndarray]] = []
        for _ in range(num_frames):
            bodies = {}
            for _ in range(int(take(1)[0])):
                body_id = take(10)[0]  # bodyID clippedEdges hand states isRestricted lean trackingState
                num_joints = int(take(1)[0])
                if num_joints != NUM_KINECT_JOINTS:
                    raise DataError(path, f"body {body_id} has {num_joints} joints, expected 25 (Kinect v2)")
                bodies[body_id] = np.asarray(take(num_joints * 12), dtype=np.float64).reshape(num_joints, 12)
            frames.append(bodies)
    except ValueError as err:
        raise DataError(path, f"is not an NTU RGB+D .skeleton file ({err})") from None
    ids = list(dict.fromkeys(b for bodies in frames for b in bodies))  # in order of appearance
    xy = np.full((len(ids), num_frames, NUM_KINECT_JOINTS, 2), np.nan, dtype=np.float32)
    tracking = np.zeros((len(ids), num_frames, NUM_KINECT_JOINTS), dtype=np.int64)
    for t, bodies in enumerate(frames):
        for body_id, joints in bodies.items():
            b = ids.index(body_id)
            xy[b, t] = joints[:, 5:7]  # colorX, colorY
            tracking[b, t] = np.clip(joints[:, 11], 0, 2)
    return ids, xy, tracking


def kinect_to_coco(xy: np.ndarray, tracking: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kinect-25 joints -> COCO-17 keypoints and scores. Shapes: M × T × 25 × 2 -> M × T × 17 × 2, M × T × 17."""
    src = np.array(KINECT_TO_COCO)
    has = src >= 0
    keypoint = np.zeros((*xy.shape[:2], len(src), 2), dtype=np.float32)
    score = np.zeros(keypoint.shape[:3], dtype=np.float32)
    keypoint[:, :, has] = xy[:, :, src[has]]
    score[:, :, has] = TRACKING_SCORE[tracking[:, :, src[has]]]
    missing = ~np.isfinite(keypoint).all(axis=-1)  # absent bodies, or colour coordinates Kinect left empty
    score[missing] = 0
    keypoint[missing | (score == 0)] = 0
    return keypoint, score


def skeleton_to_annotation(
    path: str | Path, label: int | None = None, max_persons: int = 2
) -> dict[str, Any]:
    """A pyskl annotation dict from a ``.skeleton`` file.

    ``frame_dir`` is the file name without extension; the label defaults to the action code in the name
    (``A001`` -> 0), or -1 when the name has none.
    """
    path = Path(path)
    ids, xy, tracking = read_skeleton(path)
    if not ids:
        raise DataError(path, "has no body in any frame (zero persons)")
    present = np.isfinite(xy).all(axis=(2, 3))  # (B, T)
    motion = np.nan_to_num(np.nanstd(np.where(present[..., None, None], xy, np.nan), axis=1)).sum(axis=(1, 2))
    order = sorted(range(len(ids)), key=lambda b: (-present[b].sum(), -motion[b]))[:max_persons]
    if len(ids) > max_persons:
        log.info("%s: keeping bodies %s of %d", path.name, [ids[b] for b in order], len(ids))
    keypoint, score = kinect_to_coco(xy[order], tracking[order])
    if label is None:
        match = _ACTION.search(path.stem)
        label = int(match.group(1)) - 1 if match else UNKNOWN_LABEL
    return {
        "frame_dir": path.stem,
        "label": int(label),
        "img_shape": NTU_IMG_SHAPE,
        "original_shape": NTU_IMG_SHAPE,
        "total_frames": keypoint.shape[1],
        "keypoint": keypoint,
        "keypoint_score": score,
    }
