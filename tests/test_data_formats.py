"""pyskl annotation files: round trip, safe unpickling, validation errors naming file and sample."""

from __future__ import annotations

import pickle
import subprocess

import numpy as np
import pytest

from epam_core.data.pyskl import load_annotations, save_annotations, select_split
from epam_core.errors import DataError


def _sample(frame_dir: str = "s0", label: int = 0, m: int = 1, t: int = 5, v: int = 17) -> dict:
    rng = np.random.default_rng(0)
    return {
        "frame_dir": frame_dir,
        "label": label,
        "img_shape": (60, 80),
        "original_shape": (60, 80),
        "total_frames": t,
        "keypoint": rng.uniform(0, 60, (m, t, v, 2)).astype(np.float32),
        "keypoint_score": rng.uniform(0.1, 1, (m, t, v)).astype(np.float32),
    }


def test_round_trip_keeps_values_and_split(tmp_path):
    anns = [_sample("a", 0), _sample("b", 1, m=2, t=7)]
    path = save_annotations(tmp_path / "ann.pkl", anns, {"train": ["a"], "test": ["b"]}, ["x", "y"])
    loaded = load_annotations(path)
    assert loaded.class_names == ["x", "y"]
    assert loaded.split == {"train": ["a"], "test": ["b"]}
    np.testing.assert_array_equal(loaded.sample("b")["keypoint"], anns[1]["keypoint"])
    np.testing.assert_array_equal(loaded.sample("b")["keypoint_score"], anns[1]["keypoint_score"])
    assert [a["frame_dir"] for a in select_split(loaded, "test")] == ["b"]
    assert len(select_split(loaded, None)) == 2
    with pytest.raises(DataError, match="no split 'val'"):
        select_split(loaded, "val")
    assert not list(tmp_path.glob(".*partial*"))  # atomic write leaves no temporary file


def test_reads_the_real_mediapipe_file(shared_data):
    ann = load_annotations(shared_data / "ntu_samples_mediapipe_coco17.pkl")
    assert ann.split["sample"] == ["S001C001P001R001A001", "pyskl_ntu_sample"]
    first = ann.sample("S001C001P001R001A001")
    assert first["keypoint"].shape == (1, 103, 17, 2) and first["label"] == 0
    assert ann.sample("pyskl_ntu_sample")["label"] == -1


def test_refuses_pickles_that_would_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (subprocess.call, (["touch", str(marker)],))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [Evil()]}))
    with pytest.raises(DataError, match="refusing to load"):
        load_annotations(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(keypoint=a["keypoint"][..., :1]), "shape \\(M, T, V, 2\\)"),
        (lambda a: a.update(keypoint_score=a["keypoint_score"][:, :3]), "keypoint_score has shape"),
        (lambda a: a.update(total_frames=9), "total_frames is 9 but keypoint has 5"),
        (lambda a: a["keypoint"].__setitem__((0, 2, 3, 0), np.nan), "NaN keypoints .*frame 2, joint 3"),
        (lambda a: a.update(label=5), "label 5 is outside the class list 0..1"),
        (
            lambda a: a.update(keypoint=a["keypoint"][:0], keypoint_score=a["keypoint_score"][:0]),
            "zero persons",
        ),
        (lambda a: a["keypoint"].__setitem__((0, 1, 1), (0.5, 400.0)), "far outside the 80x60 image"),
        (lambda a: a.pop("img_shape"), "lacks img_shape"),
    ],
)
def test_invalid_samples_are_named(tmp_path, change, message):
    bad = _sample("broken")
    change(bad)
    path = tmp_path / "ann.pkl"
    path.write_bytes(
        pickle.dumps({"split": {}, "annotations": [_sample("ok"), bad], "class_names": ["x", "y"]})
    )
    with pytest.raises(DataError, match=message) as err:
        load_annotations(path)
    assert str(path) in str(err.value) and "'broken'" in str(err.value)


def test_not_a_pickle_and_wrong_structure(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"this is not a pickle")
    with pytest.raises(DataError, match=r"junk\.pkl"):
        load_annotations(junk)
    wrong = tmp_path / "wrong.pkl"
    wrong.write_bytes(pickle.dumps({"samples": []}))
    with pytest.raises(DataError, match="expected a dict with an 'annotations' list"):
        load_annotations(wrong)
    with pytest.raises(DataError, match="not found"):
        load_annotations(tmp_path / "missing.pkl")


def test_split_naming_unknown_sample_and_keypoints_with_scores(tmp_path):
    path = tmp_path / "ann.pkl"
    with pytest.raises(DataError, match=r"split .train. names 1 unknown samples, e\.g\. .zz."):
        save_annotations(path, [_sample("a")], {"train": ["a", "zz"]})
    packed = _sample("a")
    packed["keypoint"] = np.concatenate([packed["keypoint"], packed.pop("keypoint_score")[..., None]], -1)
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [packed]}))
    loaded = load_annotations(path).sample("a")
    np.testing.assert_array_equal(loaded["keypoint_score"], packed["keypoint"][..., 2])
