"""EPAMNet: the official parameter layout, the contract, gradients, determinism, and the reference (plain and
in the CPU-inference form of ``epam_core.fast``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from epam_core.checkpoint import load_checkpoint
from epam_core.config import build_config
from epam_core.fast import CpuInferenceOptions, prepare_cpu_inference
from epam_core.fast.epam_net import CpuEPAMNet
from epam_core.models import EPAMNet, EPAMOutput, build_model
from epam_core.models.reference import ReferenceEPAMNet

DEMO_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "epam_demo.pt"

# The authors' NTU-60 checkpoint, listed as "key<TAB>shape" (keys and shapes only, no weights)
OFFICIAL_KEYS = Path(__file__).resolve().parent / "data" / "official_state_dict_keys_ntu60.txt"


def inputs(config, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    i = config.input
    rgb = torch.randn(batch, 3, i.rgb_frames, i.rgb_size, i.rgb_size, generator=g)
    pose = torch.rand(batch, i.num_joints, i.pose_frames, i.heatmap_size, i.heatmap_size, generator=g)
    return rgb, pose


def randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial weights and BN statistics (the init zeroes conv3.bn and leaves BN stats at 0/1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.dtype.is_floating_point:
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(
                    torch.randn(t.shape, generator=g) * (0.2 if "bn" in name else t.std().clamp(min=0.05))
                )


@pytest.fixture(scope="module")
def paper() -> EPAMNet:
    torch.manual_seed(0)
    return build_model("paper", num_classes=60)


def test_paper_state_dict_counts(paper: EPAMNet) -> None:
    sd = paper.state_dict()
    assert len(sd) == 1071
    assert sum(p.numel() for p in paper.parameters()) == 2_538_717
    assert sum(p.numel() for p in paper.attention_module.parameters()) == 107
    heads = sum(p.numel() for m in (paper.rgb_cls_head, paper.pose_cls_head) for p in m.parameters())
    assert heads == 25_980 + 13_020
    assert sum(p.numel() for p in paper.rgb_backbone.parameters()) == 1_980_030
    assert sum(p.numel() for p in paper.pose_backbone.parameters()) == 519_580
    assert list(sd)[:2] == ["rgb_backbone.conv1_s.conv.weight", "rgb_backbone.conv1_s.bn.weight"]
    assert list(sd)[-1] == "attention_module.conv_temporal_attention.weight"
    assert tuple(sd["rgb_backbone.layer1.0.conv2.conv.weight"].shape) == (54, 1, 1, 3, 3)
    assert tuple(sd["rgb_backbone.layer4.0.se_module.fc1.weight"].shape) == (32, 432, 1, 1, 1)
    assert "rgb_backbone.layer1.1.se_module.fc1.weight" not in sd  # SE on even blocks only


def test_paper_state_dict_equals_official_listing(paper: EPAMNet) -> None:
    official = [tuple(line.split("\t")) for line in OFFICIAL_KEYS.read_text().splitlines() if line]
    assert len(official) == 1071
    ours = [(k, str(tuple(v.shape))) for k, v in paper.state_dict().items()]
    assert ours == official
    converted = prepare_cpu_inference(paper)
    assert [(k, str(tuple(v.shape))) for k, v in converted.state_dict().items()] == official


def test_init_as_the_authors(paper: EPAMNet) -> None:
    block = paper.rgb_backbone.layer2[1]
    assert torch.all(block.conv3.bn.weight == 0) and torch.all(block.conv1.bn.weight == 1)
    w = paper.rgb_backbone.layer3[0].conv1.conv.weight  # kaiming fan_out: std = sqrt(2 / out_channels)
    assert w.std().item() == pytest.approx((2 / w.shape[0]) ** 0.5, rel=0.1)
    assert paper.rgb_cls_head.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.1)
    assert torch.all(paper.pose_cls_head.fc_cls.bias == 0)


def test_forward_contract_demo() -> None:
    config = build_config("demo")
    torch.manual_seed(0)
    model = EPAMNet(config).eval()
    model.fusion_weights = (0.25, 2.0)
    rgb, pose = inputs(config)
    with torch.no_grad():
        out = model(rgb, pose)
    assert isinstance(out, EPAMOutput)
    k, t, h = config.num_classes, config.input.rgb_frames, config.input.rgb_size // config.rgb.total_stride
    assert out.rgb_logits.shape == out.pose_logits.shape == out.fused_logits.shape == (2, k)
    assert out.spatial_attention.shape == (2, t, h, h) and out.temporal_attention.shape == (2, t)
    for a in (out.spatial_attention, out.temporal_attention):
        assert torch.all((a >= 0) & (a <= 1))
    torch.testing.assert_close(out.fused_logits, 0.25 * out.rgb_logits + 2.0 * out.pose_logits)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_pose(pose), out.pose_logits)
        assert model.forward_rgb(rgb).shape == (2, k)


def train_step_grads(model: EPAMNet, config) -> dict[str, torch.Tensor | None]:
    rgb, pose = inputs(config)
    out = model.train()(rgb, pose)
    labels = torch.tensor([1, 2])
    ce = torch.nn.functional.cross_entropy
    (ce(out.rgb_logits, labels) + ce(out.pose_logits, labels)).backward()
    return {n: p.grad for n, p in model.named_parameters()}


def test_every_parameter_gets_a_gradient() -> None:
    config = build_config("demo")
    torch.manual_seed(0)
    # at init conv3.bn.weight = 0 closes every residual branch: all grads exist, conv3.bn's are nonzero
    grads = train_step_grads(EPAMNet(config), config)
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert all(g.abs().sum() > 0 for n, g in grads.items() if n.endswith("conv3.bn.weight"))
    # with open branches (trained-like weights) every parameter, attention included, gets a nonzero gradient
    model = EPAMNet(config)
    randomize(model)
    grads = train_step_grads(model, config)
    zero = [n for n, g in grads.items() if g is None or not g.abs().sum() > 0]
    assert not zero


def test_eval_output_is_deterministic() -> None:
    config = build_config("demo")
    torch.manual_seed(0)
    model = prepare_cpu_inference(EPAMNet(config))
    randomize(model)
    rgb, pose = inputs(config)
    with torch.no_grad():
        a, b = model(rgb, pose), model(rgb, pose)
    assert torch.equal(a.fused_logits, b.fused_logits)
    assert torch.equal(a.spatial_attention, b.spatial_attention)


def assert_rel_close(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-5) -> None:
    err = (actual - expected).abs().max() / expected.abs().max()
    assert err.item() <= rel, f"relative error {err.item():.2e} > {rel}"


def compare_with_reference(preset: str, batch: int, parallel_streams: bool = True) -> None:
    config = build_config(preset)
    torch.manual_seed(0)
    fast = prepare_cpu_inference(EPAMNet(config), CpuInferenceOptions(parallel_streams=parallel_streams))
    ref = ReferenceEPAMNet(config)
    randomize(fast)
    ref.load_state_dict(fast.state_dict(), strict=True)
    fast.eval()
    ref.eval()
    rgb, pose = inputs(config, batch=batch)
    with torch.no_grad():
        a, b = fast(rgb, pose), ref(rgb, pose)
    for field in ("rgb_logits", "pose_logits", "fused_logits", "spatial_attention", "temporal_attention"):
        assert_rel_close(getattr(a, field), getattr(b, field))


def test_plain_model_equals_reference_demo() -> None:
    config = build_config("demo")
    torch.manual_seed(0)
    plain, ref = EPAMNet(config), ReferenceEPAMNet(config)
    randomize(plain)
    ref.load_state_dict(plain.state_dict(), strict=True)
    rgb, pose = inputs(config)
    with torch.no_grad():
        a, b = plain.eval()(rgb, pose), ref.eval()(rgb, pose)
    for field in ("rgb_logits", "pose_logits", "fused_logits", "spatial_attention", "temporal_attention"):
        assert_rel_close(getattr(a, field), getattr(b, field))


FIELDS = ("rgb_logits", "pose_logits", "fused_logits", "spatial_attention", "temporal_attention")


@pytest.mark.parametrize("form", ["plain", "cpu inference"])
def test_features_then_head_and_rgb_features_once_equal_forward(form: str) -> None:
    """forward = forward_head(*forward_features); one clip's RGB features serve every pose input of it."""
    # the trained demo model: its attention (hence its RGB stream) follows the pose input
    model = load_checkpoint(
        DEMO_CHECKPOINT, cpu_inference=None if form == "plain" else CpuInferenceOptions()
    ).model
    assert isinstance(model, CpuEPAMNet) == (form != "plain")
    config = model.config
    model.fusion_weights = (0.7, 1.3)
    rgb, pose = inputs(config, batch=1)
    noisy = torch.cat([pose, pose.flip(-1), torch.zeros_like(pose)])  # three pose inputs of the one clip
    with torch.no_grad():
        full = model(rgb.expand(3, *rgb.shape[1:]), noisy)
        rgb_feats, pose_feats = model.forward_features(rgb, pose)
        split = model.forward_head(rgb_feats, pose_feats)
        h = config.input.rgb_size // config.rgb.total_stride
        assert rgb_feats.shape == (1, config.input.rgb_frames, model.rgb_backbone.out_channels, h, h)
        torch.testing.assert_close(model.rgb_features(rgb), rgb_feats, rtol=0, atol=0)
        shared = model.forward_with_rgb_features(model.rgb_features(rgb), noisy)
    for field in FIELDS:
        torch.testing.assert_close(getattr(split, field), getattr(full, field)[:1], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(getattr(shared, field), getattr(full, field), rtol=1e-5, atol=1e-6)
    # the pose input guides the RGB stream through the attention
    assert (shared.rgb_logits[0] - shared.rgb_logits[2]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="multiple"):
        model.forward_with_rgb_features(rgb_feats, noisy[:, :, :-1])


def test_fast_path_equals_reference_demo() -> None:
    compare_with_reference("demo", batch=2)


def test_fast_path_with_streams_in_sequence_equals_reference() -> None:
    """The eval path that runs the two backbones one after the other (no worker thread)."""
    compare_with_reference("demo", batch=2, parallel_streams=False)


def test_fast_path_equals_reference_paper_size() -> None:
    compare_with_reference("paper", batch=1)


def test_train_mode_equals_reference_and_updates_bn() -> None:
    """Train mode (batch statistics) matches the reference's BatchNorm3d, running stats included."""
    config = build_config("demo")
    torch.manual_seed(0)
    fast, ref = EPAMNet(config), ReferenceEPAMNet(config)
    randomize(fast)
    ref.load_state_dict(fast.state_dict(), strict=True)
    fast.train()
    ref.train()
    for m in (fast, ref):  # dropout off, BN in train mode
        m.rgb_cls_head.dropout.p = m.pose_cls_head.dropout.p = 0.0
    rgb, pose = inputs(config, batch=3)
    a, b = fast(rgb, pose), ref(rgb, pose)
    assert_rel_close(a.fused_logits, b.fused_logits)
    for (name, x), y in zip(fast.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=name)


def test_eval_fold_cache_follows_weight_changes() -> None:
    config = build_config("demo")
    torch.manual_seed(0)
    model = prepare_cpu_inference(EPAMNet(config))
    randomize(model)
    rgb, pose = inputs(config)
    with torch.no_grad():
        before = model(rgb, pose).fused_logits
        model.load_state_dict(
            {k: v * 1.1 if v.is_floating_point() else v for k, v in model.state_dict().items()}
        )
        after = model(rgb, pose).fused_logits
    ref = ReferenceEPAMNet(config).eval()
    ref.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert_rel_close(after, ref(rgb, pose).fused_logits)
    assert not torch.allclose(before, after)


def test_mismatched_frame_counts_are_refused() -> None:
    config = build_config("demo")
    model = EPAMNet(config).eval()
    rgb, pose = inputs(config, batch=1)
    with pytest.raises(ValueError, match="multiple"):
        model(rgb, pose[:, :, :-1])
