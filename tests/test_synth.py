"""SynthActions: determinism, the pyskl fields, poses on the drawn person, playable videos, the CLI, and the
complementarity of the two modalities that the class design promises."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from epam_core.cli import main
from epam_core.data.pyskl import load_annotations
from epam_core.data.synth import generate_synthactions
from epam_core.data.synth.actions import ACTIONS, MAX_CLASSES
from epam_core.data.synth.generate import ClipSettings, render_clip
from epam_core.data.video import read_frames, video_info

SMALL = ClipSettings(num_frames=24)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("synth") / "ds"
    path = generate_synthactions(out, num_classes=2, per_class=4, seed=3, settings=SMALL, workers=1)
    return out, path


def test_files_fields_and_split(dataset) -> None:
    out, path = dataset
    ann = load_annotations(path)
    names = [a.name for a in ACTIONS[:2]]
    assert ann.class_names == names
    assert (out / "class_names.txt").read_text().split() == names
    assert ann.split == {
        "train": ["S3_A00_N000", "S3_A00_N001", "S3_A00_N002", "S3_A01_N000", "S3_A01_N001", "S3_A01_N002"],
        "test": ["S3_A00_N003", "S3_A01_N003"],
    }
    for a in ann.annotations:
        assert a["label"] == int(a["frame_dir"][4:6])
        assert a["keypoint"].dtype == np.float32 and a["keypoint"].shape == (1, 24, 17, 2)
        assert a["keypoint_score"].shape == (1, 24, 17) and 0.9 <= a["keypoint_score"].min() <= 1
        assert tuple(a["img_shape"]) == (120, 160) and a["total_frames"] == 24


@pytest.mark.parametrize("label", range(MAX_CLASSES))
def test_joints_inside_the_image(label: int) -> None:
    for index in range(3):
        xy = render_clip(ACTIONS[label], 5, label, index, SMALL).keypoint
        assert (xy[..., 0] >= 0).all() and (xy[..., 0] < 160).all()
        assert (xy[..., 1] >= 0).all() and (xy[..., 1] < 120).all()


def test_videos_play_back_and_match_the_rendering(dataset) -> None:
    out, _ = dataset
    video = out / "videos" / "S3_A01_N002.webm"
    info = video_info(video)
    assert (info.num_frames, info.width, info.height) == (24, 160, 120)
    decoded = read_frames(video, np.arange(24))
    clip = render_clip(ACTIONS[1], 3, 1, 2, SMALL)
    assert np.abs(decoded.astype(int) - clip.frames).mean() < 6  # lossy VP9, but the same pictures


def test_deterministic(dataset, tmp_path) -> None:
    out, path = dataset
    again = generate_synthactions(tmp_path / "again", 2, 4, seed=3, settings=SMALL, workers=2, progress=False)
    assert again.read_bytes() == path.read_bytes()
    for name in ("S3_A00_N000.webm", "S3_A01_N003.webm"):
        a = read_frames(out / "videos" / name, np.arange(24))
        b = read_frames(tmp_path / "again" / "videos" / name, np.arange(24))
        np.testing.assert_array_equal(a, b)
    other = render_clip(ACTIONS[0], 4, 0, 0, SMALL)
    assert not np.array_equal(other.keypoint, pickle.loads(path.read_bytes())["annotations"][0]["keypoint"])


@pytest.mark.parametrize("label", range(MAX_CLASSES))
def test_keypoints_lie_on_the_drawn_person(label: int) -> None:
    """Every joint's pixel differs from the same clip with the person removed (the background)."""
    clip = render_clip(ACTIONS[label], 0, label, 1, SMALL)
    bare = render_clip(ACTIONS[label], 0, label, 1, SMALL, draw_person=False)
    xy = np.round(clip.keypoint[0]).astype(int)  # (T, 17, 2)
    t = np.arange(24)[:, None]
    diff = np.abs(clip.frames[t, xy[..., 1], xy[..., 0]].astype(int) - bare.frames[t, xy[..., 1], xy[..., 0]])
    on_person = diff.sum(-1) > 0  # (T, 17)
    assert on_person.mean() > 0.97, f"{ACTIONS[label].name}: {on_person.mean():.3f} of joints on the person"


def test_actions_move_their_limbs() -> None:
    """Each class moves: some joint travels at least 10% of the body height during the clip."""
    for label, action in enumerate(ACTIONS):
        kp = render_clip(action, 0, label, 0, ClipSettings(max_shake=0)).keypoint[0]  # (T, 17, 2)
        height = kp[:, :, 1].max() - kp[:, :, 1].min()
        travel = (kp.max(axis=0) - kp.min(axis=0)).max()
        assert travel > 0.1 * height, action.name


def test_cli_smoke_and_bad_arguments(tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    argv = [
        "synth",
        "--out",
        str(out),
        "--classes",
        "2",
        "--per-class",
        "2",
        "--frames",
        "24",
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    assert sorted(p.name for p in (out / "videos").iterdir()) == [
        "S0_A00_N000.webm", "S0_A00_N001.webm", "S0_A01_N000.webm", "S0_A01_N001.webm",
    ]  # fmt: skip
    assert main(argv) == 2  # exists: no silent overwrite
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # argparse refuses it before anything runs
        main(["synth", "--out", str(tmp_path / "x"), "--classes", "99"])
    assert exit_.value.code == 2
    assert "argument --classes: must be in 1..16, got 99" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def _pose_features(keypoint: np.ndarray) -> np.ndarray:
    """Mean and spread over time of each joint, relative to the mean hip centre, in body heights."""
    kp = keypoint[0]  # (T, 17, 2)
    centre = kp[:, 11:13].mean(axis=(0, 1))
    kp = (kp - centre) / (kp[..., 1].max() - kp[..., 1].min())
    return np.concatenate([kp.mean(axis=0).ravel(), kp.std(axis=0).ravel()])


def _colour_features(frames: np.ndarray) -> np.ndarray:
    """log of a 4x4x4 colour histogram of the whole clip."""
    hist, _ = np.histogramdd(frames.reshape(-1, 3), bins=(4, 4, 4), range=((0, 256),) * 3)
    return np.log1p(hist.ravel())


def test_modalities_are_complementary() -> None:
    """Pose alone separates the motion-only classes but not the appearance-only pairs; a colour histogram
    separates the pairs but not the motion-only classes (4-fold cross-validated logistic regression)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clips = {
        label: [render_clip(ACTIONS[label], 0, label, i, SMALL) for i in range(12)] for label in range(7)
    }
    assert [a.decides for a in ACTIONS[:7]] == ["pose"] * 3 + ["rgb"] * 4

    def accuracy(labels: tuple[int, ...], features) -> float:
        x = np.stack([features(c) for label in labels for c in clips[label]])
        y = np.repeat(labels, 12)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
        return float(cross_val_score(model, x, y, cv=4).mean())

    pose = lambda c: _pose_features(c.keypoint)  # noqa: E731
    colour = lambda c: _colour_features(c.frames)  # noqa: E731
    assert accuracy((0, 1, 2), pose) >= 0.9
    assert accuracy((3, 4), pose) <= 0.8 and accuracy((5, 6), pose) <= 0.8  # chance is 0.5 (24 clips)
    assert accuracy((3, 4), colour) >= 0.9 and accuracy((5, 6), colour) >= 0.9
    assert accuracy((0, 1, 2), colour) <= 0.6  # chance is 0.33
