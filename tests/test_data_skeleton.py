"""NTU RGB+D .skeleton files: parsing, Kinect-25 -> COCO-17, and agreement with the person in the video."""

from __future__ import annotations

import numpy as np
import pytest

from epam_core.data.class_names import (
    NTU60,
    class_names_from_arg,
    get_class_names,
    read_class_names,
)
from epam_core.data.coco_keypoints import COCO_FLIP_INDEX
from epam_core.data.ntu_skeleton import read_skeleton, skeleton_to_annotation
from epam_core.data.pyskl import load_annotations, validate_annotation
from epam_core.errors import DataError


def _body(body_id: str, x0: float, state: int) -> list[str]:
    joints = [f"0 0 3 0 0 {x0 + j} {100 + 10 * j} 1 0 0 0 {state}" for j in range(25)]
    return [f"{body_id} 0 0 0 0 0 0 0 0 2", "25", *joints]


def _write(path, frames: list[list[list[str]]]) -> None:
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body in bodies:
            lines += body
    path.write_text("\n".join(lines) + "\n")


def test_bodies_frames_and_mapping(tmp_path):
    path = tmp_path / "S002C003P004R001A043.skeleton"
    # body "7" in 3 of 4 frames (tracked); body "9" in 1 frame (inferred); frame 2 has no body
    _write(path, [[_body("7", 500, 2), _body("9", 900, 1)], [_body("7", 501, 2)], [], [_body("7", 503, 2)]])
    ids, xy, tracking = read_skeleton(path)
    assert ids == ["7", "9"] and xy.shape == (2, 4, 25, 2)
    assert np.isnan(xy[:, 2]).all() and tracking[1, 0, 0] == 1
    ann = skeleton_to_annotation(path)
    assert (ann["frame_dir"], ann["label"], ann["img_shape"], ann["total_frames"]) == (
        path.stem,
        42,
        (1080, 1920),
        4,
    )
    kp, score = ann["keypoint"], ann["keypoint_score"]
    assert kp.shape == (2, 4, 17, 2) and kp.dtype == np.float32
    np.testing.assert_array_equal(kp[0, 0, 0], [503, 130])  # nose <- Head (Kinect 3)
    np.testing.assert_array_equal(kp[0, 0, 5], [508, 180])  # left shoulder <- ShoulderRight (Kinect 8)
    np.testing.assert_array_equal(kp[0, 0, 16], [514, 240])  # right ankle <- AnkleLeft (Kinect 14)
    assert (score[:, :, 1:5] == 0).all()  # no eyes, no ears on a Kinect skeleton
    np.testing.assert_array_equal(score[0, [0, 1, 3], 5], 1.0)
    assert (score[0, 2] == 0).all() and (kp[0, 2] == 0).all()  # the empty frame
    assert score[1, 0, 5] == 0.5 and (score[1, 1:] == 0).all()  # inferred joints; absent later
    validate_annotation(ann, path, num_classes=60)
    one = skeleton_to_annotation(path, label=3, max_persons=1)
    assert one["keypoint"].shape[0] == 1 and one["label"] == 3 and one["keypoint"][0, 0, 0, 0] == 503


def test_broken_skeleton_files(tmp_path):
    truncated = tmp_path / "t.skeleton"
    _write(truncated, [[_body("7", 500, 2)]])
    truncated.write_text("\n".join(truncated.read_text().splitlines()[:10]))
    with pytest.raises(DataError, match="truncated"):
        read_skeleton(truncated)
    empty = tmp_path / "e.skeleton"
    _write(empty, [[], []])
    with pytest.raises(DataError, match="zero persons"):
        skeleton_to_annotation(empty)
    text = tmp_path / "x.skeleton"
    text.write_text("hello world\n")
    with pytest.raises(DataError, match=r"not an NTU RGB\+D \.skeleton file"):
        read_skeleton(text)


def test_real_skeleton_lands_on_the_person(shared_data):
    """Kinect joints vs MediaPipe keypoints of the same video: within a few % of the person's height."""
    ann = skeleton_to_annotation(shared_data / "ntu_S001C001P001R001A001.skeleton")
    assert ann["keypoint"].shape == (1, 103, 17, 2) and ann["label"] == 0
    mp = load_annotations(shared_data / "ntu_samples_mediapipe_coco17.pkl").sample("S001C001P001R001A001")
    kinect, image = ann["keypoint"][0], mp["keypoint"][0]  # (T, 17, 2)
    height = np.median(image[:, :, 1].max(axis=1) - image[:, :, 1].min(axis=1))  # about 380 px
    shared = [0, *range(5, 17)]  # every joint but eyes and ears
    tracked = ann["keypoint_score"][0][:, shared] > 0
    dist = np.linalg.norm(kinect[:, shared] - image[:, shared], axis=-1)[tracked]
    assert np.median(dist) < 0.05 * height
    # the left/right exchange is what makes them agree (NTU colour videos are mirror images)
    unswapped = kinect[:, list(COCO_FLIP_INDEX)]
    assert np.median(
        np.linalg.norm(unswapped[:, shared] - image[:, shared], axis=-1)[tracked]
    ) > 2 * np.median(dist)


def test_class_lists(tmp_path):
    assert (
        len(NTU60) == 60
        and NTU60[0] == "A001 drink water"
        and NTU60[-1] == "A060 walking apart from each other"
    )
    sizes = {n: len(get_class_names(n)) for n in ("ntu60", "NTU120", "pku-mmd", "toyota_cs", "toyota_cv2")}
    assert sizes == {"ntu60": 60, "NTU120": 120, "pku-mmd": 51, "toyota_cs": 31, "toyota_cv2": 19}
    assert get_class_names("toyota_cv2")[18] == "Walk" and get_class_names("toyota_cs")[30] == "WatchTV"
    assert all(len(set(get_class_names(n))) == len(get_class_names(n)) for n in sizes)
    with pytest.raises(ValueError, match="ntu60, ntu120, pku_mmd, toyota_cs, toyota_cv2"):
        get_class_names("kinetics")
    (tmp_path / "c.txt").write_text("walk\n\n run \n")
    assert read_class_names(tmp_path / "c.txt") == ["walk", "run"]
    (tmp_path / "d.txt").write_text("walk\nwalk\n")
    with pytest.raises(DataError, match="'walk' more than once"):
        read_class_names(tmp_path / "d.txt")


def test_class_names_argument_is_a_builtin_list_or_a_file(tmp_path):
    assert class_names_from_arg(None) is None
    assert class_names_from_arg("ntu60") == get_class_names("ntu60")
    assert class_names_from_arg("Toyota-CS") == get_class_names("toyota_cs")
    (tmp_path / "mine.txt").write_text("walk\nrun\n")
    assert class_names_from_arg(tmp_path / "mine.txt") == ["walk", "run"]
    with pytest.raises(DataError, match=r"nope\.txt: class-name file not found"):
        class_names_from_arg(tmp_path / "nope.txt")
