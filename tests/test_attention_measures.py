"""Attention measures: constructed cases with known answers (body parts, motion, correlation, aggregates)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from epam_core.analysis import attention_measures as am
from epam_core.analysis.attention_measures import PARTS, BodyShape

GRID = (6, 6)
# a standing person on a 6x6 grid (x, y), COCO-17 order; the right wrist sits at the centre of cell (3, 0)
PERSON = np.array(
    [
        [2.5, 0.6],  # nose
        [2.35, 0.5],
        [2.65, 0.5],
        [2.2, 0.6],
        [2.8, 0.6],  # ears
        [2.0, 1.4],  # left shoulder
        [3.0, 1.4],  # right shoulder
        [1.5, 2.2],
        [1.5, 3.0],  # right elbow: to the left, the forearm goes down-left
        [1.2, 3.0],  # left wrist
        [0.5, 3.5],  # right wrist: centre of cell (row 3, col 0)
        [2.2, 3.2],
        [2.8, 3.2],  # hips
        [2.2, 4.3],
        [2.8, 4.3],
        [2.2, 5.4],
        [2.8, 5.4],  # ankles
    ]
)
R_WRIST_CELL = (3, 0)


def clip_keypoints(frames: int = 4, persons: int = 1) -> tuple[np.ndarray, np.ndarray]:
    kp = np.tile(PERSON, (persons, frames, 1, 1)).astype(np.float32)  # (M, T, V, 2)
    return kp, np.ones(kp.shape[:3], np.float32)


def wrist_attention(frames: int = 4) -> np.ndarray:
    spatial = np.zeros((frames, *GRID), np.float32)
    spatial[:, R_WRIST_CELL[0], R_WRIST_CELL[1]] = 0.9
    return spatial


def test_all_attention_on_the_wrist_cell_is_all_on_the_hands():
    kp, score = clip_keypoints()
    # a hand disc that covers its whole cell (radius 0.75 cells > half the cell's diagonal)
    shape = BodyShape(hand_radius=0.75 / GRID[0])
    coverage = am.body_part_coverage(kp, score, GRID, shape)
    m = am.sample_measures(wrist_attention(), np.full(4, 0.5), coverage, np.arange(4.0))
    assert m["arms_mass"] == pytest.approx(1.0)
    assert m["legs_mass"] == 0.0 and m["head_mass"] == 0.0 and m["torso_mass"] == 0.0
    assert m["on_body"] == pytest.approx(1.0)


def test_wrist_cell_with_one_sample_per_cell_is_binary():
    kp, score = clip_keypoints()
    coverage = am.body_part_coverage(kp, score, GRID, BodyShape(supersample=1))
    assert set(np.unique(coverage)) <= {0.0, 1.0}
    assert coverage[:, PARTS.index("arms"), R_WRIST_CELL[0], R_WRIST_CELL[1]].tolist() == [1.0] * 4
    m = am.sample_measures(wrist_attention(), np.ones(4), coverage, np.zeros(4))
    assert (m["arms_mass"], m["legs_mass"]) == (1.0, 0.0)


def test_uniform_attention_gives_exactly_the_area_shares():
    kp, score = clip_keypoints(frames=5)
    kp[:, 2:] += 0.37  # frames differ
    coverage = am.body_part_coverage(kp, score, GRID)
    spatial = np.ones((5, *GRID)) * np.array([0.1, 0.5, 0.9, 0.3, 1.0])[:, None, None]  # uniform per frame
    m = am.sample_measures(spatial, np.ones(5), coverage, np.zeros(5))
    for part in PARTS:
        expected = coverage[:, PARTS.index(part)].mean()
        assert m[f"{part}_chance"] == pytest.approx(expected, abs=1e-12)
        assert m[f"{part}_mass"] == pytest.approx(m[f"{part}_chance"], abs=1e-12)
    assert m["on_body"] == pytest.approx(m["on_body_chance"], abs=1e-12)
    assert 0.05 < m["on_body_chance"] < 0.6  # a person, not the whole crop


def test_parts_partition_the_body_and_every_part_is_drawn():
    kp, score = clip_keypoints()
    coverage = am.body_part_coverage(kp, score, GRID)
    body = coverage.sum(axis=1)
    assert body.max() <= 1.0 + 1e-6 and coverage.min() >= 0.0
    assert (coverage.sum(axis=(2, 3)) > 0).all()  # every part, every frame
    # the head is at the top, the legs at the bottom
    rows = np.arange(GRID[0])
    centre_row = {
        p: (coverage[0, i].sum(axis=1) * rows).sum() / coverage[0, i].sum() for i, p in enumerate(PARTS)
    }
    assert centre_row["head"] < centre_row["torso"] < centre_row["legs"]


def test_score_zero_joints_and_persons_are_skipped():
    kp, score = clip_keypoints(persons=2)
    kp[1] += 10.0  # a second person elsewhere ...
    score[1] = 0.0  # ... with no scored joint: draws nothing
    one = am.body_part_coverage(kp[:1], score[:1], GRID)
    np.testing.assert_array_equal(am.body_part_coverage(kp, score, GRID), one)
    score[0, :, 10] = 0.0  # the right wrist unscored: its forearm and hand disappear
    no_wrist = am.body_part_coverage(kp[:1], score[:1], GRID, BodyShape(supersample=1))
    assert no_wrist[:, PARTS.index("arms"), R_WRIST_CELL[0], R_WRIST_CELL[1]].tolist() == [0.0] * 4
    score[0] = 0.0
    assert not am.body_part_coverage(kp[:1], score[:1], GRID).any()
    m = am.sample_measures(wrist_attention(), np.ones(4), np.zeros((4, 4, *GRID)), np.zeros(4))
    assert np.isnan(m["on_body"]) and np.isnan(m["arms_chance"])  # no person shown: undefined, not 0


def test_two_persons_are_a_union():
    kp, score = clip_keypoints(persons=2)
    kp[1, :, :, 0] += 3.0  # side by side
    both = am.body_part_coverage(kp, score, GRID)
    first = am.body_part_coverage(kp[:1], score[:1], GRID)
    assert both.sum() > first.sum()
    assert (both >= first - 1e-6).all()


def test_joint_motion_is_the_mean_speed_over_the_pose_frames_to_the_next_rgb_frame():
    kp = np.zeros((1, 6, 17, 2), np.float32)
    for f in range(1, 6):
        kp[0, f] = kp[0, f - 1] + ([0.3, 0.4] if f <= 3 else [0.0, 0.0])  # speed 0.5 for 3 steps, then 0
    score = np.ones((1, 6, 17), np.float32)
    np.testing.assert_allclose(
        am.joint_motion(kp, score, frame_stride=3, num_rgb_frames=2), [0.5, 0.0], atol=1e-6
    )
    kp[0, 4:, 0] += 100.0  # the nose jumps, but it is unscored from frame 4 on: not counted
    score[0, 4:, 0] = 0.0
    np.testing.assert_allclose(am.joint_motion(kp, score, 3, 2), [0.5, 0.0], atol=1e-6)
    score[:, 3:] = 0.0  # nothing scored twice in a row after frame 2
    motion = am.joint_motion(kp, score, 3, 2)
    assert motion[0] == pytest.approx(0.5) and np.isnan(motion[1])


def test_pearson_is_scipys_and_nan_when_undefined():
    rng = np.random.default_rng(0)
    x, y = rng.random(8), rng.random(8)
    assert am.pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
    y[2] = np.nan  # finite pairs only
    keep = np.isfinite(y)
    assert am.pearson(x, y) == pytest.approx(stats.pearsonr(x[keep], y[keep]).statistic, abs=1e-12)
    assert np.isnan(am.pearson(np.ones(8), x))
    assert np.isnan(am.pearson(x[:2], x[:2]))
    assert am.pearson(x, 3 * x + 1) == pytest.approx(1.0)


def test_attention_following_the_motion_correlates():
    kp, score = clip_keypoints()
    coverage = am.body_part_coverage(kp, score, GRID)
    motion = np.array([0.1, 0.5, 0.2, 0.9])
    m = am.sample_measures(wrist_attention(), 0.2 + 0.5 * motion, coverage, motion)
    assert m["temporal_motion_corr"] == pytest.approx(1.0)
    m = am.sample_measures(wrist_attention(), 1 - motion, coverage, motion)
    assert m["temporal_motion_corr"] == pytest.approx(-1.0)


def measures_table(values: dict[str, list[float]], n: int) -> pd.DataFrame:
    frame = pd.DataFrame({c: values.get(c, [0.0] * n) for c in am.MEASURE_COLUMNS})
    frame["rgb_uniform_logits"] = list(np.zeros((n, 3), np.float32))
    frame["rgb_none_logits"] = list(np.zeros((n, 3), np.float32))
    return frame


def test_variant_accuracies_and_gains_per_class():
    labels = np.array([0, 0, 1, 1, 2, -1])
    model = np.eye(3)[[0, 0, 1, 1, 2, 0]]  # all right
    uniform = np.eye(3)[[0, 1, 1, 0, 2, 0]]  # wrong on samples 1 and 3
    none = np.eye(3)[[1, 1, 1, 1, 1, 1]]  # right only on class 1
    logits = {"model": model, "uniform": uniform, "none": none}
    assert am.variant_top1(logits, labels) == {"model": 1.0, "uniform": 0.6, "none": 0.4}
    table = am.attention_gain_table(logits, labels, ["a", "b", "c", "d"])
    assert table["support"].tolist() == [2, 2, 1, 0]
    np.testing.assert_allclose(table["uniform"][:3], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(table["gain_vs_none"][:3], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(table["gain_vs_uniform"][:3], [0.5, 0.5, 0.0])
    assert table[["model", "gain_vs_none"]].iloc[3].isna().all()  # no sample of class d


def test_class_part_table_and_run_section():
    n = 4
    table = measures_table(
        {
            "on_body": [0.5, 0.7, 0.2, np.nan],
            "on_body_chance": [0.25, 0.25, 0.2, 0.2],
            "arms_mass": [0.3, 0.5, 0.1, np.nan],
            "arms_chance": [0.1, 0.1, 0.05, 0.05],
            "temporal_motion_corr": [0.5, np.nan, -0.5, 0.1],
        },
        n,
    )
    labels = np.array([0, 0, 1, 1])
    per_class = am.class_part_table(table, labels, ["x", "y", "z"])
    assert per_class["samples"].tolist() == [2, 2, 0]
    assert per_class.loc[0, "body_mass"] == pytest.approx(0.6)
    assert per_class.loc[0, "body_ratio"] == pytest.approx(2.4)
    assert per_class.loc[0, "arms_ratio"] == pytest.approx(4.0)
    assert per_class.loc[1, "body_mass"] == pytest.approx(0.2)  # NaN samples left out
    assert per_class.loc[0, "temporal_motion_corr"] == pytest.approx(0.5)
    assert per_class.loc[2, ["body_mass", "arms_ratio"]].isna().all()
    parts = am.part_table(table).set_index("part")
    assert parts.loc["body", "mass"] == pytest.approx(np.mean([0.5, 0.7, 0.2]))
    assert parts.loc["arms", "ratio"] == pytest.approx(0.3 / 0.075)
    rgb = np.eye(3)[[0, 0, 1, 2]]
    section = am.attention_section(table, labels, rgb)
    assert set(section) == {"on_body", "on_body_chance", "parts", "temporal_motion_corr", "rgb_top1"}
    assert set(section["parts"]) == set(PARTS) and set(section["parts"]["head"]) == {"mass", "chance"}
    assert section["on_body"] == pytest.approx(np.mean([0.5, 0.7, 0.2]))
    assert section["parts"]["arms"]["chance"] == pytest.approx(0.075)
    assert section["temporal_motion_corr"] == pytest.approx(np.mean([0.5, -0.5, 0.1]))
    assert section["rgb_top1"] == {"model": 0.75, "uniform": 0.5, "none": 0.5}  # zero logits: class 0
    nan_table = measures_table({"on_body": [np.nan] * n}, n)
    assert am.attention_section(nan_table, labels, rgb)["on_body"] is None  # JSON null, not NaN


def test_attention_shift_known_moves():
    clean = np.zeros((2, *GRID))
    clean[:, 1, 1] = 1.0
    noisy = np.zeros((2, *GRID))
    noisy[:, 1, 3] = 0.5  # moved two cells right (the scale does not matter: maps are normalised)
    shift = am.attention_shift(clean, np.array([0.2, 0.4]), noisy, np.array([0.2, 0.8]))
    assert shift == pytest.approx({"tv_distance": 1.0, "centroid_shift": 2.0, "temporal_change": 0.2})
    same = am.attention_shift(clean, np.ones(2), 3 * clean, np.ones(2))
    assert same == pytest.approx({"tv_distance": 0.0, "centroid_shift": 0.0, "temporal_change": 0.0})
    half = noisy + clean  # half of the mass stays
    assert am.attention_shift(clean, np.ones(2), half, np.ones(2))["tv_distance"] == pytest.approx(1 / 3)


def test_variant_scores_keep_the_models_top_classes():
    logits = {"model": np.array([0.0, 3.0, 1.0]), "uniform": np.array([2.0, 0.0, 0.0]), "none": np.zeros(3)}
    table = am.variant_scores(logits, ["a", "b", "c"], k=2)
    assert table["class"].tolist() == ["b", "c"]
    np.testing.assert_allclose(table["none"], [1 / 3, 1 / 3])
    np.testing.assert_allclose(table["uniform"], np.exp([0.0, 0.0]) / (np.exp(2.0) + 2))
    np.testing.assert_allclose(table["model"], np.exp([3.0, 1.0]) / np.exp([0.0, 3.0, 1.0]).sum())


def test_drawn_areas_are_those_of_discs_and_capsules():
    """Only the nose scored: a head disc of area pi r^2; one forearm: a capsule 2 r L + pi r^2 (grid cells)."""
    grid, shape = (8, 8), BodyShape(supersample=16)
    kp = np.zeros((1, 1, 17, 2), np.float32)
    score = np.zeros((1, 1, 17), np.float32)
    kp[0, 0, 0], score[0, 0, 0] = (3.3, 4.1), 1.0
    coverage = am.body_part_coverage(kp, score, grid, shape)
    r = shape.head_radius * grid[0]
    assert coverage[0, PARTS.index("head")].sum() == pytest.approx(np.pi * r**2, rel=0.03)
    assert coverage[0].sum() == pytest.approx(coverage[0, PARTS.index("head")].sum())
    score[0, 0, 0] = 0.0
    kp[0, 0, 7], kp[0, 0, 9] = (2.0, 2.0), (5.0, 6.0)  # left elbow -> left wrist: length 5 cells
    score[0, 0, [7, 9]] = 1.0
    arms = am.body_part_coverage(kp, score, grid, shape)[0, PARTS.index("arms")].sum()
    r_limb, r_hand = shape.limb_radius * grid[0], shape.hand_radius * grid[0]
    # the strip (half-width r_limb) with a half disc at the elbow, and the hand disc at the wrist, less the
    # part of the hand disc inside the strip (circle-strip intersection, halved)
    overlap = r_limb * np.sqrt(r_hand**2 - r_limb**2) + r_hand**2 * np.arcsin(r_limb / r_hand)
    union = 2 * r_limb * 5.0 + np.pi * r_limb**2 / 2 + np.pi * r_hand**2 - overlap
    assert arms == pytest.approx(union, rel=0.02)
