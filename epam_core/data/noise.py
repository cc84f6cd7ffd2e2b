"""Skeleton noise: seeded, composable corruptions of 2D keypoints, the robustness probe of the pose stream.

Every noise type is a pure function ``fn(keypoint, keypoint_score, level, rng, box) -> (keypoint,
keypoint_score)`` on ``keypoint`` (M, T, V, 2) float32 image pixels and ``keypoint_score`` (M, T, V), with a
``level`` in a unit a researcher can read (pixels, frames, a probability, a fraction of the person's box).
Inputs are never modified. ``apply_noise`` composes several, each with its own random stream derived from
``(seed, position in the list)``, so the same seed gives the same output and level 0 is exactly the identity.

A missing joint is stored as pyskl stores it: position (0, 0) with score 0. Noise that hides joints writes
that; noise that moves joints leaves missing joints at (0, 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from epam_core.data.coco_keypoints import COCO_FLIP_INDEX

Box = tuple[float, float, float, float]  # (x_min, y_min, x_max, y_max) in pixels
Pair = tuple[np.ndarray, np.ndarray]  # (keypoint (M, T, V, 2), keypoint_score (M, T, V))
NoiseFn = Callable[[np.ndarray, np.ndarray, float, np.random.Generator, Box], Pair]

# COCO-17 joint indices of the parts that `occlude_*` hides.
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "head": (0, 1, 2, 3, 4),
    "left_arm": (5, 7, 9),
    "right_arm": (6, 8, 10),
    "torso": (5, 6, 11, 12),
    "left_leg": (11, 13, 15),
    "right_leg": (12, 14, 16),
}


@dataclass(frozen=True)
class NoiseSpec:
    """One noise type at one level, e.g. ``NoiseSpec("jitter_px", 4.0)``."""

    name: str
    level: float


@dataclass(frozen=True)
class NoiseType:
    """A noise function with what a user interface needs to offer it."""

    fn: NoiseFn
    unit: str  # e.g. "px", "frames", "probability"
    description: str  # what the level means
    default_levels: tuple[float, ...]  # a robustness sweep, starting at 0
    max_level: float  # slider end
    hard_max: float | None = None  # levels above this have no meaning (probabilities, fractions)


def box_size(box: Box) -> float:
    """The person's size in pixels: the longer side of the box."""
    return float(max(box[2] - box[0], box[3] - box[1]))


def visible_box(keypoint: np.ndarray, keypoint_score: np.ndarray) -> Box:
    """(x_min, y_min, x_max, y_max) of all joints with a positive score over all persons and frames."""
    pts = keypoint[keypoint_score > 0]  # (P, 2)
    if len(pts) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return (float(x0), float(y0), float(x1), float(y1))


def _move(keypoint: np.ndarray, keypoint_score: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """``moved`` where the joint is visible, the untouched (missing) value elsewhere, as float32."""
    return np.where((keypoint_score > 0)[..., None], moved, keypoint).astype(np.float32)


def _hide(keypoint: np.ndarray, keypoint_score: np.ndarray, hidden: np.ndarray) -> Pair:
    """Mark the joints where ``hidden`` (broadcastable to (M, T, V)) is True as missing."""
    hidden = np.broadcast_to(hidden, keypoint_score.shape)
    kp = np.where(hidden[..., None], np.float32(0), keypoint).astype(np.float32)
    score = np.where(hidden, np.float32(0), keypoint_score).astype(keypoint_score.dtype)
    return kp, score


def jitter_px(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """Independent Gaussian noise of standard deviation ``level`` pixels on each coordinate of each joint."""
    return _move(
        keypoint, keypoint_score, keypoint + rng.normal(0.0, level, keypoint.shape)
    ), keypoint_score.copy()


def jitter_box(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """Gaussian joint noise of standard deviation ``level`` x the person's box size (its longer side)."""
    return jitter_px(keypoint, keypoint_score, level * box_size(box), rng, box)


def joint_dropout(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """Each joint of each frame goes missing with probability ``level``."""
    return _hide(keypoint, keypoint_score, rng.random(keypoint_score.shape) < level)


def frame_dropout(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """round(``level`` x T) frames, chosen at random, lose all their keypoints (a detector miss)."""
    t = keypoint_score.shape[1]
    hidden = np.zeros(t, dtype=bool)
    hidden[rng.choice(t, size=round(level * t), replace=False)] = True
    return _hide(keypoint, keypoint_score, hidden[None, :, None])


def _occlude(part: str) -> NoiseFn:
    joints = np.isin(np.arange(17), BODY_PARTS[part])  # (V,)

    def occlude(
        keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
    ) -> Pair:
        m, t, _ = keypoint_score.shape
        length = round(level * t)
        start = rng.integers(0, t - length + 1, size=m)  # one contiguous occlusion per person
        frames = np.arange(t)[None, :]  # (1, T)
        in_segment = (frames >= start[:, None]) & (frames < start[:, None] + length)  # (M, T)
        return _hide(keypoint, keypoint_score, in_segment[:, :, None] & joints[None, None, :])

    occlude.__doc__ = f"The {part.replace('_', ' ')} is hidden for one stretch of round(level x T) frames."
    return occlude


def temporal_jitter(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """Each frame shows the keypoints of a frame up to ``level`` frames earlier or later (uniform, clipped)."""
    t = keypoint_score.shape[1]
    reach = round(level)
    source = np.clip(np.arange(t) + rng.integers(-reach, reach + 1, size=t), 0, t - 1)  # (T,)
    return keypoint[:, source].copy(), keypoint_score[:, source].copy()


def _shift(
    keypoint: np.ndarray, keypoint_score: np.ndarray, distance: float, rng: np.random.Generator
) -> Pair:
    angle = rng.uniform(0.0, 2 * np.pi)
    offset = distance * np.array([np.cos(angle), np.sin(angle)])  # (2,)
    return _move(keypoint, keypoint_score, keypoint + offset), keypoint_score.copy()


def translate_px(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """The whole clip moves by ``level`` pixels in a random direction."""
    return _shift(keypoint, keypoint_score, level, rng)


def translate_box(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """The whole clip moves by ``level`` x the person's box size in a random direction."""
    return _shift(keypoint, keypoint_score, level * box_size(box), rng)


def scale(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """The whole clip is scaled about the box centre by 1 + ``level`` or 1 - ``level`` (sign at random)."""
    factor = 1.0 + level * rng.choice([-1.0, 1.0])
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])  # (2,)
    return _move(keypoint, keypoint_score, centre + (keypoint - centre) * factor), keypoint_score.copy()


def score_scale(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """Every confidence is multiplied by 1 - ``level`` (the detector is less sure; heatmaps get fainter)."""
    return keypoint.copy(), (keypoint_score * (1.0 - level)).astype(keypoint_score.dtype)


def score_noise(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """Gaussian noise of standard deviation ``level`` on each visible confidence, clipped to [0, 1]."""
    noisy = np.clip(keypoint_score + rng.normal(0.0, level, keypoint_score.shape), 0.0, 1.0)
    return keypoint.copy(), np.where(keypoint_score > 0, noisy, keypoint_score).astype(keypoint_score.dtype)


def lr_swap(
    keypoint: np.ndarray, keypoint_score: np.ndarray, level: float, rng: np.random.Generator, box: Box
) -> Pair:
    """Each person in each frame has its left and right joints exchanged with probability ``level``."""
    swapped = list(COCO_FLIP_INDEX)
    flip = rng.random(keypoint_score.shape[:2]) < level  # (M, T)
    kp = np.where(flip[..., None, None], keypoint[:, :, swapped], keypoint).astype(np.float32)
    score = np.where(flip[..., None], keypoint_score[:, :, swapped], keypoint_score)
    return kp, score


_OCCLUDE = {part: _occlude(part) for part in BODY_PARTS}
_PROB = "probability"
_FRAC = "fraction of frames"
NOISE_TYPES: dict[str, NoiseType] = {
    "jitter_px": NoiseType(jitter_px, "px", jitter_px.__doc__, (0, 1, 2, 4, 8, 16), 32),
    "jitter_box": NoiseType(jitter_box, "x box", jitter_box.__doc__, (0, 0.01, 0.02, 0.05, 0.1, 0.2), 0.5),
    "joint_dropout": NoiseType(
        joint_dropout, _PROB, joint_dropout.__doc__, (0, 0.1, 0.2, 0.4, 0.6, 0.8), 1, 1
    ),
    "frame_dropout": NoiseType(frame_dropout, _FRAC, frame_dropout.__doc__, (0, 0.1, 0.25, 0.5, 0.75), 1, 1),
    **{
        f"occlude_{part}": NoiseType(fn, _FRAC, fn.__doc__, (0, 0.25, 0.5, 0.75, 1), 1, 1)
        for part, fn in _OCCLUDE.items()
    },
    "temporal_jitter": NoiseType(temporal_jitter, "frames", temporal_jitter.__doc__, (0, 1, 2, 4, 8), 16),
    "translate_px": NoiseType(translate_px, "px", translate_px.__doc__, (0, 4, 8, 16, 32), 64),
    "translate_box": NoiseType(translate_box, "x box", translate_box.__doc__, (0, 0.05, 0.1, 0.2, 0.4), 1),
    "scale": NoiseType(scale, "factor deviation", scale.__doc__, (0, 0.05, 0.1, 0.2, 0.3), 0.5, 0.99),
    "score_scale": NoiseType(
        score_scale, "fraction removed", score_scale.__doc__, (0, 0.25, 0.5, 0.75, 0.9), 1, 1
    ),
    "score_noise": NoiseType(score_noise, "std of score", score_noise.__doc__, (0, 0.1, 0.2, 0.3, 0.5), 1),
    "lr_swap": NoiseType(lr_swap, _PROB, lr_swap.__doc__, (0, 0.1, 0.25, 0.5, 1), 1, 1),
}


def _noise_type(name: str) -> NoiseType:
    if name not in NOISE_TYPES:
        raise ValueError(f"unknown noise type {name!r}; valid types: {', '.join(NOISE_TYPES)}")
    return NOISE_TYPES[name]


def check_level(name: str, level: float) -> float:
    """``level`` as a float, or a ValueError saying which range the noise type accepts."""
    noise = _noise_type(name)
    level = float(level)
    upper = np.inf if noise.hard_max is None else noise.hard_max
    if not 0 <= level <= upper:
        raise ValueError(f"{name} level must be in [0, {upper}] ({noise.unit}); got {level}")
    return level


def apply_noise(
    keypoint: np.ndarray,
    keypoint_score: np.ndarray,
    specs: Sequence[NoiseSpec],
    seed: int,
    box: Box | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``specs`` in order to keypoint (M, T, V, 2) and keypoint_score (M, T, V); new arrays returned.

    ``box`` (x_min, y_min, x_max, y_max) is the person's box for the box-relative types; by default the box
    of the visible input joints. Spec ``i`` draws from ``np.random.default_rng([seed, i])``.
    """
    if keypoint.ndim != 4 or keypoint.shape[-1] != 2 or keypoint.shape[:3] != keypoint_score.shape:
        raise ValueError(
            f"expected keypoint (M,T,V,2) and score (M,T,V); got {keypoint.shape}, {keypoint_score.shape}"
        )
    levels = [check_level(spec.name, spec.level) for spec in specs]
    box = visible_box(keypoint, keypoint_score) if box is None else tuple(float(v) for v in box)
    kp, score = keypoint.copy(), keypoint_score.copy()
    for i, (spec, level) in enumerate(zip(specs, levels, strict=True)):
        if level > 0:
            kp, score = NOISE_TYPES[spec.name].fn(kp, score, level, np.random.default_rng([seed, i]), box)
    return kp, score


def parse_noise_arg(text: str) -> tuple[str, list[float]]:
    """``"jitter_px:0,2,4,8"`` -> ``("jitter_px", [0.0, 2.0, 4.0, 8.0])``; a bare name gives its default levels."""
    name, _, levels_text = text.partition(":")
    name = name.strip()
    noise = _noise_type(name)
    if not levels_text.strip():
        return name, [float(v) for v in noise.default_levels]
    try:
        levels = [float(v) for v in levels_text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"noise levels in {text!r} must be numbers separated by commas") from None
    return name, [check_level(name, v) for v in levels]
