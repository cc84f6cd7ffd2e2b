"""Pose extraction with MediaPipe (epam_core.poses): the 33 -> 17 mapping, agreement with the official NTU
Kinect skeleton on the real clip (one person, the very keypoints of MediaPipe's own single-person tracker),
two people who cross in a rendered clip, the pyskl file it writes, and clear errors for bad videos.

The MediaPipe tests need the pose environment (``make poses``; ``make test`` creates it): they skip
without it on a developer's machine and fail without it under CI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from epam_core.cli import main
from epam_core.commands.extract_poses import resolve_labels
from epam_core.data.coco_keypoints import COCO_KEYPOINTS
from epam_core.data.crop import person_box
from epam_core.data.ntu_skeleton import kinect_to_coco, read_skeleton
from epam_core.data.pyskl import load_annotations
from epam_core.data.synth.crossing import render_crossing_clip
from epam_core.errors import DataError, EpamError
from epam_core.poses import extract
from epam_core.poses.extract import VideoPoses, extract_poses, extract_video_poses, pose_python, to_annotation
from epam_core.poses.landmarks import BLAZEPOSE_LANDMARKS, BLAZEPOSE_TO_COCO17, blazepose_to_coco17

NTU_CLIP = "ntu_S001C001P001R001A001_rgb.avi"
NTU_SKELETON = "ntu_S001C001P001R001A001.skeleton"
LEGACY_POSE = Path(__file__).with_name("mediapipe_legacy_pose.py")


@pytest.fixture(scope="module")
def ntu_poses(
    shared_data: Path, pose_env: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    """One extraction of the NTU clip, shared by the tests of this module."""
    out = tmp_path_factory.mktemp("poses") / "ntu.pkl"
    fractions: list[float] = []
    extract_poses([shared_data / NTU_CLIP], out, progress=lambda f, _msg: fractions.append(f))
    assert fractions[-1] == pytest.approx(1.0) and len(fractions) == 103
    return out, load_annotations(out).annotations[0]


def write_video(path: Path, frames: np.ndarray) -> Path:
    """Frames (T, H, W, 3) uint8 BGR -> an MJPG AVI (T = 0 gives a 320x240 container without frames)."""
    height, width = frames.shape[1:3] if len(frames) else (240, 320)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


# --- the mapping --------------------------------------------------------------------------------------


def test_mapping_names_match_coco17() -> None:
    assert [BLAZEPOSE_LANDMARKS[i] for i in BLAZEPOSE_TO_COCO17] == list(COCO_KEYPOINTS)


def test_blazepose_to_coco17_picks_the_mapped_landmarks() -> None:
    landmarks = np.arange(2 * 33 * 3, dtype=np.float32).reshape(2, 33, 3)  # (T, 33, [x, y, score])
    before = landmarks.copy()
    keypoint, score = blazepose_to_coco17(landmarks)
    assert keypoint.shape == (2, 17, 2) and score.shape == (2, 17)
    np.testing.assert_array_equal(keypoint[1, 15], landmarks[1, 27, :2])  # left_ankle <- left_ankle
    np.testing.assert_array_equal(score[0, 2], landmarks[0, 5, 2])  # right_eye <- right_eye
    np.testing.assert_array_equal(landmarks, before)
    with pytest.raises(ValueError, match="33, 3"):
        blazepose_to_coco17(np.zeros((4, 17, 3)))


def test_to_annotation_zeroes_frames_without_a_person_and_far_out_joints() -> None:
    landmarks = np.full((3, 1, 33, 3), 0.9, dtype=np.float32)  # (T, K, 33, 3): one slot
    landmarks[..., 0], landmarks[..., 1] = 50.0, 40.0
    landmarks[0, 0, 27, 1] = 240 * 1.5  # left ankle far below a 320x240 frame
    landmarks[2] = 0
    poses = VideoPoses(Path("clip.mp4"), landmarks, np.array([[True], [True], [False]]), 240, 320, 25.0)
    ann = to_annotation(poses)
    assert ann["keypoint"].shape == (1, 3, 17, 2) and ann["keypoint_score"].shape == (1, 3, 17)
    assert ann["frame_dir"] == "clip" and ann["label"] == -1 and ann["img_shape"] == (240, 320)
    score = ann["keypoint_score"][0]  # (T, 17)
    assert score[0, 15] == 0 and score[0, 16] == pytest.approx(0.9)
    assert (score[2] == 0).all() and (ann["keypoint"][0, 2] == 0).all()
    np.testing.assert_allclose(ann["keypoint"][0, 1, 0], [50.0, 40.0])
    nobody = VideoPoses(
        Path("empty.mp4"), np.zeros((5, 2, 33, 3), np.float32), np.zeros((5, 2), bool), 240, 320, 25.0
    )
    with pytest.raises(DataError, match=r"empty\.mp4: no person found in any of its 5 frames"):
        to_annotation(nobody)


def test_to_annotation_gives_each_person_one_identity_best_first() -> None:
    """Two people in two worker slots that swap halfway: the persons follow the people, not the slots, and
    the one seen in more frames (the larger total score) comes first; a third slot never used is dropped."""
    t = 10
    walk = np.linspace(0, 90, t)[:, None]  # (T, 1): A walks right from x=20, B stands at x=200
    landmarks = np.zeros((t, 3, 33, 3), np.float32)  # (T, K=3, 33, 3)
    width = 15.0 * (np.arange(33) % 4)  # (33,) people 45 px wide
    a_x, b_x = 20 + walk + width, np.full((t, 33), 200.0) + width
    ys = 50 + 3 * np.arange(33)  # 50..146 px
    slots_a = np.where(np.arange(t) < 5, 0, 1)
    detected = np.zeros((t, 3), bool)
    for i in range(t):
        landmarks[i, slots_a[i], :, 0], landmarks[i, slots_a[i], :, 1] = a_x[i], ys
        landmarks[i, slots_a[i], :, 2] = 0.9
        detected[i, slots_a[i]] = True
        if i >= 2:  # B appears in frame 2, in the other slot
            landmarks[i, 1 - slots_a[i], :, 0], landmarks[i, 1 - slots_a[i], :, 1] = b_x[i], ys
            landmarks[i, 1 - slots_a[i], :, 2] = 0.95
            detected[i, 1 - slots_a[i]] = True
    ann = to_annotation(VideoPoses(Path("two.mp4"), landmarks, detected, 240, 320, 25.0))
    kp, score = ann["keypoint"], ann["keypoint_score"]
    assert kp.shape == (2, t, 17, 2)
    assert (score[0] > 0).all() and np.allclose(kp[0, :, 0, 0], a_x[:, 0])  # A: nose x, every frame
    assert (score[1, :2] == 0).all() and (kp[1, :2] == 0).all()  # B absent in frames 0, 1: score 0
    np.testing.assert_allclose(kp[1, 2:, 0, 0], b_x[2:, 0])


def test_max_persons_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / "clip.avi"
    video.write_bytes(b"not read")
    with pytest.raises(SystemExit) as exit_:
        main(["extract-poses", str(video), "--out", str(tmp_path / "out.pkl"), "--max-persons", "0"])
    assert exit_.value.code == 2
    assert "argument --max-persons: must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out.pkl").exists()
    with pytest.raises(EpamError, match="--max-persons must be a whole number of at least 1, got 0"):
        extract_video_poses([video], max_persons=0)  # the library checks it too


def test_resolve_labels(tmp_path: Path) -> None:
    videos = ["a/one.mp4", "b/two.avi", "three.mkv"]
    assert resolve_labels(videos) == [-1, -1, -1]
    assert resolve_labels(videos, ["2", "drink", "-1"], class_names=["eat", "sit", "drink"]) == [2, 2, -1]
    label_file = tmp_path / "labels.txt"
    label_file.write_text("one.mp4 1\ntwo sit\n\n")
    assert resolve_labels(videos, label_file=label_file, class_names=["eat", "sit"]) == [1, 1, -1]
    with pytest.raises(DataError, match="label 'walk' is not a class index"):
        resolve_labels(videos, ["walk", "1", "1"])
    with pytest.raises(DataError, match="2 labels for 3 videos"):
        resolve_labels(videos, ["1", "1"])


def test_missing_pose_env_says_make_poses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(extract.POSES_PYTHON_ENV, raising=False)
    monkeypatch.setattr(extract, "REPO", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(extract.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EpamError, match="run `make poses`"):
        pose_python()


# --- MediaPipe on real and generated videos ------------------------------------------------------------


@pytest.mark.shared_data
def test_ntu_keypoints_agree_with_the_kinect_skeleton(
    ntu_poses: tuple[Path, dict], shared_data: Path
) -> None:
    _, ann = ntu_poses
    _, xy, tracking = read_skeleton(shared_data / NTU_SKELETON)
    kinect, kinect_score = kinect_to_coco(xy[:1], tracking[:1])  # (1, T, 17, 2): one body in this clip
    ours, our_score = ann["keypoint"][0], ann["keypoint_score"][0]  # (T, 17, 2), (T, 17)
    assert ours.shape == kinect[0].shape == (103, 17, 2)
    shared = (kinect_score[0] > 0) & (our_score > 0)  # shoulders..ankles (Kinect has no eyes or ears)
    shared[:, :5] = False  # Kinect's head joint is the centre of the head, not the nose
    assert shared.sum() > 0.9 * 103 * 12
    person_height = np.median(np.nanmax(xy[0, ..., 1], axis=1) - np.nanmin(xy[0, ..., 1], axis=1))
    distance = np.linalg.norm(ours - kinect[0], axis=-1)[shared]
    assert 300 < person_height < 450
    assert np.median(distance) < 0.05 * person_height, (np.median(distance), person_height)


@pytest.mark.shared_data
def test_ntu_one_person_gets_the_keypoints_of_the_single_person_tracker(
    ntu_poses: tuple[Path, dict], shared_data: Path, pose_env: Path, tmp_path: Path
) -> None:
    """With room for two people the clip still gives one, with exactly the keypoints of MediaPipe's own
    single-person tracker (legacy solutions.pose, what this tool used before it followed several people)."""
    _, ann = ntu_poses
    out = tmp_path / "legacy.npy"
    subprocess.run([str(pose_env), str(LEGACY_POSE), str(shared_data / NTU_CLIP), str(out)], check=True)
    legacy = to_annotation(
        VideoPoses(Path(NTU_CLIP), np.load(out)[:, None], np.ones((103, 1), bool), 1080, 1920, 30.0)
    )
    assert ann["keypoint"].shape == (1, 103, 17, 2)
    np.testing.assert_array_equal(ann["keypoint"], legacy["keypoint"])
    np.testing.assert_array_equal(ann["keypoint_score"], legacy["keypoint_score"])


@pytest.mark.parametrize("seed", [0, 4])  # 0: the adult's track jumps onto the child; re-found 25 frames on
def test_two_people_who_cross_keep_their_identities(seed: int, tmp_path: Path, pose_env: Path) -> None:
    """A rendered adult and child walk past each other (the child in front hides the adult halfway): both
    are found, and each extracted person is one of them in every frame it has, before and after the crossing."""
    clip = render_crossing_clip(seed)
    video = write_video(tmp_path / f"crossing{seed}.avi", clip.frames[..., ::-1])
    ann = to_annotation(extract_video_poses([video])[0])
    kp, score = ann["keypoint"], ann["keypoint_score"]  # (M, T, 17, 2), (M, T, 17)
    assert kp.shape == (2, 60, 17, 2)
    people = []
    for m in range(2):
        present = (score[m] > 0).any(-1)  # (T,)
        truth = clip.keypoint.transpose(1, 0, 2, 3)  # (T, 2, 17, 2)
        error = np.linalg.norm(kp[m][:, None] - truth, axis=-1)  # (T, 2, 17)
        error = np.median(error, axis=-1)[present]  # (F, 2): to the adult, to the child
        who = error.argmin(axis=1)
        assert (who == who[0]).all(), (seed, m, who)  # the same person in every frame: no swap
        people.append(int(who[0]))
        assert np.median(error.min(axis=1)) < 6, (seed, m)  # pixels; people are 166 and 223 px tall
        frames = np.flatnonzero(present)
        assert frames.min() < 25 and frames.max() > 35, (seed, m, frames)  # on both sides of the crossing
    assert sorted(people) == [0, 1]  # the adult and the child, one each
    assert score[0].sum() >= score[1].sum()  # the best-seen person first
    x0, y0, x1, y1 = person_box(kp, score, (360, 640))  # the model's crop: around both people
    xy = kp[score > 0]
    assert x0 <= xy[:, 0].min() and xy[:, 0].max() <= x1 and y0 <= xy[:, 1].min() and xy[:, 1].max() <= y1
    assert x1 - x0 > 0.8 * (clip.keypoint[..., 0].max() - clip.keypoint[..., 0].min())  # both walks, not one


@pytest.mark.shared_data
def test_extracted_file_is_a_pyskl_annotation(ntu_poses: tuple[Path, dict]) -> None:
    path, ann = ntu_poses
    data = load_annotations(path)
    assert data.split == {"all": ["ntu_S001C001P001R001A001_rgb"]}
    assert ann["label"] == -1 and ann["total_frames"] == 103 and ann["img_shape"] == (1080, 1920)
    assert ann["keypoint"].dtype == np.float32 and ann["keypoint_score"].dtype == np.float32
    assert ann["filename"] == NTU_CLIP
    score = ann["keypoint_score"][0]  # (T, 17)
    assert (score[:, [0, 5, 6, 11, 12]] > 0.9).all()  # face, shoulders and hips are always in view
    assert np.median(score) > 0.9
    xy = ann["keypoint"][0][ann["keypoint_score"][0] > 0]
    assert xy[:, 0].min() > 800 and xy[:, 0].max() < 1250  # she stands near the centre of the frame
    assert not list(path.parent.glob(".*partial*"))


@pytest.mark.shared_data
def test_not_a_video_names_the_file(
    tmp_path: Path, shared_data: Path, pose_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "notes.avi"
    fake.write_bytes((shared_data / "README.md").read_bytes())
    assert main(["extract-poses", str(fake), "--out", str(tmp_path / "out.pkl")]) == 2
    assert f"epam extract-poses: error: {fake}: is not a video OpenCV can open" in capsys.readouterr().err
    assert not (tmp_path / "out.pkl").exists()


def test_video_without_a_person(tmp_path: Path, pose_env: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (12, 240, 320, 3), dtype=np.uint8)
    video = write_video(tmp_path / "noise.avi", noise)
    with pytest.raises(DataError, match=r"noise\.avi: no person found in any of its 12 frames"):
        extract_poses([video], tmp_path / "out.pkl")


def test_zero_length_videos(tmp_path: Path, pose_env: Path) -> None:
    video = write_video(tmp_path / "zero.avi", np.zeros((0, 240, 320, 3), np.uint8))
    with pytest.raises(DataError, match=r"zero\.avi: has no decodable frames"):
        extract_poses([video], tmp_path / "out.pkl")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(DataError, match=r"empty\.mp4: is empty \(0 bytes\)"):
        extract_poses([empty], tmp_path / "out.pkl")
    with pytest.raises(DataError, match=r"missing\.mp4: video not found"):
        extract_poses([tmp_path / "missing.mp4"], tmp_path / "out.pkl")
