"""Keypoints to pseudo-heatmap volumes, as PoseC3D's ``GeneratePoseTarget`` (docs/epam_net_spec.md §3.3,
step 6).

PoseC3D: Duan et al., "Revisiting Skeleton-based Action Recognition", CVPR 2022,
https://arxiv.org/abs/2104.13586.

Every joint of every frame becomes score × exp(-d² / 2σ²) on the integer pixel grid, inside a ±3σ
window (PoseC3D truncates the window ends with ``int``), and persons are merged by a maximum. The
Gaussian is separable, exp(-(dx² + dy²)/2σ²) = exp(-dx²/2σ²) · exp(-dy²/2σ²): every (frame, joint) patch
is the outer product of two short window vectors, all computed at once and scattered into the volume,
so there is no loop over frames or joints and only the few window pixels are touched.

Keypoints with a score below 1e-4 or NaN coordinates are skipped (pyskl would turn NaN into a blob at
(0, 0); a missing joint drawing nothing is the intended meaning).
"""

from __future__ import annotations

import numpy as np

from epam_core.data.coco_keypoints import COCO_LIMBS

EPS = 1e-4  # GeneratePoseTarget eps: smaller scores draw nothing


def _axis_factor(mu: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """exp(-(g - mu)² / 2σ²) on g = 0..size-1 inside PoseC3D's window. Shape: (...,) -> (..., size)."""
    grid = np.arange(size, dtype=np.float32)
    lo = np.trunc(mu - 3 * sigma)[..., None]  # window [trunc(mu - 3σ), trunc(mu + 3σ) + 1)
    hi = np.trunc(mu + 3 * sigma)[..., None] + 1
    d = grid - mu[..., None]
    return np.where((grid >= lo) & (grid < hi), np.exp(-(d * d) / np.float32(2 * sigma**2)), np.float32(0))


def _window(mu: np.ndarray, size: int, sigma: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid positions of PoseC3D's window [trunc(mu - 3σ), trunc(mu + 3σ) + 1) and the Gaussian on them.

    Shape: (...,) -> positions (..., k) int64 (-1 outside the window or the grid) and values (..., k).
    """
    lo = np.trunc(mu - 3 * sigma)[..., None]
    hi = np.trunc(mu + 3 * sigma)[..., None] + 1
    pos = lo + np.arange(k, dtype=np.float32)  # (..., k)
    inside = (pos < hi) & (pos >= 0) & (pos < size)
    d = pos - mu[..., None]
    values = np.exp(-(d * d) / np.float32(2 * sigma**2))
    return np.where(inside, pos, -1).astype(np.int64), values


def _clean(keypoint: np.ndarray, keypoint_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 copies with NaN joints and scores below EPS given score 0 (and coordinates 0)."""
    kp = np.asarray(keypoint, dtype=np.float32)
    score = np.asarray(keypoint_score, dtype=np.float32)
    valid = np.isfinite(kp).all(axis=-1) & (score >= EPS)  # (M, T, V); NaN score fails >=
    return np.where(valid[..., None], kp, np.float32(0)), np.where(valid, score, np.float32(0))


def keypoints_to_heatmaps(
    keypoint: np.ndarray,
    keypoint_score: np.ndarray,
    size: tuple[int, int],
    sigma: float = 0.6,
    with_limbs: bool = False,
    limbs: tuple[tuple[int, int], ...] = COCO_LIMBS,
) -> np.ndarray:
    """Heatmap volume from keypoints already in heatmap pixels.

    Shapes: keypoint M × T × V × 2, keypoint_score M × T × V -> float32 V × T × H × W, or
    (V + L) × T × H × W with the L limb maps appended when ``with_limbs``. Inputs are not modified.
    """
    h, w = size
    kp, score = _clean(keypoint, keypoint_score)
    m, t, v = score.shape
    out = np.zeros((v, t, h, w), dtype=np.float32)
    flat = out.reshape(-1)  # a view: scattering into it fills ``out``
    k = int(np.ceil(6 * sigma)) + 2  # the longest ±3σ window
    t_idx, v_idx = np.meshgrid(np.arange(t), np.arange(v), indexing="ij")  # (T, V)
    base = ((v_idx * t + t_idx) * h * w)[..., None, None]  # (T, V, 1, 1): offset of map (v, t) in ``flat``
    for p in range(m):  # persons are few (1-2); frames and joints are vectorised
        xs, gx = _window(kp[p, ..., 0], w, sigma, k)  # (T, V, K)
        ys, gy = _window(kp[p, ..., 1], h, sigma, k)
        patch = gy[..., :, None] * gx[..., None, :] * score[p][..., None, None]  # (T, V, K, K)
        keep = (ys >= 0)[..., :, None] & (xs >= 0)[..., None, :] & (score[p] > 0)[..., None, None]
        index = (base + ys[..., :, None] * w + xs[..., None, :])[keep]  # distinct within one person
        flat[index] = np.maximum(flat[index], patch[keep])
    if not with_limbs:
        return out
    return np.concatenate([out, _limb_heatmaps(kp, score, size, sigma, limbs)])


def _limb_heatmaps(
    kp: np.ndarray, score: np.ndarray, size: tuple[int, int], sigma: float, limbs: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """PoseC3D limb maps: Gaussian of the distance to the segment × min of the end scores. -> L × T × H × W."""
    h, w = size
    a_idx, b_idx = np.array(limbs).T
    start, end = kp[:, :, a_idx], kp[:, :, b_idx]  # (M, T, L, 2)
    s_start, s_end = score[:, :, a_idx], score[:, :, b_idx]  # (M, T, L)
    value = np.minimum(s_start, s_end)
    gy = np.arange(h, dtype=np.float32)[:, None]  # (H, 1)
    gx = np.arange(w, dtype=np.float32)[None, :]  # (1, W)
    two_s2 = np.float32(2 * sigma**2)
    out = np.zeros((len(limbs), kp.shape[1], h, w), dtype=np.float32)
    for p in range(kp.shape[0]):
        sx, sy = (start[p, ..., i][..., None, None] for i in (0, 1))  # (T, L, 1, 1)
        ex, ey = (end[p, ..., i][..., None, None] for i in (0, 1))
        d2_start = (gx - sx) ** 2 + (gy - sy) ** 2  # (T, L, H, W)
        d2_end = (gx - ex) ** 2 + (gy - ey) ** 2
        d2_ab = (sx - ex) ** 2 + (sy - ey) ** 2  # (T, L, 1, 1)
        coeff = (d2_start - d2_end + d2_ab) / 2 / np.maximum(d2_ab, np.float32(1))
        proj_x, proj_y = sx + coeff * (ex - sx), sy + coeff * (ey - sy)
        d2_line = (gx - proj_x) ** 2 + (gy - proj_y) ** 2
        d2 = np.where(coeff <= 0, d2_start, np.where(coeff >= 1, d2_end, d2_line))
        # window: the segment's bounding box ± 3σ, ends truncated as PoseC3D does
        lo_x = np.trunc(np.minimum(sx, ex) - 3 * sigma)
        hi_x = np.trunc(np.maximum(sx, ex) + 3 * sigma) + 1
        lo_y = np.trunc(np.minimum(sy, ey) - 3 * sigma)
        hi_y = np.trunc(np.maximum(sy, ey) + 3 * sigma) + 1
        inside = (gx >= lo_x) & (gx < hi_x) & (gy >= lo_y) & (gy < hi_y)
        maps = np.where(inside, np.exp(-d2 / two_s2), np.float32(0)) * value[p][..., None, None]
        # ends closer than 1 px: PoseC3D draws the start keypoint with the start's score instead
        short = (d2_ab < 1)[..., 0, 0]  # (T, L)
        if short.any():
            point = (
                _axis_factor(sy[..., 0, 0], h, sigma)[..., :, None]
                * _axis_factor(sx[..., 0, 0], w, sigma)[..., None, :]
            )  # (T, L, H, W)
            maps = np.where(short[..., None, None], point * s_start[p][..., None, None], maps)
        np.maximum(out, maps.transpose(1, 0, 2, 3), out=out)  # (L, T, H, W)
    return out


def keypoints_to_heatmaps_loop(
    keypoint: np.ndarray,
    keypoint_score: np.ndarray,
    size: tuple[int, int],
    sigma: float = 0.6,
) -> np.ndarray:
    """Per-joint loop transcription of PoseC3D's ``generate_a_heatmap``: the reference for tests and benchmarks.

    Shapes as ``keypoints_to_heatmaps`` (joint maps only).
    """
    h, w = size
    kp, score = _clean(keypoint, keypoint_score)
    m, t, v = score.shape
    out = np.zeros((v, t, h, w), dtype=np.float32)
    for i in range(t):
        for j in range(v):
            arr = out[j, i]
            for p in range(m):
                if score[p, i, j] < EPS:
                    continue
                mu_x, mu_y = kp[p, i, j]
                st_x, ed_x = max(int(mu_x - 3 * sigma), 0), min(int(mu_x + 3 * sigma) + 1, w)
                st_y, ed_y = max(int(mu_y - 3 * sigma), 0), min(int(mu_y + 3 * sigma) + 1, h)
                x = np.arange(st_x, ed_x, 1, np.float32)
                y = np.arange(st_y, ed_y, 1, np.float32)[:, None]
                if not (len(x) and len(y)):
                    continue
                patch = np.exp(-((x - mu_x) ** 2 + (y - mu_y) ** 2) / 2 / sigma**2) * score[p, i, j]
                arr[st_y:ed_y, st_x:ed_x] = np.maximum(arr[st_y:ed_y, st_x:ed_x], patch)
    return out
