"""MediaPipe BlazePose's 33 landmarks and their mapping to the 17 COCO keypoints EPAM-Net uses.

BlazePose (Bazarevsky et al., "BlazePose: On-device Real-time Body Pose tracking", arXiv 2006.10204)
predicts 33 landmarks; the 17 COCO keypoints are a subset of them with the same meaning, including the
side convention ("left" is the person's left in both)::

    COCO-17            BlazePose-33
     0 nose             0 nose
     1 left_eye         2 left_eye        (1 and 3 are the inner and outer corners)
     2 right_eye        5 right_eye       (4 and 6 are the inner and outer corners)
     3 left_ear         7 left_ear
     4 right_ear        8 right_ear
     5 left_shoulder   11 left_shoulder
     6 right_shoulder  12 right_shoulder
     7 left_elbow      13 left_elbow
     8 right_elbow     14 right_elbow
     9 left_wrist      15 left_wrist
    10 right_wrist     16 right_wrist
    11 left_hip        23 left_hip
    12 right_hip       24 right_hip
    13 left_knee       25 left_knee
    14 right_knee      26 right_knee
    15 left_ankle      27 left_ankle
    16 right_ankle     28 right_ankle

The other 16 landmarks (mouth corners, eye corners, fingers, heels, toes) have no COCO counterpart and are
dropped. The score of a keypoint is BlazePose's landmark visibility (the probability that the landmark is
in the image and not occluded).
"""

from __future__ import annotations

import numpy as np

BLAZEPOSE_LANDMARKS = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
# BLAZEPOSE_TO_COCO17[j] is the BlazePose landmark that gives COCO keypoint j.
BLAZEPOSE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def blazepose_to_coco17(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 keypoints and scores from BlazePose landmarks.

    Shape: (..., 33, 3) with (x, y, score) in the last axis -> keypoint (..., 17, 2) and score (..., 17),
    both float32 (new arrays; the input is not modified).
    """
    landmarks = np.asarray(landmarks)
    if landmarks.shape[-2:] != (len(BLAZEPOSE_LANDMARKS), 3):
        raise ValueError(f"expected (..., 33, 3) BlazePose landmarks, got shape {landmarks.shape}")
    coco = landmarks[..., BLAZEPOSE_TO_COCO17, :].astype(np.float32)  # (..., 17, 3)
    return coco[..., :2].copy(), coco[..., 2].copy()
