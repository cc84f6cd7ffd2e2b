"""Attention and skeletons drawn on the model's person-centric RGB crops.

EPAM-Net's spatial attention lives on the feature grid (T, h, w), e.g. 6x6 for the demo model and 7x7 for the
paper's. It is upsampled bilinearly in (h, w) to the crop size; attention given on fewer frames than shown is
interpolated linearly in time. Colours come from a matplotlib colormap so the legend matches the overlay.
"""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

CMAP = "viridis"
# Limb colour of person 0, 1, ...: white, then Okabe-Ito sky blue, bluish green and reddish purple.
SKELETON_COLOURS = ((255, 255, 255), (86, 180, 233), (0, 158, 115), (204, 121, 167))
JOINT_COLOUR = (230, 159, 0)  # Okabe-Ito orange


def resample_temporal(values: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of (T, ...) along T to ``length`` steps (frame centres aligned)."""
    values = np.asarray(values, dtype=np.float32)
    t = values.shape[0]
    if t == length:
        return values
    pos = (np.arange(length) + 0.5) * t / length - 0.5
    lo = np.clip(np.floor(pos).astype(int), 0, t - 1)
    hi = np.clip(lo + 1, 0, t - 1)
    w = np.clip(pos - lo, 0.0, 1.0).reshape((-1,) + (1,) * (values.ndim - 1))
    return (1 - w) * values[lo] + w * values[hi]


def upsample_attention(spatial: np.ndarray, size: int, num_frames: int | None = None) -> np.ndarray:
    """(T, h, w) attention -> (num_frames or T, size, size) float32, bilinear in space."""
    spatial = np.asarray(spatial, dtype=np.float32)
    if num_frames is not None:
        spatial = resample_temporal(spatial, num_frames)
    return np.stack([cv2.resize(a, (size, size), interpolation=cv2.INTER_LINEAR) for a in spatial])


def colourise(values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """(...,) values -> (..., 3) uint8 RGB through the overlay colormap."""
    rgba = np.asarray(colormaps[CMAP](Normalize(vmin, vmax, clip=True)(np.asarray(values, dtype=np.float64))))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def overlay_attention(
    frames: np.ndarray, spatial: np.ndarray, alpha: float = 0.5, vmin: float = 0.0, vmax: float = 1.0
) -> np.ndarray:
    """Blend the upsampled attention onto frames (T, S, S, 3) uint8 -> (T, S, S, 3) uint8."""
    t, s = frames.shape[0], frames.shape[1]
    heat = colourise(upsample_attention(spatial, s, t), vmin, vmax)
    return (
        ((1 - alpha) * frames.astype(np.float32) + alpha * heat.astype(np.float32)).round().astype(np.uint8)
    )


def draw_skeleton(
    frame: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    limbs: tuple[tuple[int, int], ...],
    min_score: float = 0.05,
    colours: tuple[tuple[int, int, int], ...] = SKELETON_COLOURS,
) -> np.ndarray:
    """A copy of ``frame`` (S, S, 3) with the limbs and joints of every person drawn, person m's limbs in
    ``colours[m]`` (cycling), so that two people can be told apart.

    ``keypoints`` (M, V, 2) in frame pixels and ``scores`` (M, V); joints below ``min_score`` are skipped.
    """
    out = np.ascontiguousarray(frame.copy())
    thickness = max(1, frame.shape[0] // 96)
    for m, (kp, sc) in enumerate(zip(np.asarray(keypoints), np.asarray(scores), strict=True)):
        pts, colour = np.round(kp).astype(np.int32), colours[m % len(colours)]
        for a, b in limbs:
            if sc[a] >= min_score and sc[b] >= min_score:
                cv2.line(
                    out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colour, thickness, cv2.LINE_AA
                )
        for j, p in enumerate(pts):
            if sc[j] >= min_score:
                cv2.circle(out, tuple(map(int, p)), thickness + 1, JOINT_COLOUR, -1, cv2.LINE_AA)
    return out


def frame_strip(frames: np.ndarray, temporal: np.ndarray, bar_height: int = 40, gap: int = 4) -> np.ndarray:
    """Frames (T, S, S, 3) side by side with, under each, a bar whose height is its temporal attention.

    Returns (S + gap + bar_height, T * (S + gap) - gap, 3) uint8 on a white background.
    """
    t, s = frames.shape[:2]
    temporal = resample_temporal(np.asarray(temporal, dtype=np.float32), t)
    strip = np.full((s + gap + bar_height, t * (s + gap) - gap, 3), 255, dtype=np.uint8)
    colours = colourise(temporal)
    for i in range(t):
        x = i * (s + gap)
        strip[:s, x : x + s] = frames[i]
        h = round(float(np.clip(temporal[i], 0, 1)) * bar_height)
        strip[s + gap : s + gap + bar_height, x : x + s] = 235  # light-grey track
        if h:
            strip[s + gap + bar_height - h : s + gap + bar_height, x + s // 4 : x + s - s // 4] = colours[i]
    return strip


def attention_grid_strip(spatial: np.ndarray, temporal: np.ndarray, cell: int = 12) -> np.ndarray:
    """The stored attention alone, for a run without its frames: each frame's (h, w) map coloured on its own
    grid (every cell a ``cell`` x ``cell`` block, no interpolation), with its temporal attention bar under it.

    (T, h, w), (T,) -> (h * cell + 4 + 40, T * (w * cell + 4) - 4, 3) uint8.
    """
    spatial = np.asarray(spatial, dtype=np.float32)
    _, h, w = spatial.shape
    maps = colourise(np.repeat(np.repeat(spatial, cell, axis=1), cell, axis=2))  # (T, h*cell, w*cell, 3)
    if h != w:  # frame_strip lays out square tiles: pad the short side with white
        side = max(h, w) * cell
        padded = np.full((len(maps), side, side, 3), 255, dtype=np.uint8)
        padded[:, : h * cell, : w * cell] = maps
        maps = padded
    return frame_strip(maps, temporal)


def legend_figure(label: str = "attention", width: float = 3.0) -> Figure:
    """A horizontal colour bar for the overlay colormap on [0, 1]."""
    fig = Figure(figsize=(width, 0.55), layout="constrained")
    ax = fig.add_subplot()
    fig.colorbar(ScalarMappable(Normalize(0, 1), CMAP), cax=ax, orientation="horizontal", label=label)
    return fig
