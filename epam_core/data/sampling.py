"""Frame sampling: PoseC3D's uniform sampling of the pose frames, RGB frames as every k-th of them.

Spec §3.3 step 1 (pyskl ``UniformSampleFrames``, one clip). Training draws from the caller's generator;
test mode reproduces the authors' deterministic indices (``np.random.seed(255)``, legacy generator).
"""

from __future__ import annotations

import numpy as np

from epam_core.config import InputConfig

TEST_SEED = 255  # pyskl UniformSampleFrames(seed=255)


def uniform_sample(
    num_frames: int, clip_len: int, rng: np.random.Generator | np.random.RandomState
) -> np.ndarray:
    """``clip_len`` frame indices of a video of ``num_frames`` frames, in time order (repeats when short).

    * num_frames >= 2 * clip_len: split into clip_len equal segments, one random frame from each;
    * clip_len <= num_frames < 2 * clip_len: consecutive frames with num_frames - clip_len random skips;
    * num_frames < clip_len: a random start, then consecutive indices modulo num_frames.
    """
    if num_frames < 1 or clip_len < 1:
        raise ValueError(f"need num_frames >= 1 and clip_len >= 1 (got {num_frames}, {clip_len})")
    randint = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    if num_frames < clip_len:
        start = int(randint(0, num_frames))
        inds = np.arange(start, start + clip_len)
    elif num_frames < 2 * clip_len:
        skips = rng.choice(clip_len + 1, num_frames - clip_len, replace=False)
        offset = np.zeros(clip_len + 1, dtype=np.int64)
        offset[skips] = 1
        inds = np.arange(clip_len) + np.cumsum(offset)[:-1]
    else:
        bounds = np.arange(clip_len + 1) * num_frames // clip_len  # segment borders
        inds = bounds[:-1] + randint(np.diff(bounds))
    return np.mod(inds, num_frames).astype(np.int64)


def eval_sample(num_frames: int, clip_len: int) -> np.ndarray:
    """The deterministic test-mode indices: PoseC3D's, including its seed-255 offsets (first clip)."""
    if num_frames < clip_len:  # the first test clip starts at frame 0
        return np.mod(np.arange(clip_len), num_frames).astype(np.int64)
    return uniform_sample(num_frames, clip_len, np.random.RandomState(TEST_SEED))


def pose_indices(
    num_frames: int, input_cfg: InputConfig, train: bool = False, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The ``input_cfg.pose_frames`` pose frame indices: random when training, deterministic otherwise."""
    if not train:
        return eval_sample(num_frames, input_cfg.pose_frames)
    return uniform_sample(
        num_frames, input_cfg.pose_frames, rng if rng is not None else np.random.default_rng()
    )


def rgb_indices(pose_idx: np.ndarray, frame_stride: int) -> np.ndarray:
    """The RGB frames: every ``frame_stride``-th pose frame, so RGB frame k is pose frame k * stride
    (docs/epam_net_spec.md §2.4)."""
    return np.asarray(pose_idx)[::frame_stride]
