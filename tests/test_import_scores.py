"""import-scores: mmaction2/pyskl result pickles become runs; mismatched files are refused by name."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from epam_core.cli import main
from epam_core.data.pyskl import save_annotations
from epam_core.errors import DataError, RunError
from epam_core.runs.format import read_run
from epam_core.runs.import_scores import import_scores

K = 4


@pytest.fixture
def annotation(tmp_path):
    anns = []
    for i in range(6):
        anns.append(
            {
                "frame_dir": f"v{i}",
                "label": i % K,
                "img_shape": (60, 80),
                "total_frames": 2,
                "keypoint": np.full((1, 2, 17, 2), 10.0, np.float32),
                "keypoint_score": np.ones((1, 2, 17), np.float32),
            }
        )
    split = {"train": ["v0", "v1"], "test": ["v2", "v3", "v4", "v5"]}
    return save_annotations(tmp_path / "ann.pkl", anns, split, class_names=list("abcd"))


def _dump(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


def _scores(seed, n=4):
    return np.random.default_rng(seed).normal(size=(n, K)).astype(np.float32)


def test_lists_of_arrays_in_split_order(tmp_path, annotation):
    rgb, pose = _scores(0), _scores(1)
    rgb_pkl = _dump(tmp_path / "rgb.pkl", list(rgb))
    pose_pkl = _dump(tmp_path / "pose.pkl", list(pose))
    argv = ["import-scores", "--scores", str(rgb_pkl), str(pose_pkl), "--data", str(annotation)]
    assert main([*argv, "--split", "test", "--out", str(tmp_path / "run")]) == 0
    run = read_run(tmp_path / "run")
    assert run.sample_ids.tolist() == ["v2", "v3", "v4", "v5"] and run.labels.tolist() == [2, 3, 0, 1]
    np.testing.assert_allclose(run.logits("fused"), rgb + pose, rtol=1e-6)
    assert run.attention is None and run.manifest["has_attention"] is False
    assert run.class_names == list("abcd") and run.manifest["model"] is None
    assert run.resolve(run.manifest["imported"]["rgb"]["scores"]) == rgb_pkl.resolve()


def test_dicts_with_ids_are_matched_by_id(tmp_path, annotation):
    rgb, pose = _scores(0), _scores(1)
    ids = ["v2", "v3", "v4", "v5"]
    shuffled = [3, 0, 2, 1]
    rgb_pkl = _dump(tmp_path / "rgb.pkl", [{"pred_score": rgb[i], "sample_id": ids[i]} for i in shuffled])
    pose_pkl = _dump(
        tmp_path / "pose.pkl", [{"pred_scores": {"item": pose[i]}, "frame_dir": ids[i]} for i in range(4)]
    )
    run = read_run(import_scores(rgb_pkl, pose_pkl, annotation, tmp_path / "run", split="test"))
    np.testing.assert_allclose(run.logits("rgb"), rgb)
    np.testing.assert_allclose(run.logits("pose"), pose)


def test_mismatched_files_are_refused(tmp_path, annotation):
    good = _dump(tmp_path / "good.pkl", list(_scores(0)))
    short = _dump(tmp_path / "short.pkl", list(_scores(1, n=3)))
    with pytest.raises(RunError, match=r"short\.pkl: has 3 entries but the split has 4 samples"):
        import_scores(good, short, annotation, tmp_path / "run", split="test")
    reordered = _dump(
        tmp_path / "reordered.pkl",
        [{"pred_score": s, "gt_label": lab} for s, lab in zip(_scores(2), [3, 2, 0, 1], strict=True)],
    )
    with pytest.raises(RunError, match=r"reordered\.pkl: entry 0 has label 3 but sample 'v2' has label 2"):
        import_scores(good, reordered, annotation, tmp_path / "run", split="test")
    foreign = _dump(
        tmp_path / "foreign.pkl", [{"pred_score": s, "sample_id": f"x{i}"} for i, s in enumerate(_scores(3))]
    )
    with pytest.raises(RunError, match=r"foreign\.pkl: ids do not match the split: 4 samples missing"):
        import_scores(good, foreign, annotation, tmp_path / "run", split="test")
    classes = _dump(tmp_path / "classes.pkl", list(np.zeros((4, K + 1), np.float32)))
    with pytest.raises(RunError, match=r"classes\.pkl: has 5 classes"):
        import_scores(good, classes, annotation, tmp_path / "run", split="test")
    assert not (tmp_path / "run").exists()


def test_unsafe_pickles_are_not_executed(tmp_path, annotation):
    class Exploit:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    evil = _dump(tmp_path / "evil.pkl", [Exploit()])
    good = _dump(tmp_path / "good.pkl", list(_scores(0)))
    with pytest.raises(DataError, match=r"evil\.pkl: is not a usable score pickle \(refusing to load"):
        import_scores(good, evil, annotation, tmp_path / "run", split="test")
    assert not (tmp_path / "pwned").exists()
