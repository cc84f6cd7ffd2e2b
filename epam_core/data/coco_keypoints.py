"""The COCO-17 keypoint layout every pose in this project uses: joint names, left/right flip pairs, and
PoseC3D's limbs (heatmaps and skeleton drawing)."""

from __future__ import annotations

COCO_KEYPOINTS = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# The subject's left / right joints (PoseC3D Flip: left_kp, right_kp).
COCO_LEFT = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT = (2, 4, 6, 8, 10, 12, 14, 16)
# COCO_FLIP_INDEX[j] is the joint that j becomes under a horizontal flip.
COCO_FLIP_INDEX = tuple(
    COCO_RIGHT[COCO_LEFT.index(j)]
    if j in COCO_LEFT
    else COCO_LEFT[COCO_RIGHT.index(j)]
    if j in COCO_RIGHT
    else j
    for j in range(len(COCO_KEYPOINTS))
)
# PoseC3D's 17 COCO limbs (pyskl GeneratePoseTarget default): limb heatmaps and skeleton drawing.
COCO_LIMBS = (
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (0, 5),
    (5, 7),
    (7, 9),
    (0, 6),
    (6, 8),
    (8, 10),
    (5, 11),
    (11, 13),
    (13, 15),
    (6, 12),
    (12, 14),
    (14, 16),
    (11, 12),
)
