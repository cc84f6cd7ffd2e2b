"""A small, complete evaluation run for the dashboard tests (AppTest and Playwright): 5 classes, 30 samples,
attention maps, a robustness sweep, a random demo-preset checkpoint, and videos for the first 4 samples
(the others have none, to exercise the missing-video message). Imported by the other dashboard tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from epam_core.checkpoint import save_checkpoint
from epam_core.config import build_config
from epam_core.data.coco_keypoints import COCO_LIMBS
from epam_core.data.pyskl import save_annotations
from epam_core.data.video import write_webm
from epam_core.models.epam_net import build_model
from epam_core.runs.format import AttentionMaps, new_manifest, predictions_frame, read_run, write_run

CLASSES = ["wave", "clap", "jump", "squat", "kick"]
NUM_SAMPLES = 30
WITH_VIDEO = 4
FRAMES, HEIGHT, WIDTH = 30, 96, 128


def _skeleton(t: int, phase: float) -> np.ndarray:
    """(T, 17, 2) image-pixel joints of a stick figure waving an arm."""
    base = np.array(
        [[64, 20], [61, 17], [67, 17], [58, 19], [70, 19], [54, 32], [74, 32], [50, 46], [78, 46], [48, 58],
         [80, 58], [57, 60], [71, 60], [56, 75], [72, 75], [55, 90], [73, 90]],
        dtype=np.float32,
    )  # fmt: skip
    kp = np.repeat(base[None], t, axis=0)
    angle = np.sin(np.linspace(0, 4 * np.pi, t) + phase)
    kp[:, 10, 0] += 8 * angle  # right wrist
    kp[:, 10, 1] -= 20 * (angle + 1)
    return kp


def _frames(kp: np.ndarray) -> np.ndarray:
    frames = np.full((len(kp), HEIGHT, WIDTH, 3), 40, np.uint8)
    for frame, joints in zip(frames, kp, strict=True):
        for a, b in COCO_LIMBS:
            cv2.line(frame, tuple(map(int, joints[a])), tuple(map(int, joints[b])), (220, 180, 60), 3)
    return frames


def make_run(root: Path, labelled: bool = True, seed: int = 0) -> Path:
    """Write the fixture run to ``root / "run"`` (data under ``root / "data"``) and return the run dir."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    ids = [f"S{i:03d}" for i in range(NUM_SAMPLES)]
    labels = np.arange(NUM_SAMPLES) % k
    rgb = rng.normal(size=(NUM_SAMPLES, k)).astype(np.float32)
    pose = rng.normal(size=(NUM_SAMPLES, k)).astype(np.float32)
    rgb[np.arange(NUM_SAMPLES), labels] += 1.5
    pose[np.arange(NUM_SAMPLES), labels] += 1.0
    data = root / "data"
    anns = []
    for i, sid in enumerate(ids):
        kp = _skeleton(FRAMES, i)
        anns.append(
            {"frame_dir": sid, "label": int(labels[i]), "img_shape": (HEIGHT, WIDTH), "total_frames": FRAMES,
             "keypoint": kp[None], "keypoint_score": np.ones((1, FRAMES, 17), np.float32)}
        )  # fmt: skip
        if i < WITH_VIDEO:
            (data / "videos").mkdir(parents=True, exist_ok=True)
            write_webm(data / "videos" / f"{sid}.webm", _frames(kp), fps=15)
    save_annotations(data / "ann.pkl", anns, {"test": ids}, class_names=CLASSES)
    config = build_config("demo", k)
    torch.manual_seed(seed)
    model = build_model(config=config).eval()
    with torch.no_grad():  # a random model whose scores react visibly to noise (N(0, 0.01) heads are flat)
        for head in (model.rgb_cls_head, model.pose_cls_head):
            head.fc_cls.weight.mul_(300)
    save_checkpoint(root / "model.pt", model, class_names=CLASSES)
    t, h = config.input.rgb_frames, config.input.rgb_size // config.rgb.total_stride
    attention = AttentionMaps(
        np.array(ids),
        rng.random((NUM_SAMPLES, t, h, h)).astype(np.float16),
        rng.random((NUM_SAMPLES, t)).astype(np.float16),
    )
    rows = []
    for level in (0.0, 4.0, 16.0):
        for s in (0, 1):
            noisy = pose - level / 8 * rng.random(pose.shape).astype(np.float32) * (
                np.arange(k) == labels[:, None]
            )
            part = predictions_frame(ids, labels, rgb, noisy)
            part.insert(0, "noise", "jitter_px")
            part.insert(1, "level", level)
            part.insert(2, "seed", s)
            rows.append(part)
    frame = predictions_frame(ids, labels if labelled else np.full(NUM_SAMPLES, -1), rgb, pose)
    manifest = new_manifest(
        source="tests fixture",
        class_names=CLASSES,
        num_samples=NUM_SAMPLES,
        model={"config": config.to_dict(), "checkpoint": "../model.pt"},
        dataset={
            "name": "fixture",
            "annotation": "../data/ann.pkl",
            "split": "test",
            "videos": "../data/videos",
        },
    )
    return write_run(root / "run", manifest, frame, attention, pd.concat(rows, ignore_index=True))


def test_fixture_run_reads_back(tmp_path):
    run = read_run(make_run(tmp_path))
    assert run.num_classes == 5 and len(run.predictions) == NUM_SAMPLES and run.has_labels
    assert run.attention is not None and set(run.robustness["level"]) == {0.0, 4.0, 16.0}
    assert run.resolve(run.manifest["model"]["checkpoint"]) == (tmp_path / "model.pt").resolve()
