"""Attention you can measure: where EPAM-Net's spatial attention falls on the body, when its temporal attention
fires, and what the attention changes in the RGB stream's scores. Pure numpy functions.

Geometry. The spatial attention of RGB frame ``t`` is a map on the ``h x w`` feature grid over the
person-centred crop; cell ``(i, j)`` covers ``[j, j + 1) x [i, i + 1)`` in grid coordinates, i.e. the keypoints
mapped into the crop box with ``crop.keypoints_to_box(..., grid=(h, w))`` (the convention of the dashboard's
overlay, which upsamples the map over the crop). The body is drawn from the clip's own keypoints at the RGB
frames (pose frame ``t * frame_stride``): thick segments along the limbs, discs at the joints, the torso
quadrilateral filled, grouped into four parts::

    head   discs of ``head_radius`` at nose, eyes and ears, segments between them
    arms   upper arm and forearm segments, discs at elbows and (``hand_radius``) wrists
    torso  shoulder-hip quadrilateral, its four sides, the neck (shoulder midpoint to nose)
    legs   thigh and shin segments, discs at knees and ankles

Radii are fractions of the crop side. Joints with score 0 are skipped (and every segment touching them),
hence persons whose joints are all 0. The drawing is sampled ``supersample`` x ``supersample`` times per cell;
each sample belongs to the part whose drawn shape is nearest (ties: head, arms, torso, legs), so the parts
partition the body, and a cell's *coverage* of a part is the fraction of its samples in it.

Measures. With ``A`` one frame's map and ``c_p`` the coverage of part ``p`` (h, w):
``mass_p = sum(A * c_p) / sum(A)`` (the share of the frame's attention on the part) and
``chance_p = mean(c_p)`` (the part's share of the crop area: what a uniform map gives, exactly).
Per sample, both are means over the frames that show a person; ``on_body`` is the sum over parts.
``temporal_motion_corr`` is Pearson's r between the temporal attention (T,) and the skeleton's motion
(T,): the mean joint speed (grid cells per pose frame, over the scored joints of all persons) over the pose
frames from RGB frame ``t`` to RGB frame ``t + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from epam_core.analysis.metrics import top1_accuracy

PARTS = ("head", "arms", "torso", "legs")
VARIANTS = ("model", "uniform", "none")  # RGB logits with the model's attention, its per-sample mean, A = 0
VARIANT_LABELS = {"model": "model's attention", "uniform": "uniform (mean) attention", "none": "no attention"}
MIN_CORR_FRAMES = 3  # Pearson's r of fewer (finite) frames says nothing

# COCO-17 indices (epam_core.data.coco_keypoints.COCO_KEYPOINTS)
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16
HEAD_JOINTS = (NOSE, L_EYE, R_EYE, L_EAR, R_EAR)
HEAD_SEGMENTS = ((NOSE, L_EYE), (NOSE, R_EYE), (L_EYE, L_EAR), (R_EYE, R_EAR))
ARM_SEGMENTS = ((L_SHOULDER, L_ELBOW), (L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW), (R_ELBOW, R_WRIST))
TORSO_CORNERS = (L_SHOULDER, R_SHOULDER, R_HIP, L_HIP)
TORSO_SEGMENTS = ((L_SHOULDER, R_SHOULDER), (R_SHOULDER, R_HIP), (R_HIP, L_HIP), (L_HIP, L_SHOULDER))
LEG_SEGMENTS = ((L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE))


@dataclass(frozen=True)
class BodyShape:
    """How thick the drawn body is, as fractions of the crop side (a person spans about 0.8 of it)."""

    limb_radius: float = 0.03  # half a limb's width: SynthActions draws limbs 6-7.5 % of body height wide
    head_radius: float = 0.06
    hand_radius: float = 0.045  # the hand reaches past the wrist
    supersample: int = 8  # samples per cell side


DEFAULT_SHAPE = BodyShape()


# Every drawn shape: (joint a, joint b, radius field of BodyShape, part); a == b is a disc, -1 the neck base
# (the shoulders' midpoint).
SHAPES = (
    *((a, b, "limb_radius", "head") for a, b in HEAD_SEGMENTS),
    *((j, j, "head_radius", "head") for j in HEAD_JOINTS),
    *((a, b, "limb_radius", "arms") for a, b in ARM_SEGMENTS),
    (L_ELBOW, L_ELBOW, "limb_radius", "arms"),
    (R_ELBOW, R_ELBOW, "limb_radius", "arms"),
    (L_WRIST, L_WRIST, "hand_radius", "arms"),
    (R_WRIST, R_WRIST, "hand_radius", "arms"),
    *((a, b, "limb_radius", "torso") for a, b in TORSO_SEGMENTS),
    (-1, NOSE, "limb_radius", "torso"),
    *((a, b, "limb_radius", "legs") for a, b in LEG_SEGMENTS),
    *((j, j, "limb_radius", "legs") for j in (L_KNEE, R_KNEE, L_ANKLE, R_ANKLE)),
)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points (Q, 2) to segments a -> b (..., 2): (..., Q). x and y apart: no length-2 axes."""
    ax, ay = a[..., 0, None], a[..., 1, None]  # (..., 1)
    dx, dy = b[..., 0, None] - ax, b[..., 1, None] - ay
    px, py = points[:, 0] - ax, points[:, 1] - ay  # (..., Q)
    u = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0.0, 1.0)  # projection
    ex, ey = px - u * dx, py - u * dy
    return np.sqrt(ex * ex + ey * ey)


def _inside_quad(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(..., Q) bool: points (Q, 2) inside the quadrilaterals ``corners`` (..., 4, 2) (even-odd rule)."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros((*corners.shape[:-2], len(points)), dtype=bool)
    for k in range(4):
        p0, p1 = corners[..., k, None, :], corners[..., (k + 1) % 4, None, :]  # (..., 1, 2)
        x0, y0, x1, y1 = p0[..., 0], p0[..., 1], p1[..., 0], p1[..., 1]
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_at)
    return inside


def body_part_coverage(
    keypoint: np.ndarray,
    keypoint_score: np.ndarray,
    grid: tuple[int, int],
    shape: BodyShape = DEFAULT_SHAPE,
) -> np.ndarray:
    """Coverage of each body part on the attention grid, frame by frame.

    ``keypoint`` (M, T, V, 2) in grid coordinates (``keypoints_to_box(..., grid)`` at the RGB frames),
    ``keypoint_score`` (M, T, V). Returns (T, P, h, w) float32 in [0, 1], P = ``PARTS``; the parts never
    overlap (their sum over P is at most 1).
    """
    keypoint = np.asarray(keypoint, dtype=np.float32)
    scored = np.asarray(keypoint_score) > 0  # (M, T, V)
    h, w = grid
    s = shape.supersample
    ys = (np.arange(h * s, dtype=np.float32) + 0.5) / s  # sample centres in grid coordinates
    xs = (np.arange(w * s, dtype=np.float32) + 0.5) / s
    points = np.stack(np.meshgrid(xs, ys), axis=-1)  # (h*s, w*s, 2) as (x, y)
    scale = float(max(h, w))  # radii are fractions of the crop side
    reach = max(shape.limb_radius, shape.head_radius, shape.hand_radius) * scale
    neck = (keypoint[:, :, L_SHOULDER] + keypoint[:, :, R_SHOULDER]) / 2  # (M, T, 2)
    kp = np.concatenate([keypoint, neck[:, :, None]], axis=2)  # (M, T, V + 1, 2): index -1 is the neck base
    ok = np.concatenate([scored, scored[:, :, [L_SHOULDER]] & scored[:, :, [R_SHOULDER]]], axis=2)
    t = kp.shape[1]
    coverage = np.zeros((t, len(PARTS), h, w), dtype=np.float32)
    for f in range(t):
        nearest = np.full((len(PARTS), h * s, w * s), np.inf, dtype=np.float32)
        for person in np.flatnonzero(ok[:, f, :-1].any(axis=1)):  # persons with a scored joint
            # only the samples within reach of the person's joints: the distances stay small and in cache
            drawn = kp[person, f][ok[person, f]]  # (J, 2)
            (c0, r0), (c1, r1) = drawn.min(axis=0) - reach, drawn.max(axis=0) + reach
            rows = slice(max(0, int(np.floor(r0 * s))), max(0, min(h * s, int(np.ceil(r1 * s)))))
            cols = slice(max(0, int(np.floor(c0 * s))), max(0, min(w * s, int(np.ceil(c1 * s)))))
            window = points[rows, cols]  # (r, c, 2)
            if window.size == 0:
                continue
            dist = _nearest_part(
                window.reshape(-1, 2), kp[person, f][None], ok[person, f][None], shape, scale
            )
            nearest[:, rows, cols] = np.minimum(
                nearest[:, rows, cols], dist.reshape(len(PARTS), *window.shape[:2])
            )
        part, on_body = nearest.argmin(axis=0), nearest.min(axis=0) <= 0  # ties: the first part in PARTS
        hit = on_body & (part == np.arange(len(PARTS))[:, None, None])  # (P, h*s, w*s)
        coverage[f] = hit.reshape(len(PARTS), h, s, w, s).mean(axis=(2, 4), dtype=np.float32)  # (P, h, w)
    return coverage


_SHAPE_A = np.array([sh[0] for sh in SHAPES])
_SHAPE_B = np.array([sh[1] for sh in SHAPES])
_SHAPE_PART = np.array([PARTS.index(sh[3]) for sh in SHAPES])


def _nearest_part(
    points: np.ndarray, kp: np.ndarray, ok: np.ndarray, shape: BodyShape, scale: float
) -> np.ndarray:
    """Signed distance (P, Q) of the points to each part drawn for persons ``kp`` (M, V + 1, 2) with scored
    joints ``ok`` (M, V + 1); negative inside, inf where no person shows the part."""
    radius = np.array([getattr(shape, sh[2]) * scale for sh in SHAPES], dtype=np.float32)
    dist = _segment_distance(points, kp[:, _SHAPE_A], kp[:, _SHAPE_B]) - radius[:, None]  # (M, S, Q)
    dist[~(ok[:, _SHAPE_A] & ok[:, _SHAPE_B])] = np.inf  # shapes touching a score-0 joint are not drawn
    nearest = np.stack(
        [dist[:, _SHAPE_PART == p].min(axis=1) for p in range(len(PARTS))], axis=1
    )  # (M, P, Q)
    corners = list(TORSO_CORNERS)
    quad = _inside_quad(points, kp[:, corners]) & ok[:, corners].all(axis=1)[:, None]  # (M, Q)
    torso = PARTS.index("torso")
    nearest[:, torso] = np.where(quad, -shape.limb_radius * scale, nearest[:, torso])
    return nearest.min(axis=0)  # the union of the persons


def joint_motion(
    keypoint: np.ndarray, keypoint_score: np.ndarray, frame_stride: int, num_rgb_frames: int
) -> np.ndarray:
    """Mean joint speed at each RGB frame: (T_rgb,) float32, NaN where no joint is scored twice in a row.

    ``keypoint`` (M, T_pose, V, 2) (grid coordinates: speeds in cells per pose frame), ``keypoint_score``
    (M, T_pose, V). RGB frame ``t`` is pose frame ``t * frame_stride``; its motion is the mean, over the pose
    frames from it to the next RGB frame, of the mean displacement of the joints scored in both frames.
    """
    keypoint = np.asarray(keypoint, dtype=np.float64)
    scored = np.asarray(keypoint_score) > 0
    both = scored[:, 1:] & scored[:, :-1]  # (M, T_pose - 1, V)
    step = np.linalg.norm(keypoint[:, 1:] - keypoint[:, :-1], axis=-1)  # (M, T_pose - 1, V)
    count = both.sum(axis=(0, 2))  # (T_pose - 1,)
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = np.where(count > 0, (step * both).sum(axis=(0, 2)) / np.maximum(count, 1), np.nan)
    motion = np.full(num_rgb_frames, np.nan, dtype=np.float32)
    for t in range(num_rgb_frames):
        window = speed[t * frame_stride : (t + 1) * frame_stride]
        if np.isfinite(window).any():
            motion[t] = np.nanmean(window)
    return motion


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r (scipy) over the entries where both are finite; NaN for fewer than 3 or a constant series."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < MIN_CORR_FRAMES or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.pearsonr(x, y).statistic)


def sample_measures(
    spatial: np.ndarray, temporal: np.ndarray, coverage: np.ndarray, motion: np.ndarray
) -> dict[str, float]:
    """One sample's measures from its attention (spatial (T, h, w), temporal (T,)), part coverage
    (T, P, h, w) and motion (T,): ``on_body``, ``on_body_chance``, ``<part>_mass``, ``<part>_chance`` and
    ``temporal_motion_corr`` (NaN where undefined: no person shown, an all-zero map, a constant series)."""
    spatial = np.asarray(spatial, dtype=np.float64)
    coverage = np.asarray(coverage, dtype=np.float64)
    total = spatial.sum(axis=(1, 2))  # (T,)
    shown = (coverage.sum(axis=(1, 2, 3)) > 0) & (total > 0)  # frames with a person and some attention
    out: dict[str, float] = {}
    if shown.any():
        mass = (spatial[shown, None] * coverage[shown]).sum(axis=(2, 3)) / total[shown, None]  # (T', P)
        chance = coverage[shown].mean(axis=(2, 3))  # (T', P)
        mass, chance = mass.mean(axis=0), chance.mean(axis=0)  # (P,)
    else:
        mass = chance = np.full(len(PARTS), np.nan)
    out["on_body"], out["on_body_chance"] = float(mass.sum()), float(chance.sum())
    for p, name in enumerate(PARTS):
        out[f"{name}_mass"], out[f"{name}_chance"] = float(mass[p]), float(chance[p])
    out["temporal_motion_corr"] = pearson(temporal, motion)
    return out


MEASURE_COLUMNS = (
    "on_body",
    "on_body_chance",
    *(f"{p}_{kind}" for p in PARTS for kind in ("mass", "chance")),
    "temporal_motion_corr",
)


# --- what the attention buys ------------------------------------------------------------------------------


def variant_logits(measures: pd.DataFrame, rgb_logits: np.ndarray) -> dict[str, np.ndarray]:
    """RGB logits (S, K) per variant: ``model`` (the run's), ``uniform`` and ``none`` (from the measures)."""
    return {
        "model": np.asarray(rgb_logits, dtype=np.float32),
        "uniform": np.stack(measures["rgb_uniform_logits"].to_numpy()).astype(np.float32),
        "none": np.stack(measures["rgb_none_logits"].to_numpy()).astype(np.float32),
    }


def variant_top1(logits: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, float]:
    """Top-1 of each variant over the labelled samples (NaN without labels)."""
    return {v: top1_accuracy(np.asarray(x).argmax(axis=1), labels) for v, x in logits.items()}


def variant_scores(logits: dict[str, np.ndarray], class_names: list[str], k: int = 5) -> pd.DataFrame:
    """One sample: the ``k`` best classes of the model's RGB logits (K,) and each variant's softmax probability
    of them (columns ``class``, ``class_id``, ``model``, ``uniform``, ``none``)."""
    order = np.argsort(-np.asarray(logits["model"], dtype=np.float64), kind="stable")[:k]
    table = pd.DataFrame({"class": [class_names[i] for i in order], "class_id": order})
    for variant, x in logits.items():
        x = np.asarray(x, dtype=np.float64)
        prob = np.exp(x - x.max())
        table[variant] = (prob / prob.sum())[order]
    return table


def attention_gain_table(
    logits: dict[str, np.ndarray], labels: np.ndarray, class_names: list[str]
) -> pd.DataFrame:
    """Per class: support, RGB accuracy of each variant, and ``gain_vs_uniform`` / ``gain_vs_none`` (model -
    variant, fractions); NaN for a class without samples."""
    labels = np.asarray(labels)
    keep = labels >= 0
    k = len(class_names)
    support = np.bincount(labels[keep], minlength=k)
    table = pd.DataFrame({"class_id": np.arange(k), "class": class_names, "support": support})
    for variant, x in logits.items():
        right = np.bincount(labels[keep], weights=x[keep].argmax(axis=1) == labels[keep], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[variant] = np.where(support > 0, right / np.maximum(support, 1), np.nan)
    table["gain_vs_uniform"] = table["model"] - table["uniform"]
    table["gain_vs_none"] = table["model"] - table["none"]
    return table


# --- aggregates -------------------------------------------------------------------------------------------


def _mean(values: pd.Series | np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def part_table(measures: pd.DataFrame) -> pd.DataFrame:
    """Run means per region (body and the four parts): ``mass``, ``chance`` and ``ratio`` = mass / chance."""
    rows = [("body", _mean(measures["on_body"]), _mean(measures["on_body_chance"]))]
    rows += [(p, _mean(measures[f"{p}_mass"]), _mean(measures[f"{p}_chance"])) for p in PARTS]
    table = pd.DataFrame(rows, columns=["part", "mass", "chance"])
    with np.errstate(invalid="ignore", divide="ignore"):
        table["ratio"] = table["mass"] / table["chance"]
    return table


def class_part_table(measures: pd.DataFrame, labels: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """Per class (rows in class order): samples, mean on-body / part mass and chance, ratios, and the mean
    temporal-motion correlation. Classes without samples get NaN."""
    frame = measures[list(MEASURE_COLUMNS)].astype(np.float64).assign(label=np.asarray(labels))
    frame = frame[frame["label"] >= 0]
    grouped = frame.groupby("label").mean().reindex(range(len(class_names)))
    table = pd.DataFrame(
        {
            "class_id": np.arange(len(class_names)),
            "class": class_names,
            "samples": frame.groupby("label")
            .size()
            .reindex(range(len(class_names)), fill_value=0)
            .to_numpy(),
        }
    )
    for region, column in (("body", "on_body"), *((p, f"{p}_mass") for p in PARTS)):
        chance = "on_body_chance" if region == "body" else f"{region}_chance"
        table[f"{region}_mass"] = grouped[column].to_numpy()
        table[f"{region}_chance"] = grouped[chance].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            table[f"{region}_ratio"] = table[f"{region}_mass"] / table[f"{region}_chance"]
    table["temporal_motion_corr"] = grouped["temporal_motion_corr"].to_numpy()
    return table


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def attention_section(measures: pd.DataFrame, labels: np.ndarray, rgb_logits: np.ndarray) -> dict:
    """The ``attention`` section of ``epam report --json``: run means (fractions in [0, 1]; null where
    undefined): ``on_body``, ``on_body_chance``, ``parts.<part>.{mass, chance}``, ``temporal_motion_corr``,
    ``rgb_top1.{model, uniform, none}``."""
    top1 = variant_top1(variant_logits(measures, rgb_logits), np.asarray(labels))
    return {
        "on_body": _finite_or_none(_mean(measures["on_body"])),
        "on_body_chance": _finite_or_none(_mean(measures["on_body_chance"])),
        "parts": {
            p: {
                "mass": _finite_or_none(_mean(measures[f"{p}_mass"])),
                "chance": _finite_or_none(_mean(measures[f"{p}_chance"])),
            }
            for p in PARTS
        },
        "temporal_motion_corr": _finite_or_none(_mean(measures["temporal_motion_corr"])),
        "rgb_top1": {v: _finite_or_none(top1[v]) for v in VARIANTS},
    }


# --- how far the attention moved (Robustness page) --------------------------------------------------------


def attention_shift(
    clean_spatial: np.ndarray,
    clean_temporal: np.ndarray,
    noisy_spatial: np.ndarray,
    noisy_temporal: np.ndarray,
) -> dict[str, float]:
    """How far the attention moved between two passes on the same RGB frames (spatial (T, h, w), temporal
    (T,)): ``tv_distance`` (mean over frames of the total-variation distance of the maps normalised to sum 1,
    in [0, 1]), ``centroid_shift`` (mean distance of their centres of mass, grid cells), ``temporal_change``
    (mean absolute change of the temporal attention)."""
    p = np.asarray(clean_spatial, dtype=np.float64)
    q = np.asarray(noisy_spatial, dtype=np.float64)
    _, h, w = p.shape  # (T, h, w)
    p = p / np.maximum(p.sum(axis=(1, 2), keepdims=True), 1e-12)
    q = q / np.maximum(q.sum(axis=(1, 2), keepdims=True), 1e-12)
    ys, xs = np.mgrid[0:h, 0:w] + 0.5  # cell centres

    def centroid(m: np.ndarray) -> np.ndarray:
        return np.stack([(m * xs).sum(axis=(1, 2)), (m * ys).sum(axis=(1, 2))], axis=1)  # (T, 2)

    return {
        "tv_distance": float(0.5 * np.abs(p - q).sum(axis=(1, 2)).mean()),
        "centroid_shift": float(np.linalg.norm(centroid(p) - centroid(q), axis=1).mean()),
        "temporal_change": float(
            np.abs(np.asarray(clean_temporal, np.float64) - np.asarray(noisy_temporal, np.float64)).mean()
        ),
    }
