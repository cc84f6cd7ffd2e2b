"""Sampling, person crop, Clip pipeline and PoseRGBDataset on tiny generated videos (and the real NTU clip)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from epam_core.config import InputConfig
from epam_core.data.crop import crop_resize, keypoints_to_box, person_box
from epam_core.data.dataset import PoseRGBDataset, find_video
from epam_core.data.pipeline import clip_from_arrays, clip_to_tensors, load_clip
from epam_core.data.pyskl import load_annotations, save_annotations
from epam_core.data.sampling import eval_sample, pose_indices, rgb_indices, uniform_sample
from epam_core.data.video import write_webm
from epam_core.errors import DataError

CFG = InputConfig(pose_frames=12, rgb_frames=4, rgb_size=64, heatmap_size=16)
H, W, T = 96, 128, 40


def _pyskl_reference(num_frames: int, clip_len: int) -> np.ndarray:
    """pyskl UniformSampleFrames._get_test_clips, one clip (its np.random.seed(255) is this legacy state)."""
    legacy = np.random.RandomState(255)
    if num_frames < clip_len:
        inds = np.arange(0, clip_len)
    elif clip_len <= num_frames < clip_len * 2:
        basic = np.arange(clip_len)
        inds = legacy.choice(clip_len + 1, num_frames - clip_len, replace=False)
        offset = np.zeros(clip_len + 1, dtype=np.int64)
        offset[inds] = 1
        inds = basic + np.cumsum(offset)[:-1]
    else:
        bids = np.array([i * num_frames // clip_len for i in range(clip_len + 1)])
        inds = bids[:clip_len] + legacy.randint(np.diff(bids))
    return np.mod(inds, num_frames)


@pytest.mark.parametrize("num_frames", [5, 48, 60, 103, 300])
def test_test_mode_sampling_matches_pyskl(num_frames):
    np.testing.assert_array_equal(eval_sample(num_frames, 48), _pyskl_reference(num_frames, 48))


def test_train_sampling_cases():
    rng = np.random.default_rng(1)
    long = uniform_sample(100, 10, rng)  # T >= 2 clip: one frame in each segment [10 i, 10 i + 10)
    assert ((long >= np.arange(10) * 10) & (long < np.arange(1, 11) * 10)).all()
    mid = uniform_sample(15, 10, rng)  # clip <= T < 2 clip: increasing, distinct, inside
    assert (np.diff(mid) >= 1).all() and mid.max() < 15 and len(mid) == 10
    short = uniform_sample(4, 10, rng)  # T < clip: consecutive modulo T
    assert (np.diff(short) % 4 == 1).all()
    a = pose_indices(103, CFG, train=True, rng=np.random.default_rng(3))
    b = pose_indices(103, CFG, train=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert len(a) == CFG.pose_frames
    np.testing.assert_array_equal(rgb_indices(a, CFG.frame_stride), a[[0, 3, 6, 9]])


def test_person_box_rules():
    kp = np.array([[[[100, 50], [200, 110], [600, 400]]]], np.float32)  # (1, 1, 3, 2)
    score = np.array([[[1, 0.5, 0]]], np.float32)  # the far point has score 0: ignored
    assert person_box(kp, score, (480, 640)) == (87, 17, 212, 142)  # 100 x 60 -> square 125, centre (150, 80)
    assert person_box(kp - 90, score, (480, 640)) == (0, 0, 122, 52)  # clipped at the image border
    tiny = np.array([[[[100, 50], [105, 90]]]], np.float32)
    assert person_box(tiny, np.ones((1, 1, 2), np.float32), (480, 640)) == (0, 0, 640, 480)  # < 10 px wide
    mapped = keypoints_to_box(kp, score, (87, 17, 212, 142), (56, 56))
    np.testing.assert_allclose(
        mapped[0, 0, :2], [[13 * 56 / 125, 33 * 56 / 125], [113 * 56 / 125, 93 * 56 / 125]]
    )
    np.testing.assert_array_equal(mapped[0, 0, 2], [0, 0])  # score 0 stays at 0
    frames = np.zeros((2, 480, 640, 3), np.uint8)
    frames[:, 17:142, 87:212] = 200
    np.testing.assert_array_equal(crop_resize(frames, (87, 17, 212, 142), 56), 200)


def _scene(t: int = T) -> tuple[np.ndarray, dict]:
    """Frames with a white blob at the left wrist, which moves right by one pixel a frame."""
    frames = np.full((t, H, W, 3), 30, np.uint8)
    frames[..., 2] = (np.arange(t) * 5)[:, None, None]  # blue encodes the frame index
    kp = np.zeros((1, t, 17, 2), np.float32)
    rng = np.random.default_rng(0)
    kp[0, :, :] = rng.uniform((40, 20), (90, 80), (17, 2))  # a still "person"
    kp[0, :, 9, 0] = 40 + np.arange(t)
    kp[0, :, 9, 1] = 50
    for i in range(t):
        x = int(kp[0, i, 9, 0])
        frames[i, 47:54, x - 3 : x + 4] = 255
    ann = {
        "frame_dir": "blob",
        "label": 1,
        "img_shape": (H, W),
        "original_shape": (H, W),
        "total_frames": t,
        "keypoint": kp,
        "keypoint_score": np.ones((1, t, 17), np.float32),
    }
    return frames, ann


@pytest.fixture(scope="module")
def blob(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    frames, ann = _scene()
    write_webm(root / "blob.webm", frames, fps=10)
    save_annotations(root / "ann.pkl", [ann], {"test": ["blob"]}, ["a", "b"])
    return root, frames, ann


@pytest.mark.parametrize("flip", [False, True])
def test_rgb_and_heatmaps_are_aligned(blob, flip):
    root, _, ann = blob
    clip = load_clip(ann, root / "blob.webm", CFG, train=True, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(clip.rgb_indices, clip.pose_indices[:: CFG.frame_stride])
    rgb, heat = clip_to_tensors(clip, CFG, flip=flip)
    assert rgb.shape == (3, 4, 64, 64) and heat.shape == (17, 12, 16, 16)
    ratio = CFG.rgb_size / CFG.heatmap_size
    for k in range(CFG.rgb_frames):
        frame = clip.rgb_frames[k, :, ::-1] if flip else clip.rgb_frames[k]
        assert abs(frame[..., 2].mean() - 5 * clip.rgb_indices[k]) < 3  # the right RGB frame
        joint = 10 if flip else 9  # a flipped left wrist becomes the right wrist
        hy, hx = np.unravel_index(int(heat[joint, k * CFG.frame_stride].argmax()), (16, 16))
        img = rgb[:, k].numpy().transpose(1, 2, 0)
        wy, wx = np.argwhere(img.min(axis=2) > 1.5).mean(axis=0)  # the white blob in the normalised crop
        assert abs(hx * ratio - wx) <= ratio + 1 and abs(hy * ratio - wy) <= ratio + 1


def test_normalisation_and_noise(blob):
    root, frames, ann = blob
    clip = load_clip(ann, root / "blob.webm", CFG)
    rgb, heat = clip_to_tensors(clip, CFG)
    expected = (clip.rgb_frames[0, 0, 0, 0] - CFG.rgb_mean[0]) / CFG.rgb_std[0]
    assert rgb.dtype == torch.float32 and rgb[0, 0, 0, 0].item() == pytest.approx(expected, rel=1e-5)
    from epam_core.data.noise import NoiseSpec

    noisy_rgb, noisy = clip_to_tensors(clip, CFG, noise=[NoiseSpec("jitter_px", 6.0)], seed=1)
    torch.testing.assert_close(noisy_rgb, rgb)  # skeleton noise leaves the RGB frames alone
    assert not torch.equal(noisy, heat)
    torch.testing.assert_close(
        clip_to_tensors(clip, CFG, noise=[NoiseSpec("jitter_px", 6.0)], seed=1)[1], noisy
    )
    same = clip_from_arrays(frames, ann["keypoint"], ann["keypoint_score"], CFG, sample_id="blob")
    np.testing.assert_array_equal(same.pose_indices, clip.pose_indices)
    assert same.box == clip.box
    torch.testing.assert_close(clip_to_tensors(same, CFG)[1], heat)


def test_keypoints_follow_a_resized_copy_of_the_video(blob, tmp_path):
    root, frames, ann = blob
    full = load_clip(ann, root / "blob.webm", CFG)
    write_webm(tmp_path / "half.webm", np.ascontiguousarray(frames[:, ::2, ::2]), fps=10)
    half = load_clip(ann, tmp_path / "half.webm", CFG)
    assert half.img_shape == (H // 2, W // 2)
    np.testing.assert_allclose(half.keypoint, full.keypoint / 2)
    np.testing.assert_allclose(half.box, np.array(full.box) / 2, atol=1)
    write_webm(tmp_path / "other.webm", np.ascontiguousarray(frames[:, :, :64]), fps=10)
    with pytest.raises(DataError, match=r"video frames are 64x96 but the keypoints are for 128x96 images"):
        load_clip(ann, tmp_path / "other.webm", CFG)


def test_dataset_modes_and_determinism(blob):
    root, _, _ = blob
    test_ds = PoseRGBDataset(root / "ann.pkl", root, CFG, split="test")
    _, heat, label, sample_id = test_ds[0]
    assert (label, sample_id) == (1, "blob") and test_ds.class_names == ["a", "b"]
    torch.testing.assert_close(test_ds[0][1], heat)
    train_ds = PoseRGBDataset(root / "ann.pkl", root, CFG, train=True, seed=3)
    draws = []
    for epoch in range(4):
        train_ds.set_epoch(epoch)
        first, again = train_ds[0], train_ds[0]
        torch.testing.assert_close(first[0], again[0])  # (seed, epoch, index) decide everything
        draws.append(first[1])
    assert any(not torch.equal(draws[0], d) for d in draws[1:])  # other epochs, other draws


def test_dataset_errors_name_file_and_sample(blob, tmp_path):
    root, frames, ann = blob
    with pytest.raises(DataError, match="no video for sample 'blob'"):
        PoseRGBDataset(root / "ann.pkl", tmp_path, CFG)[0]
    write_webm(tmp_path / "blob.webm", frames[:25], fps=10)
    with pytest.raises(DataError, match="sample 'blob': the video has 25 frames but its annotation 40"):
        load_clip(ann, tmp_path / "blob.webm", CFG)
    with pytest.raises(DataError, match=r"label 1 is outside the class list 0\.\.0"):
        PoseRGBDataset(root / "ann.pkl", root, CFG, class_names=["only"])
    bad = dict(ann, keypoint=ann["keypoint"] * 10)  # pixels of a 10x larger video
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps({"split": {}, "annotations": [bad]}))
    with pytest.raises(DataError, match=r"'blob': keypoint .* lies far outside the 128x96 image"):
        load_annotations(tmp_path / "bad.pkl")
    assert find_video(root, "blob") == root / "blob.webm"


def test_real_ntu_clip_with_mediapipe_keypoints(shared_data):
    ann = load_annotations(shared_data / "ntu_samples_mediapipe_coco17.pkl").sample("S001C001P001R001A001")
    cfg = InputConfig(pose_frames=6, rgb_frames=2, rgb_size=112, heatmap_size=28)  # decode 2 frames only
    clip = load_clip(ann, shared_data / "ntu_S001C001P001R001A001_rgb.avi", cfg)
    # keypoints span x 989.5..1107.6, y 313.9..706.8: square of side 392.9 * 1.25 around (1048.6, 510.3)
    assert clip.box == (803, 264, 1294, 755)
    rgb, heat = clip_to_tensors(clip, cfg)
    assert rgb.shape == (3, 2, 112, 112) and heat.shape == (17, 6, 28, 28)
    assert heat[0].amax(dim=(1, 2)).min() > 0.3  # the nose is drawn in every frame
