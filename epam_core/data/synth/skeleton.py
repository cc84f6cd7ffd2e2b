"""An articulated 2D person seen from the front: bone lengths, joint limits and forward kinematics to COCO-17.

Lengths are fractions of the person's height ``h`` (pixels). A pose over time is described by targets:
hand positions in the torso frame (relative to the shoulder centre, x to the image right, y down), foot
positions relative to the hip centre, a torso lean and head tilt (radians, positive towards the image
right), a lift of the whole body and a foreshortening factor per limb (1 in the image plane, smaller when
the limb points at the camera). Two-link inverse kinematics turns the targets into shoulder/elbow and
hip/knee angles, which are clipped to the joint limits and then drawn by forward kinematics, so the
returned joints always come from a reachable, limited pose. The person's left is on the image right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# COCO-17 joint indices (the order of epam_core.data.class_names).
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16

# Joint limits (radians) in the limb's side frame: angle 0 points down, positive turns outward (away from
# the body's midline), pi points up. The second number of a pair limits the bend of the outer segment.
SHOULDER_LIMITS = (-1.2, 3.4)
ELBOW_LIMITS = (-2.8, 2.8)
HIP_LIMITS = (-0.5, 1.6)
KNEE_LIMITS = (-2.4, 0.6)
LEAN_LIMIT = 0.6
HEAD_LIMIT = 0.6


@dataclass(frozen=True)
class BodyShape:
    """Bone lengths as fractions of the height (head top to ankles), for one person."""

    shoulder_half: float = 0.12
    hip_half: float = 0.09
    torso: float = 0.30  # hip centre to shoulder centre
    neck: float = 0.12  # shoulder centre to nose
    head_radius: float = 0.07
    upper_arm: float = 0.17
    forearm: float = 0.15
    thigh: float = 0.24
    shin: float = 0.23

    @classmethod
    def sample(cls, rng: np.random.Generator, spread: float = 0.08) -> BodyShape:
        """Proportions varied independently by up to +-``spread``."""
        base = cls()
        return cls(**{k: v * rng.uniform(1 - spread, 1 + spread) for k, v in base.__dict__.items()})

    @property
    def rest_hands(self) -> np.ndarray:
        """(2, 2) left and right hand at rest, torso frame."""
        return np.array([[self.shoulder_half + 0.05, 0.29], [-self.shoulder_half - 0.05, 0.29]])

    @property
    def rest_feet(self) -> np.ndarray:
        """(2, 2) left and right foot at rest, relative to the hip centre."""
        down = 0.97 * (self.thigh + self.shin)
        return np.array([[self.hip_half + 0.03, down], [-self.hip_half - 0.03, down]])


def _direction(angle: np.ndarray, side: float, down: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(T, 2) unit vectors ``angle`` from ``down`` turning towards ``side * out`` (side +1 left, -1 right)."""
    return np.cos(angle)[:, None] * down + side * np.sin(angle)[:, None] * out


def two_link_angles(
    target: np.ndarray, side: float, len1: np.ndarray, len2: np.ndarray, bend_out: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Side-frame angles (root, bend) that put the end of a two-link limb at ``target`` (T, 2).

    ``target`` is relative to the limb root in an upright frame (x right, y down). Of the two solutions
    the middle joint goes outward (knees) or downward (elbows, ``bend_out=False``); out-of-reach targets
    give the limb stretched towards them.
    """
    side_xy = np.stack([side * target[:, 0], target[:, 1]], axis=1)  # (T, 2), x outward
    dist = np.clip(np.linalg.norm(side_xy, axis=1), np.abs(len1 - len2) + 1e-6, len1 + len2 - 1e-6)
    base = np.arctan2(side_xy[:, 0], side_xy[:, 1])
    inner = np.arccos(np.clip((len1**2 + dist**2 - len2**2) / (2 * len1 * dist), -1, 1))
    bend = np.pi - np.arccos(np.clip((len1**2 + len2**2 - dist**2) / (2 * len1 * len2), -1, 1))
    if bend_out:
        return base + inner, -bend
    # elbow down: of the two solutions, the one whose middle joint is lower
    lower_plus = np.cos(base + inner) >= np.cos(base - inner)
    return np.where(lower_plus, base + inner, base - inner), np.where(lower_plus, -bend, bend)


def forward_kinematics(
    shape: BodyShape,
    height: float,
    hands: np.ndarray,
    feet: np.ndarray,
    lean: np.ndarray,
    head: np.ndarray,
    arm_fs: np.ndarray,
    leg_fs: np.ndarray,
) -> np.ndarray:
    """COCO-17 joints (T, 17, 2) in pixels, relative to the hip centre, for targets over T frames.

    hands, feet: (T, 2, 2) [left, right] targets (fractions of the height); lean, head: (T,) radians;
    arm_fs, leg_fs: (T, 2) foreshortening of the [left, right] limbs.
    """
    t = len(lean)
    joints = np.zeros((t, 17, 2))
    lean = np.clip(lean, -LEAN_LIMIT, LEAN_LIMIT)
    up = np.stack([np.sin(lean), -np.cos(lean)], axis=1)  # (T, 2) torso axis
    right = np.stack([np.cos(lean), np.sin(lean)], axis=1)  # (T, 2) towards the person's left
    world_down, world_out = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    neck = up * shape.torso
    tilt = np.clip(head, -HEAD_LIMIT, HEAD_LIMIT)[:, None]
    head_up = np.cos(tilt) * up + np.sin(tilt) * right  # (T, 2) the head's axis
    head_right = np.stack([-head_up[:, 1], head_up[:, 0]], axis=1)
    nose = neck + head_up * shape.neck
    joints[:, NOSE] = nose
    for side, eye, ear in ((1.0, L_EYE, L_EAR), (-1.0, R_EYE, R_EAR)):
        joints[:, eye] = nose + side * 0.028 * head_right + 0.022 * head_up
        joints[:, ear] = nose + side * 0.055 * head_right + 0.005 * head_up
    for k, (side, sh, el, wr, hip, kn, an) in enumerate(
        (
            (1.0, L_SHOULDER, L_ELBOW, L_WRIST, L_HIP, L_KNEE, L_ANKLE),
            (-1.0, R_SHOULDER, R_ELBOW, R_WRIST, R_HIP, R_KNEE, R_ANKLE),
        )
    ):
        shoulder = neck + side * shape.shoulder_half * right
        joints[:, sh] = shoulder
        upper, fore = shape.upper_arm * arm_fs[:, k], shape.forearm * arm_fs[:, k]
        target = hands[:, k] - np.array([side * shape.shoulder_half, 0.0])  # relative to the shoulder
        a_sh, a_el = two_link_angles(target, side, upper, fore, bend_out=False)
        a_sh = np.where(a_sh < SHOULDER_LIMITS[0], a_sh + 2 * np.pi, a_sh)  # overhead: past pi, not below -pi
        a_sh = np.clip(a_sh, *SHOULDER_LIMITS)
        a_el = a_sh + np.clip(a_el, *ELBOW_LIMITS)
        joints[:, el] = shoulder + upper[:, None] * _direction(a_sh, side, -up, right)
        joints[:, wr] = joints[:, el] + fore[:, None] * _direction(a_el, side, -up, right)

        hip_xy = np.array([side * shape.hip_half, 0.0])
        joints[:, hip] = hip_xy
        thigh, shin = shape.thigh * leg_fs[:, k], shape.shin * leg_fs[:, k]
        a_hip, a_kn = two_link_angles(feet[:, k] - hip_xy, side, thigh, shin, bend_out=True)
        a_hip = np.clip(a_hip, *HIP_LIMITS)
        a_kn = a_hip + np.clip(a_kn, *KNEE_LIMITS)
        joints[:, kn] = hip_xy + thigh[:, None] * _direction(a_hip, side, world_down, world_out)
        joints[:, an] = joints[:, kn] + shin[:, None] * _direction(a_kn, side, world_down, world_out)
    return joints * height
