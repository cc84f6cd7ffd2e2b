"""A SynthActions scene with two people: an adult and a child march towards each other and cross.

The test clip for multi-person pose extraction (``epam_core.poses``): both walk in opposite directions on
the same floor, the child in front, so that halfway through the clip the child hides most of the adult.
The joints both were drawn from are the ground truth, person 0 starting on the left (keypoint (2, T, 17, 2)
in image pixels). Everything follows from ``seed``, as in ``generate.render_clip``.
"""

from __future__ import annotations

import numpy as np

from epam_core.data.synth import render
from epam_core.data.synth.actions import march
from epam_core.data.synth.generate import Clip, ClipSettings
from epam_core.data.synth.skeleton import BodyShape, forward_kinematics

CROSSING = ClipSettings(width=640, height=360, num_frames=60, fps=20.0, max_shake=0.0)
HEIGHTS = (0.62, 0.46)  # body heights as fractions of the frame height: the adult, the child
WALK = ((0.2, 0.8), (0.8, 0.2))  # start and end of each person's hip centre, fractions of the frame width


def render_crossing_clip(seed: int = 0, cfg: ClipSettings = CROSSING) -> Clip:
    """Frames (T, H, W, 3) RGB of two people crossing and the joints they were drawn from (2, T, 17, 2)."""
    rng = np.random.default_rng([seed, 2])
    t = cfg.num_frames
    tau = np.linspace(0, 1, t)
    ground = rng.uniform(0.9, 0.95) * cfg.height
    people = []
    for fraction, (start, end) in zip(HEIGHTS, WALK, strict=True):
        shape, height = BodyShape.sample(rng), fraction * cfg.height
        motion = march(tau, rng.uniform(1.5, 2.0), rng.uniform(0, 1), rng, shape)
        joints = forward_kinematics(
            shape, height, motion.hands, motion.feet, motion.lean, motion.head, motion.arm_fs, motion.leg_fs
        )  # (T, 17, 2) relative to the hip centre
        root = np.stack([(start + (end - start) * tau) * cfg.width, ground - joints[:, :, 1].max(axis=1)], 1)
        people.append((joints + root[:, None, :], height, render.sample_look(rng)))
    background = render.draw_scene("room", cfg.height, cfg.width, ground, rng)
    frames = np.empty((t, cfg.height, cfg.width, 3), np.uint8)
    for i in range(t):
        img = background.copy()
        for joints, height, look in people:  # the adult first: the child walks in front
            render.draw_person(img, joints[i], height, look)
        frames[i] = img
    keypoint = np.stack([joints for joints, _, _ in people]).astype(np.float32)  # (2, T, 17, 2)
    return Clip(frames, keypoint, np.ones(keypoint.shape[:-1], np.float32))
