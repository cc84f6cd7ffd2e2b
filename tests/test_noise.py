"""Skeleton noise: identity at level 0, determinism, the statistics each level promises, no mutation."""

from __future__ import annotations

import numpy as np
import pytest

from epam_core.data.noise import (
    BODY_PARTS,
    NOISE_TYPES,
    NoiseSpec,
    apply_noise,
    parse_noise_arg,
    visible_box,
)

M, T, V = 2, 40, 17


def _skeletons(seed: int = 0, missing: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Random keypoints in a 200x100 box at (50, 20), some joints missing ((0, 0) with score 0)."""
    rng = np.random.default_rng(seed)
    kp = (rng.random((M, T, V, 2)) * [200, 100] + [50, 20]).astype(np.float32)
    score = rng.uniform(0.5, 1.0, (M, T, V)).astype(np.float32)
    gone = rng.random((M, T, V)) < missing
    kp[gone], score[gone] = 0, 0
    return kp, score


@pytest.mark.parametrize("name", sorted(NOISE_TYPES))
def test_level_zero_is_identity_and_inputs_are_not_mutated(name: str) -> None:
    kp, score = _skeletons()
    kp0, score0 = kp.copy(), score.copy()
    out_kp, out_score = apply_noise(kp, score, [NoiseSpec(name, 0.0)], seed=3)
    np.testing.assert_array_equal(out_kp, kp)
    np.testing.assert_array_equal(out_score, score)
    assert out_kp is not kp and out_score is not score
    level = NOISE_TYPES[name].default_levels[-1]
    out_kp, out_score = apply_noise(kp, score, [NoiseSpec(name, level)], seed=3)
    np.testing.assert_array_equal(kp, kp0)
    np.testing.assert_array_equal(score, score0)
    assert out_kp.dtype == np.float32 and out_kp.shape == kp.shape and out_score.shape == score.shape
    changed = not (np.array_equal(out_kp, kp) and np.array_equal(out_score, score))
    assert changed, f"{name} at level {level} changed nothing"


@pytest.mark.parametrize("name", sorted(NOISE_TYPES))
def test_same_seed_same_output_other_seed_other_output(name: str) -> None:
    kp, score = _skeletons()
    spec = [NoiseSpec(name, NOISE_TYPES[name].default_levels[2])]
    a = apply_noise(kp, score, spec, seed=7)
    b = apply_noise(kp, score, spec, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    if name != "score_scale":  # deterministic by definition
        others = [apply_noise(kp, score, spec, seed=s) for s in (8, 9, 10)]  # scale has only two outcomes
        assert any(not (np.array_equal(a[0], c[0]) and np.array_equal(a[1], c[1])) for c in others)


@pytest.mark.parametrize("name", sorted(NOISE_TYPES))
def test_missing_joints_stay_missing(name: str) -> None:
    kp, score = _skeletons()
    if name == "temporal_jitter":  # moves whole frames, missing joints included
        return
    missing = score == 0
    out_kp, out_score = apply_noise(kp, score, [NoiseSpec(name, NOISE_TYPES[name].default_levels[-1])], 1)
    if name == "lr_swap":  # a missing joint moves to its partner's slot
        assert (out_score == 0).sum() == missing.sum()
        return
    assert (out_score[missing] == 0).all()
    assert (out_kp[missing] == 0).all()


def test_jitter_px_std_is_the_level() -> None:
    kp = np.full((1, 500, V, 2), 100, np.float32)
    score = np.ones((1, 500, V), np.float32)
    out, _ = apply_noise(kp, score, [NoiseSpec("jitter_px", 4.0)], seed=0)
    assert abs(float((out - kp).std()) - 4.0) < 0.1
    assert abs(float((out - kp).mean())) < 0.1


def test_jitter_box_is_relative_to_the_box() -> None:
    kp = np.full((1, 500, V, 2), 100, np.float32)
    score = np.ones((1, 500, V), np.float32)
    out, _ = apply_noise(kp, score, [NoiseSpec("jitter_box", 0.05)], seed=0, box=(0, 0, 80, 40))
    assert abs(float((out - kp).std()) - 0.05 * 80) < 0.1


def test_joint_dropout_rate_is_the_level() -> None:
    kp, score = _skeletons(missing=0)
    _, out = apply_noise(kp, score, [NoiseSpec("joint_dropout", 0.3)], seed=0)
    assert abs(float((out == 0).mean()) - 0.3) < 0.03


def test_frame_dropout_hides_whole_frames() -> None:
    kp, score = _skeletons(missing=0)
    out_kp, out = apply_noise(kp, score, [NoiseSpec("frame_dropout", 0.25)], seed=0)
    hidden = (out == 0).all(axis=(0, 2))  # (T,)
    assert hidden.sum() == 10
    assert (out[:, ~hidden] > 0).all() and (out_kp[:, hidden] == 0).all()


@pytest.mark.parametrize("part", sorted(BODY_PARTS))
def test_occlusion_hides_exactly_the_part_for_the_fraction_of_frames(part: str) -> None:
    kp, score = _skeletons(missing=0)
    _, out = apply_noise(kp, score, [NoiseSpec(f"occlude_{part}", 0.5)], seed=0)
    hidden = out == 0  # (M, T, V)
    joints = hidden.any(axis=(0, 1))
    assert sorted(np.flatnonzero(joints)) == sorted(BODY_PARTS[part])
    frames = hidden[:, :, BODY_PARTS[part][0]]  # (M, T)
    assert (frames.sum(axis=1) == T // 2).all()
    assert (np.diff(frames.astype(int), axis=1) != 0).sum(axis=1).max() <= 2  # one contiguous stretch
    np.testing.assert_array_equal(
        hidden[:, :, BODY_PARTS[part]], np.repeat(frames[..., None], len(BODY_PARTS[part]), -1)
    )


def test_temporal_jitter_takes_frames_within_reach() -> None:
    kp = np.broadcast_to(np.arange(T, dtype=np.float32)[None, :, None, None], (1, T, V, 2)).copy()
    score = np.ones((1, T, V), np.float32)
    out, _ = apply_noise(kp, score, [NoiseSpec("temporal_jitter", 3)], seed=0)
    source = out[0, :, 0, 0]
    assert (np.abs(source - np.arange(T)) <= 3).all() and (source != np.arange(T)).any()
    assert (out == source[None, :, None, None]).all()  # whole frames move together


def test_translate_moves_everything_by_the_level() -> None:
    kp, score = _skeletons()
    out, _ = apply_noise(kp, score, [NoiseSpec("translate_px", 10.0)], seed=0)
    visible = score > 0
    shift = (out - kp)[visible]  # (P, 2)
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-4)
    assert abs(float(np.linalg.norm(shift[0])) - 10.0) < 1e-3


def test_scale_keeps_the_box_centre_and_scales_by_the_factor() -> None:
    kp, score = _skeletons(missing=0)
    box = visible_box(kp, score)
    out, _ = apply_noise(kp, score, [NoiseSpec("scale", 0.2)], seed=0)
    new = visible_box(out, score)
    ratio = (new[2] - new[0]) / (box[2] - box[0])
    assert min(abs(ratio - 1.2), abs(ratio - 0.8)) < 1e-4
    assert abs((new[0] + new[2]) - (box[0] + box[2])) < 1e-3


def test_score_scale_and_noise() -> None:
    kp, score = _skeletons()
    _, out = apply_noise(kp, score, [NoiseSpec("score_scale", 0.25)], seed=0)
    np.testing.assert_allclose(out, score * 0.75, rtol=1e-6)
    _, out = apply_noise(kp, score, [NoiseSpec("score_noise", 0.1)], seed=0)
    assert out.min() >= 0 and out.max() <= 1
    assert 0.05 < float((out - score)[score > 0].std()) < 0.1


def test_lr_swap_twice_is_identity_and_swaps_left_right() -> None:
    kp, score = _skeletons()
    once = apply_noise(kp, score, [NoiseSpec("lr_swap", 1.0)], seed=0)
    np.testing.assert_array_equal(once[0][:, :, 5], kp[:, :, 6])  # left shoulder <- right shoulder
    np.testing.assert_array_equal(once[0][:, :, 0], kp[:, :, 0])  # the nose stays
    twice = apply_noise(*once, [NoiseSpec("lr_swap", 1.0)], seed=5)
    np.testing.assert_array_equal(twice[0], kp)
    np.testing.assert_array_equal(twice[1], score)


def test_composition_uses_independent_streams() -> None:
    kp, score = _skeletons()
    both = apply_noise(kp, score, [NoiseSpec("jitter_px", 2), NoiseSpec("jitter_px", 2)], seed=0)
    jitter = both[0][score > 0] - kp[score > 0]
    assert abs(float(jitter.std()) - 2 * np.sqrt(2)) < 0.1  # not the same draw twice (which gives std 4)


def test_parse_noise_arg_and_errors() -> None:
    assert parse_noise_arg("jitter_px:0,2,4,8") == ("jitter_px", [0.0, 2.0, 4.0, 8.0])
    assert parse_noise_arg("lr_swap") == (
        "lr_swap",
        [float(v) for v in NOISE_TYPES["lr_swap"].default_levels],
    )
    with pytest.raises(ValueError, match="valid types: jitter_px"):
        parse_noise_arg("blur:1")
    with pytest.raises(ValueError, match="numbers"):
        parse_noise_arg("jitter_px:a,b")
    with pytest.raises(ValueError, match=r"joint_dropout level must be in \[0, 1"):
        parse_noise_arg("joint_dropout:0,1.5")
    kp, score = _skeletons()
    with pytest.raises(ValueError, match="unknown noise type 'nope'"):
        apply_noise(kp, score, [NoiseSpec("nope", 1)], seed=0)
