"""Heatmap volumes: values at keypoints, skipped joints, no mutation, equality with PoseC3D's loop, limbs."""

from __future__ import annotations

import numpy as np
import pytest

from epam_core.data.crop import flip_keypoints
from epam_core.data.heatmaps import keypoints_to_heatmaps, keypoints_to_heatmaps_loop

SIZE = (56, 56)


def _random(m: int, t: int = 6, v: int = 17, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kp = rng.uniform(-4, 60, (m, t, v, 2)).astype(np.float32)  # some joints off the grid
    score = rng.uniform(0, 1, (m, t, v)).astype(np.float32)
    score[score < 0.15] = 0
    return kp, score


def test_peak_equals_score_at_the_keypoint_pixel():
    kp = np.zeros((1, 2, 17, 2), np.float32)
    kp[0, :, 5] = (20, 31)  # integer pixel: x=20, y=31
    score = np.zeros((1, 2, 17), np.float32)
    score[0, :, 5] = (0.7, 0.3)
    maps = keypoints_to_heatmaps(kp, score, SIZE)
    assert maps.shape == (17, 2, 56, 56) and maps.dtype == np.float32
    assert maps[5, 0, 31, 20] == pytest.approx(0.7) and maps[5, 0].max() == pytest.approx(0.7)
    assert maps[5, 1, 31, 20] == pytest.approx(0.3)
    # one pixel away: score * exp(-1 / (2 * 0.6²)); beyond 3σ (2 px here): exactly 0
    assert maps[5, 0, 31, 21] == pytest.approx(0.7 * np.exp(-1 / 0.72), rel=1e-6)
    assert maps[5, 0, 31, 23] == 0 and maps[5, 0, 34, 20] == 0
    assert np.count_nonzero(np.delete(maps, 5, axis=0)) == 0


def test_zero_score_and_nan_joints_draw_nothing():
    kp, score = _random(1)
    score[0, 2, 4] = 0
    score[0, 3, 7] = 5e-5  # below PoseC3D's eps 1e-4
    kp[0, 1, 9] = np.nan
    maps = keypoints_to_heatmaps(kp, score, SIZE)
    assert not maps[4, 2].any() and not maps[7, 3].any() and not maps[9, 1].any()
    assert np.isfinite(maps).all()


def test_inputs_are_not_mutated():
    kp, score = _random(2)
    kp[0, 0, 0] = np.nan
    kp_copy, score_copy = kp.copy(), score.copy()
    keypoints_to_heatmaps(kp, score, SIZE, with_limbs=True)
    np.testing.assert_array_equal(kp, kp_copy)
    np.testing.assert_array_equal(score, score_copy)


@pytest.mark.parametrize(("m", "size", "sigma"), [(1, (56, 56), 0.6), (2, (56, 56), 0.6), (3, (24, 40), 1.3)])
def test_equals_the_per_joint_loop_reference(m, size, sigma):
    kp, score = _random(m, seed=m)
    kp[..., 1] *= size[0] / 56
    np.testing.assert_allclose(
        keypoints_to_heatmaps(kp, score, size, sigma),
        keypoints_to_heatmaps_loop(kp, score, size, sigma),
        atol=1e-6,
    )


def test_max_over_persons():
    kp = np.full((2, 1, 17, 2), 10, np.float32)
    score = np.zeros((2, 1, 17), np.float32)
    score[:, 0, 0] = (0.4, 0.9)
    assert keypoints_to_heatmaps(kp, score, SIZE)[0, 0, 10, 10] == pytest.approx(0.9)


def test_flipping_twice_returns_the_original_heatmaps():
    kp, score = _random(2)
    kp = np.where(score[..., None] > 0, kp, 0).astype(np.float32)
    once_kp, once_score = flip_keypoints(kp, score, width=56)
    twice_kp, twice_score = flip_keypoints(once_kp, once_score, width=56)
    np.testing.assert_allclose(twice_kp, kp, atol=1e-5)
    np.testing.assert_array_equal(twice_score, score)
    np.testing.assert_allclose(
        keypoints_to_heatmaps(twice_kp, twice_score, SIZE), keypoints_to_heatmaps(kp, score, SIZE), atol=1e-5
    )
    # a flipped left wrist is drawn as the right wrist, mirrored: x -> 56 - x
    one = np.zeros((1, 1, 17, 2), np.float32)
    one[0, 0, 9] = (10, 20)
    s = np.zeros((1, 1, 17), np.float32)
    s[0, 0, 9] = 1
    flipped = keypoints_to_heatmaps(*flip_keypoints(one, s, width=56), SIZE)
    assert flipped[10, 0, 20, 46] == pytest.approx(1) and not flipped[9].any()


def test_limb_heatmaps():
    kp = np.zeros((1, 1, 17, 2), np.float32)
    score = np.zeros((1, 1, 17), np.float32)
    kp[0, 0, 5], kp[0, 0, 7] = (10, 20), (30, 20)  # left shoulder -> left elbow, horizontal
    score[0, 0, 5], score[0, 0, 7] = 0.8, 0.5
    maps = keypoints_to_heatmaps(kp, score, SIZE, with_limbs=True)
    assert maps.shape == (17 + 17, 1, 56, 56)
    limb = maps[17 + 5, 0]  # COCO_LIMBS[5] = (5, 7)
    np.testing.assert_allclose(limb[20, 10:31], 0.5, rtol=1e-6)  # on the segment: the smaller score
    assert limb[21, 20] == pytest.approx(0.5 * np.exp(-1 / 0.72), rel=1e-5)  # 1 px from the segment
    assert limb[20, 8] == pytest.approx(0.5 * np.exp(-4 / 0.72), rel=1e-5)  # 2 px beyond its end
    assert limb[24, 20] == 0 and limb[20, 33] == 0  # outside the ±3σ window
    assert np.count_nonzero(maps[17:]) == np.count_nonzero(limb)  # every other limb has a zero-score end
