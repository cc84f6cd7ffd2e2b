"""Attention measures in evaluation: the uniform / no-attention RGB logits equal a model whose attention
module is patched to give those maps; `epam evaluate` and `epam attention` write the same measures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from epam_core.analysis.attention_measures import PARTS
from epam_core.analysis.attention_report import attention_report
from epam_core.checkpoint import load_model, save_checkpoint
from epam_core.config import build_config
from epam_core.data.crop import keypoints_to_box
from epam_core.data.dataset import PoseRGBDataset
from epam_core.data.pipeline import load_clip
from epam_core.data.synth.generate import ClipSettings, generate_synthactions
from epam_core.errors import CheckpointError, RunError
from epam_core.fast import CpuInferenceOptions
from epam_core.models import build_model
from epam_core.models.epam_net import EPAMNet
from epam_core.runs.attention_measures_file import ATTENTION_MEASURES, read_attention_measures
from epam_core.runs.evaluate import evaluate
from epam_core.runs.format import read_run
from epam_core.runs.measure_attention import (
    BodyGeometryDataset,
    attention_grid,
    clip_geometry,
    forward_with_attention_variants,
    measure_run,
)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class FixedAttention(nn.Module):
    """The model's attention module, its maps replaced: ``uniform`` (the mean of A = A_s * A_t everywhere,
    A_t = 1) or ``none`` (A_s = 0)."""

    def __init__(self, inner: nn.Module, mode: str) -> None:
        super().__init__()
        self.inner, self.mode = inner, mode

    def forward(self, pose_feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spatial, temporal = self.inner(pose_feats)
        if self.mode == "none":
            return torch.zeros_like(spatial), torch.ones_like(temporal)
        mean = (spatial * temporal[:, :, None, None]).mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
        return mean.expand_as(spatial).contiguous(), torch.ones_like(temporal)


def randomize(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial weights and BN statistics, so that the attention is far from constant."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(
                        torch.randn(t.shape, generator=g) * (0.2 if "bn" in name else t.std().clamp(min=0.05))
                    )


def inputs(model: EPAMNet, batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = model.config.input
    g = torch.Generator().manual_seed(seed)
    rgb = torch.randn(batch, 3, cfg.rgb_frames, cfg.rgb_size, cfg.rgb_size, generator=g)
    pose = torch.rand(batch, cfg.num_joints, cfg.pose_frames, cfg.heatmap_size, cfg.heatmap_size, generator=g)
    return rgb, pose


def assert_variants_equal_patched_model(model: EPAMNet, batch: int, spatial_features: bool = True) -> None:
    """``spatial_features``: the backbone's features vary over the grid, so uniform attention changes them."""
    model.eval()
    rgb, pose = inputs(model, batch)
    with torch.inference_mode():
        variants = forward_with_attention_variants(model, rgb, pose)
        plain = model(rgb, pose)
        original = model.attention_module
        patched = {}
        try:
            for mode in ("uniform", "none"):
                model.attention_module = FixedAttention(original, mode)
                patched[mode] = model(rgb, pose).rgb_logits
        finally:
            model.attention_module = original
    for field in ("rgb_logits", "pose_logits", "fused_logits", "spatial_attention", "temporal_attention"):
        torch.testing.assert_close(
            getattr(variants.output, field), getattr(plain, field), rtol=1e-5, atol=1e-6
        )
    torch.testing.assert_close(variants.rgb_uniform_logits, patched["uniform"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(variants.rgb_none_logits, patched["none"], rtol=1e-5, atol=1e-6)
    # the variants really differ: the attention is not already uniform or zero
    assert (variants.rgb_none_logits - plain.rgb_logits).abs().max() > 1e-3
    if spatial_features:
        assert (variants.rgb_uniform_logits - plain.rgb_logits).abs().max() > 1e-4


def test_variants_equal_a_patched_attention_module_on_the_demo_checkpoint():
    assert_variants_equal_patched_model(load_model(REPO / "checkpoints" / "epam_demo.pt"), batch=2)


def test_variants_equal_a_patched_attention_module_on_a_random_paper_size_model():
    torch.manual_seed(0)
    model = build_model("paper", num_classes=60)
    randomize(model)
    # random weights this deep give features constant over the 7x7 grid: uniform = model there (the A = 0
    # check is not vacuous: it scales them)
    assert_variants_equal_patched_model(model, batch=1, spatial_features=False)


def test_variants_without_the_parallel_streams():
    model = load_model(
        REPO / "checkpoints" / "epam_demo.pt", cpu_inference=CpuInferenceOptions(parallel_streams=False)
    )
    assert_variants_equal_patched_model(model, batch=2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 3-class, 12-clip SynthActions set and a random demo checkpoint with non-trivial attention."""
    root = tmp_path_factory.mktemp("tiny_att")
    settings = ClipSettings(width=80, height=60, num_frames=24)
    annotation = generate_synthactions(
        root / "synth", num_classes=3, per_class=4, seed=5, settings=settings, workers=1, progress=False
    )
    torch.manual_seed(0)
    model = build_model("demo", 3)
    randomize(model, seed=2)
    checkpoint = save_checkpoint(root / "random.pt", model, class_names=["a", "b", "c"])
    return annotation, checkpoint


def test_geometry_dataset_gives_the_plain_items_and_the_body(tiny):
    annotation, _ = tiny
    config = build_config("demo", 3)
    grid = attention_grid(config)
    assert grid == (6, 6)
    videos = annotation.parent / "videos"
    plain = PoseRGBDataset(annotation, videos, config.input)
    measured = BodyGeometryDataset(annotation, videos, config.input, grid=grid)
    rgb, heatmaps, label, sample_id, coverage, motion = measured[5]
    expected = plain[5]
    torch.testing.assert_close(rgb, expected[0], rtol=0, atol=0)
    torch.testing.assert_close(heatmaps, expected[1], rtol=0, atol=0)
    assert (label, sample_id) == expected[2:]
    assert coverage.shape == (config.input.rgb_frames, len(PARTS), *grid) and motion.shape == (8,)
    # every scored joint at an RGB frame lies in a cell the body covers
    clip = load_clip(plain.samples[5], videos / f"{sample_id}.webm", config.input)
    kp = keypoints_to_box(clip.keypoint, clip.keypoint_score, clip.box, grid)[0, :: config.input.frame_stride]
    for t in range(8):
        for x, y in kp[t]:
            assert coverage[t, :, int(y), int(x)].sum() > 0
    assert np.isfinite(motion.numpy()).all() and (motion.numpy() > 0).any()
    again = clip_geometry(clip, config.input, grid)
    np.testing.assert_array_equal(again[0], coverage.numpy())
    with pytest.raises(ValueError, match="evaluation"):
        BodyGeometryDataset(annotation, videos, config.input, train=True, grid=grid)


def test_evaluate_records_the_measures_and_attention_reproduces_them(tiny, tmp_path):
    annotation, checkpoint = tiny
    out = evaluate(
        checkpoint, annotation, tmp_path / "run", split=None, batch_size=5, source="test", workers=0
    )
    run = read_run(out)
    measures = read_attention_measures(run)
    assert measures["sample_id"].tolist() == run.sample_ids.tolist()
    assert measures["on_body_chance"].between(0.02, 0.8).all()
    assert np.isfinite(measures["on_body"]).all()
    parts = measures[[f"{p}_mass" for p in PARTS]].sum(axis=1)
    np.testing.assert_allclose(parts, measures["on_body"], atol=1e-9)
    # the stored no-attention logits are the RGB head on the backbone features alone
    model = load_model(checkpoint)
    rgb, _, _, _ = PoseRGBDataset(annotation, annotation.parent / "videos", model.config.input)[3]
    with torch.inference_mode():
        expected = model.forward_rgb(rgb[None])[0].numpy()
    np.testing.assert_allclose(measures["rgb_none_logits"][3], expected, rtol=1e-4, atol=1e-5)
    # `epam attention` on the run writes the same file again
    first = pd.read_parquet(out / ATTENTION_MEASURES)
    (out / ATTENTION_MEASURES).unlink()
    assert read_attention_measures(read_run(out)) is None
    measure_run(out, batch_size=4, workers=0)
    second = pd.read_parquet(out / ATTENTION_MEASURES)
    pd.testing.assert_frame_equal(first.drop(columns=["motion", "rgb_uniform_logits", "rgb_none_logits"]),
                                  second.drop(columns=["motion", "rgb_uniform_logits", "rgb_none_logits"]),
                                  rtol=1e-5)  # fmt: skip
    np.testing.assert_allclose(
        np.stack(first["rgb_none_logits"]), np.stack(second["rgb_none_logits"]), rtol=1e-5
    )
    # `epam attention --json` prints the report's section of the run (no recomputation: the file is there)
    result = subprocess.run(
        [str(BIN / "epam"), "attention", "--run", str(out), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == attention_report(read_run(out))
    assert set(json.loads(result.stdout)["rgb_top1"]) == {"model", "uniform", "none"}


def test_a_stale_or_foreign_measures_file_is_refused(tiny, tmp_path):
    annotation, checkpoint = tiny
    out = evaluate(checkpoint, annotation, tmp_path / "run", split=None, batch_size=6, source="test")
    path = out / ATTENTION_MEASURES
    frame = pd.read_parquet(path)
    frame.iloc[::-1].to_parquet(path, index=False)
    with pytest.raises(RunError, match="other samples"):
        read_attention_measures(read_run(out))
    frame.drop(columns=["on_body"]).to_parquet(path, index=False)
    with pytest.raises(RunError, match="lacks the columns on_body"):
        read_attention_measures(read_run(out))
    path.write_bytes(b"not parquet")
    with pytest.raises(RunError, match="cannot be read"):
        read_attention_measures(read_run(out))
    # another checkpoint than the run's is refused before any work
    other = save_checkpoint(tmp_path / "other.pt", build_model("demo", 3), class_names=["a", "b", "c"])
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["model"]["checkpoint"] = str(other.resolve())
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="sha256"):
        measure_run(out)


def test_cli_attention_errors_exit_2(tmp_path):
    result = subprocess.run(
        [str(BIN / "epam"), "attention", "--run", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_epam_report_carries_the_attention_section(tmp_path, capsys):
    from test_dashboard_attention import constructed_measures
    from test_dashboard_fixture import make_run

    from epam_core import cli

    run_dir = make_run(tmp_path)
    assert cli.main(["report", "--run", str(run_dir), "--json", "--resamples", "10"]) == 0
    assert "attention" not in json.loads(capsys.readouterr().out)  # no measures, no section
    constructed_measures(run_dir)
    assert cli.main(["report", "--run", str(run_dir), "--json", "--resamples", "10"]) == 0
    section = json.loads(capsys.readouterr().out)["attention"]
    assert section == attention_report(read_run(run_dir))
    assert set(section) == {"on_body", "on_body_chance", "parts", "temporal_motion_corr", "rgb_top1"}
    assert {p: set(v) for p, v in section["parts"].items()} == {p: {"mass", "chance"} for p in PARTS}
    assert set(section["rgb_top1"]) == {"model", "uniform", "none"}
    assert all(0 <= section[k] <= 1 for k in ("on_body", "on_body_chance"))
    assert cli.main(["report", "--run", str(run_dir), "--resamples", "10"]) == 0
    text = capsys.readouterr().out
    assert "attention:" in text and f"with the attention {section['rgb_top1']['model'] * 100:.1f} %" in text
