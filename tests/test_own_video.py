"""`epam analyze`: a video nobody annotated -> a label-free evaluation run the dashboard can open.

Uses a seeded, untrained demo-preset model written to a temporary checkpoint (the scores are not
meaningful; what is checked is that the run holds exactly what the pipeline computes) and the pose
environment (``make poses``: skipped without it on a developer's machine, an error under CI)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from epam_core.checkpoint import load_checkpoint, save_checkpoint
from epam_core.cli import main
from epam_core.data.dataset import PoseRGBDataset, find_video
from epam_core.data.pyskl import load_annotations
from epam_core.errors import CheckpointError, RunError
from epam_core.models.epam_net import build_model
from epam_core.runs.format import read_run
from epam_core.runs.manifest import sha256
from epam_core.runs.own_video import POSES_FILE, analyze_video

CLIP = "mmaction2_test_ucf101_applyeyemakeup.avi"  # 164 frames, 320x240, one person's face and hands
CLASSES = ["wave", "drink", "read", "clap", "sit"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_model("demo", num_classes=len(CLASSES))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", model, class_names=CLASSES)


@pytest.fixture(scope="module")
def analyzed(
    shared_data: Path, pose_env: Path, checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[tuple[float, str]]]:
    """One analysis of the UCF clip, shared by the tests of this module: (run dir, progress calls)."""
    calls: list[tuple[float, str]] = []
    out = tmp_path_factory.mktemp("runs") / "my_video"
    assert (
        analyze_video(shared_data / CLIP, checkpoint, out, progress=lambda f, m: calls.append((f, m))) == out
    )
    return out, calls


@pytest.mark.shared_data
def test_run_is_label_free_and_complete(
    analyzed: tuple[Path, list], shared_data: Path, checkpoint: Path
) -> None:
    run = read_run(analyzed[0])
    assert run.sample_ids.tolist() == ["mmaction2_test_ucf101_applyeyemakeup"]
    assert run.labels.tolist() == [-1] and not run.has_labels
    assert run.class_names == CLASSES
    np.testing.assert_allclose(
        run.logits("fused"), run.logits("rgb") + run.logits("pose"), rtol=1e-5, atol=1e-6
    )
    assert run.predictions["fused_pred"][0] == run.logits("fused")[0].argmax()
    spatial, temporal = run.attention.for_sample(run.sample_ids[0])
    assert spatial.shape == (8, 6, 6) and temporal.shape == (8,)  # demo preset: 8 RGB frames, 6x6 features
    assert 0 <= spatial.min() and spatial.max() <= 1 and 0 <= temporal.min() and temporal.max() <= 1
    manifest = run.manifest
    assert manifest["analyze"]["frames"] == 164 and manifest["analyze"]["frames_with_person"] > 150
    assert manifest["analyze"]["persons"] == 1 and manifest["analyze"]["max_persons"] == 2  # one face
    assert manifest["dataset"]["annotation"] == POSES_FILE and manifest["dataset"]["name"] == Path(CLIP).stem
    assert manifest["model"]["checkpoint_sha256"] == sha256(checkpoint)
    videos = run.resolve(manifest["dataset"]["videos"])
    assert find_video(videos, run.sample_ids[0]) == (shared_data / CLIP).resolve()
    poses = load_annotations(run.resolve(manifest["dataset"]["annotation"]))
    assert poses.split == {"all": list(run.sample_ids)}
    assert poses.annotations[0]["label"] == -1 and poses.annotations[0]["img_shape"] == (240, 320)


@pytest.mark.shared_data
def test_scores_equal_the_evaluation_pipeline_on_the_saved_poses(
    analyzed: tuple[Path, list], checkpoint: Path
) -> None:
    run = read_run(analyzed[0])
    model = load_checkpoint(checkpoint).model
    dataset = PoseRGBDataset(
        run.path / POSES_FILE, run.resolve(run.manifest["dataset"]["videos"]), model.config.input
    )
    rgb, heatmaps, label, sample_id = dataset[0]
    assert label == -1 and sample_id == run.sample_ids[0]
    assert heatmaps.amax() > 0.5  # the poses reach the model
    with torch.inference_mode():
        out = model(rgb[None], heatmaps[None])
    np.testing.assert_allclose(run.logits("rgb"), out.rgb_logits.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(run.logits("pose"), out.pose_logits.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.shared_data
def test_progress_goes_from_poses_to_done(analyzed: tuple[Path, list]) -> None:
    fractions = [f for f, _ in analyzed[1]]
    assert fractions == sorted(fractions) and fractions[0] < 0.05 and fractions[-1] == 1.0
    assert sum("pose extraction" in m for _, m in analyzed[1]) == 164
    assert any(m == "running EPAM-Net" for _, m in analyzed[1])


def test_bad_checkpoint_or_existing_run_fail_before_extraction(tmp_path: Path, checkpoint: Path) -> None:
    video = tmp_path / "clip.avi"  # never opened: the checks come first
    video.write_bytes(b"not read")
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint not found"):
        analyze_video(video, tmp_path / "nope.pt", tmp_path / "run")
    (tmp_path / "taken").mkdir()
    with pytest.raises(RunError, match=r"taken: already exists"):
        analyze_video(video, checkpoint, tmp_path / "taken")
    assert not (tmp_path / "run").exists()


def test_cli_video_without_a_person_leaves_no_run(
    tmp_path: Path, pose_env: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "noise.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    for frame in np.random.default_rng(1).integers(0, 256, (10, 120, 160, 3), dtype=np.uint8):
        writer.write(frame)
    writer.release()
    out = tmp_path / "run"
    assert main(["analyze", str(video), "--checkpoint", str(checkpoint), "--out", str(out)]) == 2
    assert f"epam analyze: error: {video}: no person found in any of its 10 frames" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".run*"))
