"""Evaluation runs: written from a checkpoint, identical under a 2-process torchrun, never left half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from epam_core.checkpoint import save_checkpoint
from epam_core.data.dataset import PoseRGBDataset
from epam_core.data.synth.generate import ClipSettings, generate_synthactions
from epam_core.errors import RunError
from epam_core.models import build_model
from epam_core.runs.evaluate import evaluate
from epam_core.runs.format import list_runs, read_run
from epam_core.runs.manifest import sha256

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NUM_CLASSES = 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 3-class, 12-clip SynthActions set (small frames) and a randomly initialised demo checkpoint."""
    root = tmp_path_factory.mktemp("tiny")
    settings = ClipSettings(width=80, height=60, num_frames=24)
    annotation = generate_synthactions(
        root / "synth",
        num_classes=NUM_CLASSES,
        per_class=4,
        seed=3,
        settings=settings,
        workers=1,
        progress=False,
    )
    torch.manual_seed(0)
    checkpoint = save_checkpoint(
        root / "random.pt", build_model("demo", NUM_CLASSES), class_names=["a", "b", "c"]
    )
    return annotation, checkpoint


def _epam(*args: str) -> list[str]:
    return [str(BIN / "epam"), *args]


def test_evaluate_writes_a_run_that_round_trips(tiny, tmp_path):
    annotation, checkpoint = tiny
    out = evaluate(checkpoint, annotation, tmp_path / "run", split=None, batch_size=5, source="test")
    run = read_run(out)
    dataset = PoseRGBDataset(annotation, annotation.parent / "videos", build_model("demo", 3).config.input)
    assert run.sample_ids.tolist() == [s["frame_dir"] for s in dataset.samples]
    assert run.labels.tolist() == [s["label"] for s in dataset.samples]
    assert run.class_names == ["a", "b", "c"]  # the checkpoint's names win over the annotation file's
    assert run.attention.spatial.shape == (12, 8, 6, 6) and run.attention.temporal.shape == (12, 8)
    # the logits are those of the model on that sample
    from epam_core.checkpoint import load_model

    model = load_model(checkpoint)
    rgb, heatmaps, _, sample_id = dataset[7]
    with torch.inference_mode():
        expected = model(rgb[None], heatmaps[None])
    np.testing.assert_allclose(run.logits("pose")[7], expected.pose_logits[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(run.logits("fused")[7], expected.fused_logits[0].numpy(), rtol=1e-4, atol=1e-5)
    _, temporal = run.attention.for_sample(sample_id)
    np.testing.assert_allclose(temporal, expected.temporal_attention[0].numpy(), atol=2e-3)
    # the manifest points back at its inputs with paths relative to the run
    manifest = run.manifest
    assert not Path(manifest["model"]["checkpoint"]).is_absolute()
    assert run.resolve(manifest["model"]["checkpoint"]) == checkpoint.resolve()
    assert manifest["model"]["checkpoint_sha256"] == sha256(checkpoint)
    assert run.resolve(manifest["dataset"]["annotation"]) == annotation.resolve()
    assert run.resolve(manifest["dataset"]["videos"]) == (annotation.parent / "videos").resolve()
    assert manifest["model"]["config"]["preset"] == "demo" and manifest["fusion_weights"] == [1.0, 1.0]
    with pytest.raises(RunError, match="already exists"):
        evaluate(checkpoint, annotation, out, split=None)


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(tiny, tmp_path):
    annotation, checkpoint = tiny
    common = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(annotation), "--split", "train"]
    common += ["--batch-size", "2", "--workers", "0", "--device", "cpu"]
    subprocess.run(_epam(*common, "--out", str(tmp_path / "one")), check=True, capture_output=True)
    torchrun = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node=2", str(BIN / "epam")]
    done = subprocess.run(
        [*torchrun, *common, "--out", str(tmp_path / "two")], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = read_run(tmp_path / "one"), read_run(tmp_path / "two")
    assert len(one.predictions) == 9  # every training sample once: 9 is odd, so no rank pads a duplicate
    assert two.sample_ids.tolist() == one.sample_ids.tolist()
    assert two.labels.tolist() == one.labels.tolist()
    for stream in ("rgb", "pose", "fused"):
        np.testing.assert_allclose(two.logits(stream), one.logits(stream), rtol=1e-5, atol=1e-5)
        assert two.predictions[f"{stream}_pred"].tolist() == one.predictions[f"{stream}_pred"].tolist()
    np.testing.assert_array_equal(two.attention.sample_ids, one.attention.sample_ids)
    np.testing.assert_allclose(two.attention.spatial, one.attention.spatial, atol=1e-3)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_evaluation_leaves_no_run(tiny, tmp_path, sig):
    annotation, checkpoint = tiny
    out = tmp_path / "runs" / "killed"
    out.parent.mkdir()
    args = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(annotation), "--split", "train"]
    proc = subprocess.Popen(
        _epam(*args, "--out", str(out), "--batch-size", "1", "--workers", "0"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TQDM_MININTERVAL": "0"},
    )
    seen = ""
    deadline = time.monotonic() + 120
    while "1/9" not in seen and time.monotonic() < deadline:  # mid-way: the first clip is done
        seen += proc.stderr.read(1)
    assert "1/9" in seen, seen[-2000:]
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not out.exists()
    assert list_runs(out.parent) == []
    assert [p.name for p in out.parent.iterdir() if not p.name.startswith(".")] == []


def test_evaluate_stores_a_metadata_table(tiny, tmp_path, capsys):
    from epam_core import cli
    from epam_core.analysis.slices import RUN_METADATA, run_metadata

    annotation, checkpoint = tiny
    bad = tmp_path / "bad.csv"
    bad.write_text("clip,room\nx,y\n")
    args = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(annotation)]
    assert cli.main([*args, "--out", str(tmp_path / "bad_run"), "--metadata", str(bad)]) == 2
    assert "bad.csv: has no sample_id column" in capsys.readouterr().err
    assert not (tmp_path / "bad_run").exists()  # checked before evaluating: nothing written
    ids = [
        s["frame_dir"]
        for s in PoseRGBDataset(
            annotation, annotation.parent / "videos", build_model("demo", 3).config.input, split="test"
        ).samples
    ]
    meta = tmp_path / "meta.csv"
    meta.write_text("sample_id,room\n" + "".join(f"{s},{'ab'[i % 2]}\n" for i, s in enumerate(ids)))
    assert cli.main([*args, "--out", str(tmp_path / "run"), "--metadata", str(meta), "--workers", "0"]) == 0
    run = read_run(tmp_path / "run")
    assert (run.path / RUN_METADATA).is_file()
    assert run_metadata(run)["room"].tolist() == ["ab"[i % 2] for i in range(len(ids))]
