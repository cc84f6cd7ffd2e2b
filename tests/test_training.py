"""Training: a few iterations lower the loss; a run interrupted after an epoch resumes to the same weights."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.utils.data import Dataset

from epam_core import training
from epam_core.checkpoint import load_checkpoint
from epam_core.config import InputConfig, demo_config
from epam_core.distributed import DistContext
from epam_core.errors import CheckpointError
from epam_core.models import build_model
from epam_core.training import TrainSettings, fit

K = 3


def tiny_config():
    """The demo preset at 32 px RGB / 8 px heatmaps, 2 RGB and 6 pose frames: 2x2 features."""
    cfg = demo_config(K)
    return dataclasses.replace(
        cfg, input=InputConfig(pose_frames=6, rgb_frames=2, rgb_size=32, heatmap_size=8), dropout=0.0
    )


class Blobs(Dataset):
    """Class k lights up RGB channel k and heatmap joints 3k..3k+2; plus a little noise."""

    def __init__(self, n: int = 8, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        cfg = tiny_config().input
        self.labels = torch.arange(n) % K
        self.rgb = 0.3 * torch.randn(n, 3, cfg.rgb_frames, cfg.rgb_size, cfg.rgb_size, generator=g)
        self.pose = 0.1 * torch.rand(n, 17, cfg.pose_frames, cfg.heatmap_size, cfg.heatmap_size, generator=g)
        for i, k in enumerate(self.labels.tolist()):
            self.rgb[i, k] += 1.0
            self.pose[i, 3 * k : 3 * k + 3] += 0.8

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.rgb[i], self.pose[i], int(self.labels[i]), f"s{i:02d}"


def _fit(tmp_path, stage="joint", epochs=2, **kwargs):
    torch.manual_seed(0)
    model = build_model(config=tiny_config())
    settings = TrainSettings(stage=stage, epochs=epochs, lr=0.05, batch_size=4, seed=1)
    history = fit(model, Blobs(), settings, tmp_path, DistContext(), [f"c{k}" for k in range(K)], **kwargs)
    return model, history


@pytest.mark.parametrize("stage", ["rgb", "joint"])
def test_a_few_iterations_lower_the_loss(tmp_path, stage):
    model, history = _fit(tmp_path, stage=stage, epochs=4)  # 2 iterations per epoch
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["loss"] < 0.8 * history[0]["loss"], history
    assert history[-1]["lr"] < 0.05 * 0.2  # cosine decay reached the end of the schedule
    loaded = load_checkpoint(tmp_path / training.MODEL_FILE)
    assert loaded.class_names == ["c0", "c1", "c2"] and loaded.meta["stage"] == stage
    assert loaded.meta["epoch"] == 4 and len(loaded.meta["history"]) == 4
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[key], value.cpu())


def test_single_stream_stage_leaves_the_other_stream_alone(tmp_path):
    torch.manual_seed(0)
    before = build_model(config=tiny_config()).state_dict()
    model, _ = _fit(tmp_path, stage="pose", epochs=1)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith(("rgb_", "attention_")))
    assert not torch.equal(before["pose_cls_head.fc_cls.weight"], after["pose_cls_head.fc_cls.weight"])


def test_resume_equals_uninterrupted_run(tmp_path, monkeypatch):
    straight, history = _fit(tmp_path / "straight", epochs=3, stage="pose")

    calls = []
    real_save = training.save_checkpoint

    def interrupt_after_first_epoch(*args, **kwargs):
        real_save(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "resumed", epochs=3, stage="pose")
    with pytest.raises(CheckpointError, match="--resume"):
        _fit(tmp_path / "resumed", epochs=3, stage="pose")
    with pytest.raises(CheckpointError, match="other settings"):
        _fit(tmp_path / "resumed", epochs=4, stage="pose", resume=True)
    resumed, resumed_history = _fit(tmp_path / "resumed", epochs=3, stage="pose", resume=True)
    assert len(calls) == 3  # epochs 2 and 3 were trained in the second call
    assert [h["loss"] for h in resumed_history] == [h["loss"] for h in history]
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)
