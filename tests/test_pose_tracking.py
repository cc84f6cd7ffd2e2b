"""Identities across frames (epam_core.poses.tracking): boxes, the Hungarian matching with the boxes' motion,
a person who disappears and comes back, and the pyskl order (highest total score first)."""

from __future__ import annotations

import numpy as np
import pytest

from epam_core.data.synth.crossing import render_crossing_clip
from epam_core.poses import tracking
from epam_core.poses.tracking import MAX_GAP, box_iou, keypoint_box, track_identities


def test_keypoint_box_and_iou() -> None:
    kp = np.array([[10.0, 20.0], [30.0, 60.0], [500.0, 500.0]])
    assert keypoint_box(kp, np.array([0.9, 0.5, 0.0])).tolist() == [10, 20, 30, 60]  # score 0 left out
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])


def crossing_people(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The true joints of the crossing clip as people per frame (T, 2, 17, 2), in a random slot order each
    frame, with the adult (hidden by the child) absent for 12 frames around the crossing."""
    truth = render_crossing_clip(seed).keypoint.transpose(1, 0, 2, 3)  # (T, 2, 17, 2)
    score = np.ones(truth.shape[:-1], np.float32)  # (T, 2, 17)
    score[24:36, 0] = 0  # the adult is hidden
    order = np.random.default_rng(seed).permuted(np.tile([0, 1], (len(truth), 1)), axis=1)  # (T, 2)
    frames = np.arange(len(truth))[:, None]
    return truth[frames, order] * (score[frames, order] > 0)[..., None], score[frames, order]


def test_crossing_people_keep_their_identities_through_a_gap() -> None:
    keypoint, score = crossing_people()
    truth = render_crossing_clip(0).keypoint  # (2, T, 17, 2): adult, child
    kp, sc = track_identities(keypoint, score)
    assert kp.shape == (2, 60, 17, 2) and sc.shape == (2, 60, 17)
    # the child is seen in all 60 frames, the adult in 48: the child first (total score), then the adult
    np.testing.assert_array_equal(kp[0], truth[1])
    assert sc[0].sum() == 60 * 17 and sc[1].sum() == 48 * 17
    seen = (sc[1] > 0).all(-1)
    np.testing.assert_array_equal(seen, np.r_[np.ones(24), np.zeros(12), np.ones(24)].astype(bool))
    np.testing.assert_array_equal(kp[1][seen], truth[0][seen])  # the same adult after the gap
    assert (kp[1][~seen] == 0).all()


def test_without_motion_the_gap_would_split_the_adult(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the motion fit is for: with the last box kept in place (a history of one frame: no motion) the
    adult coming out behind the child overlaps nothing of where it was and becomes a third identity."""
    monkeypatch.setattr(tracking, "HISTORY", 1)
    kp, sc = track_identities(*crossing_people())
    assert kp.shape == (3, 60, 17, 2)
    np.testing.assert_array_equal((sc > 0).all(-1).sum(-1), [60, 24, 24])


def test_a_person_gone_longer_than_max_gap_is_someone_new() -> None:
    t = MAX_GAP + 10
    keypoint = np.zeros((t, 1, 17, 2), np.float32)
    keypoint[..., 0] = 100 + np.arange(17)
    keypoint[..., 1] = 100 + 2 * np.arange(17)
    score = np.zeros((t, 1, 17), np.float32)
    score[:3] = 0.9
    score[-3:] = 0.8  # the same place, MAX_GAP + 4 frames later
    kp, sc = track_identities(keypoint * (score > 0)[..., None], score)
    assert sc.shape == (2, t, 17)
    assert (sc[0, :3] == 0.9).all() and (sc[1, -3:] == 0.8).all()  # the larger total first
    assert (sc[0, 3:] == 0).all() and (sc[1, :-3] == 0).all()
    np.testing.assert_array_equal(kp[1, -3:], keypoint[-3:, 0])
    score[3 : t - 3 - MAX_GAP + 1] = 0.85  # now seen last MAX_GAP frames before: still the same person
    kp, sc = track_identities(keypoint * (score > 0)[..., None], score)
    assert sc.shape == (1, t, 17) and (sc[0, : t - 3 - MAX_GAP + 1] > 0).all() and (sc[0, -3:] == 0.8).all()
