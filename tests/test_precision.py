"""``--precision``: the forward pass under autocast, float32 outputs, the logit difference to fp32 bounded.

The bounds below were measured on the bundled demo checkpoint (CPU bf16 autocast, torch 2.13) and are
reported in benchmarks/RESULTS.md ("Precision"); fp16 needs CUDA and is refused on the CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from epam_core.checkpoint import load_checkpoint
from epam_core.cli import main
from epam_core.data.dataset import PoseRGBDataset
from epam_core.data.pyskl import load_annotations
from epam_core.data.synth.generate import ClipSettings, generate_synthactions
from epam_core.distributed import DistContext
from epam_core.errors import EpamError, RunError
from epam_core.models.epam_net import EPAMOutput
from epam_core.precision import autocast, check_precision, float_output
from epam_core.runs.evaluate import evaluate, extract_embeddings, predict
from epam_core.runs.robustness import run_robustness

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "checkpoints" / "epam_demo.pt"
# measured on these 12 SynthActions clips: max |bf16 - fp32| 0.029 rgb, 0.053 pose, 0.053 fused (|fp32| <= 18),
# top-1 12 of 12 agree (RESULTS.md); the bound leaves room for other CPUs
MAX_FUSED_DIFF = 0.25


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """One SynthActions clip per class of the demo checkpoint (12), small frames."""
    root = tmp_path_factory.mktemp("precision")
    return generate_synthactions(
        root / "synth",
        num_classes=12,
        per_class=1,
        seed=5,
        settings=ClipSettings(width=120, height=90, num_frames=24),
        workers=1,
        progress=False,
    )


def test_fp16_is_refused_on_the_cpu_with_the_flag_named():
    check_precision("fp32", "cpu")
    check_precision("bf16", "cpu")
    with pytest.raises(EpamError, match="--precision fp16 needs a CUDA device"):
        check_precision("fp16", torch.device("cpu"))
    with pytest.raises(EpamError, match="--precision fp8: choose one of fp32, bf16, fp16"):
        autocast("fp8", "cpu")


def test_cli_refuses_fp16_on_the_cpu_before_loading_anything(tmp_path, capsys):
    code = main(
        ["evaluate", "--checkpoint", "missing.pt", "--data", "missing.pkl", "--out", str(tmp_path / "run"),
         "--device", "cpu", "--precision", "fp16"]
    )  # fmt: skip
    assert code == 2
    assert "epam evaluate: error: --precision fp16 needs a CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_float_output_casts_every_floating_tensor_nested():
    half = torch.ones(2, 3, dtype=torch.bfloat16)
    out = EPAMOutput(half, half, half, half[:, :, None], half[:, 0])
    cast = float_output(out)
    assert all(getattr(cast, f).dtype == torch.float32 for f in ("rgb_logits", "spatial_attention"))
    same = torch.zeros(2)
    assert float_output(EPAMOutput(same, same, same, same, same)).rgb_logits is same  # float32: no copy


def test_bf16_logits_of_the_demo_checkpoint_stay_close_to_fp32(clips):
    """The demo checkpoint through ``predict`` (as `epam evaluate` runs it) in fp32 and under bf16 autocast."""
    loaded = load_checkpoint(DEMO)
    anns = load_annotations(clips)
    dataset = PoseRGBDataset(
        anns, clips.parent / "videos", loaded.model.config.input, class_names=anns.class_names
    )
    fp32 = predict(loaded.model, dataset, DistContext(), batch_size=6, desc="fp32")
    bf16 = predict(loaded.model, dataset, DistContext(), batch_size=6, desc="bf16", precision="bf16")
    assert bf16.fused_logits.dtype == np.float32 and bf16.spatial.dtype == np.float16
    for name in ("rgb_logits", "pose_logits", "fused_logits"):
        diff = float(np.abs(getattr(bf16, name) - getattr(fp32, name)).max())
        print(f"{name}: max |bf16 - fp32| {diff:.4f} (max |fp32| {np.abs(getattr(fp32, name)).max():.2f})")
        assert 0 < diff < MAX_FUSED_DIFF  # > 0: bf16 did run
    agree = (bf16.fused_logits.argmax(1) == fp32.fused_logits.argmax(1)).mean()
    print(f"top-1 agreement {agree:.3f}")
    assert agree >= 10 / 12


def test_the_run_records_its_precision_and_a_sweep_keeps_it(clips, tmp_path):
    out = evaluate(DEMO, clips, tmp_path / "run", split=None, batch_size=4, precision="bf16")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["precision"] == "bf16"
    with pytest.raises(RunError, match="evaluated with --precision bf16"):
        run_robustness(
            DEMO, clips, out, [("jitter_px", [0.0])], seeds=[0], split=None, subset=3, precision="fp32"
        )
    run_robustness(
        DEMO, clips, out, [("jitter_px", [0.0, 2.0])], seeds=[0], split=None, subset=3, precision="bf16"
    )
    assert extract_embeddings(out, batch_size=6).is_file()  # re-run in the run's precision: its logits again


def test_bf16_on_a_cpu_without_bf16_instructions_warns_once(monkeypatch, caplog):
    from epam_core import precision

    precision._warn_if_bf16_emulated.cache_clear()
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    with caplog.at_level("WARNING", logger="epam_core.precision"):
        check_precision("bf16", "cpu")
        check_precision("bf16", "cpu")
    assert [r.message.count("no bf16 instructions") for r in caplog.records] == [1]
    precision._warn_if_bf16_emulated.cache_clear()


def test_fp32_on_cuda_turns_tf32_off_for_the_block_only():
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    with autocast("fp32", torch.device("cuda", 0)):  # sets flags only: runs without a GPU
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == before
    with autocast("fp32", "cpu"):
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == before


def test_cpu_fast_path_under_bf16_autocast_equals_the_plain_model_and_both_streams_run_in_bf16():
    """The fused oneDNN path computes in float32, so it steps aside under autocast; the pose backbone, run in
    the stream worker thread, gets the caller's autocast state (thread-local)."""
    from epam_core.fast import CpuInferenceOptions, prepare_cpu_inference
    from epam_core.models import build_model
    from epam_core.profile import example_inputs

    torch.manual_seed(0)
    plain = build_model("demo").eval()
    fast = prepare_cpu_inference(plain, CpuInferenceOptions(threads=2, parallel_streams=True))
    rgb, pose = example_inputs(plain.config, 2)
    rgb.normal_()
    pose.uniform_()
    with torch.inference_mode(), autocast("bf16", "cpu"):
        rgb_feats, pose_feats = fast.forward_features(rgb, pose)  # the two backbones side by side
        expected, actual = plain(rgb, pose), fast(rgb, pose)
    assert rgb_feats.dtype == pose_feats.dtype == torch.bfloat16
    torch.testing.assert_close(actual.fused_logits, expected.fused_logits, rtol=0, atol=0)
