"""Pose extraction with MediaPipe (epam_core.poses): the 33 -> 17 mapping, agreement with the official NTU
Kinect skeleton on the real clip, the pyskl file it writes, and clear errors for bad videos.

The MediaPipe tests need the pose environment (``make poses``; ``make test`` creates it): they skip
without it on a developer's machine and fail without it under CI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from epam_core.cli import main
from epam_core.commands.extract_poses import resolve_labels
from epam_core.data.class_names import COCO_KEYPOINTS
from epam_core.data.ntu_skeleton import kinect_to_coco, read_skeleton
from epam_core.data.pyskl import load_annotations
from epam_core.errors import DataError, EpamError
from epam_core.poses import extract
from epam_core.poses.extract import VideoPoses, extract_poses, pose_python, to_annotation
from epam_core.poses.landmarks import BLAZEPOSE_LANDMARKS, BLAZEPOSE_TO_COCO17, blazepose_to_coco17

NTU_CLIP = "ntu_S001C001P001R001A001_rgb.avi"
NTU_SKELETON = "ntu_S001C001P001R001A001.skeleton"


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
    """Frames (T, H, W, 3) uint8 BGR -> an MJPG AVI (T = 0 gives a container without frames)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
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
    landmarks = np.full((3, 33, 3), 0.9, dtype=np.float32)
    landmarks[..., 0], landmarks[..., 1] = 50.0, 40.0
    landmarks[0, 27, 1] = 240 * 1.5  # left ankle far below a 320x240 frame
    landmarks[2] = 0
    poses = VideoPoses(Path("clip.mp4"), landmarks, np.array([True, True, False]), 240, 320, 25.0)
    ann = to_annotation(poses)
    assert ann["frame_dir"] == "clip" and ann["label"] == -1 and ann["img_shape"] == (240, 320)
    score = ann["keypoint_score"][0]  # (T, 17)
    assert score[0, 15] == 0 and score[0, 16] == pytest.approx(0.9)
    assert (score[2] == 0).all() and (ann["keypoint"][0, 2] == 0).all()
    np.testing.assert_allclose(ann["keypoint"][0, 1, 0], [50.0, 40.0])
    nobody = VideoPoses(
        Path("empty.mp4"), np.zeros((5, 33, 3), np.float32), np.zeros(5, bool), 240, 320, 25.0
    )
    with pytest.raises(DataError, match=r"empty\.mp4: no person found in any of its 5 frames"):
        to_annotation(nobody)


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
